"""The LSTM cell: one step, every intermediate kept.

With v = [x_t, h_{t-1}] (or [h_{t-1}, x_t]):

    f = sigmoid(W_f v + b_f)      i = sigmoid(W_i v + b_i)
    g = tanh(W_c v + b_c)         o = sigmoid(W_o v + b_o)
    C_t = f * C_{t-1} + i * g     h_t = o * tanh(C_t)

Pure NumPy: nothing here prints, reads files or knows about any output format. Every function
takes single vectors (shape (m,)) or batches (shape (B, m), or any leading batch shape).
"""

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from lstmcalc.activations import (SIGMOID, TANH, Activation, sigmoid, sigmoid_complement,
                                  subnormal_below, tanh, tanh_gap)

GATES = ("forget", "input", "candidate", "output")
F, I, G, O = range(4)
SIGMOID_GATES = [F, I, O]


class ShapeError(ValueError):
    """An array does not have the size the cell needs."""


class NonFiniteError(ArithmeticError):
    """A value is, or became, inf or NaN."""

    def __init__(self, what: str, index: tuple[int, ...] = (), value: float = float("nan")):
        self.what, self.index, self.value = what, index, value
        super().__init__(f"{what} is not finite ({value})")


class Unsupported(ValueError):
    """A combination the core does not compute (yet); it says so instead of guessing."""


@dataclass(frozen=True, eq=False)
class Variant:
    """What a cell does beyond the standard equations.

    peephole (3, n): p_f and p_i add p ⊙ C_{t-1} to z_f and z_i, p_o adds p_o ⊙ C_t to z_o;
    coupled: f = 1 - i (ONNX input_forget); clip: every gate pre-activation is clipped to
    [-clip, clip] (ONNX clip); cell_clip: C_t is clipped to [-cell_clip, cell_clip] (TF1);
    gate, candidate, cell: the activations of f, i, o; of g; and of C_t in h_t;
    projection (p, n): h_t = W_hr (o ⊙ act(C_t)) has p entries while C_t keeps n (PyTorch's
    proj_size, TF1's num_proj)."""

    peephole: np.ndarray | None = None
    coupled: bool = False
    clip: float | None = None
    cell_clip: float | None = None
    gate: Activation = SIGMOID
    candidate: Activation = TANH
    cell: Activation = TANH
    projection: np.ndarray | None = None

    def describe(self) -> list[str]:
        out = []
        if self.peephole is not None:
            out.append("peepholes")
        if self.coupled:
            out.append("coupled gates (f = 1 − i)")
        if self.clip is not None:
            out.append(f"pre-activations clipped to ±{self.clip:g}")
        if self.cell_clip is not None:
            out.append(f"C_t clipped to ±{self.cell_clip:g}")
        if (self.gate, self.candidate, self.cell) != (SIGMOID, TANH, TANH):
            out.append(f"activations {self.gate!r} / {self.candidate!r} / {self.cell!r}")
        if self.projection is not None:
            out.append(f"a projection to p = {self.projection.shape[0]}")
        return out


