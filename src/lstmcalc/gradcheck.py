"""Central finite differences in float64 on the parameters, against backward()'s gradients."""

import numpy as np

from lstmcalc.cell import Cell, unroll

BOUND = 1e-5  # a check passes when the largest relative error stays below this


def check(cell: Cell, xs, h0, c0, loss, dW, db, samples: int | None = None, seed: int = 0,
          dP=None):
    """loss(run) -> L. Compares dL/dW and dL/db with (L(p + e) - L(p - e)) / 2e, e = 1e-5 max(1,
    |p|), for every parameter p (or `samples` of them, drawn with `seed`). The relative error
    of a parameter is |analytic - numeric| / max(|analytic|, |numeric|, 1e-3 times the largest
    gradient). Returns a summary dict."""
    cell = cell.astype(np.float64)
    v = cell.variant
    peep = v.peephole if v is not None and v.peephole is not None and dP is not None else None
    params = np.concatenate([cell.W.ravel(), cell.b.ravel()]
                            + ([peep.ravel()] if peep is not None else []))
    analytic = np.concatenate([np.asarray(dW).ravel(), np.asarray(db).ravel()]
                              + ([np.asarray(dP).ravel()] if peep is not None else []))
    index = np.arange(params.size)
    if samples is not None and samples < params.size:
        index = np.sort(np.random.default_rng(seed).choice(params.size, samples, replace=False))
    nW = cell.W.size
    # the floor keeps gradients that are ~0 anyway from turning rounding noise into "error"
    floor = 1e-3 * max(float(np.abs(analytic).max()), 1e-12)
    worst, worst_at, worst_abs = 0.0, None, 0.0
    for k in index:
        eps = 1e-5 * max(1.0, abs(params[k]))
        values = []
        for sign in (1, -1):
            p = params.copy()
            p[k] += sign * eps
            nb = nW + cell.b.size
            pv = v
            if peep is not None:
                from lstmcalc.cell import Variant

                pv = Variant(p[nb:].reshape(peep.shape), v.coupled, v.clip, v.cell_clip,
                             v.gate, v.candidate, v.cell)
            probe = Cell(p[:nW].reshape(cell.W.shape), p[nW:nb].reshape(cell.b.shape),
                         cell.concat, pv)
            values.append(loss(unroll(probe, xs, h0, c0)))
        numeric = (values[0] - values[1]) / (2 * eps)
        a = analytic[k]
        rel = abs(a - numeric) / max(abs(a), abs(numeric), floor)
        if rel >= worst:
            worst, worst_at, worst_abs = rel, int(k), abs(a - numeric)
    return {"checked": int(index.size), "parameters": int(params.size),
            "max_relative_error": float(worst), "max_absolute_error": float(worst_abs),
            "worst": _name(worst_at, cell), "bound": BOUND, "passed": bool(worst < BOUND)}


def _name(k, cell: Cell) -> str:
    if k is None:
        return "-"
    from lstmcalc.cell import GATES

    if k < cell.W.size:
        g, j, col = np.unravel_index(k, cell.W.shape)
        return f"W_{GATES[g]}[{j + 1}, {col + 1}]"
    if k < cell.W.size + cell.b.size:
        g, j = np.unravel_index(k - cell.W.size, cell.b.shape)
        return f"b_{GATES[g]}[{j + 1}]"
    g, j = np.unravel_index(k - cell.W.size - cell.b.size, (3, cell.hidden_size))
    return f"p_{('forget', 'input', 'output')[g]}[{j + 1}]"
