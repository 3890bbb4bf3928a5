"""The founding answer's extras: an output layer, the stochastic reading, the gates' slopes,
and the forget products along the cell state."""

from dataclasses import dataclass

import numpy as np

from lstmcalc.core.activations import sigmoid, sigmoid_derivative, tanh, tanh_derivative
from lstmcalc.core.types import F, G, GATES, I, O, Run, Step, _require_finite
from lstmcalc.errors import ShapeError, Unsupported

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



def forget_products(run: Run) -> np.ndarray:
    """For each t, prod_{k > t} f_k: the factor by which dL/dC_T reaches C_t along the cell
    state alone (1 at t = T). Shape (T, ..., n)."""
    f = run.a[..., F, :]
    out = np.ones_like(f)
    for t in range(run.T - 2, -1, -1):
        out[t] = out[t + 1] * f[t + 1]
    return out



def gate_slopes(result) -> np.ndarray:
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




def derivative_arrays(step) -> dict[str, np.ndarray]:
    """Per gate the slope of its activation at z; dc_dc_prev = f; dh_dc = o (1 - tanh^2 C)."""
    if not step.cell.variant.is_standard:
        raise Unsupported("--derivatives covers the standard cell only, not "
                          + ", ".join(step.cell.variant.describe()))
    out = {}
    for k, gate in enumerate(GATES):
        z = step.z[..., k, :]
        out[gate] = tanh_derivative(z) if gate == "candidate" else sigmoid_derivative(z)
    out["dc_dc_prev"] = step.a[..., F, :]
    out["dh_dc"] = step.a[..., O, :] * tanh_derivative(step.c)
    return out
