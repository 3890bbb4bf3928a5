"""Two LSTMs that should compute the same thing (a model and its port): where their numbers
part, and which of the usual porting mistakes explains it.

Each hypothesis is tested on the weights themselves: B's weights are put through the mistake's
inverse (gates put back in order, a kernel transposed, a bias added back, ...), and the
hypothesis explains the difference when that makes them equal A's. Pure NumPy over
layouts.Weights; no I/O.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from lstmcalc import layouts
from lstmcalc.core import GATES
from lstmcalc.core.stacks import stack_unroll

SHORT = ("f", "i", "g", "o")  # GATES in short
FLOAT32_STEP = 2.0 ** -23  # float32's relative spacing: weights rounded once differ by half


@dataclass(frozen=True)
class Finding:
    """One mistake that explains the difference: a key for scripts and a sentence for
    people; `residual` is how far B's repaired weights still are from A's (largest |Δ|)."""

    mistake: str
    explanation: str
    residual: float


def _close(x: np.ndarray, y: np.ndarray, rel: float) -> bool:
    return x.shape == y.shape and bool(
        np.all(np.abs(x - y) <= rel * max(1.0, float(np.max(np.abs(y), initial=0.0)))))


def _distance(b: tuple, a: tuple) -> float:
    return max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(b, a))


def _parts(w: layouts.Weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a cell computes with: Wx (4, n, m), Wh (4, n, n), the total bias (4, n)."""
    return w.Wx, w.Wh, w.stacked_bias()


def _same(b: tuple, a: tuple, rel: float) -> bool:
    return all(_close(x, y, rel) for x, y in zip(b, a))


def _gate_list(order) -> str:
    return ", ".join(SHORT[k] for k in order)


NAMED_ORDER = {"pytorch": "i, f, g, o", "keras": "i, f, c, o", "onnx": "i, o, f, c",
               "tf1": "i, j, f, o"}


def _copied_order(a_layout: str | None, b_layout: str | None) -> tuple | None:
    """The gate permutation of blocks copied from A's framework to B's without reordering:
    B's gate k then holds A's gate perm[k]."""
    if a_layout not in layouts.ORDER or b_layout not in layouts.ORDER or a_layout == b_layout:
        return None
    position_in_a = layouts.ORDER[a_layout]  # lstmcalc gate -> A's block
    gate_at = {p: k for k, p in enumerate(position_in_a)}  # A's block -> lstmcalc gate
    perm = tuple(gate_at[layouts.ORDER[b_layout][k]] for k in range(4))
    return None if perm == (0, 1, 2, 3) else perm


def _permutations(b: tuple, a_layout: str | None = None, b_layout: str | None = None):
    """(description, B with its gate blocks put in another order) for the 23 orders that are
    not the identity: B's block k read as A's gate perm[k]."""
    copied = _copied_order(a_layout, b_layout)
    for perm in itertools.permutations(range(4)):
        if perm == (0, 1, 2, 3):
            continue
        inverse = np.argsort(perm)
        moved = tuple(x[inverse] for x in b)
        swapped = [k for k in range(4) if perm[k] != k]
        if perm == copied and a_layout is not None and b_layout is not None:
            what = (f"B's gate blocks are in {a_layout}'s order ({NAMED_ORDER[a_layout]}) where "
                    f"{b_layout} reads {NAMED_ORDER[b_layout]}: the blocks were copied without "
                    "reordering")
        elif len(swapped) == 2:
            g1, g2 = (GATES[k] for k in swapped)
            what = (f"B's {g1} and {g2} gates are swapped (its blocks, read in the order "
                    f"f, i, g, o, hold A's {_gate_list(perm)})")
        else:
            what = (f"B's gates are in another order: its blocks, read in the order f, i, g, "
                    f"o, hold A's {_gate_list(perm)}")
        yield "gate_order", what, moved


