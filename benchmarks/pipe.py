"""Streaming: `unroll -i - -f jsonl` with the rows piped in (`cat rows | lstmcalc ...`) against
the same rows read from the file, alternately, best of 3; then a long stream's time and peak
memory. Prints the ratio and the numbers.

    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/pipe.py [ROWS] [LONG_ROWS]

Defaults: 100,000 rows of the founding cell's 3 inputs, and 1,000,000 for the long stream
(CSV in, JSONL out, as the README's example).
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from installed import warm_up  # bytecode caches as an installed package has them

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "configs" / "founding.yaml")
LSTMCALC = f"{sys.executable} -m lstmcalc"


def rows_file(folder: str, count: int) -> str:
    path = os.path.join(folder, f"rows{count}.csv")
    rng = np.random.default_rng(0)
    np.savetxt(path, rng.random((count, 3)), delimiter=",", fmt="%.17g")
    return path


def timed(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", "-c", command], check=True)
    return time.perf_counter() - start


def main(count: int, long_count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = rows_file(folder, count)
        piped = f"cat {rows} | {LSTMCALC} unroll {CONFIG} -i - -f jsonl > /dev/null"
        from_file = f"{LSTMCALC} unroll {CONFIG} -i {rows} -f jsonl > /dev/null"
        warm_up(["bash", "-c", from_file])
        times: dict = {"pipe": [], "file": []}
        for _ in range(3):
            times["pipe"].append(timed(piped))
            times["file"].append(timed(from_file))
        a, b = min(times["pipe"]), min(times["file"])
        print(f"{count:,} JSONL steps: piped {a:.2f} s, from the file {b:.2f} s: ratio "
              f"{a / b:.2f}")
        long_rows = rows_file(folder, long_count)
        report = os.path.join(folder, "time.txt")
        command = (f"/usr/bin/time -f '%e %M' -o {report} {LSTMCALC} unroll {CONFIG} "
                   f"-i {long_rows} -f jsonl > /dev/null")
        subprocess.run(["bash", "-c", command], check=True)
        seconds, kilobytes = open(report).read().split()[-2:]
        print(f"{long_count:,} steps, CSV in, JSONL out: {float(seconds):.1f} s, peak "
              f"{int(kilobytes) / 1024:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
