"""For people working an LSTM by hand: arithmetic written out, slopes, shapes, the stochastic
reading, the output layer, and the check of hand-worked values. Renderers only: every number
comes from the core's result objects."""

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from lstmcalc.core import GATES, Step
from lstmcalc.render.fit import FitTable
from lstmcalc.render.numbers import honest, plain, sci
from lstmcalc.render.table import BIAS, SYMBOL, WEIGHT, _max_slope

MAX_TERMS = 8  # a longer sum shows its first and last terms around "…"
MAX_UNITS = 6  # units written out per gate before "…"
LETTER = {"forget": "f", "input": "i", "candidate": "c", "output": "o"}


def _factor(value: float, precision: int) -> str:
    text = plain(value, precision)
    return f"({text})" if value < 0 else text


def _sum(weights, inputs, bias: float, precision: int) -> str:
    """w1·v1 + w2·v2 + ... + b, signs folded in, long sums shortened around '…'."""
    terms = [(float(w), float(v)) for w, v in zip(weights, inputs)]
    shown: list[tuple[float, float] | None] = list(terms) if len(terms) <= MAX_TERMS else \
        [*terms[:3], None, *terms[-2:]]
    out = ""
    for k, term in enumerate(shown):
        if term is None:
            out += " + …"
            continue
        w, v = term
        product = f"{plain(abs(w), precision)}·{_factor(v, precision)}"
        out += (("-" if w < 0 else "") + product) if k == 0 else \
            (f" − {product}" if w < 0 else f" + {product}")
    if bias != 0:
        out += f" − {plain(-bias, precision)}" if bias < 0 else f" + {plain(bias, precision)}"
    return out


def _is(value: float, shown: str) -> str:
    """'=' where the shown text is the value itself, '≈' where it was rounded."""
    try:
        return "=" if float(shown.replace("−", "-")) == value else "≈"
    except ValueError:  # 1 − 1.1e-40: a distance shown to two digits
        return "≈"


def _narrowed(fmt, exact: float) -> str:
    """Why a narrow format's z differs from the exact sum: saturated, or only rounded."""
    from lstmcalc.core.formats import Fixed

    if isinstance(fmt, Fixed) and not fmt.lowest <= exact * fmt.scale <= fmt.highest:
        return "saturated"
    return "rounded"


def _units(n: int):
    return list(range(n)) if n <= MAX_UNITS else [*range(MAX_UNITS - 2), None, n - 1]


