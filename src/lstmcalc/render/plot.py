"""A picture of a sequence (h, C and the four gates over time) with matplotlib, an optional
extra: `pip install 'lstmcalc[plot]'`."""

import io

import numpy as np

from lstmcalc.core import GATES
from lstmcalc.errors import MissingExtra

MAX_LINES = 8  # units drawn per panel


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingExtra("--plot", "matplotlib", "plot") from None


def png(run, title: str = "") -> bytes:
    """The figure as PNG bytes: one panel each for the gates, C_t and h_t (first sequence of a
    batch, first MAX_LINES units)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    b = (0,) * len(run.batch_shape)
    t = np.arange(1, run.T + 1)
    series = [(f"{gate} gate", run.a[(slice(None),) + b + (k,)]) for k, gate in enumerate(GATES)]
    series += [("cell state C_t", run.c[(slice(None),) + b]),
               ("hidden state h_t", run.h[(slice(None),) + b])]
    fig, axes = plt.subplots(3, 2, figsize=(10, 8), sharex=True, constrained_layout=True)
    for ax, (name, values) in zip(axes.flat, series):
        for j in range(min(values.shape[-1], MAX_LINES)):  # h has p < n with a projection
            ax.plot(t, values[:, j], label=f"unit {j + 1}", linewidth=1.2)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("t")
    axes[0, 0].legend(fontsize="small", ncol=2)
    if title:
        fig.suptitle(title, parse_math=False)  # a file name is text, not mathtext
    return _png_bytes(fig)


def png_stack(sr, title: str = "") -> bytes:
    """A stack as PNG bytes: one panel per layer and direction with its h_t over t in input
    order (first sequence of a batch, first MAX_LINES units)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = [(k, d, run) for k, (layer, dirs) in enumerate(zip(sr.runs, sr.layer_directions))
              for run, d in zip(layer, dirs)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), sharex=True,
                             constrained_layout=True, squeeze=False)
    for ax, (k, direction, run) in zip(axes[:, 0], panels):
        b = (0,) * len(run.batch_shape)
        h = run.h[(slice(None),) + b]
        h = h[::-1] if direction == "reverse" else h  # input order
        t = np.arange(1, run.T + 1)
        for j in range(min(h.shape[-1], MAX_LINES)):
            ax.plot(t, h[:, j], label=f"unit {j + 1}", linewidth=1.2)
        ax.set_title(f"layer {k + 1}, {direction}: h_t")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("t (input order)")
    axes[0, 0].legend(fontsize="small", ncol=2)
    if title:
        fig.suptitle(title, parse_math=False)  # a file name is text, not mathtext
    return _png_bytes(fig)


def _png_bytes(fig) -> bytes:
    """The figure as PNG bytes, closed; what matplotlib warns of (huge values) is not passed
    on: the numbers are in the other outputs."""
    import warnings

    from matplotlib import pyplot as plt

    buffer = io.BytesIO()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
