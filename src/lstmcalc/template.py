"""The commented config that `lstmcalc init` writes: zeros to fill in, or seeded random values."""

import numpy as np

from lstmcalc.core import GATES

GATE_NOTES = {
    "forget": "f_t = sigmoid(W_f v + b_f): near 1 keeps C_{t-1}, near 0 forgets it",
    "input": "i_t = sigmoid(W_i v + b_i): how much of the candidate enters C_t",
    "candidate": "g_t = tanh(W_c v + b_c): the new content for C_t, in (-1, 1)",
    "output": "o_t = sigmoid(W_o v + b_o): how much of tanh(C_t) becomes h_t",
}


def _num(v: float) -> str:
    # always with a decimal point and no exponent, so that YAML 1.1 reads a float
    text = f"{v:.4f}"
    return "0.0" if text in ("0.0000", "-0.0000") else text.rstrip("0").rstrip(".") + (
        "" if "." in text.rstrip("0").rstrip(".") else ".0")


def _vec(values) -> str:
    return "[" + ", ".join(_num(float(v)) for v in values) + "]"


def config_text(m: int, n: int, rng: "np.random.Generator | None" = None) -> str:
    """A commented config for m inputs and n hidden units; random values when rng is given."""
    if rng is None:
        def draw(*shape, scale=1.0):
            return np.zeros(shape)
    else:
        def draw(*shape, scale=1.0):
            return rng.uniform(-scale, scale, shape)
    k = 1 / np.sqrt(n)  # PyTorch's nn.LSTM initialisation range
    lines = [
        f"# lstmcalc config: one LSTM cell with m = {m} inputs and n = {n} hidden units.",
        f"# Every W is n x (m + n) = {n} x {m + n}: one row per hidden unit, one column per "
        "entry of",
        f"# v = [x_t, h_{{t-1}}] (x_t's {m} entries first, then h_{{t-1}}'s {n}).",
        "# Numbers must be plain: write 1.0e-3, not 1e-3 (YAML 1.1 reads 1e-3 as text).",
        "" if rng is None else "# Random values: weights and biases uniform in ±1/sqrt(n), "
                               "as PyTorch initialises nn.LSTM.",
        f"x: {_vec(draw(m, scale=1.0))}    # x_t, m = {m} entries",
        f"h: {_vec(draw(n, scale=0.5))}    # h_{{t-1}}, n = {n} entries (zeros when left out)",
        f"c: {_vec(draw(n, scale=0.5))}    # C_{{t-1}}, n = {n} entries (zeros when left out)",
        "concat: [x, h]    # the order inside W . [x_t, h_{t-1}]",
        "gates:",
    ]
    for gate in GATES:
        W = draw(n, m + n, scale=k)
        rows = (",\n" + " " * 8).join(_vec(row) for row in W)
        lines += [f"  {gate}:    # {GATE_NOTES[gate]}",
                  f"    W: [{rows}]",
                  f"    b: {_vec(draw(n, scale=k))}"]
    seq = draw(5, m, scale=1.0)
    lines += [
        "sequence:    # x_1 .. x_T for lstmcalc unroll",
        *[f"  - {_vec(row)}" for row in seq],
        "# output_layer: {W: [[...]], b: [...], activation: sigmoid}    # y_t = act(W_y h_t + "
        "b_y), W_y q x n",
    ]
    return "\n".join(line for line in lines if line != "") + "\n"
