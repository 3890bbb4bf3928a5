"""Annotated Rich tables for one step: shapes, the concatenation, each gate, the cell update.

Renderers return renderables; the caller prints once. User text (file names) goes in as Text,
never as markup.
"""

import numpy as np
from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from lstmcalc.core import GATES, Step
from lstmcalc.render.fit import FitTable
from lstmcalc.render.numbers import honest, percent


def _max_slope(cell, gate: str) -> float:
    """The largest slope the gate's activation can have (0.25 for sigmoid, alpha for a hard
    sigmoid, inf for exponential), against which a unit's slope says 'saturated'."""
    v = cell.variant
    if v.is_standard:
        return 1.0 if gate == "candidate" else 0.25
    return (v.candidate if gate == "candidate" else v.gate).max_slope


SYMBOL = {"forget": "f", "input": "i", "candidate": "g", "output": "o"}
WEIGHT = {"forget": "W_f", "input": "W_i", "candidate": "W_c", "output": "W_o"}
BIAS = {"forget": "b_f", "input": "b_i", "candidate": "b_c", "output": "b_o"}
TITLE = {
    "forget": ("Forget gate   f_t = σ(W_f·v + b_f)",
               "near 1 keeps C_{t-1}, near 0 forgets it"),
    "input": ("Input gate   i_t = σ(W_i·v + b_i)", "how much of the candidate enters C_t"),
    "candidate": ("Candidate   g_t = tanh(W_c·v + b_c)", "new content for C_t, in (-1, 1)"),
    "output": ("Output gate   o_t = σ(W_o·v + b_o)", "how much of tanh(C_t) becomes h_t"),
    "cell": ("Cell state   C_t = f_t ⊙ C_{t-1} + i_t ⊙ g_t", "⊙: element-wise product"),
    "hidden": ("Hidden state   h_t = o_t ⊙ tanh(C_t)", "what the cell outputs and passes on"),
    "projected": ("Hidden state   h_t = W_hr (o_t ⊙ tanh(C_t))", "p entries, while C_t keeps n"),
}
# A unit is flagged saturated when its activation's slope is below 1% of the slope's maximum.
SATURATED = 0.01


def _style(cell: str) -> str:
    """Colour (dropped under NO_COLOR) only where it means something: hidden distances and
    saturation."""
    if "saturated" in cell:
        return "yellow"
    return "cyan" if "−" in cell else ""


class _Section:
    """A titled table: the title sits above the table, so a narrow table never wraps it."""

    def __init__(self, key: str, *columns: str):
        formula, meaning = TITLE[key]
        self.title = Text.assemble((formula, "bold"), "   ", (meaning, "italic"))
        self.table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        self.table.add_column("unit", justify="right")
        for name in columns:
            self.table.add_column(Text(name), justify="left" if name == "meaning" else "right")

    def add_row(self, *cells: str):
        self.table.add_row(*(Text(cell, style=_style(cell)) for cell in cells))  # never markup

    def __rich__(self) -> RenderableType:
        return Group(Text(), self.title, self.table)


def _shape(*dims: int) -> str:
    return "×".join(str(d) for d in dims)