@dataclass(frozen=True, eq=False)
class Cell:
    """The weights of one cell.

    W has shape (4, n, m + r): W[F] is W_f, its columns in `concat` order; b has shape (4, n).
    r, the size of h, is n, or p with a projection.
    """

    W: np.ndarray
    b: np.ndarray
    concat: tuple[str, str] = ("x", "h")
    variant: Variant | None = None  # None: the standard cell

    def __post_init__(self):
        W = np.array(self.W, dtype=np.result_type(np.asarray(self.W).dtype, np.float32))
        b = np.array(self.b, dtype=W.dtype)  # copies: the caller's arrays stay writable
        proj = None if self.variant is None else self.variant.projection
        r = W.shape[1] if proj is None or W.ndim != 3 else np.shape(proj)[0]
        if W.ndim != 3 or W.shape[0] != 4 or W.shape[2] <= r:
            raise ShapeError(f"W must have shape (4, n, m + {'p' if proj is not None else 'n'}) "
                             f"with m >= 1, got {W.shape}")
        if b.shape != W.shape[:2]:
            raise ShapeError(f"b must have shape {W.shape[:2]}, got {b.shape}")
        if sorted(self.concat) != ["h", "x"]:
            raise ShapeError(f"concat must be an order of x and h, got {self.concat}")
        for name, arr in (("W", W), ("b", b)):
            _require_finite(arr, name)
            arr.setflags(write=False)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "concat", tuple(self.concat))
        v = self.variant
        if v is not None:
            if v.peephole is not None:
                p = np.array(v.peephole, dtype=W.dtype)
                if p.shape != (3, W.shape[1]):
                    raise ShapeError(f"peepholes must have shape (3, n) = (3, {W.shape[1]}), "
                                     f"got {p.shape}")
                _require_finite(p, "peephole")
                p.setflags(write=False)
                v = replace(v, peephole=p)
            if v.projection is not None:
                p = np.array(v.projection, dtype=W.dtype)
                if p.ndim != 2 or p.shape[1] != W.shape[1]:
                    raise ShapeError(f"the projection must have shape (p, n) = (p, {W.shape[1]}), "
                                     f"got {p.shape}")
                _require_finite(p, "projection")
                p.setflags(write=False)
                v = replace(v, projection=p)
            if not v.describe():
                v = None  # nothing beyond the standard cell: the fast path serves it
            object.__setattr__(self, "variant", v)

    @property
    def hidden_size(self) -> int:
        return self.W.shape[1]

    @property
    def state_size(self) -> int:
        """r, the entries of h: n, or p with a projection (C always has n)."""
        v = self.variant
        return self.W.shape[1] if v is None or v.projection is None else v.projection.shape[0]

    @property
    def input_size(self) -> int:
        return self.W.shape[2] - self.state_size

    @property
    def dtype(self):
        return self.W.dtype

    @property
    def parameter_count(self) -> int:
        v = self.variant
        extra = 0 if v is None else sum(a.size for a in (v.peephole, v.projection)
                                        if a is not None)
        return self.W.size + self.b.size + extra

    def columns(self, part: str) -> slice:
        """Where x or h sits among the m + r columns of every W."""
        m, n = self.input_size, self.state_size
        first = self.concat[0]
        width = {"x": m, "h": n}
        start = 0 if part == first else width[first]
        return slice(start, start + width[part])

    @property
    def Wx(self) -> np.ndarray:
        return self.W[:, :, self.columns("x")]  # (4, n, m)

    @property
    def Wh(self) -> np.ndarray:
        return self.W[:, :, self.columns("h")]  # (4, n, n)

    def astype(self, dtype) -> "Cell":
        if np.dtype(dtype) == self.dtype:
            return self
        v = self.variant
        if v is not None:
            v = replace(v, **{k: getattr(v, k).astype(dtype) for k in ("peephole", "projection")
                              if getattr(v, k) is not None})
        return Cell(self.W.astype(dtype), self.b.astype(dtype), self.concat, v)

    @cached_property
    def _loop(self) -> "_LoopWeights":
        return _LoopWeights(self)


class _LoopWeights:
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
        self.reach_x = W[:, cell.columns("x")].sum(axis=1)  # (4n,)
        self.reach_bh = np.abs(cell.b.reshape(-1)) + W[:, cell.columns("h")].sum(axis=1)
        self.limit = -subnormal_below(dtype)


@dataclass(frozen=True, eq=False)
class Step:
    """Every intermediate of one step. Arrays carry the batch shape (...) of the inputs.

    a_gap, tanh_c_gap and h_gap hold 1 - |value| computed without cancellation, so a value that
    rounds to 1 in floating point still shows how far from 1 it truly is.
    """

    cell: Cell
    x: np.ndarray  # (..., m)
    h_prev: np.ndarray  # (..., n)
    c_prev: np.ndarray  # (..., n)
    v: np.ndarray  # (..., m + n)  the concatenated input, in cell.concat order
    z: np.ndarray  # (..., 4, n)    pre-activations W v + b, gates in GATES order
    a: np.ndarray  # (..., 4, n)    activations
    a_gap: np.ndarray  # (..., 4, n)
    fc: np.ndarray  # (..., n)      f * C_{t-1}
    ig: np.ndarray  # (..., n)      i * g
    c: np.ndarray  # (..., n)       C_t
    tanh_c: np.ndarray  # (..., n)
    tanh_c_gap: np.ndarray  # (..., n)
    h: np.ndarray  # (..., r)       h_t (r = n, or p with a projection)
    h_gap: np.ndarray  # (..., r)
    m: np.ndarray | None = None  # (..., n)  o * act(C_t) before a projection, if there is one

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.h.shape[:-1]