def _untransposed(b_weights: layouts.Weights, layout: str | None):
    """B as it would be had each 2-d array of its layout been transposed where the port
    reshaped it (`kernel = weight_ih.reshape(m, 4n)` instead of `.T`)."""
    if layout is None:
        return
    try:
        raw = layouts.to_arrays(layout, b_weights)
    except layouts.LayoutError:
        return
    for name, value in raw.items():
        value = np.asarray(value)
        matrix = value[0] if value.ndim == 3 and value.shape[0] == 1 else value
        if matrix.ndim != 2 or matrix.shape[0] == matrix.shape[1]:
            continue
        fixed = matrix.reshape(matrix.shape[::-1]).T
        fixed = fixed[None] if value.ndim == 3 else fixed
        try:
            repaired = layouts.from_arrays(layout, {**raw, name: fixed}, b_weights.forget_bias)
        except layouts.LayoutError:
            continue
        yield ("not_transposed", f"B's {name} was reshaped where it should have been "
               f"transposed ({layout} stores it {' x '.join(map(str, matrix.shape))})",
               _parts(repaired))


def _bias_hypotheses(a: layouts.Weights, b: tuple):
    wx, wh, bias = b
    a_total = a.stacked_bias()
    two = bool(np.any(a.bx)) and bool(np.any(a.bh))
    if np.any(a_total) and not np.any(bias):
        yield "bias_missing", "B has no bias where A has one", (wx, wh, a_total)
    if two:
        yield ("bias_missing", "B holds only one of A's two biases (the input one, PyTorch's "
               "bias_ih / ONNX's Wb): the recurrent one (bias_hh / Rb) is missing",
               (wx, wh, bias + a.bh))
        yield ("bias_missing", "B holds only one of A's two biases (the recurrent one, "
               "bias_hh / Rb): the input one (bias_ih / Wb) is missing", (wx, wh, bias + a.bx))
        yield ("bias_twice", "B counts A's input bias (bias_ih / Wb) twice",
               (wx, wh, bias - a.bx))
        yield ("bias_twice", "B counts A's recurrent bias (bias_hh / Rb) twice",
               (wx, wh, bias - a.bh))
    if np.any(a_total):
        yield "bias_twice", "B's bias is twice A's (both biases added, then added again)", \
            (wx, wh, bias / 2)


def _forget_hypotheses(b: tuple):
    """B with 1 taken from or given to what B computes as its forget gate's bias (before any
    reordering: the constant sits on B's own forget row)."""
    wx, wh, bias = b
    forget = np.zeros_like(bias)
    forget[0] = 1.0
    yield ("forget_bias", "B adds 1 to the forget gate's bias where A does not (TF1's "
           "forget_bias = 1.0, or Keras's unit_forget_bias counted as a constant)",
           (wx, wh, bias - forget))
    yield ("forget_bias", "B lacks the +1 on the forget gate's bias that A adds (TF1's "
           "forget_bias = 1.0 dropped in the port)", (wx, wh, bias + forget))


