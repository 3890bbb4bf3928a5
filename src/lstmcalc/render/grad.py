"""Gradients for people and for pipelines: dL/d of every weight (in the config's own layout and
names), of every x_t, of h_0 and C_0, per step dL/dz, and the path along the cell state."""

import numpy as np

from lstmcalc import records
from lstmcalc.core import GATES
from lstmcalc.render.machine import header, numbers


def _num(precision: int):
    """How a gradient is shown: `precision` decimals, or scientific where that shows 0."""
    from lstmcalc.render.numbers import plain, sci

    def num(v) -> str:
        v = float(v)
        return plain(v, precision) if v == 0 or abs(v) >= 10 ** -precision else sci(v)
    return num


def weight_grads(cell, grads, names, split) -> dict:
    """{written gate name: {"W": ...} or {"Wx": ..., "Wh": ...}, plus "b"}, as arrays."""
    out = {}
    for k, gate in enumerate(GATES):
        dW = grads.dW[k]
        entry = ({"Wx": dW[:, cell.columns("x")], "Wh": dW[:, cell.columns("h")]} if split[k]
                 else {"W": dW})
        entry["b"] = grads.db[k]
        out[names[k]] = entry
    return out


def grad_dict(run, grads, loss: dict, names, split, products, dc_norm, check=None,
              numbers=numbers) -> dict:
    """The JSON object of `lstmcalc grad` (keys documented in the README)."""
    cell = run.cell
    steps = []
    for t in range(run.T):
        steps.append({
            "t": t + 1,
            "dz": {gate: numbers(grads.dz[t][..., k, :]) for k, gate in enumerate(GATES)},
            "dh": numbers(grads.dh[t]), "dc": numbers(grads.dc[t]),
            "dc_norm": float(dc_norm[t]), "forget_product": numbers(products[t]),
        })
    out = header(cell, run.batch_shape)
    out["steps_count"] = run.T
    out["loss"] = loss
    out["gradients"] = {
        "gates": {name: {key: numbers(arr) for key, arr in entry.items()}
                  for name, entry in weight_grads(cell, grads, names, split).items()},
        "x": numbers(grads.dx), "h0": numbers(grads.dh0), "c0": numbers(grads.dc0),
    }
    if grads.dP is not None:
        out["gradients"]["peepholes"] = {g: numbers(grads.dP[k]) for k, g in
                                         enumerate(("forget", "input", "output"))}
    if grads.dWp is not None:
        out["gradients"]["projection"] = numbers(grads.dWp)
    out["steps"] = steps
    out["cell_path"] = {"dc_norm": [float(v) for v in dc_norm],
                        "forget_product_mean": [float(products[t].mean())
                                                for t in range(run.T)]}
    if check is not None:
        out["check"] = check
    return out