def _require_finite(arr: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        raise NonFiniteError(what, index, float(arr[index]))


def _vector(value, size: int, dtype, what: str, letter: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0 or arr.shape[-1] != size:
        got = "a scalar" if arr.ndim == 0 else f"{arr.shape[-1]} entries"
        raise ShapeError(f"{what} has {got}, expected {letter} = {size}")
    _require_finite(arr, what)
    return arr


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


def _project(X: np.ndarray, WT: np.ndarray, b: np.ndarray, rows: int) -> np.ndarray:
    """X @ WT + b for X of shape (R, m), `rows` rows per product, the last block zero-padded."""
    R = X.shape[0]
    out = np.empty((R, WT.shape[1]), X.dtype)
    pad = np.zeros((rows, X.shape[1]), X.dtype)
    for s in range(0, R, rows):
        e = min(s + rows, R)
        if e - s == rows:
            np.matmul(X[s:e], WT, out=out[s:e])
        else:
            pad[: e - s] = X[s:e]
            out[s:e] = (pad @ WT)[: e - s]
    out += b
    return out


@dataclass(frozen=True, eq=False)
class Run:
    """Every intermediate of every step of a sequence: arrays of shape (T, ..., k)."""

    cell: Cell
    x: np.ndarray  # (T, ..., m)
    h0: np.ndarray  # (..., n)
    c0: np.ndarray  # (..., n)
    z: np.ndarray  # (T, ..., 4, n)
    a: np.ndarray  # (T, ..., 4, n)
    a_gap: np.ndarray
    fc: np.ndarray  # (T, ..., n)
    ig: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    tanh_c_gap: np.ndarray
    h: np.ndarray
    h_gap: np.ndarray
    m: np.ndarray | None = None  # (T, ..., n) before a projection, if there is one

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.h0.shape[:-1]

    def step(self, t: int) -> Step:
        """Step t (0-based) as a Step of views into this run."""
        h_prev = self.h0 if t == 0 else self.h[t - 1]
        c_prev = self.c0 if t == 0 else self.c[t - 1]
        x = self.x[t]
        v = np.concatenate([{"x": x, "h": h_prev}[part] for part in self.cell.concat], axis=-1)
        return Step(self.cell, x, h_prev, c_prev, v, self.z[t], self.a[t], self.a_gap[t],
                    self.fc[t], self.ig[t], self.c[t], self.tanh_c[t], self.tanh_c_gap[t],
                    self.h[t], self.h_gap[t], None if self.m is None else self.m[t])


def _inputs(cell: Cell, xs, h0, c0):
    """Validated arrays: xs (T, B, m), h0 (B, r) and c0 (B, n), and the batch shape (...)."""
    m, n, r, dtype = cell.input_size, cell.hidden_size, cell.state_size, cell.dtype
    xs = _vector(xs, m, dtype, "x", "m")
    if xs.ndim < 2 or xs.shape[0] == 0:
        raise ShapeError(f"a sequence needs shape (T, m) with T >= 1, got {xs.shape}")
    h0 = np.zeros(r, dtype) if h0 is None else _vector(h0, r, dtype, "h", "n" if r == n else "p")
    c0 = np.zeros(n, dtype) if c0 is None else _vector(c0, n, dtype, "c", "n")
    batch = np.broadcast_shapes(xs.shape[1:-1], h0.shape[:-1], c0.shape[:-1])
    T, B = xs.shape[0], int(np.prod(batch, dtype=int))
    xs = np.broadcast_to(xs, (T,) + batch + (m,)).reshape(T, B, m)
    h0 = np.ascontiguousarray(np.broadcast_to(h0, batch + (r,)).reshape(B, r))
    c0 = np.ascontiguousarray(np.broadcast_to(c0, batch + (n,)).reshape(B, n))
    return xs, h0, c0, batch


def _recur(cell: Cell, xs, h0, c0, stored: bool, exact: bool):
    """The recurrence over xs (T, B, m) from h0, c0 (B, n).

    stored: keep every intermediate (arrays with a T axis); else keep h for every step and the
    final c, reusing one buffer per intermediate. exact: sigmoid through activations.sigmoid,
    which differs from the fast path only where sigmoid(z) is subnormal.
    Returns (z, a, fc, ig, c, tanh_c, h), each (T, B, k) where stored, else (1, B, k) but h;
    z is the true z (the loop works on -z in the sigmoid rows, see _LoopWeights).
    """
    T, B, m = xs.shape
    n, dtype = cell.hidden_size, cell.dtype
    lw = cell._loop
    sign, WhT = lw.sign, lw.WhT
    rows = _BLOCK64 if dtype == np.float64 else B
    with np.errstate(over="ignore", invalid="ignore"):
        zn = _project(xs.reshape(T * B, m), lw.WxT, lw.b, rows)
    zn = zn.reshape(T, B, 4 * n)  # the input part of -z (f, i, o) and z (g), every step

    S = T if stored else 1
    z = zn if stored else np.empty((1, B, 4 * n), dtype)
    a = np.empty((S, B, 4 * n), dtype)
    fc, ig, c, tc = (np.empty((S, B, n), dtype) for _ in range(4))
    h = np.empty((T, B, n), dtype)
    rec = np.empty((B, 4 * n), dtype)
    f_, i_, g_, o_ = (slice(k * n, (k + 1) * n) for k in range(4))
    h_prev, c_prev = h0, c0
    matmul, add, multiply, exp, divide, tanh_ = (
        np.matmul, np.add, np.multiply, np.exp, np.divide, np.tanh)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            k = t if stored else 0
            zt, at, ct = z[k], a[k], c[k]
            matmul(h_prev, WhT, out=rec)  # (B, 4n)
            add(zn[t], rec, out=zt)
            if exact:
                at[...] = sigmoid(-zt)
            else:  # e^(-z) may overflow to inf, giving exactly 0
                exp(zt, out=at)
                add(at, 1.0, out=at)
                divide(1.0, at, out=at)
            tanh_(zt[:, g_], out=at[:, g_])
            multiply(at[:, f_], c_prev, out=fc[k])
            multiply(at[:, i_], at[:, g_], out=ig[k])
            add(fc[k], ig[k], out=ct)
            tanh_(ct, out=tc[k])
            multiply(at[:, o_], tc[k], out=h[t])
            h_prev, c_prev = h[t], ct
    z *= sign  # the true pre-activations
    return z, a, fc, ig, c, tc, h


def _surely_safe(cell: Cell, xs: np.ndarray) -> bool:
    """Whether every pre-activation is surely finite and above the range where sigmoid(z) is
    subnormal, from a bound that costs one pass over the inputs:
    |z| <= max|x| * (row sum of |Wx|) + |b| + (row sum of |Wh|), since |h| <= 1."""
    lw = cell._loop
    x_max = float(np.abs(xs).max())
    with np.errstate(over="ignore", invalid="ignore"):
        return bool((x_max * lw.reach_x + lw.reach_bh).max() < lw.limit)


def _recur_variant(cell: Cell, xs, h0, c0):
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
    with np.errstate(over="ignore", invalid="ignore"):
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
            h_prev, c_prev = h[t], c[t]
    if v.coupled:
        z[:, :, F] = np.nan  # f has no pre-activation of its own
        check = z[:, :, [I, G, O]]
    else:
        check = z
    bad = ~np.isfinite(check)
    if bad.any():
        t, b_, k, j = (int(q) for q in np.argwhere(bad)[0])
        gate = [1, 2, 3][k] if v.coupled else k
        where = (f" at step {t + 1}" if T > 1 else "") + (f" (sequence {b_ + 1})" if B > 1
                                                          else "")
        raise NonFiniteError(f"{GATES[gate]} gate pre-activation of unit {j + 1}{where}",
                             (t, b_, gate, j), float(z[t, b_, gate, j]))
    _require_finite(c, "C_t")
    return z, a, fc, ig, c, tc, h, (None if v.projection is None else mm)


def _unroll_variant(cell: Cell, xs, h0, c0) -> Run:
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


def _run(cell: Cell, xs, h0, c0, stored: bool):
    xs, h0, c0, batch = _inputs(cell, xs, h0, c0)
    T, B = xs.shape[:2]
    n = cell.hidden_size
    fine = _surely_safe(cell, xs)
    out = _recur(cell, xs, h0, c0, stored or not fine, exact=False)
    if not fine:  # the bound is loose: look at the true z
        z = out[0]
        fine = bool(np.isfinite(z).all()) and z.min() > subnormal_below(cell.dtype)
    if not fine or not np.isfinite(out[4]).all():
        # Rare: locate what stopped being finite, or get subnormal sigmoid values right.
        out = _recur(cell, xs, h0, c0, stored=True, exact=True)
        _check_gates(out[0].reshape(T, B, 4, n), "pre-activation", steps=T > 1)
        _require_finite(out[4], "C_t")
    if not stored:
        out = out[:4] + (out[4][-1:],) + out[5:]
    return xs, h0, c0, batch, out


def unroll(cell: Cell, xs, h0=None, c0=None) -> Run:
    """Run x_1..x_T (xs of shape (T, ..., m)) through the cell, keeping every intermediate."""
    if cell.variant is not None:
        return _unroll_variant(cell, xs, h0, c0)
    xs, h0, c0, batch, (z, a, fc, ig, c, tc, h) = _run(cell, xs, h0, c0, stored=True)
    T, n = xs.shape[0], cell.hidden_size
    z4, a4 = z.reshape(T, *batch, 4, n), a.reshape(T, *batch, 4, n)
    a_gap = np.empty_like(z4)
    a_gap[..., SIGMOID_GATES, :] = sigmoid_complement(z4[..., SIGMOID_GATES, :])
    a_gap[..., G, :] = tanh_gap(z4[..., G, :])
    shape = (T, *batch, n)
    c, tc, h = c.reshape(shape), tc.reshape(shape), h.reshape(shape)
    tanh_c_gap = tanh_gap(c)
    # 1 - |o tanh C| = (1 - o) + o (1 - |tanh C|), with o >= 0: no cancellation
    h_gap = a_gap[..., O, :] + a4[..., O, :] * tanh_c_gap
    return Run(cell, xs.reshape(T, *batch, -1), h0.reshape(*batch, n), c0.reshape(*batch, n),
               z4, a4, a_gap, fc.reshape(shape), ig.reshape(shape), c, tc, tanh_c_gap, h, h_gap)


def outputs(cell: Cell, xs, h0=None, c0=None) -> tuple[np.ndarray, np.ndarray]:
    """h_t for every step (T, ..., n) and the final C_T (..., n), as nn.LSTM returns them.

    The same arithmetic as unroll(), bit for bit, without keeping the intermediates."""
    if cell.variant is not None:
        run = _unroll_variant(cell, xs, h0, c0)
        return run.h, run.c[-1]
    xs, h0, c0, batch, (_, _, _, _, c, _, h) = _run(cell, xs, h0, c0, stored=False)
    n = cell.hidden_size
    return h.reshape(xs.shape[0], *batch, n), c[-1].reshape(*batch, n)


def step(cell: Cell, x, h=None, c=None) -> Step:
    """One LSTM step: a sequence of length 1, so that step and unroll agree bit for bit."""
    x = _vector(x, cell.input_size, cell.dtype, "x", "m")
    return unroll(cell, x[None], h, c).step(0)


# The founding answer's extras ------------------------------------------------------------------

OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "identity", "softmax")


@dataclass(frozen=True, eq=False)
class OutputLayer:
    """y_t = activation(W h_t + b): W (q, n), b (q,)."""

    W: np.ndarray
    b: np.ndarray
    activation: str

    def __post_init__(self):
        if self.activation not in OUTPUT_ACTIVATIONS:
            raise ShapeError(f"unknown output activation {self.activation!r}")
        if self.W.ndim != 2 or self.b.shape != self.W.shape[:1]:
            raise ShapeError(f"output layer W must be (q, n) and b (q,), got {self.W.shape} "
                             f"and {self.b.shape}")

    def __call__(self, h: np.ndarray):
        """(z_y, y) for h of shape (..., n)."""
        W, b = self.W.astype(h.dtype), self.b.astype(h.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            z = h @ W.T + b  # (..., q)
        _require_finite(z, "output layer pre-activation")
        if self.activation == "sigmoid":
            y = sigmoid(z)
        elif self.activation == "tanh":
            y = tanh(z)
        elif self.activation == "identity":
            y = z.copy()
        else:  # softmax, shifted by the maximum so that exp never overflows
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        return z, y


@dataclass(frozen=True, eq=False)
class Reading:
    """The founding answer's stochastic reading of a step (not a standard LSTM): each sigmoid
    gate unit is on (1) where a uniform draw u falls below its value, off (0) otherwise; C_t
    and h_t are then recomputed with those 0/1 gates. u has shape (..., 3, n) for f, i, o."""

    u: np.ndarray  # (..., 3, n)
    on: np.ndarray  # (..., 3, n), 0.0 or 1.0: f, i, o
    c: np.ndarray  # (..., n)  f_on * C_{t-1} + i_on * g
    h: np.ndarray  # (..., n)  o_on * tanh(c)


def stochastic_reading(step: Step, u: np.ndarray) -> Reading:
    """The reading of `step` for draws u in [0, 1) of shape (..., 3, n) (f, i, o)."""
    gates = step.a[..., [F, I, O], :]
    on = (u < gates).astype(step.a.dtype)
    f, i, o = on[..., 0, :], on[..., 1, :], on[..., 2, :]
    c = f * step.c_prev + i * step.a[..., G, :] + 0.0  # + 0.0: an off gate gives 0, not -0
    return Reading(u, on, c, o * tanh(c) + 0.0)


# Backward --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Grads:
    """dL/d of everything, by backpropagation through the whole run.

    dW, db have the cell's own layout (W: (4, n, m + n), columns in concat order). dz, dh, dc
    are per step: dh[t] and dc[t] are the total dL/dh_t and dL/dC_t (from the loss and from the
    steps after t); dz[t] is dL/dz_t per gate."""

    dW: np.ndarray  # (4, n, m + n)
    db: np.ndarray  # (4, n)
    dx: np.ndarray  # (T, ..., m)
    dh0: np.ndarray  # (..., n)
    dc0: np.ndarray  # (..., n)
    dz: np.ndarray  # (T, ..., 4, n)
    dh: np.ndarray  # (T, ..., n)
    dc: np.ndarray  # (T, ..., n)
    dP: np.ndarray | None = None  # (3, n): the peepholes' gradients (f, i, o), if any
    dWp: np.ndarray | None = None  # (p, n): the projection's gradient, if any


def _upstream(run: Run, dh_out, dc_last):
    """The sizes of a run, dL/dh_t from the loss as (T, B, r), and dL/dC_T as (B, n)."""
    cell = run.cell
    T, n, m, dtype = run.T, cell.hidden_size, cell.input_size, cell.dtype
    batch = run.batch_shape
    B = int(np.prod(batch, dtype=int))
    r = cell.state_size
    dh_out = np.broadcast_to(np.asarray(dh_out, dtype), (T, *batch, r)).reshape(T, B, r)
    dc_next = np.zeros((B, n), dtype) if dc_last is None else \
        np.broadcast_to(np.asarray(dc_last, dtype), (*batch, n)).reshape(B, n).copy()
    return T, B, n, m, dtype, batch, dh_out, dc_next


def backward(run: Run, dh_out, dc_last=None) -> Grads:
    """Backpropagation through time. dh_out (T, ..., n): dL/dh_t from the loss at each step;
    dc_last (..., n): dL/dC_T from the loss (zeros when None).

    The derivatives use the distances the forward pass kept, so that they stay exact where the
    gates saturate: sigma' = a (1 - a) with 1 - a from a_gap, tanh' = gap (2 - gap)."""
    cell = run.cell
    if cell.variant is not None:
        return _backward_variant(run, dh_out, dc_last)
    T, B, n, m, dtype, batch, dh_out, dc_next = _upstream(run, dh_out, dc_last)
    a = run.a.reshape(T, B, 4, n)
    gap = run.a_gap.reshape(T, B, 4, n)
    c = run.c.reshape(T, B, n)
    tc_gap = run.tanh_c_gap.reshape(T, B, n)
    tc = run.tanh_c.reshape(T, B, n)
    c_prev_all = np.concatenate([run.c0.reshape(1, B, n), c[:-1]])
    h_prev_all = np.concatenate([run.h0.reshape(1, B, n), run.h.reshape(T, B, n)[:-1]])
    x = run.x.reshape(T, B, m)
    W2 = cell.W.reshape(4 * n, m + n)
    xs, hs = cell.columns("x"), cell.columns("h")

    # the local slopes of every step at once: sigma' = a (1 - a); tanh' = gap (2 - gap)
    slope = a * gap
    slope[:, :, G] = gap[:, :, G] * (2 - gap[:, :, G])
    dtanh_c = tc_gap * (2 - tc_gap)

    dz = np.empty((T, B, 4, n), dtype)
    dh_tot = np.empty((T, B, n), dtype)
    dc_tot = np.empty((T, B, n), dtype)
    dx = np.empty((T, B, m), dtype)
    dh_next = np.zeros((B, n), dtype)
    for t in range(T - 1, -1, -1):
        f, i, g, o = a[t, :, F], a[t, :, I], a[t, :, G], a[t, :, O]
        dh = dh_out[t] + dh_next
        dc = dc_next + dh * o * dtanh_c[t]
        dh_tot[t], dc_tot[t] = dh, dc
        dz[t, :, F] = dc * c_prev_all[t] * slope[t, :, F]
        dz[t, :, I] = dc * g * slope[t, :, I]
        dz[t, :, G] = dc * i * slope[t, :, G]
        dz[t, :, O] = dh * tc[t] * slope[t, :, O]
        dv = dz[t].reshape(B, 4 * n) @ W2  # (B, m + n)
        dx[t] = dv[:, xs]
        dh_next = dv[:, hs]
        dc_next = dc * f
    dz2 = dz.reshape(T * B, 4 * n)
    parts = {"x": x.reshape(T * B, m), "h": h_prev_all.reshape(T * B, n)}
    v = np.concatenate([parts[p] for p in cell.concat], axis=1)  # (T B, m + n)
    dW = (dz2.T @ v).reshape(4, n, m + n)
    db = dz2.sum(axis=0).reshape(4, n)
    shape = (T, *batch)
    return Grads(dW, db, dx.reshape(*shape, m), dh_next.reshape(*batch, n),
                 dc_next.reshape(*batch, n), dz.reshape(*shape, 4, n),
                 dh_tot.reshape(*shape, n), dc_tot.reshape(*shape, n))


def loss_sum(run: Run):
    """L = the sum of h_T's entries. Returns (L, dL/dh per step, dL/dC_T)."""
    dh = np.zeros_like(run.h)
    dh[-1] = 1.0
    return float(run.h[-1].sum()), dh, None


def loss_mse(run: Run, target: np.ndarray):
    """L = the mean of (h_t - target_t)^2 over every step and unit (and sequence)."""
    target = np.broadcast_to(np.asarray(target, run.h.dtype), run.h.shape)
    diff = run.h - target
    return float(np.mean(diff ** 2)), 2 * diff / diff.size, None


def loss_given(run: Run, dh_out, dc_last):
    """Upstream gradients given directly: L = sum_t dh_t . h_t + dc . C_T (the linear loss
    whose gradient they are), so that finite differences can check them too."""
    dh_out = np.broadcast_to(np.asarray(dh_out, run.h.dtype), run.h.shape)
    value = float((dh_out * run.h).sum())
    if dc_last is not None:
        value += float((np.asarray(dc_last) * run.c[-1]).sum())
    return value, dh_out, dc_last


def forget_products(run: Run) -> np.ndarray:
    """For each t, prod_{k > t} f_k: the factor by which dL/dC_T reaches C_t along the cell
    state alone (1 at t = T). Shape (T, ..., n)."""
    f = run.a[..., F, :]
    out = np.ones_like(f)
    for t in range(run.T - 2, -1, -1):
        out[t] = out[t + 1] * f[t + 1]
    return out


# Stacks: layers and directions -----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class StackRun:
    """Layers of cells, each run forward, backward or both over the layer below's output.

    runs[k][d] is the Run of layer k in direction directions[d]; a reverse Run is in its own
    (reversed) time order, and `output` puts it back in input order: output[k] is layer k's
    h_t for every t in input order, the directions side by side (T, ..., D n)."""

    runs: list
    directions: tuple
    output: list

    @property
    def final_h(self) -> np.ndarray:
        """(L D, ..., n): every layer's and direction's last h, in PyTorch's h_n order."""
        return np.stack([run.h[-1] for layer in self.runs for run in layer])

    @property
    def final_c(self) -> np.ndarray:
        return np.stack([run.c[-1] for layer in self.runs for run in layer])


def stack_unroll(cells: list, directions: tuple, xs, h0=None, c0=None) -> StackRun:
    """Run xs (T, ..., m) through layers of cells (cells[k][d] for direction directions[d]).
    h0, c0: (L D, ..., n) as PyTorch orders them, or None for zeros."""
    xs = np.asarray(xs)
    runs, outputs = [], []
    layer_input = xs
    for k, layer in enumerate(cells):
        per, outs = [], []
        for d, (cell, direction) in enumerate(zip(layer, directions)):
            j = k * len(directions) + d
            h = None if h0 is None else np.asarray(h0)[j]
            c = None if c0 is None else np.asarray(c0)[j]
            seq = layer_input[::-1] if direction == "reverse" else layer_input
            run = unroll(cell, seq, h, c)
            per.append(run)
            outs.append(run.h[::-1] if direction == "reverse" else run.h)
        runs.append(per)
        layer_input = np.concatenate(outs, axis=-1)
        outputs.append(layer_input)
    return StackRun(runs, tuple(directions), outputs)


def gate_slopes(result) -> np.ndarray:
    """The slope of each gate's activation at its pre-activation (..., 4, n), for a Step or a
    Run; a coupled forget gate (f = 1 - i) has the input gate's slope, negated."""
    v = result.cell.variant
    z = result.z
    if v is None:
        from lstmcalc.activations import sigmoid_derivative, tanh_derivative

        out = sigmoid_derivative(z)
        out[..., G, :] = tanh_derivative(z[..., G, :])
        return out
    out = np.empty_like(z)
    for k in (F, I, O):
        out[..., k, :] = v.gate.derivative(z[..., k, :])
    out[..., G, :] = v.candidate.derivative(z[..., G, :])
    if v.coupled:
        out[..., F, :] = -out[..., I, :]
    return out


def _backward_variant(run: Run, dh_out, dc_last=None) -> Grads:
    """backward() for a variant cell: peepholes, coupling, clipping and other activations.
    A clipped pre-activation or cell state passes no gradient (the clip is flat there)."""
    cell, v = run.cell, run.cell.variant
    r = cell.state_size
    T, B, n, m, dtype, batch, dh_out, dc_next = _upstream(run, dh_out, dc_last)
    z = run.z.reshape(T, B, 4, n)
    a = run.a.reshape(T, B, 4, n)
    c = run.c.reshape(T, B, n)
    c_raw = (run.fc + run.ig).reshape(T, B, n)  # C_t before its clip
    c_prev_all = np.concatenate([run.c0.reshape(1, B, n), c[:-1]])
    h_prev_all = np.concatenate([run.h0.reshape(1, B, r), run.h.reshape(T, B, r)[:-1]])
    x = run.x.reshape(T, B, m)
    W2 = cell.W.reshape(4 * n, m + r)
    xs, hs = cell.columns("x"), cell.columns("h")
    Wp = v.projection
    mm = None if Wp is None else run.m.reshape(T, B, n)
    dWp = None if Wp is None else np.zeros_like(Wp)
    slope = np.empty_like(z)
    for k in (F, I, O):
        slope[:, :, k] = v.gate.derivative(z[:, :, k])
    slope[:, :, G] = v.candidate.derivative(z[:, :, G])
    if v.clip is not None:  # z as stored is after the clip: at the bound it was cut off
        slope = np.where(np.abs(z) < v.clip, slope, 0.0)
    cell_slope = v.cell.derivative(c)
    c_pass = np.ones_like(c) if v.cell_clip is None else \
        (np.abs(c_raw) < v.cell_clip).astype(dtype)
    P = v.peephole
    dz = np.zeros((T, B, 4, n), dtype)
    dh_tot = np.empty((T, B, r), dtype)
    dc_tot = np.empty((T, B, n), dtype)
    dx = np.empty((T, B, m), dtype)
    dP = None if P is None else np.zeros((3, n), dtype)
    dh_next = np.zeros((B, r), dtype)
    for t in range(T - 1, -1, -1):
        f, i, g, o = a[t, :, F], a[t, :, I], a[t, :, G], a[t, :, O]
        dh = dh_out[t] + dh_next
        dm = dh
        if Wp is not None:  # h = W_hr m
            dWp += dh.T @ mm[t]
            dm = dh @ Wp
        dz[t, :, O] = dm * run.tanh_c.reshape(T, B, n)[t] * slope[t, :, O]
        dc = dc_next + dm * o * cell_slope[t]
        if P is not None:
            dc = dc + dz[t, :, O] * P[2]  # o saw p_o C_t
        dh_tot[t], dc_tot[t] = dh, dc
        dc = dc * c_pass[t]  # through the cell clip
        df = dc * c_prev_all[t]
        di = dc * g
        if v.coupled:
            di = di - df  # f = 1 - i
        else:
            dz[t, :, F] = df * slope[t, :, F]
        dz[t, :, I] = di * slope[t, :, I]
        dz[t, :, G] = dc * i * slope[t, :, G]
        dc_next = dc * f
        if P is not None:
            dc_next = dc_next + dz[t, :, F] * P[0] + dz[t, :, I] * P[1]
            dP[0] += (dz[t, :, F] * c_prev_all[t]).sum(axis=0)
            dP[1] += (dz[t, :, I] * c_prev_all[t]).sum(axis=0)
            dP[2] += (dz[t, :, O] * c[t]).sum(axis=0)
        dv = dz[t].reshape(B, 4 * n) @ W2
        dx[t] = dv[:, xs]
        dh_next = dv[:, hs]
    dz2 = dz.reshape(T * B, 4 * n)
    parts = {"x": x.reshape(T * B, m), "h": h_prev_all.reshape(T * B, r)}
    vv = np.concatenate([parts[p] for p in cell.concat], axis=1)
    shape = (T, *batch)
    return Grads((dz2.T @ vv).reshape(4, n, m + r), dz2.sum(axis=0).reshape(4, n),
                 dx.reshape(*shape, m), dh_next.reshape(*batch, r), dc_next.reshape(*batch, n),
                 dz.reshape(*shape, 4, n), dh_tot.reshape(*shape, r), dc_tot.reshape(*shape, n),
                 dP, dWp)
