"""lstmcalc unroll: a whole sequence, streamed or at once."""

import itertools
from typing import Annotated

import typer

from lstmcalc import output, present
from lstmcalc.choices import DType, Format, View
from lstmcalc.cli.app import (
    ActivationsOpt,
    BatchFirstOpt,
    ConfigArg,
    DTypeOpt,
    ForgetBiasOpt,
    FormatOpt,
    HtmlOpt,
    InputFormatOpt,
    InputsOpt,
    LayoutOpt,
    MaxBytesOpt,
    PrecisionOpt,
    RowsOpt,
    SeedOpt,
    StateOpt,
    StochasticOpt,
    SvgOpt,
    app,
    load_spec,
    not_for_stacks,
    parse_fields,
    reported,
    stdin_once,
    stochastic_seed,
    table_only,
)
from lstmcalc.document import MAX_BYTES
from lstmcalc.errors import DataError, UsageError


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
        from lstmcalc import config, core, files, sequences

        stdin_once(**{"CONFIG": config_path, "--inputs": inputs, "--state": state})
        chosen = parse_fields(fields)
        fmt = output.resolve(fmt)
        table_only(fmt, **{"--svg": svg, "--html": html,
                                  "--view heatmap": view is View.heatmap})
        seed = stochastic_seed(stochastic, seed)
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
        spec = load_spec(config_path, max_input_bytes, layout, forget_bias, activations)
        the_cell = spec.cell.astype(dtype.value)
        m, n = the_cell.input_size, the_cell.hidden_size
        h0, c0 = spec.h, spec.c
        if spec.is_stack:
            not_for_stacks(**{"--state": state, "--state-out": state_out,
                              "--stochastic": stochastic, "--plot": plot, "--svg": svg,
                              "--html": html, "--format csv": fmt is Format.csv})
        if state is not None:
            h0, c0 = config.load_state(state, n, max_input_bytes, the_cell.state_size)
        rng = None
        if stochastic:
            import numpy as np

            rng = np.random.default_rng(seed)

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
            sr = core.stack_unroll(spec.stack_cells(dtype.value), spec.directions, xs, spec.h,
                                   spec.c)
            present.emit_stack(sr, fmt, view, chosen, rows, precision, spec.source, final)
            return
        if final:
            h_all, c_last = core.outputs(the_cell, xs, h0, c0)
            h_last, T = h_all[-1], xs.shape[0]
            present.emit_final(the_cell, h_last, c_last, T, fmt)
        else:
            run = core.unroll(the_cell, xs, h0, c0)
            h_last, c_last = run.h[-1], run.c[-1]
            readings = None
            if rng is not None:
                u = rng.random((run.T, *run.batch_shape, 3, n)).astype(run.a.dtype)
                readings = [core.stochastic_reading(run.step(t), u[t]) for t in range(run.T)]
            label = spec.source + (f", inputs {inputs}" if inputs else "")
            present.emit_run(run, fmt, view, chosen, rows, precision, label, readings, seed,
                             out.get("svg"), out.get("html"), spec.output)
            if "plot" in out:
                from lstmcalc.render.plot import png

                out["plot"].commit(png(run, f"lstmcalc unroll {label}"))
        if "state" in out:
            out["state"].commit(present.state_text(the_cell, h_last, c_last))
