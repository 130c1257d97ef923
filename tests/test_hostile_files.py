"""Outputs that would destroy a file, write through a link, or cannot be written, through the real CLI.

Each row lays out a folder (the program's working directory, with ``in.wav``, a copy of
``examples/hello.wav``) and a second folder "outside" it that the harness also watches: a link points
there, as another user's link in a shared folder would. ``tests.hostile.run_hostile`` checks the exit
code, the one ``error:`` line, no traceback, no key, and that no file that was there changed; the test
also checks that nothing was left behind (no output created by a refused run, no temporary file).

The ``/dev/full`` rows use a device node of our own (the same device, 1:7) when the tests run as root,
so that a regression that chmods what it opens cannot change the machine's ``/dev/full``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.hostile import error_lines, run_hostile

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello.wav"
TARGET = {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": "https://127.0.0.1:9/api/llm"}  # a closed loopback port
FULL = "{full}"  # replaced by the path of a device that is always full
NULL = "{null}"  # and of one that takes everything: the speaker for the rows not about --output-file
TALK = ["talk", "--local", "--input-file", "in.wav"]  # with --output-file of its own
TALK_N = [*TALK, "--output-file", NULL]
CHAT = ["chat", "--local"]
ROOT = os.geteuid() == 0


def device(folder: Path, name: str, minor: int) -> Path:
    """A memory device (1:minor) of our own in ``folder`` when we may make one, else the system's."""
    if not ROOT:
        return Path("/dev") / name
    path = folder / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    path.chmod(0o666)
    return path


def nothing(d: Path, o: Path) -> None:
    pass


def files(*names: str, text: bytes = b"the user's own file\n") -> Callable[[Path, Path], None]:
    def lay(d: Path, o: Path) -> None:
        for name in names:
            (d / name).write_bytes(text)
    return lay


def link(name: str, to: str) -> Callable[[Path, Path], None]:
    """``name`` in the folder, a symlink to ``to`` in the outside folder (which may not exist)."""
    def lay(d: Path, o: Path) -> None:
        (o / "victim.txt").write_bytes(b"another user's file\n")
        os.symlink(o / to, d / name)
    return lay


def hard_link(d: Path, o: Path) -> None:
    os.link(d / "in.wav", d / "same.wav")


def sub_link(d: Path, o: Path) -> None:
    os.symlink(d, d / "here")  # here/in.wav is in.wav


def subdir(d: Path, o: Path) -> None:
    (d / "sub").mkdir()


SAME = r"is the same file as"
EXISTS = r"already exists; to replace it, run: tfy-live {cmd} --overwrite --local"
LINK = r"is a symbolic link, and tfy-live does not write through links; pass the path of a new file as"

