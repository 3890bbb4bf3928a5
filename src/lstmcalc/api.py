"""lstmcalc as a library: the reports the command line renders, from Python.

    import lstmcalc
    r = lstmcalc.step("configs/founding.yaml")
    r.gates["forget"].activation          # NumPy arrays, as the core computed them
    r.to_dict()                           # exactly what `lstmcalc step ... -f json` writes
    rich.print(r)                         # the tables; a notebook shows them by itself

A source is a path to any config or weight file the CLI reads, or a dict shaped like a config.
Errors are the CLI's own (lstmcalc.errors.LstmcalcError and its kinds), with its messages.
"""

import json
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lstmcalc.document import MAX_BYTES

Source = str | os.PathLike | dict
DType = Literal["float64", "float32"]
# the arithmetic of step and unroll: a DType, "float16", "bfloat16", or fixed point "qI.F"
Arithmetic = str


def load(source: Source, *, name: str | None = None, layout: str | None = None) -> Any:
    """The spec of a config or weight file (a path), or of a dict shaped like a config:
    weights, and the x, h, c and sequence it gives. `name` picks one LSTM of several in a
    weight file, `layout` says a weight file's layout where its names do not."""
    from lstmcalc import config, sources

    if isinstance(source, dict):
        if name is not None or layout is not None:
            from lstmcalc.errors import UsageError

            raise UsageError("name and layout are for weight files; a dict is a config")
        text = json.dumps(source, default=_plain)
        return config.parse_spec(text, "<dict>", json=True)
    return sources.load_spec(os.fspath(source), MAX_BYTES, layout, name=name, lengths_ok=True)


def _plain(value: Any) -> Any:
    """NumPy arrays and numbers in a dict config, as JSON takes them."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a number or an array")


def _spec(source: Any, ragged: bool = False) -> Any:
    """The spec of a source; ragged: the caller honours an ONNX node's sequence_lens."""
    from lstmcalc.config import Spec

    spec = source if isinstance(source, Spec) else load(source)
    if spec.lengths is not None and not ragged:
        from lstmcalc.errors import Unsupported

        raise Unsupported("the LSTM node has sequence_lens (each sequence stops at its own "
                          "length): unroll runs it; step and grad run whole sequences")
    return spec


def _given(value: Any, default: Any) -> Any:
    """An argument as a float64 array, or the config's own where it was not given."""
    return default if value is None else np.asarray(value, dtype=np.float64)


def _sequence(inputs: Any, spec: Any, what: str) -> np.ndarray:
    """inputs as (T, m) or (T, B, m): an array, a path the CLI's --inputs reads, or None for
    the config's own sequence (then its x, as one step)."""
    from lstmcalc import sequences
    from lstmcalc.errors import DataError

    if inputs is None:
        if spec.sequence is not None:
            return spec.sequence
        if spec.x is not None and what == "grad":
            return spec.x[None]
        raise DataError("no sequence: give inputs, or a sequence in the config", spec.source)
    if isinstance(inputs, str | os.PathLike):
        return sequences.read(os.fspath(inputs), None, False, spec.cell.input_size, MAX_BYTES)
    return np.asarray(inputs, dtype=np.float64)


def step(source: Source, *, x: Any = None, h: Any = None, c: Any = None,
         dtype: Arithmetic = "float64", compare_to: str | None = None) -> "Report":
    """One step (`lstmcalc step`): x, h and c default to the config's. dtype: float64,
    float32, float16, bfloat16 or fixed point "qI.F"; a narrow one (or compare_to="float64")
    puts its errors against float64 into the report."""
    from lstmcalc import core, reports, sources
    from lstmcalc.errors import DataError

    spec = _spec(source)
    x, h, c = _given(x, spec.x), _given(h, spec.h), _given(c, spec.c)
    if x is None:
        raise DataError(f"no x: give x, {spec.cell.input_size} numbers", spec.source)
    cell, compared = sources.arithmetic(spec, dtype, compare_to)  # refuses what a stack can't
    if spec.is_stack:
        sr = core.stack_unroll(spec.stack_cells(dtype), spec.directions, np.asarray(x)[None],
                               h, c)
        return Report(reports.StackReport(spec.source, sr))
    # a step is a run of one
    run, precision = reports.computed(spec.cell, cell, np.asarray(x)[None], h, c, compared,
                                      compare_to is not None)
    return Report(reports.step_report(spec.source, run.step(0), spec.output,
                                      precision=precision))


