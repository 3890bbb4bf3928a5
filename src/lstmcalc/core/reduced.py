"""The recurrence in a narrow number format: float16, bfloat16 (as PyTorch's nn.LSTMCell on the
CPU computes in them) or fixed point qI.F (as docs/hardware.md states it, exactly).

Every array holds the format's values as float64 (each is exactly a float64), so a reduced run
is an ordinary Run: every report and writer reads it. Where a fixed-point value saturated is
kept beside it (Run.saturated).

float16 / bfloat16, per step (PyTorch's rounding points; R rounds a float32 to the format):
    z_x = R(f32(W_x x + b_x))   z_h = R(f32(W_h h + b_h))   z = R(f32(z_x + z_h))
    each product exact in float64 and summed there (exact unless the terms span more than 53
    bits, far below float32's rounding), then rounded to float32 once; each activation in
    float32 (sigmoid as 1 / (1 + e^-z) with e^-z correctly rounded to float32) and R;
    f*C, i*g, their sum, tanh(C_t), o*tanh(C_t): each R.
qI.F: the semantics of docs/hardware.md (integer codes, exact sums, round half to even,
saturation).
"""

import numpy as np
from numpy.typing import ArrayLike

from lstmcalc.core.activations import SIGMOID, TANH, Activation
from lstmcalc.core.formats import Fixed, Floating, NumberFormat
from lstmcalc.core.types import GATES, Cell, Run
from lstmcalc.errors import DataError, NonFiniteError, Unsupported


def quantize_cell(fmt: NumberFormat, cell: Cell, bias_h: np.ndarray | None = None) -> Cell:
    """The cell's weights in fmt (a Cell whose `number` is fmt). cell.b is the whole bias;
    bias_h the part a framework adds with W_h h (so b_x = b - bias_h), rounded apart from b_x
    in float16/bfloat16 as PyTorch does; fixed point has one bias."""
    v = cell.variant
    others = [f for f in v.features() if f != "activations"]
    if others:
        raise Unsupported(f"--dtype {fmt} computes the standard cell (with any --activations); "
                          f"this one has {'; '.join(v.describe())}: use float32 or float64")
    b = cell.b.astype(np.float64)
    if isinstance(fmt, Fixed) or bias_h is None:
        bx, bh = b, np.zeros_like(b)
    else:
        bh = np.asarray(bias_h, np.float64)
        bx = b - bh
    W, _ = _load(fmt, cell.W.astype(np.float64), "W")
    (Bx, _), (Bh, _) = _load(fmt, bx, "b"), _load(fmt, bh, "b_h")
    return Cell(W, Bx + Bh, cell.concat, v, number=fmt, biases=np.stack([Bx, Bh]))


def load_saturation(fmt: NumberFormat, cell: Cell) -> dict[str, np.ndarray]:
    """Where the weights and the bias of a float64 cell saturate in fmt (fixed point)."""
    return {"W": fmt.quantize(cell.W.astype(np.float64))[1],
            "b": fmt.quantize(cell.b.astype(np.float64))[1]}


def _load(fmt: NumberFormat, values: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    q, saturated = fmt.quantize(values)
    if isinstance(fmt, Floating) and saturated.any():
        index = tuple(int(k) for k in np.argwhere(saturated)[0])
        raise DataError(f"{what}{list(index)} = {values[index]:g} is beyond {fmt}'s range")
    return q, saturated


def _biases(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    if cell.biases is None:
        return cell.b, np.zeros_like(cell.b)
    return cell.biases[0], cell.biases[1]


Saturated = dict[str, np.ndarray]
Seven = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
              np.ndarray]


def _inputs(cell: Cell, xs: ArrayLike, h0: ArrayLike | None, c0: ArrayLike | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...], Saturated]:
    from lstmcalc.core.forward import _inputs as checked

    assert cell.number is not None
    fmt = cell.number
    xs, h0, c0, batch = checked(cell, xs, h0, c0)
    (X, sx), (H, sh), (C, sc) = (_load(fmt, a, what) for a, what in
                                 ((xs, "x"), (h0, "h"), (c0, "c")))
    return X, H, C, batch, {"x": sx, "h_prev": sh, "c_prev": sc}


