"""The founding answer's extras: an output layer, the stochastic reading, the gates' slopes,
and the forget products along the cell state."""

from dataclasses import dataclass

import numpy as np

from lstmcalc.core.activations import sigmoid, sigmoid_derivative, tanh, tanh_derivative
from lstmcalc.core.types import F, G, GATES, I, O, Run, Step, _require_finite
from lstmcalc.errors import ShapeError

OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "identity", "softmax")


@dataclass(frozen=True, eq=False)
class OutputLayer:
    """y_t = activation(W h_t + b): W (q, n), b (q,)."""

    W: np.ndarray
    b: np.ndarray
    activation: str

    def __post_init__(self) -> None:
        if self.activation not in OUTPUT_ACTIVATIONS:
            raise ShapeError(f"unknown output activation {self.activation!r}")
        if self.W.ndim != 2 or self.b.shape != self.W.shape[:1]:
            raise ShapeError(f"output layer W must be (q, n) and b (q,), got {self.W.shape} "
                             f"and {self.b.shape}")

    def __call__(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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



def forget_products(run: Run) -> np.ndarray:
    """For each t, prod_{k > t} f_k: the factor by which dL/dC_T reaches C_t along the cell
    state alone (1 at t = T). Shape (T, ..., n)."""
    f = run.a[..., F, :]
    out = np.ones_like(f)
    for t in range(run.T - 2, -1, -1):
        out[t] = out[t + 1] * f[t + 1]
    return out



def gate_slopes(result: Step | Run) -> np.ndarray:
    """The slope of each gate's activation at its pre-activation (..., 4, n), for a Step or a
    Run; a coupled forget gate (f = 1 - i) has the input gate's slope, negated."""
    v = result.cell.variant
    z = result.z
    if v.is_standard:
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




def derivative_arrays(step: Step) -> dict[str, np.ndarray]:
    """Per gate the slope of its activation at z (a coupled f: −(the input gate's)); and along
    the cell path dc_dc_prev and dh_dc (see cell_path_slopes). For the standard cell:
    σ'(z), tanh'(z), f, o (1 − tanh² C)."""
    slopes = gate_slopes(step)
    out = {gate: slopes[..., k, :] for k, gate in enumerate(GATES)}
    out.update(cell_path_slopes(step))
    return out


def preactivation_terms(step: Step) -> tuple[np.ndarray, np.ndarray | None]:
    """The parts of each gate's pre-activation, for writing it out: W v + b (..., 4, n), and
    the peephole term (..., 4, n) where the cell has peepholes (p_f ⊙ C_{t-1}, p_i ⊙ C_{t-1},
    0 for g, p_o ⊙ C_t), else None. z is their sum, clipped where the cell clips."""
    cell = step.cell
    n = cell.hidden_size
    with np.errstate(over="ignore", invalid="ignore"):
        linear = (step.v @ cell.W.reshape(4 * n, -1).T).reshape(*step.v.shape[:-1], 4, n)
        linear = linear + cell.b
    P = cell.variant.peephole
    if P is None:
        return linear, None
    peep = np.zeros_like(linear)
    peep[..., F, :] = P[0] * step.c_prev
    peep[..., I, :] = P[1] * step.c_prev
    peep[..., O, :] = P[2] * step.c
    return linear, peep


def cell_path_slopes(step: Step) -> dict[str, np.ndarray]:
    """The local derivatives along the cell path: dc_dc_prev = ∂C_t/∂C_{t-1} through f alone
    (0 where a cell clip holds C_t at its bound), and dh_dc = ∂(o ⊙ act(C_t))/∂C_t, with the
    output peephole's path through o (before a projection)."""
    v = step.cell.variant
    f, o = step.a[..., F, :], step.a[..., O, :]
    through = np.ones_like(step.c)
    if v.cell_clip is not None:
        through = (np.abs(step.fc + step.ig) < v.cell_clip).astype(step.c.dtype)
    dh_dc = o * v.cell.derivative(step.c)
    if v.peephole is not None:
        slope_o = gate_slopes(step)[..., O, :]
        if v.clip is not None:
            slope_o = np.where(np.abs(step.z[..., O, :]) < v.clip, slope_o, 0.0)
        dh_dc = dh_dc + step.tanh_c * slope_o * v.peephole[2]
    return {"dc_dc_prev": f * through, "dh_dc": dh_dc}


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), for every finite x (no overflow, no cancellation)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def log10_saturation(step: Step | Run) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """In log space, right for every finite z (also where float64 underflows):
    log10 of each gate's distance to its bound, 1 − |a| (..., 4, n); of each sigmoid gate's
    value itself, for values near 0 (..., 4, n; the candidate's row is unused); and of
    1 − |tanh C_t| (..., n). None unless the gates are sigmoid and the rest tanh, and None in
    a narrow format (core.reduced), whose values are the format's, not the functions'."""
    v = step.cell.variant
    if step.cell.number is not None:
        return None
    if (v.gate.name, v.candidate.name, v.cell.name) != ("sigmoid", "tanh", "tanh"):
        return None
    ln10 = np.log(10.0)
    z = step.z.astype(np.float64)
    gap = np.empty_like(z)
    value = np.empty_like(z)
    for k in (F, I, O):
        gap[..., k, :] = -_softplus(z[..., k, :]) / ln10  # 1 − σ(z) = σ(−z)
        value[..., k, :] = -_softplus(-z[..., k, :]) / ln10  # σ(z)
    gap[..., G, :] = (np.log(2.0) - _softplus(2 * np.abs(z[..., G, :]))) / ln10
    value[..., G, :] = np.nan
    if v.coupled:  # f = 1 − i: its gap is i, its value 1 − i
        gap[..., F, :], value[..., F, :] = value[..., I, :], gap[..., I, :]
    c = np.abs(step.c.astype(np.float64))
    return gap, value, (np.log(2.0) - _softplus(2 * c)) / ln10
