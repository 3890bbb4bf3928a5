"""The one family of errors lstmcalc raises on purpose, each kind with its exit status.

Every layer (core, readers, reports, renderers) raises these; the CLI catches them once and
prints one line. Nothing here imports anything of lstmcalc's."""

import unicodedata
from collections.abc import Sequence
from enum import IntEnum


def shown(text: str) -> str:
    """Text from an input (a file name, a key) made safe to print: control characters and
    bidirectional overrides escaped (ESC as \\x1b), so that no input can clear a screen,
    set a window title or start a line of its own."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d":
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


class ExitStatus(IntEnum):
    OK = 0
    DIFFERENCES = 1  # --expect found values that differ; compare's two LSTMs disagree
    USAGE = 2  # bad option or argument
    DATA = 65  # invalid input data (EX_DATAERR)
    NO_INPUT = 66  # input file missing or unreadable (EX_NOINPUT)
    UNAVAILABLE = 69  # an optional dependency is not installed (EX_UNAVAILABLE)
    SOFTWARE = 70  # internal error (EX_SOFTWARE)
    CANT_CREATE = 73  # output cannot be written (EX_CANTCREAT)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE)


class LstmcalcError(Exception):
    """An error meant for the user: one line, with the place it was found where there is one."""

    status = ExitStatus.SOFTWARE

    def __init__(self, message: str, source: str | None = None, line: int | None = None,
                 col: int | None = None):
        super().__init__(message)
        self.message, self.source, self.line, self.col = message, source, line, col

    @property
    def location(self) -> str:
        parts = [self.source] if self.source else []
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return shown(text)  # one line, nothing raw from an input

    def lines(self) -> list[str]:
        """What the CLI prints: one line per problem."""
        return [str(self)]


class UsageError(LstmcalcError):
    status = ExitStatus.USAGE


class DataError(LstmcalcError):
    status = ExitStatus.DATA


class InputMissingError(LstmcalcError):
    status = ExitStatus.NO_INPUT


class OutputError(LstmcalcError):
    status = ExitStatus.CANT_CREATE


class ShapeError(DataError):
    """An array does not have the size the cell needs."""


class NonFiniteError(DataError):
    """A value is, or became, inf or NaN: `what` names it, `index` where it sits."""

    def __init__(self, what: str, index: tuple[int, ...] = (), value: float = float("nan")):
        super().__init__(f"{what} is not finite ({value})")
        self.what, self.index, self.value = what, index, value


class Unsupported(UsageError):
    """A combination lstmcalc does not compute (yet); it says so instead of guessing."""


class LayoutError(DataError):
    """Arrays do not fit a framework's layout (a name missing, a shape wrong, a variant the
    layout cannot hold)."""



class MissingExtra(LstmcalcError):
    """A feature needs an optional package that is not installed; the message names the
    extra that installs it."""

    status = ExitStatus.UNAVAILABLE

    def __init__(self, what: str, package: str, extra: str):
        super().__init__(f"{what} needs {package}, which is not installed: "
                         f"pip install 'lstmcalc[{extra}]'")


class DataErrors(DataError):
    """Several problems found in one input (up to MAX of them), in file order: each is its
    own line on stderr."""

    MAX = 20

    def __init__(self, errors: Sequence[LstmcalcError]):
        self.errors = sorted(errors, key=lambda e: (e.line or 0, e.col or 0))
        first = self.errors[0]
        super().__init__(first.message, first.source, first.line, first.col)

    def lines(self) -> list[str]:
        return [str(e) for e in self.errors]
