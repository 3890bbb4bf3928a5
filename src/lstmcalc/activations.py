"""Numerically stable activations, their distances to saturation, and their derivatives.

Every function is element-wise, keeps the input's dtype, and is silent (no overflow or other
RuntimeWarning) for every finite input.
"""

import numpy as np


def sigmoid(z):
    """1 / (1 + e^-z), evaluated so that exp only ever sees a non-positive argument."""
    z = np.asarray(z)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


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
