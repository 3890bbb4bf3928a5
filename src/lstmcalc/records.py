"""Records: a step, a reading or a header as the plain dict of the JSON contract (DESIGN.md).

Shared by the reports (the truth --expect checks against) and the machine renderers (which
write these dicts as JSON, JSONL or YAML). numbers: how arrays go into a dict (plain lists by
default; orjson's writer takes the arrays themselves).
"""

import functools
from collections.abc import Callable

import numpy as np

from lstmcalc.core import GATES, Step


def numbers(arr: np.ndarray) -> list:
    """Nested lists of Python floats that read back to exactly the values in arr."""
    if isinstance(arr, list):  # arrays of different sizes (a stack's layers)
        return [numbers(a) for a in arr]
    arr = np.asarray(arr)
    if arr.dtype == np.float32:
        # float32 -> its shortest decimal -> the float64 nearest to that decimal
        arr = arr.astype(str).astype(np.float64)
    return arr.tolist()


def header(cell, batch_shape: tuple) -> dict:
    return dict(_header(cell, batch_shape))


@functools.lru_cache(maxsize=8)
def _header(cell, batch_shape: tuple) -> dict:
    out = {"input_size": cell.input_size, "hidden_size": cell.hidden_size,
           "concat": list(cell.concat), "dtype": cell.dtype_name}
    if batch_shape:
        out["batch_size"] = batch_shape[0]
    return out


def sizes(m: int, n: int, p: int) -> dict:
    """The size of each variable of a cell with m inputs, n units and h of p entries (n, or
    the rows of a projection): the `shapes` of `shapes -f json`, and what --expect checks."""
    gates = ("f", "i", "c", "o")
    return {"x": [m], "h_prev": [p], "c_prev": [n], "concatenated": [m + p],
            **{f"W_{g}": [n, m + p] for g in gates}, **{f"b_{g}": [n] for g in gates},
            "gates": [n], "c": [n], "h": [p]}


def record_parts(keep, x, h_prev, c_prev, v: Callable, z, a, gaps: Callable, fc, ig, c, tanh_c,
                 h, m=None, padded=None) -> tuple[list, list, list]:
    """The arrays of a step object, in the JSON contract's key order, for one step or, with a
    leading axis on each, for several: ([(key, array)] before the gates, [(gate,
    preactivation, activation, saturation gap)], [(key, array)] after them). keep(key): the
    --fields kept; v and gaps: functions, called only where their keys are kept."""
    before = [(key, arr) for key, arr in (("x", x), ("h_prev", h_prev), ("c_prev", c_prev))
              if keep(key)]
    if keep("concatenated"):
        before.append(("concatenated", v()))
    written = [(k, gate) for k, gate in enumerate(GATES) if keep(gate) or keep("gates")]
    gates = []
    if written:
        g = gaps()
        gates = [(gate, z[..., k, :], a[..., k, :], g[..., k, :]) for k, gate in written]
    after = [(key, arr) for key, arr in (("forget_times_c_prev", fc),
                                         ("input_times_candidate", ig), ("c", c),
                                         ("tanh_c", tanh_c), ("h", h)) if keep(key)]
    if m is not None and keep("h"):
        after.append(("h_unprojected", m))  # o * tanh(C_t), before the projection
    if padded is not None:  # a ragged batch: which sequences have ended (not run)
        after.append(("padded", padded))
    return before, gates, after


def signals(x, h_prev, c_prev, z, a, fc, ig, c, tanh_c, h) -> list[tuple[str, np.ndarray]]:
    """A cell's signals, for one step or (with a leading axis) several, in the order test
    vectors and --hex give them, by name: x, h_prev, c_prev, each gate's z and activation
    (forget_z, forget_a, ...), forget_times_c_prev, input_times_candidate, c, tanh_c, h."""
    out = [("x", x), ("h_prev", h_prev), ("c_prev", c_prev)]
    for k, gate in enumerate(GATES):
        out += [(f"{gate}_z", z[..., k, :]), (f"{gate}_a", a[..., k, :])]
    return out + [("forget_times_c_prev", fc), ("input_times_candidate", ig), ("c", c),
                  ("tanh_c", tanh_c), ("h", h)]


