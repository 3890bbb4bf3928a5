"""Forward: the recurrence over a sequence, every intermediate kept or only the outputs.

Two paths compute the same equations. The standard cell takes a fast loop (one fused input
projection for all steps, then per step one recurrent product and a few in-place ufuncs, with
the sigmoid rows negated so that sigmoid(z) = 1 / (1 + e^(-z)) costs three calls); a variant
cell (peepholes, coupling, clipping, other activations, a projection) takes a general loop that
writes each equation as it reads. step() is a run of one step, so step and unroll agree bit
for bit.
"""

import functools
import math

import numpy as np
from numpy.typing import ArrayLike

from lstmcalc.core import threads
from lstmcalc.core.activations import (sigmoid, subnormal_below)
from lstmcalc.core.types import (F, G, GATES, I, O, Cell, Run, Step,
                                 _vector)
from lstmcalc.errors import NonFiniteError, ShapeError

# (z, a, fc, ig, c, tanh_c, h): what one pass of the recurrence gives
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
               np.ndarray]

class LoopWeights:
    """What the recurrence needs of a Cell, derived once.

    The sigmoid rows (f, i, o) of W and b are negated, so the loop forms -z directly and
    sigmoid(z) = 1 / (1 + e^(-z)) costs three calls; negation is exact, so this is the same
    arithmetic bit for bit. reach_x, reach_b, reach_h bound |z| (see _surely_safe)."""

    def __init__(self, cell: Cell):
        n, dtype = cell.hidden_size, cell.dtype
        self.sign = np.ones(4 * n, dtype)
        self.sign[: 2 * n] = self.sign[3 * n:] = -1  # f, i, o negated; g kept
        WT = cell.W.reshape(4 * n, -1).T * self.sign  # (m + n, 4n)
        self.WxT = np.ascontiguousarray(WT[cell.columns("x")])  # (m, 4n)
        self.WhT = np.ascontiguousarray(WT[cell.columns("h")])  # (n, 4n)
        self.b = cell.b.reshape(-1) * self.sign
        W = np.abs(cell.W.reshape(4 * n, -1).astype(np.float64))
        with np.errstate(over="ignore"):  # an infinite bound only means: look at the true z
            self.reach_x = W[:, cell.columns("x")].sum(axis=1)  # (4n,)
            self.reach_bh = np.abs(cell.b.reshape(-1)) + W[:, cell.columns("h")].sum(axis=1)
        self.limit = -subnormal_below(dtype)



def _check_gates(z: np.ndarray, what: str, steps: bool) -> None:
    """Name the step, gate and unit (1-based) where a value stopped being finite.

    z has shape (T, B, 4, n)."""
    bad = ~np.isfinite(z)
    if bad.any():
        t, b, gate, unit = (int(k) for k in np.argwhere(bad)[0])
        where = (f" at step {t + 1}" if steps else "") + (f" (sequence {b + 1})"
                                                           if z.shape[1] > 1 else "")
        raise NonFiniteError(f"{GATES[gate]} gate {what} of unit {unit + 1}{where}",
                             (t, b, gate, unit), float(z[t, b, gate, unit]))


# Rows of the input projection are computed in blocks of this many: OpenBLAS's float64 product
# gives each row the same bits whatever the block holds, so a sequence split in two runs gives
# the same numbers as one run. Its float32 product does not (a row's bits depend on its place in
# the block), so float32 projects one time step (B rows) per product.
_BLOCK64 = 64


# Where the BLAS gives each row of a product of _BIG rows the same bits as the canonical blocks
# above (checked once per shape: _same_bits), whole runs of blocks go in products of _BIG rows:
# far fewer calls, each packing W once (20,000 rows, m = 64, 4n = 512: 28 ms instead of 63 ms
# on one thread). Whether it does depends on the BLAS, its kernel for the shapes and its
# threads (OpenBLAS's Haswell kernel on two threads gives other bits where 4n is small).
_BIG = 1024


