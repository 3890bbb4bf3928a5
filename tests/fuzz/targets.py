"""Fuzz targets: random and mutated configs, sequences and expectation files fed to the
loaders. Each target may succeed or raise lstmcalc's own errors, and nothing else.

Used by tests/test_fuzz.py (a few hundred examples per run, in CI) and by
tests/fuzz/run.py (for minutes, outside CI).
"""

import numpy as np

from lstmcalc import config, sequences
from lstmcalc.core import step, unroll
from lstmcalc.errors import NonFiniteError, ShapeError
from lstmcalc.config import builtin_text
from lstmcalc.errors import LstmcalcError

ALLOWED = (LstmcalcError, NonFiniteError, ShapeError)
SEED_TEXT = builtin_text()


def mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply (position, deleted length, inserted text) edits to text."""
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
