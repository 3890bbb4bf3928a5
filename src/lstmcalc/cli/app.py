"""The command line's shared parts: the app, its options, and the one place errors become an
exit status. Each command lives in its own module beside this one; none holds any math."""

import contextlib
import os
import sys
import traceback
from typing import Annotated

import typer

from lstmcalc import __version__
from lstmcalc.choices import FIELDS, CompareTo, Format, InputFormat, Layout
from lstmcalc.document import STDIN
from lstmcalc.errors import ExitStatus, LstmcalcError, UsageError, shown
from lstmcalc.sources import (arithmetic, given_sequence,  # noqa: F401 - the commands' own
                              load_spec, sequence_lengths, with_activations)

# NumPy and the core load only when a command computes, so that --help and --version are quick.

app = typer.Typer(
    name="lstmcalc",
    help="An LSTM calculator: one step or a whole sequence, every gate shown and explained.",
    epilog="""\b
Examples:
  lstmcalc step            the founding worked example, every gate annotated
  lstmcalc shapes          the size of every variable
  lstmcalc unroll cfg.yaml -i xs.csv -f jsonl | jq -c .h
  lstmcalc grad cfg.yaml -i xs.csv --check
  lstmcalc COMMAND -h      each command's options and examples""",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion, --show-completion: bash, zsh, fish
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False


ConfigArg = Annotated[str | None, typer.Argument(
    metavar="CONFIG|-",
    help="Config file (YAML or JSON), or - for stdin. Without one: the built-in founding "
         "example.", show_default=False)]


FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", help="Output format; auto is table on a terminal, JSON otherwise.")]
PrecisionOpt = Annotated[int, typer.Option(
    "--precision", "-p", min=0, max=17, help="Decimals shown in tables (machine formats are "
                                             "always exact).")]
ARITHMETICS = ("float64", "float32", "float16", "bfloat16", "q4.12", "q8.8", "q1.15")
ArithmeticOpt = Annotated[str, typer.Option(
    "--dtype", metavar="float64|float32|float16|bfloat16|qI.F",
    autocompletion=lambda incomplete: [a for a in ARITHMETICS if a.startswith(incomplete)],
    help="The arithmetic: float64, float32, float16 or bfloat16 (rounded where PyTorch's "
         "LSTMCell rounds; bfloat16 needs the bfloat16 extra), or signed fixed point qI.F "
         "(e.g. q4.12: I integer bits with the sign, F fraction bits; docs/hardware.md).")]
CompareToOpt = Annotated[CompareTo | None, typer.Option(
    "--compare-to", show_default=False,
    help="Show the per-gate error table of --dtype's arithmetic against float64 on the same "
         "inputs.")]
StateOpt = Annotated[str | None, typer.Option(
    "--state", metavar="FILE|-", show_default=False,
    help="Read h_{t-1} and C_{t-1} from a previous JSON or YAML output (its h and c).")]
InputsOpt = Annotated[str | None, typer.Option(
    "--inputs", "-i", metavar="FILE|-", show_default=False,
    help="The sequence x_1..x_T: CSV, TSV or whitespace rows, JSONL, a JSON or YAML list (of "
         "rows, or of sequences for a batch), or .npy (T, m) or (T, B, m). Default: the "
         "config's sequence.")]
InputFormatOpt = Annotated[InputFormat | None, typer.Option(
    "--input-format", show_default=False,
    help="Format of --inputs; by default from its suffix (stdin: from its first line).")]


BatchFirstOpt = Annotated[bool, typer.Option(
    "--batch-first", help="A 3-d .npy input is (B, T, m), not (T, B, m).")]
RowsOpt = Annotated[int, typer.Option(
    "--rows", min=2, metavar="N",
    help="Steps shown in a table; a longer sequence shows its first and last N/2.")]
LayoutOpt = Annotated[Layout | None, typer.Option(
    "--layout", show_default=False,
    help="The layout of a framework weight file (.npz, .pt, .h5, ...) given as CONFIG; by "
         "default detected from its names.")]
ActivationsOpt = Annotated[str | None, typer.Option(
    "--activations", metavar="GATES,CANDIDATE,CELL", show_default=False,
    help="For a framework weight file (whose activations the file does not record): e.g. "
         "hard_sigmoid_keras,tanh,tanh for an older Keras LSTM.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress display on stderr for long work (it shows only when "
                          "stderr is a terminal).")]
NameOpt = Annotated[str | None, typer.Option(
    "--name", metavar="NAME", show_default=False,
    help="Which LSTM of a weight file that holds several: a module path (encoder, "
         "model.encoder), a layer name or an ONNX node name; `lstmcalc inspect FILE` lists them.")]
ForgetBiasOpt = Annotated[float | None, typer.Option(
    "--forget-bias", metavar="X", show_default=False,
    help="TF1's constant added to the forget gate (default 1.0, as TF1).")]
MaxBytesOpt = Annotated[int, typer.Option(
    "--max-input-bytes", min=1, max=2**62, metavar="N",
    help="Refuse input files larger than this (and arrays that would unpack to more).")]
SvgOpt = Annotated[str | None, typer.Option(
    "--svg", metavar="FILE", show_default=False,
    help="Also save the tables as SVG, for slides and notes (whatever stdout gets).")]
HtmlOpt = Annotated[str | None, typer.Option(
    "--html", metavar="FILE", show_default=False,
    help="Also save the tables as HTML (whatever stdout gets).")]
StochasticOpt = Annotated[bool, typer.Option(
    "--stochastic", help="Also show the founding answer's stochastic reading of the gates (a "
                         "non-standard variant): a unit is on when u ~ U(0,1) < its value.")]
SeedOpt = Annotated[int | None, typer.Option(
    "--seed", metavar="N", min=0, max=2**63 - 1, show_default=False,
    help="Seed of the stochastic reading's draws (default 0); the same seed, the same draws.")]


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
        if e.source == "<stdout>":
            _quiet_stdout()
        _fail(e.status, *(f"error: {line}" for line in e.lines()))
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, and keep Python's exit-time flush of
        # stdout from complaining about the closed pipe.
        _quiet_stdout()
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


def _fail(status: int, *messages: str):
    """Each message as one line on stderr, then the exit status."""
    with contextlib.suppress(OSError, AttributeError):  # stderr closed: the status still says
        for message in messages:
            message = " ".join(message.split("\n"))  # one line, always
            sys.stderr.write(f"lstmcalc: {message}\n")
        sys.stderr.flush()
    raise typer.Exit(int(status)) from None


def _quiet_stdout() -> None:
    """Point a stdout that failed at /dev/null, so that Python's exit-time flush of what it
    still holds neither complains nor changes the exit status."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def table_only(fmt: Format, **options):
    """Options that only change the table output are refused with the others, not ignored."""
    given = [name for name, value in options.items() if value]
    if given and fmt is not Format.table:
        raise UsageError(f"{', '.join(given)} {'shows' if len(given) == 1 else 'show'} in the "
                         f"table format only (got --format {fmt.value})")


def not_for_stacks(**options):
    """Options a stacked or bidirectional model does not take yet are refused, not ignored."""
    given = [name for name, value in options.items() if value]
    if given:
        raise UsageError(f"{', '.join(given)}: not available yet for stacked or bidirectional "
                         "LSTMs")


def stochastic_seed(stochastic: bool, seed: int | None) -> int:
    """The seed of the stochastic reading's draws, 0 unless given; --seed alone is refused."""
    if seed is not None and not stochastic:
        raise UsageError("--seed goes with --stochastic")
    return 0 if seed is None else seed


def stack_sizes(cells: list) -> list[tuple[int, int]]:
    """(r, n) of every layer's and direction's cell, in PyTorch's h_0 order."""
    return [(cell.state_size, cell.hidden_size) for layer in cells for cell in layer]


def stdin_once(**paths):
    users = [name for name, path in paths.items() if path == STDIN]
    if len(users) > 1:
        raise UsageError(f"{' and '.join(users)} cannot both be read from stdin (-)")


def parse_fields(text: str | None) -> frozenset | None:
    if text is None:
        return None
    fields = frozenset(f.strip() for f in text.split(",") if f.strip())
    unknown = sorted(fields - set(FIELDS))
    if unknown or not fields:
        raise UsageError(f"--fields: unknown field {', '.join(map(repr, unknown)) or '(none)'}; "
                         f"choose from {', '.join(FIELDS)}")
    return fields


# glibc's malloc gives freed memory at the top of its heap back to the system once 128 KB
# lie there, and takes it back, page by page, at the next allocation: a stream that builds
# and frees a few hundred KB of text and arrays per chunk pays that every chunk (1,000,000
# JSONL steps: 10.8 s, 9.4 s with a 64 MB threshold; the peak is the same). M_TRIM_THRESHOLD.
_TRIM_THRESHOLD = 64 << 20


def _keep_freed_memory() -> None:
    """Raise glibc's trim threshold for this process (a command-line run, never the library);
    elsewhere (another C library, another system) nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-1, _TRIM_THRESHOLD)  # -1: M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # no mallopt: musl, a static build
        pass


def main():
    """The console script: the app, with Click's usage errors completed by a usage line."""
    _keep_freed_memory()
    try:
        from typer._click import core as click_core
        from typer._click import exceptions as click_errors
    except ImportError:  # a Typer that still depends on Click itself
        # older Typer: Click itself, absent where Typer vendors it
        from click import core as click_core  # type: ignore[no-redef,import-not-found,unused-ignore]
        from click import exceptions as click_errors  # type: ignore[no-redef,import-not-found,unused-ignore]
    # Ctrl-C at a prompt: Click's Abort, which Typer 0.29 keeps in typer.exceptions
    abort = getattr(click_errors, "Abort", None) or getattr(typer, "Abort", KeyboardInterrupt)
    try:
        status = app(prog_name="lstmcalc", standalone_mode=False)
    except click_errors.ClickException as e:
        # the documented first line, then (for a usage error) how the command is called
        lines = [f"lstmcalc: error: {shown(e.format_message())}"]
        if isinstance(e, click_errors.UsageError):
            ctx = e.ctx
            if ctx is None:  # e.g. "--format requires an argument" comes without its command
                group = typer.main.get_command(app)
                name = next((a for a in sys.argv[1:] if a in group.commands), None)
                command = group.commands.get(name, group)
                info = f"lstmcalc {name}" if name else "lstmcalc"
                usage = command.get_usage(click_core.Context(command, info_name=info))
            else:
                info, usage = ctx.command_path, ctx.get_usage()
            lines += [usage, f"Try '{info} -h' for help."]
        with contextlib.suppress(OSError, AttributeError):
            sys.stderr.write("\n".join(lines) + "\n")
        sys.exit(e.exit_code)
    except abort:
        sys.stderr.write("lstmcalc: interrupted\n")
        sys.exit(int(ExitStatus.INTERRUPTED))
    sys.exit(status if isinstance(status, int) else 0)