def explain_view(step: Step, terms, precision: int = 4, b: tuple = (),
                 saturation=None) -> RenderableType:
    """Each pre-activation as one works it by hand, then each Hadamard product by element.
    terms: (W v + b, the peephole term or None), core.preactivation_terms(step). A variant
    cell writes out what it adds: peephole terms, clips, f = 1 − i, its activations, the
    projection."""
    cell = step.cell
    var = cell.variant
    linear, peep = terms
    v = step.v[b]
    shown_v = [plain(float(x), precision) for x in v]
    if len(shown_v) > 12:
        shown_v = shown_v[:6] + ["…"] + shown_v[-3:]
    lines: list[Text] = [Text(f"v = [{', '.join(shown_v)}]   ({len(v)} entries, "
                              f"{'x_t' if cell.concat[0] == 'x' else 'h_{t-1}'} first)")]
    if not var.is_standard:
        lines.append(Text("Variant: " + "; ".join(var.describe()), style="yellow"))
    terms_note = f"   ({len(v)} terms)" if len(v) > MAX_TERMS else ""
    a, gap = step.a[b], step.a_gap[b]

    def logs(k, j) -> dict:  # log10 distances (core.log10_saturation), where there are
        if saturation is None:
            return {}
        out = {"log_gap": float(saturation[0][b][k, j])}
        if k != 2:
            out["log_value"] = float(saturation[1][b][k, j])
        return out

    def val(k, j):
        text = honest(float(a[k, j]), precision, float(gap[k, j]), tight=True, **logs(k, j))
        return f"({text})" if "−" in text or text.startswith("-") else text

    for k, gate in enumerate(GATES):
        s_ = SYMBOL[gate]
        act = var.candidate if gate == "candidate" else var.gate
        fn = _act_name(act)
        if gate == "forget" and var.coupled:
            lines.append(Text(f"\n{gate} gate: coupled, f = 1 − i (no weights of its own)",
                              style="bold"))
            for j in _units(cell.hidden_size):
                if j is None:
                    lines.append(Text("  …"))
                    continue
                lines.append(Text(f"     f[{j + 1}] = 1 − {val(1, j)} = "
                                  f"{honest(float(a[0, j]), precision, float(gap[0, j]))}"))
            continue
        with_peep = peep is not None and gate != "candidate"
        seen = "C_t" if gate == "output" else "C_{t-1}"
        head = f"\n{gate} gate: z_{LETTER[gate]} = {WEIGHT[gate]}·v + {BIAS[gate]}"
        head += f" + p_{LETTER[gate]}⊙{seen}" if with_peep else ""
        head += f", clipped to ±{var.clip:g}" if var.clip is not None else ""
        lines.append(Text(f"{head}, {s_} = {fn}(z)", style="bold"))
        for j in _units(cell.hidden_size):
            if j is None:
                lines.append(Text("  …"))
                continue
            z, a_, g_ = float(step.z[b][k, j]), float(a[k, j]), float(gap[k, j])
            # W v + b as written out; where nothing is added to it, it is z itself
            lin = float(linear[b][k, j]) if with_peep or cell.number is not None or (
                var.clip is not None and abs(float(linear[b][k, j])) > var.clip) else z
            shown_z = honest(lin, precision)
            lines.append(Text(
                f"  z_{LETTER[gate]}[{j + 1}] = "
                f"{_sum(cell.W[k, j], v, float(cell.b[k, j]), precision)} {_is(lin, shown_z)} "
                f"{shown_z}{terms_note}"))
            if cell.number is not None and lin != z:  # the sum, then its rounding
                lines.append(Text(f"     → {honest(z, precision)} in {cell.number} "
                                  f"({_narrowed(cell.number, lin)})", style="yellow"))
                lin = z
            total = lin
            if with_peep:
                assert var.peephole is not None and peep is not None
                pj = float(var.peephole[{"forget": 0, "input": 1, "output": 2}[gate], j])
                c_seen = float((step.c if gate == "output" else step.c_prev)[b][j])
                total = lin + float(peep[b][k, j])
                lines.append(Text(f"     + p·{seen} = {_factor(pj, precision)}·"
                                  f"{_factor(c_seen, precision)} = "
                                  f"{honest(float(peep[b][k, j]), precision)}   → "
                                  f"{honest(total, precision)}"))
            if var.clip is not None and abs(total) > var.clip:
                lines.append(Text(f"     clipped to ±{var.clip:g} → {honest(z, precision)}"))
            shown_a = honest(a_, precision, g_, **logs(k, j))
            lines.append(Text(f"     {s_}[{j + 1}] = {fn}({honest(z, precision)}) "
                              f"{_is(a_, shown_a)} {shown_a}"))
    lines.append(Text("\ncell state, element by element: C_t = f ⊙ C_{t-1} + i ⊙ g"
                      + (f", clipped to ±{var.cell_clip:g}" if var.cell_clip is not None
                         else ""), style="bold"))
    for j in _units(cell.hidden_size):
        if j is None:
            lines.append(Text("  …"))
            continue
        c_prev = float(step.c_prev[b][j])
        raw = float(step.fc[b][j]) + float(step.ig[b][j])
        clipped = var.cell_clip is not None and abs(raw) > var.cell_clip
        lines.append(Text(
            f"  C_t[{j + 1}] = {val(0, j)}·{_factor(c_prev, precision)} + {val(1, j)}·"
            f"{_factor(float(a[2, j]), precision)} = {honest(float(step.fc[b][j]), precision)}"
            f" + {_factor(float(step.ig[b][j]), precision)} = "
            + (f"{honest(raw, precision)}   clipped → " if clipped else "")
            + f"{honest(float(step.c[b][j]), precision)}"))
    cell_fn = _act_name(var.cell)
    projected = var.projection is not None
    target = "o ⊙ " + cell_fn + "(C_t), before the projection" if projected else \
        "h_t = o ⊙ " + cell_fn + "(C_t)"
    lines.append(Text(f"\nhidden state, element by element: {target}", style="bold"))
    name = "m" if projected else "h_t"
    after = step.h if step.m is None else step.m
    for j in _units(cell.hidden_size):
        if j is None:
            lines.append(Text("  …"))
            continue
        tc = honest(float(step.tanh_c[b][j]), precision, float(step.tanh_c_gap[b][j]),
                    tight=True)
        tc = f"({tc})" if "−" in tc or tc.startswith("-") else tc
        shown = honest(float(after[b][j]), precision,
                       None if projected else float(step.h_gap[b][j]))
        lines.append(Text(
            f"  {name}[{j + 1}] = {val(3, j)}·{cell_fn}({plain(float(step.c[b][j]), precision)})"
            f" = {val(3, j)}·{tc} = {shown}"))
    if projected:
        assert var.projection is not None and step.m is not None
        lines.append(Text(f"\nthe projection: h_t = W_hr·m   (W_hr is "
                          f"{var.projection.shape[0]}×{var.projection.shape[1]})", style="bold"))
        for j in _units(cell.state_size):
            if j is None:
                lines.append(Text("  …"))
                continue
            total = float(var.projection[j] @ step.m[b])
            clipped = var.proj_clip is not None and abs(total) > var.proj_clip
            lines.append(Text(f"  h_t[{j + 1}] = "
                              f"{_sum(var.projection[j], step.m[b], 0.0, precision)} = "
                              + (f"{plain(total, precision)}   clipped → " if clipped else "")
                              + f"{honest(float(step.h[b][j]), precision)}"))
    return Panel(Group(*lines), title="Worked by hand (--explain)", title_align="left",
                 box=box.ROUNDED)


