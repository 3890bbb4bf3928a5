"""A config file (YAML or JSON) -> a validated, frozen Spec, with FILE:LINE:COL on every error.

    x: [1, 2, 3]            # x_t, m entries (or a batch: a list of such lists)
    h: [4, 5, 6]            # h_{t-1}; zeros when left out
    c: [0.1, 0.2, 0.3]      # C_{t-1}; zeros when left out
    concat: [x, h]          # order inside W . [.,.]; default [x, h]
    gates:                  # forget, input, candidate, output (aliases f, i, g/c, o)
      forget: {W: [[...]], b: [...]}   # or {Wx: [[...]], Wh: [[...]], b: [...]}
      ...
    sequence: [[...], ...]  # optional: x_1..x_T for unroll
"""

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, NoReturn

import numpy as np

from lstmcalc.core import GATES, OUTPUT_ACTIVATIONS, Cell, OutputLayer
from lstmcalc.core.types import NUMPY_FLOATS
from lstmcalc.document import (MAX_BYTES, Map, Node, NumItems, Seq, decode, number, parse,
                               read_input)
from lstmcalc.errors import DataError, DataErrors
from lstmcalc.layouts import Weights

CELL_KEYS = ("concat", "gates", "forget_bias", "peepholes", "coupled", "clip", "cell_clip",
             "activations", "projection")
TOP_KEYS = ("x", "h", "c", "concat", "gates", "sequence", "output_layer", "forget_bias",
            "peepholes", "coupled", "clip", "cell_clip", "activations", "projection", "layers",
            "direction")
ACTIVATION_ROLES = ("gates", "candidate", "cell")
OUTPUT_KEYS = ("W", "b", "activation")
GATE_KEYS = ("W", "Wx", "Wh", "b", "bh")
GATE_ALIASES = {"f": "forget", "i": "input", "g": "candidate", "c": "candidate", "o": "output"}
BUILTIN_NAME = "founding.yaml"


@dataclass(frozen=True, eq=False)
class Spec:
    """What a config says: the weights (of the first cell, and of every cell of a stack), and
    the inputs it gives (None where it gives none)."""

    source: str
    weights: Weights  # both biases and the forget bias kept apart
    x: np.ndarray | None  # (m,) or (B, m)
    h: np.ndarray | None  # (n,) or (B, n)
    c: np.ndarray | None  # (n,) or (B, n)
    sequence: np.ndarray | None  # (T, m)
    output: OutputLayer | None = None  # y_t = activation(W_y h_t + b_y)
    gate_names: tuple = ("forget", "input", "candidate", "output")  # as written, GATES order
    split: tuple = (False, False, False, False)  # gave Wx and Wh instead of W, GATES order
    stack: list | None = None  # [[Weights per direction] per layer], for more than one cell
    directions: tuple = ("forward",)
    layout: str | None = None  # a weight file's layout (pytorch, keras, onnx, tf1)
    # a ragged batch's lengths (an ONNX node's sequence_lens, (B,)), or the name of the graph
    # input that gives them at run time (then --lengths must), or None
    lengths: np.ndarray | str | None = None

    @cached_property
    def cell(self) -> Cell:
        """The (first) cell, computed from the weights once."""
        return self.weights.cell()

    @property
    def is_stack(self) -> bool:
        return self.stack is not None and (len(self.stack) > 1 or
                                           self.directions != ("forward",))

    def _narrow(self, dtype: str):
        """--dtype's narrow format (core.formats), or None for a NumPy float; refused for a
        stack, whose cells a narrow format does not compute yet."""
        if dtype in NUMPY_FLOATS:  # without core.formats' import
            return None
        from lstmcalc.core import formats

        narrow = formats.parse(dtype)
        if narrow is not None and self.is_stack:
            from lstmcalc.errors import Unsupported

            raise Unsupported(f"--dtype {narrow} computes one cell; this file holds "
                              "layers or directions: use float32 or float64")
        return narrow

    def stack_cells(self, dtype) -> list:
        """The stack's cells in dtype: [[Cell per direction] per layer]."""
        assert self.stack is not None
        self._narrow(str(dtype))
        return [[w.cell().astype(dtype) for w in layer] for layer in self.stack]

    def cell_in(self, dtype: str) -> Cell:
        """The (first) cell in the arithmetic --dtype names: float64, float32, or a narrow
        format (core.formats), whose weights are rounded to it with the two biases apart."""
        narrow = self._narrow(dtype)
        if narrow is None:
            return self.cell.astype(dtype)
        from lstmcalc.core import reduced

        return reduced.quantize_cell(narrow, self.cell, self.weights.bh)


