"""The echo model on its own: plain messages in, plain messages out, a fake clock."""

import base64
import math
import re

import numpy as np

from tfy_live.audio.pcm import resample
from tfy_live.localgw.echo import EchoModel, EchoOptions, decode_b64

RATE = 16000


def speech(ms: int, hz: float = 300.0) -> bytes:
    t = np.arange(RATE * ms // 1000) / RATE
    return (8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def quiet(ms: int) -> bytes:
    return bytes(RATE * ms // 1000 * 2)


def audio_frame(pcm: bytes) -> dict:
    return {"realtime_input": {"audio": {"data": base64.urlsafe_b64encode(pcm).decode(), "mime_type": "audio/pcm;rate=16000"}}}


class Talker:
    """Feeds audio in 20 ms messages on a fake clock, collecting what the model says."""

    def __init__(self, model: EchoModel) -> None:
        self.model = model
        self.now = 0.0
        self.out: list[dict] = []

    def say(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), 640):
            self.out += self.model.feed(audio_frame(pcm[start:start + 640]), self.now)
            self.now += 0.02
            self.out += self.model.tick(self.now)

    def wait(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            deadline = self.model.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.out += self.model.tick(self.now)
        self.now = end

    def kinds(self) -> list[str]:
        kinds = []
        for m in self.out:
            content = m.get("serverContent", {})
            kinds += [k for k in ("inputTranscription", "modelTurn", "outputTranscription", "interrupted",
                                  "generationComplete", "turnComplete") if k in content]
            kinds += [k for k in ("usageMetadata", "toolCall", "sessionResumptionUpdate") if k in m]
        return kinds

    def reply_audio(self) -> bytes:
        return b"".join(decode_b64(p["inlineData"]["data"]) for m in self.out
                        for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", []) if "inlineData" in p)


def test_speech_then_silence_is_echoed_at_24k_with_transcripts_and_turn_end():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf)))
    talker.say(quiet(300) + speech(1000) + quiet(600))
    kinds = talker.kinds()
    assert kinds[0] == "inputTranscription"
    assert kinds.index("outputTranscription") < kinds.index("modelTurn")
    assert kinds[-4:] == ["modelTurn", "generationComplete", "turnComplete", "usageMetadata"]  # usage rides with turnComplete
    reply = talker.reply_audio()
    # the echo is the utterance (pre-roll included, trailing silence dropped) at 24 kHz
    assert 1.0 <= len(reply) / 48000 <= 1.25
    back = np.frombuffer(resample(reply, 24000, RATE), "<i2").astype(float)
    assert 7000 < np.abs(back).max() < 8500  # the same loudness as what was said
    assert re.fullmatch(r"\(1\.\d\d s of speech\)", talker.out[0]["serverContent"]["inputTranscription"]["text"])


def test_quiet_audio_is_not_speech():
    talker = Talker(EchoModel())
    talker.say(quiet(2000) + speech(40) + quiet(1000))  # a 40 ms click is shorter than the 60 ms start
    assert talker.out == []


def test_reply_is_sent_at_the_configured_speed_in_chunks():
    talker = Talker(EchoModel(EchoOptions(reply_speed=2.0, chunk_ms=40)))
    talker.say(speech(800) + quiet(500))
    first = len([k for k in talker.kinds() if k == "modelTurn"])
    talker.wait(0.2)  # 0.2 s at 2x real time = 0.4 s of audio = 10 chunks of 40 ms
    assert len([k for k in talker.kinds() if k == "modelTurn"]) - first == 10
    talker.wait(5)
    assert talker.kinds()[-3:] == ["generationComplete", "turnComplete", "usageMetadata"]


def test_speaking_over_the_reply_interrupts_it_even_after_all_audio_was_sent():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf)))
    talker.say(speech(2000) + quiet(500))
    assert "turnComplete" in talker.kinds()  # all sent at once, but still playing for 2 s
    before = len(talker.out)
    talker.say(quiet(200) + speech(200))
    new = talker.out[before:]
    assert {"serverContent": {"interrupted": True}} in new


def test_interrupted_mid_generation_also_completes_the_turn():
    talker = Talker(EchoModel(EchoOptions(reply_speed=1.0)))
    talker.say(speech(2000) + quiet(500))
    before = len(talker.out)
    talker.say(speech(200))
    kinds = Talker.kinds(type("T", (), {"out": talker.out[before:]})())
    assert "interrupted" in kinds and kinds.index("interrupted") < kinds.index("turnComplete")