def _act_name(act) -> str:
    return {"sigmoid": "σ", "tanh": "tanh"}.get(act.name, repr(act))


def derivatives_view(step: Step, slopes: dict, b: tuple = (),
                     precision: int = 4) -> RenderableType:
    """Each unit's slope against its bound, and the local derivatives along the cell path.
    slopes: core.derivative_arrays(step)."""
    cell = step.cell
    v = cell.variant
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, keys=2)
    for name in ("gate", "unit", "z", "slope", "of its max", "note"):
        table.add_column(name, justify="left" if name in ("gate", "note") else "right")
    for k, gate in enumerate(GATES):
        bound = _max_slope(cell, gate)
        act = v.candidate if gate == "candidate" else v.gate
        coupled = gate == "forget" and v.coupled
        name = f"−{_act_name(act)}'(z_i)" if coupled else f"{_act_name(act)}'"
        for j in range(cell.hidden_size):
            d = float(slopes[gate][b][j])
            frac = abs(d) / bound  # 0 against exponential's unbounded slope: shown as —
            note = "saturated" if frac < 0.01 and bound < float("inf") else ""
            table.add_row(gate if j == 0 else "", str(j + 1),
                          "—" if coupled else honest(float(step.z[b][k, j]), precision),
                          f"{name} = {_slope(d, precision)}",
                          "—" if bound == float("inf") else
                          f"{frac:.1%}" if frac >= 0.001 else f"{sci(100 * frac)}%", note,
                          style="yellow" if note else None)
    path = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("unit", "∂C_t/∂C_{t-1}", "∂h_t/∂C_t" if v.projection is None else
                 "∂(o⊙act(C_t))/∂C_t"):
        path.add_column(name, justify="right")
    for j in range(cell.hidden_size):
        dc = honest(float(step.a[b][0, j]), precision, float(step.a_gap[b][0, j])) \
            if v.cell_clip is None else _slope(float(slopes["dc_dc_prev"][b][j]), precision)
        path.add_row(str(j + 1), dc, _slope(float(slopes["dh_dc"][b][j]), precision))
    if v.is_standard:
        title = "Slopes (--derivatives)   σ' = σ(1 − σ) ≤ 0.25,   tanh' = 1 − tanh² ≤ 1"
        formula = "∂C_t/∂C_{t-1} = f_t,   ∂h_t/∂C_t = o_t·(1 − tanh²(C_t))"
    else:
        title = (f"Slopes (--derivatives)   gates {_act_name(v.gate)}' ≤ "
                 f"{_max_slope(cell, 'forget'):g}, candidate {_act_name(v.candidate)}' ≤ "
                 f"{_max_slope(cell, 'candidate'):g}")
        formula = "∂C_t/∂C_{t-1} = f_t" + (" (0 where the cell clip holds C_t)"
                                            if v.cell_clip is not None else "")
        formula += (",   ∂h_t/∂C_t" if v.projection is None else ",   ∂(o⊙act(C_t))/∂C_t") + \
            f" = o_t·{_act_name(v.cell)}'(C_t)"
        if v.peephole is not None:
            formula += " + act(C_t)·σ'(z_o)·p_o"
    notes = []
    if v.peephole is not None:
        notes.append("With peepholes f_t and i_t also depend on C_{t-1} through p_f, p_i: "
                     "those paths are in lstmcalc grad, not in this local column.")
    if v.projection is not None:
        notes.append("With a projection h_t = W_hr (o⊙act(C_t)): ∂h_t/∂C_t is W_hr times "
                     "this column.")
    return Group(
        Text(), Text(title, style="bold"), table,
        Text("A saturated unit (slope under 1% of its maximum) passes almost no gradient.",
             style="dim"),
        Text(), Text("Along the cell path   " + formula, style="bold"), path,
        *(Text(note, style="dim") for note in notes))


