"""Output files: the same-file check and the decision table with plain values, then creation, replacement,
appending, and a disk that fills mid-run through the real WAV sink, recorder and transcript, and a standard
output that fails, through the real writers."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import wave
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from tfy_live.audio.wavfile import WavFileSink
from tfy_live.errors import ConfigError
from tfy_live.outfiles import OutFile, Policy, Target, create, decide, identity, same_file
from tfy_live.recorder import Recorder
from tfy_live.timeline import Summary
from tfy_live.ui import ChatOutput, JsonOutput, PlainOutput, StdoutConsole, TranscriptFile, is_transcript

REG, LNK, DIR, CHR, FIFO, SOCK = (stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777, stat.S_IFDIR | 0o755,
                                  stat.S_IFCHR | 0o666, stat.S_IFIFO | 0o644, stat.S_IFSOCK | 0o755)


# -- the same file (pure) --------------------------------------------------------------------------

def fake_identity(table: dict[str, set[object]]):
    return lambda path: frozenset(table[str(path)])


def test_same_file_finds_the_first_pair_in_the_order_given():
    ids = fake_identity({"in.wav": {"A"}, "out.wav": {"B"}, "t.md": {"C"}, "r.wav": {"A", "D"}})
    named = [("--input-file", Path("in.wav")), ("--output-file", Path("out.wav")), ("--transcript", Path("t.md")),
             ("--record", Path("r.wav"))]
    assert same_file(named, ids) == (("--input-file", Path("in.wav")), ("--record", Path("r.wav")))
    assert same_file(named[:3], ids) is None


def test_unset_options_and_shared_devices_are_no_clash():
    ids = fake_identity({"/dev/null": set(), "a.wav": {"A"}})
    assert same_file([("--input-file", None), ("--output-file", Path("/dev/null")), ("--transcript", Path("/dev/null")),
                      ("--record", Path("a.wav"))], ids) is None


def test_identity_sees_hard_links_linked_folders_dangling_links_and_paths_not_yet_made(tmp_path):
    (tmp_path / "in.wav").write_bytes(b"x")
    os.link(tmp_path / "in.wav", tmp_path / "hard.wav")
    os.symlink(tmp_path, tmp_path / "here")
    os.symlink(tmp_path / "planted.wav", tmp_path / "dangling.wav")
    assert identity(tmp_path / "in.wav") & identity(tmp_path / "hard.wav")
    assert identity(tmp_path / "in.wav") & identity(tmp_path / "here" / "in.wav")
    assert identity(tmp_path / "dangling.wav") & identity(tmp_path / "planted.wav")
    assert identity(tmp_path / "new.wav") & identity(tmp_path / "here" / ".." / tmp_path.name / "new.wav")
    assert not identity(tmp_path / "new.wav") & identity(tmp_path / "other.wav")
    assert identity(Path("/dev/null")) == frozenset()


# -- what to do with a path (pure) -----------------------------------------------------------------

T = Target(Path("o.wav"), "--output-file", "output file")
MINE, THEIRS = 1000, 1001


@pytest.mark.parametrize("mode, owner, ours, overwrite, expected", [
    (None, MINE, False, False, "create"),
    (None, MINE, False, True, "create"),
    (REG, MINE, False, True, "replace"),
    (REG, MINE, True, False, "append"),
    (REG, MINE, True, True, "replace"),
    (CHR, THEIRS, False, False, "device"),
    (FIFO, MINE, False, True, "device"),
    (REG, MINE, False, False, "already exists; pass --overwrite to replace it"),
    (REG, THEIRS, False, True, "already exists and belongs to another user; pass the path of a new file"),
    (LNK, MINE, False, True, "is a symbolic link, and tfy-live does not write through links"),
    (LNK, MINE, True, False, "is a symbolic link"),
    (DIR, MINE, False, True, "is a directory; pass a file name as --output-file"),
    (SOCK, MINE, False, True, "is not a regular file"),
])
def test_decide(mode, owner, ours, overwrite, expected):
    policy = Policy(overwrite=overwrite)
    if expected in ("create", "replace", "append", "device"):
        assert decide(T, mode, owner=owner, uid=MINE, ours=ours, policy=policy) == expected
    else:
        with pytest.raises(ConfigError, match=expected) as excinfo:
            decide(T, mode, owner=owner, uid=MINE, ours=ours, policy=policy)
        assert "\n" not in str(excinfo.value) and "'o.wav'" in str(excinfo.value)


def test_the_refusal_shows_the_command_that_replaces_the_file():
    policy = Policy(rerun="tfy-live talk --overwrite --local --output-file o.wav")
    with pytest.raises(ConfigError, match="already exists; to replace it, run: tfy-live talk --overwrite --local"):
        decide(T, REG, owner=MINE, uid=MINE, ours=False, policy=policy)


@pytest.mark.parametrize("head, jsonl, ours", [
    (b"# tfy-live conversation, 2026-11-30\n\n", False, True),
    (b"# my notes\n", False, False),
    (b'{"event": "status", "time": "2026-11-30T10:00:00+0000", "t": 0.0, "text": "x"}\n{"eve', True, True),
    (b'{"level": "info"}\n', True, False),
    (b"# tfy-live conversation\n", True, False),  # Markdown of ours is not JSON lines of ours
    (b"", True, False),
    (b"\xff\xfe", True, False),
])
def test_is_transcript(head, jsonl, ours):
    assert is_transcript(head, jsonl=jsonl) is ours


# -- creating --------------------------------------------------------------------------------------

def test_a_new_file_is_owner_only_and_an_existing_one_untouched(tmp_path):
    out = create(Target(tmp_path / "new.wav"))
    out.append(b"data")
    out.close()
    assert stat.S_IMODE((tmp_path / "new.wav").stat().st_mode) == 0o600
    (tmp_path / "old.wav").write_bytes(b"old")
    with pytest.raises(ConfigError, match="already exists"):
        create(Target(tmp_path / "old.wav"))
    assert (tmp_path / "old.wav").read_bytes() == b"old"


def test_a_link_is_never_followed_nor_its_target_chmodded(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"theirs")
    victim.chmod(0o644)
    os.symlink(victim, tmp_path / "t.md")
    for policy in (Policy(), Policy(overwrite=True)):
        with pytest.raises(ConfigError, match="symbolic link"):
            create(Target(tmp_path / "t.md", "--transcript", "transcript"), policy)
    assert victim.read_bytes() == b"theirs" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_a_replacement_takes_the_old_files_place_only_when_committed(tmp_path):
    path = tmp_path / "o.wav"
    path.write_bytes(b"old")
    path.chmod(0o644)
    out = create(Target(path), Policy(overwrite=True))
    out.append(b"new")
    assert path.read_bytes() == b"old"  # a run that fails now keeps the old file
    out.close()
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["o.wav"]  # and leaves nothing behind
    out = create(Target(path), Policy(overwrite=True))
    out.append(b"new")
    out.commit()
    out.append(b"er")
    out.close()
    assert path.read_bytes() == b"newer" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["o.wav"]


def test_a_transcript_of_ours_is_appended_to_and_made_private(tmp_path):
    path = tmp_path / "t.md"
    path.write_text("# tfy-live conversation, yesterday\n\nold\n")
    path.chmod(0o644)
    target = Target(path, "--transcript", "transcript", appendable=lambda head: head.startswith(b"# tfy-live"))
    out = create(target)
    out.append(b"new\n")
    out.close()
    assert path.read_text() == "# tfy-live conversation, yesterday\n\nold\nnew\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


class FullDisk:
    """``os.write`` on a disk with ``room`` bytes left: the write that reaches it is cut short, the next fails."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, fd: int, data: memoryview) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, data[: self.room])
        self.room -= written
        return written


