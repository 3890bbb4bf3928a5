"""What every benchmark that starts lstmcalc in a process shares: run it as an installed
package runs.

pip writes each module's bytecode cache when it installs a package; a machine that sets
PYTHONDONTWRITEBYTECODE (this project's does) would otherwise compile every lstmcalc module
again at every start, a cost no installed lstmcalc pays and the peers (NumPy, json) never pay.
Importing this module turns the setting off for the processes a benchmark starts, and
warm_up() runs a command once, untimed, so that the caches exist before the clock runs.
"""

import os
import subprocess

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def warm_up(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
