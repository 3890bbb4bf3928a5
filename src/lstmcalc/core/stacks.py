"""Stacks: layers of cells, each run forward, in reverse, or both."""

from dataclasses import dataclass

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lstmcalc.core.backward import backward
from lstmcalc.core.forward import unroll
from lstmcalc.core.types import Cell, Grads, Run
from lstmcalc.errors import DataError, ShapeError


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
    lengths: np.ndarray | None = None  # (B,): a ragged batch, each sequence's own length

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
                 c0: Sequence[ArrayLike] | np.ndarray | None = None,
                 lengths: ArrayLike | None = None) -> StackRun:
    """Run xs (T, ..., m) through layers of cells (cells[k][d] for direction d of layer k:
    directions is one tuple for every layer, or a tuple per layer). h0, c0: one (..., n)
    entry per layer and direction, in PyTorch's h_0 order, or None for zeros.

    lengths (B,) for xs of shape (T, B, m): a ragged batch, as ONNX's sequence_lens and
    PyTorch's packed sequences run it: sequence b is its first lengths[b] steps; a reverse
    direction starts at its own last step; a layer's output is 0 past each length, and each
    run's final state is its sequence's last step (0 for a length of 0)."""
    xs = np.asarray(xs)
    if lengths is not None:
        lengths = checked_lengths(lengths, xs.shape)
    runs, outputs = [], []
    layer_input = xs
    j = 0
    for layer, dirs in zip(cells, per_layer(directions, len(cells))):
        per, outs = [], []
        for cell, direction in zip(layer, dirs):
            h = None if h0 is None else h0[j]
            c = None if c0 is None else c0[j]
            j += 1
            if lengths is not None:
                run, out = _ragged(cell, layer_input, h, c, lengths, direction == "reverse")
                per.append(run)
                outs.append(out)
                continue
            seq = layer_input[::-1] if direction == "reverse" else layer_input
            run = unroll(cell, seq, h, c)
            per.append(run)
            outs.append(run.h[::-1] if direction == "reverse" else run.h)
        runs.append(per)
        layer_input = np.concatenate(outs, axis=-1)
        outputs.append(layer_input)
    return StackRun(runs, tuple(directions), outputs, lengths)


def checked_lengths(lengths: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """lengths as an int array (B,) for inputs of shape (T, B, m), or a clear refusal."""
    given = np.asarray(lengths, dtype=np.float64)
    if len(shape) != 3:
        raise ShapeError(f"sequence lengths need a batch of inputs (T, B, m), got shape "
                         f"{shape}")
    T, B = shape[:2]
    if given.shape != (B,):
        raise ShapeError(f"{given.size} sequence lengths for a batch of {B}")
    if not (np.isfinite(given).all() and (given == np.round(given)).all()):
        raise DataError(f"sequence lengths must be whole numbers, got {given.tolist()}")
    if given.min() < 0 or given.max() > T:
        raise DataError(f"sequence lengths must lie in 0..{T} (the steps given), got "
                        f"{[int(v) for v in given]}")
    return given.astype(np.int64)


def _ragged(cell: Cell, xs: np.ndarray, h0: Any, c0: Any, lengths: np.ndarray,
            reverse: bool) -> tuple[Run, np.ndarray]:
    """One direction over a ragged batch: (its Run in the direction's own time order, as
    stack_unroll keeps every run, and its output in input order, 0 past each length).

    Each sequence runs its own steps from the first (forward: x_1..x_L; reverse: x_L..x_1).
    In the Run, a reverse direction's steps are placed so that the last one of every sequence
    is the Run's last (reversed, the Run is in input order, as for a full batch); where a
    sequence has no step the cell does not run: every intermediate is 0, h and C hold (the
    state before its first step, after its last; 0 for a length of 0), and `padded` says so."""
    T, B = xs.shape[:2]
    steps = np.arange(T)[:, None]
    own = lengths[None, :] - 1 - steps if reverse else np.broadcast_to(steps, (T, B))
    valid = (own >= 0) & (own < lengths[None, :])  # (T, B), own step k for input step t
    seq = np.where(valid[..., None], xs[np.clip(own, 0, T - 1), np.arange(B)], 0.0)
    run = unroll(cell, seq, h0, c0)  # own order: sequence b's step k at index k
    # where the Run shows own step k: k (forward), or k + T - length (reverse)
    shift = (T - lengths)[None, :] if reverse else np.zeros((1, B), np.int64)
    k = steps - shift  # (T, B): the own step shown at index s
    shown = (k >= 0) & (k < lengths[None, :])
    kk = np.clip(k, 0, T - 1)
    b = np.arange(B)

    def placed(arr: np.ndarray, held: Any = 0.0) -> np.ndarray:
        """arr's own steps where they are shown, `held` where no step runs."""
        where = shown.reshape(T, B, *(1,) * (arr.ndim - 2))
        return np.where(where, arr[kk, b], held).astype(arr.dtype)

    last = np.clip(lengths - 1, 0, T - 1)
    h_end = np.where((lengths > 0)[:, None], run.h[last, b], 0.0)
    c_end = np.where((lengths > 0)[:, None], run.c[last, b], 0.0)
    h_start = np.where((lengths > 0)[:, None], np.broadcast_to(run.h0, h_end.shape), 0.0)
    c_start = np.where((lengths > 0)[:, None], np.broadcast_to(run.c0, c_end.shape), 0.0)
    before = (k < 0)[..., None]  # a reverse sequence's slots before its first step
    h_held = np.where(before, h_start[None], h_end[None])
    c_held = np.where(before, c_start[None], c_end[None])
    h = placed(run.h, h_held)
    # the gaps 1 - |value| as the run computed them (without cancellation) where it ran; where
    # it did not, the gates and tanh C are 0 (1 from their bound) and h holds
    shown_run = Run(run.cell, placed(run.x), run.h0, run.c0, placed(run.z), placed(run.a),
                    placed(run.a_gap, 1.0), placed(run.fc), placed(run.ig),
                    placed(run.c, c_held), placed(run.tanh_c), placed(run.tanh_c_gap, 1.0), h,
                    placed(run.h_gap, 1 - np.abs(h)),
                    None if run.m is None else placed(run.m), padded=~shown)
    output = np.where(valid[..., None], h[::-1] if reverse else h, 0.0).astype(h.dtype)
    return shown_run, output




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
