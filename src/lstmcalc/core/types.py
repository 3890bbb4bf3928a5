"""The core's types: a Cell's weights and Variant, and the Step, Run and Grads it computes.

With v = [x_t, h_{t-1}] (or [h_{t-1}, x_t]):

    f = sigmoid(W_f v + b_f)      i = sigmoid(W_i v + b_i)
    g = tanh(W_c v + b_c)         o = sigmoid(W_o v + b_o)
    C_t = f * C_{t-1} + i * g     h_t = o * tanh(C_t)

Pure NumPy: nothing in core/ prints, reads files or knows about any output format. Every array
may carry batch axes (shape (B, m), or any leading batch shape).
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from lstmcalc.core.activations import SIGMOID, TANH, Activation
from lstmcalc.errors import DataError, NonFiniteError, ShapeError

if TYPE_CHECKING:
    from lstmcalc.core.formats import NumberFormat
    from lstmcalc.core.forward import LoopWeights

GATES = ("forget", "input", "candidate", "output")
# the arithmetics NumPy computes itself; any other --dtype is a narrow format (core.formats)
NUMPY_FLOATS = ("float64", "float32")
F, I, G, O = range(4)
SIGMOID_GATES = [F, I, O]


@dataclass(frozen=True, eq=False)
class Variant:
    """What a cell does beyond the standard equations.

    peephole (3, n): p_f and p_i add p ⊙ C_{t-1} to z_f and z_i, p_o adds p_o ⊙ C_t to z_o;
    coupled: f = 1 - i (ONNX input_forget); clip: every gate pre-activation is clipped to
    [-clip, clip] (ONNX clip); cell_clip: C_t is clipped to [-cell_clip, cell_clip] (TF1);
    gate, candidate, cell: the activations of f, i, o; of g; and of C_t in h_t;
    projection (p, n): h_t = W_hr (o ⊙ act(C_t)) has p entries while C_t keeps n (PyTorch's
    proj_size, TF1's num_proj); proj_clip: that h_t clipped to [-proj_clip, proj_clip]
    (TF1's proj_clip; only with a projection)."""

    peephole: np.ndarray | None = None
    coupled: bool = False
    clip: float | None = None
    cell_clip: float | None = None
    gate: Activation = SIGMOID
    candidate: Activation = TANH
    cell: Activation = TANH
    projection: np.ndarray | None = None
    proj_clip: float | None = None  # h_t clipped to [-proj_clip, proj_clip] (TF1's proj_clip)

    FEATURES = ("peepholes", "coupled", "clip", "cell_clip", "activations", "projection",
                "proj_clip")

    def features(self) -> tuple[str, ...]:
        """What the cell adds to the standard equations, in FEATURES order."""
        present = (self.peephole is not None, self.coupled, self.clip is not None,
                   self.cell_clip is not None,
                   (self.gate, self.candidate, self.cell) != (SIGMOID, TANH, TANH),
                   self.projection is not None, self.proj_clip is not None)
        return tuple(name for name, there in zip(self.FEATURES, present) if there)

    @property
    def is_standard(self) -> bool:
        """Nothing beyond the standard equations: the fast path computes this cell."""
        return not self.features()

    def phrase(self, feature: str) -> str:
        """For people: what one feature does, in a few words."""
        if feature == "peepholes":
            return "peepholes"
        if feature == "coupled":
            return "coupled gates (f = 1 − i)"
        if feature == "clip":
            return f"pre-activations clipped to ±{self.clip:g}"
        if feature == "cell_clip":
            return f"C_t clipped to ±{self.cell_clip:g}"
        if feature == "activations":
            return f"activations {self.gate!r} / {self.candidate!r} / {self.cell!r}"
        if feature == "proj_clip":
            return f"h_t clipped to ±{self.proj_clip:g} after the projection"
        assert self.projection is not None
        return f"a projection to p = {self.projection.shape[0]}"

    def describe(self) -> list[str]:
        """For people: what the variant adds, one phrase each (never used as logic)."""
        return [self.phrase(f) for f in self.features()]


@dataclass(frozen=True, eq=False)
class Cell:
    """The weights of one cell.

    W has shape (4, n, m + r): W[F] is W_f, its columns in `concat` order; b has shape (4, n).
    r, the size of h, is n, or p with a projection.
    """

    W: np.ndarray
    b: np.ndarray
    concat: tuple[str, str] = ("x", "h")
    variant: Variant = Variant()
    # a format narrower than float32 (core.formats) the cell computes in: W and b then hold
    # that format's values (as float64), and core.reduced computes its steps
    number: "NumberFormat | None" = None
    # with a narrow format: (2, 4, n), the bias added with W_x x and the one added with W_h h
    # (PyTorch's bias_ih and bias_hh), each rounded to the format apart; b is their sum
    biases: np.ndarray | None = None

    def __post_init__(self) -> None:
        W = np.array(self.W, dtype=np.result_type(np.asarray(self.W).dtype, np.float32))
        b = np.array(self.b, dtype=W.dtype)  # copies: the caller's arrays stay writable
        proj = self.variant.projection
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
        v = self.variant if self.variant is not None else Variant()
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
        object.__setattr__(self, "variant", v)
        if self.biases is not None:
            parts = np.array(self.biases, dtype=W.dtype)
            if parts.shape != (2, *b.shape):
                raise ShapeError(f"biases must have shape (2, 4, n), got {parts.shape}")
            parts.setflags(write=False)
            object.__setattr__(self, "biases", parts)

    @property
    def hidden_size(self) -> int:
        return self.W.shape[1]

    @property
    def state_size(self) -> int:
        """r, the entries of h: n, or p with a projection (C always has n)."""
        proj = self.variant.projection
        return self.W.shape[1] if proj is None else proj.shape[0]

    @property
    def input_size(self) -> int:
        return self.W.shape[2] - self.state_size

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.W.dtype

    @property
    def dtype_name(self) -> str:
        """The arithmetic's name: float64, float32, or the narrow format's (q4.12, float16)."""
        return str(self.dtype) if self.number is None else self.number.name

    @property
    def parameter_count(self) -> int:
        v = self.variant
        extra = sum(a.size for a in (v.peephole, v.projection) if a is not None)
        return int(self.W.size + self.b.size + extra)

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

    def astype(self, dtype: DTypeLike) -> "Cell":
        if self.number is not None:
            raise TypeError(f"a cell in {self.number} is not cast: quantize the float64 one")
        if np.dtype(dtype) == self.dtype:
            return self
        v = self.variant
        P = None if v.peephole is None else _cast(v.peephole, dtype, "peephole")
        Wp = None if v.projection is None else _cast(v.projection, dtype, "projection")
        return Cell(_cast(self.W, dtype, "W"), _cast(self.b, dtype, "b"), self.concat,
                    replace(v, peephole=P, projection=Wp))

    @cached_property
    def _loop(self) -> "LoopWeights":
        from lstmcalc.core.forward import LoopWeights

        return LoopWeights(self)


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
    # the gaps as written (core.precise.written_gaps), when its run computed them for all steps
    exact_gap: np.ndarray | None = None
    # in a ragged batch (core.stacks, lengths): (...) True for a sequence already ended
    padded: np.ndarray | None = None

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.h.shape[:-1]

    def written_gap(self) -> np.ndarray:
        """The saturation gaps as written: correctly rounded for sigmoid and tanh gates."""
        if self.exact_gap is not None:
            return self.exact_gap
        return _written_gaps(self.cell, self.z, lambda: self.a_gap, self.padded)


def _written_gaps(cell: "Cell", z: np.ndarray, a_gap: Callable[[], np.ndarray],
                  padded: np.ndarray | None) -> np.ndarray:
    """The saturation gaps of a Step or a Run as written (core.precise.written_gaps): in a
    narrow format its own 1 - |a| (exact there); where a ragged batch's step did not run, the
    gates are 0, so 1 from their bound. a_gap: asked for only where needed."""
    if cell.number is not None:
        return a_gap()
    from lstmcalc.core.precise import written_gaps

    gaps = written_gaps(cell.variant, z, a_gap)
    if padded is not None:
        gaps[padded] = a_gap()[padded]
    return gaps


def _require_finite(arr: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        raise NonFiniteError(what, index, float(arr[index]))


def _cast(arr: np.ndarray, dtype: DTypeLike, what: str) -> np.ndarray:
    """arr in dtype, refusing a value beyond dtype's range (it would become inf)."""
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)
    bad = ~np.isfinite(out)
    if bad.any():
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        raise DataError(f"{what}{list(index)} = {arr[index]:g} is beyond {np.dtype(dtype)}'s "
                        "range")
    return out


def _vector(value: ArrayLike, size: int, dtype: DTypeLike, what: str,
            letter: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0 or arr.shape[-1] != size:
        got = "a scalar" if arr.ndim == 0 else f"{arr.shape[-1]} entries"
        raise ShapeError(f"{what} has {got}, expected {letter} = {size}")
    _require_finite(arr, what)
    return arr



@dataclass(frozen=True, eq=False)
class Run:
    """Every intermediate of every step of a sequence: arrays of shape (T, ..., k)."""

    cell: Cell
    x: np.ndarray  # (T, ..., m)
    h0: np.ndarray  # (..., n)
    c0: np.ndarray  # (..., n)
    z: np.ndarray  # (T, ..., 4, n)
    a: np.ndarray  # (T, ..., 4, n)
    # the gaps 1 - |value| (see Step), given, or None: then computed from z and C on first use
    # (the standard cell's; what -f json writes is core.precise's, from z)
    a_gap_given: np.ndarray | None
    fc: np.ndarray  # (T, ..., n)
    ig: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    tanh_c_gap_given: np.ndarray | None
    h: np.ndarray
    h_gap_given: np.ndarray | None
    m: np.ndarray | None = None  # (T, ..., n) before a projection, if there is one
    # in a fixed-point format: where each quantity saturated (core.reduced), by its JSON key
    saturated: dict[str, np.ndarray] | None = None
    # in a ragged batch (core.stacks, lengths): (T, ...) True at the steps of a sequence that
    # has ended; there the cell does not run: every intermediate is 0, h and C hold
    padded: np.ndarray | None = None

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @cached_property
    def h_prev(self) -> np.ndarray:
        """(T, ..., r): h_{t-1} of every step, h0 first."""
        return np.concatenate([self.h0[None], self.h[:-1]])

    @cached_property
    def c_prev(self) -> np.ndarray:
        """(T, ..., n): C_{t-1} of every step, c0 first."""
        return np.concatenate([self.c0[None], self.c[:-1]])

    @cached_property
    def a_gap(self) -> np.ndarray:
        """(T, ..., 4, n): 1 - |a| without cancellation (σ(-z) for the sigmoid gates)."""
        if self.a_gap_given is not None:
            return self.a_gap_given
        from lstmcalc.core.activations import sigmoid_complement, tanh_gap

        gap = np.empty_like(self.z)
        for k in SIGMOID_GATES:  # gate by gate: a fancy index on this axis copies slowly
            gap[..., k, :] = sigmoid_complement(self.z[..., k, :])
        gap[..., G, :] = tanh_gap(self.z[..., G, :])
        return gap

    @cached_property
    def tanh_c_gap(self) -> np.ndarray:
        if self.tanh_c_gap_given is not None:
            return self.tanh_c_gap_given
        from lstmcalc.core.activations import tanh_gap

        return tanh_gap(self.c)

    @cached_property
    def h_gap(self) -> np.ndarray:
        if self.h_gap_given is not None:
            return self.h_gap_given
        # 1 - |o tanh C| = (1 - o) + o (1 - |tanh C|), with o >= 0: no cancellation
        return self.a_gap[..., O, :] + self.a[..., O, :] * self.tanh_c_gap

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.h0.shape[:-1]

    def step(self, t: int) -> Step:
        """Step t (0-based) as a Step of views into this run."""
        h_prev = self.h0 if t == 0 else self.h[t - 1]
        c_prev = self.c0 if t == 0 else self.c[t - 1]
        x = self.x[t]
        v = np.concatenate([{"x": x, "h": h_prev}[part] for part in self.cell.concat], axis=-1)
        exact = self.__dict__.get("exact_gaps")  # only if a writer asked for them already
        return Step(self.cell, x, h_prev, c_prev, v, self.z[t], self.a[t], self.a_gap[t],
                    self.fc[t], self.ig[t], self.c[t], self.tanh_c[t], self.tanh_c_gap[t],
                    self.h[t], self.h_gap[t], None if self.m is None else self.m[t],
                    None if exact is None else exact[t],
                    None if self.padded is None else self.padded[t])

    @cached_property
    def exact_gaps(self) -> np.ndarray:
        """Every step's saturation gaps as written (core.precise.written_gaps), computed once
        for the whole run: writers ask for them before they take the steps."""
        return _written_gaps(self.cell, self.z, lambda: self.a_gap, self.padded)



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