def grad_view(run, grads, loss: dict, names, split, products, dc_norm, precision: int = 4,
              source: str | None = None, rows: int = 20, check=None):
    from rich import box
    from rich.console import Group, RenderableType
    from lstmcalc.render.fit import FitTable
    from rich.text import Text

    from lstmcalc.render.table import _step_rows, _units_column, left_out_caption

    num = _num(precision)
    cell = run.cell
    m, n = cell.input_size, cell.hidden_size
    value = "" if loss["value"] is None else f" = {num(loss['value'])}"
    parts: list[RenderableType] = [Text.assemble(
        ("lstmcalc grad", "bold"), "  ", source or "",
        f"  (T = {run.T}, m = {m}, n = {n}; loss: {loss['kind']}{value})")]

    # weights and biases, in the config's own layout
    parts += [Text(), Text("dL/dW and dL/db, per gate, in the config's layout", style="bold")]
    parts += weight_tables(cell, grads, names, split, num)

    # per step: dL/dz by gate, dL/dh_t and dL/dC_t (first sequence of a batch)
    b = (0,) * len(run.batch_shape)
    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_lines=True,
                     keys=2)
    for col in ("t", "unit", "dz_f", "dz_i", "dz_g", "dz_o", "dL/dh_t", "dL/dC_t"):
        table.add_column(col, justify="right")
    shown = _step_rows(run.T, rows)
    for t in shown:
        if t is None:
            table.add_row("⋮")
            continue
        dz = grads.dz[(t,) + b]
        table.add_row(str(t + 1), _units_column(n),
                      *(_grad_column(dz[k], num) for k in range(4)),
                      _grad_column(grads.dh[(t,) + b], num), _grad_column(grads.dc[(t,) + b], num))
    table.caption, table.caption_justify = left_out_caption(shown), "left"
    parts += [Text(), Text("Per step: dL/dz for each gate, and the total dL/dh_t, dL/dC_t"
                           + (" (sequence 1)" if run.batch_shape else ""), style="bold"), table]

    # the cell-state path: does the gradient vanish or survive?
    path = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in ("t", "‖dL/dC_t‖", "Π f_k for k > t (mean)", "min", "max"):
        path.add_column(col, justify="right")
    for t in shown:
        if t is None:
            path.add_row("⋮")
            continue
        p = products[t]
        path.add_row(str(t + 1), num(dc_norm[t]), num(p.mean()), num(p.min()), num(p.max()))
    parts += [Text(), Text("Along the cell state: ∂C_t/∂C_{t-1} = f_t", style="bold"),
              Text("dL/dC_T reaches C_t scaled by the forget gates after t: small products, "
                   "vanishing gradient", style="dim"), path]

    # inputs and initial state
    inputs = _inputs_table(grads.dx, shown, b, num)
    if grads.dP is not None:
        parts += [Text(), Text("dL/d(peepholes): " + "; ".join(
            f"{g}: [{', '.join(num(v) for v in grads.dP[k])}]"
            for k, g in enumerate(("forget", "input", "output"))))]
    if grads.dWp is not None:
        parts += [Text(), Text("‖dL/dW_hr‖ per row of the projection: [" + ", ".join(
            num(v) for v in np.linalg.norm(grads.dWp, axis=1)) + "]")]
    parts += [Text(), Text("Inputs and initial state", style="bold"), inputs,
              Text(f"dL/dh_0 = [{', '.join(num(v) for v in grads.dh0[b])}]"),
              Text(f"dL/dC_0 = [{', '.join(num(v) for v in grads.dc0[b])}]")]
    if check is not None:
        parts += [Text(), check_line(check)]
    return Group(*parts)


def _inputs_table(dx, shown: list, b: tuple, num):
    """dL/dx_t for the steps shown (None: the ⋮ between the first and the last)."""
    from rich import box
    from lstmcalc.render.fit import FitTable

    table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_lines=True)
    for col in ("t", "dL/dx_t"):
        table.add_column(col, justify="right")
    for t in shown:
        if t is None:
            table.add_row("⋮")
            continue
        table.add_row(str(t + 1), _grad_column(dx[(t,) + b], num))
    return table


def _grad_column(values, num):
    from rich.text import Text

    from lstmcalc.render.table import MAX_UNITS

    n = len(values)
    keep = range(n) if n <= MAX_UNITS else [*range(MAX_UNITS - 3), None, n - 2, n - 1]
    return Text("\n".join("⋮" if j is None else num(values[j]) for j in keep), justify="right")


def weight_tables(cell, grads, names, split, num) -> list:
    """One table per gate: each unit's dL/dW by column (or the row norms of a large W) and
    dL/db."""
    from rich import box
    from lstmcalc.render.fit import FitTable

    m, r = cell.input_size, cell.state_size
    small = m + r <= 8
    labels = {"x": [f"x{k + 1}" for k in range(m)], "h": [f"h{k + 1}" for k in range(r)]}
    out = []
    for name, entry in weight_grads(cell, grads, names, split).items():
        table = FitTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column(f"{name}", justify="left")
        columns = []  # (header, (n,) array)
        for key, mat in entry.items():
            if key == "b":
                continue
            parts_ = cell.concat if key == "W" else (key[1].lower(),)
            heads = [f"d{key}·{lab}" for part in parts_ for lab in labels[part]]
            if small:
                columns += [(head, mat[:, k]) for k, head in enumerate(heads)]
            else:
                columns.append((f"‖d{key}‖ per unit", np.linalg.norm(mat, axis=1)))
        columns.append(("db", entry["b"]))
        for head, _ in columns:
            table.add_column(head, justify="right")
        for j in range(cell.hidden_size):
            table.add_row(f"unit {j + 1}", *(num(col[j]) for _, col in columns))
        out.append(table)
    return out


LAYER_NAMES = {"forward": "", "reverse": " reverse"}


