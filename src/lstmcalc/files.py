"""Output files: created up front, complete or absent, never over one of the inputs."""

import contextlib
import os
import tempfile

from lstmcalc.document import STDIN
from lstmcalc.errors import OutputError


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


class AtomicFile:
    """An output that appears only when complete.

    Created up front, it makes (and removes) a probe file beside the target, so that a missing
    or read-only folder fails before any work is done. commit() writes a temporary file, syncs
    it and renames it over the target: a crash or kill leaves the old file or the new one, never
    half of one (and, killed outside that short window, no temporary either)."""

    def __init__(self, path: str):
        self.path = path
        self.folder = os.path.dirname(os.path.abspath(path))
        self.done = False
        os.close(self._temporary()[0])
        os.unlink(self.tmp)

    def _temporary(self):
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=".lstmcalc-", suffix=".tmp", dir=self.folder)
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", self.path) from None
        return fd, self.tmp

    def commit(self, data: str | bytes) -> None:
        fd, tmp = self._temporary()
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, OSError):
                raise OutputError(f"cannot write: {e.strerror or e}", self.path) from None
            raise
        self.done = True


def prepare(outputs: dict[str, str | None], inputs: list[str | None]) -> dict[str, AtomicFile]:
    """{name: AtomicFile} for every output path given, checked against the inputs and probed
    for writing before any work is done."""
    for path in outputs.values():
        if path is not None:
            check_not_input(path, inputs)
    return {name: AtomicFile(path) for name, path in outputs.items() if path is not None}
