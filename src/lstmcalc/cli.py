"""The command line: parse options, load the spec, call the core, render once. No math here."""

import contextlib
import itertools
import os
import sys
import traceback
from typing import Annotated

import typer

from lstmcalc import __version__, output, present
from lstmcalc.choices import DType, Format, InputFormat, Layout, Loss, View
from lstmcalc.document import MAX_BYTES, STDIN
from lstmcalc.errors import DataError, ExitStatus, LstmcalcError, UsageError

# NumPy and the core load only when a command computes, so that --help and --version are quick.

app = typer.Typer(
    name="lstmcalc",
    help="An LSTM calculator: one step or a whole sequence, every gate shown and explained.",
    epilog="""\b
Examples:
  lstmcalc step                         the founding worked example, every gate annotated
  lstmcalc shapes                       the size of every variable
  lstmcalc unroll cfg.yaml -i xs.csv -f jsonl | jq -c .h
  lstmcalc grad cfg.yaml -i xs.csv --check
  lstmcalc COMMAND -h                   each command's options and examples""",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
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
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Floating-point type of the arithmetic.")]
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
    help="The layout of a framework weight file (.npz, .pt, .onnx) given as CONFIG; by "
         "default detected from its names.")]
ActivationsOpt = Annotated[str | None, typer.Option(
    "--activations", metavar="GATES,CANDIDATE,CELL", show_default=False,
    help="For a framework weight file (whose activations the file does not record): e.g. "
         "hard_sigmoid_keras,tanh,tanh for an older Keras LSTM.")]
ForgetBiasOpt = Annotated[float | None, typer.Option(
    "--forget-bias", metavar="X", show_default=False,
    help="TF1's constant added to the forget gate (default 1.0, as TF1).")]
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
        core = sys.modules.get("lstmcalc.cell")
        if core is not None and isinstance(e, core.Unsupported):
            _fail(ExitStatus.USAGE, f"error: {e}")
        if core is not None and isinstance(e, (core.NonFiniteError, core.ShapeError)):
            _fail(ExitStatus.DATA, f"error: {e}")
        if _debug:
            traceback.print_exc()
        _fail(ExitStatus.SOFTWARE, f"internal error: {type(e).__name__}: {e}"
              + ("" if _debug else " (run with --debug to see the traceback)"))


