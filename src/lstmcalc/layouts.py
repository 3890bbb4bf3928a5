"""Framework weight layouts: PyTorch, Keras, ONNX and TF1, to and from lstmcalc's own.

Pure NumPy over dicts of arrays named as each framework names them; reading and writing files
happens elsewhere. lstmcalc keeps the gates in the order f, i, g, o. The traps:

    pytorch  i, f, g, o   weight_ih_l0 (4n, m), weight_hh_l0 (4n, n);
                          two biases, bias_ih_l0 + bias_hh_l0
    keras    i, f, c, o   kernel (m, 4n), recurrent_kernel (n, 4n): transposed; one bias (4n)
    onnx     i, o, f, c   W (1, 4n, m), R (1, 4n, n), with a direction axis;
                          two biases, B (1, 8n) = [Wb, Rb]; peepholes P (1, 3n) in i, o, f
    tf1      i, j, f, o   kernel (m + n, 4n) on [x, h]; one bias (4n), plus a constant
                          forget_bias added to f (1.0 by default)

Only the standard cell in one direction and one layer is read here; peepholes (ONNX P),
projections and the other variants are refused by name rather than dropped.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from lstmcalc.core import Cell, Variant
from lstmcalc.errors import LayoutError

LAYOUTS = ("pytorch", "keras", "onnx", "tf1")
# For each layout: where lstmcalc's f, i, g, o sit among the framework's four gate blocks.
ORDER = {"pytorch": [1, 0, 2, 3], "keras": [1, 0, 2, 3], "onnx": [2, 0, 3, 1],
         "tf1": [2, 0, 1, 3]}


@dataclass(frozen=True, eq=False)
class Weights:
    """One cell's weights in lstmcalc's gate order, both biases kept apart (so that a layout
    with two biases converts back exactly): Wx (4, n, m), Wh (4, n, n), bx, bh (4, n), and a
    constant added to the forget gate's pre-activation (TF1's forget_bias); concat: the order
    of x and h in the cell's W (a config may say [h, x])."""

    Wx: np.ndarray
    Wh: np.ndarray
    bx: np.ndarray
    bh: np.ndarray
    forget_bias: float = 0.0
    variant: Variant = field(default_factory=Variant)  # peepholes, coupling, clipping, ...
    concat: tuple[str, str] = ("x", "h")

    @property
    def sizes(self) -> tuple[int, int]:
        return self.Wx.shape[2], self.Wx.shape[1]  # m, n

    def stacked_bias(self) -> np.ndarray:
        """The one bias a cell computes with: bx + bh, with the forget bias on the f row (adding
        zeros is exact, so a config with one bias computes with exactly that bias)."""
        b = self.bx + self.bh
        b[0] = b[0] + self.forget_bias
        return b

    def cell(self) -> Cell:
        """The Cell these weights compute with, its columns in concat order."""
        parts = [self.Wx, self.Wh] if self.concat == ("x", "h") else [self.Wh, self.Wx]
        return Cell(np.concatenate(parts, axis=2), self.stacked_bias(), self.concat,
                    self.variant)


def _blocks(arr: np.ndarray, layout: str, axis: int) -> np.ndarray:
    """Split the 4n axis into the framework's four blocks and reorder them to f, i, g, o."""
    parts = np.split(np.asarray(arr, dtype=np.float64), 4, axis=axis)
    return np.stack([parts[k] for k in ORDER[layout]])


def _unblocks(arr: np.ndarray, layout: str, axis: int) -> np.ndarray:
    """The inverse of _blocks: lstmcalc's (4, ...) -> the framework's stacked 4n axis."""
    parts = [arr[ORDER[layout].index(theirs)] for theirs in range(4)]
    return np.concatenate(parts, axis=axis)


def _need(arrays: dict, names: list[str], layout: str):
    missing = [name for name in names if name not in arrays]
    if missing:
        raise LayoutError(f"the {layout} layout needs {', '.join(missing)}; found "
                          f"{', '.join(sorted(arrays)) or 'nothing'}")


def _shape(name: str, arr: np.ndarray, shape: tuple):
    if arr.shape != shape:
        raise LayoutError(f"{name} has shape {arr.shape}, expected {shape}")


def _grid(name: str, arr: np.ndarray, ndim: int, what: str, gates_axis: int) -> np.ndarray:
    """arr, if it has ndim axes, none empty, and the four gates' blocks along gates_axis."""
    if arr.ndim != ndim or 0 in arr.shape:
        raise LayoutError(f"{name} has shape {arr.shape}, expected {what}")
    if arr.shape[gates_axis] % 4:
        raise LayoutError(f"{name} has shape {arr.shape}, expected {what}: "
                          f"{arr.shape[gates_axis]} is not 4n (the four gates' blocks)")
    return arr