def test_the_turn_complete_after_an_interruption_can_be_held_back():
    talker = Talker(EchoModel(EchoOptions(reply_speed=1.0, interrupted_turn_complete_s=0.6)))
    talker.say(speech(2000) + quiet(500))
    before = len(talker.out)
    talker.say(speech(200))  # the interruption comes 60 ms into this, at 2.54 s

    def kinds() -> list[str]:
        return Talker.kinds(type("T", (), {"out": talker.out[before:]})())

    assert "interrupted" in kinds() and "turnComplete" not in kinds()
    talker.wait(0.4)  # 3.1 s: 560 ms after the interruption
    assert "turnComplete" not in kinds()
    talker.wait(0.1)  # 3.2 s
    assert kinds().count("turnComplete") == 1 and talker.model.next_deadline() is None


def test_no_interruption_after_the_reply_has_played():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf)))
    talker.say(speech(500) + quiet(500))
    talker.wait(1.0)
    before = len(talker.out)
    talker.say(speech(300))
    assert all("interrupted" not in m.get("serverContent", {}) for m in talker.out[before:])


def test_audio_stream_end_ends_the_utterance_at_once():
    model = EchoModel(EchoOptions(reply_speed=math.inf))
    talker = Talker(model)
    talker.say(speech(500))
    assert talker.out == []
    talker.out += model.feed({"realtimeInput": {"audioStreamEnd": True}}, talker.now)
    assert "turnComplete" in talker.kinds()


def test_text_input_gets_a_spoken_answer_with_its_transcript():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf)))
    talker.out += talker.model.feed({"realtime_input": {"text": "hello there"}}, 0.0)
    texts = [m["serverContent"]["outputTranscription"]["text"] for m in talker.out
             if "outputTranscription" in m.get("serverContent", {})]
    assert texts == ["You said: hello there"]
    assert len(talker.reply_audio()) > 0 and "turnComplete" in talker.kinds()


def test_tool_call_holds_the_reply_until_answered():
    model = EchoModel(EchoOptions(reply_speed=math.inf, tool_call=True))
    talker = Talker(model)
    talker.say(speech(500) + quiet(600))
    assert talker.kinds()[-1] == "toolCall"
    assert "modelTurn" not in talker.kinds()
    talker.out += model.feed({"tool_response": {"function_responses": [{"id": "call-1", "response": {}}]}}, talker.now)
    assert "modelTurn" in talker.kinds()


def test_resumption_handles_after_setup_and_each_turn_and_vertex_usage_spelling():
    model = EchoModel(EchoOptions(reply_speed=math.inf), vertex=True, resumption=True)
    assert model.start(0.0)[0]["sessionResumptionUpdate"]["newHandle"] == "local-handle-1"
    talker = Talker(model)
    talker.say(speech(500) + quiet(600))
    usage = next(m["usageMetadata"] for m in talker.out if "usageMetadata" in m)
    assert "candidatesTokenCount" in usage and "responseTokenCount" not in usage
    assert talker.kinds()[-1] == "sessionResumptionUpdate"


def test_base64_in_either_alphabet_padded_or_not():
    data = bytes(range(256))
    for encoded in (base64.urlsafe_b64encode(data), base64.b64encode(data), base64.urlsafe_b64encode(data).rstrip(b"=")):
        assert decode_b64(encoded.decode()) == data


def test_text_modality_answers_with_a_text_part_and_no_audio():
    model = EchoModel(text=True)
    out = model.feed({"realtimeInput": {"text": "hello"}}, 0.0)
    parts = [p for m in out for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
    assert parts == [{"text": "You said: hello"}]
    assert any(m.get("serverContent", {}).get("turnComplete") for m in out)
    assert model.next_deadline() is None  # nothing more to send


def test_with_voice_detection_off_only_audio_between_activity_start_and_end_counts():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf), manual_activity=True))
    talker.say(speech(600))  # speech before activityStart: ignored, however loud
    assert talker.kinds() == []
    talker.out += talker.model.feed({"realtimeInput": {"activityStart": {}}}, talker.now)
    talker.say(quiet(300) + speech(400))  # silence inside the turn does not end it
    assert "inputTranscription" not in talker.kinds()
    talker.out += talker.model.feed({"realtimeInput": {"activityEnd": {}}}, talker.now)
    talker.wait(1.0)
    transcripts = [m["serverContent"]["inputTranscription"]["text"] for m in talker.out
                   if "inputTranscription" in m.get("serverContent", {})]
    assert transcripts == ["(0.70 s of speech)"]
    assert len(talker.reply_audio()) == len(resample(quiet(300) + speech(400), 16000, 24000))


