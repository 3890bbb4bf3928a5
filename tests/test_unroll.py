"""unroll against repeated step, against itself split in two, and against PyTorch's nn.LSTM."""

import json
import pathlib

import numpy as np
import pytest

from helpers import cell_from_torch
from lstmcalc.core import Cell, outputs, step, unroll
from lstmcalc.errors import NonFiniteError, ShapeError

FIXTURES = json.loads((pathlib.Path(__file__).parent / "fixtures" / "torch_lstm.json")
                      .read_text())


def random_cell(seed, m, n, scale=0.5, dtype=np.float64, concat=("x", "h")):
    rng = np.random.default_rng(seed)
    return Cell(rng.normal(0, scale, (4, n, m + n)), rng.normal(0, scale, (4, n)),
                concat).astype(dtype), rng


FIELDS = ["z", "a", "a_gap", "fc", "ig", "c", "tanh_c", "tanh_c_gap", "h", "h_gap"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n,batch,concat", [(3, 3, (), ("x", "h")), (5, 2, (4,), ("h", "x")),
                                              (70, 33, (3,), ("x", "h"))])
def test_unroll_is_repeated_step_bit_for_bit(dtype, m, n, batch, concat):
    cell, rng = random_cell(1, m, n, dtype=dtype, concat=concat)
    xs = rng.normal(size=(9, *batch, m)).astype(dtype)
    run = unroll(cell, xs)
    h = c = None
    for t in range(9):
        s = step(cell, xs[t], h, c)
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(run.step(t), field), getattr(s, field))
        np.testing.assert_array_equal(run.step(t).v, s.v)
        h, c = s.h, s.c


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("split", [1, 2, 63, 64, 65, 130])
def test_split_run_is_bit_identical(dtype, split):
    cell, rng = random_cell(2, 40, 24, dtype=dtype)
    xs = rng.normal(size=(200, 2, 40)).astype(dtype)
    whole = unroll(cell, xs)
    first = unroll(cell, xs[:split])
    second = unroll(cell, xs[split:], first.h[-1], first.c[-1])
    np.testing.assert_array_equal(np.concatenate([first.h, second.h]), whole.h)
    np.testing.assert_array_equal(second.c[-1], whole.c[-1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_outputs_equals_unroll_bit_for_bit(dtype):
    cell, rng = random_cell(3, 7, 5, dtype=dtype)
    xs = rng.normal(size=(30, 3, 7)).astype(dtype)
    h0, c0 = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    run = unroll(cell, xs, h0, c0)
    h, c = outputs(cell, xs, h0, c0)
    np.testing.assert_array_equal(h, run.h)
    np.testing.assert_array_equal(c, run.c[-1])


@pytest.mark.parametrize("case", FIXTURES["cases"],
                         ids=lambda c: f"m{c['m']}n{c['n']}B{c['batch']}T{c['T']}")
def test_against_committed_nn_lstm_outputs(case):
    cell = cell_from_torch(case["weight_ih"], case["weight_hh"], case["bias_ih"], case["bias_hh"])
    run = unroll(cell, case["x"], case["h0"], case["c0"])
    np.testing.assert_allclose(run.h, case["output"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.c[-1], case["c_n"], rtol=1e-12, atol=1e-12)
    h, c = outputs(cell, case["x"], case["h0"], case["c0"])
    np.testing.assert_allclose(h[-1], case["h_n"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_against_nn_lstm_live(seed):
    pytest.importorskip("torch")
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).parent / "fixtures"))
    from make_torch_fixtures import sequence_case

    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 20)), int(rng.integers(1, 20))
    case = sequence_case(2000 + seed, m, n, int(rng.integers(1, 5)), int(rng.integers(1, 80)))
    test_against_committed_nn_lstm_outputs(case)


def test_subnormal_sigmoid_values_are_exact_and_silent():
    W = np.zeros((4, 1, 2))
    W[0, 0, 0] = -1.0  # forget gate z = -x
    cell = Cell(W, np.zeros((4, 1)))
    run = unroll(cell, [[720.0], [730.0], [800.0]])
    f = run.a[:, 0, 0]
    # sigma(-720) = e^-720 / (1 + e^-720): subnormal, not 0
    assert f[0] == pytest.approx(np.exp(-720.0), rel=1e-9) and f[0] > 0
    assert f[1] > 0 and f[2] == 0.0  # e^-800 is below the smallest subnormal
    h, c = outputs(cell, [[720.0], [730.0], [800.0]])
    np.testing.assert_array_equal(h, run.h)


def test_non_finite_names_step_gate_and_unit():
    W = np.zeros((4, 2, 3))
    W[1, 1, 0] = 1e308  # input gate, unit 2
    cell = Cell(W, np.zeros((4, 2)))
    with pytest.raises(NonFiniteError, match=r"^input gate pre-activation of unit 2 at step 3 "
                                             r"is not finite \(inf\)$"):
        unroll(cell, [[0.0], [1.0], [10.0]])
    with pytest.raises(NonFiniteError, match=r"at step 3"):
        outputs(cell, [[0.0], [1.0], [10.0]])


def test_empty_or_flat_sequence_is_refused():
    cell, _ = random_cell(4, 2, 2)
    with pytest.raises(ShapeError, match=r"a sequence needs shape \(T, m\) with T >= 1"):
        unroll(cell, np.zeros((0, 2)))
    with pytest.raises(ShapeError):
        unroll(cell, [1.0, 2.0])


