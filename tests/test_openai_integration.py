"""End to end for the openai kinds: the unmodified openai SDK's realtime client, real TLS, the local gateway
speaking the realtime protocol on the gateway's /live/<account>/realtime path."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.fakes import FakeSource, RecordingReporter, WaitUntil
from tfy_live import events as ev
from tfy_live.config import resolve
from tfy_live.conversation import Conversation
from tfy_live.endrule import EndRule
from tfy_live.errors import Cause, GatewayError
from tfy_live.gateway_openai import Connector
from tfy_live.link import Link
from tfy_live.localgw import Fault, GatewayThread

OPENAI_DECOYS = {"OPENAI_API_KEY": "decoy-openai-key", "OPENAI_BASE_URL": "https://decoy.invalid/v1",
                 "OPENAI_ORG_ID": "org-decoy", "OPENAI_PROJECT_ID": "proj-decoy"}


def tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * 300 * t)).astype("<i2")


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(rate * seconds), dtype="<i2")


def chunks(*parts: np.ndarray, frames: int = 320) -> list[bytes]:
    pcm = np.concatenate(parts).tobytes()
    return [pcm[i:i + 2 * frames] for i in range(0, len(pcm), 2 * frames)]


def settings_for(gw: Any, **flags: Any) -> Any:
    env = {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": gw.base_url, "TFY_LIVE_PROVIDER": "oa-acct",
           "TFY_CA_BUNDLE": str(gw.ca_file)}
    return resolve({"provider_kind": "openai", **flags}, env)


@pytest.fixture
def realtime_gateway():
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0)
    yield thread.start()
    thread.stop()


def test_wav_in_wav_out_through_the_openai_sdk(realtime_gateway, tmp_path, kind="openai"):
    said = tmp_path / "said.wav"
    soundfile.write(said, np.concatenate([tone(0.6), silence(0.9)]), 16000, subtype="PCM_16")
    out, transcript = tmp_path / "reply.wav", tmp_path / "talk.md"
    env = clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=realtime_gateway.base_url,
                    SSL_CERT_FILE=str(realtime_gateway.ca_file), **OPENAI_DECOYS)
    result = tfy_live("talk", "--provider", "oa-acct", "--provider-kind", kind, "--voice", "coral",
                      "--input-file", str(said), "--output-file", str(out), "--transcript", str(transcript),
                      "--aec", "off", env=env)
    assert result.returncode == 0, result.stderr
    (conn,) = realtime_gateway.connections
    # The URL rule and the headers, as the server saw them: the key as Bearer, to this origin and path only.
    assert (conn.path, conn.query, conn.kind, conn.account) == (
        "/api/llm/live/oa-acct/realtime", {"model": "gpt-realtime"}, "openai", "oa-acct")
    assert conn.headers["authorization"] == f"Bearer {CANARY_KEY}"
    assert not any("decoy" in value for value in conn.headers.values())
    assert f"wss://{realtime_gateway.base_url.split('://')[1]}/live/oa-acct/realtime?model=gpt-realtime" in result.stdout
    assert CANARY_KEY not in result.stdout + result.stderr
    # The session declared PCM at 24 kHz, the voice, server VAD; the audio went out at 24 kHz.
    audio = conn.setup["audio"]
    assert audio["input"]["format"]["rate"] == 24000 and audio["output"]["voice"] == "coral"
    assert audio["input"]["turn_detection"]["type"] == "server_vad"
    assert abs(len(conn.audio_in) / 48000 - 1.5) < 0.1  # 1.5 s of 16 kHz capture, sent as 24 kHz
    # The echo came back and was played at its declared rate; the transcript and usage were kept.
    reply, rate = soundfile.read(out, dtype="int16")
    assert rate == 24000 and len(conn.audio_out) / 48000 > 0.4
    assert len(reply) / rate == pytest.approx(len(conn.audio_out) / 48000, abs=0.05)
    assert "Echo of" in transcript.read_text() and "tokens" in result.stdout


def test_chat_in_text_through_the_azure_kind(realtime_gateway):
    env = clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=realtime_gateway.base_url,
                    SSL_CERT_FILE=str(realtime_gateway.ca_file), **OPENAI_DECOYS)
    result = tfy_live("chat", "--provider", "az-acct", "--provider-kind", "azure", "--model", "my-deployment",
                      "Hello there", env=env)
    assert result.returncode == 0, result.stderr
    assert "You said: Hello there" in result.stdout
    (conn,) = realtime_gateway.connections
    assert (conn.path, conn.query) == ("/api/llm/live/az-acct/realtime", {"model": "my-deployment"})
    assert conn.setup["output_modalities"] == ["text"]
    assert [m["type"] for m in conn.received][-2:] == ["conversation.item.create", "response.create"]


async def test_truncate_tells_the_server_what_the_speaker_played(realtime_gateway):
    """Speak, let the echo play for a while, speak over it: the server's speech_started stops playback and the
    truncate's audio_end_ms is what the simulated speaker had played, within one 20 ms slice."""
    sink = PacedSink()
    source = FakeSource(chunks(tone(0.8), silence(0.9), tone(0.3), silence(0.7)), interval=0.02)
    settings = settings_for(realtime_gateway)
    connector = Connector()
    reporter = RecordingReporter()

    def opener(handle: str | None) -> Any:
        return connector(settings)

    async with Link(opener) as link:
        conversation = Conversation(link, source, sink, reporter, rule=EndRule(max_turns=2, grace_s=0.0))
        await asyncio.wait_for(conversation.run(), 20)
    (conn,) = realtime_gateway.connections
    truncates = [(at, m) for at, m in zip(conn.received_at, conn.received) if m["type"] == "conversation.item.truncate"]
    assert len(truncates) == 1, [m["type"] for m in conn.received]
    (told_at, truncate), = truncates
    started_at = next(at for at, m in zip(conn.sent_at, conn.sent)
                      if m["type"] == "input_audio_buffer.speech_started" and at > sink.first_write)
    first_item = next(m["item_id"] for m in conn.sent if m["type"] == "response.output_audio.delta")
    assert truncate["item_id"] == first_item and truncate["content_index"] == 0
    # What the speaker had played of the reply when the server heard the user, and when the truncate arrived.
    slice_ms = 20
    assert sink.played_ms(started_at) - slice_ms <= truncate["audio_end_ms"] <= sink.played_ms(told_at) + slice_ms
    assert 100 < truncate["audio_end_ms"] < 1000 * len(conn.audio_out) / 48000  # cut short, not played out
    assert "interrupted" in reporter.names()


