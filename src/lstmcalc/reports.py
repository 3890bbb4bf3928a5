"""Reports: what a command shows, computed once, between the core and the renderers.

A command's inputs and options become one frozen report; every renderer (tables, teaching
views, heat maps, JSON, JSONL, YAML, CSV, pictures) is a pure function of it, so the views can
never disagree and every cell the core computes reaches every view. Nothing here prints.

    StepReport    one step and what the options add (output layer, slopes, stochastic reading,
                  the check of hand-worked values)
    RunReport     a sequence with every intermediate
    FinalReport   the final h and C of a sequence (computed without keeping the rest)
    StackReport   layers and directions
    StreamReport  steps computed as rows arrive
    GradReport    backpropagation through a run
    ShapesReport  the size of every variable
    InspectReport every LSTM a weight file holds
    CompareReport two LSTMs on the same inputs, and which porting mistake parts them
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from lstmcalc import core, records
from lstmcalc.core import Cell, Grads, OutputLayer, Reading, Run, StackRun, Step
from lstmcalc.errors import DataError, LstmcalcError, NonFiniteError


# The founding answer's stochastic reading: one uniform draw per sigmoid-gate unit, from a
# generator seeded with the seed, in step order (a run draws what its steps one after another
# would).

def draw(step: Step, rng: "np.random.Generator") -> Reading:  # quoted: np.random loads late
    u = rng.random(step.batch_shape + (3, step.cell.hidden_size)).astype(step.a.dtype)
    return core.stochastic_reading(step, u)


def run_readings(run: Run, seed: int) -> list[Reading]:
    rng = np.random.default_rng(seed)
    u = rng.random((run.T, *run.batch_shape, 3, run.cell.hidden_size)).astype(run.a.dtype)
    return [core.stochastic_reading(run.step(t), u[t]) for t in range(run.T)]


@dataclass(frozen=True, eq=False)
class Precision:
    """A run in a narrow format (float16, bfloat16, qI.F; or float32 against float64) beside
    the float64 run of the same cell on the same inputs: how far each quantity is from it and,
    in fixed point, where values saturated. full: --compare-to float64 asked for the whole
    per-gate error table."""

    name: str
    errors: dict[str, np.ndarray]  # |run - float64 run|, by JSON key
    lsb: dict[str, np.ndarray]  # the format's spacing at each value, by the same keys
    saturated: dict[str, np.ndarray] | None  # fixed point: by JSON key, plus W and b
    full: bool = False


def precision_of(cell64: Cell, run: Run, xs, h0, c0, full: bool = False) -> Precision:
    """run (in its format) against the float64 run of cell64 on the same inputs."""
    from lstmcalc.core import reduced
    from lstmcalc.core.formats import Fixed

    def quantities(r: Run) -> dict[str, np.ndarray]:  # by the keys of records.precision_dict
        return {"preactivation": r.z, "activation": r.a, "forget_times_c_prev": r.fc,
                "input_times_candidate": r.ig, "c": r.c, "tanh_c": r.tanh_c, "h": r.h}

    values = quantities(run)
    reference = quantities(core.unroll(cell64.astype(np.float64), xs, h0, c0))
    fmt = run.cell.number
    errors = {key: np.abs(arr - reference[key]) for key, arr in values.items()}
    lsb = {key: (fmt.lsb(arr) if fmt is not None else np.spacing(np.abs(arr)))
           for key, arr in values.items()}
    saturated = None
    if run.saturated is not None and isinstance(fmt, Fixed):
        saturated = {**run.saturated, **reduced.load_saturation(fmt, cell64)}
    return Precision(run.cell.dtype_name, errors, lsb, saturated, full)


def computed(cell64: Cell, cell: Cell, xs, h0, c0, compared: bool, full: bool = False
             ) -> tuple[Run, Precision | None]:
    """The run of cell (in its arithmetic: sources.arithmetic) and, when compared, its
    Precision against cell64's float64 run on the same inputs."""
    run = core.unroll(cell, xs, h0, c0)
    return run, precision_of(cell64, run, xs, h0, c0, full) if compared else None


