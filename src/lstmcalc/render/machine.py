"""JSON, JSONL, YAML and CSV from a Step or a Run. Keys follow DESIGN.md; extra keys only add.

Numbers are written exactly: float64 with the shortest decimal that reads back to the same
float64, float32 with the shortest that reads back to the same float32. JSON is compact. Where
the optional orjson is installed (`pip install 'lstmcalc[fast]'`) it writes the JSON, some ten
times faster than the standard library (whose float repr is the bottleneck); the numbers are
the same either way.
"""

import csv
import io
import json
from itertools import repeat
from typing import Any

import numpy as np

from lstmcalc.core import GATES, Run, Step
from lstmcalc.records import header, numbers, record_parts, step_dict

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # the standard library writes the same numbers, only slower
    _orjson = None


def _raw(arr):
    """For orjson, which writes NumPy arrays itself (float32 as float32), contiguous ones only;
    a list of arrays (a stack's layers of different sizes) item by item."""
    if isinstance(arr, list):
        return [_raw(a) for a in arr]
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def dumps(obj) -> str:
    """Compact JSON. The core guarantees finite numbers; allow_nan=False keeps it honest."""
    if _orjson is not None:
        return _orjson.dumps(obj, option=_orjson.OPT_SERIALIZE_NUMPY).decode()
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def _for_json():
    """How arrays go into an object that dumps() will write."""
    return _raw if _orjson is not None else numbers


def to_json(step: Step) -> str:
    return document(lambda numbers: step_dict(step, numbers=numbers))


def yaml_text(obj) -> str:
    import yaml  # only when YAML is asked for

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=None, width=2**16)


def document(build, yaml: bool = False) -> str:
    """The object build(numbers) makes, as one line of JSON or as YAML. build gets the
    conversion of arrays that the chosen writer takes (orjson takes the arrays themselves)."""
    if yaml:
        return yaml_text(build(numbers))
    return dumps(build(_for_json())) + "\n"


def csv_columns(step: Step, fields=None, y=None) -> list[tuple[str, np.ndarray]]:
    """(column prefix, (..., k) array) pairs; each becomes columns prefix[0], prefix[1], ...
    y: the output layer's y_t, when the config has one."""
    def keep(key):
        return fields is None or key in fields

    cols = [(name, arr) for name, arr in
            (("x", step.x), ("h_prev", step.h_prev), ("c_prev", step.c_prev)) if keep(name)]
    for k, gate in enumerate(GATES):
        if keep(gate) or keep("gates"):
            cols += [(f"{gate}_pre", step.z[..., k, :]), (gate, step.a[..., k, :])]
    cols += [(name, arr) for name, arr in (("c", step.c), ("h", step.h)) if keep(name)]
    return cols + ([("y", y)] if y is not None and keep("y") else [])


def csv_header(step: Step, fields=None, t: bool = False, y=None) -> list[str]:
    lead = (["t"] if t else []) + (["sequence"] if step.batch_shape else [])
    return lead + [f"{name}[{j}]" for name, arr in csv_columns(step, fields, y)
                   for j in range(arr.shape[-1])]


def csv_rows(step: Step, fields=None, t: int | None = None, y=None) -> list[list]:
    """One row per sequence of the batch (one row for a single sequence)."""
    flat = [arr.reshape(-1, arr.shape[-1]) for _, arr in csv_columns(step, fields, y)]
    values = numbers(np.concatenate(flat, axis=-1))  # (B, columns)
    lead = [t] if t is not None else []
    if step.batch_shape:
        return [lead + [b + 1] + [repr(v) for v in row] for b, row in enumerate(values)]
    return [lead + [repr(v) for v in values[0]]]


def csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def to_csv(step: Step, y=None) -> str:
    return csv_text([csv_header(step, y=y)] + csv_rows(step, y=y))


# Sequences -------------------------------------------------------------------------------------

def step_record(step: Step, t: int, fields=None, numbers=numbers, extra=None) -> dict:
    """A step of a sequence: {"t": t, ...the step object...} (t counts from 1). extra(t,
    numbers) adds keys (the stochastic reading)."""
    record = {"t": t, **step_dict(step, fields, numbers)}
    if extra is not None:
        record.update(extra(t, numbers))
    return record


