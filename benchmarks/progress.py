"""The progress display's cost: a 100,000-step stream (`unroll -i rows.csv -f jsonl`) with stderr
on a terminal (a pseudo-terminal here, so the display is drawn) against the same with --quiet,
alternately, best of 3.

    python benchmarks/progress.py
"""

import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import stderr_on_a_terminal  # noqa: E402 - found through the line above

CONFIG = str(ROOT / "configs" / "founding.yaml")


def timed(rows: str, quiet: bool) -> float:
    argv = [sys.executable, "-m", "lstmcalc", "unroll", CONFIG, "-i", rows, "-f", "jsonl"]
    start = time.perf_counter()
    drawn, _ = stderr_on_a_terminal(argv + (["--quiet"] if quiet else []))
    elapsed = time.perf_counter() - start
    assert (b"steps" in drawn) != quiet, drawn[-200:]
    return elapsed


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        rows = str(pathlib.Path(folder) / "rows.csv")
        np.savetxt(rows, np.random.default_rng(0).random((100_000, 3)), delimiter=",")
        shown, quiet = [], []
        for _ in range(3):
            shown.append(timed(rows, False))
            quiet.append(timed(rows, True))
        print(f"100,000 steps: progress drawn {min(shown):.2f} s, --quiet {min(quiet):.2f} s: "
              f"ratio {min(shown) / min(quiet):.3f}")
