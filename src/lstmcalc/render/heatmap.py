"""A heat map of a sequence: units down, time across, one character per cell.

Readable without colour: every cell is also a glyph for its level, and a legend says which.
"""

import numpy as np
from rich.console import Group, RenderableType
from rich.text import Text

from lstmcalc.cell import GATES

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


def heatmap_view(run, source: str | None = None, width: int = MAX_COLUMNS) -> RenderableType:
    T = run.T
    buckets = _buckets(T, width)
    per = "one step per column" if len(buckets) == T else \
        f"each column is the mean of about {T / len(buckets):.3g} steps"
    parts: list[RenderableType] = [Text.assemble(
        ("lstmcalc unroll --view heatmap", "bold"), "  ", source or "",
        f"  (T = {T} steps, n = {run.cell.hidden_size} units; {per})")]
    for b in np.ndindex(*run.batch_shape):
        if run.batch_shape:
            parts.append(Text(f"\nSequence {b[0] + 1} of {run.batch_shape[0]}", style="bold"))
        a = run.a[(slice(None), *b)]  # (T, 4, n)
        for k, gate in enumerate(GATES):
            symbol = "g_t = tanh(...)" if gate == "candidate" else f"{gate[0]}_t"
            parts.append(_block(f"{gate} gate {symbol}", a[:, k, :], gate == "candidate",
                                buckets))
        c = run.c[(slice(None), *b)]
        scale = float(np.abs(c).max()) or 1.0
        parts.append(_block(f"cell state C_t / {scale:.3g} (its largest |C_t|)", c / scale,
                            True, buckets))
        parts.append(_block("hidden state h_t", run.h[(slice(None), *b)], True, buckets))
    legend = Text("legend: gates in [0, 1]: ")
    for glyph, colour, band in zip(UNIT_GLYPHS, UNIT_COLOURS,
                                   ["<0.2", "<0.4", "<0.6", "<0.8", "≥0.8"]):
        legend.append(glyph, style=colour)
        legend.append(f" {band}  ")
    legend.append("\n        signed, in [-1, 1]: ")
    for glyph, colour, band in zip(SIGNED_GLYPHS, SIGNED_COLOURS,
                                   ["<-0.6", "<-0.2", "<0.2", "<0.6", "≥0.6"]):
        legend.append(glyph, style=colour)
        legend.append(f" {band}  ")
    parts += [Text(), legend]
    return Group(*parts)


def grad_heatmap_view(run, grads, source: str | None = None,
                      width: int = MAX_COLUMNS) -> RenderableType:
    """dL/dz of every gate and dL/dC_t over time, each scaled by its largest magnitude."""
    T = run.T
    buckets = _buckets(T, width)
    per = "one step per column" if len(buckets) == T else \
        f"each column is the mean of about {T / len(buckets):.3g} steps"
    parts: list[RenderableType] = [Text.assemble(
        ("lstmcalc grad --view heatmap", "bold"), "  ", source or "",
        f"  (T = {T} steps, n = {run.cell.hidden_size} units; {per})")]
    for b in np.ndindex(*run.batch_shape):
        if run.batch_shape:
            parts.append(Text(f"\nSequence {b[0] + 1} of {run.batch_shape[0]}", style="bold"))
        dz = grads.dz[(slice(None), *b)]  # (T, 4, n)
        series = [(f"dL/dz, {gate} gate", dz[:, k, :]) for k, gate in enumerate(GATES)]
        series.append(("dL/dC_t", grads.dc[(slice(None), *b)]))
        for title, values in series:
            scale = float(np.abs(values).max()) or 1.0
            parts.append(_block(f"{title} / {scale:.3g} (its largest magnitude)", values / scale,
                                True, buckets))
    legend = Text("legend, signed and scaled: ")
    for glyph, colour, band in zip(SIGNED_GLYPHS, SIGNED_COLOURS,
                                   ["<-0.6", "<-0.2", "<0.2", "<0.6", "≥0.6"]):
        legend.append(glyph, style=colour)
        legend.append(f" {band}  ")
    parts += [Text(), legend]
    return Group(*parts)