def unroll(cell: Cell, xs: ArrayLike, h0: ArrayLike | None = None,
           c0: ArrayLike | None = None) -> Run:
    """x_1..x_T (xs of shape (T, ..., m)) through a cell in its format (quantize_cell), every
    intermediate kept."""
    X, H, C, batch, saturated = _inputs(cell, xs, h0, c0)
    fmt = cell.number
    if isinstance(fmt, Fixed):
        z, a, fc, ig, c, tc, h, sat = _fixed(cell, fmt, X, H, C)
    else:
        assert isinstance(fmt, Floating)
        z, a, fc, ig, c, tc, h = _floating(cell, fmt, X, H, C)
        sat = {}
    saturated = {**saturated, **sat}
    T, B, m = X.shape
    n = cell.hidden_size
    shape, shape4 = (T, *batch, n), (T, *batch, 4, n)
    z4, a4 = z.reshape(shape4), a.reshape(shape4)
    out = {key: arr.reshape(shape4 if arr.ndim == 4 else (T, *batch, arr.shape[-1]))
           for key, arr in saturated.items() if key not in ("h_prev", "c_prev")}
    out["h_prev"] = saturated["h_prev"].reshape(*batch, n)
    out["c_prev"] = saturated["c_prev"].reshape(*batch, n)
    return Run(cell, X.reshape(T, *batch, m), H.reshape(*batch, n), C.reshape(*batch, n),
               z4, a4, 1 - np.abs(a4), fc.reshape(shape), ig.reshape(shape), c.reshape(shape),
               tc.reshape(shape), 1 - np.abs(tc.reshape(shape)), h.reshape(shape),
               1 - np.abs(h.reshape(shape)), saturated=out)


# float16 / bfloat16 --------------------------------------------------------------------------

def _float_activation(fmt: Floating, act: Activation, z: np.ndarray) -> np.ndarray:
    """act(z) computed in float32, then rounded to the format (PyTorch's kernels for these
    dtypes; its float32 sigmoid takes e^-z correctly rounded, which this matches)."""
    one = np.float32(1)
    with np.errstate(over="ignore"):
        if act is SIGMOID:
            e = np.exp(-z).astype(np.float32)  # z is exactly a float32: e^-z rounded once
            return fmt.round32(one / (one + e))
        if act is TANH:
            return fmt.round32(np.tanh(z).astype(np.float32))
        return fmt.round32(np.asarray(act(z), np.float64).astype(np.float32))


def _floating(cell: Cell, fmt: Floating, X: np.ndarray, H: np.ndarray, C: np.ndarray
              ) -> Seven:
    T, B, m = X.shape
    v = cell.variant
    n = cell.hidden_size
    WT = cell.W.reshape(4 * n, -1).T
    WxT, WhT = WT[cell.columns("x")], WT[cell.columns("h")]
    bx, bh = (b.reshape(-1) for b in _biases(cell))
    R = fmt.round32

    def f32(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32)

    with np.errstate(over="ignore", invalid="ignore"):
        zx = R(f32(X.reshape(T * B, m) @ WxT + bx)).reshape(T, B, 4 * n)
        z = np.empty((T, B, 4, n))
        a = np.empty_like(z)
        fc, ig, c, tc, h = (np.empty((T, B, n)) for _ in range(5))
        h_prev, c_prev = H, C
        for t in range(T):
            zh = R(f32(h_prev @ WhT + bh))
            zt = z[t] = R(f32(zx[t] + zh)).reshape(B, 4, n)
            at = a[t]
            for k, act in enumerate((v.gate, v.gate, v.candidate, v.gate)):
                at[:, k] = _float_activation(fmt, act, zt[:, k])
            fc[t] = R(f32(at[:, 0] * c_prev))
            ig[t] = R(f32(at[:, 1] * at[:, 2]))
            c[t] = R(f32(fc[t] + ig[t]))
            tc[t] = _float_activation(fmt, v.cell, c[t])
            h[t] = R(f32(at[:, 3] * tc[t]))
            h_prev, c_prev = h[t], c[t]
    _finite(z, a, c, h)
    return z, a, fc, ig, c, tc, h


def _finite(z: np.ndarray, a: np.ndarray, c: np.ndarray, h: np.ndarray) -> None:
    """Name the first value past the format's range (PyTorch would carry inf on)."""
    from lstmcalc.core.forward import _steps_finite

    T, B = z.shape[:2]
    for k, gate in enumerate(GATES):
        if not np.isfinite(z[:, :, k]).all():
            _steps_finite(z[:, :, k], f"{gate} gate pre-activation")
    for arr, what in ((c, "C_t"), (h, "h_t")):
        if not np.isfinite(arr).all():
            _steps_finite(arr, what)
    if not np.isfinite(a).all():  # an activation past the range (exponential, relu, ...)
        t, b, k, j = (int(q) for q in np.argwhere(~np.isfinite(a))[0])
        raise NonFiniteError(f"{GATES[k]} gate activation of unit {j + 1}", (t, b, k, j),
                             float(a[t, b, k, j]))


# fixed point -----------------------------------------------------------------------------

def round_shift(K: np.ndarray, F: int) -> np.ndarray:
    """K / 2^F rounded half to even, for integer arrays (int64 or Python ints)."""
    return K if F == 0 else _divide_even(K, 1 << F)


