"""The command line: parse options, load the spec, call the core, render once. No math here."""

import contextlib
import enum
import os
import sys
import traceback
from typing import Annotated

import typer

from lstmcalc import __version__, cell, config
from lstmcalc.document import MAX_BYTES, STDIN
from lstmcalc.errors import DataError, ExitStatus, LstmcalcError, UsageError

app = typer.Typer(
    name="lstmcalc",
    help="An LSTM calculator: one step or a whole sequence, every gate shown and explained.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False


class Format(str, enum.Enum):
    auto = "auto"
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"


class DType(str, enum.Enum):
    float64 = "float64"
    float32 = "float32"


ConfigArg = Annotated[str | None, typer.Argument(
    metavar="CONFIG|-",
    help="Config file (YAML or JSON), or - for stdin. Without one: the built-in founding "
         "example.", show_default=False)]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", help="Output format; auto is table on a terminal, JSON otherwise.")]
PrecisionOpt = Annotated[int, typer.Option(
    "--precision", "-p", min=0, max=17, help="Decimals shown in tables (machine formats are "
                                             "always exact).")]
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Floating-point type of the arithmetic.")]
StateOpt = Annotated[str | None, typer.Option(
    "--state", metavar="FILE|-", show_default=False,
    help="Read h_{t-1} and C_{t-1} from a previous JSON or YAML output (its h and c).")]
MaxBytesOpt = Annotated[int, typer.Option(
    "--max-input-bytes", min=1, metavar="N", help="Refuse input files larger than this.")]


def _version(value: bool):
    if value:
        print(f"lstmcalc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an internal "
                                                        "error.")] = False,
):
    global _debug
    _debug = debug


@contextlib.contextmanager
def reported():
    """The one place errors become a line on stderr and an exit status."""
    try:
        yield
    except LstmcalcError as e:
        _fail(e.status, f"error: {e}")
    except (cell.NonFiniteError, cell.ShapeError) as e:
        _fail(ExitStatus.DATA, f"error: {e}")
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, and keep Python's exit-time flush of
        # stdout from complaining about the closed pipe.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(ExitStatus.BROKEN_PIPE) from None
    except KeyboardInterrupt:
        _fail(ExitStatus.INTERRUPTED, "interrupted")
    except (typer.Exit, typer.Abort):
        raise
    except Exception as e:  # noqa: BLE001 - the edge: anything else is our bug
        if _debug:
            traceback.print_exc()
        _fail(ExitStatus.SOFTWARE, f"internal error: {type(e).__name__}: {e}"
              + ("" if _debug else " (run with --debug to see the traceback)"))


def _fail(status: int, message: str):
    sys.stderr.write(f"lstmcalc: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(int(status)) from None


def _load(path: str | None, max_bytes: int) -> config.Spec:
    return config.load_builtin() if path is None else config.load(path, max_bytes)


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def write_out(text: str):
    """Write all of text to stdout. A raw (unbuffered) stdout may accept only part of a large
    write, and the text layer would drop the rest silently: loop until every byte is out."""
    sys.stdout.flush()
    data = memoryview(text.encode(sys.stdout.encoding or "utf-8", "replace"))
    stream = sys.stdout.buffer
    while data:
        written = stream.write(data)
        data = data[written if written is not None else len(data):]
    stream.flush()


def _emit(result: cell.Step, fmt: Format, precision: int, source: str):
    if fmt is Format.auto:
        fmt = Format.table if _stdout_is_terminal() else Format.json
    if fmt is Format.table:
        from rich.console import Console

        from lstmcalc.render.table import step_view

        console = Console(highlight=False)
        with console.capture() as captured:
            console.print(step_view(result, precision, source))
        write_out(captured.get())
        return
    from lstmcalc.render.machine import FORMATTERS

    write_out(FORMATTERS[fmt.value](result))


@app.command(epilog="""\b
Examples:
  lstmcalc step                          the founding worked example
  lstmcalc step configs/founding.yaml    the same example, from its file
  lstmcalc step cfg.yaml -f json | jq .h
  lstmcalc step cfg.yaml | lstmcalc step cfg.yaml --state -    two steps, chained""")
def step(
    config_path: ConfigArg = None,
    fmt: FormatOpt = Format.auto,
    precision: PrecisionOpt = 4,
    dtype: DTypeOpt = DType.float64,
    state: StateOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Run one LSTM cell step and show every gate: pre-activation, activation, meaning."""
    with reported():
        if config_path == STDIN and state == STDIN:
            raise UsageError("CONFIG and --state cannot both be read from stdin (-)")
        spec = _load(config_path, max_input_bytes)
        if spec.x is None:
            hint = " (it has a sequence: use lstmcalc unroll)" if spec.sequence is not None \
                else ""
            raise DataError(f"no x in the config: step needs x_t, {spec.cell.input_size} "
                            f"numbers{hint}", spec.source)
        h, c = spec.h, spec.c
        if state is not None:
            h, c = config.load_state(state, spec.cell.hidden_size, max_input_bytes)
        result = cell.step(spec.cell.astype(dtype.value), spec.x, h, c)
        _emit(result, fmt, precision, spec.source)


def main():
    app(prog_name="lstmcalc")