@dataclass(frozen=True, eq=False)
class StepReport:
    source: str
    step: Step
    slopes: np.ndarray  # (..., 4, n) each gate's activation slope at z
    terms: tuple  # (W v + b, the peephole term or None): core.preactivation_terms
    shapes: "ShapesReport"  # the size of every variable
    saturation: tuple | None  # log10 distances to the bounds: core.log10_saturation
    output_layer: OutputLayer | None = None
    output: tuple[np.ndarray, np.ndarray] | None = None  # (z_y, y)
    derivatives: dict[str, np.ndarray] | None = None
    stochastic: tuple[int, Reading] | None = None  # (seed, reading)
    checks: list | None = None  # expect.Check, when hand-worked values were given
    precision: Precision | None = None  # a narrow format against float64


def step_report(source: str, step: Step, output_layer: OutputLayer | None = None,
                derivatives: bool = False, stochastic: bool = False,
                seed: int = 0, precision: Precision | None = None) -> StepReport:
    output = None if output_layer is None else output_layer(step.h)
    reading = draw(step, np.random.default_rng(seed)) if stochastic else None
    return StepReport(source, step, core.gate_slopes(step), core.preactivation_terms(step),
                      shapes_report(step.cell), core.log10_saturation(step), output_layer,
                      output,
                      core.derivative_arrays(step) if derivatives else None,
                      None if reading is None else (seed, reading), precision=precision)


def extras_dict(report: StepReport, conv, stochastic: bool = True) -> dict:
    """What the options add to a step's object: y, the derivatives, the stochastic reading."""
    out: dict = {}
    if report.output is not None:
        out["output_preactivation"] = conv(report.output[0])
        out["y"] = conv(report.output[1])
    if report.derivatives is not None:
        out["derivatives"] = {key: conv(arr) for key, arr in report.derivatives.items()}
    if report.stochastic is not None and stochastic:
        out["stochastic"] = records.reading_dict(*report.stochastic, conv)
    if report.precision is not None:
        out["number_format"] = records.precision_dict(report.precision)
    return out


def truth(report: StepReport) -> dict:
    """The step's object as --expect checks it (the stochastic draws are not a truth), and
    the sizes of its variables (`shapes`: what a learner works out first)."""
    cell = report.step.cell
    return {**records.step_dict(report.step),
            **extras_dict(report, records.numbers, stochastic=False),
            "shapes": records.sizes(cell.input_size, cell.hidden_size, cell.state_size)}


@dataclass(frozen=True, eq=False)
class RunReport:
    source: str
    run: Run
    output_layer: OutputLayer | None = None
    output: tuple[np.ndarray, np.ndarray] | None = None  # (z_y, y), each (T, ..., q)
    readings: list[Reading] | None = None
    seed: int = 0
    saturation: tuple | None = None  # log10 distances to the bounds: core.log10_saturation
    precision: Precision | None = None  # a narrow format against float64


def run_report(source: str, run: Run, output_layer: OutputLayer | None = None,
               stochastic: bool = False, seed: int = 0,
               precision: Precision | None = None) -> RunReport:
    output = None if output_layer is None else output_layer(run.h)
    drawn = run_readings(run, seed) if stochastic else None
    return RunReport(source, run, output_layer, output, drawn, seed, core.log10_saturation(run),
                     precision)


@dataclass(frozen=True, eq=False)
class FinalReport:
    cell: Cell
    h: np.ndarray  # (..., r)
    c: np.ndarray  # (..., n)
    T: int


def final_report(cell: Cell, xs, h0, c0) -> FinalReport:
    h, c = core.final(cell, xs, h0, c0)
    return FinalReport(cell, h, c, int(np.shape(xs)[0]))


@dataclass(frozen=True, eq=False)
class StackReport:
    source: str
    stack: StackRun
    final: bool = False


