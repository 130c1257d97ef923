"""One OpenAI realtime connection through the gateway, as a ``session.Session``; ``Connector`` opens them.

The openai SDK's realtime client does the wire: the URL and the Bearer key
(``client``), every client event through its typed methods, and the frames in
(``recv_bytes``, read by ``translate.Reader``). What the protocol leaves to the
client is done here:

- microphone audio goes out at the 24 kHz the session declares, resampled from
  the capture rate (soxr's cubic "QQ": 0.1 ms held back, where "HQ" holds 22 ms);
- a typed line is a user message and a ``response.create``; a ``response.create``
  asked for while a response is still running (a cancel not yet answered) waits
  for that response's ``response.done``;
- tool results: each call's output as an item, and one ``response.create`` once
  every call of a response is answered;
- ``interrupt``: cancel the response if it is still generated (unless the
  server's voice detection already did), and truncate the reply part being played
  to what the speaker played (``conversation.item.truncate``), so that the model
  remembers what the user heard;
- a session cannot be resumed: a later connection of the same ``Connector`` is a
  new session, says so (``Notice``), and with ``replay_context`` starts from the
  conversation's text so far.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from typing import Any, AsyncIterator, Sequence

from tfy_live import collector
from tfy_live.audio.pcm import Resampler
from tfy_live.config import Settings
from tfy_live.errors import GatewayError, TfyLiveError
from tfy_live.events import (
    Event, Heard, InputTranscript, Notice, OutputTranscript, Text, ToolCall, ToolResult, TurnComplete,
)
from tfy_live.gateway_openai.client import INPUT_RATE, build_client, session_config, websocket_options
from tfy_live.gateway.errors import translated
from tfy_live.gateway_openai.errors import error_event, translate_error
from tfy_live.gateway_openai.translate import Reader, cut_short, obj, parse
from tfy_live.shaping import ModelOptions

AUDIO_APPEND = '{"type":"input_audio_buffer.append","audio":"%s"}'  # base64 needs no JSON escaping
ACTIVE_RESPONSE = "conversation_already_has_active_response"
REPLAY_MESSAGES = 40  # the newest messages a new session is given with --replay-context


class History:
    """The conversation's text across the connections of one run: what ``replay_context`` gives a new session."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []  # (role: user|assistant, text)
        self.connections = 0
        self.unanswered: str | None = None  # typed text whose response has not ended: asked again in a new session

    def add(self, role: str, text: str) -> None:
        if text.strip():
            self.messages.append((role, text.strip()))


