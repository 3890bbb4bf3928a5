"""Start-up time: `lstmcalc step CONFIG` against the floor of its own stack, timed alternately.

    python benchmarks/startup.py [RUNS]

Pairs, each timed alternately in one run (median of RUNS, default 40):
  lstmcalc step configs/founding.yaml --format json   vs  floor_json.py (Typer + PyYAML + json)
  lstmcalc step configs/founding.yaml --format table  vs  floor_table.py (Typer + PyYAML + Rich)
and, beside them, `python -c "import numpy"` and a bare `python -c pass`.
"""

import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).parent
CONFIG = str(HERE.parent / "configs" / "founding.yaml")
PY = sys.executable
COMMANDS = {
    "lstmcalc json": [PY, "-m", "lstmcalc", "step", CONFIG, "--format", "json"],
    "floor json": [PY, str(HERE / "floor_json.py"), CONFIG, "--format", "json"],
    "lstmcalc table": [PY, "-m", "lstmcalc", "step", CONFIG, "--format", "table"],
    "floor table": [PY, str(HERE / "floor_table.py"), CONFIG, "--format", "table"],
    "import numpy": [PY, "-c", "import numpy"],
    "python": [PY, "-c", "pass"],
}


def main(runs: int):
    # Bytecode caching on, as for an installed package (where PYTHONDONTWRITEBYTECODE is set,
    # every start would compile every module again, a cost a bigger program pays more of);
    # one untimed run of each command writes the caches.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in COMMANDS.values():
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
    times = {name: [] for name in COMMANDS}
    for _ in range(runs):  # alternate, so drifts in machine load hit every command alike
        for name, cmd in COMMANDS.items():
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
            times[name].append(time.perf_counter() - t)
    med = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    for name, ms in med.items():
        print(f"{name:15} {ms:7.1f} ms")
    print(f"lstmcalc json / floor json   = {med['lstmcalc json'] / med['floor json']:.2f}")
    print(f"lstmcalc table / floor table = {med['lstmcalc table'] / med['floor table']:.2f}")
    print(f"import numpy alone           = {med['import numpy'] - med['python']:.1f} ms "
          "over a bare interpreter")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