def detect(names) -> str | None:
    """The layout the array names belong to, or None when they do not say (or say two)."""
    names = set(names)
    found = []
    if {"weight_ih_l0", "weight_hh_l0"} <= names:
        found.append("pytorch")
    # np.savez(f, *layer.get_weights()): kernel, recurrent kernel and (use_bias) the bias
    if {"kernel", "recurrent_kernel"} <= names or ({"arr_0", "arr_1"} <= names
                                                   and "arr_3" not in names):
        found.append("keras")
    if {"W", "R"} <= names:
        found.append("onnx")
    if "kernel" in names and "recurrent_kernel" not in names:
        found.append("tf1")
    return found[0] if len(found) == 1 else None


def from_arrays(layout: str, arrays: dict, forget_bias: float = 1.0) -> Weights:
    """Weights from a framework's own arrays (forget_bias: TF1's constant)."""
    a = {k: np.asarray(v) for k, v in arrays.items()}
    if layout == "pytorch":
        _need(a, ["weight_ih_l0", "weight_hh_l0"], layout)
        extra = sorted(k for k in a if k.endswith(("_l1", "_reverse")))
        if extra:
            raise LayoutError(f"more than one layer or a direction ({extra[0]}): read these "
                              "with stack_from_arrays")
        wih, whh = _grid("weight_ih_l0", a["weight_ih_l0"], 2, "(4n, m)", 0), a["weight_hh_l0"]
        n4, m = wih.shape
        n = n4 // 4
        variant = Variant()
        if "weight_hr_l0" in a:  # proj_size: h = W_hr (o * tanh(C)), p entries
            whr = np.asarray(a["weight_hr_l0"], dtype=np.float64)
            if whr.ndim != 2 or whr.shape[1] != n:
                raise LayoutError(f"weight_hr_l0 has shape {whr.shape}, expected (p, {n})")
            variant = Variant(projection=whr)
        r = n if variant.projection is None else variant.projection.shape[0]
        _shape("weight_hh_l0", whh, (4 * n, r))
        bih = a.get("bias_ih_l0", np.zeros(4 * n))
        bhh = a.get("bias_hh_l0", np.zeros(4 * n))
        _shape("bias_ih_l0", bih, (4 * n,))
        _shape("bias_hh_l0", bhh, (4 * n,))
        return Weights(_blocks(wih, layout, 0), _blocks(whh, layout, 0),
                       _blocks(bih, layout, 0), _blocks(bhh, layout, 0), variant=variant)
    if layout == "keras":
        if "kernel" not in a and "arr_0" in a:  # np.savez(f, *layer.get_weights())
            a = {"kernel": a["arr_0"], **({"recurrent_kernel": a["arr_1"]} if "arr_1" in a
                                           else {}),
                 **({"bias": a["arr_2"]} if "arr_2" in a else {})}
        _need(a, ["kernel", "recurrent_kernel"], layout)
        kernel, rec = _grid("kernel", a["kernel"], 2, "(m, 4n)", 1), a["recurrent_kernel"]
        m, n4 = kernel.shape
        n = n4 // 4
        _shape("recurrent_kernel", rec, (n, 4 * n))
        bias = a.get("bias", np.zeros(4 * n))
        _shape("bias", bias, (4 * n,))
        return Weights(_blocks(kernel.T, layout, 0), _blocks(rec.T, layout, 0),
                       _blocks(bias, layout, 0), np.zeros((4, n)))
    if layout == "onnx":
        _need(a, ["W", "R"], layout)
        W, R = a["W"], a["R"]
        if W.ndim != 3 or W.shape[0] != 1:
            raise LayoutError(f"W has shape {W.shape}: lstmcalc reads one direction, "
                              "(1, 4n, m)")
        _grid("W", W, 3, "(1, 4n, m)", 1)
        _, n4, m = W.shape
        n = n4 // 4
        _shape("R", R, (1, 4 * n, n))
        B = a.get("B", np.zeros((1, 8 * n)))
        _shape("B", B, (1, 8 * n))
        variant = Variant()
        if "P" in a and np.any(np.asarray(a["P"]) != 0):
            P = np.asarray(a["P"], dtype=np.float64)
            _shape("P", P, (1, 3 * n))
            i_, o_, f_ = np.split(P[0], 3)  # ONNX keeps the peepholes as i, o, f
            variant = Variant(peephole=np.stack([f_, i_, o_]))
        return Weights(_blocks(W[0], layout, 0), _blocks(R[0], layout, 0),
                       _blocks(B[0, :4 * n], layout, 0), _blocks(B[0, 4 * n:], layout, 0),
                       variant=variant)
    if layout == "tf1":
        _need(a, ["kernel"], layout)
        kernel = _grid("kernel", a["kernel"], 2, "(m + n, 4n)", 1)
        rows, n4 = kernel.shape
        n = n4 // 4
        proj = a.get("projection/kernel", a.get("projection_kernel"))  # (n, p): num_proj
        r = n if proj is None else np.shape(proj)[1]
        if proj is not None:
            _shape("projection/kernel", np.asarray(proj), (n, r))
        m = rows - r
        if m < 1:
            raise LayoutError(f"kernel has shape {kernel.shape}: expected (m + n, 4n)")
        bias = a.get("bias", np.zeros(4 * n))
        _shape("bias", bias, (4 * n,))
        diags = [a.get(f"w_{g}_diag") for g in ("f", "i", "o")]  # use_peepholes
        variant = Variant()
        if proj is not None or any(d is not None for d in diags):
            for g, d in zip("fio", diags):
                if d is not None:
                    _shape(f"w_{g}_diag", np.asarray(d), (n,))
            peephole = None if all(d is None for d in diags) else np.stack(
                [np.zeros(n) if d is None else np.asarray(d, dtype=np.float64) for d in diags])
            variant = Variant(peephole=peephole, projection=None if proj is None else
                              np.asarray(proj, dtype=np.float64).T)
        if "proj_clip" in a:  # TF1's constructor argument, kept beside the arrays
            clip = np.asarray(a["proj_clip"])
            if clip.shape != () or not float(clip) > 0 or proj is None:
                raise LayoutError("proj_clip must be one positive number, beside a "
                                  "projection/kernel")
            from dataclasses import replace

            variant = replace(variant, proj_clip=float(clip))
        return Weights(_blocks(kernel[:m].T, layout, 0), _blocks(kernel[m:].T, layout, 0),
                       _blocks(bias, layout, 0), np.zeros((4, n)), float(forget_bias), variant)
    raise LayoutError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")


