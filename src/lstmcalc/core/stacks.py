"""Stacks: layers of cells, each run forward, in reverse, or both."""

from dataclasses import dataclass

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lstmcalc.core.backward import backward
from lstmcalc.core.forward import unroll
from lstmcalc.core.types import Cell, Grads, Run


@dataclass(frozen=True, eq=False)
class StackRun:
    """Layers of cells, each run forward, backward or both over the layer below's output.

    runs[k][d] is the Run of layer k in direction layer_directions[k][d]; a reverse Run is in
    its own (reversed) time order, and `output` puts it back in input order: output[k] is
    layer k's h_t for every t in input order, the directions side by side (T, ..., D n).
    directions: as given, one tuple for every layer or a tuple per layer (a mixed stack)."""

    runs: list[list[Run]]
    directions: tuple[Any, ...]
    output: list[np.ndarray]

    @property
    def layer_directions(self) -> tuple[tuple[str, ...], ...]:
        return per_layer(self.directions, len(self.runs))

    @property
    def final_h(self) -> np.ndarray | list[np.ndarray]:
        """(L D, ..., n): every layer's and direction's last h, in PyTorch's h_n order (a list
        where the layers differ in size)."""
        return _stacked([run.h[-1] for layer in self.runs for run in layer])

    @property
    def final_c(self) -> np.ndarray | list[np.ndarray]:
        return _stacked([run.c[-1] for layer in self.runs for run in layer])


def _stacked(arrays: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    return np.stack(arrays) if len({a.shape for a in arrays}) == 1 else arrays


def per_layer(directions: tuple[Any, ...], layers: int) -> tuple[tuple[str, ...], ...]:
    """Each layer's directions, from one tuple for all layers or a tuple per layer."""
    if all(isinstance(d, str) for d in directions):
        return (tuple(directions),) * layers
    return tuple(tuple(d) for d in directions)


def stack_unroll(cells: Sequence[Sequence[Cell]], directions: tuple[Any, ...], xs: ArrayLike,
                 h0: Sequence[ArrayLike] | np.ndarray | None = None,
                 c0: Sequence[ArrayLike] | np.ndarray | None = None) -> StackRun:
    """Run xs (T, ..., m) through layers of cells (cells[k][d] for direction d of layer k:
    directions is one tuple for every layer, or a tuple per layer). h0, c0: one (..., n)
    entry per layer and direction, in PyTorch's h_0 order, or None for zeros."""
    xs = np.asarray(xs)
    runs, outputs = [], []
    layer_input = xs
    j = 0
    for layer, dirs in zip(cells, per_layer(directions, len(cells))):
        per, outs = [], []
        for cell, direction in zip(layer, dirs):
            h = None if h0 is None else h0[j]
            c = None if c0 is None else c0[j]
            seq = layer_input[::-1] if direction == "reverse" else layer_input
            run = unroll(cell, seq, h, c)
            j += 1
            per.append(run)
            outs.append(run.h[::-1] if direction == "reverse" else run.h)
        runs.append(per)
        layer_input = np.concatenate(outs, axis=-1)
        outputs.append(layer_input)
    return StackRun(runs, tuple(directions), outputs)




@dataclass(frozen=True, eq=False)
class StackGrads:
    """dL/d of everything in a stack. grads[k][d] is the Grads of layer k, direction d, in that
    run's own time order (dW, db, and, with a variant, dP and dWp, are the layer's); dx is
    dL/d of the input sequence (T, ..., m) in input order; dh0, dc0 are (L D, ..., n) in
    PyTorch's h_0, c_0 order."""

    grads: list[list[Grads]]
    dx: np.ndarray
    dh0: np.ndarray | list[np.ndarray]  # a list where the layers differ in size
    dc0: np.ndarray | list[np.ndarray]


def stack_backward(sr: StackRun, d_output: ArrayLike) -> StackGrads:
    """Backpropagation through the layers and directions: d_output (T, ..., D n) is dL/d of
    the top layer's output (in input order, the directions side by side, as sr.output[-1]).
    Each layer's runs get their slice of the gradient in their own time order; what they send
    to their input is summed over the directions and passed to the layer below."""
    upstream = np.asarray(d_output)
    grads_per_layer: list[list[Grads]] = []
    for k in range(len(sr.runs) - 1, -1, -1):
        layer, below = sr.runs[k], None
        per = []
        start = 0
        for run, direction in zip(layer, sr.layer_directions[k]):
            r = run.cell.state_size
            dh = upstream[..., start:start + r]
            start += r
            if direction == "reverse":
                dh = dh[::-1]
            g = backward(run, dh)
            per.append(g)
            dx = g.dx[::-1] if direction == "reverse" else g.dx
            below = dx if below is None else below + dx
        grads_per_layer.append(per)
        assert below is not None  # every layer has a direction
        upstream = below
    grads_per_layer.reverse()
    flat = [g for per in grads_per_layer for g in per]
    return StackGrads(grads_per_layer, upstream, _stacked([g.dh0 for g in flat]),
                      _stacked([g.dc0 for g in flat]))