def builtin_text() -> str:
    """The founding worked example, as shipped inside the package."""
    from importlib import resources

    return resources.files("lstmcalc").joinpath("data").joinpath(BUILTIN_NAME).read_text("utf-8")


def load_builtin() -> Spec:
    return parse_spec(builtin_text(), f"<built-in {BUILTIN_NAME}>")


def load(path: str, max_bytes: int = MAX_BYTES) -> Spec:
    """A config file's Spec: JSON in the usual shape through the fast path (fastpath.py),
    everything else, and anything the fast path declines, through the located reader."""
    source, data = read_input(path, max_bytes)
    text = decode(data, source)
    as_json = looks_like_json(source, text)
    if as_json:
        from lstmcalc import fastpath

        fast = fastpath.spec(text, source)
        if fast is not None:
            return fast
    return parse_spec(text, source, json=as_json)


def looks_like_json(source: str, text: str) -> bool:
    if source.lower().endswith(".json"):
        return True
    if source.lower().endswith((".yaml", ".yml")):
        return False
    return text.lstrip()[:1] in ("{", "[")


class _Checker:
    """Validates located nodes; every error names the place and what was expected."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[DataError] = []  # problems noted to go on looking (bad numbers, rows)

    def fail(self, node: Node, message: str) -> NoReturn:
        """A problem past which nothing can be checked: with those noted before it."""
        self.note(DataError(message, self.source, node.line, node.col))
        raise self.problems()

    def note(self, error: DataError) -> None:
        """A problem after which checking goes on, so that one run names up to 20."""
        self.found.append(error)
        if len(self.found) >= DataErrors.MAX:
            raise self.problems()

    def problems(self) -> DataError:
        return self.found[0] if len(self.found) == 1 else DataErrors(self.found)

    def done(self) -> None:
        """Raise what was noted, if anything."""
        if self.found:
            raise self.problems()

    def number(self, node: Node, what: str) -> float:
        try:
            return number(node, what, self.source)
        except DataError as e:
            self.note(e)
            return 0.0

    def mapping(self, node: Node, what: str, allowed, aliases=None) -> dict[str, tuple]:
        """{canonical key: (written key, value node)}; unknown and doubled keys refused."""
        if not isinstance(node, Map):
            self.fail(node, f"{what} must be a mapping with keys {', '.join(allowed)}; "
                            f"found {node.kind}")
        aliases = aliases or {}
        out: dict[str, tuple] = {}
        for written, (key, value) in node.items.items():
            canonical = aliases.get(written, written)
            if canonical not in allowed:
                hint = _did_you_mean(written, list(allowed) + list(aliases))
                self.fail(key, f"unknown key '{written}' in {what}{hint}; "
                               f"expected one of: {', '.join(allowed)}")
            if canonical in out:
                first_key = node.items[out[canonical][0]][0]
                self.fail(key, f"'{written}' and '{out[canonical][0]}' (line {first_key.line}) "
                               f"both give {what}.{canonical}")
            out[canonical] = (written, value)
        return out

    def vector(self, node: Node, what: str, size: int | None = None, size_note: str = ""):
        if not isinstance(node, Seq):
            self.fail(node, f"{what} must be a list of numbers, found {node.kind}")
        if not node.items:
            self.fail(node, f"{what} is empty" + (f", expected {size} entries{size_note}"
                                                  if size else ""))
        if size is not None and len(node.items) != size:
            self.fail(node, f"{what} has {len(node.items)} entries, expected {size}{size_note}")
        if isinstance(node.items, NumItems):  # plain numbers, read already
            return list(node.items.values)
        return [self.number(item, f"{what}[{k + 1}]") for k, item in enumerate(node.items)]

    def matrix(self, node: Node, what: str, rows: int | None, cols: int | None,
               rows_note: str = "", cols_note: str = ""):
        if not isinstance(node, Seq) or not node.items or not isinstance(node.items[0], Seq):
            found = "an empty list" if isinstance(node, Seq) and not node.items else (
                "a list of numbers" if isinstance(node, Seq) else node.kind)
            self.fail(node, f"{what} must be a matrix (a list of rows), found {found}")
        if rows is not None and len(node.items) != rows:
            self.fail(node, f"{what} has {len(node.items)} rows, expected {rows}{rows_note}")
        out: list = []  # rows: lists of numbers, or NumItems' arrays
        for r, row in enumerate(node.items, start=1):
            if not isinstance(row, Seq):
                self.fail(row, f"{what} row {r} must be a list of numbers, found {row.kind}")
            if cols is None:
                cols = len(row.items)
            if len(row.items) != cols:  # noted; the row is read as zeros to go on
                self.note(DataError(f"{what} row {r} has {len(row.items)} columns, expected "
                                    f"{cols}{cols_note}", self.source, row.line, row.col))
                out.append([0.0] * cols)
                continue
            if isinstance(row.items, NumItems):  # plain numbers, read already
                out.append(row.items.values)
                continue
            out.append([self.number(v, f"{what} row {r} column {k}")
                        for k, v in enumerate(row.items, start=1)])
        return out

    def vector_or_batch(self, node: Node, what: str, size: int, note: str) -> np.ndarray:
        """A vector of `size` numbers, or a batch: a list of such vectors."""
        if isinstance(node, Seq) and node.items and isinstance(node.items[0], Seq):
            return np.array(self.matrix(node, what, None, size, cols_note=note))
        return np.array(self.vector(node, what, size, note))


def _did_you_mean(written: str, choices: list[str]) -> str:
    import difflib

    by_lower = {choice.lower(): choice for choice in choices}
    near = difflib.get_close_matches(written.lower(), list(by_lower), n=1)
    return f" (did you mean '{by_lower[near[0]]}'?)" if near else ""


def _width(node: Node) -> int | None:
    """The width of a vector, or of a matrix's first row; None if the node is neither."""
    if isinstance(node, Seq) and node.items:
        first = node.items[0]
        return len(first.items) if isinstance(first, Seq) else len(node.items)
    return None