class RealtimeSession:
    """One open realtime connection, in tfy-live's terms. Errors come out as GatewayError."""

    def __init__(self, connection: Any, settings: Settings, *, reader: Reader, history: History,
                 manual: bool = False, notice: str | None = None) -> None:
        self._connection = connection
        self._settings = settings
        self._reader = reader
        self._history = history
        self._manual = manual  # push-to-talk: turn detection off, the client commits
        self._notice = notice  # said at the first receive (a new session in place of a lost one)
        self._resampler: Resampler | None = None
        # Fifty times a second: the SDK's append validates and transforms each event (93 us of CPU) to write a
        # frame that never changes shape; its connection's public send_raw sends the same frame (3 us).
        raw = getattr(connection, "send_raw", None)
        self._raw = raw if callable(raw) else None
        self._respond_after = False  # a response.create waits for the running response's end
        self._awaited: list[set[str]] = []  # per response with function calls: the call ids not answered yet
        self._cancelled = False  # response.cancel sent for the running response
        self._user_words: list[str] = []
        self._model_words: list[str] = []
        self.truncations: list[Heard] = []  # what was truncated, in order (for the tests and --debug)
        self.malformed = 0
        self.unknown = 0

    # -- the user's side ---------------------------------------------------------------------------------------
    async def send_audio(self, pcm: bytes, rate: int = INPUT_RATE) -> None:
        if rate != INPUT_RATE:
            if self._resampler is None or self._resampler.from_rate != rate:
                self._resampler = Resampler(rate, INPUT_RATE, quality="QQ")
            pcm = self._resampler.process(pcm)
        if pcm:
            audio = base64.b64encode(pcm).decode("ascii")
            with self._translated():
                if self._raw is not None:
                    await self._raw(AUDIO_APPEND % audio)
                else:
                    await self._connection.input_audio_buffer.append(audio=audio)

    async def end_audio(self) -> None:
        # The microphone (a file) ended mid-utterance: the server's voice detection waits for silence that will
        # not come, so commit what it has and ask for the answer.
        if not self._manual and self._reader.user_speaking:
            with self._translated():
                await self._connection.input_audio_buffer.commit()
            await self._respond()

    async def send_text(self, text: str) -> None:
        self._history.add("user", text)
        with self._translated():
            await self._connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
        await self._respond()
        # Only once it went out: a line that could not be sent is held and sent again by the Link itself.
        self._history.unanswered = text

    async def activity_start(self) -> None:
        with self._translated():
            await self._connection.input_audio_buffer.clear()

    async def activity_end(self) -> None:
        with self._translated():
            await self._connection.input_audio_buffer.commit()
        await self._respond()

    async def send_tool_results(self, results: Sequence[ToolResult]) -> None:
        """Each result as a ``function_call_output`` item at once; one ``response.create`` once every call of the
        response that asked for them is answered (the runner sends each as it finishes).

        The calls come out when their response is done (``translate.Reader``), so their items are finished
        when their outputs go out, as the API requires. A result for no call awaited is answered at once.
        """
        import json

        with self._translated():
            for result in results:
                await self._connection.conversation.item.create(item={
                    "type": "function_call_output", "call_id": result.id or "",
                    "output": json.dumps(result.response, ensure_ascii=False)})
        answered = {result.id for result in results}
        matched = [calls for calls in self._awaited if calls & answered]
        for calls in matched:
            calls -= answered
        self._awaited = [calls for calls in self._awaited if calls]
        if not matched or any(not calls for calls in matched):
            await self._respond()

    async def interrupt(self, heard: Heard | None) -> None:
        with self._translated():
            if self._reader.responding and not self._reader.server_cancels and not self._cancelled:
                self._cancelled = True
                await self._connection.response.cancel()
            if heard is not None and heard not in self.truncations:
                self.truncations.append(heard)
                if heard.ms <= 0:
                    # Nothing of it was heard, and the server refuses a truncate at 0 ms ("Only model output audio
                    # messages can be truncated", recorded): delete the reply so the model does not think it said it.
                    await self._connection.conversation.item.delete(item_id=heard.item)
                else:
                    await self._connection.conversation.item.truncate(item_id=heard.item, content_index=0,
                                                                      audio_end_ms=heard.ms)

    async def _respond(self) -> None:
        """``response.create`` now, or after the running response ends (one response at a time)."""
        if self._reader.responding:
            self._respond_after = True
            return
        with self._translated():
            await self._connection.response.create()

    # -- the model's side --------------------------------------------------------------------------------------
    async def receive(self) -> AsyncIterator[Event]:
        """The events of the current response, each translated once; ends after ``TurnComplete``."""
        if self._notice is not None:
            notice, self._notice = self._notice, None
            yield Notice(notice)
        while True:
            with self._translated():
                frame = await self._connection.recv_bytes()
            event = parse(frame)
            if not isinstance(event, dict):
                self.malformed += 1
                yield event
                continue
            if event["type"] == "error":
                if obj(event.get("error")).get("code") == ACTIVE_RESPONSE:
                    # Our response.create crossed a response the server began itself (its voice detection): ask
                    # again when that one ends, or the user's words go unanswered.
                    self._respond_after = True
                    continue
                meaning = error_event(event, self._settings)
                if isinstance(meaning, GatewayError):
                    raise meaning
                if meaning is not None:
                    yield meaning
                continue
            if event["type"] == "response.done" and (said := self._ended_badly(obj(event.get("response")))):
                yield said
            done = False
            for translated in self._reader.read(event):
                self._remember(translated)
                if isinstance(translated, ToolCall) and (ids := {call.id for call in translated.calls if call.id}):
                    self._awaited.append(ids)
                if isinstance(translated, TurnComplete):
                    done = True
                    self._history.unanswered = None
                    self._cancelled = False
                    if self._respond_after:
                        self._respond_after = False
                        with self._translated():
                            await self._connection.response.create()
                yield translated
            if done:
                return

    def _ended_badly(self, response: dict[str, Any]) -> Notice | None:
        """A response that failed (its error read as an error event: a GatewayError ends the session) or was cut
        short by the provider (``incomplete``), as one line; None for a completed or cancelled one."""
        error = obj(response.get("status_details")).get("error")
        if response.get("status") == "failed" and isinstance(error, dict):
            meaning = error_event({"error": error}, self._settings)
            if isinstance(meaning, GatewayError):
                raise meaning
            return meaning
        why = cut_short(response)
        return Notice(f"the provider ended the reply early ({why})") if why else None

    def _remember(self, event: Event) -> None:
        """Keep the conversation's text for a later session (``History``)."""
        if isinstance(event, InputTranscript):
            self._user_words.append(event.text)
            if event.finished:
                self._history.add("user", "".join(self._user_words))
                self._user_words = []
        elif isinstance(event, (OutputTranscript, Text)):
            self._model_words.append(event.text)
        elif isinstance(event, TurnComplete):
            self._history.add("assistant", "".join(self._model_words))
            self._model_words = []

    def _translated(self) -> contextlib.AbstractContextManager[None]:
        return translated(translate_error, self._settings)


