"""How closely lstmcalc agrees with PyTorch: forward through nn.LSTM, and gradients against
autograd, on 60 random float64 cases.

    python benchmarks/agreement.py      # needs torch
"""

import pathlib
import sys

import numpy as np

TESTS = pathlib.Path(__file__).parent.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "fixtures")]

from helpers import cell_from_torch  # noqa: E402
from make_torch_fixtures import grad_case, sequence_case  # noqa: E402

from lstmcalc.core import backward, loss_mse, loss_sum, unroll  # noqa: E402

wf = wb = 0.0
for seed in range(60):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 24)), int(rng.integers(1, 24))
    B, T = int(rng.integers(1, 5)), int(rng.integers(1, 60))
    c = sequence_case(9000 + seed, m, n, B, T)
    cell = cell_from_torch(c['weight_ih'], c['weight_hh'], c['bias_ih'], c['bias_hh'])
    run = unroll(cell, c['x'], c['h0'], c['c0'])
    wf = max(wf, np.abs(run.h - np.array(c['output'])).max())
    g = grad_case(9500 + seed, m, n, B, min(T, 30), 'mse' if seed % 2 else 'sum')
    cell = cell_from_torch(g['weight_ih'], g['weight_hh'], g['bias_ih'], g['bias_hh'])
    run = unroll(cell, g['x'], g['h0'], g['c0'])
    _, dh, dc = loss_sum(run) if g['loss'] == 'sum' else loss_mse(run, g['target'])
    gr = backward(run, dh, dc)
    order = [1, 0, 2, 3]
    dW = np.concatenate([g['d_weight_ih'], g['d_weight_hh']], 1).reshape(4, n, m + n)[order]
    dx = np.array(g['dx'])
    wb = max(wb, np.abs(gr.dW - dW).max() / np.abs(dW).max(),
             np.abs(gr.dx - dx).max() / np.abs(dx).max())
print(f"60 random nn.LSTM cases, float64: max |h diff| = {wf:.2e}; max gradient diff vs "
      f"autograd (relative to the largest) = {wb:.2e}")