def _slope(d: float, precision: int = 4) -> str:
    return plain(d, precision) if abs(d) >= 0.5 * 10 ** -precision or d == 0 else sci(d)


def stochastic_view(step: Step, reading, seed: int, precision: int = 4,
                    b: tuple = ()) -> RenderableType:
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("unit", "u_f", "f on", "u_i", "i on", "u_o", "o on", "C_t", "h_t"):
        table.add_column(name, justify="right")
    for j in range(step.cell.hidden_size):
        cells = [str(j + 1)]
        for slot in range(3):
            cells += [plain(float(reading.u[b][slot, j]), 3),
                      "1" if reading.on[b][slot, j] else "0"]
        cells += [plain(float(reading.c[b][j]), precision),
                  plain(float(reading.h[b][j]), precision)]
        table.add_row(*cells)
    return Group(
        Text(), Text(f"Stochastic reading (seed {seed})   a non-standard variant from the "
                     "founding answer", style="bold"), table,
        Text("Not what an LSTM computes: each gate unit is on (1) when its draw u ~ U(0, 1) "
             "falls below the gate's value (the tables above), off (0) otherwise; C_t and h_t "
             "are recomputed with those 0/1 gates.", style="dim"))


def output_view(layer, z, y, precision: int = 4, b: tuple = ()) -> RenderableType:
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("k", "W_y·h_t + b_y", "y_t"):
        table.add_column(name, justify="right")
    for k in range(z[b].shape[-1]):
        table.add_row(str(k + 1), honest(float(z[b][k]), precision),
                      honest(float(y[b][k]), precision))
    title = Text(f"Output layer   y_t = {layer.activation}(W_y·h_t + b_y)   W_y is "
                 f"{layer.W.shape[0]}×{layer.W.shape[1]}", style="bold")
    return Group(Text(), title, table)


