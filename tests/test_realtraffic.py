"""The corpus of real Live traffic (tests/realtraffic): every file is valid, and replayed through the
real CLI and the real SDK over TLS, each shows the user what issue 17 says it must.

(a) Every file: the documented header, known events, every ``recv`` read by the SDK
    (``LiveServerMessage.model_validate`` and the SDK's own receive path) and translated
    by ``gateway.translate``; SDK snake_case dumps turned into wire frames that the SDK's
    converters read back to the same message.
(b) Every file replayed by the local gateway (``replay=``, as ``local-gateway --replay``) to
    ``tfy-live talk`` or ``tfy-live chat`` in a subprocess: the exit code, the one error line,
    what was said on screen, how many connections were made, no traceback.

Files under ``synthetic/`` are not recordings: built from the API reference where nothing real
was found (their header says ``"shape": "reference"`` and cites the reference).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile
from google.genai import _live_converters as converters
from google.genai import types

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tfy_live.gateway.translate import translate
from tfy_live.localgw import ConnectionRecord, GatewayThread
from tfy_live.localgw.replay import ANNOTATIONS, EVENTS, KINDS, SHAPES, Frame, load, wire_frame

HERE = Path(__file__).resolve().parent / "realtraffic"
RECORDED = sorted(HERE.glob("*.jsonl"))
SYNTHETIC = sorted((HERE / "synthetic").glob("*.jsonl"))
HEADER_KEYS = ("source", "licence", "kind", "model", "note", "shape", "covers")


def lines_of(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return [(n, json.loads(line)) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line.strip()]


def recvs(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return [(n, event["recv"]) for n, event in lines_of(path)[1:] if "recv" in event]


def convert(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The SDK's converter from a wire frame of ``kind`` to its own field names."""
    return converters._LiveServerMessage_from_vertex if kind == "vertex" else converters._LiveServerMessage_from_mldev


def sdk_read(frame: dict[str, Any], kind: str) -> types.LiveServerMessage:
    """A wire frame as the SDK's receive() reads it: its converter for the kind, then the type."""
    return types.LiveServerMessage._from_response(response=convert(kind)(frame), kwargs={})


def by_name(paths: list[Path]) -> list[Any]:
    return [pytest.param(path, id=path.relative_to(HERE).as_posix()) for path in paths]


# -- (a) every file is valid ---------------------------------------------------------------
def test_the_corpus_is_there_and_the_readme_lists_every_file():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert len(RECORDED) >= 29 and len(SYNTHETIC) >= 10
    for path in RECORDED + SYNTHETIC:
        assert f"`{path.relative_to(HERE).as_posix()}`" in readme or f"`{path.name}`" in readme, path.name


@pytest.mark.parametrize("path", by_name(RECORDED + SYNTHETIC))
def test_header_and_events_are_the_documented_ones(path):
    (_, header), *events = lines_of(path)
    assert all(key in header for key in HEADER_KEYS), [key for key in HEADER_KEYS if key not in header]
    assert header["kind"] in KINDS and header["shape"] in SHAPES and isinstance(header["covers"], list)
    # never a made-up frame presented as recorded: reference-built files say so, and only they
    if path in SYNTHETIC:
        assert header["shape"] == "reference" and header["note"].startswith("NOT a recording")
    else:
        assert header["shape"] != "reference"
    for number, event in events:
        kinds = [key for key in event if key in EVENTS and key != "prose"] or ["prose"]
        assert len(kinds) == 1 and set(event) <= {*EVENTS, *ANNOTATIONS}, f"line {number}: {event}"
        if "text" in event:
            assert "seen" in event, f"line {number}: 'text' stands beside 'seen' only"
    load(path)  # and the replay takes it as it is


WIRE_KEYS = {"setupComplete", "serverContent", "toolCall", "toolCallCancellation", "usageMetadata", "goAway",
             "sessionResumptionUpdate", "voiceActivityDetectionSignal", "voiceActivity"}  # what the converters read


