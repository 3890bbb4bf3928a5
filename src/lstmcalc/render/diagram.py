"""The classic LSTM cell drawing, with this step's numbers on it.

The cell-state line runs across the top through the × (forget) and + (input) nodes; the four
gate layers σ σ tanh σ sit below it, fed by [h_{t-1}, x_t]; tanh(C_t) and the output gate meet
at the last ×, which gives h_t. Up to MAX_LISTED units every vector is listed, one unit per line;
for more, each shows its mean and range.
"""

import numpy as np
from rich.text import Text

from lstmcalc.core import Step
from lstmcalc.render.numbers import honest, plain

MAX_LISTED = 3  # more would run the C_t column into the h_t line
WIDTH = 80


class _Canvas:
    def __init__(self, height: int):
        self.rows = [[" "] * WIDTH for _ in range(height)]

    def put(self, x: int, y: int, text: str):
        for k, ch in enumerate(text):
            if 0 <= x + k < WIDTH:
                self.rows[y][x + k] = ch

    def centre(self, x: int, y: int, text: str):
        self.put(x - len(text) // 2, y, text)

    def hline(self, x0: int, x1: int, y: int):
        for x in range(x0, x1 + 1):
            self.rows[y][x] = "─"

    def vline(self, x: int, y0: int, y1: int):
        for y in range(y0, y1 + 1):
            self.rows[y][x] = "│"

    def text(self) -> str:
        return "\n".join("".join(row).rstrip() for row in self.rows)


def _values(arr, gaps=None) -> list[str]:
    """Short strings for one vector: every unit, or a summary for a long one."""
    n = len(arr)
    if n <= MAX_LISTED:
        return [honest(float(v), 3, None if gaps is None else float(g), tight=True)
                for v, g in zip(arr, gaps if gaps is not None else [None] * n)]
    return [f"n={n}", f"avg {plain(float(np.mean(arr)), 2)}",
            f"{plain(float(np.min(arr)), 1)}..{plain(float(np.max(arr)), 1)}"]


def _inline(arr) -> str:
    """A whole vector on one line: every value, or the first three and the last."""
    values = [plain(float(v), 3) for v in arr]
    if len(values) > 8:
        values = values[:3] + ["…", values[-1]]
    return "[" + ", ".join(values) + "]" + (f" (n = {len(arr)})" if len(arr) > 8 else "")


# activations as they fit in a gate's box
SHORT = {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "identity": "id", "softsign": "ssgn",
         "hard_sigmoid": "hσ", "hard_sigmoid_keras": "hσ", "hard_sigmoid_tf2": "hσ",
         "affine": "aff", "elu": "elu", "selu": "selu", "gelu": "gelu", "silu": "silu",
         "softplus": "sp+", "relu6": "relu6", "leaky_relu": "lrelu", "hard_silu": "hsilu",
         "exponential": "exp", "hard_tanh": "htanh", "mish": "mish", "thresholded_relu": "trelu",
         "scaled_tanh": "stanh"}


def _variant_notes(step: Step, b: tuple) -> list[str]:
    """What a variant cell adds that the drawing does not show, one line each."""
    v = step.cell.variant
    out = []
    if v.peephole is not None:
        out.append("peepholes: z_f, z_i gain p ⊙ C_{t-1}, z_o gains p_o ⊙ C_t; p_f = "
                   + _inline(v.peephole[0]) + ", p_i = " + _inline(v.peephole[1])
                   + ", p_o = " + _inline(v.peephole[2]))
    if v.coupled:
        out.append("coupled: f_t = 1 − i_t (no weights of its own)")
    if v.clip is not None:
        out.append(f"every pre-activation is clipped to ±{v.clip:g} before its activation")
    if v.cell_clip is not None:
        out.append(f"C_t is clipped to ±{v.cell_clip:g}")
    if "activations" in v.features():
        out.append(f"activations: gates {v.gate!r}, candidate {v.candidate!r}, cell state "
                   f"{v.cell!r} (hσ: a hard sigmoid, ssgn: softsign)")
    if v.projection is not None:
        assert step.m is not None
        out.append(f"projection: h_t = W_hr (o ⊙ {SHORT[v.cell.name]}(C_t)), p = "
                   f"{v.projection.shape[0]} entries; o ⊙ {SHORT[v.cell.name]}(C_t) = "
                   + _inline(step.m[b]))
    return out


def diagram_view(step: Step, b: tuple = ()) -> Text:
    var = step.cell.variant
    a, gap = step.a[b], step.a_gap[b]
    n = step.cell.hidden_size
    rows = min(n, MAX_LISTED) if n <= MAX_LISTED else 3
    fx, ix, jx, gx, ox = 14, 30, 37, 44, 57  # the column of each node
    mx = ox  # the last ×, right above the output gate
    top = rows + 1  # the cell-state line
    height = top + 10 + rows + 3
    cv = _Canvas(height)

    # products above the cell-state line, labels first
    cv.centre(fx, 0, "f⊙C_{t-1}")
    cv.centre(jx + 2, 0, "i⊙g")
    cell_fn = SHORT[var.cell.name]
    cv.put(mx - 4, 0, f"{cell_fn}(C_t)")
    for k, (u, v, w) in enumerate(zip(_values(step.fc[b]), _values(step.ig[b]),
                                      _values(step.tanh_c[b], step.tanh_c_gap[b]))):
        cv.centre(fx, 1 + k, u)
        cv.centre(jx + 2, 1 + k, v)
        cv.put(mx - 4, 1 + k, w)

    # the cell-state line: C_{t-1} --(x)--(+)--+--> C_t
    cv.put(0, top, "C_{t-1}")
    cv.hline(8, 68, top)
    cv.put(fx - 1, top, "(×)")
    cv.put(jx - 1, top, "(+)")
    cv.put(mx, top, "┬")
    cv.put(69, top, "▶ C_t")
    for k, v in enumerate(_values(step.c_prev[b])):
        cv.put(0, top + 1 + k, v)
    for k, v in enumerate(_values(step.c[b])):
        cv.put(71, top + 1 + k, v)

    # f goes up into the first ×; i and g meet at a × that feeds the +
    y_box = top + 5
    cv.vline(fx, top + 1, y_box - 1)
    cv.vline(jx, top + 1, top + 1)
    cv.put(jx - 1, top + 2, "(×)")
    cv.put(ix, top + 3, "┌" + "─" * (jx - ix - 2) + "┘ └" + "─" * (gx - jx - 2) + "┐")
    cv.vline(ix, top + 4, y_box - 1)
    cv.vline(gx, top + 4, y_box - 1)

    # tanh(C_t) and o meet at the last ×, which gives h_t
    cv.vline(mx, top + 1, top + 1)
    cv.centre(mx, top + 2, cell_fn)
    cv.vline(mx, top + 3, top + 3)
    cv.put(mx - 1, top + 4, "(×)")
    cv.hline(mx + 2, 68, top + 4)
    cv.put(69, top + 4, "▶ h_t")
    for k, text in enumerate(_values(step.h[b], step.h_gap[b])):
        cv.put(71, top + 5 + k, text)

    # the four gate layers
    gate_fn, cand_fn = SHORT[var.gate.name], SHORT[var.candidate.name]
    for cx, name in ((fx, "1−i" if var.coupled else gate_fn), (ix, gate_fn), (gx, cand_fn),
                     (ox, gate_fn)):
        width = len(name) + 2
        left = cx - width // 2 - 1
        cv.put(left, y_box, "┌" + "─" * (cx - left - 1) + "┴" + "─" * (left + width - cx) + "┐")
        cv.put(left, y_box + 1, "│" + name.center(width) + "│")
        cv.put(left, y_box + 2, "└" + "─" * (cx - left - 1) + "┬" + "─" * (left + width - cx)
               + "┘")
    labels = {fx: ("f_t", 0), ix: ("i_t", 1), gx: ("g_t", 2), ox: ("o_t", 3)}
    for x, (label, k) in labels.items():
        cv.centre(x, y_box + 3, label)
        for r, v in enumerate(_values(a[k], gap[k])):
            cv.centre(x, y_box + 4 + r, v)
    bus = y_box + 4 + rows
    names = {"x": "x_t", "h": "h_{t-1}"}
    first, second = step.cell.concat
    cv.put(fx, bus, "└")
    cv.hline(fx + 1, ox + 2, bus)
    for x in (ix, gx, ox):
        cv.put(x, bus, "┴")
    cv.put(ox + 3, bus, f"◀ [{names[first]}, {names[second]}]")
    cv.put(0, bus + 1, "h_{t-1} = " + _inline(step.h_prev[b]))
    cv.put(0, bus + 2, "x_t = " + _inline(step.x[b]))
    note = "" if n <= MAX_LISTED else \
        f"\n(n = {n}: each vector shows its mean (avg) and range)"
    return Text("\n" + cv.text() + note)


def diagram_notes(step: Step, b: tuple = ()) -> Text:
    """What a variant cell adds that the drawing does not show (text that wraps)."""
    return Text("\n".join(_variant_notes(step, b)))