def unroll(source: Source, inputs: Any = None, *, h: Any = None, c: Any = None,
           dtype: Arithmetic = "float64", compare_to: str | None = None,
           lengths: Any = None) -> "Report":
    """A whole sequence (`lstmcalc unroll`): inputs (T, m) or (T, B, m), a path, or None
    for the config's sequence. dtype and compare_to: as for step. lengths (B,): a ragged
    batch (`--lengths`; an ONNX node's own sequence_lens are read from its file)."""
    from lstmcalc import core, reports, sources

    spec = _spec(source, ragged=True)
    xs = _sequence(inputs, spec, "unroll")
    h, c = _given(h, spec.h), _given(c, spec.c)
    given = None if lengths is None else ",".join(repr(float(v)) for v in np.ravel(lengths))
    ragged = sources.sequence_lengths(spec, given)
    cell, compared = sources.arithmetic(spec, dtype, compare_to, ragged is not None)
    if ragged is not None and not spec.is_stack:  # one cell, run as a stack of one
        sr = core.stack_unroll([[cell]], spec.directions, xs, None if h is None else [h],
                               None if c is None else [c], ragged)
        return Report(reports.StackReport(spec.source, sr))
    if spec.is_stack:
        sr = core.stack_unroll(spec.stack_cells(dtype), spec.directions, xs, h, c, ragged)
        return Report(reports.StackReport(spec.source, sr))
    run, precision = reports.computed(spec.cell, cell, xs, h, c, compared,
                                      compare_to is not None)
    return Report(reports.run_report(spec.source, run, spec.output, precision=precision))


def grad(source: Source, inputs: Any = None, *, loss: Literal["sum", "mse"] = "sum",
         target: Any = None, dtype: DType = "float64") -> "Report":
    """Gradients of a loss through the sequence (`lstmcalc grad`): "sum" of the last step's
    outputs (PyTorch's output[-1].sum()), or "mse" against target (T rows of outputs)."""
    from lstmcalc import core, reports
    from lstmcalc.errors import UsageError

    spec = _spec(source)
    xs = _sequence(inputs, spec, "grad")
    if (loss == "mse") != (target is not None):
        raise UsageError("loss 'mse' takes a target, and a target goes with loss 'mse'")
    if loss not in ("sum", "mse"):
        raise UsageError(f"loss {loss!r}: choose 'sum' or 'mse'")
    ys = None if target is None else np.asarray(target, dtype=np.float64)
    if spec.is_stack:
        cells = spec.stack_cells(dtype)

        def out_loss(y: np.ndarray) -> Any:
            return core.sum_last(y) if ys is None else core.mean_squared(y, ys)

        return Report(reports.stack_grad_report(spec.source, cells, spec.directions, xs,
                                                spec.h, spec.c, out_loss, loss))

    def loss_fn(r: Any) -> Any:
        return core.loss_sum(r) if ys is None else core.loss_mse(r, ys)

    return Report(reports.grad_report(spec.source, spec.cell.astype(dtype), xs, spec.h,
                                      spec.c, loss_fn, loss, spec.gate_names, spec.split))


@dataclass(frozen=True)
class Gate:
    """One gate's arrays: (..., n) for a step, (T, ..., n) for a run."""

    preactivation: np.ndarray
    activation: np.ndarray
    saturation_gap: np.ndarray


class Report:
    """A command's result: the report the CLI renders (`report`), its JSON as a dict
    (`to_dict()`), its tables (`__rich__`, and `_repr_html_` in a notebook), and the arrays:
    `h`, `c`, `gates` (a step's or a run's), `run`, `stack`, `grads`, `loss`."""

    def __init__(self, report: Any) -> None:
        self.report = report

    def to_dict(self) -> dict:
        """Exactly the JSON `-f json` writes, as plain dicts, lists and floats."""
        from lstmcalc.choices import Format, Show
        from lstmcalc.render.views import render

        out: dict = json.loads(render(self.report, Format.json, Show()))
        return out

    def __rich__(self) -> Any:
        from lstmcalc.choices import Format, Show
        from lstmcalc.render.views import render

        return render(self.report, Format.table, Show())

    def _repr_html_(self) -> str:
        import io

        from rich.console import Console

        console = Console(record=True, width=100, file=io.StringIO())
        console.print(self.__rich__())
        return console.export_html(inline_styles=True)

    def __repr__(self) -> str:
        return f"<lstmcalc {type(self.report).__name__} of {self.report.source}>"

    @property
    def kind(self) -> str:
        return type(self.report).__name__

    @property
    def step(self) -> Any:
        return self.report.step

    @property
    def run(self) -> Any:
        return self.report.run

    @property
    def stack(self) -> Any:
        return self.report.stack

    @property
    def grads(self) -> Any:
        return self.report.grads

    @property
    def loss(self) -> float:
        return float(self.report.loss["value"])

    @property
    def gates(self) -> dict[str, Gate]:
        """Per gate (forget, input, candidate, output): pre-activation, activation and the
        distance to saturation, as the JSON writes them."""
        from lstmcalc.core import GATES

        source = getattr(self.report, "step", None) or getattr(self.report, "run", None)
        if source is None:
            raise AttributeError("a stack's gates are in .stack.runs[layer][direction]")
        gaps = source.written_gap() if hasattr(source, "written_gap") else source.exact_gaps
        return {gate: Gate(source.z[..., k, :], source.a[..., k, :], gaps[..., k, :])
                for k, gate in enumerate(GATES)}

    @property
    def h(self) -> np.ndarray:
        """A step's h_t, a run's h_t for every step, a stack's final h (PyTorch's h_n)."""
        if hasattr(self.report, "stack"):
            return np.asarray(self.report.stack.final_h)
        return (self.report.step if hasattr(self.report, "step") else self.report.run).h

    @property
    def c(self) -> np.ndarray:
        if hasattr(self.report, "stack"):
            return np.asarray(self.report.stack.final_c)
        return (self.report.step if hasattr(self.report, "step") else self.report.run).c
