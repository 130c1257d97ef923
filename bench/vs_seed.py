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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tfy_live.localgw import GatewayThread  # noqa: E402
from tfy_live.localgw.echo import audio_chunks  # noqa: E402

KEY = "bench-key"
RATE = 16000
# The gateway documentation page the product started from (shared/seed), kept here verbatim.
SEED = ROOT / "bench" / "seed" / "gateway-sample.txt"
RUN_S = 9.0  # the scenario is 7.9 s of microphone audio


def mic_pcm() -> bytes:
    t1, t2 = np.arange(2 * RATE) / RATE, np.arange(int(0.8 * RATE)) / RATE
    # The pause lets the whole first reply arrive (0.5 s at 4x) before the user talks over it, a
    # second into its playback: what is still queued then is what barge-in must drop.
    parts = [np.zeros(int(0.5 * RATE)), 8000 * np.sin(2 * np.pi * 300 * t1), np.zeros(int(1.6 * RATE)),
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


def trial(program: str, workdir: Path) -> dict[str, float]:
    thread = GatewayThread(api_key=KEY, reply_speed=4.0)
    gw = thread.start()
    try:
        mic, spk_log, mic_log = workdir / "mic.raw", workdir / f"{program}.spk", workdir / f"{program}.mic"
        mic.write_bytes(mic_pcm())
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
        time.sleep(RUN_S)
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


METRICS = [("barge_in_ms", "barge-in: reply heard after `interrupted`", "ms"),
           ("capture_ms", "capture: oldest sample of a message, microphone → gateway", "ms"),
           ("playback_ms", "playback: first reply audio sent → heard", "ms"),
           ("startup_ms", "start-up: launch → first audio at the gateway", "ms"),
           ("cpu_pct", "CPU while talking (user + system / wall)", "%")]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def table(results: dict[str, list[dict[str, float]]], trials: int) -> str:
    day = datetime.date.today().isoformat()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Run {day} on {machine}, {trials} trials each; median (p95).", "",
             "| metric | tfy-live | seed sample | tfy-live / seed |", "|---|---|---|---|"]
    for key, label, unit in METRICS:
        ours = [r[key] for r in results["tfy-live"]]
        theirs = [r[key] for r in results["seed"]]
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
            for program in results:  # interleaved, so drift in the machine's load hits both alike
                results[program].append(trial(program, Path(tmp)))
                print(program, {k: round(v) for k, v in results[program][-1].items()}, file=sys.stderr)
    text = table(results, args.trials)
    print(text)
    if args.markdown:
        old = args.markdown.read_text() if args.markdown.exists() else ""
        marker = "## tfy-live and the seed sample, side by side"
        section = (f"{marker}\n\n`make bench-seed` ({Path(__file__).name}): both programs against the local gateway "
                   "with the same real-time simulated sound card (bench/fakeaudio).\n\n" + text + "\n")
        if marker in old:
            head, _, rest = old.partition(marker)
            tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
            old = head + section + tail
        else:
            old = old.rstrip("\n") + "\n\n" + section
        args.markdown.write_text(old)


if __name__ == "__main__":
    main()