def _fixed(cell: Cell, fmt: Fixed, X: np.ndarray, H: np.ndarray, C: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                      np.ndarray, Saturated]:
    T, B, m = X.shape
    v, F = cell.variant, fmt.fraction
    n, lo, hi = cell.hidden_size, fmt.lowest, fmt.highest
    scale = fmt.scale
    code = fmt.signed_codes
    Wc = code(cell.W.reshape(4 * n, -1))  # (4n, m + n)
    b2 = code(cell.b.reshape(-1)) << F  # b at 2F fraction bits
    # the exact sum fits int64 when its bound does; else Python integers (exact, slower)
    bound = int(np.abs(Wc).sum(axis=1).max()) * (1 << (fmt.bits - 1)) + int(np.abs(b2).max())
    kind = np.int64 if bound < 2 ** 62 else object
    WT = Wc.T.astype(kind)
    WxT, WhT = WT[cell.columns("x")], WT[cell.columns("h")]
    b2 = b2.astype(kind)

    def saturate(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        K = np.asarray(K)
        out = (K < lo) | (K > hi)
        return np.clip(K, lo, hi).astype(np.int64), out.astype(bool)

    def activation(act: Activation, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if act.name in LINEAR_PIECES:
            return saturate(_linear_piece(act, k, F))
        with np.errstate(over="ignore", invalid="ignore"):
            value = np.asarray(act(k / scale), np.float64)  # k / 2^F is z's exact value
        value = np.nan_to_num(value, nan=0.0, posinf=hi + 1.0, neginf=lo - 1.0)
        return fmt.quantize_codes(value)

    xc, hc, cc = code(X), code(H), code(C)
    zx = (xc.reshape(T * B, m).astype(kind) @ WxT).reshape(T, B, 4 * n)
    z = np.empty((T, B, 4, n), np.int64)
    a = np.empty_like(z)
    fc, ig, c, tc, h = (np.empty((T, B, n), np.int64) for _ in range(5))
    sat = {key: np.zeros((T, B, 4, n), bool) for key in ("preactivation", "activation")}
    sat.update({key: np.zeros((T, B, n), bool) for key in
                ("forget_times_c_prev", "input_times_candidate", "c", "tanh_c", "h")})
    h_prev, c_prev = hc, cc
    for t in range(T):
        acc = zx[t] + h_prev.astype(kind) @ WhT + b2  # exact, 2F fraction bits
        zt, s = saturate(round_shift(acc, F))
        z[t] = zt.reshape(B, 4, n)
        sat["preactivation"][t] = s.reshape(B, 4, n)
        for k, act in enumerate((v.gate, v.gate, v.candidate, v.gate)):
            a[t, :, k], sat["activation"][t, :, k] = activation(act, z[t, :, k])
        at = a[t]
        fc[t], sat["forget_times_c_prev"][t] = saturate(round_shift(at[:, 0] * c_prev, F))
        ig[t], sat["input_times_candidate"][t] = saturate(round_shift(at[:, 1] * at[:, 2], F))
        c[t], sat["c"][t] = saturate(fc[t] + ig[t])
        tc[t], sat["tanh_c"][t] = activation(v.cell, c[t])
        h[t], sat["h"][t] = saturate(round_shift(at[:, 3] * tc[t], F))
        h_prev, c_prev = h[t], c[t]
    return z / scale, a / scale, fc / scale, ig / scale, c / scale, tc / scale, h / scale, sat


# Activations that are linear in pieces: evaluated exactly on the codes (alpha and beta are
# float64 numbers, so exact rationals), then rounded half to even.
LINEAR_PIECES = ("hard_sigmoid", "hard_sigmoid_keras", "hard_sigmoid_tf2", "affine",
                 "leaky_relu", "relu", "identity", "relu6", "hard_tanh")


def _divide_even(N: np.ndarray, D: int) -> np.ndarray:
    """N / D rounded half to even, exactly, for integer arrays and a positive integer D."""
    q = N // D
    r2 = 2 * (N - q * D)
    return q + ((r2 > D) | ((r2 == D) & ((q & 1) == 1)))


def _linear_piece(act: Activation, k: np.ndarray, F: int) -> np.ndarray:
    """The code of act(k / 2^F), exactly (before saturation): for hard_sigmoid,
    clip(alpha z + beta, 0, 1); affine alpha z + beta; leaky_relu z or alpha z; relu, relu6,
    hard_tanh, identity: z clipped."""
    one = 1 << F
    name = act.name
    if name in ("relu", "identity", "relu6", "hard_tanh"):
        low = {"relu": 0, "relu6": 0, "hard_tanh": -one}.get(name)
        high = {"relu6": 6 * one, "hard_tanh": one}.get(name)
        return np.clip(k, low, high) if (low, high) != (None, None) else k.copy()
    a_num, a_den = float(act.alpha).as_integer_ratio()
    b_num, b_den = float(act.beta).as_integer_ratio()
    K = k.astype(object)
    if name == "leaky_relu":
        return np.where(k >= 0, k, _divide_even(K * a_num, a_den).astype(np.int64))
    # (alpha z + beta) 2^F = (K a_num b_den + b_num a_den 2^F) / (a_den b_den)
    value = _divide_even(K * (a_num * b_den) + b_num * a_den * one, a_den * b_den)
    if name != "affine":
        value = np.clip(value, 0, one)
    return value