@dataclass(eq=False)
class Chunk:
    """Steps computed together, the first numbered t0 (from 1): as one run (`run`), or one by
    one where a value stopped being finite (`given`, the steps before it); the output layer's
    (z_y, y) and the stochastic reading of each step, where asked for."""

    t0: int
    run: Run | None = None
    given: list[Step] | None = None
    outputs: list | None = None
    readings: list | None = None

    @property
    def count(self) -> int:
        return self.run.T if self.run is not None else len(self.given or [])

    @cached_property
    def steps(self) -> list[Step]:
        if self.run is not None:
            return [self.run.step(j) for j in range(self.run.T)]
        return list(self.given or [])


@dataclass(eq=False)
class StreamReport:
    """Steps computed as rows arrive: iterate `chunks` to compute them, one Chunk at a time
    (the rows that arrived together, up to a size), each before more input is read: what a
    writer writes before the next row is waited for. After the last, h and c hold the final
    state and T the count."""

    cell: Cell
    source: str
    chunks: Iterator[Chunk]
    h: np.ndarray | None = None
    c: np.ndarray | None = None
    T: int = 0
    output_layer: OutputLayer | None = None
    seed: int = 0
    stochastic: bool = False

    def final(self) -> FinalReport:
        """Compute every step, keep only the last state."""
        for _ in self.chunks:
            pass
        assert self.h is not None and self.c is not None
        return FinalReport(self.cell, self.h, self.c, self.T)


def _chunks(rows: Iterable, size: int, ready: Callable[[], bool] | None = None
            ) -> Iterator[list | np.ndarray]:
    """Lists of up to `size` rows; with `ready` (whether another row is already here, asked
    without waiting), a list also ends where the rows that have arrived end, so that their
    lines are written before the next row is waited for. A bad row ends its chunk early: the
    rows before it come out first, and its error is raised on the next call. An array among
    the rows is rows read together (sequences.file_rows): it comes out as it is."""
    chunk: list = []
    try:
        for row in rows:
            if isinstance(row, np.ndarray):  # rows read together already (k <= size)
                if chunk:
                    yield chunk
                    chunk = []
                yield row
                continue
            chunk.append(row)
            if len(chunk) == size or (ready is not None and not ready()):
                yield chunk
                chunk = []
    except LstmcalcError:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def stream_report(cell: Cell, rows: Iterable, source: str, h, c, output_layer=None,
                  stochastic: bool = False, seed: int = 0, chunk: int = 1,
                  written: bool = True, ready: Callable[[], bool] | None = None
                  ) -> StreamReport:
    """Steps as rows arrive. chunk: rows computed together (a regular file gives many without
    waiting; a pipe as many as have arrived, told by `ready`, or one at a time without it).
    A chunk is one unroll, which computes bit for bit what its steps one by one would; a
    value that stops being finite sends the chunk through step by step instead, so that the
    error names its own step. written: the steps are written as they come (an error then
    says how many were)."""
    report = StreamReport(cell, source, iter(()), h, c, 0, output_layer, seed, stochastic)
    rng = np.random.default_rng(seed) if stochastic else None

    def finished(piece: Chunk) -> Chunk:
        """The chunk with its outputs and readings, the report's state after it."""
        steps = piece.steps if (output_layer is not None or rng is not None) else None
        if steps is not None and output_layer is not None:
            piece.outputs = [output_layer(s.h) for s in steps]
        if steps is not None and rng is not None:
            piece.readings = [draw(s, rng) for s in steps]
        if piece.run is not None:
            report.h, report.c = piece.run.h[-1], piece.run.c[-1]
        else:  # steps one by one: never an empty chunk
            assert piece.given
            report.h, report.c = piece.given[-1].h, piece.given[-1].c
        report.T = piece.t0 + piece.count - 1
        return piece

    def chunks():
        done = 0
        h_, c_ = h, c
        try:
            for block in _chunks(rows, chunk, ready):
                try:
                    piece = Chunk(done + 1, run=core.unroll(cell, np.asarray(block), h_, c_))
                except NonFiniteError:  # one step at a time, so that the error names its own
                    given = []
                    for row in block:
                        try:
                            s = core.step(cell, np.asarray(row), h_, c_)
                        except NonFiniteError as e:
                            if given:
                                yield finished(Chunk(done + 1, given=given))
                                done += len(given)
                            raise DataError(f"step {done + 1}: {e}", source) from None
                        given.append(s)
                        h_, c_ = s.h, s.c
                    piece = Chunk(done + 1, given=given)
                yield finished(piece)
                done += piece.count
                h_, c_ = report.h, report.c
        except LstmcalcError as e:
            if done:
                steps = "step" if done == 1 else f"{done} steps"
                note = f"; the {steps} before it {'was' if done == 1 else 'were'} written" \
                    if written else ""
                e.message += f" (stopped here{note})"
            raise
        if done == 0:
            raise DataError("the input holds no rows", source)

    report.chunks = chunks()
    return report


