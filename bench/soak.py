"""Soak: a simulated hour of conversation through the local gateway, resident memory sampled.

The whole client path runs — the real SDK over TLS, the link (with goAway
switch-overs every 100 turns, as a ten-minute connection limit would cause),
the conversation, the player — with time compressed: the "microphone" speaks
examples/hello.wav and a pause, again and again, as fast as the loop takes it,
and the "speaker" plays instantly. Memory is read from /proc/self/status
(VmRSS) every simulated minute.

    .venv/bin/python bench/soak.py [--minutes 60] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.report import machine  # noqa: E402
from tfy_live import eventloop  # noqa: E402
from tfy_live.audio import NullSink  # noqa: E402
from tfy_live.audio.wavfile import WavFileSource  # noqa: E402
from tfy_live.config import resolve  # noqa: E402
from tfy_live.conversation import Conversation  # noqa: E402
from tfy_live.endrule import EndRule  # noqa: E402
from tfy_live.gateway import connect  # noqa: E402
from tfy_live.link import Link  # noqa: E402
from tfy_live.localgw import EchoOptions, Fault, GatewayThread  # noqa: E402
from tfy_live.ui import Output  # noqa: E402

CHUNK_MS = 100
PACE_S = 0.0015  # between 100 ms chunks of the simulated microphone


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Talker:
    """A microphone that says hello.wav and 1.2 s of silence until ``seconds`` of audio were said."""

    sample_rate = 16000

    def __init__(self, speech: bytes, seconds: float, on_minute) -> None:
        self.turn = speech + bytes(2 * int(1.2 * self.sample_rate))
        self.seconds = seconds
        self.on_minute = on_minute
        self.said = 0.0

    async def stream(self, chunk_frames: int):
        step = chunk_frames * 2
        next_minute = 60.0
        while self.said < self.seconds:
            for start in range(0, len(self.turn), step):
                chunk = self.turn[start:start + step]
                self.said += len(chunk) / 2 / self.sample_rate
                if self.said >= next_minute:
                    self.on_minute(self.said)
                    next_minute += 60.0
                # Compressed time: 60x real time and more, yet paced so that the in-process gateway,
                # which shares the GIL, keeps up. Unpaced, a client on uvloop outran it, and turns in
                # flight at each goAway switch-over were lost on the gateway's side (BENCHMARKS.md).
                await asyncio.sleep(PACE_S)
                yield chunk


class Quiet(Output):
    """A reporter that shows nothing."""

    def event(self, kind: str, text: str, **data) -> None:
        pass


async def soak(minutes: float) -> dict:
    speech = await WavFileSource(ROOT / "examples" / "hello.wav", realtime=False).read_all()
    turns_per_connection = 100
    faults = [Fault("go_away", after_turns=turns_per_connection, connection=i, time_left_s=5) for i in range(400)]
    thread = GatewayThread(api_key="soak", record=False, options=EchoOptions(reply_speed=float("inf"), time_scale=1000.0),
                           faults=faults)
    gw = thread.start()
    samples: list[tuple[float, float]] = []

    def minute(said: float) -> None:
        gc.collect()
        samples.append((said / 60, rss_mb()))

    settings = resolve({"provider": "soak"}, {"TFY_API_KEY": "soak", "TFY_BASE_URL": gw.base_url})
    context = gw.client_ssl_context()
    talker = Talker(speech, minutes * 60, minute)
    started = time.perf_counter()
    try:
        async with Link(lambda handle: connect(settings, context=context, handle=handle),
                        chunk_s=CHUNK_MS / 1000) as link:
            conversation = Conversation(link, talker, NullSink(), Quiet(), chunk_ms=CHUNK_MS,
                                        rule=EndRule(grace_s=3.0, reply_timeout_s=30))
            summary = await conversation.run()
    finally:
        thread.stop()
    return {"minutes": minutes, "wall_s": time.perf_counter() - started, "turns": summary.turns,
            "connections": link.connections, "samples": samples}


def report(result: dict) -> str:
    samples = result["samples"]
    rss = [mb for _, mb in samples]
    tenth = rss[max(0, len(rss) // 10 - 1)]
    slope = (rss[-1] - tenth) / max(1e-9, samples[-1][0] - samples[max(0, len(rss) // 10 - 1)][0]) * 60
    day = datetime.date.today().isoformat()
    return (
        f"| {day} | {machine()} | {result['minutes']:.0f} min of audio in {result['wall_s']:.0f} s | "
        f"{result['turns']} turns, {result['connections']} connections | "
        f"{rss[0]:.1f} MB | {tenth:.1f} MB | {statistics.median(rss):.1f} MB | {rss[-1]:.1f} MB | {max(rss):.1f} MB | "
        f"{slope:+.2f} MB/h | {fitted_slope(samples[len(samples) // 2:]):+.2f} MB/h |"
    )


def fitted_slope(samples: list[tuple[float, float]]) -> float:
    """MB an hour, least squares over (minute, MB): unlike two end points, not moved by one sample."""
    slope = statistics.linear_regression([m for m, _ in samples], [mb for _, mb in samples]).slope
    return slope * 60


HEADER = ("| date | machine | run | conversation | RSS after 1 min | at 10% | median | at the end | max | "
          "slope after 10% | fitted slope, second half |\n|---|---|---|---|---|---|---|---|---|---|---|")


def add_row(text: str, marker: str, row: str, header: str = HEADER) -> str:
    """``text`` with ``row`` after the last row of the table under ``marker`` (other sections may follow).

    A table from before a column was added gets today's ``header``, and its rows "—" for what they lack.
    """
    lines = text.rstrip("\n").split("\n")
    start = lines.index(marker)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    table = [i for i in range(start, end) if lines[i].startswith("|")]
    head = header.split("\n")
    if lines[table[0]] != head[0]:
        lines[table[0]], lines[table[1]] = head
        for i in table[2:]:
            lines[i] += " — |" * (head[0].count("|") - lines[i].count("|"))
    return "\n".join(lines[: table[-1] + 1] + [row] + lines[table[-1] + 1:]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--markdown", type=Path, help="append the result row to this file's soak table")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    result = eventloop.run(soak(args.minutes), os.environ)  # the loop tfy-live runs on
    row = report(result)
    print(HEADER)
    print(row)
    if args.markdown:
        text = args.markdown.read_text() if args.markdown.exists() else ""
        marker = "## Soak: a simulated hour, resident memory"
        if marker not in text:
            text += (f"\n{marker}\n\n`make soak` ({Path(__file__).name}): the whole client path through the local "
                     "gateway with time compressed; RSS of the process (client and in-process gateway) sampled "
                     "every simulated minute after a garbage collection.\n\n" + HEADER + "\n")
        args.markdown.write_text(add_row(text, marker, row))


if __name__ == "__main__":
    main()