def jsonl_line(step: Step, t: int, fields=None, extra=None) -> str:
    return dumps(step_record(step, t, fields, _for_json(), extra)) + "\n"


def run_lines(run: Run, t0: int = 1, fields=None, extra=None, start: int = 0,
              stop: int | None = None) -> str:
    """The JSONL lines of steps start..stop-1 of a run (all by default), the run's first step
    numbered t0: the same text jsonl_line() writes for each run.step(j), made for the steps
    at once (each array turned into Python numbers in one call, not one Step and one dict of
    arrays per step)."""
    keep = (lambda key: True) if fields is None else fields.__contains__
    stop = run.T if stop is None else stop
    T = stop - start
    head = header(run.cell, run.batch_shape)
    conv: Any = numbers
    if _orjson is not None and extra is not None and run.x.dtype == np.float32:
        # orjson writes a float32 array in its own shortest form (0.0000010418397, where
        # Python's float would give 1.0418397e-06): hand it the arrays, as jsonl_line does
        def conv(arr: np.ndarray) -> Any:
            return np.ascontiguousarray(arr) if arr.dtype == np.float32 else numbers(arr)
    span = slice(start, stop)
    x, h_prev, c_prev = run.x[span], run.h_prev[span], run.c_prev[span]

    def v() -> np.ndarray:
        parts = {"x": x, "h": h_prev}
        return np.concatenate([parts[p] for p in run.cell.concat], axis=-1)

    before, gate_parts, after = record_parts(
        keep, x, h_prev, c_prev, v, run.z[span], run.a[span], lambda: run.exact_gaps[span],
        run.fc[span], run.ig[span], run.c[span], run.tanh_c[span], run.h[span],
        None if run.m is None else run.m[span],
        None if run.padded is None else run.padded[span])
    if _orjson is not None and extra is None:
        texts = _RunTexts(run, span)
        return _orjson_lines(t0 + start, T, head,
                             [(key, texts.of(key, arr)) for key, arr in before],
                             [(gate, _step_texts(z), _step_texts(a), _step_texts(g))
                              for gate, z, a, g in gate_parts],
                             [(key, texts.of(key, arr)) for key, arr in after])
    # (key, one entry per step)
    per_step = [(key, conv(arr)) for key, arr in before]
    gates = [(gate, conv(z), conv(a), conv(g)) for gate, z, a, g in gate_parts]
    tail = [(key, conv(arr)) for key, arr in after]
    numbers_for = _for_json()
    lines = []
    for j in range(T):
        t = t0 + start + j
        record = {"t": t, **head}
        for key, values in per_step:
            record[key] = values[j]
        if gates:
            record["gates"] = {gate: {"preactivation": z[j], "activation": a[j],
                                      "saturation_gap": g[j]} for gate, z, a, g in gates}
        for key, values in tail:
            record[key] = values[j]
        if extra is not None:
            record.update(extra(t, numbers_for))
        lines.append(dumps(record))
    return "\n".join(lines) + "\n" if lines else ""


def _step_texts(arr: np.ndarray) -> tuple[str, list[str], str]:
    """orjson's JSON text of each arr[j] (arr of shape (T, ...)), cut from one call's text of
    the whole array, as (opening brackets, each step's text inside them, closing brackets):
    the same characters it writes for arr[j] alone."""
    arr = np.ascontiguousarray(arr)
    text = _orjson.dumps(arr, option=_orjson.OPT_SERIALIZE_NUMPY).decode()
    d = arr.ndim
    if d == 1:
        return "", text[1:-1].split(","), ""
    left, right = "[" * (d - 1), "]" * (d - 1)
    return left, text[d:-d].split(right + "," + left), right


