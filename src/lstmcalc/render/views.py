"""One report in, one view out: the renderer each (report, format) pair calls.

Pure: reads a report from lstmcalc.reports and returns text (a string, or an iterator of
strings for output that streams) or a Rich renderable. No maths, no stdout: output.emit writes.
"""

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from lstmcalc.choices import GRAD_FORMATS, Format, Show, View
from lstmcalc.errors import UsageError
from lstmcalc import records
from lstmcalc.render import machine
from lstmcalc.reports import (CompareReport, FinalReport, GradReport, InspectReport, RunReport,
                              ShapesReport,
                              StackGradReport, StackReport, StackShapesReport, StepReport,
                              StreamReport, extras_dict)

Rendered = Any  # str | Iterator[str] | a Rich renderable


def render(report, fmt: Format, show: Show) -> Rendered:
    if isinstance(report, StepReport):
        return step_table(report, show) if fmt is Format.table else step_text(report, fmt)
    if isinstance(report, RunReport):
        return run_table(report, show) if fmt is Format.table else run_text(report, fmt, show)
    if isinstance(report, FinalReport):
        return final_table(report) if fmt is Format.table else final_text(report, fmt)
    if isinstance(report, StackReport):
        return stack_table(report, show) if fmt is Format.table else \
            stack_text(report, fmt, show)
    if isinstance(report, StreamReport):
        return stream_text(report, fmt, show)
    if isinstance(report, GradReport):
        return grad_table(report, show) if fmt is Format.table else grad_text(report, fmt)
    if isinstance(report, StackGradReport):
        return stack_grad_table(report, show) if fmt is Format.table else \
            stack_grad_text(report, fmt)
    if isinstance(report, ShapesReport | StackShapesReport):
        return shapes_table(report) if fmt is Format.table else shapes_text(report, fmt)
    if isinstance(report, InspectReport):
        return inspect_table(report) if fmt is Format.table else inspect_text(report, fmt)
    if isinstance(report, CompareReport):
        return compare_table(report) if fmt is Format.table else compare_text(report, fmt)
    raise TypeError(f"no renderer for {type(report).__name__}")


# One step ----------------------------------------------------------------------------------

def step_text(report: StepReport, fmt: Format) -> str:
    if fmt is Format.csv:
        if report.derivatives is not None or report.stochastic is not None:
            raise UsageError("--format csv holds the step's own columns (and y); use json or "
                             "yaml for --derivatives or --stochastic")
        return machine.to_csv(report.step, None if report.output is None else report.output[1])
    return machine.document(
        lambda numbers: {**machine.step_dict(report.step, numbers=numbers),
                         **extras_dict(report, numbers)}, yaml=fmt is Format.yaml)


def step_table(report: StepReport, show: Show):
    from rich.console import Group

    from lstmcalc.render import teach
    from lstmcalc.render.table import step_view

    step = report.step
    parts = [step_view(report, show.precision)]
    for b in np.ndindex(*step.batch_shape):
        if report.output is not None:
            parts.append(teach.output_view(report.output_layer, *report.output,
                                           show.precision, b))
        if report.derivatives is not None:
            parts.append(teach.derivatives_view(step, report.derivatives, b, show.precision))
        if report.stochastic is not None:
            seed, reading = report.stochastic
            parts.append(teach.stochastic_view(step, reading, seed, show.precision, b))
        if show.explain:
            parts.append(teach.explain_view(step, report.terms, show.precision, b,
                                            report.saturation))
        if show.diagram:
            from lstmcalc.render.diagram import diagram_notes, diagram_view

            from lstmcalc.render.fit import NeedsWidth

            parts.append(NeedsWidth(diagram_view(step, b), "The diagram"))
            if not step.cell.variant.is_standard:
                parts.append(diagram_notes(step, b))
    if report.precision is not None:
        from lstmcalc.render.precision import precision_view

        parts.append(precision_view(report.precision, step.cell.number))
    if show.hex and step.cell.number is not None:
        from lstmcalc.render.precision import hex_view

        parts.append(hex_view(step.cell.number, records.signals(
            step.x, step.h_prev, step.c_prev, step.z, step.a, step.fc, step.ig, step.c,
            step.tanh_c, step.h)))
    if report.checks is not None:
        parts.append(teach.expect_view(report.checks))
    return Group(*parts)