class Connector:
    """Opens the realtime connections of one run (a ``talk.Connect``): each a new server session.

    ``replay_context``: a connection after the first is given the conversation's
    text so far (``History``), as user and assistant messages, before anything else.
    """

    def __init__(self, *, replay_context: bool = False) -> None:
        self.replay_context = replay_context
        self.history = History()

    def __call__(self, settings: Settings, *, context: ssl.SSLContext | None = None,
                 options: ModelOptions = ModelOptions(), transcripts: bool = True,
                 handle: str | None = None) -> contextlib.AbstractAsyncContextManager[RealtimeSession]:
        return self._open(settings, context, options, transcripts)

    @contextlib.asynccontextmanager
    async def _open(self, settings: Settings, context: ssl.SSLContext | None, options: ModelOptions,
                    transcripts: bool) -> AsyncIterator[RealtimeSession]:
        from tfy_live.gateway import ssl_context
        from tfy_live.gateway.errors import opening_timed_out
        from tfy_live.gateway.opening import Opening

        opening = Opening()
        with translated(translate_error, settings):  # an SDK that refuses to build the client: one line too
            client = build_client(settings)
            manager = client.realtime.connect(
                model=settings.model,
                websocket_connection_options=websocket_options(context or ssl_context(settings), opening))  # type: ignore[arg-type]
        collector.resume()  # the SDK has loaded: the start is over
        reader = Reader()
        timer = asyncio.timeout(settings.setup_timeout_s)
        connection: Any = None
        try:
            async with timer:
                connection = await manager.__aenter__()
                try:
                    await connection.session.update(session=session_config(settings, options,
                                                                           transcripts=transcripts))
                except Exception as exc:  # noqa: BLE001 - closed already: its error event says why, if it sent one
                    await self._refusal(connection, settings, exc)
                await self._set_up(connection, reader, settings)
        except (TfyLiveError, asyncio.CancelledError):
            await _close(manager)
            raise
        except Exception as exc:  # noqa: BLE001
            await _close(manager)
            if timer.expired():
                raise opening_timed_out(opening.stage, settings) from exc
            raise translate_error(exc, settings) from exc
        self.history.connections += 1
        notice = None
        try:
            if self.history.connections > 1:
                notice = await self._carry_over(connection, settings)
            yield RealtimeSession(connection, settings, reader=reader, history=self.history,
                                  manual=options.push_to_talk, notice=notice)
        finally:
            await _close(manager)

    @staticmethod
    async def _set_up(connection: Any, reader: Reader, settings: Settings) -> None:
        """Wait for the server to take the session's configuration (``session.updated``); an error refuses it."""
        while True:
            event = parse(await connection.recv_bytes())
            if not isinstance(event, dict):
                continue
            if event["type"] == "error":
                meaning = error_event(event, settings, setup=True)
                if isinstance(meaning, GatewayError):
                    raise meaning
                continue
            reader.read(event)
            if event["type"] == "session.updated":
                return

    @staticmethod
    async def _refusal(connection: Any, settings: Settings, exc: Exception) -> None:
        """The setup could not be sent (the server closed first): raise the error event it sent before closing,
        which says why (an unknown model, a refused key), else ``exc`` itself."""
        meaning: GatewayError | Notice | None = None
        with contextlib.suppress(Exception):
            while not isinstance(meaning, GatewayError):
                event = parse(await connection.recv_bytes())  # frames that came before the close are still read
                if isinstance(event, dict) and event["type"] == "error":
                    meaning = error_event(event, settings, setup=True)
        if isinstance(meaning, GatewayError):
            raise meaning from exc
        raise exc

    async def _carry_over(self, connection: Any, settings: Settings) -> str:
        """Start a new session in place of a lost one: what to tell the user, and with replay_context the text."""
        messages = self.history.messages[-REPLAY_MESSAGES:]
        unanswered, self.history.unanswered = self.history.unanswered, None
        if unanswered is not None and messages and messages[-1] == ("user", unanswered.strip()):
            messages = messages[:-1]  # it is asked again below, once
        # A line typed before the connection was lost, whose reply never ended, is asked again: else the user
        # waits for an answer the new session knows nothing of.
        again = "; your last message had no complete answer, so it was sent again" if unanswered else ""
        try:
            if self.replay_context:
                for role, text in messages:
                    kind = "input_text" if role == "user" else "output_text"
                    await connection.conversation.item.create(
                        item={"type": "message", "role": role, "content": [{"type": kind, "text": text}]})
            if unanswered is not None:
                await connection.conversation.item.create(
                    item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": unanswered}]})
                await connection.response.create()
                self.history.unanswered = unanswered  # until its reply ends, here or in a session after this one
        except Exception as exc:  # noqa: BLE001
            raise translate_error(exc, settings) from exc
        if not self.replay_context:
            return ("this is a new session: OpenAI realtime sessions cannot be resumed, so the model does not "
                    f"remember the conversation so far (--replay-context gives a new session its text){again}")
        return (f"this is a new session (OpenAI realtime sessions cannot be resumed): the model was given the "
                f"conversation's text so far ({len(messages)} messages), not its audio{again}")


async def _close(manager: Any) -> None:
    with contextlib.suppress(Exception):
        await manager.__aexit__(None, None, None)