def to_arrays(layout: str, w: Weights) -> dict:
    """A framework's own arrays from Weights. A layout with one bias gets bx + bh; TF1's
    forget_bias stays a separate constant (the caller records it), other layouts get it added
    to the forget gate's bias."""
    m, n = w.sizes
    v = w.variant
    holds = {"onnx": ("peepholes",), "pytorch": ("projection",),
             "tf1": ("peepholes", "projection", "proj_clip")}.get(layout, ())
    beyond = [v.phrase(f) for f in v.features() if f not in holds]
    if beyond:
        raise LayoutError(f"the {layout} layout cannot hold {', '.join(beyond)}")
    if layout != "tf1" and w.forget_bias:
        bx = w.bx.copy()
        bx[0] = bx[0] + w.forget_bias
        w = Weights(w.Wx, w.Wh, bx, w.bh)
    if layout == "pytorch":
        out = {"weight_ih_l0": _unblocks(w.Wx, layout, 0),
               "weight_hh_l0": _unblocks(w.Wh, layout, 0),
               "bias_ih_l0": _unblocks(w.bx, layout, 0),
               "bias_hh_l0": _unblocks(w.bh, layout, 0)}
        if v.projection is not None:
            out["weight_hr_l0"] = np.asarray(v.projection)
        return out
    one_bias = w.bx + w.bh if np.any(w.bh) else w.bx
    if layout == "keras":
        return {"kernel": _unblocks(w.Wx, layout, 0).T,
                "recurrent_kernel": _unblocks(w.Wh, layout, 0).T,
                "bias": _unblocks(one_bias, layout, 0)}
    if layout == "onnx":
        out = {"W": _unblocks(w.Wx, layout, 0)[None], "R": _unblocks(w.Wh, layout, 0)[None],
               "B": np.concatenate([_unblocks(w.bx, layout, 0),
                                    _unblocks(w.bh, layout, 0)])[None]}
        if v.peephole is not None:
            f_, i_, o_ = v.peephole
            out["P"] = np.concatenate([i_, o_, f_])[None]
        return out
    if layout == "tf1":
        kernel = np.concatenate([_unblocks(w.Wx, layout, 0), _unblocks(w.Wh, layout, 0)],
                                axis=1).T
        out = {"kernel": kernel, "bias": _unblocks(one_bias, layout, 0)}
        if v.peephole is not None:
            out.update({f"w_{g}_diag": v.peephole[k] for k, g in enumerate("fio")})
        if v.projection is not None:
            out["projection/kernel"] = np.asarray(v.projection).T
        if v.proj_clip is not None:
            out["proj_clip"] = np.array(v.proj_clip)
        return out
    raise LayoutError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")


