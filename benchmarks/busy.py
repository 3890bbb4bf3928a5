"""A long unroll on a quiet and on a busy machine: `lstmcalc unroll --final` (m = 64, n = 128,
float64, 20,000 steps) against a tuned NumPy loop (the projection in one product, then per
step one product and in-place ufuncs), each in its own process, alternately, best of 5; then
the same while two CPU-bound processes share the cores (a busy laptop). The NumPy loop runs
twice: with OpenBLAS's own threads, and on one (OPENBLAS_NUM_THREADS=1), which is what
lstmcalc does for steps this small (core/threads.py, with lstmcalc[fast]).

    python benchmarks/busy.py
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from installed import warm_up  # bytecode caches as an installed package has them

M, N, T = 64, 128, 20_000
REPEATS = 5

PEER = """
import sys, numpy as np, json
d = json.load(open(sys.argv[1])); xs = np.load(sys.argv[2])
W = np.stack([np.array(d["gates"][g]["W"]) for g in ("forget", "input", "candidate", "output")])
b = np.stack([np.array(d["gates"][g]["b"]) for g in ("forget", "input", "candidate", "output")])
m = xs.shape[1]; n = W.shape[1]
WxT = W[:, :, :m].reshape(4 * n, m).T.copy(); WhT = W[:, :, m:].reshape(4 * n, n).T.copy()
z_in = xs @ WxT + b.reshape(-1)
h = np.zeros(n); c = np.zeros(n); z = np.empty(4 * n); a = np.empty(4 * n)
for t in range(xs.shape[0]):
    np.matmul(h, WhT, out=z); z += z_in[t]
    np.exp(-z[:3 * n], out=a[:3 * n]); a[:3 * n] += 1; np.divide(1, a[:3 * n], out=a[:3 * n])
    np.tanh(z[3 * n:], out=a[3 * n:])
    c = a[:n] * c + a[n:2 * n] * a[3 * n:]
    h = a[2 * n:3 * n] * np.tanh(c)
print(h[0])
"""


def timed(argv, env) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def measure(config: str, xs: str, label: str) -> None:
    env = dict(os.environ)
    one = {**env, "OPENBLAS_NUM_THREADS": "1"}
    runs = {"lstmcalc": ([sys.executable, "-m", "lstmcalc", "unroll", config, "-i", xs,
                          "--final", "-f", "json"], env),
            "numpy": ([sys.executable, "-c", PEER, config, xs], env),
            "numpy, one thread": ([sys.executable, "-c", PEER, config, xs], one)}
    warm_up(runs["lstmcalc"][0])
    times: dict = {name: [] for name in runs}
    for _ in range(REPEATS):  # alternately: a drift of the machine hits every command alike
        for name, args in runs.items():
            times[name].append(timed(*args))
    best = {name: min(values) for name, values in times.items()}
    ours = best["lstmcalc"]
    print(f"{label}: lstmcalc {ours:.2f} s; NumPy loop {best['numpy']:.2f} s (ratio "
          f"{ours / best['numpy']:.2f}), on one thread {best['numpy, one thread']:.2f} s "
          f"(ratio {ours / best['numpy, one thread']:.2f})")


if __name__ == "__main__":
    import json

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        config, xs = os.path.join(folder, "c.json"), os.path.join(folder, "x.npy")
        gates = ("forget", "input", "candidate", "output")
        with open(config, "w") as f:
            json.dump({"gates": {g: {"W": (rng.normal(size=(N, M + N)) * 0.1).tolist(),
                                     "b": (rng.normal(size=N) * 0.1).tolist()}
                                 for g in gates}}, f)
        np.save(xs, rng.normal(size=(T, M)))
        measure(config, xs, "quiet")
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                   for _ in range(2)]
        try:
            time.sleep(1)
            measure(config, xs, "two CPU-bound processes running")
        finally:
            for p in burners:
                p.kill()
