"""Echo cancellation and local barge-in: how much echo goes, what is kept, how fast playback stops.

    .venv/bin/python bench/aec.py [--trials 3] [--markdown BENCHMARKS.md]

Two parts.

The chain, offline: espeak-ng speech as the model's voice (24 kHz, as played)
through synthetic rooms (a direct path and decaying reflections, delayed as a
speaker-to-microphone path and a sound card are) into the microphone (16 kHz),
then tfy-live's own EchoCanceller and SpeechOnset, 20 ms at a time as in a
conversation. Echo return loss enhancement (ERLE: echo in over echo out, after
three seconds of adaptation), the user's voice kept during double talk, false
local barge-ins over minutes of model speech with echo, and the cost per frame.

End to end: ``tfy-live talk`` against the local gateway (echo model, replies at
4x real time) on the simulated sound card (bench/fakeaudio) with a room: the
microphone hears the speaker. The user asks something; one second into the
model's reply they talk over it. Per mode, the time from the user's speech onset
to the last model audio heard, and the model's self-interruptions (an
``interrupted`` before the user spoke: the gateway's voice detection took the
model's echo for the user).
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.netdelay import DelayProxy  # noqa: E402
from bench.report import let_ctrl_c_reach_children, machine, replace_section  # noqa: E402
from tests.speech import MODEL_SAYS, USER_SAYS, echo_of, power_db, s16, speech  # noqa: E402
from tfy_live.audio.echo import EchoCanceller  # noqa: E402
from tfy_live.audio.vad import OnsetRule, SpeechOnset  # noqa: E402
from tfy_live.localgw import EchoOptions, GatewayThread  # noqa: E402

KEY = "bench-key"
FAKE = ROOT / "bench" / "fakeaudio"
ROOMS = [(40, 30), (150, 30), (150, 150), (300, 100)]  # (delay ms, reverberation ms)
GAINS = {"quiet": 1.0, "loud": 6.0}  # echo level at the microphone: about -37 and -22 dBFS
MORE_MODEL = ("Here is a longer answer, so that the detector hears a good deal of the model's voice. "
              "Paris is the capital of France. It is famous for its museums, its food, and the river "
              "that runs through it. Many people visit every year, in every season, from every country.")


# -- the chain, offline ------------------------------------------------------------

def model_voice(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The model's voice, at least ``seconds`` long: (16 kHz, 24 kHz) float32."""
    texts = [MODEL_SAYS, MORE_MODEL]
    a16, a24 = [], []
    total = 0.0
    i = 0
    while total < seconds:
        voice = ("en-us", "en-gb")[i % 2]
        a16.append(speech(texts[i % 2], 16000, voice=voice, pitch=40 + 10 * (i % 3)))
        a24.append(speech(texts[i % 2], 24000, voice=voice, pitch=40 + 10 * (i % 3)))
        total += len(a16[-1]) / 16000
        i += 1
    x16, x24 = np.concatenate(a16), np.concatenate(a24)
    n = min(len(x16), len(x24) * 2 // 3)
    return x16[:n], x24[: n * 3 // 2]


def shipped(ns: bool) -> EchoCanceller:
    """tfy-live's canceller; ``ns``: with noise suppression and the high-pass filter."""
    return EchoCanceller(noise_suppression=ns, high_pass=ns)


def run_chain(mic: np.ndarray, far24: np.ndarray, *, ns: bool = False, onset: SpeechOnset | None = None,
              cancel: bool = True, canceller=shipped) -> tuple[bytes, list[float], list[float]]:
    """20 ms at a time: play a slice, then capture a chunk. Returns (cleaned mic, onsets in s, µs per 10 ms)."""
    aec = canceller(ns) if cancel else None
    mic_pcm, far_pcm = s16(mic), s16(far24)
    out, onsets, costs = bytearray(), [], []
    for i in range(len(mic_pcm) // 640):
        chunk = mic_pcm[i * 640:(i + 1) * 640]
        if aec is not None:
            began = time.perf_counter()
            aec.far(far_pcm[i * 960:(i + 1) * 960])
            chunk = aec.near(chunk)
            costs.append((time.perf_counter() - began) * 1e6 / 2)
        out += chunk
        if onset is not None and onset.feed(chunk):
            onsets.append((i + 1) * 0.02)
    return bytes(out), onsets, costs


def erle_rows(canceller=shipped, columns: tuple[bool, ...] = (False, True)) -> list[str]:
    far16, far24 = model_voice(12)
    rows = []
    for level, gain in GAINS.items():
        for delay, reverb in ROOMS:
            mic = echo_of(far16, delay_ms=delay, room_ms=reverb, gain=gain)
            # -90 dBFS of noise: far enough below the echo that ERLE is the canceller's, not the noise floor's
            mic += np.random.default_rng(1).standard_normal(len(mic)).astype(np.float32) * 3e-5
            mic_pcm = s16(mic)
            mic_db = power_db(mic_pcm)
            cells = []
            for ns in columns:
                out, _, _ = run_chain(mic, far24, ns=ns, canceller=canceller)
                per_second = []
                for s in range(3, len(out) // 32000):
                    second = slice(s * 32000, (s + 1) * 32000)
                    echo_in = power_db(mic_pcm[second])
                    if echo_in > mic_db - 15:  # a second with the model speaking
                        per_second.append(echo_in - power_db(out[second]))
                cells.append(f"{statistics.median(per_second):.1f} dB (worst second {min(per_second):.1f})")
            rows.append(f"| {delay} ms, {reverb} ms reverberation, {level} ({mic_db - 90.3:.0f} dBFS) "
                        "| " + " | ".join(cells) + " |")
    return rows


def double_talk_rows(canceller=shipped) -> list[str]:
    far16, far24 = model_voice(12)
    user = speech(USER_SAYS, 16000, voice="en-gb", pitch=70) * 0.5
    rows = []
    for delay, reverb in ROOMS:
        for level, gain in GAINS.items():
            start = 5 * 16000
            near = np.zeros(len(far16), np.float32)
            m = min(len(user), len(near) - start)
            near[start:start + m] = user[:m]
            mic = echo_of(far16, delay_ms=delay, room_ms=reverb, gain=gain) + near
            out, _, _ = run_chain(mic, far24, canceller=canceller)
            region = slice(2 * start, 2 * (start + m))
            kept = power_db(out[region]) - power_db(s16(near)[region])
            rows.append(f"| {delay} ms, {reverb} ms, {level} | {kept:+.1f} dB | {'met' if abs(kept) <= 3 else '**missed**'} |")
    return rows


def false_barge_ins(minutes: float) -> list[str]:
    far16, far24 = model_voice(60 * minutes)
    rows = []
    for level, gain in GAINS.items():
        hits, seconds = [], 0.0
        raw_hits = []
        for k, (delay, reverb) in enumerate(ROOMS):
            part = slice(k * len(far16) // len(ROOMS), (k + 1) * len(far16) // len(ROOMS))
            p24 = slice(k * len(far24) // len(ROOMS), (k + 1) * len(far24) // len(ROOMS))
            mic = echo_of(far16[part], delay_ms=delay, room_ms=reverb, gain=gain, seed=k)
            mic += np.random.default_rng(k).standard_normal(len(mic)).astype(np.float32) * 3e-4
            _, onsets, _ = run_chain(mic, far24[p24], onset=SpeechOnset())
            _, raw, _ = run_chain(mic, far24[p24], onset=SpeechOnset(), cancel=False)
            hits += onsets
            raw_hits += raw
            seconds += len(mic) / 16000
        rows.append(f"| {level} echo | {seconds / 60:.1f} min | {len(hits) / (seconds / 60):.1f} | "
                    f"{len(raw_hits) / (seconds / 60):.1f} |")
    return rows


def costs() -> str:
    far16, far24 = model_voice(10)
    mic = echo_of(far16, delay_ms=150, room_ms=100, gain=3.0)
    _, _, per_frame = run_chain(mic, far24)
    onset = SpeechOnset()
    pcm = s16(mic)
    times = []
    for i in range(len(pcm) // 1024):
        began = time.perf_counter()
        onset.feed(pcm[i * 1024:(i + 1) * 1024])
        times.append((time.perf_counter() - began) * 1e6)
    aec_us, vad_us = statistics.median(per_frame), statistics.median(times)
    share = (aec_us * 100 + vad_us * 1000 / 32) / 1e6 * 100
    return (f"Cost: echo cancellation {aec_us:.0f} µs per 10 ms of microphone audio (and its 10 ms of played "
            f"audio), voice detection {vad_us:.0f} µs per 32 ms window: together {share:.1f}% of one core while the model is heard; the detector runs only then, so "
            f"otherwise echo cancellation alone: {aec_us / 100:.1f}%.")


# -- end to end -----------------------------------------------------------------------

MODES = {
    "local barge-in (--aec on)": ["--aec", "on", "--barge-in", "local"],
    "server barge-in only (--aec on --barge-in server)": ["--aec", "on", "--barge-in", "server"],
    "no echo cancellation (--aec off)": ["--aec", "off"],
}


def onset_offset(pcm: bytes) -> float:
    """Seconds into ``pcm`` where speech starts: the first 10 ms louder than -40 dBFS."""
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    for i in range(len(x) // 160):
        w = x[i * 160:(i + 1) * 160]
        if 10 * np.log10(np.mean(w * w) / 32768**2 + 1e-12) > -40:
            return i * 0.01
    raise ValueError("no speech")


def read(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


@dataclass(frozen=True)
class Network:
    """Between tfy-live and the gateway: a one-way delay, and how long the gateway's voice detection needs."""

    label: str
    one_way_ms: float
    server_vad_ms: int


NETWORKS = [
    Network("loopback, server detector 60 ms", 0, 60),
    Network("100 ms round trip, server detector 200 ms", 50, 200),
]


def voice_kept(sent: bytes, voice: bytes) -> float:
    """dB of ``voice`` (the user, alone) in ``sent`` (what the gateway got), found by cross-correlation."""
    a = np.frombuffer(sent, "<i2").astype(np.float64)
    v = np.frombuffer(voice, "<i2").astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(v))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(v, n)), n)[: len(a) - len(v) + 1]
    start = int(np.argmax(corr))
    return power_db(s16(a[start:start + len(v)] / 32768)) - power_db(voice)


def e2e_trial(mode: list[str], workdir: Path, room: str, net: Network = NETWORKS[0]) -> dict[str, float]:
    question = s16(np.concatenate([np.zeros(8000, np.float32),
                                   speech("What is the capital of France, and why is it famous?") * 0.5]))
    over = s16(speech(USER_SAYS, 16000, voice="en-gb", pitch=70) * 0.5)
    (workdir / "mic.raw").write_bytes(question)
    (workdir / "over.raw").write_bytes(over)
    spk, events, wire = workdir / "spk.log", workdir / "events.log", workdir / "wire.log"
    for path in (spk, events, wire):
        path.unlink(missing_ok=True)
    thread = GatewayThread(api_key=KEY, options=EchoOptions(reply_speed=4.0, start_ms=net.server_vad_ms))
    gw = thread.start()
    proxy = DelayProxy(gw.host, gw.port, one_way_ms=net.one_way_ms) if net.one_way_ms else None
    base_url = gw.base_url if proxy is None else f"https://127.0.0.1:{proxy.start()}{gw.prefix}"
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "GOOGLE_", "GEMINI_", "BENCH_"))}
        env.update(PYTHONPATH=str(FAKE), FAKEAUDIO_MIC=str(workdir / "mic.raw"), FAKEAUDIO_ROOM=room,
                   FAKEAUDIO_BARGE_IN=f"{workdir / 'over.raw'},1.0", FAKEAUDIO_EVENTS=str(events),
                   FAKEAUDIO_SPK_LOG=str(spk), BENCH_WIRE_LOG=str(wire), SSL_CERT_FILE=str(gw.ca_file),
                   TFY_API_KEY=KEY, TFY_BASE_URL=base_url, NO_PROXY="127.0.0.1,localhost", PYTHONWARNINGS="ignore")
        child = subprocess.Popen([sys.executable, "-m", "tfy_live", "talk", "--provider", "acct", *mode], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 cwd=workdir)
        time.sleep(len(question) / 32000 + 1.5 + 1.0 + len(over) / 32000 + 1.0)
        child.send_signal(signal.SIGINT)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    finally:
        if proxy is not None:
            proxy.stop()
        thread.stop()
    marks = {kind: float(t) for t, kind in read(events)}
    if "barge-in" not in marks:
        return {"self_interrupted": 1.0}  # the reply was cut short before the user ever spoke over it
    onset = marks["barge-in"] + onset_offset(over)
    sounds = [(float(t), int(n) / 24000) for t, n, peak in read(spk) if int(peak) > 100]
    heard = [start + length for start, length in sounds if start < onset + 1.0]
    interrupted = [float(t) for t, kind in read(wire) if kind == "interrupted"]
    return {
        "stop_ms": 1000 * (max(heard) - onset),
        "server_interrupted_ms": 1000 * (min((t for t in interrupted if t > onset), default=float("nan")) - onset),
        "self_interrupted": float(any(t < onset for t in interrupted)),
        "kept_db": voice_kept(bytes(gw.connections[-1].audio_in), over),
    }


def e2e_rows(trials: int, workdir: Path) -> list[str]:
    rows = []
    for net in NETWORKS:
        for room, label in (("150,100,6", "loud echo"), ("150,100,1", "quiet echo")):
            for name, mode in MODES.items():
                if net.one_way_ms and "--aec" in mode and mode[mode.index("--aec") + 1] == "off":
                    continue  # without echo cancellation the model interrupts itself on any network
                results = [e2e_trial(mode, workdir, room, net) for _ in range(trials)]
                print(net.label, label, name, results, file=sys.stderr)
                done = [r for r in results if "stop_ms" in r]
                stops = [r["stop_ms"] for r in done]
                server = [r["server_interrupted_ms"] for r in done if not np.isnan(r["server_interrupted_ms"])]
                kept = [r["kept_db"] for r in done]
                selfs = sum(r["self_interrupted"] for r in results)
                stop = f"{statistics.median(stops):.0f} ms (max {max(stops):.0f})" if stops else "—"
                srv = f"{statistics.median(server):.0f} ms" if server else "—"
                voice = f"{statistics.median(kept):+.1f} dB" if kept else "—"
                rows.append(f"| {net.label} | {label} | {name} | {stop} | {srv} | {voice} | {selfs:.0f} of {trials} |")
    return rows


SECTION = """## Echo cancellation and local barge-in

`make bench-aec` ({script}). Run {day} on {machine}.

{doc}

### Echo return loss enhancement (target ≥ 30 dB)

The model's voice through each room into the microphone (plus -90 dBFS of noise); median ERLE over the seconds in which the model speaks, after the first three. The rooms are linear (no loudspeaker distortion, no movement), the easiest case for a canceller: read these as what the module does with the echo it can model; on a laptop's real speakers expect less (the figure quoted in the issue, espeak through a 30 ms room response, was 30–32 dB).

| room | ERLE, echo cancellation | ERLE, with noise suppression and high-pass |
|---|---|---|
{erle}

### Double talk: the user's voice kept while the model talks (target within 3 dB)

The user speaks five seconds into the model's reply and the model talks on (as when barge-in is off or missed); the cleaned microphone's level over the user's speech against the user's voice alone. With loud echo AEC3's suppressor turns the user down by 3–4.5 dB in the bands where the echo is as loud as they are; livekit exposes none of its settings. In a conversation double talk is short: playback stops about 110 ms after the user's first word, and the user's voice reaches the gateway within 1 dB of how it was spoken (the end-to-end table below, "user's voice at the gateway").

| room, echo | user's voice, out against alone | target |
|---|---|---|
{double}

### False local barge-ins on the model's own echo (target 0 per minute)

Silero's onset rule ({rule})) on the cleaned microphone over minutes of model speech through the four rooms; beside it, the same detector on the raw microphone, which is why local barge-in needs echo cancellation.

| echo | model speech | false barge-ins per minute, cleaned | on the raw microphone |
|---|---|---|---|
{false}

{cost}

### Talking over the model, end to end (target: local barge-in ≤ 150 ms)

`tfy-live talk` on the simulated sound card with a room (150 ms delay, 100 ms reverberation) and the local gateway (its echo model, replies at 4x real time). The user asks something; one second into the reply they talk over it. From the user's speech onset (the first 10 ms above -40 dBFS) to the end of the last model audio heard, and to the gateway's `interrupted` reaching tfy-live; the user's voice as the gateway received it (found by cross-correlation) against the user's voice alone: the double talk of the table above as it happens in a conversation, where playback stops soon after the user starts; self-interruptions are `interrupted` messages before the user spoke. {trials} trials per row; median (max).

Two networks. On loopback with the local gateway's energy detector that needs 60 ms of sound, the server is as quick as any real one can be. Behind a real gateway the `interrupted` comes a round trip later and Gemini's detector needs more speech before it commits (its `prefix_padding_ms`; the default is not documented): the second network puts a 100 ms round trip between tfy-live and the gateway (bench/netdelay.py, a TCP proxy that delays each direction by 50 ms) and makes the gateway's detector wait for 200 ms of sound. Without echo cancellation the model interrupts itself on any network, so that mode is run on loopback only.

| network | echo | mode | speech onset → playback stopped | → server's `interrupted` | user's voice at the gateway | self-interruptions |
|---|---|---|---|---|---|---|
{e2e}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="end-to-end trials per mode and room")
    parser.add_argument("--minutes", type=float, default=3.0, help="model speech for the false barge-in count")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    let_ctrl_c_reach_children()
    erle = erle_rows()
    print("\n".join(erle), file=sys.stderr)
    double = double_talk_rows()
    print("\n".join(double), file=sys.stderr)
    false = false_barge_ins(args.minutes)
    print("\n".join(false), file=sys.stderr)
    cost = costs()
    print(cost, file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        e2e = e2e_rows(args.trials, Path(tmp))
    r = OnsetRule()
    rule = f"a 32 ms window with speech probability ≥ {r.threshold} above {r.floor_dbfs:.0f} dBFS, {r.min_windows} in a row"
    doc = "\n\n".join(p.replace("\n", " ") for p in __doc__.split("\n\n")[2:])
    section = SECTION.format(script=Path(__file__).name, day=datetime.date.today().isoformat(), machine=machine(),
                             doc=doc, erle="\n".join(erle), double="\n".join(double), false="\n".join(false),
                             cost=cost, trials=args.trials, e2e="\n".join(e2e), rule=rule)
    print(section)
    if args.markdown:
        replace_section(args.markdown, section)


if __name__ == "__main__":
    main()
