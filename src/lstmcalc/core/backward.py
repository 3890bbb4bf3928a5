"""Backward: backpropagation through time, and the losses whose gradients it starts from."""

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lstmcalc.core.types import F, G, I, O, Grads, Run

def _upstream(run: Run, dh_out: ArrayLike, dc_last: ArrayLike | None
              ) -> tuple[int, int, int, int, np.dtype[Any], tuple[int, ...], np.ndarray,
                         np.ndarray]:
    """The sizes of a run, dL/dh_t from the loss as (T, B, r), and dL/dC_T as (B, n)."""
    cell = run.cell
    T, n, m, dtype = run.T, cell.hidden_size, cell.input_size, cell.dtype
    batch = run.batch_shape
    B = int(np.prod(batch, dtype=int))
    r = cell.state_size
    dh_out = np.broadcast_to(np.asarray(dh_out, dtype), (T, *batch, r)).reshape(T, B, r)
    dc_next = np.zeros((B, n), dtype) if dc_last is None else \
        np.broadcast_to(np.asarray(dc_last, dtype), (*batch, n)).reshape(B, n).copy()
    return T, B, n, m, dtype, batch, dh_out, dc_next


def _slopes(run: Run, T: int, B: int, n: int) -> np.ndarray:
    """Each gate's activation slope at z, every step at once (T, B, 4, n). Sigmoid and tanh
    take theirs from the distances the forward pass kept, exact where the gates saturate:
    σ' = a (1 − a) with 1 − a from a_gap, tanh' = gap (2 − gap); other activations their own
    derivative. A clipped pre-activation passes nothing (the clip is flat there)."""
    v = run.cell.variant
    z = run.z.reshape(T, B, 4, n)
    a, gap = run.a.reshape(T, B, 4, n), run.a_gap.reshape(T, B, 4, n)
    slope = a * gap
    if v.gate.name != "sigmoid":
        for k in (F, I, O):
            slope[:, :, k] = v.gate.derivative(z[:, :, k])
    if v.candidate.name == "tanh":
        slope[:, :, G] = gap[:, :, G] * (2 - gap[:, :, G])
    else:
        slope[:, :, G] = v.candidate.derivative(z[:, :, G])
    if v.clip is not None:  # z as stored is after the clip: at the bound it was cut off
        slope = np.where(np.abs(z) < v.clip, slope, 0.0)
    return slope


