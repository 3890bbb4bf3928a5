"""The core against hand-worked numbers and 60-digit decimal arithmetic."""

import numpy as np
import pytest

from helpers import decimal_step
from lstmcalc.core import Cell, step
from lstmcalc.errors import NonFiniteError, ShapeError

X, H = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
W_F = [[1, 2, 3, 4, 5, 6], [5, 6, 7, 8, 9, 10], [3, 4, 5, 6, 7, 8]]
B_F = [1, 2, 3]
W_I = [[1] * 6, [2] * 6, [3] * 6]
B_I = [1, 1, 1]


def random_cell(rng, m, n, scale=1.0, concat=("x", "h")):
    return Cell(rng.normal(0, scale, (4, n, m + n)), rng.normal(0, scale, (4, n)), concat)


def founding_cell():
    rng = np.random.default_rng(0)
    W = np.stack([W_F, W_I, rng.normal(0, 0.1, (3, 6)), rng.normal(0, 0.1, (3, 6))]).astype(float)
    b = np.stack([B_F, B_I, np.zeros(3), np.zeros(3)]).astype(float)
    return Cell(W, b)


def test_founding_forget_gate_by_hand():
    s = step(founding_cell(), X, H)
    assert s.v.tolist() == [1, 2, 3, 4, 5, 6]
    Wv = s.z[0] - np.array(B_F)
    assert Wv.tolist() == [91, 175, 133]
    assert s.z[0].tolist() == [92, 177, 136]
    assert s.a[0].tolist() == [1.0, 1.0, 1.0]  # as float64 prints them ...
    assert (s.a_gap[0] > 1e-78).all() and (s.a_gap[0] < 1e-39).all()  # ... but not exactly 1


def test_founding_input_gate_by_hand():
    s = step(founding_cell(), X, H)
    # rows of 1s, 2s, 3s times [1..6] (sum 21), plus 1
    assert s.z[1].tolist() == [22, 43, 64]


@pytest.mark.parametrize("seed,m,n,concat", [(1, 3, 3, ("x", "h")), (2, 4, 2, ("h", "x")),
                                             (3, 1, 5, ("x", "h")), (4, 7, 3, ("h", "x"))])
def test_every_intermediate_against_decimal_arithmetic(seed, m, n, concat):
    rng = np.random.default_rng(seed)
    cell = random_cell(rng, m, n, scale=1.5, concat=concat)
    x, h, c = rng.normal(size=m), rng.normal(size=n), rng.normal(size=n)
    s = step(cell, x, h, c)
    ref = decimal_step(cell.W, cell.b, x, h, c, concat)
    for k, name in enumerate("figo"):
        # a sum of m + n products: its rounding error scales with the terms, not the sum
        scale = np.abs(cell.W[k]) @ np.abs(s.v) + np.abs(cell.b[k])
        assert (np.abs(s.z[k] - [float(v) for v in ref["z"][k]]) <= 1e-15 * scale).all()
        np.testing.assert_allclose(s.a[k], [float(v) for v in ref[name]], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(s.c, [float(v) for v in ref["c"]], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(s.h, [float(v) for v in ref["h"]], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(s.fc + s.ig, s.c, rtol=0, atol=0)
    np.testing.assert_allclose(s.a_gap[0], [float(1 - v) for v in ref["f"]], rtol=1e-14)
    np.testing.assert_allclose(s.h_gap, [float(1 - abs(v)) for v in ref["h"]], rtol=1e-14)


def test_concat_order_only_permutes_columns():
    rng = np.random.default_rng(5)
    xh = random_cell(rng, 3, 4)
    W_hx = np.concatenate([xh.W[:, :, 3:], xh.W[:, :, :3]], axis=2)
    hx = Cell(W_hx, xh.b, ("h", "x"))
    x, h, c = rng.normal(size=3), rng.normal(size=4), rng.normal(size=4)
    a, b = step(xh, x, h, c), step(hx, x, h, c)
    assert b.v.tolist() == h.tolist() + x.tolist()
    np.testing.assert_allclose(a.h, b.h, rtol=1e-15)
    np.testing.assert_array_equal(hx.Wx, xh.Wx)
    np.testing.assert_array_equal(hx.Wh, xh.Wh)


def test_batch_equals_one_by_one_and_state_broadcasts():
    rng = np.random.default_rng(6)
    cell = random_cell(rng, 3, 2)
    X, C = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    h = rng.normal(size=2)  # one h shared by every sequence of the batch
    batch = step(cell, X, h, C)
    assert batch.batch_shape == (5,)
    for k in range(5):
        one = step(cell, X[k], h, C[k])
        # matrix-matrix and matrix-vector products may round differently: a few ulps
        np.testing.assert_allclose(batch.h[k], one.h, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(batch.z[k], one.z, rtol=1e-14, atol=1e-15)


def test_defaults_are_zero_state():
    rng = np.random.default_rng(7)
    cell = random_cell(rng, 2, 3)
    a, b = step(cell, [1.0, -1.0]), step(cell, [1.0, -1.0], np.zeros(3), np.zeros(3))
    np.testing.assert_array_equal(a.h, b.h)
    np.testing.assert_array_equal(a.fc, np.zeros(3))


def test_float32_arithmetic_stays_float32():
    rng = np.random.default_rng(8)
    cell = random_cell(rng, 3, 3)
    x, h, c = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    s32 = step(cell.astype(np.float32), x, h, c)
    s64 = step(cell, x, h, c)
    for arr in (s32.z, s32.a, s32.c, s32.h, s32.a_gap, s32.h_gap):
        assert arr.dtype == np.float32
    np.testing.assert_allclose(s32.h, s64.h, atol=2e-6)


def test_saturating_preactivations_are_exact_and_silent():
    n = 2
    W = np.zeros((4, n, 1 + n))
    W[:, 0, 0], W[:, 1, 0] = 1000.0, -1000.0
    s = step(Cell(W, np.zeros((4, n))), [1.0])
    assert s.a[0].tolist() == [1.0, 0.0]
    assert s.a_gap[0, 1] == 0.0 or s.a_gap[0, 1] == 1.0  # sigma(-1000) underflows to 0
    assert s.a[0, 1] >= 0.0 and np.isfinite(s.h).all()


def test_overflowing_products_name_the_gate_and_unit():
    W = np.zeros((4, 2, 3))
    W[2, 1, 0] = 1e308  # candidate gate, unit 2
    with pytest.raises(NonFiniteError, match=r"candidate gate pre-activation of unit 2 "):
        step(Cell(W, np.zeros((4, 2))), [10.0])


def test_bad_shapes_and_values_are_refused():
    cell = Cell(np.zeros((4, 2, 5)), np.zeros((4, 2)))
    with pytest.raises(ShapeError, match=r"x has 2 entries, expected m = 3"):
        step(cell, [1.0, 2.0])
    with pytest.raises(ShapeError, match=r"h has 3 entries, expected n = 2"):
        step(cell, [1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    with pytest.raises(NonFiniteError, match=r"x is not finite"):
        step(cell, [1.0, np.inf, 3.0])
    with pytest.raises(ShapeError, match=r"W must have shape"):
        Cell(np.zeros((3, 2, 5)), np.zeros((3, 2)))
    with pytest.raises(NonFiniteError):
        Cell(np.full((4, 1, 2), np.nan), np.zeros((4, 1)))


def test_weights_are_read_only():
    cell = Cell(np.zeros((4, 1, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError):
        cell.W[0, 0, 0] = 1.0
