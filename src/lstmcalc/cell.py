"""The LSTM cell: one step, every intermediate kept.

With v = [x_t, h_{t-1}] (or [h_{t-1}, x_t]):

    f = sigmoid(W_f v + b_f)      i = sigmoid(W_i v + b_i)
    g = tanh(W_c v + b_c)         o = sigmoid(W_o v + b_o)
    C_t = f * C_{t-1} + i * g     h_t = o * tanh(C_t)

Pure NumPy: nothing here prints, reads files or knows about any output format. Every function
takes single vectors (shape (m,)) or batches (shape (B, m), or any leading batch shape).
"""

from dataclasses import dataclass

import numpy as np

from lstmcalc.activations import sigmoid, sigmoid_complement, tanh, tanh_gap

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


@dataclass(frozen=True, eq=False)
class Cell:
    """The weights of one cell.

    W has shape (4, n, m + n): W[F] is W_f, its columns in `concat` order; b has shape (4, n).
    """

    W: np.ndarray
    b: np.ndarray
    concat: tuple[str, str] = ("x", "h")

    def __post_init__(self):
        W, b = np.asarray(self.W), np.asarray(self.b, dtype=np.asarray(self.W).dtype)
        if W.ndim != 3 or W.shape[0] != 4 or W.shape[2] <= W.shape[1]:
            raise ShapeError(f"W must have shape (4, n, m + n) with m >= 1, got {W.shape}")
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

    @property
    def hidden_size(self) -> int:
        return self.W.shape[1]

    @property
    def input_size(self) -> int:
        return self.W.shape[2] - self.W.shape[1]

    @property
    def dtype(self):
        return self.W.dtype

    @property
    def parameter_count(self) -> int:
        return self.W.size + self.b.size

    def columns(self, part: str) -> slice:
        """Where x or h sits among the m + n columns of every W."""
        m, n = self.input_size, self.hidden_size
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
        return Cell(self.W.astype(dtype), self.b.astype(dtype), self.concat)


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
    h: np.ndarray  # (..., n)       h_t
    h_gap: np.ndarray  # (..., n)

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


def _check_gates(z: np.ndarray, what: str) -> None:
    """Name the gate and unit (1-based) where a value stopped being finite."""
    bad = ~np.isfinite(z)
    if bad.any():
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        *batch, gate, unit = index
        where = f" (sequence {batch[0] + 1})" if batch and z.ndim == 3 else ""
        raise NonFiniteError(
            f"{GATES[gate]} gate {what} of unit {unit + 1}{where}", index, float(z[index])
        )


def step(cell: Cell, x, h=None, c=None) -> Step:
    """One LSTM step. h and c default to zeros."""
    m, n, dtype = cell.input_size, cell.hidden_size, cell.dtype
    x = _vector(x, m, dtype, "x", "m")
    h = np.zeros(n, dtype) if h is None else _vector(h, n, dtype, "h", "n")
    c = np.zeros(n, dtype) if c is None else _vector(c, n, dtype, "c", "n")
    batch = np.broadcast_shapes(x.shape[:-1], h.shape[:-1], c.shape[:-1])
    x = np.broadcast_to(x, batch + (m,))
    h = np.broadcast_to(h, batch + (n,))
    c = np.broadcast_to(c, batch + (n,))

    v = np.concatenate([{"x": x, "h": h}[part] for part in cell.concat], axis=-1)  # (..., m+n)
    with np.errstate(all="ignore"):
        z = (v @ cell.W.reshape(4 * n, -1).T).reshape(batch + (4, n)) + cell.b  # (..., 4, n)
    _check_gates(z, "pre-activation")

    a = np.empty_like(z)
    a_gap = np.empty_like(z)
    a[..., SIGMOID_GATES, :] = sigmoid(z[..., SIGMOID_GATES, :])
    a_gap[..., SIGMOID_GATES, :] = sigmoid_complement(z[..., SIGMOID_GATES, :])
    a[..., G, :] = tanh(z[..., G, :])
    a_gap[..., G, :] = tanh_gap(z[..., G, :])
    f, i, g, o = (a[..., k, :] for k in range(4))

    fc = f * c
    ig = i * g
    with np.errstate(over="ignore", invalid="ignore"):
        c_new = fc + ig  # (..., n)
    _require_finite(c_new, "C_t")
    tanh_c = tanh(c_new)
    tanh_c_gap = tanh_gap(c_new)
    h_new = o * tanh_c
    # 1 - |o tanh C| = (1 - o) + o (1 - |tanh C|), with o >= 0: no cancellation
    h_gap = a_gap[..., O, :] + o * tanh_c_gap
    return Step(cell, x, h, c, v, z, a, a_gap, fc, ig, c_new, tanh_c, tanh_c_gap, h_new, h_gap)