def step_dict(step: Step, fields=None, numbers=numbers) -> dict:
    """The step object. fields: keep only these keys (and the header). numbers: how arrays are
    written into it (lists by default)."""
    keep = (lambda key: True) if fields is None else fields.__contains__
    out = header(step.cell, step.batch_shape)
    before, gates, after = record_parts(
        keep, step.x, step.h_prev, step.c_prev, lambda: step.v, step.z, step.a,
        step.written_gap, step.fc, step.ig, step.c, step.tanh_c, step.h, step.m, step.padded)
    for key, arr in before:
        out[key] = numbers(arr)
    if gates:  # the gaps correctly rounded: core.precise
        out["gates"] = {gate: {"preactivation": numbers(z), "activation": numbers(a),
                               "saturation_gap": numbers(g)} for gate, z, a, g in gates}
    for key, arr in after:
        out[key] = numbers(arr)
    return out


def reading_dict(seed: int, reading, numbers=numbers) -> dict:
    """The stochastic reading of a step (see core.stochastic_reading), for machine output."""
    return {"seed": seed, "note": "non-standard: a gate unit is on when u < its value",
            **{gate: {"u": numbers(reading.u[..., k, :]), "on": numbers(reading.on[..., k, :])}
               for k, gate in enumerate(("forget", "input", "output"))},
            "c": numbers(reading.c), "h": numbers(reading.h)}


def directions_json(directions: tuple) -> list:
    """A stack's directions: ["forward", "reverse"] for every layer alike, or one list per
    layer for a mixed stack."""
    return [d if isinstance(d, str) else list(d) for d in directions]


def layers_text(count: int, directions: tuple) -> str:
    """For people: "1 layer, forward, reverse", "2 layers, forward"."""
    return f"{count} layer{'s' if count != 1 else ''}, {directions_text(directions)}"


def lengths_text(lengths) -> str:
    """For people: what a ragged batch's lengths mean in the steps shown."""
    given = ", ".join(str(int(v)) for v in lengths)
    return (f"Sequence lengths {given}: past its length a sequence is not run (as ONNX's "
            "sequence_lens and PyTorch's packed sequences): its gates and products show 0, "
            "its h and C hold, and the layer's output there is 0 (a step marked * in a "
            "table). A reverse direction starts at each sequence's own last step.")


def directions_text(directions: tuple) -> str:
    """For people: "forward, reverse", or each layer's ("forward+reverse / forward")."""
    if all(isinstance(d, str) for d in directions):
        return ", ".join(directions)
    return " / ".join("+".join(d) for d in directions)


# The quantities of a narrow format's report (reports.Precision), by their JSON keys: each
# gate's two, then the cell's.
PER_GATE = ("preactivation", "activation")
PER_CELL = ("forget_times_c_prev", "input_times_candidate", "c", "tanh_c", "h")


def _units(mask: np.ndarray) -> list[int]:
    """The 1-based units (last axis) where mask holds at any step or sequence."""
    return [int(j) + 1 for j in np.flatnonzero(mask.reshape(-1, mask.shape[-1]).any(axis=0))]


def _worst(errors: np.ndarray, lsb: np.ndarray) -> dict:
    if errors.size == 0:
        return {"max_abs": 0.0, "mean_abs": 0.0, "max_lsb": 0.0}
    with np.errstate(divide="ignore", invalid="ignore"):
        in_lsb = np.where(lsb > 0, errors / lsb, 0.0)
    return {"max_abs": float(errors.max()), "mean_abs": float(errors.mean()),
            "max_lsb": float(in_lsb.max())}


def precision_dict(precision) -> dict:
    """A narrow format's report as JSON: its errors against float64 for each gate's
    pre-activation and activation and for f*C, i*g, C, tanh C, h (largest and mean absolute
    error, largest in units of the format's last place) and, in fixed point, how many values
    saturated and in which units (over every step and sequence)."""
    errs, lsb = precision.errors, precision.lsb
    out: dict = {"dtype": precision.name, "compared_to": "float64", "error": {
        "gates": {gate: {key: _worst(errs[key][..., k, :], lsb[key][..., k, :])
                         for key in PER_GATE} for k, gate in enumerate(GATES)},
        **{key: _worst(errs[key], lsb[key]) for key in PER_CELL}}}
    sat = precision.saturated
    if sat is not None:
        def counted(mask: np.ndarray, units: bool = True) -> dict:
            entry: dict = {"count": int(mask.sum())}
            if units:
                entry["units"] = _units(mask)
            return entry
        out["saturated"] = {
            "W": counted(sat["W"], units=False), "b": counted(sat["b"], units=False),
            **{key: counted(sat[key]) for key in ("x", "h_prev", "c_prev")},
            "gates": {gate: {key: counted(sat[key][..., k, :]) for key in PER_GATE}
                      for k, gate in enumerate(GATES)},
            **{key: counted(sat[key]) for key in PER_CELL}}
    return out
