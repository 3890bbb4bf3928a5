"""Numerically stable activations, their distances to saturation, and their derivatives.

Every function is element-wise, keeps the input's dtype, and is silent (no overflow or other
RuntimeWarning) for every finite input.
"""

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike


def subnormal_below(dtype: DTypeLike) -> float:
    """Below this z, sigmoid(z) is subnormal in dtype (log of the smallest normal number)."""
    return float(np.log(np.finfo(dtype).tiny))


def sigmoid(z: ArrayLike) -> np.ndarray:
    """1 / (1 + e^-z): within two ulps everywhere, and silent.

    For z below subnormal_below(dtype), e^-z is near or past overflow and the formula would
    give 0 where the true value is a subnormal number: there it is e^z / (1 + e^z) instead.
    Everywhere else this is, bit for bit, the formula the core's fast loop uses.
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        out = 1 / (1 + np.exp(-z))
        low = z < subnormal_below(z.dtype)
        if low.any():
            e = np.exp(np.minimum(z, 0))
            out = np.where(low, e / (1 + e), out)
    return out


def sigmoid_complement(z: ArrayLike) -> np.ndarray:
    """1 - sigmoid(z), computed as sigmoid(-z): no cancellation when sigmoid(z) rounds to 1."""
    return sigmoid(-np.asarray(z))


def tanh(z: ArrayLike) -> np.ndarray:
    return np.tanh(z)


def tanh_gap(z: ArrayLike) -> np.ndarray:
    """1 - |tanh(z)| without cancellation: 1 - tanh(|z|) = 2 sigmoid(-2|z|)."""
    z = np.asarray(z)
    with np.errstate(over="ignore"):
        return 2 * sigmoid(-2 * np.abs(z))


def sigmoid_derivative(z: ArrayLike) -> np.ndarray:
    """sigma'(z) = sigma(z) (1 - sigma(z)), at most 0.25 (at z = 0)."""
    return sigmoid(z) * sigmoid_complement(z)


def tanh_derivative(z: ArrayLike) -> np.ndarray:
    """tanh'(z) = 1 - tanh(z)^2 = (1 - |tanh z|)(1 + |tanh z|), at most 1 (at z = 0)."""
    gap = tanh_gap(z)
    return gap * (2 - gap)