def stack_from_arrays(layout: str, arrays: dict, forget_bias: float = 1.0):
    """Several layers and directions: ([[Weights per direction] per layer], directions).

    PyTorch names layer k's arrays *_l{k} and the backward direction *_l{k}_reverse; ONNX
    stacks the directions on W's first axis (forward, then reverse). Directions are
    ("forward",), ("reverse",) or ("forward", "reverse")."""
    a = dict(arrays)
    if layout == "pytorch":
        layers = sorted({int(match.group(1)) for k in a
                         if (match := re.fullmatch(r"weight_ih_l(\d+)(_reverse)?", k))})
        if layers != list(range(len(layers))) or not layers:
            raise LayoutError(f"the pytorch layout needs weight_ih_l0, weight_ih_l1, ...; found "
                              f"{', '.join(sorted(a))}")
        reverse = any(k.endswith("_reverse") for k in a)
        out = []
        for k in layers:
            per = []
            for suffix in ("", "_reverse") if reverse else ("",):
                names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                sub = {f"{name}_l0": a[f"{name}_l{k}{suffix}"] for name in names
                       if f"{name}_l{k}{suffix}" in a}
                per.append(from_arrays("pytorch", sub))
            out.append(per)
        return out, ("forward", "reverse") if reverse else ("forward",)
    if layout == "onnx":
        W = np.asarray(a.get("W", np.zeros((0, 0, 0))))
        if W.ndim != 3 or W.shape[0] not in (1, 2):
            return [[from_arrays(layout, a, forget_bias)]], ("forward",)
        per = []
        for d in range(W.shape[0]):
            sub = {k: np.asarray(v)[d:d + 1] for k, v in a.items()
                   if k in ("W", "R", "B", "P")}
            per.append(from_arrays("onnx", sub))
        return [per], ("forward", "reverse") if W.shape[0] == 2 else ("forward",)
    return [[from_arrays(layout, a, forget_bias)]], ("forward",)


def stack_to_arrays(layout: str, stack: list, directions: tuple) -> dict:
    """A framework's arrays for layers of cells (stack[k][d], direction directions[d]); the
    inverse of stack_from_arrays. A layout that cannot hold the stack is refused by name:
    PyTorch holds layers run forward or in both directions; ONNX one LSTM node (one layer,
    forward, reverse or both); Keras and TF1 one forward cell."""
    from lstmcalc.records import layers_text

    L = len(stack)
    if L == 1 and directions == ("forward",):
        return to_arrays(layout, stack[0][0])
    shape = layers_text(L, directions)
    if layout == "pytorch":
        if directions == ("reverse",):
            raise LayoutError("the pytorch layout cannot hold a reverse-only LSTM (nn.LSTM runs "
                              "forward, or both directions); this one is " + shape)
        if not all(isinstance(d, str) for d in directions):
            raise LayoutError("the pytorch layout runs every layer in the same directions; "
                              f"this stack mixes them ({shape})")
        out = {}
        for k, layer in enumerate(stack):
            for w, direction in zip(layer, directions):
                suffix = "" if direction == "forward" else "_reverse"
                for name, arr in to_arrays(layout, w).items():
                    out[name.replace("_l0", f"_l{k}{suffix}")] = arr
        return out
    if layout == "onnx":
        if L > 1:
            raise LayoutError(f"the onnx layout holds one LSTM node, one layer (forward, "
                              f"reverse or bidirectional); this stack has {shape}")
        per = [to_arrays(layout, w) for w in stack[0]]
        n = stack[0][0].sizes[1]
        if any("P" in p for p in per):  # a direction without peepholes has zeros there
            for p in per:
                p.setdefault("P", np.zeros((1, 3 * n)))
        return {name: np.concatenate([p[name] for p in per]) for name in per[0]}
    raise LayoutError(f"the {layout} layout holds one forward cell; this stack has {shape} "
                      "(write it as pytorch, or as a yaml or json config)")