def _finite_gradients(source: str, value: float, grads: list[Grads],
                      names: list[str]) -> None:
    """A loss or gradient that overflowed is a located data error, never a number written."""
    if not np.isfinite(value):
        raise DataError(f"the loss is not finite ({value}): a target or an upstream gradient "
                        "too large for the arithmetic", source)
    for g, name in zip(grads, names):
        for key, arr in (("W", g.dW), ("b", g.db), ("x", g.dx), ("h_0", g.dh0), ("C_0", g.dc0),
                         ("z", g.dz), ("h_t", g.dh), ("C_t", g.dc), ("peepholes", g.dP),
                         ("W_hr", g.dWp)):
            if arr is not None and not np.isfinite(arr).all():
                raise DataError(f"{name}dL/d{key} is not finite: the gradients overflow the "
                                "arithmetic (an upstream gradient or a target too large?)",
                                source)


@dataclass(frozen=True, eq=False)
class GradReport:
    source: str
    run: Run
    grads: Grads
    loss: dict  # {"kind": "sum" | "mse" | "given", "value": L}
    gate_names: tuple
    split: tuple
    products: np.ndarray  # (T, ..., n) the forget products along the cell state
    dc_norm: np.ndarray  # (T,) ‖dL/dC_t‖ over the units (and sequences)
    check: dict | None = None  # the finite-difference summary, with --check


def grad_report(source: str, cell: Cell, xs, h0, c0, loss: Callable, kind: str,
                gate_names: tuple, split: tuple, check: bool = False,
                samples: int | None = None) -> GradReport:
    """loss(run) -> (L, dL/dh per step, dL/dC_T)."""
    run = core.unroll(cell, xs, h0, c0)
    with np.errstate(over="ignore", invalid="ignore"):
        value, dh_out, dc_last = loss(run)
        grads = core.backward(run, dh_out, dc_last)
    _finite_gradients(source, value, [grads], [""])
    summary = None
    if check:
        from lstmcalc.core import finite_diff

        summary = finite_diff.check(cell, xs, h0, c0, lambda r: loss(r)[0], grads.dW,
                                    grads.db, samples, dP=grads.dP, dWp=grads.dWp)
    dc_norm = np.sqrt((grads.dc.reshape(run.T, -1) ** 2).sum(axis=1))
    return GradReport(source, run, grads, {"kind": kind, "value": value}, gate_names, split,
                      core.forget_products(run), dc_norm, summary)


@dataclass(frozen=True)
class ShapesReport:
    """The size of every variable of one cell: m inputs, n units, p entries of h (p = n
    without a projection), and the parameters."""

    m: int
    n: int
    p: int
    concat: tuple[str, str] = ("x", "h")
    q: int | None = None  # rows of the output layer, if there is one
    output_activation: str | None = None
    variant_parameters: int = 0  # peepholes and projection
    features: tuple[str, ...] = field(default=())
    source: str | None = None

    @property
    def per_gate(self) -> int:
        return self.n * (self.m + self.p) + self.n

    @property
    def total(self) -> int:
        return 4 * self.per_gate + self.variant_parameters