def shapes_view(report) -> RenderableType:
    """Every variable with its symbol, meaning and shape, and the founding question answered.
    report: a reports.ShapesReport (p = n without a projection)."""
    m, n, p, concat = report.m, report.n, report.p, report.concat
    names = {"x": "x_t", "h": "h_{t-1}"}
    v_name = f"[{names[concat[0]]}, {names[concat[1]]}]"
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("symbol", "meaning", "shape", "count"):
        table.add_column(name, justify="right" if name in ("shape", "count") else "left")

    def shape(*dims):
        return "×".join(map(str, dims))

    projected = p != n
    rows = [
        ("x_t", "input at time t", shape(m, 1), str(m)),
        ("h_{t-1}", "previous hidden state (last output)", shape(p, 1), str(p)),
        ("C_{t-1}", "previous cell state (the memory)", shape(n, 1), str(n)),
        (v_name, "what every gate reads", shape(m + p, 1), str(m + p)),
        ("W_f, W_i, W_c, W_o", "a row per unit, a column per v entry", shape(n, m + p),
         f"4×{n * (m + p)}"),
        ("b_f, b_i, b_c, b_o", "a bias per unit", shape(n, 1), f"4×{n}"),
        ("Wx, Wh", "W cut in two: W v = Wx x + Wh h", f"{shape(n, m)}, {shape(n, p)}",
         ""),
        ("f_t, i_t, g_t, o_t", "gates (g_t is the candidate C~_t)", shape(n, 1), f"4×{n}"),
        ("C_t", "new cell state", shape(n, 1), str(n)),
        ("h_t", "new hidden state (the output)", shape(p, 1), str(p)),
    ]
    if "peepholes" in report.features:
        rows.append(("p_f, p_i, p_o", "peepholes: p ⊙ C added to z_f, z_i, z_o", shape(n, 1),
                     f"3×{n}"))
    if projected:
        rows.append(("W_hr", "the projection: h_t = W_hr (o_t ⊙ tanh(C_t))", shape(p, n),
                     str(p * n)))
    if report.q is not None:
        q = report.q
        rows += [("W_y, b_y", "the output layer", f"{shape(q, p)}, {shape(q, 1)}",
                  str(q * p + q)),
                 ("y_t", f"{report.output_activation}(W_y h_t + b_y)", shape(q, 1), str(q))]
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    per_gate = report.per_gate
    out_params = 0 if report.q is None else report.q * p + report.q
    total = report.total + out_params
    if projected:
        answer = Text.assemble(
            ("Are the numbers of cell states and hidden states the same? ", "bold"),
            f"Not in this cell: it has a projection, so h_t = W_hr (o_t ⊙ tanh(C_t)) has "
            f"p = {p} entries while C_t keeps n = {n} (PyTorch's proj_size, TensorFlow 1's "
            "num_proj). Without a projection they are the same: h_t = o_t ⊙ tanh(C_t) is an "
            "element-wise product, one entry per hidden unit.")
    else:
        answer = Text.assemble(
            ("Are the numbers of cell states and hidden states the same? ", "bold"),
            f"Yes: both C_t and h_t have n = {n} entries. h_t = o_t ⊙ tanh(C_t) is an "
            "element-wise product, so it has exactly as many entries as C_t: each hidden unit "
            "keeps one cell-state entry (its memory) and shows one hidden-state entry (its "
            "output). n is the one number called the hidden size; the input size m is free. ",
            "Only an LSTM with a projection (PyTorch's proj_size, TensorFlow 1's num_proj) "
            "makes them differ: there h_t = W_hr (o_t ⊙ tanh(C_t)) has p < n entries while C_t "
            "keeps n.",
        )
    extras = []
    if report.variant_parameters:
        extras.append(f"plus {report.variant_parameters} for the variant")
    if out_params:
        extras.append("plus the output layer")
    counts = Text(f"Parameters: 4 gates × ({n}·{m + p} weights + {n} biases) = 4 × {per_gate} = "
                  f"{4 * per_gate}" + (f", {', '.join(extras)}: {total}" if extras else "")
                  + ".")
    sizes = f"m = {m}, n = {n}" + (f", p = {p}" if projected else "")
    title = "Shapes" + (f": {report.source}" if report.source else "") + f"   ({sizes})"
    return Group(Panel(Group(table, Text(), counts), title=Text(title), title_align="left",
                       box=box.ROUNDED), answer)


def expect_view(results) -> RenderableType:
    """The check of hand-worked values: every mismatch, and how many agreed."""
    bad = [r for r in results if r.wrong]
    blank = [r for r in results if not r.answered]
    answered = len(results) - len(blank)
    title = Text(f"Checked {answered} hand-worked values: {answered - len(bad)} agree, "
                 f"{len(bad)} differ" + (f", {len(blank)} not answered" if blank else ""),
                 style="bold")
    parts: list = [Text(), title]
    if bad:
        table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, keys=2)
        for name in ("value", "unit", "yours", "lstmcalc", "difference", "tolerance"):
            table.add_column(name, justify="left" if name == "value" else "right")
        for r in bad:
            table.add_row(Text(r.key), r.unit, r.written, f"{r.true:.10g}",
                          sci(r.written_value - r.true), sci(r.tolerance), style="red")
        parts.append(table)
    from lstmcalc.expect import blanks

    for name, units in blanks(results).items():  # one line per key: its blank units together
        parts.append(Text(f"not answered: {name}" + (f" (units {units})" if units else ""),
                          style="yellow"))
    return Group(*parts)
