"""PyAudio devices: choosing them (pure), PortAudio errors (pure), and real
PortAudio + ALSA on file-backed devices (in subprocesses, see tests/alsa.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from alsa import alsa_env, run_python

from tfy_live.audio.devices import (
    PA_DEVICE_UNAVAILABLE,
    PA_INSUFFICIENT_MEMORY,
    PA_INVALID_CHANNEL_COUNT,
    PA_INVALID_DEVICE,
    PA_INVALID_SAMPLE_RATE,
    PA_SAMPLE_FORMAT_NOT_SUPPORTED,
    PA_UNANTICIPATED_HOST_ERROR,
    DeviceInfo,
    portaudio_error,
    select_device,
)
from tfy_live.errors import AudioError


def dev(index, name, inputs=2, outputs=2, default_in=False, default_out=False):
    return DeviceInfo(
        index=index,
        name=name,
        host_api="ALSA",
        max_input_channels=inputs,
        max_output_channels=outputs,
        default_sample_rate=48000.0,
        is_default_input=default_in,
        is_default_output=default_out,
    )


DEVICES = [
    dev(0, "HDA Intel PCH: ALC892 Analog (hw:0,0)"),
    dev(1, "HDA Intel PCH: HDMI 0 (hw:0,3)", inputs=0),
    dev(2, "USB Audio Mic (hw:1,0)", outputs=0),
    dev(3, "USB Audio Speaker (hw:2,0)", inputs=0),
    dev(4, "pulse"),
    dev(5, "default", default_in=True, default_out=True),
]


def one_line(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


# --- choosing a device (pure) -------------------------------------------------


def test_none_is_the_default_device():
    assert select_device(DEVICES, None, "input").index == 5
    assert select_device(DEVICES, None, "output").index == 5


def test_without_a_default_the_first_usable_device_is_used():
    devices = [dev(0, "HDMI", inputs=0), dev(1, "Mic", outputs=0)]
    assert select_device(devices, None, "input").index == 1
    assert select_device(devices, None, "output").index == 0


@pytest.mark.parametrize("spec", [2, "2", " 2 "])
def test_index(spec):
    assert select_device(DEVICES, spec, "input").index == 2


@pytest.mark.parametrize(
    ("spec", "kind", "index"),
    [
        ("PULSE", "input", 4),  # exact, any case
        ("default", "output", 5),
        ("mic", "input", 2),  # unique substring
        ("usb audio", "input", 2),  # two match, only one can record
        ("usb audio", "output", 3),
        ("hdmi", "output", 1),
    ],
)
def test_name(spec, kind, index):
    assert select_device(DEVICES, spec, kind).index == index


def test_exact_name_beats_substring():
    devices = [dev(0, "mic"), dev(1, "mic 2")]
    assert select_device(devices, "MIC", "input").index == 0


def test_ambiguous_name_lists_the_candidates():
    with pytest.raises(AudioError) as excinfo:
        select_device(DEVICES, "hda intel", "output")
    message = one_line(excinfo)
    assert "ambiguous" in message
    assert "0: 'HDA Intel PCH: ALC892 Analog (hw:0,0)'" in message
    assert "1: 'HDA Intel PCH: HDMI 0 (hw:0,3)'" in message
    assert "--output-device" in message


def test_unknown_name():
    with pytest.raises(AudioError) as excinfo:
        select_device(DEVICES, "bluetooth", "input")
    assert "`tfy-live devices`" in one_line(excinfo)


def test_unknown_index():
    with pytest.raises(AudioError) as excinfo:
        select_device(DEVICES, 99, "input")
    message = one_line(excinfo)
    assert "99" in message
    assert "`tfy-live devices`" in message


@pytest.mark.parametrize("spec", ["hdmi", 1])
def test_device_without_channels_of_that_kind(spec):
    with pytest.raises(AudioError) as excinfo:
        select_device(DEVICES, spec, "input")
    message = one_line(excinfo)
    assert "has no input channels" in message
    assert "--input-device" in message


def test_no_devices_at_all_suggests_a_file():
    with pytest.raises(AudioError) as excinfo:
        select_device([], None, "input")
    assert one_line(excinfo) == (
        "no audio input device found; pass --input-file FILE.wav to use a file instead"
    )
    with pytest.raises(AudioError) as excinfo:
        select_device([dev(0, "Mic", outputs=0)], None, "output")
    assert "--output-file FILE.wav" in one_line(excinfo)


# --- PortAudio errors (pure) --------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (PA_INVALID_SAMPLE_RATE, "does not support 24000 Hz"),
        (PA_DEVICE_UNAVAILABLE, "is busy"),
        (PA_INVALID_DEVICE, "is not available"),
        (PA_INVALID_CHANNEL_COUNT, "cannot play mono audio"),
        (PA_SAMPLE_FORMAT_NOT_SUPPORTED, "16-bit"),
        (PA_INSUFFICIENT_MEMORY, "not enough memory"),
        (
            PA_UNANTICIPATED_HOST_ERROR,
            "failed (Unanticipated host error, PortAudio error -9999)",
        ),
        (-9987, "failed (Some\nerror, PortAudio error -9987)".replace("\n", " ")),
    ],
)
def test_portaudio_errors_become_one_line_with_a_fix(code, words):
    text = {-9987: "Some\nerror"}.get(code, "Unanticipated host error")
    for exc in (OSError(code, text), ValueError(text, code)):  # streams, format checks
        error = portaudio_error(exc, "output", "Speaker", 24000)
        assert isinstance(error, AudioError)
        message = str(error)
        assert "\n" not in message
        assert words in message
        assert "'Speaker'" in message
        assert "--output-device" in message or "memory" in message


def test_portaudio_error_without_a_code():
    message = str(portaudio_error(OSError("weird"), "input", "Mic", 16000))
    assert message.startswith("input device 'Mic' failed (weird)")


# --- real PortAudio through file-backed ALSA devices (subprocesses) ----------


def run(tmp_path, code: str, in_pcm: bytes = b"") -> tuple[dict, str]:
    env, _ = alsa_env(tmp_path, in_pcm)
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_listing_and_finding_devices(tmp_path):
    out, stderr = run(
        tmp_path,
        """
        import json, sys
        import tfy_live.audio.devices as d
        lazy = "pyaudio" not in sys.modules
        devices = d.list_devices()
        def find(spec, kind):
            try:
                return d.find_device(spec, kind).name
            except d.AudioError as e:
                return "AudioError: " + str(e)
        mic = next(x for x in devices if x.name == "testmic")
        print(json.dumps({
            "lazy": lazy,
            "names": [x.name for x in devices],
            "host_apis": sorted({x.host_api for x in devices}),
            "default_input": find(None, "input"),
            "default_output": find(None, "output"),
            "by_name": find("TestMic", "input"),
            "by_substring": find("spk", "output"),
            "by_index": find(str(mic.index), "input"),
            "by_int": find(mic.index, "input"),
            "ambiguous": find("test", "input"),
            "unknown": find("nope", "input"),
            "bad_index": find(99, "input"),
        }))
        """,
    )
    assert out["lazy"] is True
    assert {"testmic", "testspk", "default"} <= set(out["names"])
    assert out["host_apis"] == ["ALSA"]
    assert out["default_input"] == "default"
    assert out["default_output"] == "default"
    assert out["by_name"] == "testmic"
    assert out["by_substring"] == "testspk"
    assert out["by_index"] == out["by_int"] == "testmic"
    assert out["ambiguous"].startswith("AudioError: device name 'test' is ambiguous")
    assert out["unknown"].startswith("AudioError: no audio input device matches 'nope'")
    assert out["bad_index"].startswith("AudioError: no audio device has index 99")
    # ALSA's and JACK's probing chatter is kept out of the user's view.
    assert stderr == ""


MIC_CODE = """
    import asyncio, contextlib, json, threading, time
    from tfy_live.audio.devices import PyAudioSource

    async def main():
        source = PyAudioSource("testmic", sample_rate=16000)
        want = {want}
        got = b""
        began = time.monotonic()
        async with contextlib.aclosing(source.stream(320)) as chunks:
            async for chunk in chunks:
                assert len(chunk) == 640
                got += chunk
                if len(got) >= want:
                    break
        elapsed = time.monotonic() - began
        threads = [t.name for t in threading.enumerate() if t.name == "tfy-mic"]
        # Released: the device opens again at once.
        async with contextlib.aclosing(source.stream(320)) as chunks:
            again = await anext(chunks)
        return {{"got": got.hex(), "elapsed": elapsed, "threads": threads,
                 "again": len(again), "dropped": source.dropped_chunks}}

    print(json.dumps(asyncio.run(main())))