def shapes_panel(shapes, batch: tuple) -> Panel:
    """The shapes of one step's variables (shapes: a reports.ShapesReport), each vector once
    per sequence of a batch."""
    m, n, r = shapes.m, shapes.n, shapes.p
    if r != n:
        return _projected_shapes(shapes)
    each = f" (×{_shape(*batch)})" if batch else ""  # one per sequence of the batch
    vec = lambda k: f"{k}×1{each}"  # noqa: E731
    first, second = shapes.concat
    names = {"x": "x_t", "h": "h_{t-1}"}
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("variable")
    table.add_column("meaning")
    table.add_column("shape", justify="right")
    rows = [
        ("x_t", "input at time t (m entries)", vec(m)),
        ("h_{t-1}", "previous hidden state (n entries)", vec(n)),
        ("C_{t-1}", "previous cell state (n entries)", vec(n)),
        (f"v = [{names[first]}, {names[second]}]", "the concatenation every gate reads",
         vec(m + n)),
        ("W_f, W_i, W_c, W_o", "one weight matrix per gate, n × (m + n)", _shape(n, m + n)),
        ("b_f, b_i, b_c, b_o", "one bias per gate", f"{n}×1"),
        ("f_t, i_t, g_t, o_t", "gate values (g_t is C~_t), one per unit", vec(n)),
        ("C_t, h_t", "new cell state and new hidden state", vec(n)),
    ]
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    per_gate, total = shapes.per_gate, shapes.total
    summary = Text.assemble(
        f"m = {m} inputs, n = {n} hidden units",
        (" (batch of " + _shape(*batch) + ")") if batch else "",
        f".\nC_t and h_t have the same size, n = {n}: one entry of each per hidden unit.\n",
        f"Parameters: 4 gates × ({n}·{m + n} weights + {n} biases) = 4 × {per_gate} = "
        f"{4 * per_gate}" + (f", plus {total - 4 * per_gate} for the variant = {total}"
                             if total != 4 * per_gate else "") + ".",
    )
    return Panel.fit(Group(table, summary), title="Shapes: the size of each variable",
                     title_align="left", box=box.ROUNDED)


def _projected_shapes(shapes) -> Panel:
    """The shapes of a cell with a projection: h has p entries, C keeps n."""
    m, n, p = shapes.m, shapes.n, shapes.p
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("variable", "meaning", "shape"):
        table.add_column(name, justify="right" if name == "shape" else "left")
    rows = [("x_t", "input at time t (m entries)", f"{m}×1"),
            ("h_{t-1}, h_t", "hidden state: p entries, after the projection", f"{p}×1"),
            ("C_{t-1}, C_t", "cell state: n entries", f"{n}×1"),
            ("W_f, W_i, W_c, W_o", "one weight matrix per gate, n × (m + p)", f"{n}×{m + p}"),
            ("W_hr", "the projection: h_t = W_hr (o_t ⊙ tanh(C_t))", f"{p}×{n}")]
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    summary = Text(f"m = {m} inputs, n = {n} cell units, p = {p}: with a projection, h_t has "
                   f"p = {p} entries while C_t keeps n = {n}.\nParameters: "
                   f"{shapes.total}.")
    return Panel.fit(Group(table, summary), title="Shapes: the size of each variable",
                     title_align="left", box=box.ROUNDED)


def concat_line(step: Step, precision: int, b: tuple) -> Text:
    cell = step.cell
    m, n = cell.input_size, cell.state_size
    parts = {"x": step.x[b], "h": step.h_prev[b]}
    names = {"x": "x_t", "h": "h_{t-1}"}
    first, second = cell.concat
    size = {"x": m, "h": n}
    left = ", ".join(honest(v, precision) for v in parts[first])
    right = ", ".join(honest(v, precision) for v in parts[second])
    return Text(
        f"v = [{names[first]}, {names[second]}] = [{left} | {right}]   "
        f"({names[first]}: entries 1–{size[first]}, {names[second]}: {size[first] + 1}–{m + n})"
    )


def _note(gate: str, unit: int, a: float, gap: float, slope: float, bound: float,
          log_gap: float | None = None, log_value: float | None = None,
          precision: int = 4) -> str:
    share = percent(a, gap, log_gap, log_value)
    if gate == "forget":
        note = f"keeps {share} of C_{{t-1}}[{unit}]"
    elif gate == "input":
        note = f"admits {share} of g[{unit}]"
    elif gate == "output":
        note = f"passes {share} of tanh(C_t[{unit}])"
    else:
        shown = honest(a, precision, gap, log_gap=log_gap)
        note = f"proposes {'' if shown.startswith(('-', '−')) else '+'}{shown} for C_t[{unit}]"
    if abs(slope) < SATURATED * bound < float("inf"):  # exponential has no largest slope
        note += "; saturated"
    return note


def _logs(logs, b: tuple, k: int, j: int) -> dict:
    """The log10 distances of gate k, unit j (core.log10_saturation), as honest()'s keywords."""
    if logs is None:
        return {}
    return {"log_gap": float(logs[0][b][k, j]), "log_value": float(logs[1][b][k, j])}


