"""The benchmark harness's own parts (no timings asserted: those live in BENCHMARKS.md)."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

from tests.timing import SECOND

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_seed_sample_is_extracted_with_only_its_placeholders_filled(tmp_path):
    bench = load(ROOT / "bench" / "vs_seed.py", "vs_seed")
    program = bench.seed_program("https://127.0.0.1:1/api/llm", tmp_path / "seed.py").read_text()
    compile(program, "seed.py", "exec")
    original = bench.SEED.read_text()
    for line in program.splitlines():
        if line.startswith(("API_KEY =", "BASE_URL =")):
            continue
        assert line in original, line  # everything else is the documentation's code, unmodified
    assert 'BASE_URL = "https://127.0.0.1:1/api/llm/live/acct"' in program


def test_the_like_for_like_cpu_row_sets_tfy_live_at_the_seeds_chunk_length_against_the_seed():
    bench = load(ROOT / "bench" / "vs_seed.py", "vs_seed")
    assert bench.command("tfy-live", None, Path("."), 64)[-2:] == ["--chunk-ms", "64"]
    assert "--chunk-ms" not in bench.command("tfy-live", None, Path("."))
    results = {
        "tfy-live": [{"cpu_pct": 4.0, "case": "cpu"}, {"cpu_seed_chunk_pct": 2.35, "case": "cpu, 64"},
                     {"cpu_pct": 4.2, "case": "cpu"}, {"cpu_seed_chunk_pct": 2.35, "case": "cpu, 64"},
                     {"cpu_pct": 3.8, "case": "cpu"}, {"cpu_seed_chunk_pct": 2.35, "case": "cpu, 64"}],
        "seed": [{"cpu_pct": 3.3, "case": "cpu"}, {"cpu_pct": 3.4, "case": "cpu"}, {"cpu_pct": 3.5, "case": "cpu"}],
    }
    rows = {line.split(" | ")[0]: line.split(" | ") for line in bench.table(results, 0, 3).splitlines()
            if line.startswith("| ")}
    like = next(cells for label, cells in rows.items() if "--chunk-ms 64" in label)
    assert like[1:4] == ["2.4 % (2.4)", "3.4 % (3.5)", "0.69"]  # tfy-live at 64 ms against the seed's own CPU
    whole = next(cells for label, cells in rows.items() if label.startswith("| CPU, full duplex"))
    assert whole[1:4] == ["4.0 % (4.2)", "3.4 % (3.5)", "1.18"]
    # (4.0 - 2.35) % of a core over (50 - 15.625) more frames a second: 480 µs a frame
    assert "costs 480 µs of CPU" in bench.per_frame(results)
    assert "0.69× the seed's CPU" in bench.per_frame(results) and "1.18×" in bench.per_frame(results)
    # each tfy-live CPU trial against the seed's beside it: 4.0/3.3, 4.2/3.4, 3.8/3.5
    assert "run right after it: 1.21, 1.24, 1.09 (median 1.21)" in bench.per_frame(results)
    # a run without CPU trials has neither the rows nor the note, and no error
    assert bench.per_frame({"tfy-live": [{"help_ms": 200.0}], "seed": []}) == ""
    assert "CPU" not in bench.table({"tfy-live": [{"help_ms": 200.0}], "seed": []}, 0, 0).split("| metric")[1]


def test_sources_are_compiled_to_bytecode_before_timing_even_where_python_writes_none(tmp_path, monkeypatch):
    bench = load(ROOT / "bench" / "vs_seed.py", "vs_seed")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.py").write_text("X = 1\n")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    bench.compile_sources()
    assert list((tmp_path / "src" / "pkg" / "__pycache__").glob("mod.*.pyc"))


def test_the_simulated_devices_play_the_file_then_silence_and_log_what_is_heard(tmp_path, monkeypatch):
    mic, log = tmp_path / "mic.raw", tmp_path / "spk.log"
    mic.write_bytes(b"\x01\x00" * 10)
    monkeypatch.setenv("FAKEAUDIO_MIC", str(mic))
    monkeypatch.setenv("FAKEAUDIO_SPK_LOG", str(log))
    fake = load(ROOT / "bench" / "fakeaudio" / "pyaudio.py", "fake_pyaudio")
    pa = fake.PyAudio()
    assert pa.get_default_input_device_info()["maxInputChannels"] == 1
    source = pa.open(rate=16000, channels=1, format=fake.paInt16, input=True, frames_per_buffer=16)
    assert source.read(16) == b"\x01\x00" * 10 + b"\x00\x00" * 6
    sink = pa.open(rate=24000, channels=1, format=fake.paInt16, output=True)
    sink.write(b"\x10\x27" * 480)  # 20 ms at 10000
    sink.close()
    start, frames, peak = log.read_text().split()
    assert int(frames) == 480 and int(peak) == 10000


def test_the_wire_probe_stamps_setup_microphone_frames_and_model_audio(tmp_path):
    """Both programs are probed by sitecustomize alone: run the real talk command under it, briefly."""
    import signal
    import subprocess

    from tests.cli_run import clean_env
    from tfy_live.localgw import GatewayThread

    bench = load(ROOT / "bench" / "vs_seed.py", "vs_seed")
    thread = GatewayThread(api_key="k", reply_speed=8.0)
    gw = thread.start()
    child = None
    try:
        wire = tmp_path / "wire.log"
        pcm = (bench.tone(0.6, 300).astype("<i2").tobytes() + bytes(2 * 16000 * 3))
        env = bench.environment(tmp_path, pcm, BENCH_WIRE_LOG=str(wire), SSL_CERT_FILE=gw.ca_file,
                                TFY_API_KEY="k", TFY_BASE_URL=gw.base_url)
        env = {**clean_env(), **env}
        child = subprocess.Popen(bench.command("tfy-live", gw, tmp_path), env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=tmp_path)
        import time

        deadline, began = 20 * SECOND, time.monotonic()
        while time.monotonic() - began < deadline and not any(
                "modelTurn" in m.get("serverContent", {}) for c in gw.connections for m in list(c.sent)):
            time.sleep(0.05)
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        assert child.wait(10 * SECOND) == 130
        (conn,) = gw.connections
    finally:
        if child is not None and child.poll() is None:  # the test failed: leave nothing behind
            child.kill()
            child.wait()
        thread.stop()
    kinds = [kind for _, kind in bench.read_log(wire)]
    assert kinds[0] == "setup" and "audio" in kinds and "other" in kinds  # transcriptions, turnComplete
    sent = kinds.count("sent-audio")
    received = sum(1 for m in conn.received if "audio" in m.get("realtime_input", {}))
    assert sent >= 20 and sent == received  # every microphone frame, and nothing else


def test_the_network_proxy_forwards_both_ways_in_order_and_late_by_its_delay():
    import socket
    import threading
    import time

    netdelay = load(ROOT / "bench" / "netdelay.py", "netdelay")
    server = socket.create_server(("127.0.0.1", 0))
    echoed = threading.Event()

    def echo_once() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)
        echoed.set()

    threading.Thread(target=echo_once, daemon=True).start()
    proxy = netdelay.DelayProxy("127.0.0.1", server.getsockname()[1], one_way_ms=60)
    port = proxy.start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as client:
            began = time.monotonic()
            for i in range(5):
                client.sendall(f"<{i}>".encode())
            got = b""
            while len(got) < 15:
                got += client.recv(100)
            took = time.monotonic() - began
        assert got == b"<0><1><2><3><4>"
        assert took >= 0.12  # a round trip: 60 ms each way, never less (no upper bound: the machine is shared)
        assert echoed.wait(5 * SECOND)  # the client's close went through too
    finally:
        proxy.stop()
        server.close()


def test_the_users_voice_is_found_in_what_the_gateway_got_and_its_level_compared():
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tests.speech import s16

    rng = np.random.default_rng(0)
    voice = rng.standard_normal(8000).astype(np.float32) * 0.1
    sent = np.concatenate([rng.standard_normal(12000).astype(np.float32) * 0.001, voice * 0.5,
                           np.zeros(4000, np.float32)])
    aec = load(ROOT / "bench" / "aec.py", "bench_aec")
    assert abs(aec.voice_kept(s16(sent), s16(voice)) - (-6.02)) < 0.1  # half the amplitude, where it is
    assert abs(aec.voice_kept(s16(np.concatenate([voice, voice[:10]])), s16(voice))) < 0.1


def test_a_soak_row_goes_into_its_own_table_even_when_other_sections_follow():
    soak = load(ROOT / "bench" / "soak.py", "bench_soak")
    text = "# B\n\n## Soak\n\nintro\n\n| h |\n|---|\n| old |\n\n## Next\n\n| other |\n"
    assert soak.add_row(text, "## Soak", "| new |", "| h |\n|---|") == (
        "# B\n\n## Soak\n\nintro\n\n| h |\n|---|\n| old |\n| new |\n\n## Next\n\n| other |\n")
    # a table from before a column was added: today's header, and a dash where old rows have nothing
    assert soak.add_row(text, "## Soak", "| new | 2 |", "| h | h2 |\n|---|---|") == (
        "# B\n\n## Soak\n\nintro\n\n| h | h2 |\n|---|---|\n| old | — |\n| new | 2 |\n\n## Next\n\n| other |\n")


def test_the_soak_fits_its_slope_over_the_second_half_so_a_warm_up_rise_is_not_a_trend():
    soak = load(ROOT / "bench" / "soak.py", "bench_soak")
    rising_then_flat = [(m, 88.0 + min(m, 15) * 0.1) for m in range(1, 61)]
    assert soak.fitted_slope(rising_then_flat[30:]) == 0.0
    assert round(soak.fitted_slope([(m, 90.0 + m / 60) for m in range(30, 61)]), 6) == 1.0  # 1 MB an hour


def test_programs_a_benchmark_launches_take_ctrl_c_even_when_the_benchmark_runs_in_the_background():
    # A background job starts with SIGINT ignored, and its children inherit that across exec.
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    script = ("import signal, subprocess, sys\n"
              f"sys.path.insert(0, {str(ROOT)!r})\n"
              "from bench.report import let_ctrl_c_reach_children\n"
              f"child = lambda: subprocess.run([sys.executable, '-c', {probe!r}],\n"
              "                               capture_output=True, text=True).stdout\n"
              "before = child()\n"
              "let_ctrl_c_reach_children()\n"
              "print(before.strip(), child().strip())\n")
    ignoring = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=ignoring)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_the_openai_kind_has_its_own_barge_in_row_with_no_seed_to_compare():
    bench = load(ROOT / "bench" / "vs_seed.py", "vs_seed")
    assert bench.command(bench.OPENAI, None, Path("."))[-2:] == ["--provider-kind", "openai"]
    results = {"tfy-live": [{"barge_in_ms": 39.5, "case": bench.OPENAI_CASE},
                            {"barge_in_ms": 41.0, "case": bench.OPENAI_CASE},
                            {"barge_in_ms": 300.0, "case": bench.CASES[0].name}],
               "seed": [{"barge_in_ms": 500.0, "case": bench.CASES[0].name}]}
    rows = [line.split(" | ") for line in bench.table(results, 2, 0).splitlines() if line.startswith("| barge-in")]
    openai = next(cells for cells in rows if "openai kind" in cells[0])
    assert openai[1:4] == ["40 ms (41)", "—", "—"] and openai[4].startswith("≤ 60 ms: met")  # not pooled with Gemini
    first = next(cells for cells in rows if cells[0] == f"| {bench.CASES[0].name}")
    assert first[1] == "300 ms (300)"


def test_the_rows_set_against_the_seed_pool_only_the_cases_the_seed_ran():
    """The openai kind loads another SDK: pooled, its slower start moved tfy-live's launch median (1.10x the seed's
    instead of 1.08x in one run). It has its own launch row, with no seed to compare."""
    bench = load(ROOT / "bench" / "vs_seed.py", "vs_seed")
    results = {"tfy-live": [{"connected_ms": 300.0, "exit_ms": 30.0, "case": bench.CASES[0].name},
                            {"connected_ms": 500.0, "exit_ms": 90.0, "case": bench.OPENAI_CASE},
                            {"connected_ms": 500.0, "exit_ms": 90.0, "case": bench.OPENAI_CASE}],
               "seed": [{"connected_ms": 310.0, "exit_ms": 150.0, "case": bench.CASES[0].name}]}
    rows = {line.split(" | ")[0]: line.split(" | ") for line in bench.table(results, 1, 0).splitlines()
            if line.startswith("| ")}
    assert rows["| start-up: launch → connected (setup answer read)"][1:4] == ["300 ms (300)", "310 ms (310)", "0.97"]
    assert rows["| Ctrl-C → process exit (reaped), at the end of each latency trial"][1] == "30 ms (30)"
    openai = rows["| … the openai kind (the openai SDK, the realtime protocol)"]
    assert openai[1:4] == ["500 ms (500)", "—", "—"]
