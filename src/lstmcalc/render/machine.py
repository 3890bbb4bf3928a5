"""JSON, YAML and CSV from a Step. Keys follow the contract in DESIGN.md; extra keys only add.

Numbers are written exactly: float64 with Python's shortest round-trip repr, float32 with the
shortest decimal that reads back to the same float32.
"""

import csv
import io
import json

import numpy as np

from lstmcalc.cell import GATES, Step


def numbers(arr: np.ndarray) -> list:
    """Nested lists of Python floats that read back to exactly the values in arr."""
    arr = np.asarray(arr)
    if arr.dtype == np.float32:
        # float32 -> its shortest decimal -> the float64 nearest to that decimal
        arr = arr.astype(str).astype(np.float64)
    return arr.tolist()


def step_dict(step: Step) -> dict:
    cell = step.cell
    gates = {}
    for k, gate in enumerate(GATES):
        gates[gate] = {
            "preactivation": numbers(step.z[..., k, :]),
            "activation": numbers(step.a[..., k, :]),
            "saturation_gap": numbers(step.a_gap[..., k, :]),
        }
    out = {
        "input_size": cell.input_size,
        "hidden_size": cell.hidden_size,
        "concat": list(cell.concat),
        "dtype": str(cell.dtype),
    }
    if step.batch_shape:
        out["batch_size"] = step.batch_shape[0]
    out.update({
        "x": numbers(step.x),
        "h_prev": numbers(step.h_prev),
        "c_prev": numbers(step.c_prev),
        "concatenated": numbers(step.v),
        "gates": gates,
        "forget_times_c_prev": numbers(step.fc),
        "input_times_candidate": numbers(step.ig),
        "c": numbers(step.c),
        "tanh_c": numbers(step.tanh_c),
        "h": numbers(step.h),
    })
    return out


def to_json(step: Step) -> str:
    return json.dumps(step_dict(step), allow_nan=False) + "\n"


def to_yaml(step: Step) -> str:
    import yaml  # only when YAML is asked for

    return yaml.safe_dump(step_dict(step), sort_keys=False, default_flow_style=None, width=2**16)


def csv_columns(step: Step) -> list[tuple[str, np.ndarray]]:
    """(column prefix, (..., k) array) pairs; each becomes columns prefix[0], prefix[1], ..."""
    cols = [("x", step.x), ("h_prev", step.h_prev), ("c_prev", step.c_prev)]
    for k, gate in enumerate(GATES):
        cols += [(f"{gate}_pre", step.z[..., k, :]), (gate, step.a[..., k, :])]
    return cols + [("c", step.c), ("h", step.h)]


def to_csv(step: Step) -> str:
    cols = csv_columns(step)
    header = [f"{name}[{j}]" for name, arr in cols for j in range(arr.shape[-1])]
    flat = [arr.reshape(-1, arr.shape[-1]) for _, arr in cols]  # (B, k) each
    rows = np.concatenate(flat, axis=-1)
    batched = bool(step.batch_shape)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((["sequence"] if batched else []) + header)
    for b, row in enumerate(numbers(rows)):
        writer.writerow(([b + 1] if batched else []) + [repr(v) for v in row])
    return buffer.getvalue()


FORMATTERS = {"json": to_json, "yaml": to_yaml, "csv": to_csv}