@pytest.mark.parametrize("path", by_name([p for p in RECORDED + SYNTHETIC if recvs(p)]))
def test_every_recv_is_a_live_message_the_sdk_reads_and_tfy_live_translates(path):
    header = lines_of(path)[0][1]
    for number, frame in recvs(path):
        if header["shape"] == "sdk-snake":  # the SDK's own dump: its type reads it as it is
            message = types.LiveServerMessage.model_validate(frame)
        else:
            # a wire frame, as the SDK's receive() reads it: its converter for the kind (wire names such as
            # voiceActivity.type and Vertex's candidatesTokenCount), then the type, strictly (no unknown key
            # dropped on the way; the converter itself keeps only the top-level keys it knows)
            assert set(frame) <= WIRE_KEYS, f"line {number}: {set(frame) - WIRE_KEYS}"
            assert not any("_" in key for key in keys(frame)), f"line {number}: a snake_case key in a wire frame"
            message = types.LiveServerMessage.model_validate(convert(header["kind"])(frame))
            assert sdk_read(frame, header["kind"]) == message, f"line {number}"
        translate(message)


def keys(value: Any) -> list[str]:
    if isinstance(value, list):
        return [k for item in value for k in keys(item)]
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in [key, *([] if key == "args" else keys(item))]]
    return []


SNAKE_EXTRAS = [  # what the corpus has no recording of, in the SDK's own snake_case dump
    types.LiveServerMessage(
        server_content=types.LiveServerContent(
            model_turn=types.Content(parts=[
                types.Part(text="thinking", thought=True, thought_signature=b"\xfb\xff\xfe"),
                types.Part(inline_data=types.Blob(data=bytes([0xFB, 0xFF, 0xFE, 0x3E] * 8), mime_type="audio/pcm")),
            ]),
            output_transcription=types.Transcription(finished=True)),
        usage_metadata=types.UsageMetadata(prompt_token_count=3, response_token_count=4, thoughts_token_count=5,
                                           response_tokens_details=[types.ModalityTokenCount(
                                               modality=types.MediaModality.AUDIO, token_count=4)]),
    ),
    types.LiveServerMessage(tool_call=types.LiveServerToolCall(function_calls=[
        types.FunctionCall(id="function-call-1", name="get_weather", args={"city_name": "Paris", "days": 2})])),
    types.LiveServerMessage(voice_activity=types.VoiceActivity(voice_activity_type=types.VoiceActivityType.ACTIVITY_START,
                                                               audio_offset="0.2s")),
    types.LiveServerMessage(setup_complete=types.LiveServerSetupComplete(session_id="s-1"),
                            go_away=types.LiveServerGoAway(time_left="50s")),
]


def sdk_snake_frames() -> list[Any]:
    cases = []
    for path in RECORDED:
        header = lines_of(path)[0][1]
        if header["shape"] == "sdk-snake":
            cases += [pytest.param(frame, header["kind"], id=f"{path.stem}:{n}") for n, frame in recvs(path)]
    for i, message in enumerate(SNAKE_EXTRAS):
        dump = json.loads(message.model_dump_json(exclude_none=True))
        cases += [pytest.param(dump, kind, id=f"extra-{i}-{kind}") for kind in KINDS]
    return cases


@pytest.mark.parametrize("snake, kind", sdk_snake_frames())
def test_sdk_snake_dumps_become_the_wire_frames_the_sdks_converters_read_back(snake, kind):
    message = types.LiveServerMessage.model_validate(snake)
    wire = wire_frame(snake, kind)
    assert sdk_read(wire, kind) == message  # nothing dropped or misnamed on the way (the SDK drops unknown keys)
    # the SDK's own dump by alias, less what its converters rename and its URL-safe base64
    expected = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    for part in expected.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
        for container, key in ((part.get("inlineData", {}), "data"), (part, "thoughtSignature")):
            if key in container:
                container[key] = container[key].replace("-", "+").replace("_", "/")
    if "voiceActivity" in expected:
        expected["voiceActivity"]["type"] = expected["voiceActivity"].pop("voiceActivityType")
    if kind == "vertex" and "usageMetadata" in expected:
        usage = expected["usageMetadata"]
        usage["candidatesTokenCount"] = usage.pop("responseTokenCount")
        usage["candidatesTokensDetails"] = usage.pop("responseTokensDetails")
    assert wire == expected


