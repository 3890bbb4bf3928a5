"""What each command shows, assembled from the core's result objects for one renderer.

The CLI decides what was asked; these functions compute the extras (output layer, slopes,
stochastic reading), pick the renderer for the format and write the result.
"""

import sys

from lstmcalc.choices import Format, View
from lstmcalc.errors import DataError, LstmcalcError, NonFiniteError
from lstmcalc.output import print_rich, write_out


def step_extras(result, spec, derivatives: bool, stochastic: bool, seed: int) -> dict:
    """What the options add to a step, computed once for every renderer."""
    import numpy as np

    from lstmcalc import core

    extras = {}
    if spec.output is not None:
        extras["output_preactivation"], extras["y"] = spec.output(result.h)
    if derivatives:
        from lstmcalc.render.teach import derivative_arrays

        extras["derivatives"] = derivative_arrays(result)
    if stochastic:
        u = np.random.default_rng(seed).random(result.batch_shape + (3, result.cell.hidden_size))
        extras["stochastic"] = (seed, core.stochastic_reading(result, u.astype(result.a.dtype)))
    return extras


def extras_dict(extras: dict, conv, stochastic: bool = True) -> dict:
    out = {}
    if "y" in extras:
        out["output_preactivation"] = conv(extras["output_preactivation"])
        out["y"] = conv(extras["y"])
    if "derivatives" in extras:
        out["derivatives"] = {key: conv(arr) for key, arr in extras["derivatives"].items()}
    if "stochastic" in extras and stochastic:
        from lstmcalc.render.machine import reading_dict

        out["stochastic"] = reading_dict(*extras["stochastic"], conv)
    return out


def step_table(result, spec, precision, extras, explain, derivatives, diagram, checks):
    import numpy as np
    from rich.console import Group

    from lstmcalc.render import teach
    from lstmcalc.render.table import step_view

    parts = [step_view(result, precision, spec.source)]
    for b in np.ndindex(*result.batch_shape):
        if "y" in extras:
            parts.append(teach.output_view(spec.output, extras["output_preactivation"],
                                           extras["y"], precision, b))
        if derivatives:
            parts.append(teach.derivatives_view(result, b))
        if "stochastic" in extras:
            parts.append(teach.stochastic_view(result, extras["stochastic"][1],
                                               extras["stochastic"][0], precision, b))
        if explain:
            parts.append(teach.explain_view(result, precision, b))
        if diagram:
            from lstmcalc.render.diagram import diagram_view

            parts.append(diagram_view(result, b))
    if checks is not None:
        parts.append(teach.expect_view(checks))
    return Group(*parts)


def report_checks(checks):
    """For the machine formats: stdout holds the data, so the check goes to stderr."""
    bad = [ch for ch in checks if not ch.agrees]
    for ch in bad:
        unit = f" unit {ch.unit}" if ch.unit else ""
        sys.stderr.write(f"lstmcalc: differs: {ch.key}{unit}: yours {ch.written}, lstmcalc "
                         f"{ch.true!r}, difference {ch.written_value - ch.true:.3g} "
                         f"(tolerance {ch.tolerance:.3g})\n")
    sys.stderr.write(f"lstmcalc: checked {len(checks)} values: {len(checks) - len(bad)} agree, "
                     f"{len(bad)} differ\n")


def state_text(the_cell, h, c) -> str:
    from lstmcalc.render.machine import dumps, header, numbers

    return dumps({**header(the_cell, h.shape[:-1]), "h": numbers(h), "c": numbers(c)}) + "\n"


def emit_final(the_cell, h, c, T: int, fmt: Format):
    from lstmcalc.render import machine

    if fmt is Format.csv:
        rows = [["steps"] + [f"h[{j}]" for j in range(h.shape[-1])]
                + [f"c[{j}]" for j in range(c.shape[-1])]]
        for hb, cb in zip(machine.numbers(h.reshape(-1, h.shape[-1])),
                          machine.numbers(c.reshape(-1, c.shape[-1]))):
            rows.append([T] + [repr(v) for v in hb + cb])
        write_out(machine.csv_text(rows))
    elif fmt is Format.table:
        from lstmcalc.render.table import final_view

        print_rich(final_view(the_cell, h, c, T))
    else:  # json, yaml, or jsonl's one line
        write_out(machine.document(lambda numbers: machine.final_dict(the_cell, h, c, T, numbers),
                                   yaml=fmt is Format.yaml))


def record_extra(seed: int, reading_of=None, y_of=None, fields=None):
    """extra(t, numbers) for a step record: the output layer's y_t and the stochastic reading,
    or None when there is neither."""
    from lstmcalc.render import machine

    if fields is not None and "y" not in fields:
        y_of = None
    if reading_of is None and y_of is None:
        return None

    def extra(t, numbers):
        out = {}
        if y_of is not None:
            z, y = y_of(t)
            out["output_preactivation"], out["y"] = numbers(z), numbers(y)
        if reading_of is not None:
            out["stochastic"] = machine.reading_dict(seed, reading_of(t), numbers)
        return out
    return extra


