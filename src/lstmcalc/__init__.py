"""lstmcalc: a command-line LSTM calculator."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ below loads them
    from lstmcalc.api import Gate, Report, grad, load, step, unroll  # noqa: F401

# the Python API (api.py), loaded on first use: `import lstmcalc` and `lstmcalc --help` stay
# light (no NumPy until a function is called)
__all__ = ["__version__", "load", "step", "unroll", "grad", "Report", "Gate"]


def __getattr__(name: str) -> object:
    if name in ("load", "step", "unroll", "grad", "Report", "Gate"):
        from lstmcalc import api

        return getattr(api, name)
    raise AttributeError(f"module 'lstmcalc' has no attribute {name!r}")