def checks_text(checks) -> str:
    """For the machine formats, whose stdout holds the data: the check, for stderr."""
    from lstmcalc.expect import blanks

    bad = [ch for ch in checks if ch.wrong]
    blank = [ch for ch in checks if not ch.answered]
    out = "".join(f"lstmcalc: differs: {ch.key}{f' unit {ch.unit}' if ch.unit else ''}: yours "
                  f"{ch.written}, lstmcalc {ch.true!r}, difference "
                  f"{ch.written_value - ch.true:.3g} (tolerance {ch.tolerance:.3g})\n"
                  for ch in bad)
    out += "".join(f"lstmcalc: not answered: {key}" + (f" (units {units})" if units else "")
                   + "\n" for key, units in blanks(checks).items())
    answered = len(checks) - len(blank)
    return out + (f"lstmcalc: checked {answered} values: {answered - len(bad)} agree, "
                  f"{len(bad)} differ" + (f", {len(blank)} not answered" if blank else "")
                  + "\n")


# Sequences ---------------------------------------------------------------------------------

def _record_extra(output, readings, seed: int, fields):
    """extra(t, numbers) for a step record: y_t and the stochastic reading, or None.
    output(t) -> (z_y, y) or None; readings(t) -> Reading or None."""
    if fields is not None and "y" not in fields:
        output = None
    if readings is None and output is None:
        return None

    def extra(t, numbers):
        out = {}
        if output is not None:
            z, y = output(t)
            out["output_preactivation"], out["y"] = numbers(z), numbers(y)
        if readings is not None:
            out["stochastic"] = records.reading_dict(seed, readings(t), numbers)
        return out
    return extra


def run_text(report: RunReport, fmt: Format, show: Show) -> Rendered:
    run, fields = report.run, show.fields
    out, drawn = report.output, report.readings
    extra = _record_extra(None if out is None else (lambda t: (out[0][t - 1], out[1][t - 1])),
                          None if drawn is None else (lambda t: drawn[t - 1]),
                          report.seed, fields)
    more = None if report.precision is None else {
        "number_format": records.precision_dict(report.precision)}
    if fmt is Format.json:
        return machine.run_json(run, fields, extra, more)
    if fmt is Format.yaml:
        return machine.run_yaml(run, fields, extra, more)
    if fmt is Format.jsonl:
        return machine.run_jsonl(run, fields, extra)
    ys = None if out is None or (fields is not None and "y" not in fields) else out[1]
    return machine.run_csv(run, fields, ys)


def run_table(report: RunReport, show: Show):
    if show.view is View.heatmap:
        from lstmcalc.render.heatmap import heatmap_view

        return heatmap_view(report.run, report.source)
    from lstmcalc.render.table import run_view

    view = run_view(report.run, show.precision, report.source, show.rows, report.readings,
                    report.seed, None if report.output is None else report.output[1],
                    report.saturation)
    if report.precision is None:
        return view
    from rich.console import Group

    from lstmcalc.render.precision import precision_view

    return Group(view, precision_view(report.precision, report.run.cell.number))


def final_text(report: FinalReport, fmt: Format) -> str:
    h, c, T = report.h, report.c, report.T
    if fmt is Format.csv:
        rows: list[list] = [["steps"] + [f"h[{j}]" for j in range(h.shape[-1])]
                            + [f"c[{j}]" for j in range(c.shape[-1])]]
        for hb, cb in zip(machine.numbers(h.reshape(-1, h.shape[-1])),
                          machine.numbers(c.reshape(-1, c.shape[-1]))):
            rows.append([T] + [repr(v) for v in hb + cb])
        return machine.csv_text(rows)
    return machine.document(lambda numbers: machine.final_dict(report.cell, h, c, T, numbers),
                            yaml=fmt is Format.yaml)


def final_table(report: FinalReport):
    from lstmcalc.render.table import final_view

    return final_view(report.cell, report.h, report.c, report.T)


def state_text(report: FinalReport | StackReport) -> str:
    """The final state as --state reads it back."""
    if isinstance(report, StackReport):
        return machine.dumps(stack_dict(replace(report, final=True), None,
                                        records.numbers)) + "\n"
    h, c = report.h, report.c
    return machine.dumps({**machine.header(report.cell, h.shape[:-1]),
                          "h": machine.numbers(h), "c": machine.numbers(c)}) + "\n"