def diagnose(a: layouts.Weights, b: layouts.Weights, a_direction: str, b_direction: str,
             b_layout: str | None, a_layout: str | None = None) -> list[Finding]:
    """Every single mistake that turns B's weights into A's, best first. Empty when none
    does (or when the weights are the same and so is everything else)."""
    pa, pb = _parts(a), _parts(b)
    found: list[Finding] = []
    if a.sizes != b.sizes:
        (ma, na), (mb, nb) = a.sizes, b.sizes
        return [Finding("sizes", f"A has m = {ma}, n = {na}; B has m = {mb}, n = {nb}", np.inf)]
    exact, loose = 1e-12, FLOAT32_STEP
    same_weights = _same(pb, pa, exact)
    if same_weights or _same(pb, pa, loose):
        if a.variant != b.variant:
            found.append(Finding("variant", "the weights agree, but the cells differ: A "
                                 f"computes {_variant_text(a)}, B {_variant_text(b)}", 0.0))
        if a_direction != b_direction:
            found.append(Finding("direction", f"the weights agree, but A runs {a_direction} "
                                 f"and B {b_direction} (a reversed direction, go_backwards)",
                                 0.0))
        if not same_weights:
            found.append(Finding("float32", "B's weights are A's rounded to float32 (or the "
                                 "other way): differences of float32 rounding only, largest "
                                 f"{_distance(pb, pa):.3g}", _distance(pb, pa)))
        return found
    orders = list(_permutations(pb, a_layout, b_layout))
    candidates = orders + list(_untransposed(b, b_layout))
    candidates += list(_bias_hypotheses(a, pb)) + list(_forget_hypotheses(pb))
    for key, what, moved in orders:  # a gate order and a bias mistake at once
        for key2, what2, repaired in _bias_hypotheses(a, moved):
            candidates.append((f"{key}+{key2}", f"{what}; and {what2}", repaired))
    for key2, what2, fixed in _forget_hypotheses(pb):
        for key, what, repaired in _permutations(fixed, a_layout, b_layout):
            candidates.append((f"{key}+{key2}", f"{what}; and {what2}", repaired))
    # the sizes agree (above), so B's [Wx | Wh] has the shape of A's [Wh | Wx]
    if _close(np.concatenate([b.Wx, b.Wh], axis=2), np.concatenate([a.Wh, a.Wx], axis=2),
              exact):
        candidates.append(("concat_order", "B's W multiplies [h, x] where A's multiplies "
                           "[x, h]: the columns of x and h are in the other order",
                           (a.Wx, a.Wh, pb[2])))
    candidates.append(("recurrent_transposed", "B's recurrent weights are transposed gate by "
                       "gate (W_h where A has W_hᵀ)", (pb[0], np.swapaxes(pb[1], 1, 2), pb[2])))
    for key, what, repaired in candidates:
        for rel, note in ((exact, ""), (loose, " (then equal up to float32 rounding)")):
            if _same(repaired, pa, rel):
                found.append(Finding(key, what + note, _distance(repaired, pa)))
                break
    return found


def _variant_text(w: layouts.Weights) -> str:
    return "; ".join(w.variant.describe()) or "the standard cell"


@dataclass(frozen=True)
class Agreement:
    """Both LSTMs run on the same inputs from zero state: their outputs (T, D n), final
    states, and where they differ."""

    a_output: np.ndarray
    b_output: np.ndarray
    a_c: np.ndarray
    b_c: np.ndarray
    tolerance: float
    gates: dict | None  # gate -> (largest |Δz|, largest |Δa|), for single cells

    @property
    def difference(self) -> np.ndarray:
        return np.abs(self.a_output - self.b_output)

    @property
    def largest(self) -> float:
        return float(self.difference.max(initial=0.0))

    @property
    def where(self) -> tuple[int, int]:
        """(step, unit), 0-based, of the largest output difference."""
        t, j = np.unravel_index(int(np.argmax(self.difference)), self.difference.shape)
        return int(t), int(j)

    @property
    def parting_step(self) -> int | None:
        """The first step (0-based) whose output differs by more than the tolerance."""
        over = np.nonzero(self.difference.max(axis=1) > self.tolerance)[0]
        return int(over[0]) if over.size else None

    @property
    def agree(self) -> bool:
        return self.parting_step is None and self.c_difference <= self.tolerance

    @property
    def c_difference(self) -> float:
        return float(np.max(np.abs(self.a_c - self.b_c), initial=0.0))


def agreement(a_cells: list, a_directions: tuple, b_cells: list, b_directions: tuple,
              xs: np.ndarray, tolerance: float) -> Agreement:
    ra = stack_unroll(a_cells, a_directions, xs)
    rb = stack_unroll(b_cells, b_directions, xs)
    gates = None
    single = len(a_cells) == len(b_cells) == 1 and len(a_cells[0]) == len(b_cells[0]) == 1
    if single:
        run_a, run_b = ra.runs[0][0], rb.runs[0][0]
        if run_a.z.shape == run_b.z.shape:
            gates = {gate: (float(np.max(np.abs(run_a.z[..., k, :] - run_b.z[..., k, :]))),
                            float(np.max(np.abs(run_a.a[..., k, :] - run_b.a[..., k, :]))))
                     for k, gate in enumerate(GATES)}
    final_a = np.concatenate([np.ravel(c) for c in _finals(ra)])
    final_b = np.concatenate([np.ravel(c) for c in _finals(rb)])
    return Agreement(ra.output[-1], rb.output[-1], final_a, final_b, tolerance, gates)


def _finals(run) -> list[np.ndarray]:
    c = run.final_c
    return list(c) if isinstance(c, list) else [c]
