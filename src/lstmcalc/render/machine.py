"""JSON, JSONL, YAML and CSV from a Step or a Run. Keys follow DESIGN.md; extra keys only add.

Numbers are written exactly: float64 with Python's shortest round-trip repr, float32 with the
shortest decimal that reads back to the same float32.
"""

import csv
import io
import json

import numpy as np

from lstmcalc.cell import GATES, Run, Step

# What --fields may name: the keys of a step object (t is always kept).
FIELDS = ("x", "h_prev", "c_prev", "concatenated", "gates", "forget", "input", "candidate",
          "output", "forget_times_c_prev", "input_times_candidate", "c", "tanh_c", "h")
HEADER_KEYS = ("input_size", "hidden_size", "concat", "dtype", "batch_size")


def numbers(arr: np.ndarray) -> list:
    """Nested lists of Python floats that read back to exactly the values in arr."""
    arr = np.asarray(arr)
    if arr.dtype == np.float32:
        # float32 -> its shortest decimal -> the float64 nearest to that decimal
        arr = arr.astype(str).astype(np.float64)
    return arr.tolist()


def header(cell, batch_shape: tuple) -> dict:
    out = {"input_size": cell.input_size, "hidden_size": cell.hidden_size,
           "concat": list(cell.concat), "dtype": str(cell.dtype)}
    if batch_shape:
        out["batch_size"] = batch_shape[0]
    return out


def step_dict(step: Step, fields=None) -> dict:
    """The step object. fields: keep only these keys (and the header)."""
    gates = {}
    for k, gate in enumerate(GATES):
        if fields is None or gate in fields or "gates" in fields:
            gates[gate] = {
                "preactivation": numbers(step.z[..., k, :]),
                "activation": numbers(step.a[..., k, :]),
                "saturation_gap": numbers(step.a_gap[..., k, :]),
            }
    body = {
        "x": lambda: numbers(step.x),
        "h_prev": lambda: numbers(step.h_prev),
        "c_prev": lambda: numbers(step.c_prev),
        "concatenated": lambda: numbers(step.v),
        "gates": lambda: gates,
        "forget_times_c_prev": lambda: numbers(step.fc),
        "input_times_candidate": lambda: numbers(step.ig),
        "c": lambda: numbers(step.c),
        "tanh_c": lambda: numbers(step.tanh_c),
        "h": lambda: numbers(step.h),
    }
    out = header(step.cell, step.batch_shape)
    for key, value in body.items():
        if fields is None or key in fields or (key == "gates" and gates):
            out[key] = value()
    return out


def to_json(step: Step) -> str:
    return json.dumps(step_dict(step), allow_nan=False) + "\n"


def to_yaml(step: Step) -> str:
    return _yaml(step_dict(step))


def _yaml(obj) -> str:
    import yaml  # only when YAML is asked for

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=None, width=2**16)


def csv_columns(step: Step, fields=None) -> list[tuple[str, np.ndarray]]:
    """(column prefix, (..., k) array) pairs; each becomes columns prefix[0], prefix[1], ..."""
    def keep(key):
        return fields is None or key in fields

    cols = [(name, arr) for name, arr in
            (("x", step.x), ("h_prev", step.h_prev), ("c_prev", step.c_prev)) if keep(name)]
    for k, gate in enumerate(GATES):
        if keep(gate) or keep("gates"):
            cols += [(f"{gate}_pre", step.z[..., k, :]), (gate, step.a[..., k, :])]
    return cols + [(name, arr) for name, arr in (("c", step.c), ("h", step.h)) if keep(name)]


def csv_header(step: Step, fields=None, t: bool = False) -> list[str]:
    lead = (["t"] if t else []) + (["sequence"] if step.batch_shape else [])
    return lead + [f"{name}[{j}]" for name, arr in csv_columns(step, fields)
                   for j in range(arr.shape[-1])]


def csv_rows(step: Step, fields=None, t: int | None = None) -> list[list]:
    """One row per sequence of the batch (one row for a single sequence)."""
    flat = [arr.reshape(-1, arr.shape[-1]) for _, arr in csv_columns(step, fields)]
    values = numbers(np.concatenate(flat, axis=-1))  # (B, columns)
    lead = [t] if t is not None else []
    if step.batch_shape:
        return [lead + [b + 1] + [repr(v) for v in row] for b, row in enumerate(values)]
    return [lead + [repr(v) for v in values[0]]]


def _csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def to_csv(step: Step) -> str:
    return _csv_text([csv_header(step)] + csv_rows(step))


FORMATTERS = {"json": to_json, "yaml": to_yaml, "csv": to_csv}


# Sequences -------------------------------------------------------------------------------------

def step_record(step: Step, t: int, fields=None) -> dict:
    """A step of a sequence: {"t": t, ...the step object...} (t counts from 1)."""
    return {"t": t, **step_dict(step, fields)}


def jsonl_line(step: Step, t: int, fields=None) -> str:
    return json.dumps(step_record(step, t, fields), allow_nan=False) + "\n"


def final_dict(cell, h: np.ndarray, c: np.ndarray, T: int) -> dict:
    return {**header(cell, h.shape[:-1]), "steps": T, "h": numbers(h), "c": numbers(c)}


def run_dict(run: Run, fields=None) -> dict:
    out = header(run.cell, run.batch_shape)
    out["steps"] = [step_record(run.step(t), t + 1, fields) for t in range(run.T)]
    out["h"], out["c"] = numbers(run.h[-1]), numbers(run.c[-1])
    return out


def run_json(run: Run, fields=None) -> str:
    return json.dumps(run_dict(run, fields), allow_nan=False) + "\n"


def run_yaml(run: Run, fields=None) -> str:
    return _yaml(run_dict(run, fields))


def run_jsonl(run: Run, fields=None):
    for t in range(run.T):
        yield jsonl_line(run.step(t), t + 1, fields)


def run_csv(run: Run, fields=None):
    yield _csv_text([csv_header(run.step(0), fields, t=True)])
    for t in range(run.T):
        yield _csv_text(csv_rows(run.step(t), fields, t + 1))