def _fail(status: int, message: str):
    message = " ".join(message.split("\n"))  # one line, always
    sys.stderr.write(f"lstmcalc: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(int(status)) from None


def _load(path: str | None, max_bytes: int, layout=None, forget_bias: float | None = None,
          activations: str | None = None):
    """The spec of a config (YAML or JSON), or of a framework's weight file."""
    from lstmcalc import config
    from lstmcalc.document import WEIGHT_SUFFIXES, is_weights_file

    if not is_weights_file(path):
        if layout is not None or forget_bias is not None or activations is not None:
            raise UsageError("--layout, --forget-bias and --activations are for framework "
                             f"weight files ({', '.join(WEIGHT_SUFFIXES)}); a config says "
                             "them itself")
        return config.load_builtin() if path is None else config.load(path, max_bytes)
    from lstmcalc import frameworks

    if forget_bias is not None and (layout or None) not in (None, Layout.tf1):
        raise UsageError("--forget-bias goes with the tf1 layout")
    stack, directions, chosen, how, (h0, c0) = frameworks.load(
        path, layout.value if layout else None, forget_bias, max_bytes)
    if activations is not None:
        stack = [[_with_activations(w, activations) for w in layer] for layer in stack]
    weights = stack[0][0]
    layers = f", {len(stack)} layers" if len(stack) > 1 else ""
    dirs = "" if directions == ("forward",) else f", {'+'.join(directions)}"
    single = len(stack) == 1 and directions == ("forward",)
    return config.Spec(f"{path} ({how}{layers}{dirs})", weights.cell(), None,
                       None if h0 is None else (h0[0] if single else h0),
                       None if c0 is None else (c0[0] if single else c0), None, None,
                       weights=weights, stack=stack, directions=directions)


SvgOpt = Annotated[str | None, typer.Option(
    "--svg", metavar="FILE", show_default=False,
    help="Also save the printed tables as SVG (table format), for slides and notes.")]
HtmlOpt = Annotated[str | None, typer.Option(
    "--html", metavar="FILE", show_default=False,
    help="Also save the printed tables as HTML (table format).")]
StochasticOpt = Annotated[bool, typer.Option(
    "--stochastic", help="Also show the founding answer's stochastic reading of the gates (a "
                         "non-standard variant): a unit is on when u ~ U(0,1) < its value.")]
SeedOpt = Annotated[int | None, typer.Option(
    "--seed", metavar="N", show_default=False,
    help="Seed of the stochastic reading's draws (default 0); the same seed, the same draws.")]


def _with_activations(weights, text: str):
    """weights with the activations --activations names (gates, candidate, cell)."""
    from dataclasses import replace

    from lstmcalc import layouts
    from lstmcalc.activations import Activation
    from lstmcalc.cell import Variant

    names = [t.strip() for t in text.split(",")]
    if len(names) != 3 or any(name not in Activation.NAMES for name in names):
        raise UsageError(f"--activations {text!r}: give three of {', '.join(Activation.NAMES)}, "
                         "for the gates, the candidate and the cell state")
    v = replace(weights.variant or Variant(), gate=Activation(names[0]),
                candidate=Activation(names[1]), cell=Activation(names[2]))
    return layouts.Weights(weights.Wx, weights.Wh, weights.bx, weights.bh, weights.forget_bias,
                           v if v.describe() else None)


def _check_table_only(fmt: Format, **options):
    """Options that only change the table output are refused with the others, not ignored."""
    given = [name for name, value in options.items() if value]
    if given and fmt is not Format.table:
        raise UsageError(f"{', '.join(given)} {'shows' if len(given) == 1 else 'show'} in the "
                         f"table format only (got --format {fmt.value})")


def _stdin_once(**paths):
    users = [name for name, path in paths.items() if path == STDIN]
    if len(users) > 1:
        raise UsageError(f"{' and '.join(users)} cannot both be read from stdin (-)")


@app.command(epilog="""\b
Examples:
  lstmcalc step                          the founding worked example
  lstmcalc step configs/founding.yaml    the same example, from its file
  lstmcalc step --explain --derivatives  every sum written out, every slope
  lstmcalc step cfg.yaml --expect mine.yaml    check your hand-worked numbers
  lstmcalc step cfg.yaml -f json | jq .h
  lstmcalc step cfg.yaml | lstmcalc step cfg.yaml --state -    two steps, chained""")
def step(
    config_path: ConfigArg = None,
    inputs: Annotated[str | None, typer.Option(
        "--inputs", "-i", metavar="FILE|-", show_default=False,
        help="x_t from a file (one row, any unroll --inputs format) instead of the config's x; "
             "needed with a framework weight file.")] = None,
    fmt: FormatOpt = Format.auto,
    precision: PrecisionOpt = 4,
    dtype: DTypeOpt = DType.float64,
    state: StateOpt = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Write out every pre-activation and product as one works it by hand."
    )] = False,
    derivatives: Annotated[bool, typer.Option(
        "--derivatives", help="Show each unit's slope (σ', tanh') against its bound and the "
                              "local derivatives along the cell path.")] = False,
    diagram: Annotated[bool, typer.Option(
        "--diagram", help="Draw the cell with this step's numbers on it.")] = False,
    expect: Annotated[str | None, typer.Option(
        "--expect", metavar="FILE|-", show_default=False,
        help="Check your hand-worked values (any of the JSON keys, YAML or JSON); exit 1 if "
             "any differ.")] = None,
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", min=0.0, metavar="X", show_default=False,
        help="With --expect: agree within X, instead of to the digits written.")] = None,
    stochastic: StochasticOpt = False,
    seed: SeedOpt = None,
    svg: SvgOpt = None,
    html: HtmlOpt = None,
    layout: LayoutOpt = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Run one LSTM cell step and show every gate: pre-activation, activation, meaning."""
    with reported():
        import numpy as np

        from lstmcalc import cell
        from lstmcalc.render import machine

        fmt = output.resolve(fmt)
        _check_table_only(fmt, **{"--explain": explain, "--diagram": diagram, "--svg": svg,
                                  "--html": html})
        if tolerance is not None and expect is None:
            raise UsageError("--tolerance goes with --expect")
        if seed is not None and not stochastic:
            raise UsageError("--seed goes with --stochastic")
        _stdin_once(**{"CONFIG": config_path, "--state": state, "--expect": expect,
                       "--inputs": inputs})
        from lstmcalc import files

        out = files.prepare({"svg": svg, "html": html}, [config_path, state, expect, inputs])
        spec = _load(config_path, max_input_bytes, layout, forget_bias, activations)
        x = spec.x
        if inputs is not None:
            from lstmcalc import sequences

            xs = sequences.read(inputs, None, False, spec.cell.input_size, max_input_bytes)
            if xs.shape[0] != 1:
                raise DataError(f"step takes one row, the input has {xs.shape[0]}: use lstmcalc "
                                "unroll for a sequence", inputs)
            x = xs[0]
        if x is None:
            hint = " (it has a sequence: use lstmcalc unroll)" if spec.sequence is not None \
                else ""
            raise DataError(f"no x in the config: step needs x_t, {spec.cell.input_size} "
                            f"numbers (or --inputs FILE){hint}", spec.source)
        h, c = spec.h, spec.c
        if spec.is_stack:
            given = [name for name, value in (
                ("--state", state), ("--explain", explain), ("--derivatives", derivatives),
                ("--diagram", diagram), ("--expect", expect), ("--stochastic", stochastic),
                ("--svg", svg), ("--html", html), ("--format csv", fmt is Format.csv)) if value]
            if given:
                raise UsageError(f"{', '.join(given)}: not available yet for stacked or "
                                 "bidirectional LSTMs")
            cells = [[w.cell().astype(dtype.value) for w in layer] for layer in spec.stack]
            sr = cell.stack_unroll(cells, spec.directions, np.asarray(x)[None], h, c)
            present.emit_stack(sr, fmt, View.table, None, 20, precision, spec.source, False)
            return
        if state is not None:
            from lstmcalc import config

            h, c = config.load_state(state, spec.cell.hidden_size, max_input_bytes,
                                     spec.cell.state_size)
        result = cell.step(spec.cell.astype(dtype.value), x, h, c)
        extras = present.step_extras(result, spec, derivatives, stochastic, seed)

        checks = None
        if expect is not None:
            from lstmcalc import expect as expecting

            truth = machine.step_dict(result)
            truth.update(present.extras_dict(extras, machine.numbers, stochastic=False))
            checks = expecting.check(expect, truth, tolerance, max_input_bytes)

        if fmt is Format.table:
            view_ = present.step_table(result, spec, precision, extras, explain, derivatives,
                                       diagram, checks)
            output.print_rich(view_, out.get("svg"), out.get("html"), title="lstmcalc step")
        else:
            conv = machine._for_json() if fmt in (Format.json, Format.jsonl) else \
                machine.numbers
            obj = machine.step_dict(result, numbers=conv)
            obj.update(present.extras_dict(extras, conv))
            if fmt in (Format.json, Format.jsonl):
                output.write_out(machine.dumps(obj) + "\n")
            elif fmt is Format.yaml:
                output.write_out(machine.yaml_text(obj))
            else:
                if derivatives or stochastic:
                    raise UsageError("--format csv holds the step's own columns (and y); use "
                                     "json or yaml for --derivatives or --stochastic")
                output.write_out(machine.to_csv(result, extras.get("y")))
            if checks is not None:
                present.report_checks(checks)
        if checks is not None and not all(ch.agrees for ch in checks):
            raise typer.Exit(int(ExitStatus.DIFFERENCES))


def main():
    """The console script: the app, with Click's usage errors completed by a usage line."""
    try:
        from typer._click import core as click_core, exceptions as click_errors
    except ImportError:  # a Typer that still depends on Click itself
        from click import core as click_core, exceptions as click_errors
    try:
        status = app(prog_name="lstmcalc", standalone_mode=False)
    except click_errors.ClickException as e:
        if isinstance(e, click_errors.UsageError) and e.ctx is None:
            # e.g. "--format requires an argument" comes without the command's usage line
            group = typer.main.get_command(app)
            name = next((a for a in sys.argv[1:] if a in group.commands), None)
            command = group.commands.get(name, group)
            info = f"lstmcalc {name}" if name else "lstmcalc"
            usage = command.get_usage(click_core.Context(command, info_name=info))
            sys.stderr.write(f"{usage}\nTry '{info} -h' for help.\n\n")
        e.show()
        sys.exit(e.exit_code)
    except click_errors.Abort:
        sys.stderr.write("lstmcalc: interrupted\n")
        sys.exit(int(ExitStatus.INTERRUPTED))
    sys.exit(status if isinstance(status, int) else 0)