CASES: list[tuple[str, list[str], Callable[[Path, Path], None], int, str, str | None]] = [
    # id, arguments, layout, exit code, error line, stdout (None: captured)
    ("input is the output", [*TALK, "--output-file", "in.wav"], nothing, 2,
     rf"--output-file 'in\.wav' {SAME} --input-file 'in\.wav'; pass a different --output-file", None),
    ("input is the transcript", [*TALK_N, "--transcript", "in.wav"], nothing, 2, rf"--transcript 'in\.wav' {SAME}",
     None),
    ("input is the recording", [*TALK_N, "--record", "in.wav"], nothing, 2, rf"--record 'in\.wav' {SAME}", None),
    ("input is the output by a hard link", [*TALK, "--output-file", "same.wav"],
     hard_link, 2, rf"--output-file 'same\.wav' {SAME} --input-file 'in\.wav'", None),
    ("input is the recording through a linked folder, with --overwrite", [*TALK_N, "--overwrite", "--record",
                                                                          "here/in.wav"], sub_link, 2,
     rf"--record 'here/in\.wav' {SAME} --input-file", None),
    ("output is the transcript, neither there yet", [*TALK, "--output-file", "out.wav", "--transcript",
                                                     "../here/out.wav"],
     nothing, 2, rf"--transcript '\.\./here/out\.wav' {SAME} --output-file 'out\.wav'", None),
    ("output is the recording, spelt otherwise", [*TALK, "--output-file", "out.wav", "--record", "sub/../out.wav"],
     subdir, 2, rf"--record 'sub/\.\./out\.wav' {SAME} --output-file", None),
    ("transcript is the recording", [*TALK_N, "--transcript", "t.md", "--record", "t.md"], nothing, 2,
     rf"--record 't\.md' {SAME} --transcript 't\.md'", None),
    ("chat: output is the transcript", [*CHAT, "--output-file", "a.wav", "--transcript", "a.wav", "hi"], nothing, 2,
     rf"--transcript 'a\.wav' {SAME} --output-file 'a\.wav'", None),
    ("output file exists", [*TALK, "--output-file", "old.wav"], files("old.wav"), 2,
     r"output file 'old\.wav' " + EXISTS.format(cmd="talk"), None),
    ("transcript exists and is not ours", [*TALK_N, "--transcript", "notes.md"], files("notes.md"), 2,
     r"transcript 'notes\.md' " + EXISTS.format(cmd="talk"), None),
    ("recording exists", [*TALK_N, "--record", "old.wav"], files("old.wav"), 2,
     r"recording 'old\.wav' " + EXISTS.format(cmd="talk"), None),
    ("chat: output file exists", [*CHAT, "--output-file", "old.wav", "hi"], files("old.wav"), 2,
     r"output file 'old\.wav' " + EXISTS.format(cmd="chat"), None),
    ("chat: JSON lines of another program", [*CHAT, "--transcript", "log.jsonl", "hi"],
     files("log.jsonl", text=b'{"level": "info", "msg": "started"}\n'), 2,
     r"transcript 'log\.jsonl' " + EXISTS.format(cmd="chat"), None),
    ("transcript is a link to a file outside", [*TALK_N, "--transcript", "t.md"], link("t.md", "victim.txt"), 2,
     rf"transcript 't\.md' {LINK} --transcript", None),
    ("output file is a link to a file outside", [*TALK, "--output-file", "o.wav"],
     link("o.wav", "victim.txt"), 2, rf"output file 'o\.wav' {LINK} --output-file", None),
    ("output file is a link outside, with --overwrite", [*TALK, "--overwrite", "--output-file", "o.wav"],
     link("o.wav", "victim.txt"), 2, rf"output file 'o\.wav' {LINK} --output-file", None),
    ("recording is a dangling link", [*TALK_N, "--record", "r.wav"], link("r.wav", "planted.wav"), 2,
     rf"recording 'r\.wav' {LINK} --record", None),
    ("chat: transcript is a link outside, with --overwrite", [*CHAT, "--overwrite", "--transcript", "t.jsonl", "hi"],
     link("t.jsonl", "victim.txt"), 2, rf"transcript 't\.jsonl' {LINK}", None),
    ("output file is a directory", [*TALK, "--output-file", "sub"], subdir, 2,
     r"output file 'sub' is a directory; pass a file name as --output-file", None),
    ("transcript in a missing directory", [*TALK_N, "--transcript", "gone/t.md"], nothing, 2,
     r"directory 'gone' does not exist; create it with `mkdir -p gone` or pass another --transcript", None),
    ("recording under a file", [*TALK_N, "--record", "in.wav/r.wav"], nothing, 2,
     r"'in\.wav' is not a directory; pass another --record", None),
    ("output file on a full device", [*TALK, "--output-file", FULL], nothing, 2,
     r"cannot write output file '.*full': No space left on device; pass another --output-file", None),
    ("recording on a full device", [*TALK_N, "--record", FULL], nothing, 2,
     r"cannot write recording '.*full': No space left on device; pass another --record", None),
    ("chat: transcript on a full device", [*CHAT, "--transcript", FULL, "hi"], nothing, 2,
     r"cannot write transcript '.*full': No space left on device; pass another --transcript", None),
    ("chat: standard output closed", [*CHAT, "hi"], nothing, 141,
     r"standard output was closed by the program reading it, so tfy-live stopped there", "closed"),
    ("talk: standard output closed", TALK_N, nothing, 141, r"standard output was closed", "closed"),
    ("chat: standard output full", [*CHAT, "hi"], nothing, 2,
     r"cannot write to standard output: No space left on device; send it to a file on a disk with room", FULL),
    ("talk --json: standard output full", [*TALK_N, "--json"], nothing, 2,
     r"cannot write to standard output: No space left on device", FULL),
    ("voices: standard output full", ["voices"], nothing, 2, r"cannot write to standard output", FULL),
    ("help: standard output full", ["talk", "--help"], nothing, 2, r"cannot write to standard output", FULL),
    ("--overwrite keeps every old file when the run fails before the conversation",
     ["talk", "--provider", "acct", "--input-file", "in.wav", "--overwrite", "--output-file", "old.wav",
      "--transcript", "old.md", "--record", "old-r.wav"], files("old.wav", "old.md", "old-r.wav"), 3,
     r"connection to 127\.0\.0\.1:9 refused", None),
]


