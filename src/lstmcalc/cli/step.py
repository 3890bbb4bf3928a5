"""lstmcalc step: one step, every gate shown."""

from typing import Annotated

import typer

from lstmcalc import output, present
from lstmcalc.choices import DType, Format, View
from lstmcalc.cli.app import (
    ActivationsOpt,
    ConfigArg,
    DTypeOpt,
    ForgetBiasOpt,
    FormatOpt,
    HtmlOpt,
    LayoutOpt,
    MaxBytesOpt,
    PrecisionOpt,
    SeedOpt,
    StateOpt,
    StochasticOpt,
    SvgOpt,
    app,
    load_spec,
    not_for_stacks,
    reported,
    stdin_once,
    stochastic_seed,
    table_only,
)
from lstmcalc.document import MAX_BYTES
from lstmcalc.errors import DataError, ExitStatus, UsageError


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

        from lstmcalc import core
        from lstmcalc.render import machine

        fmt = output.resolve(fmt)
        table_only(fmt, **{"--explain": explain, "--diagram": diagram, "--svg": svg,
                                  "--html": html})
        if tolerance is not None and expect is None:
            raise UsageError("--tolerance goes with --expect")
        seed = stochastic_seed(stochastic, seed)
        stdin_once(**{"CONFIG": config_path, "--state": state, "--expect": expect,
                       "--inputs": inputs})
        from lstmcalc import files

        out = files.prepare({"svg": svg, "html": html}, [config_path, state, expect, inputs])
        spec = load_spec(config_path, max_input_bytes, layout, forget_bias, activations)
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
            not_for_stacks(**{"--state": state, "--explain": explain,
                              "--derivatives": derivatives, "--diagram": diagram,
                              "--expect": expect, "--stochastic": stochastic, "--svg": svg,
                              "--html": html, "--format csv": fmt is Format.csv})
            sr = core.stack_unroll(spec.stack_cells(dtype.value), spec.directions,
                                   np.asarray(x)[None], h, c)
            present.emit_stack(sr, fmt, View.table, None, 20, precision, spec.source, False)
            return
        if state is not None:
            from lstmcalc import config

            h, c = config.load_state(state, spec.cell.hidden_size, max_input_bytes,
                                     spec.cell.state_size)
        result = core.step(spec.cell.astype(dtype.value), x, h, c)
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
            if fmt in (Format.json, Format.jsonl, Format.yaml):
                output.write_out(machine.document(
                    lambda numbers: {**machine.step_dict(result, numbers=numbers),
                                     **present.extras_dict(extras, numbers)},
                    yaml=fmt is Format.yaml))
            else:
                if derivatives or stochastic:
                    raise UsageError("--format csv holds the step's own columns (and y); use "
                                     "json or yaml for --derivatives or --stochastic")
                output.write_out(machine.to_csv(result, extras.get("y")))
            if checks is not None:
                present.report_checks(checks)
        if checks is not None and not all(ch.agrees for ch in checks):
            raise typer.Exit(int(ExitStatus.DIFFERENCES))