@pytest.mark.parametrize("path", by_name(RECORDED + SYNTHETIC))
def test_every_frame_a_replay_sends_is_read_by_the_sdk_of_the_files_kind(path):
    """recv frames converted to the wire, and the frames that stand for `seen` events."""
    script = load(path)
    for session in script.sessions:
        for step in session.steps:
            if isinstance(step, Frame):
                assert set(step.message) <= WIRE_KEYS, step.line
                translate(types.LiveServerMessage.model_validate(convert(script.kind)(step.message)))
                assert json.loads(json.dumps(step.message)) == step.message


# -- (b) replayed through the real CLI, the real SDK, real TLS ------------------------------
@dataclass(frozen=True)
class Run:
    """One replay: ``file`` under tests/realtraffic, served to ``chat … hi`` or to ``talk`` speaking a
    WAV with a 300 Hz tone at each ``(start, length)`` of ``tones``, ``seconds`` long."""

    file: str
    command: str = "chat"
    speed: float = 20.0
    then: str | None = None
    tones: tuple[tuple[float, float], ...] = ((0.2, 0.5),)
    seconds: float = 1.4
    reply_timeout: float = 2.0


@dataclass
class Seen:
    code: int
    stdout: str
    stderr: str
    connections: list[ConnectionRecord]

    @property
    def shown(self) -> str:
        return self.stdout + self.stderr

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def lines(self, kind: str) -> list[str]:
        """talk's plain lines of one kind (``0.52 turn: turn 1 · latency 500 ms``), text only."""
        return [m.group(1) for m in re.finditer(rf"(?m)^\d+\.\d\d {kind}: (.*)$", self.stdout)]


_seen: dict[Run, Seen] = {}


def wav(path: Path, run: Run) -> Path:
    rate = 16000
    pcm = np.zeros(int(run.seconds * rate))
    for start, length in run.tones:
        t = np.arange(int(length * rate)) / rate
        pcm[int(start * rate):int(start * rate) + len(t)] = 8000 * np.sin(2 * np.pi * 300 * t)
    soundfile.write(path, pcm.astype("<i2"), rate, subtype="PCM_16")
    return path


def replayed(run: Run, folder: Path) -> Seen:
    """Run ``run`` once per test process (several cases read the same run)."""
    if run in _seen:
        return _seen[run]
    path = HERE / run.file
    kind = load(path).kind
    thread = GatewayThread(api_key=CANARY_KEY, replay=path, replay_speed=run.speed, replay_then=run.then)
    gw = thread.start()
    try:
        target = ["--provider", "acct", "--provider-kind", kind, "--reply-timeout", f"{run.reply_timeout:g}"]
        if run.command == "chat":
            args = ["chat", *target, "hi"]
        else:
            args = ["talk", *target, "--input-file", str(wav(folder / "in.wav", run)),
                    "--output-file", str(folder / "out.wav")]
        # The CA by --ca-bundle, as a user pointed at `local-gateway --replay` would (the integration tests
        # use SSL_CERT_FILE); a generous timeout: a client that retries with backoff takes its time.
        result = tfy_live(*args, "--ca-bundle", str(gw.ca_file),
                          env=clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=gw.base_url), timeout=90)
        seen = Seen(result.returncode, result.stdout, result.stderr, list(gw.connections))
    finally:
        thread.stop()
    _seen[run] = seen
    return seen


