"""Central finite differences in float64 on the parameters, against backward()'s gradients."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lstmcalc.core.forward import unroll
from lstmcalc.core.types import GATES, Cell, Grads, Run

BOUND = 1e-5  # a parameter passes when its relative error stays below this,
ABSOLUTE = 1e-9  # or its absolute error below this times max(1, |L|): central differences in
# float64 with e = 1e-5 carry rounding noise near 1e-16 |L| / 1e-5, so a correct gradient of
# 1e-13 in a saturated cell, whose difference quotient is 0, is judged by this floor instead


def check(cell: Cell, xs: ArrayLike, h0: ArrayLike | None, c0: ArrayLike | None,
          loss: Callable[[Run], float], dW: np.ndarray, db: np.ndarray,
          samples: int | None = None, seed: int = 0, dP: np.ndarray | None = None,
          dWp: np.ndarray | None = None) -> dict[str, Any]:
    """loss(run) -> L for one cell: see check_cells."""
    # only the parameters' gradients are compared: the per-step ones are not needed here
    grads = Grads(dW, db, *(None,) * 6, dP, dWp)  # type: ignore[arg-type]
    return check_cells([cell], [grads], lambda cells: loss(unroll(cells[0], xs, h0, c0)),
                       samples, seed)


def check_cells(cells: Sequence[Cell], grads: Sequence[Grads],
                value: Callable[[list[Cell]], float], samples: int | None = None,
                seed: int = 0, names: Sequence[str] | None = None) -> dict[str, Any]:
    """value(cells) -> L. Compares each cell's dL/dW, dL/db (and the peepholes' and the
    projection's gradients, where the Grads hold them) with (L(p + e) - L(p - e)) / 2e,
    e = 1e-5 max(1, |p|), for every parameter p (or `samples` of them, drawn with `seed`). The
    relative error of a parameter is |analytic - numeric| / max(|analytic|, |numeric|, 1e-3
    times the largest gradient); it passes below BOUND, or where |analytic - numeric| is below
    ABSOLUTE max(1, |L|). names: how each cell is called in the summary (layers of a stack).
    Returns a summary dict."""
    cells = [cell.astype(np.float64) for cell in cells]
    groups = []  # (cell index, name, parameter array, gradient)
    for k, (cell, g) in enumerate(zip(cells, grads)):
        v = cell.variant
        groups += [(k, "W", cell.W, g.dW), (k, "b", cell.b, g.db)]
        if v.peephole is not None and g.dP is not None:
            groups.append((k, "peephole", v.peephole, g.dP))
        if v.projection is not None and g.dWp is not None:
            groups.append((k, "projection", v.projection, g.dWp))
    params = np.concatenate([p.ravel() for _, _, p, _ in groups])
    analytic = np.concatenate([np.asarray(g).ravel() for _, _, _, g in groups])
    bounds = np.cumsum([0] + [p.size for _, _, p, _ in groups])
    index = np.arange(params.size)
    if samples is not None and samples < params.size:
        index = np.sort(np.random.default_rng(seed).choice(params.size, samples, replace=False))
    floor = 1e-3 * max(float(np.abs(analytic).max()), 1e-12)

    def probe(p: np.ndarray) -> list[Cell]:
        parts: list[dict[str, np.ndarray]] = [{} for _ in cells]
        for (k, name, arr, _), lo, hi in zip(groups, bounds[:-1], bounds[1:]):
            parts[k][name] = p[lo:hi].reshape(arr.shape)
        return [Cell(q["W"], q["b"], cell.concat,
                     replace(cell.variant, peephole=q.get("peephole", cell.variant.peephole),
                             projection=q.get("projection", cell.variant.projection)))
                for cell, q in zip(cells, parts)]

    atol = ABSOLUTE * max(1.0, abs(value(cells)))
    worst: tuple[float, int | None, float] = (-1.0, None, 0.0)  # (relative error, at,
    # absolute error): the largest
    worst_failure = worst  # the largest among the parameters that fail
    failed = 0
    for k in map(int, index):
        eps = 1e-5 * max(1.0, abs(params[k]))
        values = []
        for sign in (1, -1):
            p = params.copy()
            p[k] += sign * eps
            values.append(value(probe(p)))
        numeric = (values[0] - values[1]) / (2 * eps)
        a = analytic[k]
        err = abs(a - numeric)
        rel = err / max(abs(a), abs(numeric), floor)
        worst = max(worst, (rel, int(k), err), key=lambda w: w[0])
        if rel >= BOUND and err >= atol:
            failed += 1
            worst_failure = max(worst_failure, (rel, int(k), err), key=lambda w: w[0])
    rel, worst_at, worst_abs = worst_failure if failed else worst
    return {"checked": int(index.size), "parameters": int(params.size),
            "max_relative_error": float(max(rel, 0.0)), "max_absolute_error": float(worst_abs),
            "worst": _name(_where(worst_at, groups, bounds, names)),
            "worst_at": _where(worst_at, groups, bounds, names), "bound": BOUND,
            "absolute_floor": atol, "failed": failed, "passed": failed == 0}


def _where(k: int | None, groups: list[Any], bounds: np.ndarray,
           names: Sequence[str] | None) -> dict[str, Any] | None:
    """Which parameter k is: {"parameter": "W_forget", "index": [row, column]} counting from
    0 (as the JSON's arrays do), with the layer first in a stack."""
    if k is None:
        return None
    g = int(np.searchsorted(bounds, k, side="right")) - 1
    cell, name, arr, _ = groups[g]
    idx = [int(i) for i in np.unravel_index(k - bounds[g], arr.shape)]
    where = f"{names[cell]} " if names else ""
    if name in ("W", "b"):
        return {"parameter": f"{where}{name}_{GATES[idx[0]]}", "index": idx[1:]}
    if name == "peephole":
        return {"parameter": f"{where}p_{('forget', 'input', 'output')[idx[0]]}",
                "index": idx[1:]}
    return {"parameter": f"{where}W_hr", "index": idx}


def _name(at: dict[str, Any] | None) -> str:
    if at is None:
        return "-"
    return f"{at['parameter']}[{', '.join(map(str, at['index']))}]"