def filling(room: int):
    return lambda target, policy: create(target, policy, write=FullDisk(room))


def test_a_record_the_disk_takes_in_part_is_cut_back(tmp_path):
    out = create(Target(tmp_path / "t.jsonl", "--transcript", "transcript"), write=FullDisk(15))
    out.append(b"0123456789\n")
    with pytest.raises(ConfigError, match="No space left on device; free some space or pass another --transcript"):
        out.append(b"abcdefghij\n")
    out.close()
    assert (tmp_path / "t.jsonl").read_bytes() == b"0123456789\n"


def read_wav(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path)) as w:
        return w.getnchannels(), w.getnframes(), w.readframes(10**9)


async def test_the_reply_wav_stays_valid_when_the_disk_fills_mid_run(tmp_path):
    path = tmp_path / "reply.wav"
    slices = [np.full(480, i + 1, dtype="<i2").tobytes() for i in range(5)]  # 20 ms each
    sink = WavFileSink(path, realtime=False, opener=filling(44 + 3 * 960 + 500))
    with pytest.raises(ConfigError) as excinfo:
        async with sink:
            for pcm in slices:
                await sink.write(pcm)
    assert str(excinfo.value) == (f"cannot write output file {str(path)!r}: No space left on device; "
                                  "free some space or pass another --output-file")
    assert read_wav(path) == (1, 3 * 480, b"".join(slices[:3]))  # the header counts what is there, no more
    assert path.stat().st_size == 44 + 3 * 960


async def test_a_wav_that_cannot_be_written_at_all_is_not_left_behind(tmp_path):
    sink = WavFileSink(tmp_path / "reply.wav", opener=filling(20))
    with pytest.raises(ConfigError, match="No space left on device"):
        async with sink:
            pass
    assert os.listdir(tmp_path) == []


