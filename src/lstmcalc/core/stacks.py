"""Stacks: layers of cells, each run forward, in reverse, or both."""

from dataclasses import dataclass

import numpy as np

from lstmcalc.core.forward import unroll

@dataclass(frozen=True, eq=False)
class StackRun:
    """Layers of cells, each run forward, backward or both over the layer below's output.

    runs[k][d] is the Run of layer k in direction directions[d]; a reverse Run is in its own
    (reversed) time order, and `output` puts it back in input order: output[k] is layer k's
    h_t for every t in input order, the directions side by side (T, ..., D n)."""

    runs: list
    directions: tuple
    output: list

    @property
    def final_h(self) -> np.ndarray:
        """(L D, ..., n): every layer's and direction's last h, in PyTorch's h_n order."""
        return np.stack([run.h[-1] for layer in self.runs for run in layer])

    @property
    def final_c(self) -> np.ndarray:
        return np.stack([run.c[-1] for layer in self.runs for run in layer])


def stack_unroll(cells: list, directions: tuple, xs, h0=None, c0=None) -> StackRun:
    """Run xs (T, ..., m) through layers of cells (cells[k][d] for direction directions[d]).
    h0, c0: (L D, ..., n) as PyTorch orders them, or None for zeros."""
    xs = np.asarray(xs)
    runs, outputs = [], []
    layer_input = xs
    for k, layer in enumerate(cells):
        per, outs = [], []
        for d, (cell, direction) in enumerate(zip(layer, directions)):
            j = k * len(directions) + d
            h = None if h0 is None else np.asarray(h0)[j]
            c = None if c0 is None else np.asarray(c0)[j]
            seq = layer_input[::-1] if direction == "reverse" else layer_input
            run = unroll(cell, seq, h, c)
            per.append(run)
            outs.append(run.h[::-1] if direction == "reverse" else run.h)
        runs.append(per)
        layer_input = np.concatenate(outs, axis=-1)
        outputs.append(layer_input)
    return StackRun(runs, tuple(directions), outputs)