def parse_spec(text: str, source: str, json: bool = False) -> Spec:
    root = parse(text, source, json=json, compact=True)
    check = _Checker(source)
    if not isinstance(root, Map):
        check.fail(root, "the top level must be a mapping with keys "
                         f"{', '.join(TOP_KEYS)}; found {root.kind}")
    top = check.mapping(root, "the config", TOP_KEYS)
    if "layers" in top:
        return _parse_stack(root, top, check, source)
    if "direction" in top:
        check.fail(top["direction"][1], "direction goes with layers")
    if "gates" not in top:
        check.fail(root, "missing key 'gates' (the weights of the forget, input, candidate "
                         "and output gates)")
    m_given = None
    for key in ("x", "sequence"):
        if key in top and _width(top[key][1]):
            m_given = (_width(top[key][1]), key)
            break
    one = _parse_cell(top, root, check, source, "", m_given)
    n, n_note, r, r_note, m, m_note = one.n, one.n_note, one.r, one.r_note, one.m, one.m_note

    def optional(key, size, note):
        return check.vector_or_batch(top[key][1], key, size, note) if key in top else None

    sequence = None
    if "sequence" in top:
        sequence = np.array(check.matrix(top["sequence"][1], "sequence", None, m,
                                         cols_note=m_note))
    output = None
    if "output_layer" in top:
        node = top["output_layer"][1]
        layer = {key: value for key, (_, value) in
                 check.mapping(node, "output_layer", OUTPUT_KEYS).items()}
        if "W" not in layer or "activation" not in layer:
            lacking = "W" if "W" not in layer else "activation"
            check.fail(node, f"output_layer: missing {lacking} (give W, q x n, and activation: "
                             f"{', '.join(OUTPUT_ACTIVATIONS)}; b is optional)")
        act = layer["activation"]
        if getattr(act, "text", None) not in OUTPUT_ACTIVATIONS or not hasattr(act, "tag"):
            check.fail(act, f"output_layer.activation must be one of "
                            f"{', '.join(OUTPUT_ACTIVATIONS)}")
        Wy = np.array(check.matrix(layer["W"], "output_layer.W", None, r, cols_note=r_note))
        q = Wy.shape[0]
        by = np.array(check.vector(layer["b"], "output_layer.b", q, f" (q = {q}, the rows of "
                                   "output_layer.W)")) if "b" in layer else np.zeros(q)
        output = OutputLayer(Wy, by, act.text)
    x, h, c = optional("x", m, m_note), optional("h", r, r_note), optional("c", n, n_note)
    check.done()
    return Spec(source, one.weights, x, h, c, sequence, output, one.names, one.split)