@dataclass(frozen=True)
class Case:
    id: str
    run: Run
    code: int
    error: str | None = None  # what the one error line says (a regex); None: no error line
    said: tuple[str, ...] = ()  # regexes found in what the user saw (stdout and stderr)
    unsaid: tuple[str, ...] = ()
    connections: tuple[int, int] = (1, 1)  # how many the gateway saw: at least, at most
    check: Callable[[Seen], None] | None = None
    marks: tuple[Any, ...] = field(default=())


def handles(*expected: str | None) -> Callable[[Seen], None]:
    def check(seen: Seen) -> None:
        assert [c.handle for c in seen.connections] == list(expected)
    return check


def latency_at_least(ms: float) -> Callable[[Seen], None]:
    def check(seen: Seen) -> None:
        (turn,) = seen.lines("turn")
        latency = float(re.search(r"latency (\d+) ms", turn).group(1))
        assert latency >= ms, turn
    return check


def turn_line(pattern: str, *, absent: str | None = None) -> Callable[[Seen], None]:
    def check(seen: Seen) -> None:
        (turn,) = seen.lines("turn")
        assert re.search(pattern, turn), turn
        assert absent is None or absent not in turn, turn
    return check


NO_REPLY = r"the model did not reply within 2 s"
ECHOED = r"model: Echo of"
MODEL_NOT_FOUND = "gemini_adk-140_1008_model_not_found_cut.jsonl"
QUOTA_NEW = "gemini_interpretab_quota_close_new_session.jsonl"
QUOTA_MID = "gemini_interpretab_quota_close_mid_session.jsonl"
TALK = dict(command="talk")
CONTENT = dict(command="talk", seconds=1.0, tones=())  # the recorded frames come at once: no speech needed
SPEAK_LATER = dict(command="talk", tones=((1.5, 0.5),), seconds=2.6)  # after the reconnects settle


