"""What the google-genai SDK really puts on the wire, through ``gateway.connect``.

These pin the facts of ../shared/docs/live-protocol.md that tfy-live relies on;
if an SDK upgrade changes one, a test here fails first.
"""

from __future__ import annotations

import asyncio
import base64
import re

import pytest

from tests.fakes import keys_in, whole_reply
from tfy_live import events as ev
from tfy_live.config import resolve
from tfy_live.gateway import connect, sdk
from tfy_live.localgw import EchoOptions, GatewayThread

KEY = "sdk-test-key"


@pytest.fixture
def gateway(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    thread = GatewayThread(api_key=KEY, options=EchoOptions(reply_speed=float("inf"), tool_call=True))
    gw = thread.start()
    yield gw
    thread.stop()


def settings_for(gw, kind: str):
    return resolve({"provider": "acct", "provider_kind": kind},
                   {"TFY_API_KEY": KEY, "TFY_BASE_URL": gw.base_url})


async def converse(gw, kind: str):
    """Say something, answer the tool call, and collect one full reply's events."""
    async with connect(settings_for(gw, kind), context=gw.client_ssl_context()) as session:
        tone = (b"\xfb\x7f" * 160 + b"\x05\x80" * 160) * 25  # 0.5 s of a loud square wave
        assert b"/" in base64.b64encode(tone[:640])  # its base64 needs the alphabet's last characters
        for start in range(0, len(tone), 640):
            await session.send_audio(tone[start:start + 640])
        await session.end_audio()
        return await whole_reply(session)


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
async def test_headers_frames_and_tool_answer_on_the_wire(gateway, kind):
    received = await converse(gateway, kind)
    (conn,) = gateway.connections
    # auth: the Bearer header always; the SDK adds x-goog-api-key on the Gemini path only
    assert conn.headers["authorization"] == f"Bearer {KEY}"
    assert (conn.headers.get("x-goog-api-key") == KEY) == (kind == "gemini")
    # audio goes as realtime_input.audio (not the deprecated media_chunks), URL-safe base64, rate in the mime type
    audio = [m["realtime_input"]["audio"] for m in conn.received if "audio" in m.get("realtime_input", {})]
    assert audio and all(a["mime_type"] == "audio/pcm;rate=16000" for a in audio)
    assert not any("media_chunks" in m.get("realtime_input", {}) for m in conn.received)
    assert any("-" in a["data"] or "_" in a["data"] for a in audio)  # the square wave's bytes need them
    assert {"realtime_input": {"audio_stream_end": True}} in conn.received or \
        {"realtime_input": {"audioStreamEnd": True}} in conn.received
    # the setup: audio out, the voice, both transcriptions on
    config = conn.setup["generationConfig"] if "generationConfig" in conn.setup else conn.setup["generation_config"]
    assert config["responseModalities"] == ["AUDIO"] if "responseModalities" in config else config["response_modalities"] == ["AUDIO"]
    assert conn.voice == "Zephyr"
    assert "inputAudioTranscription" in conn.setup and "outputAudioTranscription" in conn.setup
    # the tool call was answered with an error response carrying its id
    responses = [m for m in conn.received if "tool_response" in m or "toolResponse" in m]
    assert responses
    body = responses[0].get("tool_response") or responses[0]["toolResponse"]
    calls = body.get("function_responses") or body["functionResponses"]
    assert calls[0]["id"] == "call-1" and calls[0]["response"] == {"error": "no tools here"}
    # and the reply parsed on this path: audio, transcripts, usage
    assert any(isinstance(e, ev.Audio) and e.pcm and e.rate == 24000 for e in received)
    assert any(isinstance(e, ev.OutputTranscript) for e in received)


async def test_every_shaping_option_reaches_the_setup_message(gateway):
    from tfy_live.shaping import model_options

    options = model_options(system="Answer briefly.", language="de-DE", temperature=0.4, vad_start="low",
                            vad_end="high", vad_silence_ms=700, vad_prefix_ms=120, affective_dialog=True,
                            proactive_audio=True, thinking_budget=256, google_search=True)
    async with connect(settings_for(gateway, "gemini"), context=gateway.client_ssl_context(), options=options):
        pass
    async with connect(settings_for(gateway, "vertex"), context=gateway.client_ssl_context(),
                       options=model_options(push_to_talk=True, modality="text")) as session:
        await session.activity_start()
        await session.activity_end()
        await asyncio.sleep(0.2)
    first, second = gateway.connections
    # The SDK writes nested fields in snake_case (the server takes either); compare in camelCase.
    setup = camel(first.setup)
    config = setup["generationConfig"]
    assert setup["systemInstruction"]["parts"] == [{"text": "Answer briefly."}]
    assert config["speechConfig"]["languageCode"] == "de-DE"
    assert config["temperature"] == 0.4
    assert config["responseModalities"] == ["AUDIO"]
    assert config["enableAffectiveDialog"] is True
    assert config["thinkingConfig"] == {"thinkingBudget": 256}
    assert setup["proactivity"] == {"proactiveAudio": True}
    assert setup["tools"] == [{"googleSearch": {}}]
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {
        "startOfSpeechSensitivity": "START_SENSITIVITY_LOW", "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH",
        "silenceDurationMs": 700, "prefixPaddingMs": 120,
    }
    assert "inputAudioTranscription" in setup and "outputAudioTranscription" in setup
    # resumption asked for, and a sliding context window, by default
    assert setup["sessionResumption"] == {} and setup["contextWindowCompression"] == {"slidingWindow": {}}
    # push-to-talk: detection off, activity marked by the client; text modality: no speech config
    assert camel(second.setup)["realtimeInputConfig"]["automaticActivityDetection"] == {"disabled": True}
    assert second.modalities == ["TEXT"] and second.manual_activity
    assert "speechConfig" not in second.setup["generationConfig"]
    assert "outputAudioTranscription" not in second.setup
    marks = [next(iter(m["realtimeInput"])) for m in map(camel, second.received) if "realtimeInput" in m]
    assert marks == ["activityStart", "activityEnd"]


def camel(value):
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


async def test_a_resumed_connection_carries_its_handle_and_compression_can_be_tuned_or_off(gateway):
    from tfy_live.shaping import model_options

    tuned = model_options(compression_trigger_tokens=20000, compression_target_tokens=8000)
    async with connect(settings_for(gateway, "gemini"), context=gateway.client_ssl_context(), options=tuned,
                       handle="h-42"):
        pass
    async with connect(settings_for(gateway, "gemini"), context=gateway.client_ssl_context(),
                       options=model_options(compression=False)):
        pass
    first, second = (camel(c.setup) for c in gateway.connections)
    assert first["sessionResumption"] == {"handle": "h-42"}
    assert first["contextWindowCompression"] == {"triggerTokens": 20000, "slidingWindow": {"targetTokens": 8000}}
    assert "contextWindowCompression" not in second


def test_keepalive_is_tuned_against_the_client_s_own_ping_timeout():
    from tfy_live.gateway.client import PING_INTERVAL_S, PING_TIMEOUT_S, build_client

    client = build_client(resolve({"provider": "acct"}, {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"}))
    args = client._api_client._http_options.async_client_args
    assert args["ping_interval"] == PING_INTERVAL_S and args["ping_timeout"] == PING_TIMEOUT_S > 20


class _Wire:
    """Stands in for the SDK's websocket: keeps what would be written."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send(self, frame: str) -> None:
        self.frames.append(frame)

    async def recv(self, decode: bool | None = None) -> bytes:  # sdk.raw_socket takes only a socket that has both
        raise AssertionError("not read in this test")


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
@pytest.mark.parametrize("rate", [16000, 24000])
async def test_audio_written_straight_to_the_socket_is_byte_for_byte_the_sdk_s_own_frame(kind, rate):
    from google.genai.live import AsyncSession

    from tfy_live.gateway import LiveSession
    from tfy_live.gateway.client import build_client

    settings = resolve({"provider": "acct", "provider_kind": kind},
                       {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
    api_client = sdk.api_client(build_client(settings))
    ours, theirs = _Wire(), _Wire()
    session = AsyncSession(api_client, ours)
    reference = AsyncSession(api_client, theirs)
    live = LiveSession(session, settings)
    assert sdk.raw_socket(session) is ours  # the path under test: our frame, written straight to the socket
    from google.genai import types

    pcm = bytes(range(256)) * 5  # every byte value: both alphabets' last characters, and padding
    for chunk in (pcm, pcm[:638], b""):
        await live.send_audio(chunk, rate)
        await reference.send_realtime_input(audio=types.Blob(data=chunk, mime_type=f"audio/pcm;rate={rate}"))
    assert ours.frames == theirs.frames and len(ours.frames) == 3


async def test_without_the_sdk_s_socket_audio_goes_through_the_sdk_s_call():
    from tfy_live.gateway import LiveSession

    calls = []

    class Session:  # an SDK that keeps its socket elsewhere
        async def send_realtime_input(self, **kwargs):
            calls.append(kwargs)

    settings = resolve({"provider": "acct"}, {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
    await LiveSession(Session(), settings).send_audio(b"\x01\x02", 16000)
    (call,) = calls
    assert call["audio"].data == b"\x01\x02" and call["audio"].mime_type == "audio/pcm;rate=16000"


async def test_frames_are_not_deflated(gateway):
    """permessage-deflate would cost more CPU than the rest of the send path, for a quarter of the bytes."""
    async with connect(settings_for(gateway, "gemini"), context=gateway.client_ssl_context()) as session:
        await session.send_audio(bytes(640))
    (conn,) = gateway.connections
    assert "permessage-deflate" not in conn.headers.get("sec-websocket-extensions", "")
    assert "sec-websocket-key" in conn.headers  # the headers are the upgrade request's


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_the_sdks_http_clients_get_our_tls_context_rather_than_loading_the_certificates_again(kind, monkeypatch):
    import ssl

    from tfy_live.gateway.client import build_client, ssl_context

    settings = resolve({"provider": "acct", "provider_kind": kind},
                       {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
    context = ssl_context(settings)
    made = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: made.append(a or k) or real(*a, **k))
    build_client(settings, context)
    assert made == []  # neither the HTTP clients nor the websocket built a context of their own


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
async def test_the_warm_up_frames_are_each_read_by_the_sdk_and_translated(kind):
    """The warm-up hides its errors (it is only a head start), so its frames are checked here."""
    from tfy_live.gateway.client import build_client
    from tfy_live.gateway.translate import translate

    settings = resolve({"provider": "acct", "provider_kind": kind},
                       {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
    api = sdk.api_client(build_client(settings))
    messages = [message async for message in sdk.parse_frames(api, sdk.WARM_UP_FRAMES)]
    assert len(messages) == len(sdk.WARM_UP_FRAMES)
    kinds = {type(event).__name__ for message in messages for event in translate(message)}
    assert {"Audio", "Text", "InputTranscript", "OutputTranscript", "Interrupted", "GenerationComplete",
            "ResumptionUpdate", "GoAway", "ToolCall", "TurnComplete", "Usage"} <= kinds, kinds


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
async def test_audio_frames_skip_the_sdks_parse_and_the_reply_is_the_same(gateway, kind):
    # Audio-only frames are read off the SDK's socket (translate.audio_frame); every other frame,
    # and every frame when that socket is not used, goes through the SDK's parse.
    async def reply(raw: bool) -> tuple[list, int]:
        async with connect(settings_for(gateway, kind), context=gateway.client_ssl_context()) as session:
            session.raw_frames = raw
            tone = (b"\xfb\x7f" * 160 + b"\x05\x80" * 160) * 25
            for start in range(0, len(tone), 640):
                await session.send_audio(tone[start:start + 640])
            await session.end_audio()
            events = await whole_reply(session)
        return events, session.fast_audio_frames

    (fast, fast_frames), (slow, slow_frames) = await reply(True), await reply(False)
    assert fast_frames > 0 and slow_frames == 0
    assert fast == slow


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
async def test_the_sdk_still_has_each_private_attribute_we_use(gateway, kind):
    """If an SDK upgrade moves one, tfy-live still works (its fallback) but loses what it bought: say which."""
    import google.genai
    from google.genai import Client

    from tfy_live.gateway.client import build_client, build_config

    settings = settings_for(gateway, kind)
    client: Client = build_client(settings, gateway.client_ssl_context())
    async with client.aio.live.connect(model=settings.model, config=build_config(settings)) as session:
        missing = sdk.moved(client, session)
    assert not missing, (
        f"google-genai {google.genai.__version__} moved {', '.join(missing)}: "
        + "; ".join(f"{name}: {sdk.PRIVATE[name]}" for name in missing)
        + " — only through the public fallback now (see gateway/sdk.py)")


async def test_without_the_private_attributes_a_conversation_uses_the_public_calls(gateway):
    """The fallbacks: the SDK's send_realtime_input and receive, LiveServerMessage.model_validate, no warm-up."""
    from tfy_live.gateway import LiveSession
    from tfy_live.gateway.client import build_client, build_config

    class Hidden:
        """The SDK's session, with the private attributes tfy-live uses out of sight."""

        def __init__(self, session) -> None:
            self._inner = session

        def __getattr__(self, name: str):
            if name in ("_ws", "_api_client"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    settings = settings_for(gateway, "gemini")
    client = build_client(settings, gateway.client_ssl_context())
    async with client.aio.live.connect(model=settings.model, config=build_config(settings)) as session:
        hidden = Hidden(session)
        assert sdk.moved(object(), hidden) == list(sdk.PRIVATE)
        live = LiveSession(hidden, settings)
        await live.send_audio((b"\xfb\x7f" * 160 + b"\x05\x80" * 160) * 5)
        await live.end_audio()
        events = await whole_reply(live)
    assert any(isinstance(e, ev.Audio) for e in events) and live.fast_audio_frames == 0
    message = await sdk.parse_frame(hidden, b'{"goAway": {"timeLeft": "5s"}}')
    assert message.go_away is not None
    await sdk.warm_up(object())  # no client where we look: nothing to warm, and no error


MODEL_SPECIFIC = {"enableAffectiveDialog", "proactivity", "proactiveAudio", "thinkingConfig", "thinkingBudget"}


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
async def test_model_specific_setup_fields_are_sent_only_when_asked_for(gateway, kind):
    """gemini-3.8-live refuses affective dialog, proactivity and thinking config, even set to false or off."""
    from google.genai import types

    from tfy_live.gateway.client import build_client
    from tfy_live.shaping import model_options

    settings = settings_for(gateway, kind)
    for options in (model_options(), model_options(affective_dialog=False, proactive_audio=False, thinking_budget=None,
                                                   system="Be brief.", language="en-US", temperature=0.2)):
        async with connect(settings, context=gateway.client_ssl_context(), options=options):
            pass
    async with connect(settings, context=gateway.client_ssl_context(),
                       options=model_options(affective_dialog=True, proactive_audio=True, thinking_budget=0)):
        pass
    # What the SDK does with False: it sends it (it leaves out None only), so build_config passes None.
    client = build_client(settings, gateway.client_ssl_context())
    falsy = types.LiveConnectConfig(enable_affective_dialog=False, proactivity=types.ProactivityConfig(
        proactive_audio=False), thinking_config=types.ThinkingConfig(thinking_budget=0))
    async with client.aio.live.connect(model=settings.model, config=falsy):
        pass
    plain, shaped, asked, sdk_falsy = (keys_in(camel(c.setup)) for c in gateway.connections)
    assert not plain & MODEL_SPECIFIC and not shaped & MODEL_SPECIFIC
    assert MODEL_SPECIFIC <= asked
    assert {"enableAffectiveDialog", "proactivity", "thinkingConfig"} <= sdk_falsy