def stack_grad_dict(report, numbers=numbers) -> dict:
    """The JSON object of `lstmcalc grad` for a stack: each layer's and direction's weight
    gradients and initial-state gradients, then dL/dx and dL/dh_0, dL/dC_0 in PyTorch's
    (L D, ..., n) order."""
    sr, sg = report.stack, report.grads
    first = sr.runs[0][0]
    out = header(first.cell, first.batch_shape)
    out.update({"num_layers": len(sr.runs),
                "directions": records.directions_json(sr.directions),
                "steps_count": first.T, "loss": report.loss})
    layers = []
    for k, (runs, grads) in enumerate(zip(sr.runs, sg.grads)):
        for run, g, direction in zip(runs, grads, sr.layer_directions[k]):
            entry = {"layer": k + 1, "direction": direction,
                     "gates": {name: {key: numbers(arr) for key, arr in e.items()}
                               for name, e in weight_grads(run.cell, g, GATES,
                                                           (False,) * 4).items()}}
            if g.dP is not None:
                entry["peepholes"] = {gate: numbers(g.dP[j]) for j, gate in
                                      enumerate(("forget", "input", "output"))}
            if g.dWp is not None:
                entry["projection"] = numbers(g.dWp)
            layers.append(entry)
    out["gradients"] = {"layers": layers, "x": numbers(sg.dx), "h0": numbers(sg.dh0),
                        "c0": numbers(sg.dc0)}
    if report.check is not None:
        out["check"] = report.check
    return out


def stack_grad_view(report, precision: int = 4, rows: int = 20):
    from rich.console import Group, RenderableType
    from rich.text import Text

    from lstmcalc.render.table import _step_rows, left_out_caption

    num = _num(precision)
    sr, sg = report.stack, report.grads
    first = sr.runs[0][0]
    loss = report.loss
    parts: list[RenderableType] = [Text.assemble(
        ("lstmcalc grad", "bold"), "  ", report.source,
        f"  ({records.layers_text(len(sr.runs), sr.directions)}; T = {first.T}; "
        f"loss: {loss['kind']} = {num(loss['value'])})")]
    for k, (runs, grads) in enumerate(zip(sr.runs, sg.grads)):
        for run, g, direction in zip(runs, grads, sr.layer_directions[k]):
            parts += [Text(), Text(f"Layer {k + 1}, {direction}: dL/dW and dL/db per gate",
                                   style="bold")]
            parts += weight_tables(run.cell, g, GATES, (False,) * 4, num)
    b = (0,) * len(first.batch_shape)
    shown = _step_rows(first.T, rows)
    inputs = _inputs_table(sg.dx, shown, b, num)
    inputs.caption, inputs.caption_justify = left_out_caption(shown), "left"
    parts += [Text(), Text("Inputs" + (" (sequence 1)" if first.batch_shape else ""),
                           style="bold"), inputs]
    j = 0
    for k, runs in enumerate(sr.runs):
        for direction in sr.layer_directions[k]:
            parts.append(Text(f"layer {k + 1}{LAYER_NAMES[direction]}: "
                              f"dL/dh_0 = [{', '.join(num(v) for v in sg.dh0[j][b])}], "
                              f"dL/dC_0 = [{', '.join(num(v) for v in sg.dc0[j][b])}]"))
            j += 1
    if report.check is not None:
        parts += [Text(), check_line(report.check)]
    return Group(*parts)


def check_line(check: dict):
    """The finite-difference check in one line."""
    from rich.text import Text

    from lstmcalc.render.numbers import sci

    return Text(
        f"Finite-difference check ({check['checked']} of {check['parameters']} parameters, "
        f"central differences in float64): largest relative error "
        f"{sci(check['max_relative_error'])} (at {_counting_from_1(check['worst_at'])}), " + (
            f"within the bound {sci(check['bound'])}"
            if check["max_relative_error"] < check["bound"] else
            f"over {sci(check['bound'])} only where the absolute error is under "
            f"{sci(check['absolute_floor'])}: passed" if check["passed"] else
            f"OVER the bound {sci(check['bound'])} at {check['failed']} parameters"),
        style="bold" if check["passed"] else "bold red")


def _counting_from_1(at) -> str:
    """The check's worst parameter as a person counts, from 1 (the JSON counts from 0)."""
    if at is None:
        return "-"
    return f"{at['parameter']} row {', column '.join(str(i + 1) for i in at['index'])}" \
        if len(at["index"]) == 2 else f"{at['parameter']} entry {at['index'][0] + 1}"
