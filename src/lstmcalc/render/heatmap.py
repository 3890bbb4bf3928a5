"""A heat map of a sequence: units down, time across, one character per cell.

Readable without colour: every cell is also a glyph for its level, and a legend says which.
"""

import numpy as np
from rich.console import Group, RenderableType
from rich.text import Text

from lstmcalc.core import GATES

UNIT_GLYPHS = "·░▒▓█"  # [0, 1] in five bands
SIGNED_GLYPHS = "=-·+#"  # [-1, 1] in five bands: strongly negative .. strongly positive
UNIT_COLOURS = ["grey23", "dark_green", "green4", "green3", "bright_green"]
SIGNED_COLOURS = ["blue", "deep_sky_blue3", "grey50", "orange3", "red"]
MAX_UNITS = 24
MAX_COLUMNS = 64


def _buckets(T: int, width: int) -> list[slice]:
    """Time steps per column: one each, or equal runs of steps when T is wider than width."""
    if T <= width:
        return [slice(t, t + 1) for t in range(T)]
    edges = np.linspace(0, T, width + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _grid(values: np.ndarray, signed: bool, buckets: list[slice]) -> list[Text]:
    """values (T, n) -> one Text line per unit."""
    glyphs, colours = (SIGNED_GLYPHS, SIGNED_COLOURS) if signed else (UNIT_GLYPHS, UNIT_COLOURS)
    means = np.stack([values[s].mean(axis=0) for s in buckets], axis=1)  # (n, columns)
    scaled = (means + 1) / 2 if signed else means
    levels = np.clip((scaled * 5).astype(int), 0, 4)
    lines = []
    for row in levels:
        line = Text()
        for level in row:
            line.append(glyphs[level], style=colours[level])
        lines.append(line)
    return lines


def _block(title: str, values: np.ndarray, signed: bool, buckets) -> RenderableType:
    n = values.shape[1]
    shown = list(range(n)) if n <= MAX_UNITS else list(range(MAX_UNITS))
    lines = _grid(values[:, shown], signed, buckets)
    out = [Text(title, style="bold")]
    for j, line in zip(shown, lines):
        out.append(Text.assemble(f"{j + 1:>4} ", line))
    if len(shown) < n:
        out.append(Text(f"     … {n - len(shown)} more units", style="italic"))
    return Group(*out)


def _legend(unit_range: bool) -> Text:
    legend = Text("legend: ")
    if unit_range:
        legend.append("gates in [0, 1]: ")
        for glyph, colour, band in zip(UNIT_GLYPHS, UNIT_COLOURS,
                                       ["<0.2", "<0.4", "<0.6", "<0.8", "≥0.8"]):
            legend.append(glyph, style=colour)
            legend.append(f" {band}  ")
        legend.append("\n        ")
    legend.append("signed, in [-1, 1]: ")
    for glyph, colour, band in zip(SIGNED_GLYPHS, SIGNED_COLOURS,
                                   ["<-0.6", "<-0.2", "<0.2", "<0.6", "≥0.6"]):
        legend.append(glyph, style=colour)
        legend.append(f" {band}  ")
    return legend


def _frame(title: str, run, source, width: int, blocks, unit_range: bool) -> RenderableType:
    """The header, blocks(b, buckets) for every sequence of the batch, and the legend."""
    T = run.T
    buckets = _buckets(T, width)
    per = "one step per column" if len(buckets) == T else \
        f"each column is the mean of about {T / len(buckets):.3g} steps"
    parts: list[RenderableType] = [Text.assemble(
        (title, "bold"), "  ", source or "",
        f"  (T = {T} steps, n = {run.cell.hidden_size} units; {per})")]
    for b in np.ndindex(*run.batch_shape):
        if run.batch_shape:
            parts.append(Text(f"\nSequence {b[0] + 1} of {run.batch_shape[0]}", style="bold"))
        parts += blocks(b, buckets)
    return Group(*parts, Text(), _legend(unit_range))


def _scaled(title: str, values: np.ndarray, what: str, buckets) -> RenderableType:
    scale = float(np.abs(values).max()) or 1.0
    return _block(f"{title} / {scale:.3g} ({what})", values / scale, True, buckets)


def heatmap_view(run, source: str | None = None, width: int = MAX_COLUMNS) -> RenderableType:
    """Gate activations, C_t (scaled) and h_t as units x time."""
    def blocks(b, buckets):
        a = run.a[(slice(None),) + b]  # (T, 4, n)
        out = []
        for k, gate in enumerate(GATES):
            symbol = "g_t = tanh(...)" if gate == "candidate" else f"{gate[0]}_t"
            out.append(_block(f"{gate} gate {symbol}", a[:, k, :], gate == "candidate",
                              buckets))
        out.append(_scaled("cell state C_t", run.c[(slice(None),) + b], "its largest |C_t|",
                           buckets))
        out.append(_block("hidden state h_t", run.h[(slice(None),) + b], True, buckets))
        return out

    return _frame("lstmcalc unroll --view heatmap", run, source, width, blocks, True)


def grad_heatmap_view(run, grads, source: str | None = None,
                      width: int = MAX_COLUMNS) -> RenderableType:
    """dL/dz of every gate and dL/dC_t over time, each scaled by its largest magnitude."""
    def blocks(b, buckets):
        dz = grads.dz[(slice(None),) + b]  # (T, 4, n)
        out = [_scaled(f"dL/dz, {gate} gate", dz[:, k, :], "its largest magnitude", buckets)
               for k, gate in enumerate(GATES)]
        out.append(_scaled("dL/dC_t", grads.dc[(slice(None),) + b], "its largest magnitude",
                           buckets))
        return out

    return _frame("lstmcalc grad --view heatmap", run, source, width, blocks, False)