def stream_text(report: StreamReport, fmt: Format, show: Show) -> Iterator[str]:
    """The lines of each chunk of steps as soon as the chunk is computed (one write for the
    rows that arrived together, before more input is waited for)."""
    fields = show.fields
    for chunk in report.chunks:
        outs, drawn, t0 = chunk.outputs, chunk.readings, chunk.t0
        if fmt is Format.csv:
            lines = []
            for j, s in enumerate(chunk.steps):
                out = None if outs is None else outs[j]
                y_csv = None if out is None or (fields is not None and "y" not in fields) \
                    else out[1]
                if t0 + j == 1:
                    lines.append(machine.csv_header(s, fields, t=True, y=y_csv))
                lines += machine.csv_rows(s, fields, t0 + j, y_csv)
            yield machine.csv_text(lines)
            continue
        extra = _record_extra(None if outs is None else (lambda t: outs[t - t0]),
                              None if drawn is None else (lambda t: drawn[t - t0]),
                              report.seed, fields)
        if chunk.run is not None:
            yield from machine.run_jsonl(chunk.run, fields, extra, t0)
        else:
            yield "".join(machine.jsonl_line(s, t0 + j, fields, extra)
                          for j, s in enumerate(chunk.steps))


# Stacks ------------------------------------------------------------------------------------

def stack_dict(report: StackReport, fields, numbers) -> dict:
    """The JSON of a stacked or bidirectional run: every layer and direction's run, the last
    layer's output, and the final states in PyTorch's (L D, ..., n) order."""
    sr = report.stack
    first = sr.runs[0][0]
    out = machine.header(first.cell, first.batch_shape)
    out["num_layers"] = len(sr.runs)
    out["directions"] = records.directions_json(sr.directions)
    if sr.lengths is not None:
        out["lengths"] = sr.lengths.tolist()
    if not report.final:
        out["layers"] = [{"layer": k + 1, "direction": direction,
                          **machine.run_dict(run, fields, numbers)}
                         for k, layer in enumerate(sr.runs)
                         for run, direction in zip(layer, sr.layer_directions[k])]
        out["output"] = numbers(sr.output[-1])
    out["h"], out["c"] = numbers(sr.final_h), numbers(sr.final_c)
    return out


def stack_text(report: StackReport, fmt: Format, show: Show) -> Rendered:
    sr = report.stack
    if fmt is Format.csv:
        return stack_csv(report, show)
    if fmt is Format.jsonl and not report.final:
        def lines():
            for k, layer in enumerate(sr.runs):
                for run, direction in zip(layer, sr.layer_directions[k]):
                    def where(t, numbers, k=k, direction=direction):
                        return {"layer": k + 1, "direction": direction}
                    yield from machine.run_jsonl(run, show.fields, where)
        return lines()
    return machine.document(lambda numbers: stack_dict(report, show.fields, numbers),
                            yaml=fmt is Format.yaml)


def stack_csv(report: StackReport, show: Show) -> Iterator[str]:
    """One row per step (and sequence of a batch), in input order: every layer's and
    direction's h and C side by side; with --final one row of the final states."""
    keys = ("h", "c") if show.fields is None else tuple(k for k in ("h", "c")
                                                           if k in show.fields)
    if not keys or show.fields is not None and set(show.fields) - {"h", "c"}:
        raise UsageError("a stack's CSV holds h and c per layer and direction (--fields h,c); "
                         "use json or jsonl for the gates")
    sr = report.stack
    first = sr.runs[0][0]
    cols = []  # (name, (T, ..., k) in input order)
    for k, layer in enumerate(sr.runs):
        for run, direction in zip(layer, sr.layer_directions[k]):
            suffix = "" if direction == "forward" else "_reverse"
            for key in keys:
                arr = run.h if key == "h" else run.c
                cols.append((f"{key}_l{k + 1}{suffix}",
                             arr[::-1] if direction == "reverse" else arr))
    batch = first.batch_shape
    lead = ["steps"] if report.final else ["t"]
    head = lead + (["sequence"] if batch else []) + [
        f"{name}[{j}]" for name, arr in cols for j in range(arr.shape[-1])]
    yield machine.csv_text([head])
    if report.final:  # the last state of each run: its own last step
        finals = []
        for k, layer in enumerate(sr.runs):
            for run in layer:
                finals += [run.h[-1] if key == "h" else run.c[-1] for key in keys]
        flat = np.concatenate([a.reshape(-1, a.shape[-1]) for a in finals], axis=-1)
        yield machine.csv_text([[first.T] + ([b + 1] if batch else []) +
                                [repr(v) for v in row]
                                for b, row in enumerate(records.numbers(flat))])
        return
    for t in range(first.T):
        flat = np.concatenate([arr[t].reshape(-1, arr.shape[-1]) for _, arr in cols], axis=-1)
        yield machine.csv_text([[t + 1] + ([b + 1] if batch else []) + [repr(v) for v in row]
                                for b, row in enumerate(records.numbers(flat))])