def shapes_report(cell: Cell | None = None, m: int | None = None, n: int | None = None,
                  output_layer: OutputLayer | None = None,
                  source: str | None = None) -> ShapesReport:
    q = act = None
    if output_layer is not None:
        q, act = int(output_layer.W.shape[0]), output_layer.activation
    if cell is None:
        assert m is not None and n is not None
        return ShapesReport(m, n, n, q=q, output_activation=act, source=source)
    v = cell.variant
    extra = sum(int(a.size) for a in (v.peephole, v.projection) if a is not None)
    return ShapesReport(cell.input_size, cell.hidden_size, cell.state_size, cell.concat, q, act,
                        extra, v.features(), source)


@dataclass(frozen=True, eq=False)
class StackGradReport:
    source: str
    stack: StackRun
    grads: core.StackGrads
    loss: dict  # {"kind": "sum" | "mse" | "given", "value": L}
    check: dict | None = None


def stack_grad_report(source: str, cells: list, directions: tuple, xs, h0, c0,
                      loss: Callable, kind: str, check: bool = False,
                      samples: int | None = None) -> StackGradReport:
    """loss(y) -> (L, dL/dy) on the top layer's output y (T, ..., D n), in input order."""
    sr = core.stack_unroll(cells, directions, xs, h0, c0)
    with np.errstate(over="ignore", invalid="ignore"):
        value, dy = loss(sr.output[-1])
        grads = core.stack_backward(sr, dy)
    _finite_gradients(source, value, [g for per in grads.grads for g in per],
                      [f"layer {k + 1} {d}: " for k, dirs in enumerate(sr.layer_directions)
                       for d in dirs])
    summary = None
    if check:
        from lstmcalc.core import finite_diff

        flat = [cell for layer in cells for cell in layer]
        names = [f"layer {k + 1}" + ("" if d == "forward" else f" {d}")
                 for k, dirs in enumerate(sr.layer_directions) for d in dirs]
        ends = np.cumsum([0] + [len(layer) for layer in cells])

        def value_of(probe: list) -> float:
            layered = [probe[a:b] for a, b in zip(ends[:-1], ends[1:])]
            return loss(core.stack_unroll(layered, directions, xs, h0, c0).output[-1])[0]

        summary = finite_diff.check_cells(flat, [g for per in grads.grads for g in per],
                                          value_of, samples, names=names)
    return StackGradReport(source, sr, grads, {"kind": kind, "value": value}, summary)


@dataclass(frozen=True)
class StackShapesReport:
    """The shapes of every layer's and direction's cell."""

    layers: tuple[tuple[int, str, ShapesReport], ...]  # (layer from 1, direction, shapes)
    directions: tuple  # one tuple for every layer, or a tuple per layer
    source: str | None = None

    @property
    def total(self) -> int:
        return sum(shapes.total for _, _, shapes in self.layers)


def stack_shapes_report(cells: list, directions: tuple, source: str | None = None):
    from lstmcalc.core.stacks import per_layer

    return StackShapesReport(tuple((k + 1, d, shapes_report(cell))
                                   for k, (layer, dirs) in enumerate(
                                       zip(cells, per_layer(directions, len(cells))))
                                   for cell, d in zip(layer, dirs)),
                             tuple(directions), source)


@dataclass(frozen=True)
class InspectReport:
    """What a weight file holds: each LSTM's summary (frameworks.inspect) and the rest."""

    source: str
    kind: str
    lstms: tuple[dict, ...]
    other: tuple[str, ...]


@dataclass(frozen=True)
class CompareReport:
    """Two LSTMs on the same inputs (porting.agreement) and what explains where they part
    (porting.diagnose, per pair of cells)."""

    a_source: str
    b_source: str
    inputs: str  # for people: where the inputs came from
    agreement: Any  # porting.Agreement
    findings: tuple  # ((cell label or "", porting.Finding), ...)
