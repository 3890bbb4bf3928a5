"""The progress display's cost: a 100,000-step stream (`unroll -i rows.csv -f jsonl`) with stderr
on a terminal (a pseudo-terminal here, so the display is drawn) against the same with --quiet,
alternately, best of 3.

    python benchmarks/progress.py
"""

import os
import pathlib
import pty
import subprocess
import sys
import tempfile
import time

import numpy as np

CONFIG = str(pathlib.Path(__file__).resolve().parent.parent / "configs" / "founding.yaml")


def timed(rows: str, quiet: bool) -> float:
    leader, follower = pty.openpty()
    argv = [sys.executable, "-m", "lstmcalc", "unroll", CONFIG, "-i", rows, "-f", "jsonl"]
    start = time.perf_counter()
    p = subprocess.Popen(argv + (["--quiet"] if quiet else []), stdout=subprocess.DEVNULL,
                         stderr=follower)
    os.close(follower)
    drawn = b""
    while True:  # drain the terminal, as a terminal would
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    p.wait()
    os.close(leader)
    elapsed = time.perf_counter() - start
    assert (b"steps" in drawn) != quiet, drawn[-200:]
    return elapsed


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        rows = os.path.join(folder, "rows.csv")
        np.savetxt(rows, np.random.default_rng(0).random((100_000, 3)), delimiter=",")
        shown, quiet = [], []
        for _ in range(3):
            shown.append(timed(rows, False))
            quiet.append(timed(rows, True))
        print(f"100,000 steps: progress drawn {min(shown):.2f} s, --quiet {min(quiet):.2f} s: "
              f"ratio {min(shown) / min(quiet):.3f}")