def stack_table(report: StackReport, show: Show):
    from rich.console import Group
    from rich.text import Text

    from lstmcalc.render.heatmap import heatmap_view
    from lstmcalc.render.table import final_view, run_view

    sr = report.stack
    parts: list = [Text.assemble(("lstmcalc unroll", "bold"), "  ", report.source,
                                 f"  ({records.layers_text(len(sr.runs), sr.directions)})")]
    if sr.lengths is not None:
        parts.append(Text(records.lengths_text(sr.lengths), style="yellow"))
    for k, layer in enumerate(sr.runs):
        for run, direction in zip(layer, sr.layer_directions[k]):
            note = "" if direction == "forward" else \
                "  (t counts this direction's steps: it reads the sequence from its end)"
            parts += [Text(), Text(f"Layer {k + 1}, {direction}{note}", style="bold")]
            if report.final:
                parts.append(final_view(run.cell, run.h[-1], run.c[-1], run.T))
            elif show.view is View.heatmap:
                parts.append(heatmap_view(run, report.source))
            else:
                parts.append(run_view(run, show.precision, report.source, show.rows))
    return Group(*parts)


# Gradients ---------------------------------------------------------------------------------

def grad_text(report: GradReport, fmt: Format) -> str:
    from lstmcalc.render import grad

    if fmt is Format.csv:
        raise UsageError(GRAD_FORMATS)
    return machine.document(
        lambda numbers: grad.grad_dict(report.run, report.grads, report.loss, report.gate_names,
                                       report.split, report.products, report.dc_norm,
                                       report.check, numbers),
        yaml=fmt is Format.yaml)


def grad_table(report: GradReport, show: Show):
    if show.view is View.heatmap:
        from lstmcalc.render.heatmap import grad_heatmap_view

        return grad_heatmap_view(report.run, report.grads, report.source)
    from lstmcalc.render import grad

    return grad.grad_view(report.run, report.grads, report.loss, report.gate_names,
                          report.split, report.products, report.dc_norm, show.precision,
                          report.source, show.rows, report.check)


def stack_grad_text(report: StackGradReport, fmt: Format) -> str:
    from lstmcalc.render import grad

    if fmt is Format.csv:
        raise UsageError(GRAD_FORMATS)
    return machine.document(lambda numbers: grad.stack_grad_dict(report, numbers),
                            yaml=fmt is Format.yaml)


def stack_grad_table(report: StackGradReport, show: Show):
    if show.view is View.heatmap:
        from rich.console import Group
        from rich.text import Text

        from lstmcalc.render.heatmap import grad_heatmap_view

        sr, parts = report.stack, []
        for k, (runs, grads) in enumerate(zip(sr.runs, report.grads.grads)):
            for run, g, direction in zip(runs, grads, sr.layer_directions[k]):
                parts += [Text(f"Layer {k + 1}, {direction}", style="bold"),
                          grad_heatmap_view(run, g, report.source), Text()]
        return Group(*parts)
    from lstmcalc.render import grad

    return grad.stack_grad_view(report, show.precision, show.rows)


# Shapes ------------------------------------------------------------------------------------

def shapes_dict(report: ShapesReport) -> dict:
    m, n, p = report.m, report.n, report.p
    obj: dict = {
        "input_size": m, "hidden_size": n, "concat": list(report.concat),
        "shapes": records.sizes(m, n, p),
        "parameters": {"per_gate": report.per_gate, "total": report.total},
        "cell_and_hidden_same_size": p == n,
    }
    if p != n:
        obj["projection_size"] = p
        obj["shapes"]["W_hr"] = [p, n]
    if "peepholes" in report.features:
        obj["shapes"].update({f"p_{g}": [n] for g in ("f", "i", "o")})
    if report.variant_parameters:
        obj["parameters"]["variant"] = report.variant_parameters
    if report.q is not None:
        q = report.q
        obj["shapes"].update({"W_y": [q, p], "b_y": [q], "y": [q]})
        obj["parameters"]["output_layer"] = q * p + q
    return obj


