"""Output files that never destroy what was there: ``--output-file``, ``--transcript``, ``--record``.

- ``same_file`` (pure): two of the input and the outputs that name one file; refused before anything opens.
- ``decide`` (pure): what to do with an output path, given what is there now: create it, replace it
  (``--overwrite``), append to it (a transcript of ours), write into a device, or refuse with the fix.
- ``create``: does it. A new file is made with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, so neither a file
  nor a symlink planted at the path is ever written through or chmodded. ``--overwrite`` writes a new file
  beside the old one and renames it over the old one once the new one has content (``OutFile.commit``):
  a run that fails before that (a refused connection, a bad key) leaves the old file as it was.
- ``OutFile``: unbuffered writes of whole records; a write the disk refuses half-way is cut back, so the
  file holds whole records only (WAV frames, transcript lines) and its owner can keep it valid.

Every refusal and write failure is a ``ConfigError`` (exit 2): an output that cannot be written is an
option to change.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

from tfy_live.errors import ConfigError

FLAGS = os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NOCTTY
MODE = 0o600  # outputs hold private speech and text
HEAD_BYTES = 65536  # what is read of an existing file to tell whether it is a transcript of ours

Action = Literal["create", "replace", "append", "device"]
Write = Callable[[int, memoryview], int]


def quoted(path: Path) -> str:
    # repr() quotes the name and escapes control characters: a path cannot break the one-line message.
    return repr(str(path))


@dataclass(frozen=True)
class Policy:
    """How an existing output is treated. ``overwrite`` replaces a regular file of ours; ``rerun`` is
    the command line that does so, shown when one is refused (None: "pass --overwrite")."""

    overwrite: bool = False
    rerun: str | None = None

    def how_to_replace(self) -> str:
        return f"to replace it, run: {self.rerun}" if self.rerun else "pass --overwrite to replace it"


@dataclass(frozen=True)
class Target:
    """An output path, the option it came from and what it holds (for the messages).

    ``appendable``: given the start of an existing file, whether it is ours to append to (transcripts).
    """

    path: Path
    option: str = "--output-file"
    what: str = "output file"
    appendable: Callable[[bytes], bool] | None = None

    @property
    def name(self) -> str:
        return quoted(self.path)


# -- same file -------------------------------------------------------------------------------------

def identity(path: Path) -> frozenset[object]:
    """What makes two paths one file: where it resolves to, and its device and inode when it exists
    (links followed, as open() follows them). Empty for a character device, which several outputs may
    share (``/dev/null``) without harm."""
    keys: set[object] = {("path", os.path.realpath(path))}  # also where a file not yet made would be
    try:
        st = os.stat(path)
    except OSError:
        return frozenset(keys)
    if stat.S_ISCHR(st.st_mode):
        return frozenset()
    return frozenset({*keys, ("inode", st.st_dev, st.st_ino)})


def same_file(named: Iterable[tuple[str, Path | None]], identity: Callable[[Path], frozenset[object]] = identity,
              ) -> tuple[tuple[str, Path], tuple[str, Path]] | None:
    """The first two of ``(option, path)`` that name one file, in the order given; None when all differ."""
    seen: dict[object, tuple[str, Path]] = {}
    for option, path in named:
        if path is None:
            continue
        keys = identity(path)
        for key in keys:
            if key in seen:
                return seen[key], (option, path)
        seen.update(dict.fromkeys(keys, (option, path)))
    return None


def refuse_same_file(named: Iterable[tuple[str, Path | None]]) -> None:
    """Refuse an output that is the input or another output: opening it would destroy the other."""
    clash = same_file(named)
    if clash is not None:
        (first, first_path), (second, second_path) = clash
        raise ConfigError(f"{second} {quoted(second_path)} is the same file as {first} {quoted(first_path)}; "
                          f"pass a different {second}")


# -- what to do with a path ------------------------------------------------------------------------

def decide(target: Target, mode: int | None, *, owner: int, uid: int, ours: bool, policy: Policy) -> Action:
    """What to do with ``target`` given what its path holds now: ``mode`` from lstat (None: nothing),
    its ``owner``, our ``uid``, whether it is a transcript of ours. Raises the refusal."""
    what, name, option = target.what, target.name, target.option
    if mode is None:
        return "create"
    if stat.S_ISLNK(mode):
        # Even with --overwrite: in a shared folder a link is how another user points us at their victim.
        raise ConfigError(f"{what} {name} is a symbolic link, and tfy-live does not write through links; "
                          f"pass the path of a new file as {option}")
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{what} {name} is a directory; pass a file name as {option}")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "device"  # /dev/null, a FIFO: written into, never created, truncated or chmodded
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{what} {name} is not a regular file; pass the path of a new file as {option}")
    if owner != uid:
        raise ConfigError(f"{what} {name} already exists and belongs to another user; "
                          f"pass the path of a new file as {option}")
    if policy.overwrite:
        return "replace"
    if ours:
        return "append"
    raise ConfigError(f"{what} {name} already exists; {policy.how_to_replace()}")


def check(target: Target, policy: Policy) -> Action:
    """What ``create`` would do, or its refusal, without creating anything (to fail before connecting)."""
    path = target.path
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            raise ConfigError(f"cannot create {target.what} {target.name}: {quoted(parent)} is not a directory; "
                              f"pass another {target.option}")
        how = f"create it with `mkdir -p {shlex.quote(str(parent))}`" if str(parent).isprintable() else "create it"
        raise ConfigError(f"cannot create {target.what} {target.name}: directory {quoted(parent)} does not exist; "
                          f"{how} or pass another {target.option}")
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ConfigError(f"cannot use {target.what} {target.name}: {exc.strerror}; "
                          f"pass another {target.option}") from exc
    ours = False
    if st is not None and stat.S_ISREG(st.st_mode) and target.appendable is not None and not policy.overwrite:
        ours = target.appendable(_head(path))
    action = decide(target, None if st is None else st.st_mode, owner=st.st_uid if st else os.geteuid(),
                    uid=os.geteuid(), ours=ours, policy=policy)
    if action in ("create", "replace") and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create {target.what} {target.name}: permission denied in {quoted(parent)}; "
                          f"pass another {target.option}")
    return action


def _head(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.pread(fd, HEAD_BYTES, 0)
    except OSError:
        return b""
    finally:
        os.close(fd)


# -- creating --------------------------------------------------------------------------------------

def create(target: Target, policy: Policy = Policy(), *, write: Write = os.write) -> OutFile:
    """Open ``target`` for writing as ``check`` decides (see the module docstring); ``write`` is the
    system call that writes (a test passes one that fills the disk)."""
    action = check(target, policy)
    path = target.path
    try:
        if action == "create":
            return OutFile(os.open(path, FLAGS | os.O_CREAT | os.O_EXCL, MODE), target, created=True, write=write)
        if action == "device":
            return _device(target, write)
        if action == "append":
            return _append(target, policy, write)
        temp, fd = _beside(path)
        return OutFile(fd, target, temp=temp, created=True, write=write)
    except ConfigError:
        raise
    except OSError as exc:
        check(target, policy)  # something else is at the path now (a file, a link): refuse it as such
        raise ConfigError(f"cannot create {target.what} {target.name}: {exc.strerror}; "
                          f"pass another {target.option}") from exc


def _device(target: Target, write: Write) -> OutFile:
    fd = os.open(target.path, FLAGS)  # no O_CREAT, no O_TRUNC, and no chmod: /dev/null stays as it is
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):  # swapped for a file since check(): not ours to write
        os.close(fd)
        raise ConfigError(f"{target.what} {target.name} changed while it was being opened; "
                          f"pass the path of a new file as {target.option}")
    return OutFile(fd, target, write=write)


def _append(target: Target, policy: Policy, write: Write) -> OutFile:
    # Decided again on what this descriptor holds: the path may have changed since check() looked.
    fd = os.open(target.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        ours = stat.S_ISREG(st.st_mode) and target.appendable is not None and target.appendable(
            os.pread(fd, HEAD_BYTES, 0))
        decide(target, st.st_mode, owner=st.st_uid, uid=os.geteuid(), ours=ours, policy=policy)
        os.fchmod(fd, MODE)  # a regular file of ours, through its descriptor: nothing else is touched
        return OutFile(fd, target, size=st.st_size, write=write)
    except BaseException:
        os.close(fd)
        raise


def _beside(path: Path) -> tuple[Path, int]:
    """A new file in the same folder as ``path`` (so a rename can replace it), mode 0600."""
    import secrets  # here, not at the top: it costs --help 13 ms (random, hashlib); only --overwrite needs it

    for _ in range(100):
        temp = path.with_name(f".{path.name[:80]}.{secrets.token_hex(4)}.tfy-live.tmp")
        try:
            return temp, os.open(temp, FLAGS | os.O_CREAT | os.O_EXCL, MODE)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


class OutFile:
    """An output file open for writing (made by ``create``).

    ``append`` writes whole records at the end: all of one, or none (a write the disk takes only in part
    is cut back). ``patch`` rewrites bytes already written (a WAV header's lengths). With ``--overwrite``
    the file is a new one beside the old; ``commit`` puts it in the old one's place, and ``close`` without
    a commit throws it away and keeps the old file.
    """

    def __init__(self, fd: int, target: Target, *, size: int = 0, temp: Path | None = None, created: bool = False,
                 write: Write = os.write) -> None:
        self.fd = fd
        self.target = target
        self.size = size  # bytes on disk that are whole records
        self._temp = temp
        self._created = created
        self._write = write
        self.regular = stat.S_ISREG(os.fstat(fd).st_mode)
        try:
            os.lseek(fd, 0, os.SEEK_CUR)
            self.seekable = True
        except OSError:
            self.seekable = False  # a FIFO

    @property
    def path(self) -> Path:
        return self._temp or self.target.path

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self._write(self.fd, view)
                if written <= 0:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                view = view[written:]
        except OSError as exc:
            self.cut(self.size)
            raise self.error(exc) from exc
        self.size += len(data)

    def patch(self, offset: int, data: bytes) -> None:
        if not self.seekable:
            return
        try:
            if os.pwrite(self.fd, data, offset) != len(data):
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        except OSError as exc:
            raise self.error(exc) from exc

    def cut(self, size: int) -> None:
        """Drop everything after ``size`` bytes (best effort: a device has nothing to cut)."""
        if self.regular:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, size)
                if self.seekable:
                    os.lseek(self.fd, size, os.SEEK_SET)
        self.size = min(self.size, size)

    def error(self, exc: OSError) -> ConfigError:
        target = self.target
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT) and self.regular
        fix = f"free some space or pass another {target.option}" if full else f"pass another {target.option}"
        return ConfigError(f"cannot write {target.what} {target.name}: {exc.strerror or exc}; {fix}")

    def commit(self) -> None:
        """The new file takes the old one's place (``--overwrite``); nothing to do otherwise."""
        temp = self._temp
        if temp is None:
            return
        try:
            os.rename(temp, self.target.path)  # replaces the name, never follows what it pointed at
        except OSError as exc:
            raise ConfigError(f"cannot replace {self.target.what} {self.target.name}: {exc.strerror}; "
                              f"pass another {self.target.option}") from exc
        self._temp = None

    def discard(self) -> None:
        """Close, and remove the file if this run created it (it never became valid)."""
        path, created = self.path, self._created
        with contextlib.suppress(ConfigError):
            self._close()
        if created:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def close(self) -> None:
        """Close; a replacement that was never committed is thrown away and the old file kept."""
        temp = self._temp
        try:
            self._close()
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    def _close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        try:
            os.close(fd)  # nothing is buffered: only a network file system reports a late write error here
        except OSError as exc:
            raise self.error(exc) from exc


Opener = Callable[[Target, Policy], OutFile]


def stdout_error(exc: OSError) -> ConfigError:
    """Standard output refused a write (``> /dev/full``); a closed pipe is not this, see the CLI."""
    return ConfigError(f"cannot write to standard output: {exc.strerror or exc}; "
                       "send it to a file on a disk with room, or to /dev/null")