def _parse_stack(root, top: dict, check: "_Checker", source: str) -> Spec:
    """layers: [CELL, ...] (or [{forward: CELL, reverse: CELL}, ...] with direction
    bidirectional), each CELL the keys of a one-cell config; layer k + 1 reads layer k's
    outputs, the directions side by side. Without a direction, each layer may say its own:
    a CELL runs forward, {forward: CELL, reverse: CELL} both ways, {reverse: CELL} in
    reverse (a mixed stack)."""
    mixed = [key for key in CELL_KEYS if key in top]
    for key in mixed + [k for k in ("h", "c", "output_layer") if k in top]:
        check.fail(top[key][1], f"'{key}' does not go with layers: "
                                + ("give it inside each layer" if key in CELL_KEYS else
                                   "stacks start from zero states and have no output layer "
                                   "yet"))
    direction = None
    if "direction" in top:
        node = top["direction"][1]
        direction = getattr(node, "text", None)
        if direction not in ("forward", "reverse", "bidirectional"):
            check.fail(node, "direction must be forward, reverse or bidirectional")
    layers_node = top["layers"][1]
    if not isinstance(layers_node, Seq) or not layers_node.items:
        check.fail(layers_node, "layers must be a list of cells (each with its gates)")
    m_given = None
    for key in ("x", "sequence"):
        if key in top and _width(top[key][1]):
            m_given = (_width(top[key][1]), key)
            break
    stack, first_m, first_note = [], None, ""
    per_layer: list[tuple[str, ...]] = []
    for k, layer_node in enumerate(layers_node.items, start=1):
        keys = set(layer_node.items) if isinstance(layer_node, Map) else set()
        own = direction is None and keys and keys <= {"forward", "reverse"}
        if direction == "bidirectional" or own:
            both = check.mapping(layer_node, f"layers[{k}]", ("forward", "reverse"))
            missing = [d for d in ("forward", "reverse") if d not in both]
            if missing and direction == "bidirectional":
                check.fail(layer_node, f"layers[{k}]: missing {missing[0]} (a bidirectional "
                                       "layer has a forward and a reverse cell)")
            dirs = tuple(d for d in ("forward", "reverse") if d in both)
            cells = [(f"layers[{k}].{d}.", both[d][1]) for d in dirs]
        else:
            dirs = (direction or "forward",)
            cells = [(f"layers[{k}].", layer_node)]
        per_layer.append(dirs)
        per, width = [], 0
        for prefix, node in cells:
            sub = check.mapping(node, prefix.rstrip("."), CELL_KEYS)
            if "gates" not in sub:
                check.fail(node, f"{prefix}gates: missing (the layer's gate weights)")
            parsed = _parse_cell(sub, node, check, source, prefix, m_given)
            per.append(parsed.weights)
            width += parsed.r
            if first_m is None:
                first_m, first_note = parsed.m, parsed.m_note
        stack.append(per)
        m_given = (width, f"the outputs of layers[{k}]")
    sequence = None
    if "sequence" in top:
        sequence = np.array(check.matrix(top["sequence"][1], "sequence", None, first_m,
                                         cols_note=first_note))
    assert first_m is not None  # layers holds at least one cell
    x = check.vector_or_batch(top["x"][1], "x", first_m, first_note) if "x" in top else None
    first = stack[0][0]
    directions: tuple = per_layer[0] if len(set(per_layer)) == 1 else tuple(per_layer)
    check.done()
    return Spec(source, first, x, None, None, sequence, None, stack=stack,
                directions=directions)


class ParsedCell(NamedTuple):
    """One cell of a config, and the sizes its other keys are checked against."""

    weights: Weights
    names: tuple[str, ...]  # the gates' names as written, GATES order
    split: tuple[bool, ...]  # gave Wx and Wh instead of W, GATES order
    n: int  # units: the rows of every gate
    n_note: str  # where n comes from, for messages
    r: int  # entries of h: n, or p with a projection
    r_note: str
    m: int  # entries of x
    m_note: str


