"""A narrow format's section of a table: what the format is, how far each quantity is from the
float64 result of the same cell, where values saturated, and (--hex) the words themselves."""

import numpy as np
from rich import box
from rich.console import Group, RenderableType
from rich.text import Text

from lstmcalc.core import GATES
from lstmcalc.core.formats import Fixed, NumberFormat
from lstmcalc.records import PER_CELL, PER_GATE, precision_dict
from lstmcalc.render.fit import FitTable

LABEL = {"preactivation": "z", "activation": "a", "forget_times_c_prev": "f⊙C_{t-1}",
         "input_times_candidate": "i⊙g", "c": "C_t", "tanh_c": "tanh(C_t)", "h": "h_t"}


def describe(fmt: NumberFormat | None, name: str) -> str:
    if isinstance(fmt, Fixed):
        return (f"{name}: signed fixed point, {fmt.bits} bits ({fmt.integer} integer bits with "
                f"the sign, {fmt.fraction} fraction bits), values k/2^{fmt.fraction} from "
                f"{fmt.lowest / fmt.scale:g} to {fmt.highest / fmt.scale:g}, steps of "
                f"{1 / fmt.scale:g}; round half to even, saturating")
    if fmt is not None:
        return f"{name}: IEEE-style {fmt.bits}-bit floating point, rounded as PyTorch does"
    return f"{name}: IEEE binary32"


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.2e}"


def precision_view(precision, fmt: NumberFormat | None) -> RenderableType:
    """The section: a row per quantity (each gate's z and a, then the cell's)."""
    data = precision_dict(precision)
    sat = data.get("saturated")
    headers = ["quantity", "max |error|"]
    if precision.full:
        headers += ["mean |error|", "max in LSB"]
    if sat is not None:
        headers += ["saturated", "units"]
    table = FitTable(*headers, keys=1, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in table.columns[1:]:
        column.justify = "right"

    def row(label: str, err: dict, where: dict | None) -> None:
        cells = [label, _e(err["max_abs"])]
        if precision.full:
            cells += [_e(err["mean_abs"]), f"{err['max_lsb']:.2f}"]
        if sat is not None:
            assert where is not None
            cells += [str(where["count"]), ",".join(map(str, where["units"])) or "-"]
        table.add_row(*cells)

    for gate in GATES:
        for key in PER_GATE:
            row(f"{gate} {LABEL[key]}", data["error"]["gates"][gate][key],
                None if sat is None else sat["gates"][gate][key])
    for key in PER_CELL:
        row(LABEL[key], data["error"][key], None if sat is None else sat[key])
    parts: list[RenderableType] = [
        Text(), Text("Number format", style="bold"), Text(describe(fmt, precision.name)),
        Text("Error: against float64 arithmetic of the same cell on the same inputs"
             + (" (every step and sequence)" if precision.errors["h"].ndim > 2 else "") + ".",
             style="dim"), table]
    if sat is not None:
        loaded = ", ".join(f"{sat[key]['count']} of {key}" for key in ("W", "b", "x", "h_prev",
                                                                        "c_prev"))
        parts.append(Text(f"Saturated on load: {loaded}.", style="dim"))
    return Group(*parts)


def hex_view(fmt: NumberFormat, signals: list[tuple[str, np.ndarray]]) -> RenderableType:
    """Each signal's words (two's complement codes, or IEEE bit patterns) in hex, unit 1
    first: one row per signal (records.signals)."""
    table = FitTable("signal", "words (hex, unit 1 first)", keys=1, box=box.SIMPLE_HEAD,
                     pad_edge=False, show_edge=False)
    table.columns[1].no_wrap = False
    table.columns[1].overflow = "fold"
    for name, values in signals:  # forget_z shown as forget z, c as C_t, ...
        shown = LABEL.get(name) or (name.replace("_", " ") if name.endswith(("_z", "_a"))
                                    else name)
        table.add_row(shown, fmt.hex_words(values))
    return Group(Text(), Text(f"Words in {fmt} ({fmt.bits} bits)", style="bold"), table)
