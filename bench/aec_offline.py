"""Local barge-in with background noise, offline: ``EchoGuard`` with the real AEC3, double-talk detector and
Silero, on an injected clock (no sound card, no gateway, no real time: a session of two replies in about 1 s).

    .venv/bin/python bench/aec_offline.py [--src other/src]

The speaker plays two 8 s replies (1 s apart from the start, 2 s between them), handed over 50 ms ahead as the
product's writer does; the microphone hears them 150 ms later through a 60 ms room (echo's loudest 100 ms at -10
or -30 dBFS) plus a background (bench/noise.py). Counted: local barge-ins during a reply with nobody talking.
Then the user (-20 dBFS) talks over the first reply 1, 2 or 3 s in, in three rooms: when the guard reports the
barge-in after their onset (their first 10 ms over -40 dBFS), and their first 300 ms at the gateway against what
the microphone heard but the echo. The through-the-product figures are aec_product.py's; this is the quick check.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOISES = ((None, 0.0), ("pink", -50.0), ("pink", -40.0), ("pink", -35.0), ("brown", -40.0), ("brown", -35.0),
          ("typing", -20.0), ("cough", -20.0))


def sim(delay_ms: int = 150, room_ms: int = 60, echo_dbfs: float = -10.0, noise: str | None = "pink",
        noise_dbfs: float = -40.0, user_dbfs: float | None = None, user_at: float = 2.0, seed: int = 0,
        replies: int = 2) -> dict:
    import soxr

    from bench.aec_product import MODEL_TEXT, at_level, level_100ms
    from bench.noise import background
    from tests.speech import USER_SAYS, room, speech
    from tfy_live.audio import echo, vad
    from tfy_live.audio.doubletalk import DoubleTalk
    from tfy_live.echoguard import OVER_ECHO_THRESHOLD, EchoGuard

    reply24 = speech(MODEL_TEXT, 24000)
    can = echo.EchoCanceller(near_rate=16000, far_rate=24000, noise_suppression=False, high_pass=False)
    guard = EchoGuard(canceller=can, onset=vad.SpeechOnset(vad.OnsetRule(threshold=OVER_ECHO_THRESHOLD)),
                      doubletalk=DoubleTalk(16000, 24000), far_rate=24000, near_rate=16000)
    length = len(reply24) / 24000
    total = 1.0 + replies * (length + 2)
    n16 = int(total * 16000)
    spk = np.zeros(int(total * 24000), np.float32)
    starts = [1.0 + k * (length + 2) for k in range(replies)]
    for s in starts:
        spk[int(s * 24000):int(s * 24000) + len(reply24)] += reply24
    h = room(room_ms, 16000, 7)
    wet = np.convolve(soxr.resample(spk, 24000, 16000).astype(np.float32)[:n16], h)[:n16]
    wet = np.concatenate([np.zeros(16 * delay_ms, np.float32), wet])[:n16]
    gain = 10 ** ((echo_dbfs - level_100ms(np.convolve(soxr.resample(reply24, 24000, 16000), h) * 32768)) / 20)
    near = (background(noise, total, noise_dbfs, seed, burst_at_s=starts[0] + 3.0)[:n16] if noise
            else np.zeros(n16, np.float32))
    onset = None
    if user_dbfs is not None:
        u = at_level(speech(USER_SAYS, 16000, voice="en-gb", pitch=70), user_dbfs)
        a = int((starts[0] + user_at) * 16000)
        near[a:a + len(u)] += u[: n16 - a]
        lv = 10 * np.log10(np.convolve(u ** 2, np.ones(160) / 160, "valid") + 1e-20)
        onset = starts[0] + user_at + int(np.flatnonzero(lv > -40)[0]) / 16000
    m = (np.clip(wet * gain + near, -1, 1) * 32767).astype("<i2").tobytes()
    f = (np.clip(spk, -1, 1) * 32767).astype("<i2").tobytes()
    events, sent, cpu, stopped = [], bytearray(), 0.0, None
    for i in range(n16 // 160):
        now = i * 0.01
        if stopped is None:
            for j in (range(6) if i == 0 else (i + 5,)):
                if f[j * 480:(j + 1) * 480]:
                    guard.played(f[j * 480:(j + 1) * 480], now)
        t0 = time.process_time()
        out, began = guard.mic(m[i * 320:(i + 1) * 320], now + 0.01)
        cpu += time.process_time() - t0
        sent += out
        if began and any(s <= now <= s + length for s in starts):
            events.append(now)
            if onset is not None and stopped is None and now >= onset - 0.2:
                stopped = now
    return dict(events=events, sent=np.frombuffer(bytes(sent), "<i2").astype(np.float32) / 32768, near=near,
                onset=onset, cpu_us=cpu / (n16 // 160) * 1e6)


def db(x: float) -> float:
    return float(10 * np.log10(x + 1e-20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src folder of the tfy-live to run")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    import tfy_live  # from --src: its submodules follow it, whatever bench.aec_product puts on the path

    print(f"tfy_live from {Path(tfy_live.__file__).parent}", file=sys.stderr)
    print("| background | false local barge-ins, echo -10 dBFS (2 replies) | at -30 dBFS | user over echo -10 / -20 / "
          "-30 dBFS: barge-in after onset, ms | their first 300 ms at the gateway, dB | guard, µs per 10 ms |")
    print("|---|---|---|---|---|---|")
    for noise, level in NOISES:
        false = [len(sim(echo_dbfs=e, noise=noise, noise_dbfs=level)["events"]) for e in (-10.0, -30.0)]
        lat, kept, cpu = [], [], []
        for e in (-10.0, -20.0, -30.0):
            for k, (d, rm, at) in enumerate([(170, 60, 1.0), (40, 30, 2.0), (250, 100, 3.0)]):
                r = sim(d, rm, e, noise, level, user_dbfs=-20.0, user_at=at, replies=1, seed=k)
                after = [t for t in r["events"] if t >= r["onset"] - 0.2]
                lat.append(f"{(after[0] - r['onset']) * 1000:.0f}" if after else "none")
                a = int(r["onset"] * 16000)
                span = slice(a, a + 4800)
                kept.append(db(float(np.sum(r["sent"][span].astype(np.float64) ** 2)))
                            - db(float(np.sum(r["near"][span].astype(np.float64) ** 2))))
                cpu.append(r["cpu_us"])
        name = f"{noise} at {level:.0f} dBFS" if noise else "none"
        print(f"| {name} | {false[0]} | {false[1]} | {' '.join(lat[:3])} / {' '.join(lat[3:6])} / {' '.join(lat[6:])} | "
              f"{min(kept):+.1f} to {max(kept):+.1f} | {np.median(cpu):.0f} |", flush=True)


if __name__ == "__main__":
    main()