def test_the_local_gateways_client_context_trusts_its_own_ca_and_nothing_else():
    from tfy_live.localgw.tls import LocalCertificates

    certs = LocalCertificates()
    try:
        (only,) = certs.client_context().get_ca_certs()  # the system's store is not loaded
        assert (("organizationName", "tfy-live local gateway"),) in only["subject"]
    finally:
        certs.cleanup()


# -- the real servers' shapes, on request ------------------------------------------------------------------

def test_native_audio_thinks_first_then_streams_its_transcription_with_the_audio():
    talker = Talker(EchoModel(EchoOptions(reply_speed=4.0, native_audio=True, thought_lead_s=0.5)))
    talker.say(speech(800) + quiet(520))
    parts = [p for m in talker.out for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
    assert parts and parts[0]["thought"] is True and "inlineData" not in parts[0]
    assert "outputTranscription" not in talker.kinds()  # nothing but the thought yet
    talker.wait(0.45)
    assert talker.reply_audio() == b""  # the audio follows the thought by thought_lead_s
    talker.wait(5)
    pieces = [m["serverContent"]["outputTranscription"]["text"] for m in talker.out
              if "outputTranscription" in m.get("serverContent", {})]
    assert len(pieces) > 3 and "".join(pieces).startswith("Echo of ") and "".join(pieces).endswith(" s of speech.")
    kinds = talker.kinds()
    first_audio = kinds.index("modelTurn", 1)
    assert kinds.index("outputTranscription") > first_audio  # streamed alongside, not ahead of it
    usage = next(m["usageMetadata"] for m in talker.out if "usageMetadata" in m)
    assert usage["thoughtsTokenCount"] > 0
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["responseTokenCount"] + usage[
        "thoughtsTokenCount"]
    assert usage["responseTokensDetails"] == [{"modality": "AUDIO", "tokenCount": usage["responseTokenCount"]}]


def test_newer_frames_come_around_the_speech_and_an_unknown_type_mid_reply():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf, newer_frames=True)))
    talker.say(speech(800) + quiet(520))
    assert {"voiceActivity": {"type": "ACTIVITY_START"}} in talker.out
    assert any(m.get("voiceActivity", {}).get("type") == "ACTIVITY_END" for m in talker.out)
    assert {} in talker.out and {"serverContent": {}} in talker.out
    (newer,) = [i for i, m in enumerate(talker.out) if "liveTelemetry" in m]
    audio = [i for i, m in enumerate(talker.out) if "modelTurn" in m.get("serverContent", {})]
    assert audio[0] < newer < audio[-1]  # in the middle of the reply


def test_after_a_tool_response_an_empty_turn_then_the_answer_in_the_next():
    model = EchoModel(EchoOptions(reply_speed=math.inf, tool_call=True, empty_turn_after_tool=True,
                                  empty_turn_gap_s=2.0), vertex=True)
    talker = Talker(model)
    talker.say(speech(500) + quiet(600))
    before = len(talker.out)
    talker.out += model.feed({"tool_response": {"function_responses": [{"id": "call-1", "response": {}}]}}, talker.now)
    assert talker.out[before:] == [{"serverContent": {"outputTranscription": {"finished": True}}},
                                   {"serverContent": {"turnComplete": True}}]
    talker.wait(1.9)
    assert len(talker.out) == before + 2
    talker.wait(0.2)
    assert "modelTurn" in talker.kinds() and talker.kinds().count("turnComplete") == 2


def test_usage_without_a_response_count():
    talker = Talker(EchoModel(EchoOptions(reply_speed=math.inf, usage_without_response=True)))
    talker.say(speech(500) + quiet(600))
    usage = next(m["usageMetadata"] for m in talker.out if "usageMetadata" in m)
    assert "responseTokenCount" not in usage and "candidatesTokenCount" not in usage and usage["totalTokenCount"] > 0