CASES = [
    # 1. quota: setupComplete, then 1011 with the quota sentence on every new session
    Case("quota-new-session-is-fatal-at-once", Run(QUOTA_NEW), 3, error=r"quota", connections=(1, 2)),
    Case("quota-mid-session-is-fatal-at-once", Run(QUOTA_MID), 3, error=r"quota", connections=(1, 2)),
    # 2. goAway, then the close at the deadline
    # (speech only once the next connection has taken over: what is said to the replayed one is lost)
    Case("goaway-then-1008-switches-to-a-new-connection",
         Run("gemini_interpretab_goaway_then_1008.jsonl", speed=10, then="echo", command="talk", tones=((2.5, 0.5),),
             seconds=3.6), 0,
         said=(r"will close this connection in 50 s", r"switched to a new connection", ECHOED), unsaid=(r"1008",),
         connections=(2, 2)),
    Case("goaway-mid-turn-then-1008-is-not-fatal",
         Run("synthetic/gemini_goaway_mid_turn_then_1008.jsonl", speed=100, then=None, command="talk",
             tones=((0.2, 0.8), (2.6, 0.6)), seconds=4.0), 0,
         said=(r"will close this connection in 50 s", ECHOED), connections=(2, 3),
         check=lambda seen: handles(None, *["synthetic-handle-1"] * (len(seen.connections) - 1))(seen)),
    Case("goaway-mid-turn-then-1011-deadline-is-not-fatal",
         Run("synthetic/gemini_goaway_mid_turn_then_1011_deadline.jsonl", speed=100, command="talk",
             tones=((0.2, 0.8), (2.6, 0.6)), seconds=4.0), 0,
         # The link moves before the deadline, so the server's "Deadline expired" close is never met.
         said=(r"will close this connection in 50 s", ECHOED), unsaid=(r"error:",),
         connections=(2, 3), check=lambda seen: handles(None, *["synthetic-handle-1"] * (len(seen.connections) - 1))(seen)),
    # 3. 1008: model not found at setup, session not found on resume, after working turns
    *[Case(f"model-not-found-names-model-and-api-version-{name.split('_')[1]}", Run(name), 3,
           error=rf"{re.escape(start)}.*--model.*--api-version|{re.escape(start)}.*--api-version.*--model")
      for name, start in (
          (MODEL_NOT_FOUND, "models/gemini-2.0-flash-lite is not found for API version v1alpha"),
          ("gemini_adk-2591_1008_model_not_found_v1alpha.jsonl", "models/gemini-2.5-flash is not found for API version"),
          ("gemini_adk-3650_1008_model_not_found_cut_mid_word.jsonl", "models/gemini-live-2.5-flash-preview-native-audio"),
          ("gemini_livekit-4414_1008_model_not_found_v1beta.jsonl", "is not found for API version v1beta"))],
    Case("vertex-publisher-model-not-found-names-model",
         Run("vertex_adk-3314_1008_publisher_model_not_found.jsonl"), 3,
         error=r"Publisher Model `projects/<PROJECT_NMAE>/locations/global/publishers/google/models/.*--model"),
    Case("vertex-publisher-model-not-found-never-mentions-api-version",
         Run("vertex_adk-3314_1008_publisher_model_not_found.jsonl"), 3, error=r"^(?!.*--api-version).*--model"),
    Case("session-not-found-without-a-handle-in-the-servers-words",
         Run("gemini_yeyu2-5_1008_session_not_found.jsonl"), 3, error=r"BidiGenerateContent session not found",
         connections=(1, 2)),
    Case("session-not-found-on-resume-starts-a-fresh-session",
         Run("synthetic/gemini_resume_stale_handle_session_not_found.jsonl", command="talk", tones=((1.0, 0.5),),
             seconds=2.2), 0,
         said=(r"session not found", r"(?i)(fresh|new) session", ECHOED), connections=(3, 3),
         check=handles(None, "synthetic-stale-handle", None)),
    Case("1008-after-working-turns-reconnects-once-then-reports",
         Run("synthetic/gemini_1008_after_working_turns.jsonl", command="talk", tones=((0.2, 0.8),), seconds=2.6), 3,
         error=r"Requested entity was not found", said=(r"model: Hello there\.",), connections=(2, 2),
         check=handles(None, "synthetic-handle-2")),
    # 4. unavailable at connect, 5xx at the upgrade: retried with backoff, said on screen
    Case("1011-unavailable-mid-session-and-deadline-at-reconnect-are-retried",
         Run("gemini_adk-streaming-guide-11_1011_unavailable_and_deadline.jsonl", then="echo", **SPEAK_LATER), 0,
         said=(r"The service is currently unavailable\..*reconnecting \(attempt 1 of",
               r"Deadline expired before operation could complete\..*reconnecting \(attempt 2 of", ECHOED),
         connections=(3, 3)),
    Case("1011-unavailable-at-connect-is-retried",
         Run("synthetic/gemini_1011_unavailable_at_connect.jsonl", **TALK), 0,
         said=(r"The service is currently unavailable", r"(?i)retry|reconnect", ECHOED), connections=(2, 2)),
    Case("http-502-503-504-at-the-upgrade-are-retried",
         Run("synthetic/gemini_upgrade_502_503_504_then_ok.jsonl", **TALK), 0,
         said=(r"HTTP 502", r"HTTP 503", r"HTTP 504", ECHOED), connections=(4, 4)),
    Case("1011-internal-error-after-setup-is-retried",
         Run("gemini_forum-167186_1011_internal_error.jsonl", then="echo", **SPEAK_LATER), 0,
         said=(r"connection closed with code 1011: Internal error encountered\..*reconnecting", ECHOED),
         connections=(2, 2)),
    Case("1011-internal-error-at-setup-ends-in-the-servers-words",
         Run("gemini_gunpal5-109_3.1_affective_dialog_1011.jsonl"), 3, error=r"Internal error encountered\.",
         connections=(1, 6)),
    # 5. frames tfy-live does not use: skipped and counted, never the end
    Case("unknown-frames-are-never-the-end",
         Run("synthetic/gemini_3x_voiceActivity_and_empty_frames.jsonl", command="talk", tones=((0.2, 0.8),),
             seconds=2.0), 0, said=(r"model: I heard you\.", r"summary: done: 1 turn,")),
    # 6. Vertex: an empty turn after the tool response
    Case("vertex-empty-turn-after-tool-response-is-not-the-reply",
         Run("synthetic/vertex_empty_turn_after_tool_response.jsonl", command="talk", tones=((0.2, 0.8),),
             seconds=2.0), 0,
         said=(r"asked for tool\(s\) get_weather", r"model: It is sunny in Paris\.", r"summary: done: 1 turn,")),
    # 7. a thought part before the audio
    Case("thought-before-audio-latency-is-to-the-first-audio",
         Run("synthetic/gemini_native_audio_thought_before_audio.jsonl", speed=1.0, command="talk",
             tones=((0.2, 0.8),), seconds=2.0, reply_timeout=10), 0,
         said=(r"model: Hello!",), check=latency_at_least(1500)),
    Case("thought-tokens-are-reported-separately",
         Run("synthetic/gemini_native_audio_thought_before_audio.jsonl", speed=1.0, command="talk",
             tones=((0.2, 0.8),), seconds=2.0, reply_timeout=10), 0,
         check=turn_line(r"\b37\b[^·]*(thought|thinking)|thought[^·]*\b37\b")),
    # 9. usage without responseTokenCount
    Case("usage-without-response-token-count-is-unknown-not-0",
         Run("synthetic/gemini_3x_usage_without_responseTokenCount.jsonl", command="talk", tones=((0.2, 0.8),),
             seconds=2.0), 0, check=turn_line(r"(?i)unknown", absent="0 out")),
    # 10. reasons cut at 123 bytes
    *[Case(f"cut-reason-ends-with-an-ellipsis-{name.split('_')[1]}", Run(name), 3, error=cut)
      for name, cut, also in (
          (MODEL_NOT_FOUND, r"Call ListMo(…|\.\.\.)", ""),
          ("gemini_adk-2591_1008_model_not_found_v1alpha.jsonl", r"Call ListModels ?(…|\.\.\.)", ""),
          ("gemini_adk-3650_1008_model_not_found_cut_mid_word.jsonl", r"is not supported for bid(…|\.\.\.)", ""),
          ("gemini_livekit-4414_1008_model_not_found_v1beta.jsonl", r"bidiGenerateContent\. Call ?(…|\.\.\.)", ""),
          (QUOTA_NEW, r"head to: h ?(…|\.\.\.)", "s 1 (the quota close is the error) and"))],
    # the rest of the corpus: setup refusals in the server's words, recorded turns shown as they came
    *[Case(f"setup-refused-{name.split('_')[1]}", Run(name), 3, error=re.escape(reason))
      for name, reason in (
          ("gemini_adk-866_1007_voices_and_1008_cut.jsonl", "Cannot extract voices from a non-audio request."),
          ("gemini_cookbook-775_1007_affective_dialog_unknown_name.jsonl",
           "Unknown name \"enable_affective_dialog\" at 'setup.generation_config': Cannot find field."),
          ("gemini_interpretab_1007_unknown_voice.jsonl", "No matching speaker voice found"),
          ("vertex_js-genai-1212_1007_invalid_argument.jsonl", "Request contains an invalid argument."))],
    *[Case(f"recorded-turns-{Path(name).stem.split('_', 1)[1]}", Run(name, **CONTENT), 0, said=said,
           unsaid=(r"malformed", r"skipped"))
      for name, said in (
          ("gemini_cookbook_resumption_2.0-flash-live.jsonl",
           (r"model: I am doing well, thank you for asking!", r"model: The capital of Brazil is \*\*Brasília\*\*\.",
            r"summary: done: 2 turns.*149 tokens")),
          ("gemini_cookbook_resumption_2.5-live-preview_a.jsonl",
           (r"model: Hello there! How can I help you today\?", r"summary: done: 2 turns")),
          ("gemini_cookbook_resumption_2.5-live-preview_b_resumed.jsonl",
           (r'model: The last question you asked was: "what is the capital of brazil\?"', r"78 tokens \(63 in, 15 out\)")),
          ("gemini_cookbook_tools_blocking_2.0-flash-live.jsonl",
           (r"asked for tool\(s\) get_weather_vegas; answered that tfy-live runs no tools",
            r"model: It 's sunny and 42 degrees in Vegas\.", r"summary: done: 2 turns")),
          ("gemini_cookbook_tools_nonblocking_interrupt.jsonl",
           (r"asked for tool\(s\) get_weather_vegas", r"\[interrupted\]", r"summary: done: 3 turns, .*1 interrupted")),
          ("gemini_cookbook_tools_nonblocking_silent.jsonl",
           (r"asked for tool\(s\) get_weather_vegas", r"it is over 40 degrees", r"summary: done: 3 turns")))],
    # files with no model reply in them: the replay answers nothing, and the user is told so
    *[Case(f"no-reply-recorded-{Path(name).stem.split('_', 1)[1][:40]}", Run(name), 3, error=NO_REPLY)
      for name in ("gemini_interpretab_setup_field_at_wrong_level.jsonl",  # its close code was not recorded
                   "gemini_livekit-3192_finished_turnComplete_after_tool_prose.jsonl",
                   "gemini_mastra-17434_native_audio_modelTurn_text_is_reasoning_prose.jsonl",
                   "gemini_python-genai-1285_no_voiceActivity_prose.jsonl",
                   "gemini_python-genai-2981_voiceActivity_prose.jsonl",
                   "vertex_ilseokoh_usage_and_1000_cancelled.jsonl")],
    Case("generation-complete-without-turn-complete-and-no-content",
         Run("gemini_interpretab_3.1_generationComplete_no_turnComplete.jsonl", **CONTENT), 3, error=NO_REPLY),
]