"""


def test_microphone_reads_the_input_file_in_real_time(tmp_path):
    speech = np.random.default_rng(5).integers(-20000, 20000, 8000, dtype=np.int16)
    pcm = speech.astype("<i2").tobytes()  # 0.5 s at 16 kHz
    out, stderr = run(tmp_path, MIC_CODE.format(want=len(pcm)), in_pcm=pcm)
    assert bytes.fromhex(out["got"]) == pcm
    assert out["elapsed"] >= 0.45  # a lower bound only
    assert out["threads"] == []
    assert out["again"] == 640
    assert out["dropped"] == 0
    assert stderr == ""


def test_microphone_stops_when_cancelled_and_drops_stale_chunks(tmp_path):
    # Chunk i of the input holds the sample value i, so chunks can be told apart.
    pcm = b"".join(np.full(320, i, dtype="<i2").tobytes() for i in range(200))
    out, stderr = run(
        tmp_path,
        """
        import asyncio, json, threading, time
        from tfy_live.audio.devices import PyAudioSource

        def mic_threads():
            return [t for t in threading.enumerate() if t.name == "tfy-mic"]

        async def main():
            source = PyAudioSource("testmic")

            async def consume():
                async for _chunk in source.stream(320):
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.1)
            assert mic_threads()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            began = time.monotonic()
            while mic_threads() and time.monotonic() - began < 2:
                await asyncio.sleep(0.005)
            stopped_after = time.monotonic() - began if not mic_threads() else None

            # A consumer that falls behind gets fresh audio, not a backlog.
            slow = PyAudioSource("testmic", queue_ms=100)  # 5 chunks of 20 ms
            chunks = slow.stream(320)
            first = await anext(chunks)
            await asyncio.sleep(0.5)
            after = await anext(chunks)
            await chunks.aclose()
            return {
                "stopped_after": stopped_after,
                "first": int.from_bytes(first[:2], "little"),
                "after": int.from_bytes(after[:2], "little"),
                "dropped": slow.dropped_chunks,
            }

        print(json.dumps(asyncio.run(main())))
        """,
        in_pcm=pcm,
    )
    assert out["stopped_after"] is not None and out["stopped_after"] < 0.5
    assert out["first"] == 0
    assert out["after"] >= 10  # about 25 chunks were recorded while it slept
    assert out["dropped"] >= 10
    assert stderr == ""


SPEAKER_CODE = """
    import asyncio, json, time
    from tfy_live.audio.devices import PyAudioSink

    async def main():
        data = bytes.fromhex({data!r})
        sink = PyAudioSink("testspk", sample_rate=24000, buffer_ms=40)
        began = time.monotonic()
        async with sink:
            for i in range(0, len(data), 960):  # 20 ms slices
                await sink.write(data[i : i + 960])
        elapsed = time.monotonic() - began
        written = open({out_raw!r}, "rb").read()

        # Cancelled mid-reply: the device is still released and opens again.
        async def play_forever():
            async with PyAudioSink("testspk") as s:
                while True:
                    await s.write(bytes(960))
        task = asyncio.create_task(play_forever())
        await asyncio.sleep(0.1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        async with PyAudioSink("testspk") as s:
            await s.write(b"\\x01\\x00" * 480)
        again = open({out_raw!r}, "rb").read()
        return {{"elapsed": elapsed, "written": written.hex(), "again": again.hex()}}

    print(json.dumps(asyncio.run(main())))
"""


def test_speaker_writes_byte_exact_in_real_time(tmp_path):
    data = os.urandom(24000)  # 0.5 s at 24 kHz
    env, out_raw = alsa_env(tmp_path)
    code = SPEAKER_CODE.format(data=data.hex(), out_raw=str(out_raw))
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert bytes.fromhex(out["written"]) == data
    assert out["elapsed"] >= 0.5 - 0.040 - 0.005  # a lower bound only
    assert bytes.fromhex(out["again"]) == b"\x01\x00" * 480
    assert result.stderr == ""


@pytest.mark.parametrize("room", [True, False])
def test_speaker_writes_on_the_loop_when_the_device_has_room_else_on_its_thread(tmp_path, room):
    # With room in the device's buffer a write returns at once: done on the loop, no thread
    # hand-off. A device that reports no room (or cannot tell) is written from the speaker thread.
    data = os.urandom(9600)  # 0.2 s at 24 kHz
    env, out_raw = alsa_env(tmp_path)
    code = f"""
        import asyncio, json, threading
        from tfy_live.audio.devices import PyAudioSink

        async def main():
            data = bytes.fromhex({data.hex()!r})
            sink = PyAudioSink("testspk", sample_rate=24000, buffer_ms=40)
            threads = set()
            async with sink:
                stream = sink._stream
                write = stream.write
                def spy(pcm, *args):
                    threads.add(threading.current_thread().name)
                    return write(pcm, *args)
                stream.write = spy
                if not {room!r}:
                    stream.get_write_available = lambda: 0
                for i in range(0, len(data), 960):
                    await sink.write(data[i : i + 960])
            return {{"threads": sorted(threads), "written": open({str(out_raw)!r}, "rb").read().hex()}}

        print(json.dumps(asyncio.run(main())))
    """
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert bytes.fromhex(out["written"]) == data
    if room:
        assert out["threads"] == ["MainThread"]
    else:
        assert len(out["threads"]) == 1 and out["threads"][0].startswith("tfy-speaker")


@pytest.mark.parametrize("tells", [True, False])
def test_the_player_feeds_the_speaker_directly_when_it_tells_its_room_else_through_its_thread(tmp_path, tells):
    # The conversation's player tops the device's buffer up from the event loop (PortAudio's
    # write returns at once when the frames fit); a device that cannot say what fits gets slices
    # through the speaker thread. Either way every byte arrives, in order, in real time.
    data = os.urandom(24000)  # 0.5 s at 24 kHz
    env, out_raw = alsa_env(tmp_path)
    code = f"""
        import asyncio, json, threading, time
        from tfy_live.audio.devices import PyAudioSink
        from tfy_live.player import Player

        async def main():
            data = bytes.fromhex({data.hex()!r})
            sink = PyAudioSink("testspk", sample_rate=24000, buffer_ms=40)
            threads, most = set(), [0]
            async with sink:
                stream = sink._stream
                write = stream.write
                def spy(pcm, *args):
                    threads.add(threading.current_thread().name)
                    most[0] = max(most[0], len(pcm) // 2)
                    return write(pcm, *args)
                stream.write = spy
                if not {tells!r}:
                    def cannot_tell():
                        raise OSError(-9999, "Unanticipated host error")
                    stream.get_write_available = cannot_tell
                player = Player(sink)
                began = time.monotonic()
                task = asyncio.create_task(player.run())
                for i in range(0, len(data), 1920):  # 40 ms messages, as they come off the wire
                    player.put(data[i : i + 1920])
                await player.wait_idle()
                elapsed = time.monotonic() - began
                task.cancel()
            return {{"threads": sorted(threads), "most": most[0], "elapsed": elapsed,
                     "written": open({str(out_raw)!r}, "rb").read().hex()}}

        print(json.dumps(asyncio.run(main())))
    """
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert bytes.fromhex(out["written"]) == data
    assert out["elapsed"] >= 0.5 - 0.040 - 0.020 - 0.005  # never more than the buffer ahead (a lower bound)
    if tells:
        assert out["threads"] == ["MainThread"]
        assert out["most"] <= 960  # never more than the 40 ms buffer at once
    else:
        assert len(out["threads"]) == 1 and out["threads"][0].startswith("tfy-speaker")


def test_default_devices_in_full_duplex(tmp_path):
    # What `tfy-live talk` does with no device options: record and play at once.
    mic_pcm = np.random.default_rng(9).integers(-9000, 9000, 4800, dtype=np.int16)
    mic_pcm = mic_pcm.astype("<i2").tobytes()  # 0.3 s at 16 kHz
    reply = os.urandom(14400)  # 0.3 s at 24 kHz
    env, out_raw = alsa_env(tmp_path, mic_pcm)
    code = f"""
        import asyncio, json
        from tfy_live.audio.devices import PyAudioSink, PyAudioSource

        async def record(source, n):
            got = b""
            chunks = source.stream(320)
            async for chunk in chunks:
                got += chunk
                if len(got) >= n:
                    break
            await chunks.aclose()
            return got

        async def play(sink, data):
            async with sink:
                for i in range(0, len(data), 960):
                    await sink.write(data[i : i + 960])

        async def main():
            source, sink = PyAudioSource(), PyAudioSink()
            got, _ = await asyncio.gather(
                record(source, {len(mic_pcm)}), play(sink, bytes.fromhex({reply.hex()!r}))
            )
            return {{"got": got.hex(), "names": [source.device.name, sink.device.name]}}

        print(json.dumps(asyncio.run(main())))
    """
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["names"] == ["default", "default"]
    assert bytes.fromhex(out["got"]) == mic_pcm
    assert out_raw.read_bytes() == reply
    assert result.stderr == ""


def test_unknown_device_fails_on_construction_without_a_traceback(tmp_path):
    out, stderr = run(
        tmp_path,
        """
        import json
        from tfy_live.audio.devices import PyAudioSink, PyAudioSource
        from tfy_live.errors import AudioError
        messages = []
        for make, spec in ((PyAudioSource, "bluetooth"), (PyAudioSink, 42)):
            try:
                make(spec)
            except AudioError as e:
                messages.append(str(e))
        print(json.dumps({"messages": messages}))
        """,
    )
    assert out["messages"] == [
        "no audio input device matches 'bluetooth'; run `tfy-live devices` to list them",
        "no audio device has index 42; run `tfy-live devices` to list them",
    ]
    assert stderr == ""