def _fields(text: str | None) -> frozenset | None:
    from lstmcalc.render.machine import FIELDS

    if text is None:
        return None
    fields = frozenset(f.strip() for f in text.split(",") if f.strip())
    unknown = sorted(fields - set(FIELDS))
    if unknown or not fields:
        raise UsageError(f"--fields: unknown field {', '.join(map(repr, unknown)) or '(none)'}; "
                         f"choose from {', '.join(FIELDS)}")
    return fields


@app.command(epilog="""\b
Examples:
  lstmcalc unroll                                   the founding cell over its sequence
  lstmcalc unroll cfg.yaml --inputs xs.csv -f csv   one CSV row per step
  lstmcalc unroll cfg.yaml -i xs.npy --view heatmap
  tail -f xs.jsonl | lstmcalc unroll cfg.yaml -i - -f jsonl    streams, line by line
  lstmcalc unroll cfg.yaml -i a.csv --state-out s.json && \\
      lstmcalc unroll cfg.yaml -i b.csv --state s.json           resume where a.csv ended""")
def unroll(
    config_path: ConfigArg = None,
    inputs: InputsOpt = None,
    input_format: InputFormatOpt = None,
    batch_first: BatchFirstOpt = False,
    fmt: FormatOpt = Format.auto,
    view: Annotated[View, typer.Option(
        "--view", help="For the table format: a table of steps, or a heat map of units × time."
    )] = View.table,
    final: Annotated[bool, typer.Option(
        "--final", help="Write only the final h and C (computed without keeping the rest).")]
    = False,
    fields: Annotated[str | None, typer.Option(
        "--fields", metavar="KEY,...", show_default=False,
        help="Keep only these keys of each step (json, jsonl, yaml, csv), e.g. h,c,forget.")]
    = None,
    state: StateOpt = None,
    state_out: Annotated[str | None, typer.Option(
        "--state-out", metavar="FILE", show_default=False,
        help="Save the final h and C as JSON (atomically), for --state to resume from.")] = None,
    rows: RowsOpt = 20,
    precision: PrecisionOpt = 4,
    dtype: DTypeOpt = DType.float64,
    stochastic: StochasticOpt = False,
    seed: SeedOpt = None,
    plot: Annotated[str | None, typer.Option(
        "--plot", metavar="FILE.png", show_default=False,
        help="Also draw h, C and the gates over time as a PNG (needs the plot extra: "
             "pip install 'lstmcalc[plot]').")] = None,
    svg: SvgOpt = None,
    html: HtmlOpt = None,
    layout: LayoutOpt = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Run a sequence x_1..x_T through the cell, carrying h and C from step to step."""
    with reported():
        from lstmcalc import cell, config, files, sequences

        _stdin_once(**{"CONFIG": config_path, "--inputs": inputs, "--state": state})
        chosen = _fields(fields)
        fmt = output.resolve(fmt)
        _check_table_only(fmt, **{"--svg": svg, "--html": html,
                                  "--view heatmap": view is View.heatmap})
        if seed is not None and not stochastic:
            raise UsageError("--seed goes with --stochastic")
        if final and (stochastic or plot):
            raise UsageError(f"--final keeps no steps: it cannot go with "
                             f"{'--stochastic' if stochastic else '--plot'}")
        if stochastic and (fmt is Format.csv or view is View.heatmap):
            raise UsageError("--stochastic shows in the step table, json, jsonl and yaml")
        if plot is not None:
            from lstmcalc.render.plot import require_matplotlib

            require_matplotlib()
        out = files.prepare({"state": state_out, "plot": plot, "svg": svg, "html": html},
                            [config_path, inputs, state])
        spec = _load(config_path, max_input_bytes, layout, forget_bias, activations)
        the_cell = spec.cell.astype(dtype.value)
        m, n = the_cell.input_size, the_cell.hidden_size
        h0, c0 = spec.h, spec.c
        if spec.is_stack:
            given = [name for name, value in (("--state", state), ("--state-out", state_out),
                                              ("--stochastic", stochastic), ("--plot", plot),
                                              ("--svg", svg), ("--html", html),
                                              ("--format csv", fmt is Format.csv)) if value]
            if given:
                raise UsageError(f"{', '.join(given)}: not available yet for stacked or "
                                 "bidirectional LSTMs")
        if state is not None:
            h0, c0 = config.load_state(state, n, max_input_bytes, the_cell.state_size)
        rng = None
        if stochastic:
            import numpy as np

            rng = np.random.default_rng(0 if seed is None else seed)

        in_fmt = None
        if inputs is not None:
            in_fmt = sequences.format_of(inputs, input_format and input_format.value)
        streaming = in_fmt in (*sequences.LINE_FORMATS, "auto") and plot is None and (
            final or fmt in (Format.jsonl, Format.csv)) and not spec.is_stack
        if streaming:
            with sequences.open_lines(inputs) as (source, lines):
                if in_fmt == "auto":
                    first = next(lines, "")
                    in_fmt = sequences.sniff(first)
                    lines = itertools.chain([first], lines)
                if in_fmt in sequences.LINE_FORMATS:
                    # a file gives its rows without waiting: compute them 256 at a time
                    chunk = 256 if sequences.is_regular_file(lines) else 1
                    result = present.stream(the_cell, sequences.rows(lines, in_fmt, source, m),
                                            source, h0, c0, fmt, chosen, final, rng, seed,
                                            spec.output, chunk)
                else:  # a JSON or YAML document after all
                    xs = sequences._document("".join(lines), source, in_fmt)
            if in_fmt in sequences.LINE_FORMATS:
                if "state" in out:
                    out["state"].commit(present.state_text(the_cell, *result))
                return
        elif inputs is not None:
            xs = sequences.read(inputs, in_fmt, batch_first, m, max_input_bytes)
        elif spec.sequence is not None:
            xs = spec.sequence
        else:
            raise DataError("no sequence: give --inputs FILE, or a sequence in the config",
                            spec.source)
        if xs.shape[-1] != m:
            raise DataError(f"rows have {xs.shape[-1]} values, expected {m} (m = {m})",
                            inputs or spec.source)

        if spec.is_stack:
            cells = [[w.cell().astype(dtype.value) for w in layer] for layer in spec.stack]
            sr = cell.stack_unroll(cells, spec.directions, xs, spec.h, spec.c)
            present.emit_stack(sr, fmt, view, chosen, rows, precision, spec.source, final)
            return
        if final:
            h_all, c_last = cell.outputs(the_cell, xs, h0, c0)
            h_last, T = h_all[-1], xs.shape[0]
            present.emit_final(the_cell, h_last, c_last, T, fmt)
        else:
            run = cell.unroll(the_cell, xs, h0, c0)
            h_last, c_last = run.h[-1], run.c[-1]
            readings = None
            if rng is not None:
                u = rng.random((run.T, *run.batch_shape, 3, n)).astype(run.a.dtype)
                readings = [cell.stochastic_reading(run.step(t), u[t]) for t in range(run.T)]
            label = spec.source + (f", inputs {inputs}" if inputs else "")
            present.emit_run(run, fmt, view, chosen, rows, precision, label,
                             readings, 0 if seed is None else seed, out.get("svg"),
                             out.get("html"), spec.output)
            if "plot" in out:
                from lstmcalc.render.plot import png

                out["plot"].commit(png(run, f"lstmcalc unroll {label}"))
        if "state" in out:
            out["state"].commit(present.state_text(the_cell, h_last, c_last))


SizeOpt = Annotated[int | None, typer.Option(min=1, max=100_000, show_default=False)]


@app.command(epilog="""\b
Examples:
  lstmcalc shapes                          the founding example: m = 3, n = 3
  lstmcalc shapes cfg.yaml
  lstmcalc shapes --input-size 10 --hidden-size 20""")
def shapes(
    config_path: ConfigArg = None,
    input_size: Annotated[int | None, typer.Option(
        "--input-size", "-m", min=1, max=100_000, show_default=False,
        help="m, the entries of x_t (instead of a config).")] = None,
    hidden_size: Annotated[int | None, typer.Option(
        "--hidden-size", "-n", min=1, max=100_000, show_default=False,
        help="n, the hidden units (instead of a config).")] = None,
    fmt: FormatOpt = Format.auto,
    layout: LayoutOpt = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """The size of every variable, the parameter count, and whether C_t and h_t match."""
    with reported():
        sizes_given = input_size is not None or hidden_size is not None
        if sizes_given and config_path is not None:
            raise UsageError("give a CONFIG or --input-size and --hidden-size, not both")
        if sizes_given and (input_size is None or hidden_size is None):
            raise UsageError("--input-size and --hidden-size go together")
        if sizes_given:
            m, n, concat, layer, source = input_size, hidden_size, ("x", "h"), None, None
        else:
            spec = _load(config_path, max_input_bytes, layout, forget_bias, activations)
            if spec.is_stack:
                raise UsageError("shapes shows one cell yet: this file holds "
                                 f"{len(spec.stack)} layers, {'+'.join(spec.directions)}")
            m, n = spec.cell.input_size, spec.cell.hidden_size
            concat, layer, source = spec.cell.concat, spec.output, spec.source
        fmt = output.resolve(fmt)
        if fmt is Format.table:
            from lstmcalc.render.teach import shapes_view

            output.print_rich(shapes_view(m, n, concat, layer, source))
            return
        from lstmcalc.render import machine

        per_gate = n * (m + n) + n
        obj = {
            "input_size": m, "hidden_size": n, "concat": list(concat),
            "shapes": {"x": [m], "h_prev": [n], "c_prev": [n], "concatenated": [m + n],
                       **{f"W_{g[0] if g != 'candidate' else 'c'}": [n, m + n]
                          for g in ("forget", "input", "candidate", "output")},
                       **{f"b_{g[0] if g != 'candidate' else 'c'}": [n]
                          for g in ("forget", "input", "candidate", "output")},
                       "gates": [n], "c": [n], "h": [n]},
            "parameters": {"per_gate": per_gate, "total": 4 * per_gate},
            "cell_and_hidden_same_size": True,
        }
        if layer is not None:
            q = layer.W.shape[0]
            obj["shapes"].update({"W_y": [q, n], "b_y": [q], "y": [q]})
            obj["parameters"]["output_layer"] = q * n + q
        if fmt is Format.yaml:
            output.write_out(machine.yaml_text(obj))
        elif fmt is Format.csv:
            rows = [["variable", "shape"]] + [[k, "x".join(map(str, v))]
                                             for k, v in obj["shapes"].items()]
            output.write_out(machine.csv_text(rows))
        else:
            output.write_out(machine.dumps(obj) + "\n")


@app.command(epilog="""\b
Examples:
  lstmcalc init -m 4 -n 2 -o my.yaml             a commented template to fill in
  lstmcalc init --random --seed 1 | lstmcalc step -""")
def init(
    input_size: Annotated[int, typer.Option(
        "--input-size", "-m", min=1, max=10_000, help="m, the entries of x_t.")] = 3,
    hidden_size: Annotated[int, typer.Option(
        "--hidden-size", "-n", min=1, max=10_000, help="n, the hidden units.")] = 3,
    random: Annotated[bool, typer.Option(
        "--random", help="Fill in random values (weights as PyTorch initialises them) instead "
                         "of zeros.")] = False,
    seed: Annotated[int | None, typer.Option(
        "--seed", metavar="N", show_default=False,
        help="Seed for --random (default 0); the same seed, the same config.")] = None,
    target: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Write here (atomically) instead of to stdout.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="With -o: replace an existing file.")] = False,
):
    """Write a commented config template: zeros to fill in, or seeded random values."""
    with reported():
        import os

        import numpy as np

        from lstmcalc import files
        from lstmcalc.errors import OutputError
        from lstmcalc.template import config_text

        if seed is not None and not random:
            raise UsageError("--seed goes with --random")
        if force and target is None:
            raise UsageError("--force goes with --output")
        rng = np.random.default_rng(0 if seed is None else seed) if random else None
        text = config_text(input_size, hidden_size, rng)
        if target is None:
            output.write_out(text)
            return
        if os.path.exists(target) and not force:
            raise OutputError("exists; refusing to replace it (use --force)", target)
        files.AtomicFile(target).commit(text)


@app.command(epilog="""\b
Examples:
  lstmcalc grad                                  the founding example, L = sum of h_T
  lstmcalc grad cfg.yaml -i xs.csv --loss mse --target ys.csv --check
  lstmcalc grad cfg.yaml -i xs.csv --upstream dldh.json -f json | jq .cell_path
  lstmcalc grad cfg.yaml -i xs.npy --view heatmap""")
def grad(
    config_path: ConfigArg = None,
    inputs: InputsOpt = None,
    input_format: InputFormatOpt = None,
    batch_first: BatchFirstOpt = False,
    state: StateOpt = None,
    loss: Annotated[Loss | None, typer.Option(
        "--loss", show_default=False,
        help="sum: L = the sum of h_T (the default); mse: the mean of (h_t - target_t)^2 over "
             "every step, with --target.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="FILE|-", show_default=False,
        help="With --loss mse: the targets, T rows of n numbers (any --inputs format).")] = None,
    upstream: Annotated[str | None, typer.Option(
        "--upstream", metavar="FILE|-", show_default=False,
        help="Instead of a loss: dL/dh and dL/dC given (YAML or JSON keys dh and dc; dh of n "
             "numbers for h_T, or T rows for every step).")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Check every gradient of W and b against central finite differences "
                        "(float64); exit 1 if the largest relative error is over 1e-5.")]
    = False,
    check_samples: Annotated[int | None, typer.Option(
        "--check-samples", min=1, metavar="N", show_default=False,
        help="With --check: only N parameters, drawn at random (seed 0).")] = None,
    fmt: FormatOpt = Format.auto,
    view: Annotated[View, typer.Option(
        "--view", help="For the table format: tables, or a heat map of dL/dz and dL/dC over "
                       "time.")] = View.table,
    rows: RowsOpt = 20,
    precision: PrecisionOpt = 4,
    layout: LayoutOpt = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Backpropagate through one step or a whole sequence: dL/d of every weight, input and
    state, per step and gate, and how much gradient survives along the cell state."""
    with reported():
        import numpy as np

        from lstmcalc import cell, config, sequences

        fmt = output.resolve(fmt)
        _check_table_only(fmt, **{"--view heatmap": view is View.heatmap})
        _stdin_once(**{"CONFIG": config_path, "--inputs": inputs, "--state": state,
                       "--target": target, "--upstream": upstream})
        if upstream is not None and (loss is not None or target is not None):
            raise UsageError("--upstream replaces the loss: not with --loss or --target")
        loss = loss or (None if upstream is not None else Loss.sum)
        if (loss is Loss.mse) != (target is not None):
            raise UsageError("--loss mse needs --target FILE, and --target goes with --loss mse")
        if check_samples is not None and not check:
            raise UsageError("--check-samples goes with --check")
        if fmt is Format.csv:
            raise UsageError("grad writes table, json or yaml (its gradients are nested)")

        spec = _load(config_path, max_input_bytes, layout, forget_bias, activations)
        if spec.is_stack:
            raise UsageError("grad does not handle stacked or bidirectional LSTMs yet")
        the_cell = spec.cell.astype(np.float64)
        m, n = the_cell.input_size, the_cell.hidden_size
        h0, c0 = spec.h, spec.c
        if state is not None:
            h0, c0 = config.load_state(state, n, max_input_bytes, the_cell.state_size)
        if inputs is not None:
            in_fmt = sequences.format_of(inputs, input_format and input_format.value)
            xs = sequences.read(inputs, None if in_fmt == "auto" else in_fmt, batch_first, m,
                                max_input_bytes)
        elif spec.sequence is not None:
            xs = spec.sequence
        elif spec.x is not None:
            xs = spec.x[None]  # one step
        else:
            raise DataError("no input: give --inputs FILE, or x or a sequence in the config",
                            spec.source)
        run = cell.unroll(the_cell, xs, h0, c0)
        label = spec.source + (f", inputs {inputs}" if inputs else "")

        if upstream is not None:
            dh_out, dc_last = config.load_upstream(upstream, run, max_input_bytes)

            def loss_fn(r):
                return cell.loss_given(r, dh_out, dc_last)
            kind = "given"
        elif loss is Loss.mse:
            ys = sequences.read(target, None, False, n, max_input_bytes)
            if ys.shape[0] != run.T:
                raise DataError(f"the target has {ys.shape[0]} rows, the sequence {run.T} steps",
                                target)

            def loss_fn(r):
                return cell.loss_mse(r, ys.reshape(run.h.shape) if ys.size == run.h.size
                                     else ys[:, None] if run.batch_shape else ys)
            kind = "mse"
        else:
            def loss_fn(r):
                return cell.loss_sum(r)
            kind = "sum"
        value, dh_out, dc_last = loss_fn(run)
        grads = cell.backward(run, dh_out, dc_last)
        products = cell.forget_products(run)
        summary = None
        if check:
            from lstmcalc import gradcheck

            summary = gradcheck.check(the_cell, xs, h0, c0, lambda r: loss_fn(r)[0],
                                      grads.dW, grads.db, check_samples, dP=grads.dP,
                                      dWp=grads.dWp)
        loss_info = {"kind": kind, "value": value}

        from lstmcalc.render import grad as grad_render

        if fmt is Format.table:
            if view is View.heatmap:
                from lstmcalc.render.heatmap import grad_heatmap_view

                output.print_rich(grad_heatmap_view(run, grads, label))
            else:
                output.print_rich(grad_render.grad_view(run, grads, loss_info, spec.gate_names,
                                                  spec.split, products, precision,
                                                  label, rows, summary))
        else:
            from lstmcalc.render import machine

            conv = machine._for_json() if fmt in (Format.json, Format.jsonl) else \
                machine.numbers
            obj = grad_render.grad_dict(run, grads, loss_info, spec.gate_names, spec.split,
                                        products, summary, conv)
            output.write_out(machine.dumps(obj) + "\n" if fmt is not Format.yaml else
                      machine.yaml_text(obj))
        if summary is not None and not summary["passed"]:
            raise typer.Exit(int(ExitStatus.DIFFERENCES))




@app.command(epilog="""\b
Examples:
  lstmcalc convert lstm.pt --to keras -o keras.npz
  lstmcalc convert keras.npz --from keras --to yaml -o cell.yaml
  lstmcalc convert cell.yaml --to onnx -o cell.onnx
  lstmcalc convert tf1.npz --from tf1 --forget-bias 1.0 --to pytorch -o torch.npz""")
def convert(
    source: Annotated[str, typer.Argument(
        metavar="SRC", help="A framework weight file (.npz, .pt, .onnx) or a config (YAML, "
                            "JSON).", show_default=False)],
    to: Annotated[str, typer.Option(
        "--to", metavar="LAYOUT|yaml|json",
        help="pytorch, keras, onnx or tf1 (written as .npz with that framework's names, or as "
             ".pt / .onnx by the -o suffix), or a yaml or json config.", show_default=False)],
    from_: Annotated[Layout | None, typer.Option(
        "--from", show_default=False,
        help="The layout of SRC when its names do not tell (a weight file only).")] = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    target: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Write here (atomically); text formats go to stdout without it.")] = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Convert LSTM weights between PyTorch, Keras, ONNX, TF1 and lstmcalc configs."""
    with reported():
        from lstmcalc import files, frameworks, layouts

        kinds = (*layouts.LAYOUTS, "yaml", "json")
        if to not in kinds:
            raise UsageError(f"--to {to!r}: choose from {', '.join(kinds)}")
        out = files.prepare({"out": target}, [source])
        spec = _load(source, max_input_bytes, from_, forget_bias, activations)
        if spec.is_stack:
            raise UsageError("convert reads one cell yet, not stacked or bidirectional LSTMs")
        weights = spec.weights
        if to in ("yaml", "json"):
            data = frameworks.config_text(weights, source, as_json=to == "json")
        else:
            suffix = (target or "").lower()
            if to == "pytorch" and suffix.endswith((".pt", ".pth")):
                data = frameworks.pt_bytes(weights)
            elif to == "onnx" and suffix.endswith(".onnx"):
                data = frameworks.onnx_bytes(weights)
            elif target is None or suffix.endswith(".npz"):
                data = frameworks.save_npz(to, weights)
                if target is None and output.stdout_is_terminal():
                    raise UsageError("a .npz is binary: give -o FILE.npz (or pipe stdout)")
            else:
                raise UsageError(f"-o {target}: --to {to} writes .npz"
                                 + {"pytorch": ", .pt or .pth", "onnx": " or .onnx"}.get(to, ""))
            if weights.forget_bias and to != "tf1":
                sys.stderr.write(f"lstmcalc: note: the forget bias {weights.forget_bias} is "
                                 f"added to the forget gate's b for {to}\n")
        if target is None:
            if isinstance(data, bytes):
                sys.stdout.flush()
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            else:
                output.write_out(data)
        else:
            out["out"].commit(data)