def params() -> list[Any]:
    # The cases that read one run share it (``_seen``) only within one process: under
    # `--dist loadgroup` (scripts/test.sh) one worker gets all of them.
    return [pytest.param(case, id=case.id, marks=[*case.marks, pytest.mark.xdist_group(repr(case.run))])
            for case in CASES]


def test_every_file_is_replayed_by_some_case():
    replayed_files = {case.run.file for case in CASES}
    assert {p.relative_to(HERE).as_posix() for p in RECORDED + SYNTHETIC} <= replayed_files


@pytest.mark.parametrize("case", params())
def test_replayed_through_the_cli_the_user_sees_what_the_issue_says(case, tmp_path):
    assert_seen(case, replayed(case.run, tmp_path))


def assert_seen(case: Case, seen: Seen) -> None:
    """What a replay showed the user is what ``case`` says (also the openai corpus' cases)."""
    assert "Traceback" not in seen.shown and CANARY_KEY not in seen.shown
    assert seen.code == case.code, seen.shown
    if case.error is None:
        assert seen.errors == [], seen.shown
    else:
        assert len(seen.errors) == 1, seen.shown
        assert re.search(case.error, seen.errors[0]), seen.errors[0]
    for pattern in case.said:
        assert re.search(pattern, seen.shown), (pattern, seen.shown)
    for pattern in case.unsaid:
        assert not re.search(pattern, seen.shown), (pattern, seen.shown)
    low, high = case.connections
    assert low <= len(seen.connections) <= high, [c.status for c in seen.connections]
    if case.check is not None:
        case.check(seen)