def test_one_sequence_runs_from_a_batch_of_states():
    rng = np.random.default_rng(3)
    cell = Cell(rng.normal(size=(4, 2, 5)), rng.normal(size=(4, 2)))
    xs = rng.normal(size=(6, 3))
    h0, c0 = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    run = unroll(cell, xs, h0, c0)
    assert run.h.shape == (6, 2, 2)
    for b in range(2):  # each sequence of the batch is the single run from its own state
        # (to the last bit or two: BLAS sums a batch's products in its own order)
        np.testing.assert_allclose(run.h[:, b], unroll(cell, xs, h0[b], c0[b]).h, rtol=0,
                                   atol=1e-15)


def test_batch_sizes_that_disagree_are_named():
    cell = Cell(np.zeros((4, 2, 5)), np.zeros((4, 2)))
    with pytest.raises(ShapeError, match="the batch sizes disagree: x has a batch of 3, h a "
                                         "batch of 2, C one sequence"):
        unroll(cell, np.zeros((4, 3, 3)), np.zeros((2, 2)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n,batch", [(3, 3, ()), (64, 32, ()), (5, 4, (3,))])
def test_long_runs_split_anywhere_are_bit_identical(dtype, m, n, batch):
    """Long enough for the projection's large products (forward._BIG rows) and for outputs()
    to go a chunk of steps at a time: every split gives the whole run's bits, and outputs()
    unroll()'s."""
    cell, rng = random_cell(5, m, n, dtype=dtype)
    T = 2600
    xs = rng.normal(size=(T, *batch, m)).astype(dtype)
    whole = unroll(cell, xs)
    h, c = outputs(cell, xs)
    np.testing.assert_array_equal(h, whole.h)
    np.testing.assert_array_equal(c, whole.c[-1])
    for split in (1, 700, 1024, 1025, 2047, 2599):
        first = unroll(cell, xs[:split])
        h2, c2 = outputs(cell, xs[split:], first.h[-1], first.c[-1])
        np.testing.assert_array_equal(np.concatenate([first.h, h2]), whole.h, err_msg=split)
        np.testing.assert_array_equal(c2, whole.c[-1])


def test_the_projection_s_large_products_give_the_blocks_bits(monkeypatch):
    """forward._project uses products of _BIG rows only where the BLAS gives each row the
    bits of the canonical blocks (checked once per shape); either way, the same numbers."""
    from lstmcalc.core import forward

    rng = np.random.default_rng(7)
    X, W, b = rng.normal(size=(5000, 24)), rng.normal(size=(24, 48)), rng.normal(size=48)
    canonical = np.concatenate([X[s:s + 64] @ W for s in range(0, 4992, 64)]
                               + [(np.vstack([X[4992:], np.zeros((56, 24))]) @ W)[:8]]) + b
    assert np.array_equal(forward._project(X, W, b, 64), canonical)
    monkeypatch.setattr(forward, "_same_bits", lambda *args: False)
    assert np.array_equal(forward._project(X, W, b, 64), canonical)
    monkeypatch.setattr(forward, "_same_bits", lambda *args: True)  # a BLAS that says yes
    big = forward._project(X, W, b, 64)
    assert np.array_equal(big[:4096], np.concatenate([X[s:s + 1024] @ W
                                                      for s in range(0, 4096, 1024)]) + b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n,batch", [(3, 3, ()), (16, 64, (5,)), (40, 200, (32,))])
def test_each_step_adds_the_plain_recurrent_product(dtype, m, n, batch):
    """The loop's recurrent product (np.dot, for its smaller cost a call) has the bits of
    h_{t-1} @ W_h^T as np.matmul writes it: z_t = (x_t W_x^T + b) + h_{t-1} W_h^T."""
    from lstmcalc.core import forward

    cell, rng = random_cell(8, m, n, scale=0.1, dtype=dtype)
    T = 6
    xs = rng.normal(size=(T, *batch, m)).astype(dtype)
    run = unroll(cell, xs)
    lw = cell._loop
    B = int(np.prod(batch, dtype=int))
    rows = 64 if dtype == np.float64 else B
    zn = forward._project(xs.reshape(T * B, m), lw.WxT, lw.b, rows).reshape(T, B, 4 * n)
    h_prev = np.concatenate([np.zeros((1, B, n), dtype), run.h.reshape(T, B, n)[:-1]])
    expected = np.stack([zn[t] + np.matmul(h_prev[t], lw.WhT) for t in range(T)]) * lw.sign
    assert np.array_equal(run.z.reshape(T, B, 4 * n), expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n,batch,T,scale", [(3, 3, (), 1, 0.5), (64, 32, (), 2600, 0.5),
                                               (5, 4, (3,), 1500, 0.5), (4, 3, (), 40, 300.0)])
def test_final_is_the_last_of_outputs_bit_for_bit(dtype, m, n, batch, T, scale):
    """core.final (what --final computes, the chunks' h in one reused buffer) gives outputs()'
    last h and C: one step, many chunks, a batch, and saturating weights (the exact path)."""
    from lstmcalc.core import final

    cell, rng = random_cell(9, m, n, scale=scale, dtype=dtype)
    xs = rng.normal(size=(T, *batch, m)).astype(dtype)
    h0 = rng.normal(size=(*batch, n)).astype(dtype)
    h, c = outputs(cell, xs, h0)
    h_T, c_T = final(cell, xs, h0)
    assert h_T.shape == h[-1].shape and c_T.shape == c.shape
    np.testing.assert_array_equal(h_T, h[-1])
    np.testing.assert_array_equal(c_T, c)