def _parse_cell(top: dict, anchor, check: "_Checker", source: str, p: str,
                m_given) -> ParsedCell:
    """One cell from the keys of a config (or of one layer, whose messages start with p).
    m_given: (m, where it comes from), or None to take m from the weights."""

    concat = ("x", "h")
    if "concat" in top:
        node = top["concat"][1]
        parts = [getattr(item, "text", None) for item in getattr(node, "items", [])]
        if not isinstance(node, Seq) or sorted(map(str, parts)) != ["h", "x"]:
            check.fail(node, f"{p}concat must be [x, h] or [h, x]")
        concat = (str(parts[0]), str(parts[1]))

    coupled = False
    if "coupled" in top:
        node = top["coupled"][1]
        if getattr(node, "tag", None) != "tag:yaml.org,2002:bool":
            check.fail(node, f"{p}coupled must be true or false")
        coupled = node.text.lower() in ("true", "yes", "on", "y")
    gates_node = top["gates"][1]
    gates = check.mapping(gates_node, f"{p}gates", GATES, GATE_ALIASES)
    if coupled and "forget" in gates:
        check.fail(gates[("forget")][1], "coupled: true makes f = 1 - i: give no forget gate")
    missing = [g for g in GATES if g not in gates and not (coupled and g == "forget")]
    if missing:
        check.fail(gates_node, f"{p}gates: missing {', '.join(repr(g) for g in missing)} "
                               f"(expected {', '.join(GATES)})")
    entries: dict[str, tuple[str, dict]] = {}
    for gate in GATES:
        if gate not in gates:  # the forget gate of a coupled cell
            entries[gate] = (gate, {})
            continue
        written, node = gates[gate]
        entry = {key: value for key, (_, value) in
                 check.mapping(node, f"{p}gates.{written}", GATE_KEYS).items()}
        if "W" in entry and ("Wx" in entry or "Wh" in entry):
            check.fail(node, f"{p}gates.{written}: give either W or Wx and Wh, not both")
        if "W" not in entry and not ("Wx" in entry and "Wh" in entry):
            lacking = "Wh" if "Wx" in entry else "Wx" if "Wh" in entry else "W"
            check.fail(node, f"{p}gates.{written}: missing {lacking} "
                             "(give W, n x (m + n), or Wx, n x m, and Wh, n x n)")
        entries[gate] = (written, entry)

    # n from the forget gate's rows; m from x, else the sequence, else the forget gate's columns.
    f_written, f_entry = entries["input" if coupled else "forget"]
    f_matrix = f_entry.get("W", f_entry.get("Wx"))
    if not isinstance(f_matrix, Seq) or not f_matrix.items:  # refused, with its place:
        check.matrix(f_matrix or anchor, f"{p}gates.{f_written}.{'W' if 'W' in f_entry else 'Wx'}",
                     None, None)
    assert isinstance(f_matrix, Seq)
    n = len(f_matrix.items)
    n_note = f" (n = {n}, the rows of {p}gates.{f_written})"
    # r, the size of h: n, or p with a projection (h = W_hr (o * tanh(C)))
    projection, proj_clip = None, None
    r, r_note, r_name = n, n_note, "n"
    if "projection" in top:
        node = top["projection"][1]
        proj = check.mapping(node, f"{p}projection", ("W", "clip"))
        if "W" not in proj:
            check.fail(node, f"{p}projection: missing W (p x n: h_t = W (o * tanh(C_t)))")
        projection = np.array(check.matrix(proj["W"][1], f"{p}projection.W", None, n,
                                           cols_note=n_note))
        if "clip" in proj:
            proj_clip = number(proj["clip"][1], f"{p}projection.clip", source)
            if proj_clip <= 0:
                check.fail(proj["clip"][1], f"{p}projection.clip must be positive, got "
                                            f"{proj_clip:g}")
        r = projection.shape[0]
        r_note, r_name = f" (p = {r}, the rows of {p}projection.W)", "p"
    m = None
    if m_given is not None:
        m, m_from = m_given
    if m is None:
        if "Wx" in f_entry:
            m, m_from = _width(f_entry["Wx"]), f"{p}gates.{f_written}.Wx"
        else:
            width = _width(f_matrix) or 0
            if width <= r:
                check.fail(f_matrix, f"{p}gates.{f_written}.W has {width} columns, expected "
                                     f"more than {r} (m + {r_name} columns, with m >= 1)")
            m, m_from = width - r, f"{p}gates.{f_written}.W"
    if not m:
        check.fail(top.get("x", (None, anchor))[1], "cannot tell the input size m")
    m_note = f" (m = {m}, from {m_from})"
    mn_note = f" (m + {r_name} = {m} + {r})"

    W = np.zeros((4, n, m + r))
    b = np.zeros((4, n))
    bh = np.zeros((4, n))  # a second bias (PyTorch's bias_hh, ONNX's Rb), added to b
    for k, gate in enumerate(GATES):
        written, entry = entries[gate]
        where = f"{p}gates.{written}"
        if not entry:  # a coupled cell's forget gate: no weights of its own
            continue
        if "W" in entry:
            W[k] = check.matrix(entry["W"], f"{where}.W", n, m + r, n_note, mn_note)
        else:
            Wx = check.matrix(entry["Wx"], f"{where}.Wx", n, m, n_note, m_note)
            Wh = check.matrix(entry["Wh"], f"{where}.Wh", n, r, n_note, r_note)
            W[k] = np.hstack([Wx, Wh] if concat == ("x", "h") else [Wh, Wx])
        if "b" in entry:
            b[k] = check.vector(entry["b"], f"{where}.b", n, n_note)
        if "bh" in entry:
            bh[k] = check.vector(entry["bh"], f"{where}.bh", n, n_note)

    forget_bias = 0.0
    if "forget_bias" in top:
        forget_bias = number(top["forget_bias"][1], f"{p}forget_bias", source)
    xs, hs = (slice(0, m), slice(m, m + r)) if concat == ("x", "h") else \
        (slice(r, m + r), slice(0, r))
    variant = _variant(top, check, n, n_note, coupled, source, projection, p, proj_clip)
    weights = Weights(W[:, :, xs], W[:, :, hs], b, bh, forget_bias, variant, concat)
    return ParsedCell(weights, tuple(entries[g][0] for g in GATES),
                      tuple("W" not in entries[g][1] for g in GATES), n, n_note, r, r_note, m,
                      m_note)


