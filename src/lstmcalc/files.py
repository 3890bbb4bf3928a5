"""Output files: checked up front, complete or absent, never over one of the inputs.

What stands at an output path survives what lstmcalc writes: a FIFO, device, socket or folder
there is refused before any work; a symlink is followed, and the file it points to is
replaced atomically in its own folder (the link stays a link); a new file gets the mode the
umask gives, a replaced one keeps its own. Temporary files carry the writing process's id, so
that one left by a killed run is removed by the next write into that folder.
"""

import contextlib
import os
import re
import stat

from lstmcalc.document import STDIN
from lstmcalc.errors import OutputError, UsageError

# how the commands name their outputs, for messages
OPTIONS = {"state": "--state-out", "out": "--output", "plot": "--plot", "svg": "--svg",
           "html": "--html", "config": "--output", "answers": "--answers"}
_TEMPORARY = re.compile(r"\.lstmcalc-(\d+)-[^/]*\.tmp$")


def _identity(path: str):
    try:
        st = os.stat(path)  # follows symlinks; a hard link has the same inode
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_not_input(output: str, inputs: list[str | None]) -> None:
    """Refuse an output path that is (through a symlink or hard link too) one of the inputs."""
    out_id = _identity(output)
    if out_id is None:
        return
    for path in inputs:
        if path and path != STDIN and _identity(path) == out_id:
            raise OutputError(f"refusing to write {output}: it is the input {path}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _clean_stale(folder: str) -> None:
    """Remove temporary files that a killed lstmcalc left in folder (its process is gone)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMPORARY.match(entry.name)
            if match is None or int(match.group(1)) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                    continue
                try:
                    os.kill(int(match.group(1)), 0)
                except ProcessLookupError:
                    os.unlink(entry.path)
                except PermissionError:
                    pass  # alive, someone else's


class AtomicFile:
    """An output that appears only when complete.

    Created up front, it checks what stands at the path and makes (and removes) a probe file
    beside the target, so that a missing or read-only folder fails before any work is done.
    commit() writes a temporary file, syncs it and renames it over the target: a crash or kill
    leaves the old file or the new one, never half of one."""

    def __init__(self, path: str):
        self.path = path
        self.target = os.path.realpath(path)  # through a symlink: the file it points to
        self.mode: int | None = None  # a replaced file keeps its mode
        try:
            st = os.stat(self.target)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", path) from None
        else:
            if not stat.S_ISREG(st.st_mode):
                raise OutputError(f"refusing to write over {_kind(st.st_mode)}", path)
            self.mode = stat.S_IMODE(st.st_mode)
        self.folder = os.path.dirname(self.target)
        self.done = False
        _clean_stale(self.folder)
        os.close(self._temporary()[0])
        os.unlink(self.tmp)

    def _temporary(self):
        try:
            import tempfile  # here: its import (random, hashlib) is for writers of files

            fd, self.tmp = tempfile.mkstemp(prefix=f".lstmcalc-{os.getpid()}-", suffix=".tmp",
                                            dir=self.folder)
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", self.path) from None
        return fd, self.tmp

    def commit(self, data: str | bytes) -> None:
        fd, tmp = self._temporary()
        try:
            os.fchmod(fd, self.mode if self.mode is not None else 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.target)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, OSError):
                raise OutputError(f"cannot write: {e.strerror or e}", self.path) from None
            raise
        self.done = True


def prepare(outputs: dict[str, str | None], inputs: list[str | None]) -> dict[str, AtomicFile]:
    """{name: AtomicFile} for every output path given, checked against the inputs and against
    each other, and probed for writing before any work is done."""
    given = {name: path for name, path in outputs.items() if path is not None}
    for name, path in given.items():
        if path == STDIN:
            raise UsageError(f"{OPTIONS.get(name, name)} -: stdout carries the output; give "
                             "a file")
        check_not_input(path, inputs)
    targets: dict[str, str] = {}
    for name, path in given.items():
        target = os.path.realpath(path)
        if target in targets:
            raise UsageError(f"{OPTIONS.get(targets[target], targets[target])} and "
                             f"{OPTIONS.get(name, name)} name the same file: {path}")
        targets[target] = name
    return {name: AtomicFile(path) for name, path in given.items()}