def stack_shapes_dict(report: StackShapesReport) -> dict:
    return {"num_layers": max(k for k, _, _ in report.layers),
            "directions": records.directions_json(report.directions),
            "layers": [{"layer": k, "direction": d, **shapes_dict(shapes)}
                       for k, d, shapes in report.layers],
            "parameters": {"total": report.total}}


def shapes_text(report: ShapesReport | StackShapesReport, fmt: Format) -> str:
    if isinstance(report, StackShapesReport):
        obj = stack_shapes_dict(report)
        table = [[f"layer {k} {d}", name, "x".join(map(str, shape))]
                 for k, d, shapes in report.layers
                 for name, shape in shapes_dict(shapes)["shapes"].items()]
        head = ["cell", "variable", "shape"]
    else:
        obj = shapes_dict(report)
        table = [[k, "x".join(map(str, v))] for k, v in obj["shapes"].items()]
        head = ["variable", "shape"]
    if fmt is Format.yaml:
        return machine.yaml_text(obj)
    if fmt is Format.csv:
        return machine.csv_text([head] + table)
    return machine.dumps(obj) + "\n"


def shapes_table(report: ShapesReport | StackShapesReport):
    from lstmcalc.render.teach import shapes_view

    if isinstance(report, ShapesReport):
        return shapes_view(report)
    from rich.console import Group
    from rich.text import Text

    layers = records.layers_text(len({k for k, _, _ in report.layers}), report.directions)
    parts: list = [Text(f"{report.source or ''}: {layers}; "
                        f"{report.total} parameters",
                        style="bold")]
    for k, d, shapes in report.layers:
        parts += [Text(), Text(f"Layer {k}, {d}", style="bold"), shapes_view(shapes)]
    return Group(*parts)


# Inspect -----------------------------------------------------------------------------------

INSPECT_KEYS = ("name", "layout", "input_size", "hidden_size", "num_layers", "directions",
                "projection_size", "variants", "dtype")
_OTHER_SHOWN = 12  # the table names this many of the file's other keys or nodes


def inspect_text(report: InspectReport, fmt: Format) -> str:
    """A list of objects, one per LSTM (INSPECT_KEYS, or name and problem)."""
    rows = [dict(entry) for entry in report.lstms]
    if fmt is Format.jsonl:
        return "".join(machine.dumps(row) + "\n" for row in rows)
    if fmt is Format.yaml:
        return machine.yaml_text(rows)
    if fmt is Format.csv:
        return machine.csv_text([list(INSPECT_KEYS) + ["problem"]] + [
            [_cell(entry.get(k)) for k in (*INSPECT_KEYS, "problem")] for entry in rows])
    return machine.dumps(rows) + "\n"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def _summary(names) -> list[str]:
    """Names that share a first part with more than three others as one `part.* (count)`:
    an optimizer's state, say, in one entry."""
    import re
    from collections import Counter

    heads = [re.split(r"[./]", name, maxsplit=1)[0] for name in names]
    counts = Counter(head for head, name in zip(heads, names) if head != name)
    out: list[str] = []
    for head, name in zip(heads, names):
        if counts[head] > 3:
            entry = f"{head}.* ({counts[head]})"
            if entry not in out:
                out.append(entry)
        else:
            out.append(name)
    return out


