"""Echo cancellation through the product: ``tfy-live talk --aec on`` on a simulated sound card with a room.

    .venv/bin/python bench/aec_product.py [--loud-replies 40] [--markdown BENCHMARKS.md]

The simulated sound card (bench/fakeaudio) plays what tfy-live writes on its own
clock, silence included when nothing is written, and its microphone hears that
through a room: delayed 40–250 ms, through a decaying room response 30–100 ms
long, at a level (the echo's loudest 100 ms at -10 or -30 dBFS). The local
gateway's model (``ReplyModel`` below) answers each question with 8 s of
espeak-ng speech and never sends ``interrupted``; its voice detection (60 ms
above -45 dBFS) still notes when it would have interrupted, which during a
reply with nobody talking is the model's echo leaking through. The microphone
also dumps the echo and the user's voice apart (``FAKEAUDIO_MIC_DUMP``), so
ERLE is the echo that went in over what reached the gateway, exactly, over the
whole reply, its first second included.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.noise import background  # noqa: E402
from bench.report import let_ctrl_c_reach_children, machine, replace_section  # noqa: E402
from tests.speech import USER_SAYS, room, s16, speech  # noqa: E402
from tfy_live.localgw import EchoModel, EchoOptions, GatewayThread  # noqa: E402
from tfy_live.localgw.echo import _Reply  # noqa: E402

KEY = "bench-key"
FAKE = ROOT / "bench" / "fakeaudio"
RATE = 16_000
MODEL_TEXT = ("Paris is the capital of France. It is famous for its museums, its food, and the river that "
              "runs through it, and many visit.")
QUESTION = "What is the capital of France, and why is it famous?"
DELAYS = (40, 100, 170, 250)  # ms, speaker to microphone (the sound card's latency and the air)
ROOMS = (30, 60, 100)  # ms of reflections
SRC = ROOT / "src"  # the tfy-live that is run: --src names another checkout's, for a before and after
REPLY_GAP_S = 13.0  # from one question's start to the next: the question, the reply (8 s) and a margin


# -- the gateway's model ---------------------------------------------------------------

class _StallingReply(_Reply):
    """A reply sent 4x faster than real time, but for a stall: after ``at_s`` of audio nothing comes for
    ``for_s`` beyond the time that audio takes to play, so the speaker runs dry (a network hiccup)."""

    def __init__(self, *args: Any, stall: tuple[float, float] | None) -> None:
        super().__init__(*args)
        self.stall = stall

    def _held(self, now: float) -> int | None:
        if self.stall is None:
            return None
        at_s, for_s = self.stall
        return int(at_s * 24000) * 2 if now < self.start + at_s + for_s else None

    def due_bytes(self, now: float) -> int:
        due = super().due_bytes(now)
        held = self._held(now)
        return due if held is None else min(due, held)

    def next_send(self) -> float | None:
        at = super().next_send()
        if at is not None and self.stall is not None and self.sent >= int(self.stall[0] * 24000) * 2:
            at = max(at, self.start + self.stall[0] + self.stall[1])
        return at


class ReplyModel(EchoModel):
    """Answers every question asked while it is quiet with ``reply`` (24 kHz), and never interrupts itself.

    ``would_interrupt`` keeps the times its voice detection heard speech during a reply: a real model
    would have stopped there.
    """

    def __init__(self, *args: Any, reply: bytes, stall: tuple[float, float] | None, log: list["ReplyModel"],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reply = reply
        self.stall = stall
        self.would_interrupt: list[float] = []
        self.reply_starts: list[float] = []
        self._during_reply = False
        log.append(self)

    def _interrupt(self, now: float) -> list[dict[str, Any]]:
        reply = self._reply
        self._during_reply = reply is not None and (reply.playing(now) or not reply.done)
        if self._during_reply:
            self.would_interrupt.append(now)
        return []

    def _speech_ended(self, now: float) -> list[dict[str, Any]]:
        if not self._speaking:
            return []
        self._speaking = False
        self._utterance = bytearray()
        self._quiet = 0
        if self._during_reply:
            return []  # talk over a reply: noted, no new reply
        self.reply_starts.append(now)
        self._reply = _StallingReply(self.reply, "A reply.", now, self.options, stall=self.stall)
        return [{"serverContent": {"outputTranscription": {"text": "A reply."}}}]


# -- signals ----------------------------------------------------------------------------

def level_100ms(x: np.ndarray) -> float:
    """The loudest 100 ms of ``x`` (s16 units), dBFS: the level a meter shows."""
    n = len(x) // 1600 * 1600
    frames = x[:n].astype(np.float64).reshape(-1, 1600)
    return float(10 * np.log10((frames ** 2).mean(1).max() / 32768 ** 2 + 1e-20))


@functools.lru_cache(maxsize=None)
def voices() -> dict[str, np.ndarray]:
    reply24 = speech(MODEL_TEXT, 24000)
    return {"reply24": reply24, "reply16": speech(MODEL_TEXT, 16000),
            "question": speech(QUESTION, 16000) * 0.5,
            "user": speech(USER_SAYS, 16000, voice="en-gb", pitch=70)}


def room_gain(delay_ms: int, room_ms: int, echo_dbfs: float) -> float:
    """The fake room's gain that puts the reply's echo at ``echo_dbfs`` (its loudest 100 ms)."""
    wet = np.convolve(voices()["reply16"], room(room_ms, RATE, 7)) * 32768  # the fake room's own seed
    return float(10 ** ((echo_dbfs - level_100ms(wet)) / 20))


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * 10 ** ((dbfs - level_100ms(x * 32768)) / 20)


# -- one run of tfy-live -----------------------------------------------------------------

@dataclass
class Scenario:
    delay_ms: int
    room_ms: int
    echo_dbfs: float
    replies: int = 1
    stall: tuple[float, float] | None = None  # (after s of reply, for s)
    user_dbfs: float | None = None  # double talk: the user talks over the first reply at this level
    user_after_s: float = 2.0
    aec: str = "on"
    noise: str | None = None  # bench/noise.py's kind (pink, brown, typing, cough) at the microphone throughout
    noise_dbfs: float = -40.0
    seed: int = 0

    @property
    def label(self) -> str:
        return f"{self.delay_ms} ms, {self.room_ms} ms room, {self.echo_dbfs:.0f} dBFS"

    @property
    def gateway_vad_dbfs(self) -> float:
        """The local gateway's voice bar: 10 dB over a stationary noise (a real server's VAD is not a level
        meter: it does not take a fan for the user), else the default."""
        return max(-45.0, self.noise_dbfs + 10) if self.noise in ("pink", "brown") else -45.0


@dataclass
class Run:
    scenario: Scenario
    echo: np.ndarray  # what the microphone heard of the speaker
    near: np.ndarray  # what it heard of the user
    sent: np.ndarray  # what reached the gateway, aligned with the two above
    writes: list[tuple[float, int, int]]  # the speaker's writes: start (monotonic), frames, peak
    events: dict[str, float]
    notices: list[str]
    would_interrupt: list[float]
    mic_opened: float
    cpu_s: float
    sent_offset: int
    user: np.ndarray  # what the microphone heard of the user's barge-in alone (no question, no noise)


def run(sc: Scenario, workdir: Path) -> Run:
    v = voices()
    question = at_level(v["question"], -20)
    mic = np.zeros(int((0.5 + REPLY_GAP_S * sc.replies) * RATE), np.float32)
    for k in range(sc.replies):
        at = int((0.5 + k * REPLY_GAP_S) * RATE)
        mic[at:at + len(question)] += question
    if sc.noise:
        # the cough (or knock) 3 s into the first reply: the question (0.5 s), its end (0.5 s), the reply's start
        mic += background(sc.noise, len(mic) / RATE, sc.noise_dbfs, sc.seed, burst_at_s=5.0)[: len(mic)]
    for name in ("mic.raw", "over.raw", "spk.log", "events.log", "mic.log", "dump.echo", "dump.near", "out.txt"):
        (workdir / name).unlink(missing_ok=True)
    (workdir / "mic.raw").write_bytes(s16(mic))
    heard = np.frombuffer(s16(mic), "<i2").astype(np.float32)
    models: list[ReplyModel] = []
    factory = functools.partial(ReplyModel, reply=s16(v["reply24"]), stall=sc.stall, log=models)
    thread = GatewayThread(api_key=KEY, options=EchoOptions(reply_speed=4.0, threshold_dbfs=sc.gateway_vad_dbfs),
                           model=factory)
    gw = thread.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "GOOGLE_", "GEMINI_", "BENCH_", "FAKEAUDIO_"))}
    env.update(PYTHONPATH=f"{FAKE}{os.pathsep}{SRC}", FAKEAUDIO_MIC=str(workdir / "mic.raw"),
               FAKEAUDIO_ROOM=f"{sc.delay_ms},{sc.room_ms},{room_gain(sc.delay_ms, sc.room_ms, sc.echo_dbfs)}",
               FAKEAUDIO_EVENTS=str(workdir / "events.log"), FAKEAUDIO_SPK_LOG=str(workdir / "spk.log"),
               FAKEAUDIO_MIC_LOG=str(workdir / "mic.log"), FAKEAUDIO_MIC_DUMP=str(workdir / "dump"),
               SSL_CERT_FILE=str(gw.ca_file), TFY_API_KEY=KEY, TFY_BASE_URL=gw.base_url,
               NO_PROXY="127.0.0.1,localhost", PYTHONWARNINGS="ignore")
    if sc.user_dbfs is not None:
        (workdir / "over.raw").write_bytes(s16(at_level(v["user"], sc.user_dbfs)))
        env["FAKEAUDIO_BARGE_IN"] = f"{workdir / 'over.raw'},{sc.user_after_s}"
    try:
        with open(workdir / "out.txt", "w") as out:
            child = subprocess.Popen([sys.executable, "-m", "tfy_live", "talk", "--provider", "acct", "--aec", sc.aec],
                                     env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
            time.sleep(3.0 + len(mic) / RATE)  # the program starts (1-2 s), then the whole microphone file
            child.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    child.returncode = status
                    break
                if time.monotonic() > deadline:
                    child.kill()
                    _, _, usage = os.wait4(child.pid, 0)
                    break
                time.sleep(0.05)
    finally:
        thread.stop()
    echo = np.fromfile(workdir / "dump.echo", "<f4")
    near = np.fromfile(workdir / "dump.near", "<f4")
    user = near.copy()
    user[: len(heard)] -= heard[: len(user)]
    raw_sent = np.frombuffer(bytes(gw.connections[-1].audio_in), "<i2").astype(np.float32)
    offset = align(raw_sent, near)
    sent = np.zeros(len(echo), np.float32)
    part = raw_sent[max(0, -offset):][: len(echo) - max(0, offset)]
    sent[max(0, offset):max(0, offset) + len(part)] = part
    writes = [(float(t), int(n), int(p)) for t, n, p in read_lines(workdir / "spk.log")]
    events = {kind: float(t) for t, kind in read_lines(workdir / "events.log")}
    opened = float(read_lines(workdir / "mic.log")[0][0])
    notices = [line for line in (workdir / "out.txt").read_text().splitlines() if "local barge-in;" in line]
    would = [t for m in models for t in m.would_interrupt]
    return Run(sc, echo, near, sent, writes, events, notices, would, opened, usage.ru_utime + usage.ru_stime, offset,
               user)


def read_lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def align(sent: np.ndarray, near: np.ndarray) -> int:
    """Where sample 0 of what was sent sits in the microphone's stream (the first question, by cross-correlation)."""
    a, b = sent[: 8 * RATE].astype(np.float64), near[: 8 * RATE].astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lag = int(np.argmax(corr))
    return lag if lag < n // 2 else lag - n


