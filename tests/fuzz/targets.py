"""Fuzz targets: random and mutated configs, sequences and expectation files fed to the
loaders. Each target may succeed or raise lstmcalc's own errors, and nothing else.

Used by tests/test_fuzz.py (a few hundred examples per run, in CI) and by
tests/fuzz/run.py (for minutes, outside CI).
"""

from typing import AnyStr

import numpy as np

from lstmcalc import config, sequences
from lstmcalc.core import step, unroll
from lstmcalc.errors import NonFiniteError, ShapeError
from lstmcalc.config import builtin_text
from lstmcalc.errors import LstmcalcError

ALLOWED = (LstmcalcError, NonFiniteError, ShapeError)
SEED_TEXT = builtin_text()


def mutate(text: AnyStr, edits: list[tuple[int, int, AnyStr]]) -> AnyStr:
    """Apply (position, deleted length, inserted text) edits to text (str or bytes)."""
    for pos, length, insert in edits:
        pos %= max(len(text), 1)
        text = text[:pos] + insert + text[pos + length:]
    return text


def config_target(text: str, as_json: bool = False):
    """Parse a config and, when it loads, run a step and an unroll on it."""
    try:
        spec = config.parse_spec(text, "fuzz.json" if as_json else "fuzz.yaml", json=as_json)
        if spec.x is not None:
            step(spec.cell, spec.x, spec.h, spec.c)
        if spec.sequence is not None:
            unroll(spec.cell, spec.sequence, spec.h, spec.c)
    except ALLOWED:
        pass


def sequence_target(text: str, fmt: str):
    """Read a sequence from text lines in a given format."""
    try:
        if fmt in sequences.LINE_FORMATS:
            rows = list(sequences.rows(text.splitlines(), fmt, "fuzz", None))
            if rows:
                np.asarray(rows, dtype=float)
        else:
            sequences._document(text, "fuzz", fmt)
    except ALLOWED:
        pass


# Binary files: .npz, .npy, .pt, .onnx, mutated byte by byte ---------------------------------

def _seed_files() -> dict[str, bytes]:
    """One small valid file of each binary kind lstmcalc reads (those whose package is here)."""
    import io

    rng = np.random.default_rng(0)
    arrays = {"weight_ih_l0": rng.normal(size=(8, 3)), "weight_hh_l0": rng.normal(size=(8, 2)),
              "bias_ih_l0": rng.normal(size=8), "bias_hh_l0": rng.normal(size=8)}
    out = {}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    out[".npz"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out["z.npz"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.save(buffer, rng.normal(size=(4, 3)))
    out[".npy"] = buffer.getvalue()
    try:
        import torch

        buffer = io.BytesIO()
        torch.save({k: torch.tensor(v) for k, v in arrays.items()}, buffer)
        out[".pt"] = buffer.getvalue()
    except ImportError:
        pass
    try:
        from lstmcalc import frameworks, layouts

        w = layouts.from_arrays("pytorch", arrays)
        out[".onnx"] = frameworks.onnx_bytes([[w]], ("forward",))
    except LstmcalcError:  # onnx is not installed
        pass
    return out


SEED_FILES = _seed_files()


def binary_target(kind: str, data: bytes, folder) -> None:
    """Read a (mutated) binary file as lstmcalc would: weights, or a .npy sequence."""
    import pathlib
    import warnings

    from lstmcalc import frameworks

    path = pathlib.Path(folder) / f"fuzz{kind if kind.startswith('.') else '.npz'}"
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning is a finding too
            if kind == ".npy":
                sequences.read(str(path))
                return
            stack, directions, *_ = frameworks.load(str(path), None, None, 1 << 20)
            cell = stack[0][0].cell()
            step(cell, np.ones(cell.input_size))
    except ALLOWED:
        pass
