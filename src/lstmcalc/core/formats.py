"""Number formats narrower than NumPy's float32/float64: float16, bfloat16 and fixed point qI.F.

A value of any of these formats is exactly a float64, so the reduced-precision recurrence
(core.reduced) keeps its arrays in float64 holding only the format's values, and every report
and writer reads them as it reads any run. A format says how a float64 is rounded into it
(`quantize`, which also says where a value saturated) and what its bit pattern is (`codes`).

    float16    IEEE binary16 (NumPy's own)
    bfloat16   the top 16 bits of a float32 (ml_dtypes, the lstmcalc[bfloat16] extra)
    qI.F       signed two's complement, I integer bits including the sign, F fraction bits:
               a value is k / 2^F for an integer code k in [-2^(I+F-1), 2^(I+F-1) - 1]
"""

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmcalc.core.types import NUMPY_FLOATS
from lstmcalc.errors import MissingExtra, UsageError

SEMANTICS_VERSION = 1  # the rounding points of docs/hardware.md; written into manifest.json


@dataclass(frozen=True)
class NumberFormat:
    """A format narrower than float32. name: as --dtype spells it; bits: the word size."""

    name: str
    bits: int

    @property
    def hex_digits(self) -> int:
        return math.ceil(self.bits / 4)

    def hex_words(self, values: np.ndarray) -> str:
        """The format's values (float64, any shape) as their words in hex, ceil(bits / 4)
        digits each, separated by spaces (what Verilog's $readmemh reads on a line)."""
        return " ".join(f"{int(w):0{self.hex_digits}x}" for w in self.codes(values).ravel())

    def quantize(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float64 values -> (the format's nearest values as float64, where each saturated)."""
        raise NotImplementedError

    def codes(self, values: np.ndarray) -> np.ndarray:
        """The format's values (float64) -> their words as unsigned integers of `bits` bits:
        a fixed-point code in two's complement, or an IEEE bit pattern."""
        raise NotImplementedError

    def lsb(self, values: np.ndarray) -> np.ndarray:
        """The spacing of the format at each value (one unit in the last place)."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Floating(NumberFormat):
    """float16 or bfloat16: round to nearest even; past the largest value, inf (refused)."""

    def numpy_type(self) -> Any:
        if self.name == "float16":
            return np.float16
        try:
            import ml_dtypes
        except ImportError:
            raise MissingExtra("--dtype bfloat16", "ml_dtypes", "bfloat16") from None
        return ml_dtypes.bfloat16

    def round32(self, values: np.ndarray) -> np.ndarray:
        """float32 values -> the format's nearest (one rounding), as float64."""
        with np.errstate(over="ignore"):
            return np.asarray(values, np.float32).astype(self.numpy_type()).astype(np.float64)

    def quantize(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # through float32, as PyTorch converts a float64 tensor (c10::Half and c10::BFloat16
        # are built from a float)
        with np.errstate(over="ignore"):
            out = self.round32(np.asarray(values, np.float64).astype(np.float32))
        return out, ~np.isfinite(out)

    def codes(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values).astype(np.float32).astype(self.numpy_type()) \
            .view(np.uint16).astype(np.int64)

    def lsb(self, values: np.ndarray) -> np.ndarray:
        t = self.numpy_type()
        v = np.abs(np.asarray(values)).astype(t)
        return (np.nextafter(v, np.array(np.inf, t)).astype(np.float64)
                - v.astype(np.float64))


@dataclass(frozen=True)
class Fixed(NumberFormat):
    """qI.F: codes k in [-2^(I+F-1), 2^(I+F-1) - 1], values k / 2^F."""

    integer: int
    fraction: int

    @property
    def lowest(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def highest(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def scale(self) -> float:
        return float(2 ** self.fraction)

    def quantize(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, saturated = self.quantize_codes(values)
        return k / self.scale, saturated

    def quantize_codes(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Round half to even of v * 2^F (exact: a power of two), then saturate."""
        k = np.rint(np.asarray(values, np.float64) * self.scale)
        saturated = (k < self.lowest) | (k > self.highest)
        return np.clip(k, self.lowest, self.highest).astype(np.int64), saturated

    def signed_codes(self, values: np.ndarray) -> np.ndarray:
        """The format's values (float64) -> their codes k (int64): values * 2^F, exact."""
        return np.rint(np.asarray(values, np.float64) * self.scale).astype(np.int64)

    def codes(self, values: np.ndarray) -> np.ndarray:
        return self.signed_codes(values) & ((1 << self.bits) - 1)

    def lsb(self, values: np.ndarray) -> np.ndarray:
        return np.full(np.shape(values), 1 / self.scale)


_FIXED = re.compile(r"[qQ](\d+)\.(\d+)")


def parse(name: str) -> NumberFormat | None:
    """--dtype's value: None for a NumPy float (float64, float32), else the format."""
    if name in NUMPY_FLOATS:
        return None
    if name in ("float16", "bfloat16"):
        return Floating(name, 16)
    match = _FIXED.fullmatch(name.strip())
    if match:
        integer, fraction = int(match.group(1)), int(match.group(2))
        if integer < 1 or integer + fraction > 32:
            raise UsageError(f"--dtype {name}: a fixed-point format qI.F needs I >= 1 (the sign "
                             f"bit counts) and I + F <= 32")
        return Fixed(f"q{integer}.{fraction}", integer + fraction, integer, fraction)
    raise UsageError(f"--dtype {name!r} is not a number format: float64, float32, float16, "
                     "bfloat16 or fixed point qI.F (e.g. q4.12, q8.8, q1.15)")