@functools.lru_cache(maxsize=64)
def _same_bits(dtype: str, m: int, N: int, rows: int, big: int, limited: bool) -> bool:
    """Whether every row of a (big, m) @ (m, N) product has the bits it has in the (rows, m)
    products of the canonical blocks, under the BLAS threads of this moment (limited: the
    recurrence's one thread). Checked on numbers with full significands (no import of
    numpy.random, 8 ms): the kernel a BLAS runs depends on the shapes, the dtype and the
    threads, not on the values."""
    X = _generic((big, m), 1).astype(dtype)
    W = _generic((m, N), 2).astype(dtype)
    parts = np.concatenate([X[s:s + rows] @ W for s in range(0, big, rows)])
    return bool(np.array_equal(X @ W, parts))


def _generic(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Numbers in (-1, 1) with full, unrelated significands (the fractional parts of k times
    the golden ratio, a low-discrepancy sequence), made without a random generator."""
    k = np.arange(1, shape[0] * shape[1] + 1, dtype=np.float64) + seed * 1e6
    return ((k * 0.6180339887498949) % 1.0 * 2.0 - 1.0).reshape(shape)


def _project(X: np.ndarray, WT: np.ndarray, b: np.ndarray, rows: int,
             limited: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """X @ WT + b for X of shape (R, m), `rows` rows per product, the last block zero-padded:
    each row's bits do not depend on R, so a sequence split in two gives the same numbers.
    Runs of blocks go in larger products where those give the same bits (_same_bits).
    out: an (R, N) array to write into, else a new one."""
    R, m = X.shape
    N = WT.shape[1]
    if out is None:
        out = np.empty((R, N), X.dtype)
    start = 0
    big = rows * max(1, _BIG // rows)
    if R >= big > rows and _same_bits(X.dtype.str, m, N, rows, big, limited):
        start = R - R % big
        for s in range(0, start, big):
            np.matmul(X[s:s + big], WT, out=out[s:s + big])
    pad = np.zeros((rows, m), X.dtype)
    for s in range(start, R, rows):
        e = min(s + rows, R)
        if e - s == rows:
            np.matmul(X[s:e], WT, out=out[s:e])
        else:
            pad[: e - s] = X[s:e]
            out[s:e] = (pad @ WT)[: e - s]
    out += b
    return out



def _batch(shape: tuple[int, ...]) -> str:
    return f"a batch of {shape[0]}" if shape else "one sequence"


def _inputs(cell: Cell, xs: ArrayLike, h0: ArrayLike | None, c0: ArrayLike | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Validated arrays: xs (T, B, m), h0 (B, r) and c0 (B, n), and the batch shape (...)."""
    m, n, r, dtype = cell.input_size, cell.hidden_size, cell.state_size, cell.dtype
    xs = _vector(xs, m, dtype, "x", "m")
    if xs.ndim < 2 or xs.shape[0] == 0:
        raise ShapeError(f"a sequence needs shape (T, m) with T >= 1, got {xs.shape}")
    h0 = np.zeros(r, dtype) if h0 is None else _vector(h0, r, dtype, "h", "n" if r == n else "p")
    c0 = np.zeros(n, dtype) if c0 is None else _vector(c0, n, dtype, "c", "n")
    try:
        batch = np.broadcast_shapes(xs.shape[1:-1], h0.shape[:-1], c0.shape[:-1])
    except ValueError:
        raise ShapeError(f"the batch sizes disagree: x has {_batch(xs.shape[1:-1])}, h "
                         f"{_batch(h0.shape[:-1])}, C {_batch(c0.shape[:-1])}") from None
    T, B = xs.shape[0], int(np.prod(batch, dtype=int))
    # one sequence for a whole batch of states: the same x_t for every sequence
    xs = xs.reshape((T,) + (1,) * (len(batch) + 2 - xs.ndim) + xs.shape[1:])
    xs = np.broadcast_to(xs, (T,) + batch + (m,)).reshape(T, B, m)
    h0 = np.ascontiguousarray(np.broadcast_to(h0, batch + (r,)).reshape(B, r))
    c0 = np.ascontiguousarray(np.broadcast_to(c0, batch + (n,)).reshape(B, n))
    return xs, h0, c0, batch


def _recur(cell: Cell, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray, stored: bool,
           exact: bool, every_h: bool = True) -> Arrays:
    """The recurrence over xs (T, B, m) from h0, c0 (B, n).

    stored: keep every intermediate (arrays with a T axis); else keep h for every step (only
    the last without every_h) and the final c, through _loop_outputs' buffers. exact: sigmoid
    through activations.sigmoid, which differs from the fast path only where sigmoid(z) is
    subnormal (every intermediate kept, as stored).
    Returns (z, a, fc, ig, c, tanh_c, h), each (T, B, k) where stored; else C_T (1, B, n)
    and h, the other five empty (not kept). z is the true z (the loop works on -z in the
    sigmoid rows, see LoopWeights).
    """
    T, B, m = xs.shape
    n, dtype = cell.hidden_size, cell.dtype
    lw = cell._loop
    rows = _BLOCK64 if dtype == np.float64 else B
    # small steps run on one BLAS thread, the projection's blocks too (a busy machine)
    work = B * n * 4 * n
    limited = threads.limited(work, T)
    with threads.recurrence(work, T), np.errstate(over="ignore", invalid="ignore"):
        if stored or exact:
            zn = _project(xs.reshape(T * B, m), lw.WxT, lw.b, rows, limited)
            return _loop(cell, zn.reshape(T, B, 4 * n), h0, c0, exact)
        # only the outputs: the projection a chunk of steps at a time, each chunk a whole
        # number of blocks (so every row's bits are the same), its buffer small and reused
        unit = math.lcm(rows, B)
        chunk = unit * max(1, _BIG // unit) // B  # steps
        # h of every step, or of a chunk's steps, the buffer reused: a cold run's page faults
        # are the buffers' first writes (20,000 x 128 h: 20 MB, a 1,024-row projection: 4 MB)
        h = np.empty((T if every_h else min(chunk, T), B, n), dtype)
        z_buffer = np.empty((min(chunk, T) * B, 4 * n), dtype)
        h_prev, c_prev = h0, c0
        for s in range(0, T, chunk):
            e = min(s + chunk, T)
            zn = _project(xs[s:e].reshape((e - s) * B, m), lw.WxT, lw.b, rows, limited,
                          z_buffer[: (e - s) * B])
            rows_h = h[s:e] if every_h else h[: e - s]
            c_last = _loop_outputs(cell, zn.reshape(e - s, B, 4 * n), h_prev, c_prev, rows_h)
            h_prev, c_prev = rows_h[-1], c_last.copy()
        empty = np.empty((1, B, 0), dtype)  # the intermediates, not kept
        return empty, empty, empty, empty, c_prev[None], empty, (h if every_h else h_prev[None])


def _loop(cell: Cell, zn: np.ndarray, h0: np.ndarray, c0: np.ndarray, exact: bool) -> Arrays:
    """_recur's loop over the steps, every intermediate kept, given the input part of every
    step's -z (zn, which becomes z)."""
    T, B, _ = zn.shape
    n, dtype = cell.hidden_size, cell.dtype
    lw = cell._loop
    sign, WhT = lw.sign, lw.WhT

    z = zn
    a = np.empty((T, B, 4 * n), dtype)
    fc, ig, c, tc, h = (np.empty((T, B, n), dtype) for _ in range(5))
    rec = np.empty((B, 4 * n), dtype)
    f_, i_, g_, o_ = (slice(k * n, (k + 1) * n) for k in range(4))
    # each step's views: the rows of the (T, ...) arrays, taken by NumPy's own iteration (z is
    # zn: the input part, then the whole)
    steps = zip(zn, z, a, a[..., f_], a[..., i_], a[..., g_], a[..., o_], z[..., g_], fc, ig,
                c, tc, h)
    h_prev, c_prev = h0, c0
    # np.dot: the same BLAS product as np.matmul, bit for bit (tests/test_unroll.py), at half
    # its call's cost on small arrays; every out given by position, which saves a keyword
    dot, add, multiply, exp, divide, tanh_ = (
        np.dot, np.add, np.multiply, np.exp, np.divide, np.tanh)
    with np.errstate(over="ignore", invalid="ignore"):
        for zn_t, zt, at, at_f, at_i, at_g, at_o, zt_g, fct, igt, ct, tct, ht in steps:
            dot(h_prev, WhT, rec)  # (B, 4n)
            add(zn_t, rec, zt)
            if exact:
                at[...] = sigmoid(-zt)
            else:  # e^(-z) may overflow to inf, giving exactly 0
                exp(zt, at)
                add(at, 1.0, at)
                divide(1.0, at, at)
            tanh_(zt_g, at_g)
            multiply(at_f, c_prev, fct)
            multiply(at_i, at_g, igt)
            add(fct, igt, ct)
            tanh_(ct, tct)
            multiply(at_o, tct, ht)
            h_prev, c_prev = ht, ct
    z *= sign  # the true pre-activations
    return z, a, fc, ig, c, tc, h


def _loop_outputs(cell: Cell, zn: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                  h: np.ndarray) -> np.ndarray:
    """_loop with no intermediate kept (outputs(), final()): h of every step into h (T, B, n),
    and C_T back (B, n). The same operations in the same order, so the same bits, in one call
    fewer a step and one buffer per quantity: C_{t-1} and g side by side (u = [C, g]), so
    f ⊙ C_{t-1} and i ⊙ g are one product of a's first half with u, and C_t is written over
    C_{t-1} (20,000 steps at n = 128: 173 ms, where _loop takes 183)."""
    B = zn.shape[1]
    n, dtype = cell.hidden_size, cell.dtype
    WhT = cell._loop.WhT
    rec, z, a = (np.empty((B, 4 * n), dtype) for _ in range(3))
    u, fi = np.empty((B, 2 * n), dtype), np.empty((B, 2 * n), dtype)
    tc = np.empty((B, n), dtype)
    u[:, :n] = c0
    a_fi, a_o, z_g = a[:, : 2 * n], a[:, 3 * n:], z[:, 2 * n: 3 * n]
    u_c, u_g, f_c, i_g = u[:, :n], u[:, n:], fi[:, :n], fi[:, n:]
    dot, add, multiply, exp, divide, tanh_ = (
        np.dot, np.add, np.multiply, np.exp, np.divide, np.tanh)
    h_prev = h0
    with np.errstate(over="ignore", invalid="ignore"):
        for zn_t, ht in zip(zn, h):
            dot(h_prev, WhT, rec)
            add(zn_t, rec, z)
            exp(z, a)  # e^(-z) may overflow to inf, giving exactly 0
            add(a, 1.0, a)
            divide(1.0, a, a)
            tanh_(z_g, u_g)
            multiply(a_fi, u, fi)  # f ⊙ C_{t-1}, i ⊙ g
            add(f_c, i_g, u_c)  # C_t
            tanh_(u_c, tc)
            multiply(a_o, tc, ht)
            h_prev = ht
    return u_c


def _surely_safe(cell: Cell, xs: np.ndarray) -> bool:
    """Whether every pre-activation is surely finite and above the range where sigmoid(z) is
    subnormal, from a bound that costs one pass over the inputs:
    |z| <= max|x| * (row sum of |Wx|) + |b| + (row sum of |Wh|), since |h| <= 1."""
    lw = cell._loop
    x_max = float(np.maximum(xs.max(), -xs.min()))  # max |x| without an |x| array; NaN stays
    with np.errstate(over="ignore", invalid="ignore"):
        return bool((x_max * lw.reach_x + lw.reach_bh).max() < lw.limit)


def _recur_variant(cell: Cell, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray, np.ndarray, np.ndarray | None]:
    """The recurrence of a variant cell, every intermediate kept (T, B, ...). z is what each
    gate's activation sees: with its peephole term, after clipping."""
    T, B, m = xs.shape
    n, r, dtype, v = cell.hidden_size, cell.state_size, cell.dtype, cell.variant
    WT = cell.W.reshape(4 * n, -1).T
    WxT = np.ascontiguousarray(WT[cell.columns("x")])
    WhT = np.ascontiguousarray(WT[cell.columns("h")])
    rows = _BLOCK64 if dtype == np.float64 else B
    with np.errstate(over="ignore", invalid="ignore"):
        z = _project(xs.reshape(T * B, m), WxT, cell.b.reshape(-1), rows).reshape(T, B, 4, n)
    a = np.empty_like(z)
    fc, ig, c, tc, mm = (np.empty((T, B, n), dtype) for _ in range(5))
    h = mm if v.projection is None else np.empty((T, B, r), dtype)
    h_prev, c_prev = h0, c0
    with threads.recurrence(B * r * 4 * n, T), np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            zt = z[t]
            zt += (h_prev @ WhT).reshape(B, 4, n)
            if v.peephole is not None:
                zt[:, F] += v.peephole[0] * c_prev
                zt[:, I] += v.peephole[1] * c_prev
            if v.clip is not None:
                np.clip(zt[:, :O], -v.clip, v.clip, out=zt[:, :O])
            a[t, :, I] = v.gate(zt[:, I])
            a[t, :, F] = 1 - a[t, :, I] if v.coupled else v.gate(zt[:, F])
            a[t, :, G] = v.candidate(zt[:, G])
            fc[t] = a[t, :, F] * c_prev
            ig[t] = a[t, :, I] * a[t, :, G]
            c[t] = fc[t] + ig[t]
            if v.cell_clip is not None:
                np.clip(c[t], -v.cell_clip, v.cell_clip, out=c[t])
            if v.peephole is not None:
                zt[:, O] += v.peephole[2] * c[t]
            if v.clip is not None:
                np.clip(zt[:, O], -v.clip, v.clip, out=zt[:, O])
            a[t, :, O] = v.gate(zt[:, O])
            tc[t] = v.cell(c[t])
            mm[t] = a[t, :, O] * tc[t]
            if v.projection is not None:
                h[t] = mm[t] @ v.projection.T  # (B, p)
                if v.proj_clip is not None:
                    np.clip(h[t], -v.proj_clip, v.proj_clip, out=h[t])
            h_prev, c_prev = h[t], c[t]
    if v.coupled:
        z[:, :, F] = np.nan  # f has no pre-activation of its own
    # the first step where anything stopped being finite, named in the order it is computed:
    # a pre-activation, then an activation (affine, relu can overflow where z is finite),
    # then C_t, then h_t (a projection can overflow too)
    gates = [k for k in range(4) if not (v.coupled and k == F)]
    checks = [(z[:, :, k], f"{GATES[k]} gate pre-activation") for k in gates]
    checks += [(a[:, :, k], f"{GATES[k]} gate activation") for k in range(4)]
    checks += [(c, "C_t"), (h, "h_t")]
    first = [(int(np.argmax(~np.isfinite(arr).reshape(T, -1).all(axis=1))), order)
             for order, (arr, _) in enumerate(checks) if not np.isfinite(arr).all()]
    if first:
        arr, what = checks[min(first)[1]]
        _steps_finite(arr, what)
    return z, a, fc, ig, c, tc, h, (None if v.projection is None else mm)


def _steps_finite(arr: np.ndarray, what: str) -> None:
    """Name the step, unit and sequence (1-based) where arr (T, B, k) stopped being finite."""
    bad = ~np.isfinite(arr)
    if bad.any():
        t, b, j = (int(q) for q in np.argwhere(bad)[0])
        where = (f" at step {t + 1}" if arr.shape[0] > 1 else "") + (
            f" (sequence {b + 1})" if arr.shape[1] > 1 else "")
        raise NonFiniteError(f"{what} of unit {j + 1}{where}", (t, b, j), float(arr[t, b, j]))


def _unroll_variant(cell: Cell, xs: ArrayLike, h0: ArrayLike | None,
                    c0: ArrayLike | None) -> Run:
    xs, h0, c0, batch = _inputs(cell, xs, h0, c0)
    z, a, fc, ig, c, tc, h, mm = _recur_variant(cell, xs, h0, c0)
    T, n, r, v = xs.shape[0], cell.hidden_size, cell.state_size, cell.variant
    a_gap = np.empty_like(a)
    with np.errstate(invalid="ignore"):
        for k in (F, I, O):
            a_gap[:, :, k] = v.gate.gap(z[:, :, k])
        a_gap[:, :, G] = v.candidate.gap(z[:, :, G])
    if v.coupled:
        a_gap[:, :, F] = 1 - np.abs(a[:, :, F])
    tc_gap = v.cell.gap(c)
    h_gap = 1 - np.abs(h)
    shape = (T, *batch, n)
    z4 = np.nan_to_num(z, nan=0.0).reshape(T, *batch, 4, n) if v.coupled else \
        z.reshape(T, *batch, 4, n)
    return Run(cell, xs.reshape(T, *batch, -1), h0.reshape(*batch, r), c0.reshape(*batch, n),
               z4, a.reshape(T, *batch, 4, n), a_gap.reshape(T, *batch, 4, n),
               fc.reshape(shape), ig.reshape(shape), c.reshape(shape), tc.reshape(shape),
               tc_gap.reshape(shape), h.reshape(T, *batch, r), h_gap.reshape(T, *batch, r),
               None if mm is None else mm.reshape(shape))


def _run(cell: Cell, xs: ArrayLike, h0: ArrayLike | None, c0: ArrayLike | None,
         stored: bool, every_h: bool = True
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...], Arrays]:
    xs, h0, c0, batch = _inputs(cell, xs, h0, c0)
    T, B = xs.shape[:2]
    n = cell.hidden_size
    fine = _surely_safe(cell, xs)
    out = _recur(cell, xs, h0, c0, stored or not fine, exact=False, every_h=every_h)
    if not fine:  # the bound is loose: look at the true z
        z = out[0]
        fine = bool(np.isfinite(z).all()) and z.min() > subnormal_below(cell.dtype)
    if not fine or not np.isfinite(out[4]).all():
        # Rare: locate what stopped being finite, or get subnormal sigmoid values right.
        out = _recur(cell, xs, h0, c0, stored=True, exact=True)
        _check_gates(out[0].reshape(T, B, 4, n), "pre-activation", steps=T > 1)
        _steps_finite(out[4], "C_t")
    if not stored:
        out = out[:4] + (out[4][-1:],) + out[5:]
    return xs, h0, c0, batch, out


def unroll(cell: Cell, xs: ArrayLike, h0: ArrayLike | None = None,
           c0: ArrayLike | None = None) -> Run:
    """Run x_1..x_T (xs of shape (T, ..., m)) through the cell, keeping every intermediate."""
    if cell.number is not None:  # float16, bfloat16, fixed point: core.reduced
        from lstmcalc.core import reduced

        return reduced.unroll(cell, xs, h0, c0)
    if not cell.variant.is_standard:
        return _unroll_variant(cell, xs, h0, c0)
    xs, h0, c0, batch, (z, a, fc, ig, c, tc, h) = _run(cell, xs, h0, c0, stored=True)
    T, n = xs.shape[0], cell.hidden_size
    z4, a4 = z.reshape(T, *batch, 4, n), a.reshape(T, *batch, 4, n)
    shape = (T, *batch, n)
    # the gaps (1 - |value|) come from z and C when first asked for (Run.a_gap, ...)
    return Run(cell, xs.reshape(T, *batch, -1), h0.reshape(*batch, n), c0.reshape(*batch, n),
               z4, a4, None, fc.reshape(shape), ig.reshape(shape), c.reshape(shape),
               tc.reshape(shape), None, h.reshape(shape), None)


def outputs(cell: Cell, xs: ArrayLike, h0: ArrayLike | None = None,
            c0: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """h_t for every step (T, ..., n) and the final C_T (..., n), as nn.LSTM returns them.

    The same arithmetic as unroll(), bit for bit, without keeping the intermediates."""
    return _outputs(cell, xs, h0, c0, every_h=True)


def final(cell: Cell, xs: ArrayLike, h0: ArrayLike | None = None,
          c0: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """h_T and C_T (..., n): outputs()' last h and C, bit for bit, without an h kept for
    every step (what --final writes)."""
    h, c = _outputs(cell, xs, h0, c0, every_h=False)
    return h[-1], c


def _outputs(cell: Cell, xs: ArrayLike, h0: ArrayLike | None, c0: ArrayLike | None,
             every_h: bool) -> tuple[np.ndarray, np.ndarray]:
    """h of every step (T, ..., n), or at least of the last (every_h False), and C_T."""
    if not cell.variant.is_standard or cell.number is not None:
        run = unroll(cell, xs, h0, c0)
        return run.h, run.c[-1]
    xs, h0, c0, batch, (_, _, _, _, c, _, h) = _run(cell, xs, h0, c0, stored=False,
                                                     every_h=every_h)
    n = cell.hidden_size
    return h.reshape(h.shape[0], *batch, n), c[-1].reshape(*batch, n)


def step(cell: Cell, x: ArrayLike, h: ArrayLike | None = None,
         c: ArrayLike | None = None) -> Step:
    """One LSTM step: a sequence of length 1, so that step and unroll agree bit for bit."""
    x = _vector(x, cell.input_size, cell.dtype, "x", "m")
    return unroll(cell, x[None], h, c).step(0)