@pytest.mark.parametrize("args, lay, code, message, stdout", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_output_that_would_harm_gets_one_line_its_exit_code_and_harms_nothing(tmp_path, args, lay, code, message,
                                                                                 stdout):
    here, outside = tmp_path / "here", tmp_path / "outside"
    here.mkdir(), outside.mkdir()
    shutil.copy(HELLO, here / "in.wav")
    lay(here, outside)
    full, null = str(device(tmp_path, "full", 7)), str(device(tmp_path, "null", 3))
    args = [{FULL: full, NULL: null}.get(a, a) for a in args]
    before = {p: sorted(os.listdir(p)) for p in (here, outside)}
    env = clean_env(**TARGET) if "--provider" in args else clean_env()
    run_hostile(args, code=code, message=message, env=env, cwd=here, watch=[outside], timeout=30,
                stdout=full if stdout == FULL else stdout)
    assert {p: sorted(os.listdir(p)) for p in (here, outside)} == before  # nothing created, nothing left behind


def test_a_device_is_written_into_and_keeps_its_mode(tmp_path):
    null = device(tmp_path, "null", 3)
    mode = null.stat().st_mode
    run_hostile([*CHAT, "--output-file", str(null), "--transcript", str(null), "hi"], code=0, message="",
                env=clean_env(), cwd=tmp_path, timeout=30)
    assert null.stat().st_mode == mode


def test_the_suggested_command_replaces_the_file_and_works(tmp_path):
    old = tmp_path / "answer.wav"
    old.write_bytes(b"an old answer\n")
    refused = tfy_live(*CHAT, "--output-file", "answer.wav", "--transcript", "log.md", "hi", cwd=tmp_path,
                       env=clean_env())
    (line,) = error_lines(refused.stderr)
    command = shlex.split(line.split("run: ", 1)[1])
    assert command[:3] == ["tfy-live", "chat", "--overwrite"]
    result = subprocess.run([sys.executable, "-m", "tfy_live", *command[1:]], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hi\n"
    assert old.read_bytes().startswith(b"RIFF") and stat.S_IMODE(old.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["answer.wav", "log.md"]  # no temporary file left


def test_the_suggested_mkdir_works(tmp_path):
    refused = tfy_live(*CHAT, "--transcript", "logs/today/t.md", "hi", cwd=tmp_path, env=clean_env())
    (line,) = error_lines(refused.stderr)
    mkdir = shlex.split(line.split("`")[1])
    assert mkdir[:2] == ["mkdir", "-p"]
    subprocess.run(mkdir, cwd=tmp_path, check=True)
    again = tfy_live(*CHAT, "--transcript", "logs/today/t.md", "hi", cwd=tmp_path, env=clean_env())
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "logs/today/t.md").read_text().startswith("# tfy-live conversation")


def test_overwrite_replaces_the_name_and_leaves_other_links_to_the_old_file(tmp_path):
    (tmp_path / "t.md").write_text("my notes\n")
    os.link(tmp_path / "t.md", tmp_path / "notes-backup.md")
    result = tfy_live(*CHAT, "--overwrite", "--transcript", "t.md", "hi", cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t.md").read_text().startswith("# tfy-live conversation")
    assert (tmp_path / "notes-backup.md").read_text() == "my notes\n"  # O_TRUNC would have emptied it too


@pytest.mark.parametrize("name", ["t.md", "t.jsonl"])
def test_a_transcript_of_ours_is_appended_to(tmp_path, name):
    for word in ("first", "second"):
        result = tfy_live(*CHAT, "--transcript", name, word, cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
    text = (tmp_path / name).read_text()
    assert text.index("You said: first") < text.index("You said: second")
    if name.endswith(".md"):
        assert text.count("# tfy-live conversation") == 2
    else:
        import json

        assert [json.loads(line)["event"] for line in text.splitlines()].count("summary") == 2


def test_a_reader_that_leaves_early_is_one_line_and_exit_141(tmp_path):
    # `tfy-live talk … | head -1`: the first line is read, then the reader is gone.
    shutil.copy(HELLO, tmp_path / "in.wav")
    null = device(tmp_path, "null", 3)
    process = subprocess.Popen([sys.executable, "-m", "tfy_live", *TALK, "--output-file", str(null)], cwd=tmp_path,
                               env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=30) == 141, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert error_lines(stderr) == ["error: standard output was closed by the program reading it, so tfy-live "
                                   "stopped there; let that program read to the end to see everything"]