def emit_run(run, fmt: Format, view: View, fields, rows: int, precision: int,
             source: str, readings=None, seed: int = 0, svg=None, html=None, layer=None):
    from lstmcalc.render import machine

    zy = ys = None
    if layer is not None:
        zy, ys = layer(run.h)  # (T, ..., q)
    extra = record_extra(seed, None if readings is None else (lambda t: readings[t - 1]),
                         None if layer is None else (lambda t: (zy[t - 1], ys[t - 1])), fields)

    if fmt is Format.table:
        if view is View.heatmap:
            from lstmcalc.render.heatmap import heatmap_view

            view_ = heatmap_view(run, source)
        else:
            from lstmcalc.render.table import run_view

            view_ = run_view(run, precision, source, rows, readings, seed, ys)
        print_rich(view_, svg, html, title="lstmcalc unroll")
    elif fmt is Format.json:
        write_out(machine.run_json(run, fields, extra))
    elif fmt is Format.yaml:
        write_out(machine.run_yaml(run, fields, extra))
    elif fmt is Format.jsonl:
        for line in machine.run_jsonl(run, fields, extra):
            write_out(line)
    else:
        for chunk in machine.run_csv(run, fields, ys if fields is None or "y" in fields else None):
            write_out(chunk)


def _chunks(rows, size: int):
    """Lists of up to `size` rows. A bad row ends its chunk early: the rows before it come
    out first, and its error is raised on the next call."""
    chunk = []
    try:
        for row in rows:
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
    except LstmcalcError:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def stream(the_cell, rows, source: str, h, c, fmt: Format, fields, final: bool, rng=None,
           seed: int = 0, layer=None, chunk: int = 1):
    """Steps as rows arrive, each line written (and flushed) before more input is read.

    chunk: rows computed together (a regular file can give many without waiting; a pipe gives
    one at a time). A chunk is one unroll, which computes bit for bit what its steps one by one
    would; a value that stops being finite sends the chunk through step by step instead, so
    that the error names its own step after the lines before it are written."""
    import numpy as np

    from lstmcalc import core
    from lstmcalc.render import machine

    done = 0

    def emit(s, t):
        zy, y = layer(s.h) if layer is not None else (None, None)
        if fmt is Format.csv:
            y_csv = y if fields is None or "y" in fields else None
            lines = machine.csv_rows(s, fields, t, y_csv)
            if t == 1:
                lines.insert(0, machine.csv_header(s, fields, t=True, y=y_csv))
            write_out(machine.csv_text(lines))
        else:
            reading = None if rng is None else core.stochastic_reading(
                s, rng.random((*s.batch_shape, 3, s.cell.hidden_size)).astype(s.a.dtype))
            extra = record_extra(seed, None if reading is None else (lambda t: reading),
                                 None if layer is None else (lambda t: (zy, y)), fields)
            write_out(machine.jsonl_line(s, t, fields, extra))

    try:
        for block in _chunks(rows, chunk):
            try:
                run = core.unroll(the_cell, np.asarray(block), h, c)
                steps = [run.step(j) for j in range(run.T)]
            except NonFiniteError:
                steps = None
            for j in range(len(block)):
                t = done + 1
                if steps is None:
                    try:
                        s = core.step(the_cell, np.asarray(block[j]), h, c)
                    except NonFiniteError as e:
                        raise DataError(f"step {t}: {e}", source) from None
                else:
                    s = steps[j]
                h, c = s.h, s.c
                if not final:
                    emit(s, t)
                done = t
    except LstmcalcError as e:
        written = "" if final else f"; the {done} steps before it were written"
        e.message += f" (stopped here{written})"
        raise
    if done == 0:
        raise DataError("the input holds no rows", source)
    if final:
        emit_final(the_cell, h, c, done, fmt)
    return h, c


def stack_dict(sr, fields, numbers, final: bool) -> dict:
    """The JSON of a stacked or bidirectional run: every layer and direction's run, the last
    layer's output, and the final states in PyTorch's (L D, ..., n) order."""
    from lstmcalc.render import machine

    first = sr.runs[0][0]
    out = machine.header(first.cell, first.batch_shape)
    out["num_layers"] = len(sr.runs)
    out["directions"] = list(sr.directions)
    if not final:
        out["layers"] = [{"layer": k + 1, "direction": direction,
                          **machine.run_dict(run, fields, numbers)}
                         for k, layer in enumerate(sr.runs)
                         for run, direction in zip(layer, sr.directions)]
        out["output"] = numbers(sr.output[-1])
    out["h"], out["c"] = numbers(sr.final_h), numbers(sr.final_c)
    return out


def emit_stack(sr, fmt: Format, view: View, fields, rows: int, precision: int, source: str,
               final: bool):
    from lstmcalc.render import machine

    if fmt is Format.table:
        from rich.console import Group
        from rich.text import Text

        parts = [Text.assemble(("lstmcalc unroll", "bold"), "  ", source,
                               f"  ({len(sr.runs)} layers, {', '.join(sr.directions)})")]
        for k, layer in enumerate(sr.runs):
            for run, direction in zip(layer, sr.directions):
                note = "" if direction == "forward" else \
                    "  (t counts this direction's steps: it reads the sequence from its end)"
                parts += [Text(), Text(f"Layer {k + 1}, {direction}{note}", style="bold")]
                if final:
                    from lstmcalc.render.table import final_view

                    parts.append(final_view(run.cell, run.h[-1], run.c[-1], run.T))
                elif view is View.heatmap:
                    from lstmcalc.render.heatmap import heatmap_view

                    parts.append(heatmap_view(run, source))
                else:
                    from lstmcalc.render.table import run_view

                    parts.append(run_view(run, precision, source, rows))
        print_rich(Group(*parts), title="lstmcalc unroll")
    elif fmt is Format.jsonl and not final:
        for k, layer in enumerate(sr.runs):
            for run, direction in zip(layer, sr.directions):
                def where(t, numbers, k=k, direction=direction):
                    return {"layer": k + 1, "direction": direction}
                for line in machine.run_jsonl(run, fields, where):
                    write_out(line)
    else:  # yaml, json (and jsonl --final, one line)
        write_out(machine.document(lambda numbers: stack_dict(sr, fields, numbers, final),
                                   yaml=fmt is Format.yaml))
