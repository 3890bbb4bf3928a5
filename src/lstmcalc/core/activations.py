"""Numerically stable activations, their distances to saturation, and their derivatives.

Every function is element-wise, keeps the input's dtype, and is silent (no overflow or other
RuntimeWarning) for every finite input.
"""

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


class Activation:
    """A named activation for the LSTM variants: f(z), its slope f'(z), and 1 - |f(z)|.

    sigmoid and tanh use the exact forms above; hard_sigmoid is max(0, min(1, alpha z + beta))
    (Keras: alpha 0.2; TensorFlow 2: alpha 1/6; both beta 0.5); affine is alpha z + beta."""

    NAMES = ("sigmoid", "tanh", "relu", "identity", "softsign", "hard_sigmoid_keras",
             "hard_sigmoid_tf2", "hard_sigmoid", "affine")

    def __init__(self, name: str, alpha: float | None = None,
                 beta: float | None = None) -> None:
        presets = {"hard_sigmoid_keras": (0.2, 0.5), "hard_sigmoid_tf2": (1 / 6, 0.5),
                   "hard_sigmoid": (0.2, 0.5), "affine": (1.0, 0.0)}
        if name not in self.NAMES:
            raise ValueError(f"unknown activation {name!r}; choose from {', '.join(self.NAMES)}")
        a, b = presets.get(name, (0.0, 0.0))
        self.name = name
        self.alpha = a if alpha is None else float(alpha)
        self.beta = b if beta is None else float(beta)

    def __repr__(self) -> str:
        if self.name in ("hard_sigmoid", "affine"):
            return f"{self.name}({self.alpha:g}, {self.beta:g})"
        return self.name

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Activation) and (self.name, self.alpha, self.beta) == (
            other.name, other.alpha, other.beta)

    def __hash__(self) -> int:
        return hash((self.name, self.alpha, self.beta))

    def __call__(self, z: ArrayLike) -> np.ndarray:
        z = np.asarray(z)
        if self.name == "sigmoid":
            return sigmoid(z)
        if self.name == "tanh":
            return np.tanh(z)
        if self.name == "relu":
            return np.maximum(z, 0)
        if self.name == "identity":
            return z.copy()
        if self.name == "softsign":
            return z / (1 + np.abs(z))
        if self.name == "affine":
            return self.alpha * z + self.beta
        return np.clip(self.alpha * z + self.beta, 0, 1)  # hard sigmoids

    def derivative(self, z: ArrayLike) -> np.ndarray:
        z = np.asarray(z)
        if self.name == "sigmoid":
            return sigmoid_derivative(z)
        if self.name == "tanh":
            return tanh_derivative(z)
        if self.name == "relu":
            return (z > 0).astype(z.dtype)
        if self.name == "identity":
            return np.ones_like(z)
        if self.name == "softsign":
            return 1 / (1 + np.abs(z)) ** 2
        if self.name == "affine":
            return np.full_like(z, self.alpha)
        inside = (self.alpha * z + self.beta > 0) & (self.alpha * z + self.beta < 1)
        return np.where(inside, self.alpha, 0.0).astype(z.dtype)

    def gap(self, z: ArrayLike) -> np.ndarray:
        """1 - |f(z)|, exact for sigmoid and tanh."""
        if self.name == "sigmoid":
            return sigmoid_complement(z)
        if self.name == "tanh":
            return tanh_gap(z)
        return 1 - np.abs(self(z))


SIGMOID, TANH = Activation("sigmoid"), Activation("tanh")
