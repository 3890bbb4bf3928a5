"""lstmcalc step: one step, every gate shown."""

from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.choices import Format, Show
from lstmcalc.cli.app import (
    ActivationsOpt,
    ArithmeticOpt,
    CompareToOpt,
    ConfigArg,
    ForgetBiasOpt,
    FormatOpt,
    HtmlOpt,
    LayoutOpt,
    NameOpt,
    MaxBytesOpt,
    PrecisionOpt,
    SeedOpt,
    StateOpt,
    StochasticOpt,
    SvgOpt,
    app,
    arithmetic,
    load_spec,
    not_for_stacks,
    reported,
    stack_sizes,
    stdin_once,
    stochastic_seed,
    table_only,
)
from lstmcalc.document import MAX_BYTES, display_name
from lstmcalc.errors import DataError, ExitStatus, UsageError


@app.command(short_help="One cell step, every gate shown and explained.",
             epilog="""\b
Examples:
  lstmcalc step                          the founding worked example
  lstmcalc step configs/founding.yaml    the same example, from its file
  lstmcalc step --explain --derivatives  every sum written out, every slope
  lstmcalc step cfg.yaml --expect mine.yaml    check your hand-worked numbers
  lstmcalc step cfg.yaml -f json | jq .h
  lstmcalc step cfg.yaml | lstmcalc step cfg.yaml --state -   (two steps)""")
def step(
    config_path: ConfigArg = None,
    inputs: Annotated[str | None, typer.Option(
        "--inputs", "-i", metavar="FILE|-", show_default=False,
        help="x_t from a file (one row, any unroll --inputs format) instead of the config's x; "
             "needed with a framework weight file.")] = None,
    fmt: FormatOpt = Format.auto,
    precision: PrecisionOpt = 4,
    dtype: ArithmeticOpt = "float64",
    compare_to: CompareToOpt = None,
    hex_words: Annotated[bool, typer.Option(
        "--hex", help="With a narrow --dtype: every signal's words in hex (two's complement "
                      "codes, or IEEE bit patterns), unit 1 first.")] = False,
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
    name: NameOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Run one LSTM cell step and show every gate: pre-activation, activation, meaning."""
    with reported():
        import numpy as np

        from lstmcalc import core, files, reports

        fmt = output.resolve(fmt, text_views=explain or diagram)
        table_only(fmt, **{"--explain": explain, "--diagram": diagram})
        if tolerance is not None and expect is None:
            raise UsageError("--tolerance goes with --expect")
        seed = stochastic_seed(stochastic, seed)
        stdin_once(**{"CONFIG": config_path, "--state": state, "--expect": expect,
                       "--inputs": inputs})
        out = files.prepare({"svg": svg, "html": html}, [config_path, state, expect, inputs])
        spec = load_spec(config_path, max_input_bytes, layout, forget_bias, activations, name)
        x = spec.x
        if inputs is not None:
            from lstmcalc import sequences

            xs = sequences.read(inputs, None, False, spec.cell.input_size, max_input_bytes)
            if xs.shape[0] != 1:
                raise DataError(f"step takes one row, the input has {xs.shape[0]}: use lstmcalc "
                                "unroll for a sequence", display_name(inputs))
            x = xs[0]
        if x is None:
            hint = " (it has a sequence: use lstmcalc unroll)" if spec.sequence is not None \
                else ""
            raise DataError(f"no x in the config: step needs x_t, {spec.cell.input_size} "
                            f"numbers (or --inputs FILE){hint}", spec.source)
        h, c = spec.h, spec.c
        show = Show(precision=precision, explain=explain, derivatives=derivatives,
                    diagram=diagram, title="lstmcalc step", hex=hex_words)
        the_cell, compared = arithmetic(spec, dtype, compare_to)  # refuses what a stack can't
        if spec.is_stack:
            not_for_stacks(**{"--explain": explain, "--derivatives": derivatives,
                              "--diagram": diagram, "--expect": expect,
                              "--stochastic": stochastic, "--hex": hex_words})
            cells = spec.stack_cells(dtype)
            if state is not None:
                from lstmcalc import config

                h, c = config.load_stack_state(state, stack_sizes(cells), max_input_bytes)
            sr = core.stack_unroll(cells, spec.directions, np.asarray(x)[None], h, c)
            output.emit(reports.StackReport(spec.source, sr), fmt, show, out.get("svg"),
                        out.get("html"))
            return
        if state is not None:
            from lstmcalc import config

            h, c = config.load_state(state, spec.cell.hidden_size, max_input_bytes,
                                     spec.cell.state_size)
        if hex_words and the_cell.number is None:
            raise UsageError("--hex shows a narrow format's words: give --dtype float16, "
                             "bfloat16 or qI.F")
        # a step is a run of one
        run, precision_ = reports.computed(spec.cell, the_cell, np.asarray(x)[None], h, c,
                                           compared, compare_to is not None)
        report = reports.step_report(spec.source, run.step(0), spec.output, derivatives,
                                     stochastic, seed, precision_)
        if expect is not None:
            from dataclasses import replace

            from lstmcalc import expect as expecting

            report = replace(report, checks=expecting.check(expect, reports.truth(report),
                                                             tolerance, max_input_bytes))
        output.emit(report, fmt, show, out.get("svg"), out.get("html"))
        if report.checks is not None:
            if fmt is not Format.table:
                output.emit_checks(report.checks)
            if any(ch.wrong for ch in report.checks):  # a blank is not answered, not wrong
                raise typer.Exit(int(ExitStatus.DIFFERENCES))