# -- measures -----------------------------------------------------------------------------

def energy(x: np.ndarray) -> float:
    return float(np.sum(x.astype(np.float64) ** 2))


def db(ratio: float) -> float:
    return 10 * math.log10(ratio) if ratio > 0 else math.inf


def reply_spans(echo: np.ndarray, gap_s: float = 1.0) -> list[tuple[int, int]]:
    """Each reply as the microphone heard it: from its echo's first 10 ms above -70 dBFS to its last."""
    n = len(echo) // 160
    frames = echo[: n * 160].astype(np.float64).reshape(n, 160)
    loud = np.flatnonzero(10 * np.log10((frames ** 2).mean(1) / 32768 ** 2 + 1e-20) > -70)
    spans: list[tuple[int, int]] = []
    for i in loud:
        if spans and i - spans[-1][1] <= gap_s * 100:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return [(a * 160, b * 160) for a, b in spans if b - a > 100]  # a reply, not a stray click


def erle(r: Run, span: tuple[int, int]) -> float:
    a, b = span
    return db(energy(r.echo[a:b]) / max(energy(r.sent[a:b]), 1e-3))


def erle_seconds(r: Run, span: tuple[int, int]) -> list[float]:
    """ERLE in each second of the reply in which the model is heard (echo within 15 dB of the reply's mean)."""
    a, b = span
    mean = energy(r.echo[a:b]) / (b - a)
    out = []
    for s in range(a, b - RATE // 2, RATE):
        e = energy(r.echo[s:s + RATE])
        if e / RATE > mean / 30:
            out.append(db(e / max(energy(r.sent[s:s + RATE]), 1e-3)))
    return out


def leak_peak(r: Run, span: tuple[int, int]) -> float:
    """The loudest 20 ms of what reached the gateway during the reply, dBFS."""
    a, b = span
    x = r.sent[a:b][: (b - a) // 320 * 320].astype(np.float64).reshape(-1, 320)
    return float(10 * np.log10((x ** 2).mean(1).max() / 32768 ** 2 + 1e-20))


def user_onset(r: Run) -> float | None:
    """When the user began talking over the reply (monotonic): the first 10 ms of their voice above -40 dBFS."""
    if "barge-in" not in r.events:
        return None
    n = len(r.user) // 160
    frames = r.user[: n * 160].astype(np.float64).reshape(n, 160)
    lv = 10 * np.log10((frames ** 2).mean(1) / 32768 ** 2 + 1e-20)
    start = int((r.events["barge-in"] - r.mic_opened) * 100) - 5
    hits = np.flatnonzero(lv[max(0, start):] > -40)
    return r.mic_opened + (max(0, start) + int(hits[0])) / 100 if len(hits) else None


def stop_latency(r: Run, onset: float) -> float:
    """From the user's onset to the end of the model's audio that went on playing without a break."""
    end = onset
    for start, frames, _ in sorted(r.writes):
        if start + frames / 24000 <= onset:
            continue
        if start > end + 0.03:  # playback stopped before this write
            break
        end = max(end, start + frames / 24000)
    return end - onset


def user_kept(r: Run) -> float:
    """The user's voice at the gateway against what the microphone heard but the echo (their voice, and the
    background if any), over their speech, dB."""
    onset = user_onset(r)
    assert onset is not None
    a = int((onset - r.mic_opened) * RATE)
    loud = np.flatnonzero(np.abs(r.user[a:]) > 30)
    b = a + int(loud[-1]) + 1
    return db(energy(r.sent[a:b]) / energy(r.near[a:b]))


def user_start_kept(r: Run, seconds: float = 0.3) -> float:
    """As ``user_kept`` over the first ``seconds`` of the user's speech: whether its start was held down."""
    onset = user_onset(r)
    assert onset is not None
    a = int((onset - r.mic_opened) * RATE)
    b = a + int(seconds * RATE)
    return db(energy(r.sent[a:b]) / energy(r.near[a:b]))


def underrun_gaps(r: Run) -> list[float]:
    """Gaps in the speaker's playback during replies (s): where it ran dry."""
    gaps, end = [], None
    for start, frames, _ in sorted(r.writes):
        if end is not None and 0.05 < start - end < 1.0:
            gaps.append(start - end)
        end = start + frames / 24000 if end is None else max(end, start + frames / 24000)
    return gaps


@dataclass
class ReplyResult:
    label: str
    first: bool
    erle: float
    worst_second: float
    leak_dbfs: float
    false_barge_ins: int
    would_interrupt: int
    seconds: list[float] = field(default_factory=list)


def reply_results(r: Run) -> list[ReplyResult]:
    spans = reply_spans(r.echo)
    out = []
    for k, span in enumerate(spans):
        t0, t1 = r.mic_opened + span[0] / RATE, r.mic_opened + span[1] / RATE
        seconds = erle_seconds(r, span)
        out.append(ReplyResult(r.scenario.label, k == 0, erle(r, span), min(seconds, default=math.nan),
                               leak_peak(r, span), 0, int(sum(t0 <= t <= t1 + 0.5 for t in r.would_interrupt)), seconds))
    # a local barge-in with nobody talking: its notice names no time, so it is put on the run's first reply
    if out:
        out[0].false_barge_ins = len(r.notices)
    return out


def scenarios(count: int, echo_dbfs: float, replies: int = 2) -> list[Scenario]:
    combos = [(d, rm) for d in DELAYS for rm in ROOMS]
    runs = math.ceil(count / replies)
    return [Scenario(*combos[(k * 5) % len(combos)], echo_dbfs, replies=replies) for k in range(runs)]


# -- tables -------------------------------------------------------------------------------

def fmt(xs: list[float], unit: str = "dB") -> str:
    return f"{min(xs):.1f}–{max(xs):.1f} {unit} (median {statistics.median(xs):.1f})" if xs else "—"


def erle_table(results: dict[float, list[ReplyResult]]) -> list[str]:
    rows = []
    for level, rs in results.items():
        firsts = [x for x in rs if x.first]
        rows.append(f"| {level:.0f} dBFS | {len(rs)} ({len(firsts)} first of a session) | {fmt([x.erle for x in rs])} | "
                    f"{fmt([x.erle for x in firsts])} | {fmt([x.worst_second for x in rs])} | "
                    f"{max(x.leak_dbfs for x in rs):.0f} dBFS | {sum(x.false_barge_ins for x in rs)} | "
                    f"{sum(x.would_interrupt for x in rs)} |")
    return rows


def main() -> None:  # noqa: C901 - one table after another
    global SRC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loud-replies", type=int, default=40)
    parser.add_argument("--quiet-replies", type=int, default=8)
    parser.add_argument("--underruns", type=int, default=4)
    parser.add_argument("--double-talk", type=int, default=4, help="trials per echo-to-user level")
    parser.add_argument("--cpu-trials", type=int, default=2)
    parser.add_argument("--only", choices=("erle", "underrun", "double", "cpu", "noise"), action="append")
    parser.add_argument("--noise", action="append", metavar="KIND:DBFS",
                        help="with --only noise: a background (pink, brown, typing, cough) and its level; "
                             "default: each of " + " ".join(NOISES))
    parser.add_argument("--noise-runs", type=int, default=1, help="sessions of two replies per noise and echo level")
    parser.add_argument("--src", type=Path, default=SRC, help="the src folder of the tfy-live to run")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    let_ctrl_c_reach_children()
    SRC = args.src.resolve()
    parts = set(args.only or ("erle", "underrun", "double", "cpu"))
    load = os.getloadavg()[0]
    if "noise" in parts:
        parts.discard("noise")
        noise_section = noise_part(args.noise or list(NOISES), args.noise_runs, load)
        print(noise_section)
        if args.markdown:
            replace_section(args.markdown, noise_section)
        if not parts:
            return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        erle_rows, under_rows, double_rows, cpu_line = [], [], [], ""
        if "erle" in parts:
            results: dict[float, list[ReplyResult]] = {}
            for level, count in ((-10.0, args.loud_replies), (-30.0, args.quiet_replies)):
                results[level] = []
                for sc in scenarios(count, level):
                    rs = reply_results(run(sc, work))
                    results[level] += rs
                    print(sc.label, [(f"{x.erle:.1f}", f"{x.worst_second:.1f}", f"{x.leak_dbfs:.0f}",
                                      x.false_barge_ins, x.would_interrupt) for x in rs], file=sys.stderr)
            erle_rows = erle_table(results)
        if "underrun" in parts:
            for k in range(args.underruns):
                d, rm = [(250, 100), (40, 30), (170, 60), (100, 100)][k % 4]
                level = (-10.0, -30.0)[k % 2]
                r = run(Scenario(d, rm, level, stall=(3.0, 0.35)), work)
                rs = reply_results(r)
                gaps = underrun_gaps(r)
                x = rs[0]
                print(r.scenario.label, f"{x.erle:.1f}", [f"{s:.0f}" for s in x.seconds], gaps, x.false_barge_ins,
                      x.would_interrupt, file=sys.stderr)
                after = x.seconds[3:]  # the stall begins 3 s in
                under_rows.append(f"| {r.scenario.label} | {', '.join(f'{g * 1000:.0f}' for g in gaps)} ms | "
                                  f"{x.erle:.1f} dB | {' '.join(f'{s:.0f}' for s in x.seconds)} | "
                                  f"{min(after, default=math.nan):.1f} dB | {x.false_barge_ins} | {x.would_interrupt} |")
        if "double" in parts:
            for name, echo_db, user_db in (("echo 10 dB louder than the user", -10.0, -20.0),
                                           ("echo as loud as the user", -20.0, -20.0),
                                           ("echo 10 dB quieter", -30.0, -20.0)):
                stops, kept, early, leaks = [], [], 0, 0
                for k in range(args.double_talk):
                    d, rm = [(170, 60), (40, 30), (250, 100), (100, 60)][k % 4]
                    r = run(Scenario(d, rm, echo_db, user_dbfs=user_db, user_after_s=(1.0, 2.0, 3.0, 1.5)[k % 4]), work)
                    onset = user_onset(r)
                    if onset is None:
                        print("no barge-in", r.scenario.label, file=sys.stderr)
                        continue
                    stops.append(1000 * stop_latency(r, onset))
                    kept.append(user_kept(r))
                    early += sum(1 for line in r.notices) - (1 if r.notices else 0)
                    leaks += sum(t < onset for t in r.would_interrupt)
                    print(name, r.scenario.label, f"stop {stops[-1]:.0f} ms kept {kept[-1]:+.1f} dB",
                          len(r.notices), file=sys.stderr)
                double_rows.append(f"| {name} | {len(stops)} | {statistics.median(stops):.0f} ms (max {max(stops):.0f}) | "
                                   f"{min(kept):+.1f} to {max(kept):+.1f} dB | {leaks} |")
        if "cpu" in parts:
            cpu: dict[str, list[float]] = {"on": [], "off": []}
            for _ in range(args.cpu_trials):
                for aec in ("off", "on"):
                    r = run(Scenario(150, 60, -20.0, aec=aec), work)
                    cpu[aec].append(r.cpu_s)
            on, off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
            cpu_line = (f"CPU of the tfy-live process over a session with one reply (about 14 s): {off:.2f} s with "
                        f"`--aec off`, {on:.2f} s with `--aec on`: {on / off:.2f}x.")
            print(cpu_line, file=sys.stderr)
    section = SECTION.format(day=datetime.date.today().isoformat(), machine=machine(), load=f"{load:.1f}",
                             doc=" ".join(__doc__.split("\n\n")[2].split()),
                             erle="\n".join(erle_rows), under="\n".join(under_rows), double="\n".join(double_rows),
                             cpu=cpu_line)
    print(section)
    if args.markdown:
        replace_section(args.markdown, section)


NOISES = ("pink:-50", "pink:-40", "pink:-35", "brown:-40", "brown:-35", "typing:-20", "cough:-20")


def noise_part(specs: list[str], runs: int, load: float) -> str:
    """Per background: sessions of two replies at loud and quiet echo with nobody talking, and the user
    talking over a reply as loud as its echo."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for spec in specs:
            kind, _, level = spec.partition(":")
            dbfs = float(level or -40)
            replies: dict[float, list[ReplyResult]] = {-10.0: [], -30.0: []}
            for echo_db in replies:
                for k in range(runs):
                    d, rm = [(150, 60), (250, 100), (40, 30)][k % 3]
                    r = run(Scenario(d, rm, echo_db, replies=2, noise=kind, noise_dbfs=dbfs, seed=k), work)
                    replies[echo_db] += reply_results(r)
                    print(spec, r.scenario.label, [(f"{x.erle:.1f}", f"{x.leak_dbfs:.0f}", x.false_barge_ins,
                                                    x.would_interrupt) for x in reply_results(r)], file=sys.stderr)
            stops, kept, start_kept, early = [], [], [], 0
            for k in range(runs):
                d, rm = [(170, 60), (40, 30), (250, 100)][k % 3]
                r = run(Scenario(d, rm, -20.0, user_dbfs=-20.0, user_after_s=(2.0, 1.0, 3.0)[k % 3], noise=kind,
                                 noise_dbfs=dbfs, seed=k), work)
                onset = user_onset(r)
                if onset is None:
                    continue
                stops.append(1000 * stop_latency(r, onset))
                kept.append(user_kept(r))
                start_kept.append(user_start_kept(r))
                early += max(0, len(r.notices) - 1)
                print(spec, "double talk", r.scenario.label, f"stop {stops[-1]:.0f} ms kept {kept[-1]:+.1f} dB, "
                      f"first 300 ms {start_kept[-1]:+.1f} dB", len(r.notices), file=sys.stderr)
            loud, quiet = replies[-10.0], replies[-30.0]
            rows.append(f"| {kind} at {dbfs:.0f} dBFS | {sum(x.false_barge_ins for x in loud)} of {len(loud)} | "
                        f"{sum(x.false_barge_ins for x in quiet)} of {len(quiet)} | "
                        f"{sum(x.would_interrupt for x in loud + quiet)} | "
                        f"{max((x.leak_dbfs for x in loud + quiet), default=math.nan):.0f} dBFS | "
                        f"{', '.join(f'{x:.0f}' for x in stops) or '—'} ms | "
                        f"{', '.join(f'{x:+.1f}' for x in kept) or '—'} dB | "
                        f"{', '.join(f'{x:+.1f}' for x in start_kept) or '—'} dB | {early} |")
    return NOISE_SECTION.format(day=datetime.date.today().isoformat(), machine=machine(), load=f"{load:.1f}",
                                rows="\n".join(rows))


NOISE_SECTION = """### With background noise, through the product (`--only noise`)

`.venv/bin/python bench/aec_product.py --only noise` (aec_product.py, bench/noise.py). Run {day} on {machine}; load
average {load} at the start. The microphone hears, besides the echo and the user, a background throughout: pink (a café)
or brown (a fan) noise at a level (RMS), typing (a 3-8 ms click every 150-300 ms, peaks near the level), or one 150 ms
burst (a cough or a knock) 3 s into the first reply. The local gateway's voice bar is 10 dB over a stationary noise
(a real server's voice detection does not take a fan for the user), else -45 dBFS. The user's voice at the gateway is
measured against what the microphone heard but the echo (their voice and the background).

| background | false local barge-ins, echo -10 dBFS | at -30 dBFS | gateway would have interrupted | loudest 20 ms sent | user talks over echo as loud (-20 dBFS): onset → playback stopped | user's voice at the gateway | its first 300 ms | barge-ins before the user |
|---|---|---|---|---|---|---|---|---|
{rows}
"""


SECTION = """## Echo cancellation through the product

`make bench-aec` (aec_product.py). Run {day} on {machine}; load average {load} at the start (other work shared the machine).

{doc}

### ERLE over whole replies, false local barge-ins, leaks (targets: ≥ 30 dB every reply; 0; 0)

| echo | replies | ERLE over the reply | first reply of a session | worst second | loudest 20 ms sent | false local barge-ins | gateway would have interrupted |
|---|---|---|---|---|---|---|---|
{erle}

### A 350 ms underrun (target: ERLE ≥ 40 dB in every second)

| room, echo | the speaker ran dry | ERLE over the reply | ERLE per second | worst second after the stall | false barge-ins | gateway would have interrupted |
|---|---|---|---|---|---|---|
{under}

### Talking over the model (targets: stop ≤ 150 ms median at equal or quieter echo, ≤ 500 ms every trial at loud; voice within 3 dB, 6 dB at loud)

| echo against the user (-20 dBFS) | trials | user's onset → playback stopped | user's voice at the gateway | gateway heard echo as speech before the user |
|---|---|---|---|---|
{double}

{cpu}
"""


if __name__ == "__main__":
    main()