class PacedSink:
    """A speaker with a 40 ms buffer on the real clock (fed directly by the player), that keeps when each write
    began to play, to say how much it had played at any moment."""

    sample_rate = 24000

    def __init__(self) -> None:
        self.end = 0.0
        self.segments: list[tuple[float, int]] = []  # (when it starts playing, frames)
        self.first_write = float("inf")

    async def __aenter__(self) -> "PacedSink":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def write(self, pcm: bytes) -> None:
        raise AssertionError("fed directly")

    def room(self) -> int:
        return max(0, int((0.040 - self.queued_s()) * self.sample_rate))

    def write_now(self, pcm: bytes) -> None:
        now = time.monotonic()
        self.first_write = min(self.first_write, now)
        start = max(self.end, now)
        self.segments.append((start, len(pcm) // 2))
        self.end = start + len(pcm) / (2 * self.sample_rate)

    def queued_s(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def played_ms(self, at: float) -> float:
        frames = sum(min(n, max(0.0, (at - start) * self.sample_rate)) for start, n in self.segments)
        return 1000 * frames / self.sample_rate


async def test_an_unknown_model_is_one_line_with_the_fix(tmp_path):
    thread = GatewayThread(api_key=CANARY_KEY, faults=[Fault(action="error", reason="model_not_found", after_turns=0,
                                                             code=1000)])
    gw = thread.start()
    try:
        with pytest.raises(GatewayError) as caught:
            async with Connector()(settings_for(gw, model="gpt-nope")):
                pass
    finally:
        thread.stop()
    assert caught.value.cause is Cause.MODEL
    assert "check --model ('gpt-nope') is a realtime model (type Realtime) on provider account 'oa-acct'" in str(
        caught.value)


async def test_a_lost_session_is_not_resumed_but_replay_context_gives_the_new_one_the_text():
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=float("inf"),
                           faults=[Fault(action="close", code=1011, reason="internal error", after_turns=1)])
    gw = thread.start()
    try:
        settings = settings_for(gw)
        connector = Connector(replay_context=True)
        async with Link(lambda handle: connector(settings), backoff_s=(0.0,)) as link:
            await link.send_text("What is the capital of France?")
            seen: list[ev.Event] = []
            while not any(isinstance(e, ev.Notice) for e in seen):
                async for event in link.receive():
                    seen.append(event)
                    if isinstance(event, ev.Notice):  # the new session's first event; no turn follows
                        break
            # The replayed items were sent before the Notice; the gateway's thread records them as they arrive.
            await WaitUntil(lambda: len([m for m in gw.connections[-1].received
                                         if m["type"] == "conversation.item.create"]) >= 2).wait()
    finally:
        thread.stop()
    first, second = gw.connections
    notice = next(e for e in seen if isinstance(e, ev.Notice))
    assert "cannot be resumed" in notice.text and "2 messages" in notice.text
    replayed = [m["item"] for m in second.received if m["type"] == "conversation.item.create"]
    assert [(i["role"], i["content"][0]["type"], i["content"][0]["text"]) for i in replayed] == [
        ("user", "input_text", "What is the capital of France?"),
        ("assistant", "output_text", "You said: What is the capital of France?")]