def _variant(top: dict, check: "_Checker", n: int, n_note: str, coupled: bool, source: str,
             projection=None, p: str = "", proj_clip: float | None = None):
    """The cell variant the config asks for (the standard cell when it asks for none)."""
    from lstmcalc.core.activations import Activation
    from lstmcalc.core import Variant

    peephole = None
    if "peepholes" in top:
        node = top["peepholes"][1]
        given = check.mapping(node, f"{p}peepholes", ("forget", "input", "output"),
                              {"f": "forget", "i": "input", "o": "output"})
        if coupled and "forget" in given:
            check.fail(given["forget"][1], "coupled: true gives f no pre-activation, so no "
                                           "forget peephole")
        peephole = np.zeros((3, n))
        for k, gate in enumerate(("forget", "input", "output")):
            if gate in given:
                peephole[k] = check.vector(given[gate][1], f"{p}peepholes.{given[gate][0]}", n,
                                           n_note)

    def positive(key):
        if key not in top:
            return None
        value = number(top[key][1], f"{p}{key}", source)
        if value <= 0:
            check.fail(top[key][1], f"{p}{key} must be positive, got {value:g}")
        return value

    roles = {}
    if "activations" in top:
        given = check.mapping(top["activations"][1], f"{p}activations", ACTIVATION_ROLES)
        for role, (written, node) in given.items():
            if isinstance(node, Map):
                spec = check.mapping(node, f"{p}activations.{written}",
                                     ("name", "alpha", "beta"))
                name_node = spec.get("name", (None, node))[1]
                params = {k: number(spec[k][1], f"{p}activations.{written}.{k}", source)
                          for k in ("alpha", "beta") if k in spec}
            else:
                name_node, params = node, {}
            name = getattr(name_node, "text", None)
            if name not in Activation.NAMES:
                check.fail(name_node, f"{p}activations.{written} must be one of "
                                      f"{', '.join(Activation.NAMES)}")
            roles[{"gates": "gate", "candidate": "candidate", "cell": "cell"}[role]] = \
                Activation(name, **params)
    return Variant(peephole, coupled, positive("clip"), positive("cell_clip"),
                   projection=projection, proj_clip=proj_clip, **roles)


def _document(path: str, max_bytes: int, records: bool = False) -> tuple[Node, "_Checker"]:
    """A small YAML or JSON document (a state, an upstream gradient) and its checker.
    records: a JSONL stream (lstmcalc's own -f jsonl) stands for its last record."""
    source, data = read_input(path, max_bytes)
    text = decode(data, source)
    lines = text.splitlines()
    filled = [k for k, line in enumerate(lines) if line.strip()]
    if records and len(filled) > 1 and all(lines[k].lstrip().startswith("{") for k in filled):
        # keep the last record where it stands, so that messages give its own line
        text = "\n" * filled[-1] + lines[filled[-1]] + "\n"
        return parse(text, source, json=True), _Checker(source)
    return parse(text, source, json=looks_like_json(source, text), compact=True), \
        _Checker(source)