async def test_with_overwrite_a_run_that_fails_before_any_audio_keeps_the_old_file(tmp_path):
    path = tmp_path / "reply.wav"
    path.write_bytes(b"the old reply")
    with pytest.raises(RuntimeError):
        async with WavFileSink(path, realtime=False, policy=Policy(overwrite=True)):
            raise RuntimeError("the gateway went away")
    assert path.read_bytes() == b"the old reply" and os.listdir(tmp_path) == ["reply.wav"]
    async with WavFileSink(path, realtime=False, policy=Policy(overwrite=True)):
        pass  # a run that ends well replaces it, audio or not
    assert read_wav(path) == (1, 0, b"")


def test_the_recording_stays_valid_when_the_disk_fills_mid_run(tmp_path):
    path = tmp_path / "talk.wav"
    clock = iter(np.arange(0, 100, 0.02)).__next__
    recorder = Recorder(path, mic_rate=24000, rate=24000, clock=clock, opener=filling(44 + 40000))
    with pytest.raises(ConfigError, match="cannot write recording .*No space left on device.*--record"):
        with recorder:
            for _ in range(500):  # 10 s of microphone: far more than fits
                recorder.mic(np.full(480, 7, dtype="<i2").tobytes())
    channels, frames, data = read_wav(path)
    assert channels == 2 and frames > 0 and len(data) == frames * 4
    assert path.stat().st_size == 44 + frames * 4 <= 44 + 40000
    recorder.mic(b"\x01\x00" * 480)  # after the failure: nothing more is tried
    recorder.close()


def play(output: TranscriptFile) -> None:
    output.connected("gw")
    for i in range(40):
        output.user_typed(f"line {i} " + "x" * 50)
    output.finished(Summary(1, 0, 1.0, None, None, 0, 0, 0))


def test_the_transcript_keeps_whole_lines_when_the_disk_fills_mid_run(tmp_path):
    path = tmp_path / "t.jsonl"
    transcript = TranscriptFile(path, opener=filling(1500))
    with pytest.raises(ConfigError, match="cannot write transcript .*No space left on device"):
        play(transcript)
    transcript.finished(Summary(1, 0, 1.0, None, None, 0, 0, 0))  # the finally blocks: silent now
    transcript.close()
    lines = path.read_text().splitlines()
    assert lines and all(json.loads(line)["event"] for line in lines)
    assert path.read_text().endswith("\n")


# -- standard output -------------------------------------------------------------------------------

class Failing(io.StringIO):
    def __init__(self, exc: OSError) -> None:
        super().__init__()
        self.exc = exc
        self.tries = 0

    def flush(self) -> None:
        self.tries += 1
        raise self.exc


@pytest.mark.parametrize("make", [PlainOutput, JsonOutput])
def test_a_full_stdout_is_one_error_then_silence(make):
    out = Failing(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    output = make(out)
    with pytest.raises(ConfigError, match="cannot write to standard output: No space left on device"):
        output.status("connecting")
    output.finished(Summary(0, 0, 1.0, None, None, 0, 0, 0))
    output.close()
    assert out.tries == 1


@pytest.mark.parametrize("make", [PlainOutput, JsonOutput])
def test_a_closed_stdout_stays_a_broken_pipe_for_the_edge_then_silence(make):
    out = Failing(BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)))
    output = make(out)
    with pytest.raises(BrokenPipeError):
        output.status("connecting")
    output.status("again")
    assert out.tries == 1


def test_the_chat_console_turns_a_closed_pipe_into_broken_pipe_not_system_exit():
    out = Failing(BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)))
    chat = ChatOutput(StdoutConsole(file=out), Console(file=io.StringIO()), interactive=False)
    chat.model_text("Paris.")
    with pytest.raises(BrokenPipeError):
        chat.turn_complete(None)
    chat.model_text("More.")
    chat.turn_complete(None)
    assert out.tries == 1


def test_open_files_are_not_leaked_by_a_refusal(tmp_path):
    (tmp_path / "old.md").write_text("mine")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(ConfigError):
            TranscriptFile(tmp_path / "old.md")
        with pytest.raises(ConfigError):
            TranscriptFile(tmp_path / "new.md", opener=filling(3))
    assert len(os.listdir("/proc/self/fd")) == before
    assert sorted(os.listdir(tmp_path)) == ["old.md"]


def test_out_file_discard_removes_only_what_it_made(tmp_path):
    null = OutFile(os.open(os.devnull, os.O_WRONLY), Target(Path(os.devnull)))
    null.discard()
    assert os.path.exists(os.devnull)
    made = create(Target(tmp_path / "x.wav"))
    made.discard()
    assert os.listdir(tmp_path) == []

