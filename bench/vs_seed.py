"""tfy-live against the gateway's own sample (the seed), side by side, same devices, same gateway.

Both programs run as they are (the seed unmodified but for its URL and key
placeholders) against the built-in local gateway, with the real-time
simulated sound card of ``bench/fakeaudio`` (a stand-in PyAudio, first on
PYTHONPATH). The microphone says a 2 s tone, pauses, then talks over the
reply with a 0.8 s tone; the gateway answers 4x faster than real time, as
Gemini does, so most of the first reply is queued when the user barges in.

Per trial:
- barge-in: model audio heard after the gateway said ``interrupted`` (until
  the next reply starts) — what the user has to sit through;
- capture: microphone to gateway, per audio message (capture time from the
  fake device's clock, arrival from the gateway's), median;
- playback: the gateway sending the reply's first audio to its first sound
  at the speaker;
- start-up: process start to the first audio at the gateway;
- CPU: user + system seconds of the process per second of wall time.

    .venv/bin/python bench/vs_seed.py [--trials 5] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
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

from tfy_live.localgw import EchoOptions, GatewayThread  # noqa: E402
from tfy_live.localgw.echo import audio_chunks  # noqa: E402

KEY = "bench-key"
RATE = 16000
# The gateway documentation page the product started from (shared/seed), kept here verbatim.
SEED = ROOT / "bench" / "seed" / "gateway-sample.txt"


@dataclass(frozen=True)
class Case:
    """A barge-in scenario: the user speaks ``speech_s``, pauses ``pause_s``, then talks over the reply."""

    name: str
    speech_s: float
    pause_s: float
    turn_complete_s: float  # how long after `interrupted` the gateway sends turnComplete


CASES = [
    # The reply (4 s, sent at 4x) is still being sent when the user talks over it, half a second in.
    Case("barge-in, turnComplete at once", 4.0, 1.0, 0.0),
    Case("barge-in, turnComplete 600 ms later", 4.0, 1.0, 0.6),
    # The whole reply (2 s) has arrived before the user talks over it, a second into its playback.
    Case("barge-in after the whole reply arrived", 2.0, 1.6, 0.0),
]


def mic_pcm(case: Case) -> bytes:
    t1, t2 = np.arange(int(case.speech_s * RATE)) / RATE, np.arange(int(0.8 * RATE)) / RATE
    parts = [np.zeros(int(0.5 * RATE)), 8000 * np.sin(2 * np.pi * 300 * t1), np.zeros(int(case.pause_s * RATE)),
             8000 * np.sin(2 * np.pi * 500 * t2), np.zeros(3 * RATE)]
    return np.concatenate(parts).astype("<i2").tobytes()


def seed_program(base_url: str, path: Path) -> Path:
    """The sample as the gateway's documentation gives it, with its two placeholders filled in."""
    text = SEED.read_text()
    code = text[text.index('"""\nGemini Live API'):text.index("asyncio.run(main())") + len("asyncio.run(main())")]
    code = code.replace('API_KEY = "your-tfy-api-key"', f'API_KEY = "{KEY}"')
    code = code.replace('BASE_URL = "https://{controlPlaneUrl}/api/llm/live/{geminiProviderAccountName}"',
                        f'BASE_URL = "{base_url}/live/acct"')
    assert KEY in code and "/live/acct" in code, "the seed's placeholders moved"
    path.write_text(code + "\n")
    return path


def trial(program: str, case: Case, workdir: Path) -> dict[str, float]:
    options = EchoOptions(reply_speed=4.0, interrupted_turn_complete_s=case.turn_complete_s)
    thread = GatewayThread(api_key=KEY, options=options)
    gw = thread.start()
    try:
        mic, spk_log, mic_log = workdir / "mic.raw", workdir / f"{program}.spk", workdir / f"{program}.mic"
        pcm = mic_pcm(case)
        mic.write_bytes(pcm)
        for log in (spk_log, mic_log):
            log.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "GOOGLE_", "GEMINI_"))}
        env.update(PYTHONPATH=str(ROOT / "bench" / "fakeaudio"), FAKEAUDIO_MIC=str(mic), FAKEAUDIO_SPK_LOG=str(spk_log),
                   FAKEAUDIO_MIC_LOG=str(mic_log), SSL_CERT_FILE=gw.ca_file, NO_PROXY="127.0.0.1,localhost",
                   TFY_API_KEY=KEY, TFY_BASE_URL=gw.base_url, PYTHONWARNINGS="ignore")
        if program == "tfy-live":
            command = [sys.executable, "-m", "tfy_live", "talk", "--provider", "acct"]
        else:
            command = [sys.executable, str(seed_program(gw.base_url, workdir / "seed.py"))]
        started = time.monotonic()
        child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, cwd=workdir)
        time.sleep(len(pcm) / 2 / RATE + 1.0)
        child.send_signal(signal.SIGINT)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except ChildProcessError:
            usage = None
        wall = time.monotonic() - started
        child.returncode = 0
        conn = gw.connections[-1]
    finally:
        thread.stop()
    return measure(conn, spk_log, mic_log, started, wall, usage)