def backward(run: Run, dh_out: ArrayLike, dc_last: ArrayLike | None = None) -> Grads:
    """Backpropagation through time. dh_out (T, ..., r): dL/dh_t from the loss at each step;
    dc_last (..., n): dL/dC_T from the loss (zeros when None).

    The standard recurrence, and what a variant's forward pass added to it, in reverse: the
    projection h = W_hr m and its clip, the output peephole's path into C_t, the cell clip (a
    held C_t passes nothing), the coupling f = 1 − i, and the input and forget peepholes'
    paths into C_{t-1}."""
    cell, v = run.cell, run.cell.variant
    r = cell.state_size
    T, B, n, m, dtype, batch, dh_out, dc_next = _upstream(run, dh_out, dc_last)
    a = run.a.reshape(T, B, 4, n)
    c = run.c.reshape(T, B, n)
    tc = run.tanh_c.reshape(T, B, n)
    c_prev_all = np.concatenate([run.c0.reshape(1, B, n), c[:-1]])
    h_prev_all = np.concatenate([run.h0.reshape(1, B, r), run.h.reshape(T, B, r)[:-1]])
    x = run.x.reshape(T, B, m)
    W2 = cell.W.reshape(4 * n, m + r)
    xs, hs = cell.columns("x"), cell.columns("h")

    slope = _slopes(run, T, B, n)
    if v.cell.name == "tanh":  # tanh' = gap (2 − gap), from the gap the forward pass kept
        tc_gap = run.tanh_c_gap.reshape(T, B, n)
        cell_slope = tc_gap * (2 - tc_gap)
    else:
        cell_slope = v.cell.derivative(c)
    c_pass = None if v.cell_clip is None else \
        (np.abs((run.fc + run.ig).reshape(T, B, n)) < v.cell_clip).astype(dtype)
    P, Wp = v.peephole, v.projection
    mm = None if run.m is None else run.m.reshape(T, B, n)  # o ⊙ act(C_t), before Wp
    dP = None if P is None else np.zeros((3, n), dtype)
    dWp = None if Wp is None else np.zeros_like(Wp)

    dz = (np.zeros if v.coupled else np.empty)((T, B, 4, n), dtype)  # a coupled f has no z
    dh_tot = np.empty((T, B, r), dtype)
    dc_tot = np.empty((T, B, n), dtype)
    dx = np.empty((T, B, m), dtype)
    dh_next = np.zeros((B, r), dtype)
    for t in range(T - 1, -1, -1):
        f, i, g, o = a[t, :, F], a[t, :, I], a[t, :, G], a[t, :, O]
        dh = dh_out[t] + dh_next
        dm = dh  # dL/d(o ⊙ act(C_t))
        if Wp is not None:  # h = W_hr m (clipped to ±proj_clip: a held entry passes nothing)
            assert mm is not None and dWp is not None
            held = dh
            if v.proj_clip is not None:
                held = dh * (np.abs(mm[t] @ Wp.T) < v.proj_clip)
            dWp += held.T @ mm[t]
            dm = held @ Wp
        dc = dc_next + dm * o * cell_slope[t]
        dz[t, :, O] = dm * tc[t] * slope[t, :, O]
        if P is not None:
            dc = dc + dz[t, :, O] * P[2]  # o saw p_o C_t
        dh_tot[t], dc_tot[t] = dh, dc
        if c_pass is not None:
            dc = dc * c_pass[t]  # through the cell clip
        df = dc * c_prev_all[t]
        di = dc * g
        if v.coupled:
            di = di - df  # f = 1 − i
        else:
            dz[t, :, F] = df * slope[t, :, F]
        dz[t, :, I] = di * slope[t, :, I]
        dz[t, :, G] = dc * i * slope[t, :, G]
        dc_next = dc * f
        if P is not None:
            assert dP is not None
            dc_next = dc_next + dz[t, :, F] * P[0] + dz[t, :, I] * P[1]
            dP[0] += (dz[t, :, F] * c_prev_all[t]).sum(axis=0)
            dP[1] += (dz[t, :, I] * c_prev_all[t]).sum(axis=0)
            dP[2] += (dz[t, :, O] * c[t]).sum(axis=0)
        dv = dz[t].reshape(B, 4 * n) @ W2  # (B, m + r)
        dx[t] = dv[:, xs]
        dh_next = dv[:, hs]
    dz2 = dz.reshape(T * B, 4 * n)
    parts = {"x": x.reshape(T * B, m), "h": h_prev_all.reshape(T * B, r)}
    vv = np.concatenate([parts[p] for p in cell.concat], axis=1)  # (T B, m + r)
    shape = (T, *batch)
    return Grads((dz2.T @ vv).reshape(4, n, m + r), dz2.sum(axis=0).reshape(4, n),
                 dx.reshape(*shape, m), dh_next.reshape(*batch, r), dc_next.reshape(*batch, n),
                 dz.reshape(*shape, 4, n), dh_tot.reshape(*shape, r), dc_tot.reshape(*shape, n),
                 dP, dWp)


def sum_last(y: np.ndarray) -> tuple[float, np.ndarray]:
    """L = the sum of the last step's entries of y (T, ..., k), PyTorch's output[-1].sum().
    Returns (L, dL/dy)."""
    dy = np.zeros_like(y)
    dy[-1] = 1.0
    return float(y[-1].sum()), dy


def mean_squared(y: np.ndarray, target: ArrayLike) -> tuple[float, np.ndarray]:
    """L = the mean of (y - target)^2 over every entry. Returns (L, dL/dy). target: y's
    shape, or T rows (T, k) that every sequence of a batch (T, ..., k) shares, or anything
    that broadcasts to y."""
    t = np.asarray(target, y.dtype)
    if t.ndim == 2 and y.ndim > 2 and t.shape == (y.shape[0], y.shape[-1]):
        t = t.reshape(y.shape[0], *(1,) * (y.ndim - 2), y.shape[-1])
    diff = y - np.broadcast_to(t, y.shape)
    return float(np.mean(diff ** 2)), 2 * diff / diff.size


def linear(y: np.ndarray, dy: ArrayLike) -> tuple[float, np.ndarray]:
    """L = sum(dy * y), the loss whose gradient is dy. Returns (L, dy)."""
    dy = np.broadcast_to(np.asarray(dy, y.dtype), y.shape)
    return float((dy * y).sum()), dy


Loss = tuple[float, np.ndarray, ArrayLike | None]  # (L, dL/dh per step, dL/dC_T)


def loss_sum(run: Run) -> Loss:
    """L = the sum of h_T's entries. Returns (L, dL/dh per step, dL/dC_T)."""
    return (*sum_last(run.h), None)


def loss_mse(run: Run, target: ArrayLike) -> Loss:
    """L = the mean of (h_t - target_t)^2 over every step and unit (and sequence)."""
    return (*mean_squared(run.h, target), None)


def loss_given(run: Run, dh_out: ArrayLike, dc_last: ArrayLike | None) -> Loss:
    """Upstream gradients given directly: L = sum_t dh_t . h_t + dc . C_T (the linear loss
    whose gradient they are), so that finite differences can check them too."""
    value, dh_out = linear(run.h, dh_out)
    if dc_last is not None:
        value += float((np.asarray(dc_last) * run.c[-1]).sum())
    return value, dh_out, dc_last