def gate_table(step: Step, slopes_all: np.ndarray, peep_all: np.ndarray | None, gate: str,
               precision: int, b: tuple, logs=None) -> _Section:
    k = GATES.index(gate)
    v = step.cell.variant
    fn = "tanh" if gate == "candidate" else "σ"
    if not v.is_standard:
        fn = repr(v.candidate if gate == "candidate" else v.gate)
    # a peephole adds p ⊙ C_{t-1} (f, i) or p ⊙ C_t (o) to z: shown as its own column
    peep = None if peep_all is None or gate == "candidate" else peep_all[b][k]
    columns = [f"z = {WEIGHT[gate]}·v+{BIAS[gate]}" if peep is None else "z (with p⊙C)",
               f"{SYMBOL[gate]} = {fn}(z)", "meaning"]
    if peep is not None:
        columns.insert(0, "p⊙C" + ("_t" if gate == "output" else "_{t-1}"))
    table = _Section(gate, *columns)
    z, a, gap = step.z[b][k], step.a[b][k], step.a_gap[b][k]
    slopes = slopes_all[b][k]
    bound = _max_slope(step.cell, gate)
    coupled = gate == "forget" and v.coupled
    for j in range(step.cell.hidden_size):
        log = _logs(logs, b, k, j)
        cells = ["—" if coupled else honest(z[j], precision),
                 honest(a[j], precision, gap[j], **log),
                 _note(gate, j + 1, float(a[j]), float(gap[j]), float(slopes[j]), bound,
                       log.get("log_gap"), log.get("log_value"), precision)]
        if peep is not None:
            cells.insert(0, honest(float(peep[j]), precision))
        table.add_row(str(j + 1), *cells)
    return table


def cell_table(step: Step, precision: int, b: tuple, logs=None) -> _Section:
    table = _Section("cell", "C_{t-1}", "f", "f⊙C_{t-1}", "i", "g", "i⊙g", "C_t")
    a, gap = step.a[b], step.a_gap[b]
    for j in range(step.cell.hidden_size):
        table.add_row(
            str(j + 1), honest(step.c_prev[b][j], precision),
            honest(a[0, j], precision, gap[0, j], tight=True, **_logs(logs, b, 0, j)),
            honest(step.fc[b][j], precision),
            honest(a[1, j], precision, gap[1, j], tight=True, **_logs(logs, b, 1, j)),
            honest(a[2, j], precision, gap[2, j], tight=True, **_logs(logs, b, 2, j)),
            honest(step.ig[b][j], precision), honest(step.c[b][j], precision),
        )
    return table


def output_table(step: Step, precision: int, b: tuple, logs=None):
    a, gap = step.a[b], step.a_gap[b]
    tanh_log = [{} if logs is None else {"log_gap": float(logs[2][b][j])}
                for j in range(step.cell.hidden_size)]
    if step.m is not None:  # a projection: h_t = W_hr m_t is not element-wise
        table = _Section("projected", "o", "tanh(C_t)", "m = o⊙tanh(C_t)")
        for j in range(step.cell.hidden_size):
            table.add_row(str(j + 1), honest(a[3, j], precision, gap[3, j], tight=True),
                          honest(step.tanh_c[b][j], precision, step.tanh_c_gap[b][j],
                                 tight=True), honest(step.m[b][j], precision))
        h = ", ".join(honest(float(v), precision) for v in step.h[b])
        return Group(table, Text(f"h_t = W_hr m = [{h}]   (p = {len(step.h[b])} entries)"))
    table = _Section("hidden", "o", "tanh(C_t)", "h_t")
    for j in range(step.cell.hidden_size):
        table.add_row(str(j + 1),
                      honest(a[3, j], precision, gap[3, j], tight=True, **_logs(logs, b, 3, j)),
                      honest(step.tanh_c[b][j], precision, step.tanh_c_gap[b][j], tight=True,
                             **tanh_log[j]),
                      honest(step.h[b][j], precision, step.h_gap[b][j], tight=True))
    return table


