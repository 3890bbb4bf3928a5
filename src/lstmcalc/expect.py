"""Checking hand-worked values against the calculator's.

The user's file holds any subset of a step's JSON keys (a gate's preactivation or activation,
c, h, y, ...) and of `shapes` (x, h_prev, c_prev, concatenated, W_f ... b_o, gates, c, h: each
a list of sizes), as YAML or JSON; `~`/null in a list skips that unit, and `_` is a blank an
answer sheet leaves to fill in (reported as not answered, not as wrong). A hand value agrees when it
matches to the digits the user wrote: 0.57 agrees with 0.5744 (within half a unit of its last
digit, 0.005), 0.58 does not; 92 agrees with anything in [91.5, 92.5]; 1.1e-40 within 0.05e-40.
An explicit tolerance replaces that rule with one absolute bound.
"""

import difflib
import math
import re
from dataclasses import dataclass

from lstmcalc.document import Map, Scalar, Seq, decode, number, parse, read_input
from lstmcalc.errors import DataError

BLANK = "_"  # an answer sheet's blank
_DIGITS = re.compile(r"[-+]?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?")


@dataclass(frozen=True)
class Check:
    key: str  # e.g. gates.forget.activation
    unit: str  # 1-based, e.g. "2" (or "1, 2" in a batch)
    written: str  # the user's text
    written_value: float
    true: float
    tolerance: float
    line: int
    col: int
    answered: bool = True  # False for a blank (`_`) of an answer sheet

    @property
    def agrees(self) -> bool:
        return self.answered and abs(self.written_value - self.true) <= self.tolerance

    @property
    def wrong(self) -> bool:
        return self.answered and not self.agrees


def blanks(checks: list[Check]) -> dict[str, str]:
    """{key: its blank units, "1, 2, 3" ("" for a single value)}: what was not answered, one
    entry per key in the sheet's order."""
    units: dict[str, list[str]] = {}
    for ch in checks:
        if not ch.answered:
            units.setdefault(ch.key, []).append(ch.unit)
    return {key: ", ".join(u for u in where if u) for key, where in units.items()}


def written_tolerance(text: str) -> float:
    """Half a unit in the last digit written: '0.57' -> 0.005, '92' -> 0.5, '1.1e-40' -> 5e-42."""
    m = _DIGITS.fullmatch(text.strip())
    if not m:
        return 0.0
    decimals = len(m.group(2) or "")
    exponent = int(m.group(3) or 0)
    # a relative hair above, so that a value written exactly on the boundary still agrees;
    # past float64's range the unit is 0 (below) or every value agrees (above)
    power = min(max(exponent - decimals, -400), 400)
    return 0.5 * 10.0 ** power * (1 + 1e-9) if power < 309 else math.inf


def check(path: str, result: dict, tolerance: float | None, max_bytes: int) -> list[Check]:
    """Every value in the user's file against `result` (a step object, lists of numbers)."""
    from lstmcalc.config import looks_like_json

    source, data = read_input(path, max_bytes)
    text = decode(data, source)
    root = parse(text, source, json=looks_like_json(source, text))
    if not isinstance(root, Map):
        raise DataError(f"expected a mapping of a step's keys (h, c, gates, ...), found "
                        f"{root.kind}", source, root.line, root.col)
    checks: list[Check] = []
    _walk(root, result, "", source, tolerance, checks, ())
    if not checks:
        raise DataError("no values to check", source, root.line, root.col)
    return checks


def _walk(node, truth, key: str, source: str, tolerance, out: list, unit: tuple):
    if isinstance(node, Map):
        if not isinstance(truth, dict):
            raise DataError(f"{key} holds numbers, not keys", source, node.line, node.col)
        for name, (key_node, value) in node.items.items():
            if name not in truth:
                near = difflib.get_close_matches(name, list(truth), n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                where = f" in {key}" if key else ""
                raise DataError(f"unknown key '{name}'{where}{hint}; a step has: "
                                f"{', '.join(truth)}", source, key_node.line, key_node.col)
            _walk(value, truth[name], f"{key}.{name}" if key else name, source, tolerance, out,
                  unit)
    elif isinstance(node, Seq):
        if isinstance(truth, dict):
            raise DataError(f"{key} holds keys ({', '.join(truth)}), not a list", source,
                            node.line, node.col)
        if not isinstance(truth, list):
            raise DataError(f"{key} is a single value, not a list", source, node.line, node.col)
        if len(node.items) != len(truth):
            raise DataError(f"{key} has {len(node.items)} values, lstmcalc has {len(truth)}",
                            source, node.line, node.col)
        for j, (item, true) in enumerate(zip(node.items, truth), start=1):
            if isinstance(item, Scalar) and item.tag.endswith(":null"):
                continue  # ~ skips this unit
            _walk(item, true, key, source, tolerance, out, unit + (j,))
    else:
        if isinstance(truth, (list, dict)):
            raise DataError(f"{key} is a list: write one value per unit", source, node.line,
                            node.col)
        if isinstance(truth, str) or isinstance(truth, bool):
            raise DataError(f"{key} is not a number to check", source, node.line, node.col)
        what = key + (f"[{', '.join(map(str, unit))}]" if unit else "")
        if isinstance(node, Scalar) and node.text == BLANK and not node.quoted:
            out.append(Check(key, ", ".join(map(str, unit)), BLANK, math.nan, float(truth),
                             0.0, node.line, node.col, answered=False))
            return
        value = number(node, what, source)
        tol = written_tolerance(node.text) if tolerance is None else tolerance
        out.append(Check(key, ", ".join(map(str, unit)), node.text, value, float(truth), tol,
                         node.line, node.col))
