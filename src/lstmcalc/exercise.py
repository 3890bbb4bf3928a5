"""Problems to work by hand: a config with friendly numbers, and its answer sheet.

x, h and every weight are small integers (|v| <= range), the biases too, C_{t-1} has one
decimal; the numbers are drawn from a generator seeded with the seed and redrawn until the
step is interesting: some unit of some gate near saturation (|z| >= 4), some unit not
(|z| <= 2), and no pre-activation exactly 0 (unless zeros are allowed). The same seed gives
the same bytes. The answer sheet is in --expect's format with `_` where a number goes; the
key is the same sheet filled in.

Levels: 1, the sizes and the forget gate's pre-activation (the founding question); 2, every
gate's pre-activation; 3, also the activations and C_t; 4, the whole step and h_t.
"""

import numpy as np

from lstmcalc.core import GATES, Cell, step
from lstmcalc.errors import UsageError

DECIMALS = 4  # activations and states are asked to this many decimals
TRIES = 20_000
SHAPES = ("x", "h_prev", "c_prev", "concatenated", "W_f", "b_f")
LEVELS = {1: "the sizes of x, h, C, [x, h], W_f and b_f, and the forget gate's pre-activation",
          2: "every gate's pre-activation z = W·[x, h] + b",
          3: "every gate's pre-activation and activation, f ⊙ C_{t-1}, i ⊙ g and C_t",
          4: "the whole step: pre-activations, activations, C_t, tanh(C_t) and h_t"}


def generate(seed: int, level: int, m: int = 3, n: int = 3, span: int = 3,
             zeros: bool = False) -> dict:
    """The config (a dict: x, h, c, sequence, gates) of an interesting problem."""
    if level not in LEVELS:
        raise UsageError(f"--level {level}: choose 1, 2, 3 or 4")
    if span < 1:
        raise UsageError("--range must be at least 1")
    rng = np.random.default_rng(seed)
    batch = 512  # candidates drawn and checked at once
    for _ in range(TRIES // batch):
        x = rng.integers(-span, span + 1, (batch, m))
        h = rng.integers(-span, span + 1, (batch, n))
        c = np.round(rng.uniform(-1, 1, (batch, n)), 1) + 0.0  # + 0.0: no -0.0
        W = rng.integers(-span, span + 1, (batch, 4, n, m + n))
        b = rng.integers(-span, span + 1, (batch, 4, n))
        more = rng.integers(-span, span + 1, (batch, 2, m))
        z = np.einsum("bknj,bj->bkn", W, np.concatenate([x, h], axis=1)) + b
        size = np.abs(z).reshape(batch, -1)
        good = (size.max(axis=1) >= 4) & (size <= 2).any(axis=1)
        if not zeros:
            good &= (size != 0).all(axis=1)
        if good.any():
            k = int(np.argmax(good))
            return {"x": x[k].tolist(), "h": h[k].tolist(), "c": c[k].tolist(),
                    "sequence": [x[k].tolist(), *more[k].tolist()],
                    "gates": {g: {"W": W[k, j].tolist(), "b": b[k, j].tolist()}
                              for j, g in enumerate(GATES)}}
    raise UsageError(f"no interesting problem found in {TRIES:,} draws with --range {span} "
                     f"(m = {m}, n = {n}): widen the range")


def _row(values) -> str:
    return "[" + ", ".join(values) + "]"


def config_text(doc: dict, seed: int, level: int) -> str:
    lines = [f"# lstmcalc exercise: seed {seed}, level {level}",
             f"# work out {LEVELS[level]}",
             "# (the worked solution: lstmcalc step THIS-FILE --explain)",
             f"x: {_row(map(str, doc['x']))}    # x_t",
             f"h: {_row(map(str, doc['h']))}    # h_(t-1)",
             f"c: {_row(map(repr, doc['c']))}    # C_(t-1)",
             "sequence:    # for unroll and grad: x_1, x_2, x_3",
             *(f"  - {_row(map(str, row))}" for row in doc["sequence"]),
             "gates:    # every W is n x (m + n): x's columns, then h's"]
    for gate, entry in doc["gates"].items():
        lines.append(f"  {gate}:")
        lines.append("    W: [" + ",\n        ".join(_row(map(str, row)) for row in entry["W"])
                     + "]")
        lines.append(f"    b: {_row(map(str, entry['b']))}")
    return "\n".join(lines) + "\n"


def _asked(level: int) -> list[tuple[str, ...]]:
    """The keys (paths into --expect's object) the level asks for, in order."""
    keys: list[tuple[str, ...]] = []
    if level == 1:
        keys += [("shapes", s) for s in SHAPES]
        keys.append(("gates", "forget", "preactivation"))
        return keys
    keys += [("gates", g, "preactivation") for g in GATES]
    if level >= 3:
        keys += [("gates", g, "activation") for g in GATES]
        keys += [("forget_times_c_prev",), ("input_times_candidate",), ("c",)]
    if level == 4:
        keys += [("tanh_c",), ("h",)]
    return keys


def _written(key: tuple[str, ...], value) -> str:
    if key[0] == "shapes":
        return str(int(value))
    if key[-1] == "preactivation":
        return f"{value:.10g}"  # integers, as the friendly numbers give
    return f"{value:.{DECIMALS}f}"


def sheet_text(doc: dict, seed: int, level: int, truth: dict | None, config_name: str) -> str:
    """The answer sheet (truth None: a `_` for every number) or the key (truth: lstmcalc's
    values, written to the digits the sheet asks for)."""
    head = [f"# lstmcalc exercise: seed {seed}, level {level}: "
            + ("the answer key" if truth else "your answers"),
            f"# {LEVELS[level]};",
            f"# activations and states to {DECIMALS} decimals. Replace each _ by your number,",
            "# then check them:",
            f"#   lstmcalc step {config_name} --expect THIS-FILE"]
    tree: dict = {}
    for key in _asked(level):
        value = truth
        for part in key:
            value = value[part] if value is not None else None
        size = len(value) if value is not None else _size(doc, key)
        entries = [_written(key, v) for v in value] if value is not None else ["_"] * size
        node = tree
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = _row(entries)
    return "\n".join(head) + "\n" + _yaml(tree, 0)


def _size(doc: dict, key: tuple[str, ...]) -> int:
    if key[0] == "shapes":
        return 2 if key[1].startswith("W_") else 1
    return len(doc["h"])


def _yaml(tree: dict, indent: int) -> str:
    out = ""
    for name, value in tree.items():
        if isinstance(value, dict):
            out += " " * indent + f"{name}:\n" + _yaml(value, indent + 2)
        else:
            out += " " * indent + f"{name}: {value}\n"
    return out


def key_truth(doc: dict) -> dict:
    """lstmcalc's values for the problem, as --expect's object (reports.truth)."""
    from lstmcalc import reports

    W = np.array([doc["gates"][g]["W"] for g in GATES], dtype=np.float64)
    b = np.array([doc["gates"][g]["b"] for g in GATES], dtype=np.float64)
    result = step(Cell(W, b), doc["x"], doc["h"], doc["c"])
    return reports.truth(reports.step_report("", result))