def inspect_table(report: InspectReport):
    """One paragraph per LSTM (its name, then what it is), wrapping at spaces at any width."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    count = len(report.lstms)
    vowel = report.kind[0].lower() in "aeiou" or report.kind.startswith(("ONNX", "HDF5"))
    article = "an" if vowel else "a"
    parts: list = [Text(f"{report.source}: {article} {report.kind} with {count} "
                        f"LSTM{'s' if count != 1 else ''}", style="bold"), Text()]
    for entry in report.lstms:
        parts.append(Text(entry["name"] or "(top level: no name)", style="bold"))
        if "problem" in entry:
            about = f"cannot be read: {entry['problem']}"
        else:
            p = entry["projection_size"]
            about = (f"{entry['layout']} layout, m = {entry['input_size']}, "
                     f"n = {entry['hidden_size']}"
                     + ("" if p is None else f", p = {p} (projection)") + ", "
                     + records.layers_text(entry["num_layers"], tuple(
                         d if isinstance(d, str) else tuple(d) for d in entry["directions"]))
                     + f"; {entry['dtype']}; "
                     + ("; ".join(entry["variants"]) or "standard cell"))
        parts.append(Padding(Text(about), (0, 0, 0, 2)))
    if report.other:
        listed = _summary(report.other)
        more = len(listed) - _OTHER_SHOWN
        parts += [Text(), Text("Also in the file: " + ", ".join(listed[:_OTHER_SHOWN])
                               + (f", and {more} more" if more > 0 else ""))]
    if count > 1:
        parts += [Text(), Text("Choose one with --name NAME (the name, or its last parts).",
                               style="dim")]
    return Group(*parts)


# Compare -----------------------------------------------------------------------------------

def compare_dict(report: CompareReport) -> dict:
    ag = report.agreement
    t, j = ag.where
    obj: dict = {"agree": ag.agree, "tolerance": ag.tolerance, "steps": int(ag.a_output.shape[0]),
                 "largest_difference": {"h": ag.largest, "c": ag.c_difference},
                 "largest_at": {"step": t + 1, "unit": j + 1},
                 "first_parting_step": None if ag.parting_step is None else ag.parting_step + 1}
    if ag.gates is not None:
        obj["gates"] = {gate: {"preactivation": dz, "activation": da}
                        for gate, (dz, da) in ag.gates.items()}
    obj["diagnosis"] = [{"cell": cell or None, "mistake": f.mistake, "explanation": f.explanation,
                         "residual": f.residual if np.isfinite(f.residual) else None}
                        for cell, f in report.findings]
    return obj


def compare_text(report: CompareReport, fmt: Format) -> str:
    obj = compare_dict(report)
    if fmt is Format.yaml:
        return machine.yaml_text(obj)
    if fmt is Format.csv:
        raise UsageError("compare writes json, jsonl or yaml (or a table), not csv")
    return machine.dumps(obj) + "\n"


def compare_table(report: CompareReport):
    from rich import box
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from lstmcalc.render.fit import FitTable
    from lstmcalc.render.numbers import plain

    ag = report.agreement
    parts: list = [Text("lstmcalc compare", style="bold"), Text(f"A: {report.a_source}"),
                   Text(f"B: {report.b_source}"),
                   Text(f"{report.inputs}; tolerance {ag.tolerance:g}", style="dim"), Text()]
    t, j = ag.where
    if ag.agree:
        parts.append(Text(f"They agree: every output within {ag.tolerance:g} (largest "
                          f"difference {ag.largest:.3g}, at step {t + 1}, unit {j + 1}).",
                          style="bold green"))
    else:
        parting = "" if ag.parting_step is None else \
            f"; they part at step {ag.parting_step + 1}"
        parts.append(Text(f"They differ: largest |h_A − h_B| = {ag.largest:.3g} at step "
                          f"{t + 1}, unit {j + 1}{parting}; final C differs by "
                          f"{ag.c_difference:.3g}.", style="bold red"))
    if ag.gates is not None:
        table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name in ("gate", "largest |Δz|", "largest |Δ activation|"):
            table.add_column(name, justify="left" if name == "gate" else "right")
        for gate, (dz, da) in ag.gates.items():
            table.add_row(gate, f"{dz:.3g}", f"{da:.3g}")
        parts += [Text(), table]
    steps = ag.difference.max(axis=1)
    shown = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("step", "largest |Δh|", "A's h (that unit)", "B's h"):
        shown.add_column(name, justify="right")
    units = ag.difference.argmax(axis=1)
    for step in range(min(len(steps), 12)):
        u = int(units[step])
        shown.add_row(str(step + 1), f"{steps[step]:.3g}", plain(float(ag.a_output[step, u]), 6),
                      plain(float(ag.b_output[step, u]), 6))
    parts += [Text(), shown]
    if len(steps) > 12:
        parts.append(Text(f"({len(steps) - 12} more steps in -f json)", style="dim"))
    if not ag.agree:
        parts.append(Text())
        if report.findings:
            parts.append(Text("Diagnosis (each tested on the weights):", style="bold"))
            for cell, finding in report.findings:
                where = f"{cell}: " if cell else ""
                parts.append(Padding(Text(f"• {where}{finding.explanation}."), (0, 0, 0, 2)))
        else:
            parts.append(Text("No single usual porting mistake (gate order, transposed kernel, "
                              "missing or doubled bias, forget bias, [h, x] order, direction, "
                              "float32 rounding) turns B's weights into A's.", style="bold"))
    return Group(*parts)
