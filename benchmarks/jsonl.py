"""JSONL writing speed: lstmcalc's step lines against orjson serialising the same arrays.

    python benchmarks/jsonl.py              # needs orjson (benchmarks/requirements.txt)

Both write the same step objects of one unroll (every gate's pre-activation, activation and
saturation gap, c, h, ...) for T steps; the rate is numbers written per second. orjson gets the
NumPy arrays directly (OPT_SERIALIZE_NUMPY), its fastest path. Measured in the same process,
alternating, best of several repeats.
"""

import time

import numpy as np
import orjson

from lstmcalc.core import Cell, unroll
from lstmcalc.render.machine import run_jsonl

REPEATS = 5


def orjson_lines(run):
    out = []
    for t in range(run.T):
        s = run.step(t)
        gates = {g: {"preactivation": s.z[k], "activation": s.a[k], "saturation_gap": s.a_gap[k]}
                 for k, g in enumerate(("forget", "input", "candidate", "output"))}
        obj = {"t": t + 1, "input_size": run.cell.input_size,
               "hidden_size": run.cell.hidden_size, "concat": ["x", "h"], "dtype": "float64",
               "x": s.x, "h_prev": s.h_prev, "c_prev": s.c_prev, "concatenated": s.v,
               "gates": gates, "forget_times_c_prev": s.fc, "input_times_candidate": s.ig,
               "c": s.c, "tanh_c": s.tanh_c, "h": s.h}
        out.append(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return out


def ours(run):
    return list(run_jsonl(run))


def best(f, run):
    f(run)
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        f(run)
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    print(f"{'m':>4} {'n':>4} {'T':>6}  {'numbers':>9}  {'orjson M/s':>10} {'lstmcalc M/s':>12} "
          f"{'ratio':>6}")
    for m, n, T in [(3, 3, 5000), (16, 64, 2000), (64, 256, 500)]:
        rng = np.random.default_rng(0)
        cell = Cell(rng.normal(0, 0.3, (4, n, m + n)), rng.normal(0, 0.3, (4, n)))
        run = unroll(cell, rng.normal(size=(T, m)))
        per_step = 2 * m + 2 * n + 12 * n + 4 * n + 2  # x, v, h_prev, c_prev, gates, fc..h
        numbers = per_step * T
        # check both wrote the same numbers
        assert [orjson.loads(a) for a in orjson_lines(run)[:3]][0]["h"] == \
            orjson.loads(ours(run)[0])["h"]
        t_or, t_us = best(orjson_lines, run), best(ours, run)
        print(f"{m:>4} {n:>4} {T:>6}  {numbers:>9}  {numbers / t_or / 1e6:>10.2f} "
              f"{numbers / t_us / 1e6:>12.2f} {t_us / t_or:>6.2f}")
    print("ratio = lstmcalc time / orjson time for the same lines (1.5 or below is the goal)")


if __name__ == "__main__":
    main()