class _RunTexts:
    """_step_texts of a run's arrays (steps span), each made once, and those that repeat
    another's numbers cut from its text instead of written again: h_prev is h one step
    later (the first from the state before the span), c_prev is c's, and an unbatched
    step's concatenated is its x's text and its h_prev's side by side."""

    def __init__(self, run: Run, span: slice):
        self.run, self.span = run, span
        self.made: dict[str, tuple[str, Any, str]] = {}

    def of(self, key: str, arr: np.ndarray) -> tuple[str, Any, str]:
        """The texts of the array written under key (arr, the run's array for it)."""
        if key not in self.made:
            self.made[key] = self._make(key, arr)
        return self.made[key]

    def _make(self, key: str, arr: np.ndarray) -> tuple[str, Any, str]:
        run, span = self.run, self.span
        if key in ("h_prev", "c_prev"):
            name = key[0]
            left, pieces, right = self.of(name, (run.h if name == "h" else run.c)[span])
            first = _step_texts(arr[:1])[1]  # the state before the span's first step
            return left, first + pieces[:-1], right
        if key == "concatenated" and run.x.ndim == 2:  # (T, m): one sequence
            parts = [self.of("x", run.x[span])[1] if name == "x"
                     else self.of("h_prev", run.h_prev[span])[1] for name in run.cell.concat]
            return "[", _Columns((parts[0], repeat(","), parts[1])), "]"
        return _step_texts(arr)


class _Columns(tuple):
    """Pieces of a step's text in several columns, laid side by side (_orjson_lines)."""


def _orjson_lines(t: int, count: int, head: dict, per_step: list, gates: list,
                  tail: list) -> str:
    """run_lines' text from each step's pieces of text (_step_texts), keys in its order: the
    pieces laid side by side as columns (a key's text, with the brackets, repeated down its
    column) and each line joined from its row, with no Python loop over the steps."""
    head_text = "," + _orjson.dumps(head).decode()[1:-1]
    columns: list = [[f'{{"t":{t + j}{head_text}' for j in range(count)]]

    def add(before: str, texts: tuple[str, Any, str]) -> None:
        left, pieces, right = texts
        columns.append(repeat(before + left))
        columns.extend(pieces if isinstance(pieces, _Columns) else (pieces,))
        columns.append(repeat(right))

    for key, texts in per_step:
        add(f',"{key}":', texts)
    for k, (gate, z, a, g) in enumerate(gates):
        opening = ',"gates":{' if k == 0 else ","
        add(opening + f'"{gate}":{{"preactivation":', z)
        add(',"activation":', a)
        add(',"saturation_gap":', g)
        columns.append(repeat("}"))
    if gates:
        columns.append(repeat("}"))
    for key, texts in tail:
        add(f',"{key}":', texts)
    columns.append(repeat("}\n"))
    return "".join(map("".join, zip(*columns)))


def final_dict(cell, h: np.ndarray, c: np.ndarray, T: int, numbers=numbers) -> dict:
    return {**header(cell, h.shape[:-1]), "steps": T, "h": numbers(h), "c": numbers(c)}


def run_dict(run: Run, fields=None, numbers=numbers, extra=None, more=None) -> dict:
    """more: keys about the whole run (a narrow format's errors), after h and c."""
    run.exact_gaps  # the written gaps, computed once for every step  # noqa: B018
    out = header(run.cell, run.batch_shape)
    out["steps"] = [step_record(run.step(t), t + 1, fields, numbers, extra)
                    for t in range(run.T)]
    out["h"], out["c"] = numbers(run.h[-1]), numbers(run.c[-1])
    return {**out, **(more or {})}


def run_json(run: Run, fields=None, extra=None, more=None) -> str:
    return document(lambda numbers: run_dict(run, fields, numbers, extra, more))


def run_yaml(run: Run, fields=None, extra=None, more=None) -> str:
    return document(lambda numbers: run_dict(run, fields, numbers, extra, more), yaml=True)


# steps made into JSONL lines at a time: their text stays in cache (a 1,000,000-step founding
# stream: 9.7 s in pieces of 256, 10.6 s in whole chunks of ~1,100 steps)
LINES = 256


def run_jsonl(run: Run, fields=None, extra=None, t0: int = 1):
    """The run's JSONL lines, LINES steps at a time, its first step numbered t0."""
    for start in range(0, run.T, LINES):
        yield run_lines(run, t0, fields, extra, start, min(start + LINES, run.T))


def run_csv(run: Run, fields=None, ys=None):
    """ys: the output layer's y for every step (T, ..., q), when the config has one."""
    first = None if ys is None else ys[0]
    yield csv_text([csv_header(run.step(0), fields, t=True, y=first)])
    for t in range(run.T):
        yield csv_text(csv_rows(run.step(t), fields, t + 1, None if ys is None else ys[t]))