def step_view(report, precision: int = 4) -> RenderableType:
    """Everything about one step, for a person: the whole annotated report (a
    reports.StepReport: the step, each gate's slope, the peephole terms, the shapes)."""
    step, slopes, peep, shapes = report.step, report.slopes, report.terms[1], report.shapes
    source = report.source
    parts: list[RenderableType] = []
    if source:
        parts.append(Text.assemble(("lstmcalc step", "bold"), "  ", source,
                                   f"  ({step.cell.dtype_name}, {precision} decimals)"))
    if not step.cell.variant.is_standard:
        parts.append(Text("Variant: " + "; ".join(step.cell.variant.describe())
                          + ". The gate titles below show the standard formulas; the columns "
                          "show what this cell computes.", style="yellow"))
    parts.append(shapes_panel(shapes, step.batch_shape))
    for b in np.ndindex(*step.batch_shape):
        if step.batch_shape:
            parts.append(Text(f"\nSequence {b[0] + 1} of {step.batch_shape[0]}", style="bold"))
        parts.append(concat_line(step, precision, b))
        logs = report.saturation
        parts += [gate_table(step, slopes, peep, gate, precision, b, logs) for gate in GATES]
        parts += [cell_table(step, precision, b, logs), output_table(step, precision, b, logs)]
    parts.append(Text())
    parts.append(Text(
        "Units are numbered from 1. A value shown as 1 − ε is below 1 by ε, which floating-point "
        "rounding hides; 'saturated' marks a unit whose slope is under 1% of its maximum, "
        "so it passes almost no gradient.", style="dim"))
    return Group(*parts)


# Sequences -------------------------------------------------------------------------------------

MAX_UNITS = 8  # a vector longer than this shows its first and last units around a ⋮


def _column(values, precision: int, gaps=None, log_gaps=None, log_values=None) -> Text:
    """A vector as a column of numbers, one unit per line (log_gaps, log_values: their log10
    distances, for what float64 cannot hold whole)."""
    n = len(values)
    keep = range(n) if n <= MAX_UNITS else [*range(MAX_UNITS - 3), None, n - 2, n - 1]
    lines = []
    for j in keep:
        if j is None:
            lines.append("⋮")
            continue
        logs = {} if log_gaps is None else {"log_gap": float(log_gaps[j])}
        if log_values is not None:
            logs["log_value"] = float(log_values[j])
        text = honest(float(values[j]), precision, None if gaps is None else float(gaps[j]),
                      tight=True, **logs)
        lines.append(text)
    return Text("\n".join(lines), justify="right",
                style="cyan" if any("−" in ln for ln in lines) else "")


def _units_column(n: int) -> Text:
    keep = range(n) if n <= MAX_UNITS else [*range(MAX_UNITS - 3), None, n - 2, n - 1]
    return Text("\n".join("⋮" if j is None else str(j + 1) for j in keep), justify="right")


def _step_rows(T: int, rows: int) -> list[int | None]:
    """The steps a table shows: all, or the first and last rows/2 around a None."""
    if T <= rows:
        return list(range(T))
    head = rows // 2
    return [*range(head), None, *range(T - (rows - head), T)]


def left_out_caption(shown: list) -> str | None:
    """What a table of _step_rows(...) leaves out, or None when it shows every step."""
    if None not in shown:
        return None
    gap = shown.index(None)
    first, last = shown[gap - 1] + 2, shown[gap + 1]  # 1-based t of the hidden steps
    hidden = f"1 step left out, t = {first}" if first == last else \
        f"{last - first + 1} steps left out, t = {first} .. {last}"
    return f"{hidden} (--rows N shows more)"