def measure(conn, spk_log: Path, mic_log: Path, started: float, wall: float, usage) -> dict[str, float]:
    plays = [tuple(map(float, line.split())) for line in spk_log.read_text().splitlines()] if spk_log.exists() else []
    sent = list(zip(conn.sent_at, conn.sent))
    interrupted_at = next(t for t, m in sent if m.get("serverContent", {}).get("interrupted"))
    audio_sent = [t for t, m in sent if "modelTurn" in m.get("serverContent", {})]
    next_reply = next((t for t in audio_sent if t > interrupted_at), float("inf"))
    heard_after = 0.0
    for start, frames, peak in plays:
        end = start + frames / 24000
        if peak > 500:
            heard_after += max(0.0, min(end, next_reply) - max(start, interrupted_at))
    # The reply opens with the echo's pre-roll (quiet), so the first write after it was sent, loud or not.
    first_sound = next(start for start, _, _ in plays if start >= audio_sent[0])
    capture = []
    if mic_log.exists():
        opened = float(mic_log.read_text().split()[0])
        offset = 0
        for t, message in zip(conn.received_at, conn.received):
            realtime = message.get("realtimeInput", message.get("realtime_input", {}))
            for pcm in audio_chunks(realtime) if isinstance(realtime, dict) else []:
                capture.append(t - (opened + offset / RATE))  # the oldest sample in the message
                offset += len(pcm) // 2
    first_audio_in = next(t for t, m in zip(conn.received_at, conn.received)
                          if audio_chunks(m.get("realtimeInput", m.get("realtime_input", {})) or {}))
    cpu = (usage.ru_utime + usage.ru_stime) / wall if usage else float("nan")
    return {"barge_in_ms": 1000 * heard_after, "capture_ms": 1000 * statistics.median(capture),
            "playback_ms": 1000 * (first_sound - audio_sent[0]), "startup_ms": 1000 * (first_audio_in - started),
            "cpu_pct": 100 * cpu}


METRICS = [("capture_ms", "capture: oldest sample of a message, microphone → gateway", "ms"),
           ("playback_ms", "playback: first reply audio sent → heard", "ms"),
           ("startup_ms", "start-up: launch → first audio at the gateway", "ms"),
           ("cpu_pct", "CPU while talking (user + system / wall)", "%")]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def table(results: dict[str, list[dict[str, float]]], trials: int) -> str:
    day = datetime.date.today().isoformat()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Run {day} on {machine}, {trials} trials of each case for each program; median (p95). "
             "Barge-in is model audio heard after `interrupted` (until the next reply); the other rows pool "
             "all cases.", "",
             "| metric | tfy-live | seed sample | tfy-live / seed |", "|---|---|---|---|"]
    rows = [(f"{case.name}", "ms", lambda r, c=case: r["barge_in_ms"] if r["case"] == c.name else None)
            for case in CASES]
    rows += [(label, unit, lambda r, k=key: r[k]) for key, label, unit in METRICS]
    for label, unit, pick in rows:
        ours = [v for r in results["tfy-live"] if (v := pick(r)) is not None]
        theirs = [v for r in results["seed"] if (v := pick(r)) is not None]
        mo, ms = statistics.median(ours), statistics.median(theirs)
        ratio = f"{mo / ms:.2f}" if ms else "—"
        lines.append(f"| {label} | {mo:.0f} {unit} ({p95(ours):.0f}) | {ms:.0f} {unit} ({p95(theirs):.0f}) | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"tfy-live": [], "seed": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.trials):
            for case in CASES:
                for program in results:  # interleaved, so drift in the machine's load hits both alike
                    result: dict = {**trial(program, case, Path(tmp)), "case": case.name}
                    results[program].append(result)
                    print(program, case.name, {k: round(v) for k, v in result.items() if k != "case"},
                          file=sys.stderr)
    text = table(results, args.trials)
    print(text)
    if args.markdown:
        old = args.markdown.read_text() if args.markdown.exists() else ""
        marker = "## tfy-live and the seed sample, side by side"
        section = (
            f"{marker}\n\n`make bench-seed` ({Path(__file__).name}): tfy-live and the gateway documentation's "
            "sample (bench/seed, unmodified but for its URL and key), one after the other in each trial, against "
            "the local gateway (echo model, reply sent at 4x real time).\n\n"
            "The simulated sound card (bench/fakeaudio/pyaudio.py, first on PYTHONPATH for both programs) "
            "behaves like PortAudio's blocking streams in real time: a microphone read returns when its frames "
            "would have been captured (the scenario's audio, then silence); a speaker write blocks while more "
            "than 40 ms is queued, as a device buffer does, and logs when each write starts to play on "
            "CLOCK_MONOTONIC, which the gateway's timestamps share.\n\n" + text + "\n")
        if marker in old:
            head, _, rest = old.partition(marker)
            tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
            old = head + section + tail
        else:
            old = old.rstrip("\n") + "\n\n" + section
        args.markdown.write_text(old)


if __name__ == "__main__":
    main()
