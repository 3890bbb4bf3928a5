"""How often lstmcalc's float16 and bfloat16 differ from PyTorch's nn.LSTMCell in that dtype,
and why: free-running sequences (each side carries its own state) at small and real sizes.

    python benchmarks/narrow_agreement.py      # needs torch and ml_dtypes

lstmcalc sums each dot product exactly and rounds once; PyTorch sums in float32 in its BLAS's
order. Where the exact sum lies within float32 summation error of a rounding tie of the format,
the two can round apart by one unit in the last place, and a recurrence carries that on.
docs/hardware.md quotes this script's output.
"""

import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
from helpers import cell_from_torch  # noqa: E402

from lstmcalc.core import formats, reduced, unroll  # noqa: E402

SIZES = {"small (m, n <= 8)": (1, 9), "real (m, n 16..127)": (16, 128)}
SEQUENCES, T = 20, 12

for name in ("float16", "bfloat16"):
    fmt, tdt = formats.parse(name), getattr(torch, name)
    for label, (lo, hi) in SIZES.items():
        rng = np.random.default_rng(0)
        differ = total = parted = 0
        for seed in range(SEQUENCES):
            m, n, B = int(rng.integers(lo, hi)), int(rng.integers(lo, hi)), int(rng.integers(1, 4))
            torch.manual_seed(seed)
            tc = torch.nn.LSTMCell(m, n, dtype=torch.float64)
            xs = torch.randn(T, B, m, dtype=torch.float64)
            h = torch.randn(B, n, dtype=torch.float64) * 0.5
            c = torch.randn(B, n, dtype=torch.float64)
            p = {k: v.detach().numpy() for k, v in tc.named_parameters()}
            cell = cell_from_torch(p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
            bias_hh = p["bias_hh"].reshape(4, n)[[1, 0, 2, 3]]
            run = unroll(reduced.quantize_cell(fmt, cell, bias_hh), xs.numpy(), h.numpy(),
                         c.numpy())
            low, hh, cc = tc.to(tdt), h.to(tdt), c.to(tdt)
            hs = []
            with torch.no_grad():
                for t in range(T):
                    hh, cc = low(xs[t].to(tdt), (hh, cc))
                    hs.append(hh.double().numpy())
            d = int((np.array(hs) != run.h).sum())
            differ, total, parted = differ + d, total + run.h.size, parted + (d > 0)
        print(f"{name:9} {label:20} h values differing from torch: {differ:,} of {total:,} "
              f"({differ / total:.2%}); sequences with any: {parted} of {SEQUENCES} ({T} steps)")
