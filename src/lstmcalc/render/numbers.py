"""Numbers as a person should read them: short, and honest about what rounding hides."""

import math
import re

_EXP = re.compile(r"e([+-])0*(\d)")


def sci(value: float, digits: int = 2) -> str:
    """Scientific notation with `digits` significant digits and a short exponent: 1.1e-40."""
    return _EXP.sub(lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2),
                    f"{value:.{digits}g}")


def plain(value: float, precision: int) -> str:
    """`precision` decimals with trailing zeros trimmed (92, 0.5744); scientific if huge."""
    if abs(value) >= 1e6:
        mantissa, exponent = f"{value:.{precision}e}".split("e")
        return _trim(mantissa) + _EXP.sub(lambda m: "e" + ("-" if m.group(1) == "-" else "")
                                          + m.group(2), "e" + exponent)
    text = _trim(f"{value:.{precision}f}")
    return "0" if text == "-0" else text


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


TINY = 2.2250738585072014e-308  # below this a float64 is subnormal: it holds fewer digits


def distance(gap: float, log_gap: float | None = None) -> str:
    """A distance to a bound in scientific notation, from its log10 where float64 cannot
    hold it whole."""
    if gap < TINY and log_gap is not None and math.isfinite(log_gap):
        return sci_log(log_gap)
    return sci(gap)


def sci_log(log10_value: float, digits: int = 2) -> str:
    """A positive number given by its log10, in scientific notation: right past float64's
    range (3.7e-348) and with every digit shown, where the number itself would underflow."""
    exponent = math.floor(log10_value)
    mantissa = round(10 ** (log10_value - exponent), digits - 1)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{_trim(f'{mantissa:.{digits - 1}f}')}e{exponent}"


def honest(value: float, precision: int, gap: float | None = None, tight: bool = False,
           log_gap: float | None = None, log_value: float | None = None) -> str:
    """Like plain(), but never lets rounding claim a bound that is not reached.

    gap is 1 - |value| computed without cancellation (the core keeps it): a value that would
    print as 1 or -1 but lies gap short of it prints as `1 − 1.1e-40`. A non-zero value that
    would print as 0 prints in scientific notation instead. log_gap, log_value: their log10,
    computed in log space (core.log10_saturation), for what float64 cannot hold whole: a gap
    or a value below its normal range is shown from them (`1 − 3.7e-348`, `5.1e-435`).
    """
    text = plain(value, precision)
    if gap is not None and text in ("1", "-1"):
        if gap == 0 and (log_gap is None or not math.isfinite(log_gap)):
            return text
        if precision == 0 and gap >= 0.05:
            return text  # at 0 decimals, 0.6351 is 1: a rounding asked for, not a hidden gap
        away = distance(gap, log_gap)
        shown = f"1 − {away}" if text == "1" else f"−1 + {away}"
        return shown.replace(" ", "") if tight else shown
    if text == "0" and abs(value) < TINY and log_value is not None and math.isfinite(log_value):
        return ("-" if value < 0 else "") + sci_log(log_value)
    if value != 0 and text == "0":
        return sci(value)
    return text


def percent(fraction: float, gap: float | None = None, log_gap: float | None = None,
            log_value: float | None = None) -> str:
    """A fraction in [0, 1] as a percentage with one decimal; ≈ where that rounds to a bound
    the fraction does not reach (the activation beside it says by how much)."""
    if gap is not None and (0 < gap < 0.0005 or gap == 0 and log_gap is not None
                            and math.isfinite(log_gap)):
        return "≈100%"
    if 0 < fraction < 0.0005 or fraction == 0 and log_value is not None \
            and math.isfinite(log_value):
        return "≈0%"
    return f"{100 * fraction:.1f}%"
