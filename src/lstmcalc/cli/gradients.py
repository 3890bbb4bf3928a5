"""lstmcalc grad: backpropagation through a step or a sequence."""

from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.choices import GRAD_FORMATS, Format, Loss, Show, View
from lstmcalc.cli.app import (
    ActivationsOpt,
    BatchFirstOpt,
    ConfigArg,
    ArithmeticOpt,
    ForgetBiasOpt,
    FormatOpt,
    InputFormatOpt,
    InputsOpt,
    LayoutOpt,
    NameOpt,
    QuietOpt,
    MaxBytesOpt,
    PrecisionOpt,
    RowsOpt,
    StateOpt,
    app,
    given_sequence,
    load_spec,
    reported,
    stdin_once,
    stack_sizes,
    table_only,
)
from lstmcalc.document import MAX_BYTES, display_name
from lstmcalc.errors import DataError, ExitStatus, UsageError


@app.command(short_help="Gradients by backpropagation through time.",
             epilog="""\b
Examples:
  lstmcalc grad                 the founding example, L = sum of h_T
  lstmcalc grad cfg.yaml -i xs.csv --loss mse --target ys.csv --check
  lstmcalc grad cfg.yaml -i xs.csv --upstream dldh.json -f json
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
                        "(float64); exit 1 if any relative error is over 1e-5 where the "
                        "absolute error is over 1e-9 max(1, |L|).")]
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
    dtype: ArithmeticOpt = "float64",
    layout: LayoutOpt = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    name: NameOpt = None,
    quiet: QuietOpt = False,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Backpropagate through one step or a whole sequence: dL/d of every weight, input and
    state, per step and gate, and how much gradient survives along the cell state. With a
    narrow --dtype the forward pass runs in that format and the backward pass in float64
    through the values it computed (a straight-through estimate)."""
    with reported():

        from lstmcalc import config, core, reports, sequences

        fmt = output.resolve(fmt, text_views=view is View.heatmap)
        table_only(fmt, **{"--view heatmap": view is View.heatmap})
        stdin_once(**{"CONFIG": config_path, "--inputs": inputs, "--state": state,
                       "--target": target, "--upstream": upstream})
        if upstream is not None and (loss is not None or target is not None):
            raise UsageError("--upstream replaces the loss: not with --loss or --target")
        loss = loss or (None if upstream is not None else Loss.sum)
        if (loss is Loss.mse) != (target is not None):
            raise UsageError("--loss mse needs --target FILE, and --target goes with --loss mse")
        if check_samples is not None and not check:
            raise UsageError("--check-samples goes with --check")
        if fmt is Format.csv:
            raise UsageError(GRAD_FORMATS)

        spec = load_spec(config_path, max_input_bytes, layout, forget_bias, activations, name)
        the_cell = spec.cell_in(dtype)
        if the_cell.number is not None and check:
            raise UsageError(f"--check compares with finite differences of float64 arithmetic; "
                             f"--dtype {dtype} rounds every value, so it has none to compare")
        n = the_cell.hidden_size
        h0, c0 = spec.h, spec.c
        cells = spec.stack_cells(dtype) if spec.is_stack else None
        if state is not None:
            if cells is None:
                h0, c0 = config.load_state(state, n, max_input_bytes, the_cell.state_size)
            else:
                h0, c0 = config.load_stack_state(state, stack_sizes(cells), max_input_bytes)
        xs = given_sequence(spec, inputs, input_format and input_format.value, batch_first,
                            max_input_bytes)
        label = spec.source + (f", inputs {display_name(inputs)}" if inputs else "")
        show = Show(precision=precision, rows=rows, view=view)
        # the outputs the loss reads: h_t of the cell, or the stack's top-layer output
        width = the_cell.state_size if cells is None else \
            sum(cell.state_size for cell in cells[-1])
        T = xs.shape[0]
        working = output.progress_wanted(quiet, fmt) and T >= output.LONG
        ys = None
        if target is not None:
            ys = sequences.read(target, None, False, width, max_input_bytes)
            if ys.shape[0] != T:
                raise DataError(f"the target has {ys.shape[0]} rows, the sequence {T} steps",
                                display_name(target))

        if cells is not None:
            if upstream is not None:
                out_like = core.stack_unroll(cells, spec.directions, xs, h0, c0).output[-1]
                dy, _ = config.load_upstream(upstream, out_like, None, max_input_bytes)
                kind, out_loss = "given", (lambda y: core.linear(y, dy))
            elif ys is not None:
                kind, out_loss = "mse", (lambda y: core.mean_squared(y, ys))
            else:
                kind, out_loss = "sum", core.sum_last
            with output.progress(f"grad, {T:,} steps", working):
                report = reports.stack_grad_report(label, cells, spec.directions, xs, h0, c0,
                                                   out_loss, kind, check, check_samples)
            output.emit(report, fmt, show)
            if report.check is not None and not report.check["passed"]:
                raise typer.Exit(int(ExitStatus.DIFFERENCES))
            return
        if upstream is not None:
            dh_out, dc_last = config.load_upstream(upstream, core.unroll(the_cell, xs, h0, c0).h,
                                                   n, max_input_bytes)

            def loss_fn(r):
                return core.loss_given(r, dh_out, dc_last)
            kind = "given"
        elif ys is not None:
            def loss_fn(r):
                return core.loss_mse(r, ys)
            kind = "mse"
        else:
            def loss_fn(r):
                return core.loss_sum(r)
            kind = "sum"
        with output.progress(f"grad, {T:,} steps", working):
            one = reports.grad_report(label, the_cell, xs, h0, c0, loss_fn, kind,
                                      spec.gate_names, spec.split, check, check_samples)
        output.emit(one, fmt, show)
        if one.check is not None and not one.check["passed"]:
            raise typer.Exit(int(ExitStatus.DIFFERENCES))
