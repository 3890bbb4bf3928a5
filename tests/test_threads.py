"""The recurrence's BLAS threads (core/threads.py): one thread for small steps, the numbers
bit for bit those of BLAS's own threads."""

import numpy as np
import pytest

from lstmcalc.core import Cell, outputs, threads, unroll


def test_one_thread_or_many_the_same_bits(monkeypatch):
    pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    m, n, T = 64, 32, 300
    cell = Cell(rng.normal(size=(4, n, m + n)) * 0.1, rng.normal(size=(4, n)) * 0.1)
    xs = rng.normal(size=(T, 2, m))
    import contextlib

    assert not isinstance(threads.recurrence(2 * n * 4 * n, T), contextlib.nullcontext)
    limited = unroll(cell, xs), outputs(cell, xs)
    monkeypatch.setattr(threads, "_controller", lambda: None)  # BLAS keeps its threads
    free = unroll(cell, xs), outputs(cell, xs)
    for a, b in ((limited[0].h, free[0].h), (limited[0].z, free[0].z),
                 (limited[1][0], free[1][0]), (limited[1][1], free[1][1])):
        assert a.tobytes() == b.tobytes()


def test_only_small_and_many_steps_take_one_thread():
    import contextlib

    assert isinstance(threads.recurrence(threads.SMALL, 1000), contextlib.nullcontext)
    assert isinstance(threads.recurrence(100, threads.FEW - 1), contextlib.nullcontext)