def load_state(path: str, n: int, max_bytes: int = MAX_BYTES,
               r: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """h (r entries: n, or p with a projection) and c (n entries) from lstmcalc's own JSON or
    YAML output (other keys there are ignored)."""
    r = n if r is None else r
    root, check = _document(path, max_bytes, records=True)
    if not isinstance(root, Map):
        check.fail(root, f"a state must be a mapping with keys h and c; found {root.kind}")
    state = []
    for key in ("h", "c"):
        if key not in root.items:
            check.fail(root, f"missing key '{key}' (a state holds h and c, as the JSON or "
                             "YAML output of lstmcalc step does)")
        size = r if key == "h" else n
        note = f" (n = {n})" if size == n else f" (p = {r})"
        state.append(check.vector_or_batch(root.items[key][1], key, size, note))
    check.done()
    return state[0], state[1]


def load_stack_state(path: str, sizes: list[tuple[int, int]], max_bytes: int = MAX_BYTES):
    """A stack's initial h and c, one entry per layer and direction in PyTorch's h_0 order
    (sizes: each entry's (r, n)): the layout `lstmcalc unroll --final` writes for a stack.
    Arrays (L D, ..., n) where every layer has the same size, else lists of arrays."""
    root, check = _document(path, max_bytes, records=True)
    if not isinstance(root, Map):
        check.fail(root, f"a state must be a mapping with keys h and c; found {root.kind}")
    count = len(sizes)
    state: list = []
    for key, which in (("h", 0), ("c", 1)):
        if key not in root.items:
            check.fail(root, f"missing key '{key}' (a state holds h and c, as the JSON or "
                             "YAML output of lstmcalc unroll --final does)")
        node = root.items[key][1]
        if not isinstance(node, Seq) or len(node.items) != count or not all(
                isinstance(item, Seq) and item.items for item in node.items):
            check.fail(node, f"{key} must hold {count} entries, one per layer and direction "
                             "(PyTorch's h_0 order), each a list of numbers or a batch of them")
        rows = [check.vector_or_batch(item, f"{key}[{j + 1}]", size[which],
                                      f" ({size[which]} units)")
                for j, (item, size) in enumerate(zip(node.items, sizes))]
        if len({row.shape[:-1] for row in rows}) != 1:
            check.fail(node, f"{key}: the layers' entries have different batch sizes")
        state.append(np.stack(rows) if len({row.shape for row in rows}) == 1 else rows)
    if state[0][0].shape[:-1] != state[1][0].shape[:-1]:
        check.fail(root, "h and c have different batch sizes")
    check.done()
    return state[0], state[1]


def load_upstream(path: str, h: np.ndarray, c_size: int | None, max_bytes: int):
    """dh (r entries for h_T, or T x r) and dc (c_size entries) from a YAML or JSON file with
    keys dh and dc. h: the outputs the gradient is of, (T, ..., r); c_size None: no dc
    (a stack's loss reads its output only)."""
    root, check = _document(path, max_bytes)
    if not isinstance(root, Map) or not ({"dh", "dc"} & set(root.items)):
        check.fail(root, "an upstream gradient is a mapping with dh and/or dc")
    items = check.mapping(root, "the upstream gradient", ("dh", "dc"))
    T, r = h.shape[0], h.shape[-1]
    dh = np.zeros_like(h)
    if "dh" in items:
        node = items["dh"][1]
        given = check.vector_or_batch(node, "dh", r, f" (n = {r})" if r == c_size
                                      else f" ({r} outputs)" if c_size is None else f" (p = {r})")
        if given.ndim == 1:
            dh[-1] = given
        elif given.shape[0] == T and h.ndim == 2:
            dh[:] = given
        else:
            check.fail(node, f"dh has {given.shape[0]} rows; give {r} numbers for h_T, or "
                             f"T = {T} rows for every step")
    dc = None
    if "dc" in items:
        if c_size is None:
            check.fail(root.items[items["dc"][0]][0], "dc: the loss of a stacked or "
                       "bidirectional LSTM reads its output only; give dh")
        dc = np.array(check.vector(items["dc"][1], "dc", c_size, f" (n = {c_size})"))
    check.done()
    return dh, dc