_SELU_ALPHA = 1.6732632423543772848170429916717  # as PyTorch and Keras write them
_SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; math's is exact to 1ulp


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) without overflow (the exact value; PyTorch returns z itself past 20)."""
    return np.logaddexp(0, z)


class Activation:
    """A named activation for the LSTM variants: f(z), its slope f'(z), and 1 - |f(z)|.

    sigmoid and tanh use the exact forms above; hard_sigmoid is max(0, min(1, alpha z + beta))
    (Keras 2: alpha 0.2; TensorFlow 2 and Keras 3: alpha 1/6; both beta 0.5); affine is
    alpha z + beta. The others are Keras's and ONNX's, with their parameters: elu (alpha: z
    if z > 0, else alpha (e^z - 1)), selu, gelu (exact, with erf), silu (z sigma(z)), softplus,
    relu6, leaky_relu (alpha: the slope below 0; Keras 3's default 0.2, ONNX's 0.01), hard_silu
    (z relu6(z + 3) / 6), exponential, hard_tanh (clip to [-1, 1]), mish (z tanh(softplus z)),
    thresholded_relu (alpha: z if z >= alpha, else 0) and scaled_tanh (alpha tanh(beta z))."""

    NAMES = ("sigmoid", "tanh", "relu", "identity", "softsign", "hard_sigmoid_keras",
             "hard_sigmoid_tf2", "hard_sigmoid", "affine", "elu", "selu", "gelu", "silu",
             "softplus", "relu6", "leaky_relu", "hard_silu", "exponential", "hard_tanh", "mish",
             "thresholded_relu", "scaled_tanh")
    PARAMETERS = {"hard_sigmoid_keras": (0.2, 0.5), "hard_sigmoid_tf2": (1 / 6, 0.5),
                  "hard_sigmoid": (0.2, 0.5), "affine": (1.0, 0.0), "elu": (1.0, 0.0),
                  "leaky_relu": (0.2, 0.0), "thresholded_relu": (1.0, 0.0),
                  "scaled_tanh": (1.0, 1.0)}
    # written with their parameters, since those are not fixed by the name
    SHOWN_WITH_PARAMETERS = ("hard_sigmoid", "affine", "elu", "leaky_relu", "thresholded_relu",
                             "scaled_tanh")

    def __init__(self, name: str, alpha: float | None = None,
                 beta: float | None = None) -> None:
        if name not in self.NAMES:
            raise ValueError(f"unknown activation {name!r}; choose from {', '.join(self.NAMES)}")
        a, b = self.PARAMETERS.get(name, (0.0, 0.0))
        self.name = name
        self.alpha = a if alpha is None else float(alpha)
        self.beta = b if beta is None else float(beta)

    def __repr__(self) -> str:
        if self.name in ("hard_sigmoid", "affine", "scaled_tanh"):
            return f"{self.name}({self.alpha:g}, {self.beta:g})"
        if self.name in self.SHOWN_WITH_PARAMETERS:
            return f"{self.name}({self.alpha:g})"
        return self.name

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Activation) and (self.name, self.alpha, self.beta) == (
            other.name, other.alpha, other.beta)

    def __hash__(self) -> int:
        return hash((self.name, self.alpha, self.beta))

    def __call__(self, z: ArrayLike) -> np.ndarray:
        z = np.asarray(z)
        name, alpha, beta = self.name, self.alpha, self.beta
        with np.errstate(over="ignore"):
            if name == "sigmoid":
                return sigmoid(z)
            if name == "tanh":
                return np.tanh(z)
            if name == "relu":
                return np.maximum(z, 0)
            if name == "identity":
                return z.copy()
            if name == "softsign":
                return z / (1 + np.abs(z))
            if name == "affine":
                return alpha * z + beta
            if name == "elu":
                return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))
            if name == "selu":
                return _SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0)))
            if name == "gelu":
                return (0.5 * z * (1 + _erf(z / math.sqrt(2)))).astype(z.dtype)
            if name == "silu":
                return z * sigmoid(z)
            if name == "softplus":
                return _softplus(z)
            if name == "relu6":
                return np.clip(z, 0, 6)
            if name == "leaky_relu":
                return np.where(z > 0, z, alpha * z)
            if name == "hard_silu":
                return z * np.clip(z + 3, 0, 6) / 6
            if name == "exponential":
                return np.exp(z)
            if name == "hard_tanh":
                return np.clip(z, -1, 1)
            if name == "mish":
                return z * np.tanh(_softplus(z))
            if name == "thresholded_relu":
                return np.where(z >= alpha, z, 0).astype(z.dtype)
            if name == "scaled_tanh":
                return alpha * np.tanh(beta * z)
            return np.clip(alpha * z + beta, 0, 1)  # hard sigmoids

    def derivative(self, z: ArrayLike) -> np.ndarray:
        z = np.asarray(z)
        name, alpha, beta = self.name, self.alpha, self.beta
        one = np.ones_like(z)
        with np.errstate(over="ignore"):
            if name == "sigmoid":
                return sigmoid_derivative(z)
            if name == "tanh":
                return tanh_derivative(z)
            if name == "relu":
                return (z > 0).astype(z.dtype)
            if name == "identity":
                return one
            if name == "softsign":
                return 1 / (1 + np.abs(z)) ** 2
            if name == "affine":
                return np.full_like(z, alpha)
            if name == "elu":
                return np.where(z > 0, one, alpha * np.exp(np.minimum(z, 0)))
            if name == "selu":
                return _SELU_SCALE * np.where(z > 0, one, _SELU_ALPHA * np.exp(np.minimum(z, 0)))
            if name == "gelu":
                phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
                return (0.5 * (1 + _erf(z / math.sqrt(2))) + z * phi).astype(z.dtype)
            if name == "silu":
                s = sigmoid(z)
                return s * (1 + z * sigmoid_complement(z))
            if name == "softplus":
                return sigmoid(z)
            if name == "relu6":
                return ((z > 0) & (z < 6)).astype(z.dtype)
            if name == "leaky_relu":
                return np.where(z > 0, one, alpha)
            if name == "hard_silu":
                return np.where(z < -3, 0.0, np.where(z > 3, 1.0, (2 * z + 3) / 6)).astype(
                    z.dtype)
            if name == "exponential":
                return np.exp(z)
            if name == "hard_tanh":
                return ((z > -1) & (z < 1)).astype(z.dtype)
            if name == "mish":
                t = np.tanh(_softplus(z))
                return t + z * (1 - t * t) * sigmoid(z)
            if name == "thresholded_relu":
                return (z >= alpha).astype(z.dtype)
            if name == "scaled_tanh":
                return alpha * beta * tanh_derivative(beta * z)
            inside = (alpha * z + beta > 0) & (alpha * z + beta < 1)
            return np.where(inside, alpha, 0.0).astype(z.dtype)

    @property
    def max_slope(self) -> float:
        """The largest |f'(z)| over all z (inf for exponential): what a unit's slope is
        measured against to call it saturated."""
        fixed = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "identity": 1.0, "softsign": 1.0,
                 "selu": _SELU_SCALE * _SELU_ALPHA, "gelu": 1.1289041451851547,
                 "silu": 1.099839320128867,
                 "softplus": 1.0, "relu6": 1.0, "hard_silu": 1.5, "exponential": math.inf,
                 "hard_tanh": 1.0, "mish": 1.088498161251728, "thresholded_relu": 1.0}
        if self.name in fixed:
            return fixed[self.name]
        if self.name in ("elu", "leaky_relu"):
            return max(1.0, abs(self.alpha))
        if self.name == "scaled_tanh":
            return abs(self.alpha * self.beta)
        return abs(self.alpha) or 1.0  # hard sigmoids, affine

    def gap(self, z: ArrayLike) -> np.ndarray:
        """1 - |f(z)|, exact for sigmoid and tanh."""
        if self.name == "sigmoid":
            return sigmoid_complement(z)
        if self.name == "tanh":
            return tanh_gap(z)
        return 1 - np.abs(self(z))


SIGMOID, TANH = Activation("sigmoid"), Activation("tanh")
