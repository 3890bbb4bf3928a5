"""Reading a big config: `lstmcalc shapes CONFIG -f json` against a script that only parses the
same file into NumPy arrays (json.load, or PyYAML's C loader), each in its own process,
alternately, best of 5. Prints the ratios.

    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/config_load.py [UNITS_JSON] [UNITS_YAML]

Defaults: a 256-unit JSON config (m = n = 256, 524k numbers, about 11 MB) and a 128-unit
YAML one. Beside the whole-process ratio, the parse alone in one process (lstmcalc's
config.load against json.load + np.array of the same file), and the start-up floor (the
same two commands on a one-unit config): what the whole-process ratio is made of.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from installed import warm_up  # bytecode caches as an installed package has them

GATES = ("forget", "input", "candidate", "output")

PEER = {
    "json": "import json, sys, numpy as np\n"
            "d = json.load(open(sys.argv[1]))\n"
            "[np.array(g['W']) for g in d['gates'].values()]; np.array(d['x'])\n",
    "yaml": "import sys, yaml, numpy as np\n"
            "d = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)\n"
            "[np.array(g['W']) for g in d['gates'].values()]; np.array(d['x'])\n",
}


def write(folder: str, units: int, kind: str) -> str:
    rng = np.random.default_rng(0)
    doc = {"x": rng.normal(size=units).tolist(),
           "gates": {g: {"W": rng.normal(size=(units, 2 * units)).tolist(),
                         "b": rng.normal(size=units).tolist()} for g in GATES}}
    path = os.path.join(folder, f"c{units}.{kind}")
    with open(path, "w") as f:
        if kind == "json":
            json.dump(doc, f)
        else:
            import yaml

            yaml.dump(doc, f, Dumper=yaml.CSafeDumper, default_flow_style=None)
    return path


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def compare(path: str, kind: str, runs: int = 5) -> None:
    ours = [sys.executable, "-m", "lstmcalc", "shapes", path, "-f", "json"]
    peer = [sys.executable, "-c", PEER[kind], path]
    times: dict = {"lstmcalc": [], "peer": []}
    warm_up(ours)
    warm_up(peer)
    for _ in range(runs):
        times["lstmcalc"].append(timed(ours))
        times["peer"].append(timed(peer))
    a, b = min(times["lstmcalc"]), min(times["peer"])
    size = os.path.getsize(path) / 1e6
    print(f"{os.path.basename(path)} ({size:.1f} MB): lstmcalc {a:.3f} s, parse-only peer "
          f"{b:.3f} s: ratio {a / b:.2f}")


def in_process(path: str, runs: int = 5) -> None:
    from lstmcalc import config

    def peer():
        with open(path) as f:
            d = json.load(f)
        [np.array(g["W"]) for g in d["gates"].values()]
        np.array(d["x"])

    ours, theirs = [], []
    for _ in range(runs):
        start = time.perf_counter()
        config.load(path, 2**26)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        peer()
        theirs.append(time.perf_counter() - start)
    print(f"  parse alone, in one process: config.load {min(ours):.3f} s, json.load + np.array "
          f"{min(theirs):.3f} s: ratio {min(ours) / min(theirs):.2f}")


def peak_memory(path: str, kind: str) -> None:
    """Peak resident memory of lstmcalc and of the parse-only peer reading the file, against
    the issue's bound: three times the arrays (W, b, x as float64) plus 100 MB."""
    import resource

    def peak(argv: list[str]) -> float:
        script = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                  "stdout=subprocess.DEVNULL); print(resource.getrusage("
                  "resource.RUSAGE_CHILDREN).ru_maxrss)")
        out = subprocess.run([sys.executable, "-c", script, *argv], check=True,
                             capture_output=True, text=True).stdout
        return int(out) / 1024  # KB -> MB on Linux

    del resource
    units = int(os.path.basename(path)[1:].split(".")[0])
    arrays = (4 * units * 2 * units + 5 * units) * 8 / 2**20
    ours = peak([sys.executable, "-m", "lstmcalc", "shapes", path, "-f", "json"])
    theirs = peak([sys.executable, "-c", PEER[kind], path])
    print(f"{os.path.basename(path)} ({os.path.getsize(path) / 2**20:.1f} MiB): peak memory "
          f"lstmcalc {ours:.0f} MB, parse-only peer {theirs:.0f} MB; the bound 3 x "
          f"{arrays:.1f} MB of arrays + 100 MB = {3 * arrays + 100:.0f} MB")


if __name__ == "__main__":
    units_json = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    units_yaml = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    with tempfile.TemporaryDirectory() as folder:
        big = write(folder, units_json, "json")
        compare(big, "json")
        in_process(big)
        compare(write(folder, 1, "json"), "json")
        print("  (the one-unit file: the start-up floor, Typer's and NumPy's imports)")
        compare(write(folder, units_yaml, "yaml"), "yaml")
        capped = write(folder, 290, "yaml")  # 14.2 MiB: near the 16 MiB cap
        compare(capped, "yaml", runs=3)
        peak_memory(capped, "yaml")
