"""Numerically stable activations, their distances to saturation, and their derivatives.

Every function is element-wise, keeps the input's dtype, and is silent (no overflow or other
RuntimeWarning) for every finite input.
"""

import numpy as np


def subnormal_below(dtype) -> float:
    """Below this z, sigmoid(z) is subnormal in dtype (log of the smallest normal number)."""
    return float(np.log(np.finfo(dtype).tiny))


def sigmoid(z):
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


def sigmoid_complement(z):
    """1 - sigmoid(z), computed as sigmoid(-z): no cancellation when sigmoid(z) rounds to 1."""
    return sigmoid(-np.asarray(z))


def tanh(z):
    return np.tanh(z)


def tanh_gap(z):
    """1 - |tanh(z)| without cancellation: 1 - tanh(|z|) = 2 sigmoid(-2|z|)."""
    z = np.asarray(z)
    with np.errstate(over="ignore"):
        return 2 * sigmoid(-2 * np.abs(z))


def sigmoid_derivative(z):
    """sigma'(z) = sigma(z) (1 - sigma(z)), at most 0.25 (at z = 0)."""
    return sigmoid(z) * sigmoid_complement(z)


def tanh_derivative(z):
    """tanh'(z) = 1 - tanh(z)^2 = (1 - |tanh z|)(1 + |tanh z|), at most 1 (at z = 0)."""
    gap = tanh_gap(z)
    return gap * (2 - gap)
