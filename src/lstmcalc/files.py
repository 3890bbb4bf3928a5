"""Output files: written atomically, never over one of the inputs."""

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


def write_atomic(path: str, text: str | bytes) -> None:
    """Write text (or bytes) to path through a temporary file and a rename: a crash or kill
    leaves either the old file or the new one, never half of one."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lstmcalc-", suffix=".tmp", dir=folder)
    except OSError as e:
        raise OutputError(f"cannot write: {e.strerror or e}", path) from None
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"cannot write: {e.strerror or e}", path) from None
        raise