def test_native_audio_in_text_thinks_first_and_answers_in_one_text_part():
    model = EchoModel(EchoOptions(native_audio=True), text=True)
    out = model.feed({"realtimeInput": {"text": "hello"}}, 0.0)
    parts = [p for m in out for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
    assert [p.get("thought", False) for p in parts] == [True, False] and parts[1]["text"] == "You said: hello"
    assert not any("outputTranscription" in m.get("serverContent", {}) for m in out)


def test_the_echo_model_calls_declared_functions_and_cancels_them():
    from tfy_live.localgw.echo import parse_calls

    assert parse_calls('call add {"a": 1}; call now') == ([("add", {"a": 1}), ("now", {})], False)
    assert parse_calls('call wait {"seconds": 5} then cancel') == ([("wait", {"seconds": 5})], True)
    assert parse_calls("call add [1]") is None and parse_calls("hello") is None and parse_calls("call add {") is None
    model = EchoModel(EchoOptions(reply_speed=math.inf), text=True, functions={"add", "wait"})
    out = model.feed({"realtimeInput": {"text": 'call add {"a": 1}; call wait {}'}}, 0.0)
    calls = out[0]["toolCall"]["functionCalls"]
    assert [(c["name"], c["args"]) for c in calls] == [("add", {"a": 1}), ("wait", {})]
    # The answer waits for every response; then it says what they returned.
    first = {"toolResponse": {"functionResponses": [{"id": calls[0]["id"], "response": {"output": 2}}]}}
    assert model.feed(first, 0.1) == []
    out = model.feed({"realtimeInput": {"text": "cancel"}}, 0.2)  # the call still pending is cancelled
    assert out[0] == {"toolCallCancellation": {"ids": [calls[1]["id"]]}}
    assert out[1]["serverContent"]["modelTurn"]["parts"][0]["text"] == "Cancelled wait."
    out = model.feed({"realtimeInput": {"text": "call nope {}"}}, 0.4)
    assert out[0]["serverContent"]["modelTurn"]["parts"][0]["text"] == "No function nope was declared (declared: add, wait)."
    out = model.feed({"realtimeInput": {"text": 'call wait {} then cancel'}}, 1.0)
    call_id = out[0]["toolCall"]["functionCalls"][0]["id"]
    assert math.isclose(model.next_deadline() or 0, 1.2)
    late = model.tick(1.2)
    assert late[0] == {"toolCallCancellation": {"ids": [call_id]}}
    assert late[1]["serverContent"]["modelTurn"]["parts"][0]["text"] == "Cancelled wait."


def test_a_tool_answer_due_during_a_reply_is_a_turn_of_its_own():
    """The README's offline demo: `call add` typed while speaking. The tool answered while the echo of the speech
    was still being sent, and replaced it: one turn read "…of speech.add returned …", its audio cut short."""
    model = EchoModel(EchoOptions(), functions={"add"})
    talker = Talker(model)
    talker.say(speech(1000))
    talker.out += model.feed({"realtimeInput": {"text": 'call add {"a": 2, "b": 3}'}}, talker.now)
    talker.say(speech(500) + quiet(600))  # the speech ends: its echo begins
    call = next(m for m in talker.out if "toolCall" in m)["toolCall"]["functionCalls"][0]
    talker.out += model.feed({"toolResponse": {"functionResponses": [
        {"id": call["id"], "response": {"output": {"result": 5.0}}}]}}, talker.now)
    talker.say(quiet(4000))
    turns, said, audio = [], "", 0
    for message in talker.out:
        content = message.get("serverContent", {})
        said += content.get("outputTranscription", {}).get("text", "")
        audio += sum(len(decode_b64(p["inlineData"]["data"])) for p in content.get("modelTurn", {}).get("parts", []))
        if content.get("turnComplete"):
            turns.append((said, audio))
            said, audio = "", 0
    assert [text for text, _ in turns] == ["Echo of 1.50 s of speech.", 'add returned {"output": {"result": 5.0}}.']
    echo_bytes = len(resample(speech(1500), RATE, 24000))
    assert abs(turns[0][1] - echo_bytes) <= 2 * 24000 * 0.02  # the echo whole, to within a chunk's rounding
