"""Numbers as a person should read them: short, and honest about what rounding hides."""

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


def honest(value: float, precision: int, gap: float | None = None, tight: bool = False) -> str:
    """Like plain(), but never lets rounding claim a bound that is not reached.

    gap is 1 - |value| computed without cancellation (the core keeps it): a value that would
    print as 1 or -1 but lies gap short of it prints as `1 − 1.1e-40`. A non-zero value that
    would print as 0 prints in scientific notation instead.
    """
    text = plain(value, precision)
    if gap is not None and gap > 0 and text in ("1", "-1"):
        shown = f"1 − {sci(gap)}" if text == "1" else f"−1 + {sci(gap)}"
        return shown.replace(" ", "") if tight else shown
    if value != 0 and text == "0":
        return sci(value)
    return text


def percent(fraction: float, gap: float | None = None) -> str:
    """A fraction in [0, 1] as a percentage with one decimal; ≈ where that rounds to a bound
    the fraction does not reach (the activation beside it says by how much)."""
    if gap is not None and 0 < gap < 0.0005:
        return "≈100%"
    if 0 < fraction < 0.0005:
        return "≈0%"
    return f"{100 * fraction:.1f}%"