def run_view(run, precision: int = 4, source: str | None = None, rows: int = 20,
             readings=None, seed: int = 0, ys=None, saturation=None):
    """A sequence, step by step: x_t, the four gates, C_t and h_t (and y_t with an output
    layer), one unit per line."""
    cell = run.cell
    parts: list[RenderableType] = [Text.assemble(
        ("lstmcalc unroll", "bold"), "  ", source or "",
        f"  (T = {run.T} steps, m = {cell.input_size}, n = {cell.hidden_size}, "
        f"{cell.dtype_name}, {precision} decimals)")]
    for b in np.ndindex(*run.batch_shape):
        title = f"Sequence {b[0] + 1} of {run.batch_shape[0]}" if run.batch_shape else "Steps"
        table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_lines=True,
                         keys=2, title=title, title_justify="left", title_style="bold")
        for name in ("t", "unit", "x_t", "f_t", "i_t", "g_t", "o_t", "C_t", "h_t"):
            table.add_column(name, justify="right")
        outs = None
        if ys is not None:
            outs = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_lines=True,
                            keys=2)
            for name in ("t", "k", "y_t"):
                outs.add_column(name, justify="right")
        noisy = None
        if readings is not None:
            noisy = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, keys=2,
                          show_lines=True, title_justify="left", title_style="bold",
                          title=f"Stochastic reading (seed {seed}), a non-standard variant")
            for name in ("t", "unit", "f on", "i on", "o on", "C_t", "h_t"):
                noisy.add_column(name, justify="right")
        shown = _step_rows(run.T, rows)
        table.caption, table.caption_justify = left_out_caption(shown), "left"
        for t in shown:
            if t is None:
                for tab in (table, noisy, outs):
                    if tab is not None:
                        tab.add_row("⋮")
                continue
            idx = (t, *b)
            z_gap, a = run.a_gap[idx], run.a[idx]
            logs = [{} if saturation is None else
                    {"log_gaps": saturation[0][idx][k],
                     "log_values": None if k == 2 else saturation[1][idx][k]}
                    for k in range(4)]
            ended = run.padded is not None and bool(run.padded[idx])
            table.add_row(
                f"{t + 1}*" if ended else str(t + 1), _units_column(cell.hidden_size),
                _column(run.x[idx], precision),
                *(_column(a[k], precision, z_gap[k], **logs[k]) for k in range(4)),
                _column(run.c[idx], precision),
                _column(run.h[idx], precision, run.h_gap[idx]),
            )
            if outs is not None:
                outs.add_row(str(t + 1), _units_column(ys.shape[-1]), _column(ys[idx], precision))
            if noisy is not None:
                r = readings[t]
                noisy.add_row(str(t + 1), _units_column(cell.hidden_size),
                              *(_column(r.on[b][k], 0) for k in range(3)),
                              _column(r.c[b], precision), _column(r.h[b], precision))
        parts += [Text(), table]
        if outs is not None:
            parts += [Text(), Text("Output layer y_t", style="bold"), outs]
        if noisy is not None:
            if table.caption:
                noisy.caption, noisy.caption_justify = table.caption, "left"
            parts += [Text(), noisy]
    if cell.input_size != cell.hidden_size:
        parts.append(Text(f"x_t has m = {cell.input_size} entries; its column lists them by "
                          "position, next to the units of the other columns.", style="dim"))
    if readings is not None:
        parts.append(Text("The stochastic reading is not what an LSTM computes: a gate unit is "
                          "on (1) when u ~ U(0, 1) falls below its value, and C_t, h_t are "
                          "recomputed with those 0/1 gates; --format json has the draws.",
                          style="dim"))
    parts.append(Text("f near 1 keeps C_{t-1}; 1−ε is below 1 by ε. --format json has every "
                      "number exactly; --view heatmap shows the whole sequence at once.",
                      style="dim"))
    return Group(*parts)


def final_view(cell, h, c, T: int):
    """The final state after T steps."""
    parts: list[RenderableType] = [Text(f"Final state after {T} steps", style="bold")]
    h2, c2 = h.reshape(-1, h.shape[-1]), c.reshape(-1, c.shape[-1])
    for b in range(h2.shape[0]):
        table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                      title=f"Sequence {b + 1}" if h2.shape[0] > 1 else None,
                      title_justify="left")
        for name in ("unit", "h_T", "C_T"):
            table.add_column(name, justify="right")
        for j in range(max(h2.shape[1], c2.shape[1])):  # h has p < n entries with a projection
            table.add_row(str(j + 1), repr(float(h2[b, j])) if j < h2.shape[1] else "",
                          repr(float(c2[b, j])) if j < c2.shape[1] else "")
        parts.append(table)
    return Group(*parts)
