"""The command line: a thin Typer app over the core. app.py holds what the commands share; each
command lives in its own module, which registers itself on the app when imported here."""

from lstmcalc.cli import (exercise, gradients, hardware, porting, sequence, step,  # noqa: F401 - registers commands
                          weights)
from lstmcalc.cli.app import app, main

# --help lists the commands in the order a newcomer meets them
_ORDER = ("step", "unroll", "grad", "shapes", "inspect", "compare", "vectors", "exercise", "init",
          "convert")
app.registered_commands.sort(
    key=lambda command: _ORDER.index(getattr(command.callback, "__name__", "")))

__all__ = ["app", "main"]
