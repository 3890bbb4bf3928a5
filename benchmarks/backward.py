"""The cost of a backward pass relative to the forward pass that it follows.

    python benchmarks/backward.py

Forward: cell.unroll() (every intermediate kept, as backward needs); backward: cell.backward()
for L = sum(h_T). Same process, best of 5 each, float64.
"""

import time

import numpy as np

from lstmcalc.core import Cell, backward, loss_sum, unroll

SIZES = [(3, 3, 1, 1000), (64, 128, 1, 1000), (128, 256, 32, 200), (512, 512, 64, 100)]


def best(f, repeats=5):
    f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    print(f"{'m':>4} {'n':>4} {'B':>3} {'T':>5}  {'forward ms':>10} {'backward ms':>11} "
          f"{'ratio':>6}")
    for m, n, B, T in SIZES:
        rng = np.random.default_rng(0)
        s = 1 / np.sqrt(n)
        cell = Cell(rng.uniform(-s, s, (4, n, m + n)), rng.uniform(-s, s, (4, n)))
        x = rng.normal(size=(T, B, m))
        run = unroll(cell, x)
        _, dh, dc = loss_sum(run)
        t_f = best(lambda: unroll(cell, x))
        t_b = best(lambda: backward(run, dh, dc))
        print(f"{m:>4} {n:>4} {B:>3} {T:>5}  {t_f * 1e3:>10.2f} {t_b * 1e3:>11.2f} "
              f"{t_b / t_f:>6.2f}")


if __name__ == "__main__":
    main()
