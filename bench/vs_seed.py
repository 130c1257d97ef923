"""tfy-live against the gateway's own sample (the seed), side by side, same devices, same gateway.

Both programs run as they are (the seed unmodified but for its URL and key
placeholders) against the built-in local gateway, with the real-time
simulated sound card of ``bench/fakeaudio`` (a stand-in PyAudio, first on
PYTHONPATH) and its wire probe (``sitecustomize.py``: when each frame leaves
and reaches the program's own socket).

Latency trials: the microphone says a tone, pauses, then talks over the reply
with a 0.8 s tone; the gateway answers 4x faster than real time, as Gemini
does, so most of the first reply is queued when the user barges in. Per trial:
- barge-in: model audio heard after ``interrupted`` reached the program (until
  the next reply starts) — what the user has to sit through;
- capture → wire: from when the oldest sample of a microphone frame was
  captured to the frame leaving the socket (and from its newest sample: the
  program's own delay);
- wire → speaker: the reply's first audio frame read from the socket to its
  first sample playing on the idle speaker;
- start-up: launch to the setup answer read, and to the first microphone frame sent.

CPU trials: full duplex in real time, the microphone streaming (as both
programs always do) while the model's reply streams at real time for 20 s;
user + system CPU of the process over that window, from /proc, probe off.

Ctrl-C → exit: from the signal that ends each latency trial to the process reaped.

Start-up of tfy-live alone: ``tfy-live --help`` (from src/, and from the wheel installed in a fresh
virtualenv), and ``talk --local`` to connected.

    .venv/bin/python bench/vs_seed.py [--trials 5] [--markdown BENCHMARKS.md]
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.report import let_ctrl_c_reach_children, machine, replace_section  # noqa: E402
from tfy_live.audio import CHUNK_MS  # noqa: E402
from tfy_live.localgw import EchoOptions, GatewayThread  # noqa: E402
from tfy_live.localgw.echo import audio_chunks, decode_b64  # noqa: E402

KEY = "bench-key"
RATE = 16000
FAKE = ROOT / "bench" / "fakeaudio"  # the stand-in PyAudio and the wire probe
# The gateway documentation page the product started from (shared/seed), kept here verbatim.
SEED = ROOT / "bench" / "seed" / "gateway-sample.txt"
DUPLEX_S = 20  # seconds of reply streamed in real time in a CPU trial
SEED_CHUNK_MS = 64  # the seed's microphone chunk: 1024 frames at 16 kHz
TFY_LIVE = Path(sys.executable).with_name("tfy-live")


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


def tone(seconds: float, hz: float) -> np.ndarray:
    return 8000 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)


def mic_pcm(case: Case) -> bytes:
    parts = [np.zeros(int(0.5 * RATE)), tone(case.speech_s, 300), np.zeros(int(case.pause_s * RATE)),
             tone(0.8, 500), np.zeros(3 * RATE)]
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


def environment(workdir: Path, mic: bytes, **extra: str) -> dict[str, str]:
    (workdir / "mic.raw").write_bytes(mic)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "GOOGLE_", "GEMINI_", "BENCH_"))}
    env.update(PYTHONPATH=str(FAKE), FAKEAUDIO_MIC=str(workdir / "mic.raw"), NO_PROXY="127.0.0.1,localhost",
               PYTHONWARNINGS="ignore", **extra)
    return env


OPENAI = "tfy-live --provider-kind openai"  # the same scenario over OpenAI's realtime protocol (no seed to compare)
OPENAI_CASE = "barge-in, openai kind (speech_started, truncate)"


def command(program: str, gw, workdir: Path, chunk_ms: int | None = None) -> list[str]:
    if program in ("tfy-live", OPENAI):
        # Like for like: the seed cancels no echo (and the simulated room has none); bench/aec.py measures it.
        chunk = ["--chunk-ms", str(chunk_ms)] if chunk_ms else []
        kind = ["--provider-kind", "openai"] if program == OPENAI else []
        return [sys.executable, "-m", "tfy_live", "talk", "--provider", "acct", "--aec", "off", *kind, *chunk]
    return [sys.executable, str(seed_program(gw.base_url, workdir / "seed.py"))]


def fresh(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def interrupt(child: subprocess.Popen) -> float:
    """Ctrl-C, as a user would; a program that does not stop is killed (it never should).

    Returns the milliseconds from the signal to the process's exit (reaped).
    """
    began = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    return 1000 * (time.monotonic() - began)


def trial(program: str, case: Case, workdir: Path) -> dict[str, float | list[float]]:
    options = EchoOptions(reply_speed=4.0, interrupted_turn_complete_s=case.turn_complete_s)
    thread = GatewayThread(api_key=KEY, options=options)
    gw = thread.start()
    try:
        name = program.replace(" ", "_")
        spk_log, mic_log, wire_log = (workdir / f"{name}.{kind}" for kind in ("spk", "mic", "wire"))
        fresh(spk_log, mic_log, wire_log)
        pcm = mic_pcm(case)
        env = environment(workdir, pcm, FAKEAUDIO_SPK_LOG=str(spk_log), FAKEAUDIO_MIC_LOG=str(mic_log),
                          BENCH_WIRE_LOG=str(wire_log), SSL_CERT_FILE=gw.ca_file, TFY_API_KEY=KEY,
                          TFY_BASE_URL=gw.base_url)
        errors = workdir / f"{name}.stderr"
        started = time.monotonic()
        with errors.open("wb") as stderr:
            child = subprocess.Popen(command(program, gw, workdir), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=stderr, cwd=workdir)
        # The scenario plays from when the program opens its microphone, however long its launch took
        # (a cold disk cache, a busy machine): Ctrl-C a second after the scenario's end.
        deadline = started + 30
        while not mic_log.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(len(pcm) / 2 / RATE + 1.0)
        exit_ms = interrupt(child)
        conn = gw.connections[-1] if gw.connections else None
    finally:
        thread.stop()
    try:
        return {**measure(conn, read_log(spk_log), read_log(mic_log), read_log(wire_log), started), "exit_ms": exit_ms}
    except (StopIteration, IndexError, AttributeError) as missing:
        tail = errors.read_text(errors="replace").strip().splitlines()[-3:]
        raise SystemExit(f"{program}, {case.name}: the trial lacks what it measures ({missing!r}; wire log: "
                         f"{sorted({kind for _, kind in read_log(wire_log)})}, exit code {child.returncode}); "
                         f"its stderr ends: {tail}") from None


def read_log(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def measure(conn, plays: list[list[str]], mic: list[list[str]], wire: list[list[str]],
            started: float) -> dict[str, float | list[float]]:
    speaker = [(float(start), int(frames) / 24000, int(peak)) for start, frames, peak in plays]
    arrived = [(float(t), kind) for t, kind in wire if kind != "sent-audio"]
    sent_audio = [float(t) for t, kind in wire if kind == "sent-audio"]
    audio_in = [t for t, kind in arrived if kind == "audio"]
    # The first interruption of the reply (the openai kind's speech_started also marks the user's first words).
    interrupted_at = next(t for t, kind in arrived if kind == "interrupted" and t > audio_in[0])
    next_reply = next((t for t in audio_in if t > interrupted_at), float("inf"))
    heard_after = sum(max(0.0, min(start + length, next_reply) - max(start, interrupted_at))
                      for start, length, peak in speaker if peak > 500)
    # The reply opens with the echo's pre-roll (quiet), so the first write after it arrived, loud or not.
    first_sound = next(start for start, _, _ in speaker if start >= audio_in[0])
    # The k-th microphone frame to leave the socket is the k-th the gateway read (one TCP stream).
    opened = float(mic[0][0])
    oldest, newest, offset = [], [], 0
    frames = [len(pcm) // 2 for message in conn.received
              for pcm in audio_chunks(message.get("realtimeInput", message.get("realtime_input", {})) or {})]
    if conn.kind == "openai":  # 24 kHz frames of 16 kHz capture: counted at the capture's rate
        frames = [round(len(decode_b64(m["audio"])) // 2 * RATE / 24000) for m in conn.received
                  if m.get("type") == "input_audio_buffer.append"]
    for left, n in zip(sent_audio, frames):
        oldest.append(1000 * (left - (opened + offset / RATE)))
        newest.append(1000 * (left - (opened + (offset + n) / RATE)))
        offset += n
    return {"barge_in_ms": 1000 * heard_after, "capture_ms": oldest, "processing_ms": newest,
            "playback_ms": 1000 * (first_sound - audio_in[0]),
            "connected_ms": 1000 * (next(t for t, kind in arrived if kind == "setup") - started),
            "first_frame_ms": 1000 * (sent_audio[0] - started)}


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, every thread of the process


def duplex_trial(program: str, workdir: Path, chunk_ms: int | None = None) -> dict[str, float]:
    """CPU while the microphone streams and the model's reply streams in real time, probe off."""
    thread = GatewayThread(api_key=KEY, options=EchoOptions(reply_speed=1.0))
    gw = thread.start()
    try:
        pcm = np.concatenate([np.zeros(RATE // 2), tone(DUPLEX_S, 300), np.zeros((DUPLEX_S + 10) * RATE)])
        env = environment(workdir, pcm.astype("<i2").tobytes(), SSL_CERT_FILE=gw.ca_file, TFY_API_KEY=KEY,
                          TFY_BASE_URL=gw.base_url)
        child = subprocess.Popen(command(program, gw, workdir, chunk_ms), env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
        try:
            deadline = time.monotonic() + 2 * DUPLEX_S
            while not (gw.connections and any("modelTurn" in m.get("serverContent", {})
                                              or m.get("type") == "response.output_audio.delta"
                                              for m in list(gw.connections[-1].sent))):
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError(f"{program}: no reply in the CPU trial")
                time.sleep(0.02)
            time.sleep(1.0)  # the reply is flowing both ways
            ticks, began = cpu_ticks(child.pid), time.monotonic()
            time.sleep(DUPLEX_S - 3.0)
            ticks, wall = cpu_ticks(child.pid) - ticks, time.monotonic() - began
        finally:
            interrupt(child)
    finally:
        thread.stop()
    key = "cpu_pct" if chunk_ms is None else "cpu_seed_chunk_pct"
    return {key: 100 * ticks / os.sysconf("SC_CLK_TCK") / wall}


def help_ms(program: Path = TFY_LIVE) -> float:
    began = time.perf_counter()
    subprocess.run([str(program), "--help"], stdout=subprocess.DEVNULL, check=True,
                   env={k: v for k, v in os.environ.items() if not k.startswith("BENCH_")})
    return 1000 * (time.perf_counter() - began)


def installed_copy(workdir: Path) -> Path:
    """``tfy-live`` as a pip user has it: the wheel built from src/ and installed (no editable finder) into a
    fresh virtualenv, which borrows this one's dependencies through a .pth line. Returns its console script."""
    import shutil
    import site

    source, dist, venv = workdir / "wheel-src", workdir / "dist", workdir / "installed"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist.mkdir(exist_ok=True)
    built = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
                            "print(build_meta.build_wheel(sys.argv[1]))", str(dist)],
                           cwd=source, check=True, capture_output=True, text=True).stdout.split()[-1]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip compiles the installed modules to bytecode, as any install does.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(dist / built)], check=True)
    packages = next(venv.glob("lib/python*/site-packages"))
    (packages / "borrowed-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin" / "tfy-live"


def local_connected_ms(workdir: Path) -> float:
    """``tfy-live talk --local``: launch to the built-in gateway's setup answer read by the client."""
    wire = workdir / "local.wire"
    fresh(wire)
    env = environment(workdir, bytes(RATE * 2), BENCH_WIRE_LOG=str(wire))
    started = time.monotonic()
    child = subprocess.Popen([str(TFY_LIVE), "talk", "--local", "--aec", "off"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    time.sleep(3.0)
    interrupt(child)
    return 1000 * (next(float(t) for t, kind in read_log(wire) if kind == "setup") - started)


@dataclass(frozen=True)
class Row:
    label: str
    unit: str
    pick: Callable[[dict], float | list[float] | None]
    target: str = ""
    met: Callable[[float, float, float | None], bool] | None = None  # (median, p95, seed median) -> met?
    seed_pick: Callable[[dict], float | list[float] | None] | None = None  # the seed's figure, if not ``pick``


def like_the_seed(pick: Callable[[dict], float | list[float] | None]) -> Callable[[dict], float | list[float] | None]:
    """A pooled row's figure from the trials the seed also ran: the openai kind's loads another SDK and speaks
    another protocol, so pooling it would set tfy-live's median against a seed that never ran that case."""
    return lambda r: None if r.get("case") == OPENAI_CASE else pick(r)


def openai_only(pick: Callable[[dict], float | list[float] | None]) -> Callable[[dict], float | list[float] | None]:
    return lambda r: pick(r) if r.get("case") == OPENAI_CASE else None


ROWS = [
    *(Row(case.name, "ms", lambda r, c=case: r.get("barge_in_ms") if r.get("case") == c.name else None,
          "≤ 60 ms", lambda m, p, s: p <= 60) for case in CASES[:2]),
    Row(CASES[2].name, "ms", lambda r: r.get("barge_in_ms") if r.get("case") == CASES[2].name else None),
    Row(f"{OPENAI_CASE}: as the first case, over the realtime protocol", "ms",
        lambda r: r.get("barge_in_ms") if r.get("case") == OPENAI_CASE else None, "≤ 60 ms", lambda m, p, s: p <= 60),
    Row("capture → wire: oldest sample of a frame captured → frame leaves the socket", "ms",
        like_the_seed(lambda r: r.get("capture_ms")), "p95 ≤ 25 ms", lambda m, p, s: p <= 25),
    Row("… from its newest sample (the program's own delay)", "ms", like_the_seed(lambda r: r.get("processing_ms"))),
    Row("wire → speaker: reply's first audio read from the socket → first sample plays", "ms",
        like_the_seed(lambda r: r.get("playback_ms")), "p95 ≤ 5 ms", lambda m, p, s: p <= 5),
    Row("CPU, full duplex in real time (user + system, % of one core)", "%", lambda r: r.get("cpu_pct"),
        "≤ 3 %, ≤ seed", lambda m, p, s: m <= 3 and s is not None and m <= s),
    Row(f"… tfy-live sending the seed's {SEED_CHUNK_MS} ms chunks (`--chunk-ms {SEED_CHUNK_MS}`): like for like",
        "%", lambda r: r.get("cpu_seed_chunk_pct"), seed_pick=lambda r: r.get("cpu_pct")),
    Row("start-up: launch → connected (setup answer read)", "ms", like_the_seed(lambda r: r.get("connected_ms")),
        "≤ seed", lambda m, p, s: s is not None and m <= s),
    Row("… the openai kind (the openai SDK, the realtime protocol)", "ms", openai_only(lambda r: r.get("connected_ms"))),
    Row("start-up: launch → first microphone frame sent", "ms", like_the_seed(lambda r: r.get("first_frame_ms"))),
    Row("Ctrl-C → process exit (reaped), at the end of each latency trial", "ms",
        like_the_seed(lambda r: r.get("exit_ms")), "p95 ≤ 200 ms", lambda m, p, s: p <= 200),
    Row("`tfy-live --help`, editable install (src/ compiled)", "ms", lambda r: r.get("help_ms")),
    Row("`tfy-live --help`, installed from the wheel", "ms", lambda r: r.get("installed_help_ms"), "≤ 200 ms",
        lambda m, p, s: m <= 200),
    Row("`tfy-live talk --local` → connected", "ms", lambda r: r.get("local_connected_ms")),
]


def values(results: list[dict], pick: Callable) -> list[float]:
    out: list[float] = []
    for result in results:
        value = pick(result)
        if isinstance(value, list):
            out += value
        elif value is not None:
            out.append(value)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def number(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def table(results: dict[str, list[dict]], trials: int, cpu_trials: int) -> str:
    day = datetime.date.today().isoformat()
    lines = [f"Run {day} on {machine()}: {trials} latency trials of each barge-in case and {cpu_trials} CPU trials "
             "for each program, interleaved; median (p95) over every trial (capture: over every frame). The "
             "latency rows other than barge-in pool the three cases.", "",
             "| metric | tfy-live | seed sample | tfy-live / seed | target |", "|---|---|---|---|---|"]
    for row in ROWS:
        ours, theirs = values(results["tfy-live"], row.pick), values(results["seed"], row.seed_pick or row.pick)
        if not ours:
            continue  # not measured in this run (e.g. --trials 0)
        mo = statistics.median(ours)
        ms = statistics.median(theirs) if theirs else None
        seed = f"{number(ms)} {row.unit} ({number(p95(theirs))})" if ms is not None else "—"
        ratio = f"{mo / ms:.2f}" if ms else "—"
        target = ""
        if row.met is not None:
            target = f"{row.target}: {'met' if row.met(mo, p95(ours), ms) else '**missed**'}"
        lines.append(f"| {row.label} | {number(mo)} {row.unit} ({number(p95(ours))}) | {seed} | {ratio} | {target} |")
    if note := per_frame(results):
        lines += ["", note]
    return "\n".join(lines)


def per_frame(results: dict[str, list[dict]]) -> str:
    """What one microphone frame costs tfy-live, from its CPU at two chunk lengths."""
    figures = [values(results["tfy-live"], lambda r: r.get("cpu_pct")),
               values(results["tfy-live"], lambda r: r.get("cpu_seed_chunk_pct")),
               values(results["seed"], lambda r: r.get("cpu_pct"))]
    if not all(figures):
        return ""  # no CPU trials in this run (--cpu-trials 0)
    at_20, at_seed, seed = (statistics.median(f) for f in figures)
    frames, seed_frames = 1000 / CHUNK_MS, 1000 / SEED_CHUNK_MS
    per_frame_us = (at_20 - at_seed) / 100 / (frames - seed_frames) * 1e6
    # The machine's load drifts within a run: a tfy-live trial against the seed's right after it cancels
    # most of the drift, where the two medians above may come from different moments.
    pairs = [ours / theirs for ours, theirs in zip(figures[0], figures[2])]
    return (f"CPU trial by trial, tfy-live / the seed run right after it: {', '.join(f'{r:.2f}' for r in pairs)} "
            f"(median {statistics.median(pairs):.2f}). CPU follows the number of microphone frames sent: "
            f"{frames:.0f} a second with tfy-live's {CHUNK_MS} ms chunks, {seed_frames:.1f} with the seed's "
            f"{SEED_CHUNK_MS} ms. From tfy-live's two CPU rows, each frame costs {per_frame_us:.0f} µs of CPU here "
            f"(reading it, waking the loop, framing, TLS, the socket). With the seed's chunk length tfy-live uses "
            f"{at_seed / seed:.2f}× the seed's CPU; at {CHUNK_MS} ms, which the capture target needs (a frame's "
            f"oldest sample waits a whole chunk), {at_20 / seed:.2f}×.")


SECTION = """## tfy-live and the seed sample, side by side

`make bench-seed` ({script}): tfy-live and the gateway documentation's sample (bench/seed, unmodified but for its URL and key), one after the other in each trial, against the local gateway (its echo model).

The simulated sound card (bench/fakeaudio/pyaudio.py, first on PYTHONPATH for both programs) behaves like PortAudio's blocking streams in real time: a microphone read returns when its frames would have been captured (the scenario's audio, then silence); a speaker write blocks while more than 40 ms is queued, as a device buffer does, and logs when each write starts to play on CLOCK_MONOTONIC, which every process shares. The wire probe (bench/fakeaudio/sitecustomize.py) stamps, inside each program, when each frame leaves its socket and when each frame is read from it; it is off in the CPU trials.

Latency trials: the user speaks, pauses, and talks over the reply, which the gateway sends at 4x real time. CPU trials: 20 s of full duplex, the microphone streaming while the reply streams in real time. tfy-live's modules are compiled to bytecode first, as `pip install` does (these machines set PYTHONDONTWRITEBYTECODE, so an editable install would compile them again at every launch); the seed is one script, compiled at every launch as it would be anywhere.

{table}
"""


def compile_sources() -> None:
    """Bytecode for tfy-live's own modules, as ``pip install`` writes it.

    tfy-live runs here from an editable install of src/, where Python compiles each module on first
    import and caches it, unless PYTHONDONTWRITEBYTECODE is set (as on these machines); then every
    launch compiles them all again (about 100 ms), which no installed copy does.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="latency trials of each case, for each program")
    parser.add_argument("--cpu-trials", type=int, default=3, help="CPU trials for each program")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--no-openai", dest="openai", action="store_false",
                        help="skip the openai kind's barge-in row (it needs the 'openai' extra)")
    args = parser.parse_args()
    let_ctrl_c_reach_children()
    results: dict[str, list[dict]] = {"tfy-live": [], "seed": []}
    compile_sources()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for i in range(max(args.trials, args.cpu_trials)):
            both = tuple(results)
            runs = [(case.name, lambda p, c=case: trial(p, c, workdir), both) for case in CASES] if i < args.trials else []
            if i < args.trials and args.openai:
                runs.append((OPENAI_CASE, lambda p: trial(OPENAI, CASES[0], workdir), ("tfy-live",)))
            if i < args.cpu_trials:
                runs.append(("cpu", lambda p: duplex_trial(p, workdir), both))
                runs.append(("cpu, the seed's chunk length", lambda p: duplex_trial(p, workdir, SEED_CHUNK_MS),
                             ("tfy-live",)))  # the seed has no chunk option: its own figure is the "cpu" run's
            for name, run, programs in runs:
                for program in programs:  # interleaved, so drift in the machine's load hits both alike
                    result = {**run(program), "case": name}
                    results[program].append(result)
                    print(program, name, {k: round(statistics.median(v) if isinstance(v, list) else v, 1)
                                          for k, v in result.items() if k != "case"}, file=sys.stderr)
        installed = installed_copy(workdir)
        for _ in range(args.trials):
            results["tfy-live"].append({"help_ms": help_ms(), "installed_help_ms": help_ms(installed),
                                        "local_connected_ms": local_connected_ms(workdir)})
    text = table(results, args.trials, args.cpu_trials)
    print(text)
    if args.markdown:
        replace_section(args.markdown, SECTION.format(script=Path(__file__).name, table=text))


if __name__ == "__main__":
    main()
