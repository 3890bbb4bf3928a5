"""lstmcalc unroll: a whole sequence, streamed or at once."""

import itertools
from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.choices import Format, Show, View
from lstmcalc.cli.app import (
    ActivationsOpt,
    BatchFirstOpt,
    ConfigArg,
    ArithmeticOpt,
    CompareToOpt,
    ForgetBiasOpt,
    FormatOpt,
    HtmlOpt,
    InputFormatOpt,
    InputsOpt,
    LayoutOpt,
    NameOpt,
    QuietOpt,
    MaxBytesOpt,
    PrecisionOpt,
    RowsOpt,
    SeedOpt,
    StateOpt,
    StochasticOpt,
    SvgOpt,
    app,
    arithmetic,
    load_spec,
    sequence_lengths,
    not_for_stacks,
    parse_fields,
    reported,
    stack_sizes,
    stdin_once,
    stochastic_seed,
    table_only,
)
from lstmcalc.document import MAX_BYTES, display_name
from lstmcalc.errors import DataError, UsageError


@app.command(short_help="A whole sequence x_1..x_T, h and C carried along.",
             epilog="""\b
Examples:
  lstmcalc unroll                      the founding cell over its sequence
  lstmcalc unroll cfg.yaml --inputs xs.csv -f csv   one CSV row per step
  lstmcalc unroll cfg.yaml -i xs.npy --view heatmap
  tail -f xs.jsonl | lstmcalc unroll cfg.yaml -i - -f jsonl   (streams)
  lstmcalc unroll cfg.yaml -i a.csv --state-out s.json && \\
      lstmcalc unroll cfg.yaml -i b.csv --state s.json   (resumes)""")
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
    lengths_opt: Annotated[str | None, typer.Option(
        "--lengths", metavar="N,N,...", show_default=False,
        help="A ragged batch: each sequence's length, one per sequence of a (T, B, m) input; "
             "past it a sequence is not run (ONNX's sequence_lens, PyTorch's packed "
             "sequences). An ONNX node's own sequence_lens are read from the file.")] = None,
    rows: RowsOpt = 20,
    precision: PrecisionOpt = 4,
    dtype: ArithmeticOpt = "float64",
    compare_to: CompareToOpt = None,
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
    name: NameOpt = None,
    quiet: QuietOpt = False,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Run a sequence x_1..x_T through the cell, carrying h and C from step to step."""
    with reported():
        from lstmcalc import config, core, files, reports, sequences

        stdin_once(**{"CONFIG": config_path, "--inputs": inputs, "--state": state})
        chosen = parse_fields(fields)
        fmt = output.resolve(fmt, text_views=view is View.heatmap)
        table_only(fmt, **{"--view heatmap": view is View.heatmap})
        seed = stochastic_seed(stochastic, seed)
        if final and (stochastic or plot):
            raise UsageError(f"--final keeps no steps: it cannot go with "
                             f"{'--stochastic' if stochastic else '--plot'}")
        if stochastic and (fmt is Format.csv or view is View.heatmap):
            raise UsageError("--stochastic shows in the step table, json, jsonl and yaml")
        if plot is not None:
            output.require_plot()
        out = files.prepare({"state": state_out, "plot": plot, "svg": svg, "html": html},
                            [config_path, inputs, state])
        spec = load_spec(config_path, max_input_bytes, layout, forget_bias, activations, name,
                         lengths_ok=True)
        lengths = sequence_lengths(spec, lengths_opt)
        the_cell, compared = arithmetic(spec, dtype, compare_to, lengths is not None)
        m, n = the_cell.input_size, the_cell.hidden_size
        h0, c0 = spec.h, spec.c
        show = Show(precision=precision, rows=rows, fields=chosen, view=view,
                    title="lstmcalc unroll")
        cells = spec.stack_cells(dtype) if spec.is_stack else None
        if lengths is not None and cells is None:  # one cell, run as a stack of one
            cells = [[the_cell]]
            h0 = None if h0 is None else [h0]
            c0 = None if c0 is None else [c0]
        if cells is not None:
            not_for_stacks(**{"--stochastic": stochastic})
        if state is not None:
            if cells is None:
                h0, c0 = config.load_state(state, n, max_input_bytes, the_cell.state_size)
            elif lengths is not None and not spec.is_stack:
                h, c = config.load_state(state, n, max_input_bytes, the_cell.state_size)
                h0, c0 = [h], [c]
            else:
                h0, c0 = config.load_stack_state(state, stack_sizes(cells), max_input_bytes)

        in_fmt = None
        if inputs is not None:
            in_fmt = sequences.format_of(inputs, input_format and input_format.value)
        streaming = in_fmt in (*sequences.LINE_FORMATS, "auto") and plot is None and (
            final or fmt in (Format.jsonl, Format.csv)) and cells is None and not compared
        if streaming:
            assert inputs is not None and in_fmt is not None  # streaming reads --inputs
            with sequences.open_lines(inputs) as (source, opened):
                # a file gives its rows without waiting: compute them 2048 at a time; a pipe,
                # those that have arrived (up to 2048), their lines written before waiting on
                pipe = sequences.pipe_lines(opened, max_input_bytes)
                size = sequences.regular_file_size(opened)
                chunk = 2048 if size is not None or pipe is not None else 1
                lines = sequences.decoded(opened if pipe is None else pipe, source,
                                          limit=max_input_bytes)
                # a file's or a pipe's plain lines, a block at a time (a pipe's as they arrive)
                blocks = None
                if pipe is not None:
                    blocks = pipe.blocks()
                elif size is not None:
                    blocks = sequences.line_blocks(opened, max_input_bytes)
                if in_fmt == "auto":
                    first = next(lines, "")
                    in_fmt = sequences.sniff(first)
                    lines = itertools.chain([first], lines)
                    if blocks is not None:  # the first line, read already, goes first
                        blocks = itertools.chain([first.encode()], blocks)
                if in_fmt in sequences.LINE_FORMATS:
                    given = sequences.file_rows(blocks, in_fmt, source, m, max_input_bytes,
                                                chunk) \
                        if blocks is not None and in_fmt in ("csv", "tsv", "txt") else \
                        sequences.rows(lines, in_fmt, source, m)
                    stream = reports.stream_report(
                        the_cell, given, source, h0, c0,
                        spec.output, stochastic, seed, chunk, written=not final,
                        ready=None if pipe is None else pipe.ready)
                    with output.progress("unroll", output.progress_wanted(quiet, fmt),
                                         size or None) as advance:
                        stream.chunks = _reporting(stream, stream.chunks, advance,
                                                   opened if size else None)
                        last = stream.final() if final else None
                        if last is None:
                            output.emit(stream, fmt, show)
                            assert stream.h is not None and stream.c is not None  # it ran
                            last = reports.FinalReport(the_cell, stream.h, stream.c, stream.T)
                        else:
                            output.emit(last, fmt, show)
                else:  # a JSON or YAML document after all
                    text, size = [], 0
                    for line in lines:  # a whole document from a pipe obeys the cap too
                        size += len(line)
                        if size > max_input_bytes:
                            raise DataError(f"input is larger than the {max_input_bytes:,}-byte "
                                            "cap (raise it with --max-input-bytes)", source)
                        text.append(line)
                    xs = sequences._document("".join(text), source, in_fmt)
            if in_fmt in sequences.LINE_FORMATS:
                if "state" in out:
                    out["state"].commit(output.state_text(last))
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
                            display_name(inputs) if inputs else spec.source)

        if cells is not None:
            sr = core.stack_unroll(cells, spec.directions, xs, h0, c0, lengths)
            stack_report = reports.StackReport(spec.source, sr, final)
            # the picture first: if it cannot be drawn, nothing has been written yet
            picture = output.png(stack_report, f"lstmcalc unroll {spec.source}") \
                if "plot" in out else None
            output.emit(stack_report, fmt, show, out.get("svg"), out.get("html"))
            if picture is not None:
                out["plot"].commit(picture)
            if "state" in out:
                out["state"].commit(output.state_text(reports.StackReport(spec.source, sr,
                                                                           True)))
            return
        working = output.progress_wanted(quiet, fmt) and xs.shape[0] >= output.LONG
        if final:
            with output.progress(f"unroll, {xs.shape[0]:,} steps", working):
                last = reports.final_report(the_cell, xs, h0, c0)
            output.emit(last, fmt, show)
        else:
            label = spec.source + (f", inputs {display_name(inputs)}" if inputs else "")
            with output.progress(f"unroll, {xs.shape[0]:,} steps", working):
                run, precision_ = reports.computed(spec.cell, the_cell, xs, h0, c0, compared,
                                                   compare_to is not None)
            report = reports.run_report(label, run, spec.output, stochastic, seed, precision_)
            # the picture first: if it cannot be drawn, nothing has been written yet
            picture = output.png(report, f"lstmcalc unroll {label}") if "plot" in out else None
            output.emit(report, fmt, show, out.get("svg"), out.get("html"))
            last = reports.FinalReport(the_cell, run.h[-1], run.c[-1], run.T)
            if picture is not None:
                out["plot"].commit(picture)
        if "state" in out:
            out["state"].commit(output.state_text(last))


def _reporting(stream, chunks, advance, opened):
    """The stream's chunks, telling the progress display after each."""
    for chunk in chunks:
        yield chunk
        advance(stream.T, opened.tell() if opened is not None else 0)
