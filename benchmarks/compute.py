"""Compute speed: lstmcalc's unroll against PyTorch's nn.LSTM on the CPU, same weights, same run.

    python benchmarks/compute.py            # needs torch (benchmarks/requirements.txt)

Each measurement runs in its own process (NumPy's and torch's thread pools never share one),
one after the other, alternating, and the best of several repeats is kept. Reported:
lstmcalc / torch time ratios for outputs() (what nn.LSTM computes: every h and the final C) and
for unroll() (every intermediate kept), in float64 and float32, and the batched sizes'
throughput as a fraction of this machine's NumPy matrix-product peak, measured in the same run;
then two bounds for any NumPy implementation, as ratios to torch: the BLAS floor (the
products alone) and what a hand-tuned NumPy loop reaches, and lstmcalc's time over the latter.

On processors where this workplace sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (to protect old
OpenBLAS builds), the NumPy worker runs with both unset and says which kernel it ran.
"""

import json
import os
import subprocess
import sys
import time

SIZES = [(3, 3, 1, 1000), (64, 128, 1, 1000), (128, 256, 32, 200), (512, 512, 64, 100)]
REPEATS = 7


def weights(m, n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    s = 1 / np.sqrt(n)
    return (rng.uniform(-s, s, (4 * n, m)), rng.uniform(-s, s, (4 * n, n)),
            rng.uniform(-s, s, 4 * n), rng.uniform(-s, s, 4 * n))


def best_of(f, repeats=REPEATS):
    f()  # warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def worker_numpy(m, n, B, T, dtype):
    import numpy as np

    from lstmcalc.core import Cell, outputs, unroll

    w_ih, w_hh, b_ih, b_hh = weights(m, n)
    order = [1, 0, 2, 3]  # PyTorch i, f, g, o -> f, i, g, o
    W = np.concatenate([w_ih, w_hh], axis=1).reshape(4, n, m + n)[order]
    b = (b_ih + b_hh).reshape(4, n)[order]
    cell = Cell(W, b).astype(dtype)
    x = np.random.default_rng(1).normal(size=(T, B, m)).astype(dtype)
    result = {"outputs": best_of(lambda: outputs(cell, x)),
              "unroll": best_of(lambda: unroll(cell, x))}
    try:
        import threadpoolctl

        result["blas"] = [f"{d['internal_api']} {d.get('architecture')} x{d['num_threads']}"
                          for d in threadpoolctl.threadpool_info()]
    except ImportError:
        result["blas"] = ["(threadpoolctl not installed)"]
    return result


def worker_floor(m, n, B, T, dtype):
    """What NumPy's BLAS alone needs for the same work: the input projection as one product
    and T recurrent products, nothing else (no activation, no state): no NumPy loop is faster.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(T * B, m)).astype(dtype)
    WxT = rng.normal(size=(m, 4 * n)).astype(dtype)
    WhT = rng.normal(size=(n, 4 * n)).astype(dtype)
    h = rng.normal(size=(B, n)).astype(dtype)
    out = np.empty((B, 4 * n), dtype)

    def products():
        X @ WxT
        for _ in range(T):
            np.matmul(h, WhT, out=out)
    return {"floor": best_of(products)}


def worker_reachable(m, n, B, T, dtype):
    """A hand-tuned NumPy LSTM, the fastest one this file's authors could write: what any
    NumPy implementation of the same forward pass can reach, so the honest target where the
    BLAS floor alone is out of reach. The input projection in one product; per step one
    recurrent product into a buffer and eleven in-place ufunc calls on gates laid out f, i, o,
    g with the sigmoid rows negated (one exp, add and divide for all three sigmoids, none
    spent on the candidate), no checks, no intermediate kept."""
    import numpy as np

    rng = np.random.default_rng(0)
    s = 1 / np.sqrt(n)
    X = rng.normal(size=(T * B, m)).astype(dtype)
    WxT = rng.uniform(-s, s, (m, 4 * n)).astype(dtype)
    WhT = rng.uniform(-s, s, (n, 4 * n)).astype(dtype)
    b = rng.uniform(-s, s, 4 * n).astype(dtype)

    def forward():
        zin = X @ WxT
        zin += b
        zin = zin.reshape(T, B, 4 * n)
        h, c = np.zeros((B, n), dtype), np.zeros((B, n), dtype)
        z, a = np.empty((B, 4 * n), dtype), np.empty((B, 4 * n), dtype)
        ig, tc = np.empty((B, n), dtype), np.empty((B, n), dtype)
        zs, as_, zg = z[:, :3 * n], a[:, :3 * n], z[:, 3 * n:]
        f, i, o, g = (a[:, k * n:(k + 1) * n] for k in range(4))
        for t in range(T):
            np.matmul(h, WhT, out=z)
            np.add(z, zin[t], out=z)
            np.exp(zs, out=as_)
            np.add(as_, 1, out=as_)
            np.divide(1, as_, out=as_)
            np.tanh(zg, out=g)
            np.multiply(f, c, out=c)
            np.multiply(i, g, out=ig)
            np.add(c, ig, out=c)
            np.tanh(c, out=tc)
            np.multiply(o, tc, out=h)
        return h, c

    with np.errstate(over="ignore"):
        return {"reachable": best_of(forward)}


def worker_peak(dtype):
    """NumPy's matrix-product peak here: GFLOP/s of a large square product."""
    import numpy as np

    k = 2048
    a = np.random.default_rng(0).normal(size=(k, k)).astype(dtype)
    t = best_of(lambda: a @ a, repeats=3)
    return {"gflops": 2 * k**3 / t / 1e9}


def worker_torch(m, n, B, T, dtype):
    import numpy as np
    import torch

    dt = torch.float64 if dtype == "float64" else torch.float32
    lstm = torch.nn.LSTM(m, n, dtype=dt)
    with torch.no_grad():
        for p, w in zip((lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0),
                        weights(m, n)):
            p.copy_(torch.from_numpy(w))
        x = torch.from_numpy(np.random.default_rng(1).normal(size=(T, B, m))).to(dt)
        return {"outputs": best_of(lambda: lstm(x)), "threads": torch.get_num_threads()}


def spawn(kind, *args):
    env = dict(os.environ)
    if kind in ("numpy", "peak", "floor", "reachable"):
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    out = subprocess.run([sys.executable, __file__, "--worker", kind, *map(str, args)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def main():
    print(f"{'dtype':8} {'m':>4} {'n':>4} {'B':>3} {'T':>5}  {'torch ms':>9} {'outputs ms':>10} "
          f"{'ratio':>6} {'unroll ms':>9} {'ratio':>6}  {'of peak':>7}  {'BLAS floor':>10}  "
          f"{'reachable':>9}  {'/ reachable':>11}")
    blas = None
    for dtype in ("float64", "float32"):
        peak = spawn("peak", dtype)["gflops"]
        for m, n, B, T in SIZES:
            ours = spawn("numpy", m, n, B, T, dtype)
            theirs = spawn("torch", m, n, B, T, dtype)
            floor = spawn("floor", m, n, B, T, dtype)["floor"]
            reachable = spawn("reachable", m, n, B, T, dtype)["reachable"]
            blas = ours["blas"]
            flops = 2 * T * B * (m + n) * 4 * n
            frac = flops / ours["outputs"] / 1e9 / peak
            print(f"{dtype:8} {m:>4} {n:>4} {B:>3} {T:>5}  {theirs['outputs'] * 1e3:>9.2f} "
                  f"{ours['outputs'] * 1e3:>10.2f} {ours['outputs'] / theirs['outputs']:>6.2f} "
                  f"{ours['unroll'] * 1e3:>9.2f} {ours['unroll'] / theirs['outputs']:>6.2f}  "
                  + (f"{frac:>7.0%}" if B > 1 else f"{'':>7}")
                  + f"  {floor / theirs['outputs']:>10.2f}  "
                  f"{reachable / theirs['outputs']:>9.2f}  {ours['outputs'] / reachable:>11.2f}")
        print(f"{'':8} NumPy {dtype} matrix-product peak here: {peak:.1f} GFLOP/s")
    print(f"NumPy BLAS: {', '.join(blas)}; ratio = lstmcalc time / torch time (below 1: faster)")
    print("BLAS floor: NumPy's products alone (the projection in one, T recurrent ones) / torch "
          "time: no NumPy implementation of the same work goes below it")
    print("reachable: a hand-tuned NumPy loop (worker_reachable) / torch time; / reachable: "
          "lstmcalc's outputs() time / that loop's")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, args = sys.argv[2], sys.argv[3:]
        if kind == "peak":
            result = worker_peak(args[0])
        else:
            m, n, B, T = map(int, args[:4])
            worker = {"numpy": worker_numpy, "torch": worker_torch, "floor": worker_floor,
                      "reachable": worker_reachable}[kind]
            result = worker(m, n, B, T, args[4])
        print(json.dumps(result))
    else:
        main()
