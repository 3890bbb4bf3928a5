"""Reading and writing framework weight files: .npz and .safetensors (any layout), PyTorch
state dicts and checkpoints (.pt, .pth) and ONNX models (.onnx); a file may hold several LSTMs
(models.py tells them apart). torch and onnx are optional extras, imported only here and
only when such a file is read or written."""

import io
import math
import re
import warnings

import numpy as np

from lstmcalc import arrays, layouts, models
from lstmcalc.document import read_input
from lstmcalc.errors import DataError, LayoutError, MissingExtra, UsageError

def _npz(data: bytes, source: str, max_bytes: int) -> dict:
    return arrays.load_npz(data, source, max_bytes)


def _torch(data: bytes, source: str, max_bytes: int) -> dict:
    """Every value of a state dict or checkpoint, by its flattened (dotted) name."""
    try:
        import torch
    except ImportError:
        raise MissingExtra("reading a .pt file", "PyTorch", "torch") from None
    try:
        with warnings.catch_warnings():  # what torch warns of is said as an error, if at all
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        pickled = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if pickled:  # a whole model or other object, which only unpickling code could build
            raise DataError(f"the file holds a pickled {pickled.group(1)}, not a state dict; "
                            "lstmcalc loads weights only (save model.state_dict())",
                            source) from None
        first = str(e).strip().split("\n")[0][:200]
        raise DataError(f"not a readable PyTorch state dict: {type(e).__name__}: {first}",
                        source) from None
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise DataError("a .pt file must hold a state dict (name -> tensor)", source)
    for key, value in state.items():
        if not isinstance(key, str) and isinstance(value, torch.Tensor):
            raise DataError(f"the state dict has a key that is not a name: {key!r}", source)
    return models.flatten(state)


def _torch_array(key: str, value, source: str, max_bytes: int) -> np.ndarray:
    """One tensor as a checked float64 array."""
    import torch

    if value.layout != torch.strided or value.is_meta or value.is_quantized:
        kind = "meta" if value.is_meta else "quantized" if value.is_quantized else \
            str(value.layout).replace("torch.", "")
        raise DataError(f"{key} is a {kind} tensor; lstmcalc reads dense ones", source)
    if value.is_complex() or value.dtype == torch.bool:
        raise DataError(f"{key} holds {str(value.dtype).replace('torch.', '')} values, "
                        "not real weights", source)
    # a view may claim far more entries than its storage holds: check before building it
    arrays.check_size(key, tuple(value.shape), 8, source, max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return arrays.numeric(key, value.detach().to(torch.float64).numpy(), source)


def dtype_name(value) -> str:
    """float32, float64, bfloat16, ... of a NumPy array or a torch tensor."""
    return str(value.dtype).replace("torch.", "")


def _external_path(t, folder: str | None, source: str) -> tuple[str, int, int]:
    """(file, offset, length) of an initializer's external data, which must lie in the
    model's own folder: no absolute path, no .., no symlink leading out."""
    import os

    entries = {e.key: e.value for e in t.external_data}
    location = entries.get("location", "")
    if folder is None:
        raise DataError(f"{t.name} keeps its data in {location!r}, which a model read from "
                        "stdin cannot point to", source)
    parts = location.replace("\\", "/").split("/")
    if not location or os.path.isabs(location) or ".." in parts:
        raise DataError(f"{t.name} keeps its data at {location!r}: external data must lie in "
                        "the model's own folder", source)
    path = os.path.realpath(os.path.join(folder, location))
    if os.path.dirname(path) != folder and not path.startswith(folder + os.sep):
        raise DataError(f"{t.name} keeps its data at {location!r}, which leads out of the "
                        "model's folder", source)
    try:
        offset = int(entries.get("offset", 0))
        length = int(entries["length"]) if "length" in entries else -1
    except ValueError:
        raise DataError(f"{t.name}: its external data's offset and length must be whole "
                        "numbers", source) from None
    return path, offset, length


def _read_external(t, folder: str | None, source: str):
    """A copy of initializer t holding its external data, read from the model's folder after
    its size is checked against the tensor's."""
    import os

    import onnx

    path, offset, length = _external_path(t, folder, source)
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:  # noqa: BLE001 - an unknown data type
        raise DataError(f"{t.name} has data type {t.data_type}, not one lstmcalc reads",
                        source) from None
    need = math.prod(t.dims) * itemsize
    if length not in (-1, need):
        raise DataError(f"{t.name}: its external data is {length} bytes, its shape "
                        f"{list(t.dims)} needs {need}", source)
    try:
        size = os.stat(path).st_size
        if offset < 0 or offset + need > size:
            raise DataError(f"{t.name}: {os.path.basename(path)} holds {size} bytes, the tensor "
                            f"needs {need} from offset {offset}", source)
        with open(path, "rb") as f:
            f.seek(offset)
            raw = f.read(need)
    except OSError as e:
        raise DataError(f"{t.name}: cannot read its external data: {e.strerror or e}",
                        source) from None
    inline = onnx.TensorProto()
    inline.CopyFrom(t)
    del inline.external_data[:]
    inline.data_location = onnx.TensorProto.DEFAULT
    inline.raw_data = raw
    return inline


def onnx_data_files(path: str) -> list[str]:
    """The external data files an .onnx model names (within its folder), for the outputs
    never to write over them."""
    import os

    try:
        import onnx
    except ImportError:
        return []
    try:
        with open(path, "rb") as f:
            model = onnx.load_from_string(f.read())
    except Exception:  # noqa: BLE001 - unreadable: the reader says so, with its place
        return []
    folder = os.path.dirname(os.path.realpath(path))
    out = []
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            try:
                out.append(_external_path(t, folder, path)[0])
            except DataError:
                pass
    return out


def _onnx_graphs(graph):
    """The graph and every subgraph in it (the bodies of Loop, If, Scan), outer first."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _onnx_graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _onnx_graphs(g)


def _onnx_nodes(data: bytes, source: str):
    """(the model, its LSTM nodes by name in any graph, the other nodes as "OpType name").
    A node without a name is called #1, #2, ... in graph order."""
    try:
        import onnx
    except ImportError:
        raise MissingExtra("reading a .onnx file", "onnx", "onnx") from None
    try:
        model = onnx.load_from_string(data)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"not a readable ONNX model: {e}", source) from None
    nodes: dict = {}
    other: list[str] = []
    for graph in _onnx_graphs(model.graph):
        for node in graph.node:
            if node.op_type == "LSTM":
                nodes[node.name or f"#{len(nodes) + 1}"] = node
            else:
                other.append(f"{node.op_type} {node.name}".strip())
    if not nodes:
        raise DataError("the model has no LSTM node", source)
    return model, nodes, other


def _onnx_constants(model) -> dict:
    """Every initializer and Constant node's value in any graph, by name (TensorProto)."""
    out = {}
    for graph in _onnx_graphs(model.graph):
        out.update({t.name: t for t in graph.initializer})
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                value = [a.t for a in node.attribute if a.name == "value"]
                if value:
                    out[node.output[0]] = value[0]
    return out


def _zeros_in_graph(model, name: str, constants: dict) -> bool:
    """Whether a value is zeros whatever the graph's inputs: Expand of a constant that is all
    zeros (torch.onnx.export's h_0 and c_0), or ConstantOfShape of 0."""
    from onnx import numpy_helper

    producer = next((node for graph in _onnx_graphs(model.graph) for node in graph.node
                     if name in node.output), None)
    if producer is None:
        return False
    if producer.op_type == "ConstantOfShape":
        value = [a.t for a in producer.attribute if a.name == "value"]
        return not value or not np.any(numpy_helper.to_array(value[0]))
    if producer.op_type in ("Expand", "Tile") and producer.input[0] in constants:
        return not np.any(numpy_helper.to_array(constants[producer.input[0]]))
    return False


def _onnx_node(node, model, source: str, max_bytes: int,
               folder: str | None = None) -> tuple[dict, dict]:
    """An LSTM node's inputs (W, R, B, P, initial_h, initial_c) as arrays, and its
    attributes."""
    import onnx
    from onnx import numpy_helper

    constants = _onnx_constants(model)
    names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    out = {}
    for name, given in zip(names, node.input):
        if not given or name == "X":
            continue
        if name == "sequence_lens" and given not in constants:
            out[name] = given  # a graph input: the lengths come with the inputs (--lengths)
            continue
        if given not in constants:
            if name in ("initial_h", "initial_c") and _zeros_in_graph(model, given, constants):
                continue  # zeros of the batch's shape, as torch.onnx.export writes h_0, c_0
            raise DataError(f"the LSTM node's {name} ({given}) is not an initializer or a "
                            "constant; lstmcalc runs the node on weights stored in the file"
                            + (" (give the state with --state)" if name.startswith("initial")
                               else ""), source)
        t = constants[given]
        if any(d < 0 for d in t.dims):
            raise DataError(f"{name} ({given}) has negative dimensions {list(t.dims)}", source)
        arrays.check_size(f"{name} ({given})", tuple(t.dims), 8, source, max_bytes)
        if t.data_location == onnx.TensorProto.EXTERNAL:
            t = _read_external(t, folder, source)
        try:
            value = numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001 - onnx raises many kinds for a bad tensor
            raise DataError(f"{name} ({given}) is not a readable tensor: {e}", source) from None
        out[name] = arrays.numeric(f"{name} ({given})", value, source)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return out, attrs


_ONNX_ACTIVATIONS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu",
                     "softsign": "softsign", "hardsigmoid": "hard_sigmoid", "affine": "affine",
                     "leakyrelu": "leaky_relu", "thresholdedrelu": "thresholded_relu",
                     "scaledtanh": "scaled_tanh", "elu": "elu", "softplus": "softplus"}
# which of alpha and beta each activation consumes from activation_alpha / activation_beta, and
# ONNX Runtime's values when they are left out: float32 numbers (0.2f is 0.20000000298023224),
# and 0 where the ONNX spec gives no default (Affine, ThresholdedRelu, ScaledTanh), as ONNX
# Runtime computes (tests/test_models.py checks each against it)
_ONNX_DEFAULTS = {"hard_sigmoid": (float(np.float32(0.2)), 0.5), "affine": (0.0, 0.0),
                  "leaky_relu": (float(np.float32(0.01)), None), "elu": (1.0, None),
                  "thresholded_relu": (0.0, None), "scaled_tanh": (0.0, 0.0)}


def _onnx_variant(attrs: dict, source: str, directions: int):
    """The Variant per direction an LSTM node's attributes ask for."""
    from lstmcalc.core.activations import SIGMOID, TANH, Activation
    from lstmcalc.core import Variant

    def text(v):
        value = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        if not isinstance(value, str):
            raise DataError(f"the LSTM node's activations must be names, found {v!r}", source)
        return value

    def real(key: str, value) -> float:
        if isinstance(value, (bytes, str)) or not np.isfinite(value):
            raise DataError(f"the LSTM node's {key} must be a finite number, found {value!r}",
                            source)
        return float(value)

    if attrs.get("layout", 0):
        raise DataError("this LSTM node uses layout 1 (batch first), which lstmcalc does not "
                        "read yet", source)
    names = [text(a).lower() for a in attrs.get("activations", [])]
    alphas = [real("activation_alpha", v) for v in attrs.get("activation_alpha", [])]
    betas = [real("activation_beta", v) for v in attrs.get("activation_beta", [])]
    acts = []
    for name in names:
        if name not in _ONNX_ACTIVATIONS:
            raise DataError(f"the LSTM node's activation {name!r} is not one lstmcalc computes "
                            f"({', '.join(_ONNX_ACTIVATIONS)})", source)
        ours = _ONNX_ACTIVATIONS[name]
        if ours in _ONNX_DEFAULTS:
            da, db = _ONNX_DEFAULTS[ours]
            alpha = alphas.pop(0) if alphas else da
            beta = None if db is None else (betas.pop(0) if betas else db)
            acts.append(Activation(ours, alpha, beta))
        else:
            acts.append(Activation(ours))
    if acts and len(acts) != 3 * directions:
        raise DataError(f"the LSTM node lists {len(acts)} activations, expected "
                        f"{3 * directions}", source)
    clip = attrs.get("clip")
    if clip is not None:
        clip = real("clip", clip)
        if clip <= 0:
            raise DataError(f"the LSTM node's clip must be positive, found {clip:g}", source)
    coupled = bool(attrs.get("input_forget", 0))
    out = []
    for d in range(directions):
        gate, cand, cell = acts[3 * d: 3 * d + 3] if acts else (SIGMOID, TANH, TANH)
        out.append(Variant(coupled=coupled, clip=clip, gate=gate, candidate=cand, cell=cell))
    return out


def _common_prefix(names: list[str]) -> dict:
    """{name without the prefix every name shares (up to a '.' or '/'): name}."""
    prefixes = {re.sub(r"[^./]*$", "", k) for k in names}
    prefix = prefixes.pop() if len(prefixes) == 1 else ""
    return {k[len(prefix):]: k for k in names}


class Held:
    """What a weight file holds: its LSTMs by name (each {the framework's own name: key}),
    what else (keys or graph nodes), and how to build a key's array."""

    def __init__(self, path: str, max_bytes: int):
        self.path, self.max_bytes = path, max_bytes
        self.source, data = read_input(path, max_bytes)
        lower = path.lower()
        self.fixed: str | None = None
        self.raw: dict = {}
        self.stored: dict[str, str] = {}  # dtypes as stored, where the arrays widened them
        if lower.endswith(".onnx"):
            import os

            self.folder = None if path == "-" else os.path.dirname(os.path.realpath(path))
            self.fixed, self.kind = "onnx", "ONNX model"
            self.model, self.nodes, self.other = _onnx_nodes(data, self.source)
            self.lstms: dict[str, dict[str, str]] = {k: {} for k in self.nodes}
            return
        if lower.endswith((".keras", ".h5")):
            from lstmcalc import kerasfile

            self.keras, other, flat = kerasfile.read(data, self.source, max_bytes)
            if flat is None:
                self.fixed = "keras"
                has_config = kerasfile.is_keras_zip(data)
                self.kind = "Keras model" if has_config else \
                    "Keras weights file (which records no activations or go_backwards)"
                self.lstms, self.other = {k: {} for k in self.keras}, other
                if not self.lstms:
                    raise DataError("the Keras file holds no LSTM layer", self.source)
                return
            self.raw, self.kind = flat, "HDF5 weights file"  # Keras 2 / TF names
        elif lower.endswith((".pt", ".pth")):
            values = _torch(data, self.source, max_bytes)  # says which extra, if missing
            import torch

            self.raw = {k: v for k, v in values.items() if isinstance(v, torch.Tensor)}
            self.fixed, self.kind = "pytorch", "PyTorch state dict"
            if len(self.raw) < len(values):
                self.kind = "PyTorch checkpoint"
        elif lower.endswith(".safetensors"):
            self.raw, self.stored = arrays.load_safetensors(data, self.source, max_bytes)
            self.kind = "safetensors file"
        else:
            self.raw = _npz(data, self.source, max_bytes)
            self.kind = ".npz file"
        self.lstms, self.other = models.group(self.raw)
        if not self.lstms:  # names lstmcalc does not know: --layout may say what they are
            self.lstms, self.other = {"": _common_prefix(list(self.raw))}, []
        if self.fixed == "pytorch":  # a checkpoint's epoch, loss, ...: not tensors
            self.other += [k for k in values if k not in self.raw]

    def dtype(self, name: str) -> str:
        if self.fixed == "onnx":  # as W is stored
            import onnx

            node = self.nodes[name]
            w = _onnx_constants(self.model).get(node.input[1]) if len(node.input) > 1 else None
            return "unknown" if w is None else \
                str(onnx.helper.tensor_dtype_to_np_dtype(w.data_type))
        if self.fixed == "keras":
            kinds = {str(a.dtype) for cell in self.keras[name].cells for a in cell.values()}
        else:
            kinds = {self.stored.get(k) or dtype_name(self.raw[k])
                     for k in self.lstms[name].values()}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def arrays(self, name: str) -> tuple[dict, dict]:
        """(the LSTM's arrays by the framework's names, an ONNX node's attributes)."""
        if self.fixed == "onnx":
            return _onnx_node(self.nodes[name], self.model, self.source, self.max_bytes,
                              self.folder)
        if self.fixed == "pytorch":
            return {base: _torch_array(key, self.raw[key], self.source, self.max_bytes)
                    for base, key in self.lstms[name].items()}, {}
        return {base: arrays.numeric(key, self.raw[key], self.source)
                for base, key in self.lstms[name].items()}, {}


def load(path: str, layout: str | None, forget_bias: float | None, max_bytes: int,
         name: str | None = None):
    """(stack, directions, layout, how the layout was chosen, (h0, c0, lengths)).

    stack[k][d] is the Weights of layer k, direction directions[d]; one standard cell is
    [[weights]] with ("forward",). Initial states come as (L D, ..., n), PyTorch's order, or
    None; lengths: an ONNX node's sequence_lens, (B,), or the name of the graph input that
    gives it at run time, or None.
    forget_bias: TF1's constant; None takes the file's own (as convert writes it) or 1.0.
    name: which LSTM of several (models.choose)."""
    held = Held(path, max_bytes)
    chosen = models.choose(held.lstms, name, held.source)
    stack, directions, layout, how, initial = build(held, chosen, layout, forget_bias)
    if chosen:
        how = f"{how}, {chosen}"
    return stack, directions, layout, how, initial


def build(held: Held, chosen: str, layout: str | None, forget_bias: float | None):
    """One LSTM of a file as load() returns it."""
    source, fixed = held.source, held.fixed
    if fixed == "keras":
        if layout not in (None, "keras"):
            raise UsageError(f"{held.path} is a keras file; --layout {layout} does not fit it")
        if forget_bias is not None:
            raise UsageError("--forget-bias goes with the tf1 layout; this file is keras")
        stack, directions, how = _keras_stack(held.keras[chosen], held.kind, source)
        return stack, directions, "keras", how, (None, None, None)
    found, attrs = held.arrays(chosen)
    initial = (None, None, None)
    if fixed == "onnx":
        h0, c0 = found.pop("initial_h", None), found.pop("initial_c", None)
        initial = (h0, c0, found.pop("sequence_lens", None))
        onnx_direction = attrs.get("direction", b"forward")
        onnx_direction = onnx_direction.decode("utf-8", "replace") \
            if isinstance(onnx_direction, bytes) \
            else onnx_direction
    detected = layouts.detect(found)
    if layout is None:
        layout = fixed or detected
        if layout is None:
            raise DataError("cannot tell the layout from the array names "
                            f"({', '.join(sorted(found))}); give --layout "
                            f"({', '.join(layouts.LAYOUTS)})", source)
        how = f"detected from the names ({layout})" if fixed is None else f"{layout} file"
    else:
        if fixed and layout != fixed:
            raise UsageError(f"{held.path} is a {fixed} file; --layout {layout} does not fit it")
        how = f"--layout {layout}"
    if forget_bias is not None and layout != "tf1":
        raise UsageError(f"--forget-bias goes with the tf1 layout; this file is {layout}")
    if layout == "tf1" and forget_bias is None:
        stored = found.pop("forget_bias", np.array(1.0))
        if stored.shape != ():
            raise DataError(f"forget_bias must be one number, found shape {stored.shape}",
                            source)
        forget_bias = float(stored)
    found.pop("forget_bias", None)
    try:
        stack, directions = layouts.stack_from_arrays(
            layout, found, 1.0 if forget_bias is None else forget_bias)
    except LayoutError as e:
        raise DataError(str(e), source) from None
    if fixed == "onnx":
        if onnx_direction not in ("forward", "reverse", "bidirectional"):
            raise DataError(f"the LSTM node's direction {onnx_direction!r} is not forward, "
                            "reverse or bidirectional", source)
        if (onnx_direction == "bidirectional") != (len(directions) == 2):
            raise DataError(f"the LSTM node's direction is {onnx_direction} but its W holds "
                            f"{len(stack[0])} direction{'s' if len(stack[0]) > 1 else ''}",
                            source)
        if onnx_direction == "reverse":
            directions = ("reverse",)
        stack = [[_with_variant(w, v) for w, v in zip(layer, _onnx_variant(
            attrs, source, len(layer)))] for layer in stack]
    return stack, directions, layout, how, initial


# Keras 3's activation names -> lstmcalc's (hard_sigmoid is relu6(x + 3) / 6 in Keras 3)
_KERAS_ACTIVATIONS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "linear": "identity",
                      "softsign": "softsign", "hard_sigmoid": "hard_sigmoid_tf2", "elu": "elu",
                      "selu": "selu", "gelu": "gelu", "silu": "silu", "swish": "silu",
                      "softplus": "softplus", "relu6": "relu6", "leaky_relu": "leaky_relu",
                      "hard_silu": "hard_silu", "hard_swish": "hard_silu",
                      "exponential": "exponential", "hard_tanh": "hard_tanh", "mish": "mish"}


def _keras_activation(config: dict, key: str, source: str):
    from lstmcalc.core.activations import Activation

    name = config.get(key)
    if isinstance(name, dict):  # a serialized function: {"class_name": ..., "config": name}
        name = name.get("config") if isinstance(name.get("config"), str) else \
            name.get("class_name")
    if name not in _KERAS_ACTIVATIONS:
        raise DataError(f"the layer's {key} {name!r} is not one lstmcalc computes "
                        f"({', '.join(_KERAS_ACTIVATIONS)})", source)
    return Activation(_KERAS_ACTIVATIONS[name])


def _keras_stack(lstm, kind: str, source: str):
    """([[Weights per direction]], directions, how) of one Keras LSTM layer."""
    from dataclasses import replace

    configs = [lstm.config] * len(lstm.cells)
    if lstm.bidirectional:
        merge = lstm.bidirectional.get("merge_mode", "concat")
        if merge != "concat":
            raise DataError(f"the Bidirectional layer merges its directions by {merge!r}; "
                            "lstmcalc shows them side by side (merge_mode 'concat')", source)
        backward = (lstm.bidirectional.get("backward_layer") or {}).get("config")
        configs = [lstm.config, backward or lstm.config]
    per = []
    for cell, config in zip(lstm.cells, configs):
        try:
            w = layouts.from_arrays("keras", cell)
        except LayoutError as e:
            raise DataError(str(e), source) from None
        if config is not None:
            v = replace(w.variant, gate=_keras_activation(config, "recurrent_activation", source),
                        candidate=_keras_activation(config, "activation", source),
                        cell=_keras_activation(config, "activation", source))
            w = replace(w, variant=v)
        per.append(w)
    if len(per) == 2:
        directions: tuple = ("forward", "reverse")
    else:
        backwards = bool(lstm.config and lstm.config.get("go_backwards"))
        directions = ("reverse",) if backwards else ("forward",)
    how = f"{kind}" if lstm.config is not None else (
        f"{kind}: no config, so sigmoid/tanh and forward assumed (--activations to change)")
    return [per], directions, how


def _with_variant(weights: layouts.Weights, variant) -> layouts.Weights:
    """weights with the node's attributes joined to its peepholes (if any)."""
    from dataclasses import replace

    joined = replace(variant, peephole=weights.variant.peephole)
    return replace(weights, variant=joined)


def save_npz(layout: str, stack: list, directions: tuple, dtype: str = "float64") -> bytes:
    """The layout's arrays as .npz bytes (TF1's forget_bias kept as a 0-d array beside them),
    each rounded once to dtype."""
    named = {k: v.astype(dtype) for k, v in
             layouts.stack_to_arrays(layout, stack, directions).items()}
    if layout == "tf1":
        named["forget_bias"] = np.array(stack[0][0].forget_bias)
    buffer = io.BytesIO()
    np.savez(buffer, **named)
    return buffer.getvalue()


def _yaml_number(v: float) -> str:
    """repr, spelled so that YAML 1.1 reads a float back: 1e-05 -> 1.0e-05."""
    text = repr(float(v))
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        text = f"{mantissa}e{exponent if exponent[0] in '+-' else '+' + exponent}"
    elif "." not in text:
        text += ".0"
    return text


def _cell_parts(weights: layouts.Weights) -> tuple[dict, dict]:
    """A cell's gates ({gate: {W, b[, bh]}}) and its variant's config keys."""
    from lstmcalc.core import GATES

    v = weights.variant
    gates = {}
    for k, gate in enumerate(GATES):
        if v.coupled and gate == "forget":
            continue  # f = 1 - i has no weights of its own
        entry = {"W": np.concatenate([weights.Wx[k], weights.Wh[k]], axis=1), "b": weights.bx[k]}
        if np.any(weights.bh):
            entry["bh"] = weights.bh[k]
        gates[gate] = entry
    extras: dict = {}  # the variant's keys
    if v.peephole is not None:
        extras["peepholes"] = {g: v.peephole[k] for k, g in
                               enumerate(("forget", "input", "output"))
                               if not (v.coupled and g == "forget")}
    if v.coupled:
        extras["coupled"] = True
    for key in ("clip", "cell_clip"):
        if getattr(v, key) is not None:
            extras[key] = getattr(v, key)
    roles = {"gates": v.gate, "candidate": v.candidate, "cell": v.cell}
    if v.projection is not None:
        extras["projection"] = v.projection if v.proj_clip is None else (v.projection,
                                                                           v.proj_clip)
    if "activations" in v.features():
        extras["activations"] = {
            role: act.name if act.name not in act.SHOWN_WITH_PARAMETERS else
            {"name": act.name, "alpha": act.alpha, "beta": act.beta}
            for role, act in roles.items()}
    return gates, extras


def _projection_obj(value) -> dict:
    """{W} or {W, clip} from _cell_parts' projection entry."""
    if isinstance(value, tuple):
        return {"W": value[0].tolist(), "clip": value[1]}
    return {"W": value.tolist()}


def _cell_obj(weights: layouts.Weights) -> dict:
    """A cell's config keys as JSON-ready values."""
    gates, extras = _cell_parts(weights)
    obj: dict = {"concat": ["x", "h"]}
    if weights.forget_bias:
        obj["forget_bias"] = weights.forget_bias
    for key, value in extras.items():
        obj[key] = {g: arr.tolist() for g, arr in value.items()} if key == "peepholes" \
            else _projection_obj(value) if key == "projection" else value
    obj["gates"] = {g: {key: arr.tolist() for key, arr in e.items()} for g, e in gates.items()}
    return obj


def _cell_lines(weights: layouts.Weights) -> list[str]:
    """A cell's config keys as YAML lines, at the top level."""
    gates, extras = _cell_parts(weights)
    lines = ["concat: [x, h]    # every W is n x (m + n): Wx's columns, then Wh's"]
    if weights.forget_bias:
        lines.append(f"forget_bias: {_yaml_number(weights.forget_bias)}    "
                     "# added to the forget gate's pre-activation")
    for key, value in extras.items():
        if key == "peepholes":
            lines.append("peepholes:    # f and i see C_{t-1}, o sees C_t")
            lines += [f"  {g}: [" + ", ".join(_yaml_number(x) for x in arr) + "]"
                      for g, arr in value.items()]
        elif key == "coupled":
            lines.append("coupled: true    # f = 1 - i")
        elif key == "projection":
            matrix, clip = value if isinstance(value, tuple) else (value, None)
            rows = (",\n" + " " * 6).join(
                "[" + ", ".join(_yaml_number(x) for x in row) + "]" for row in matrix)
            lines.append(f"projection:    # h_t = W (o * tanh(C_t)): p = {len(matrix)}")
            lines += f"  W: [{rows}]".split("\n")
            if clip is not None:
                lines.append(f"  clip: {_yaml_number(clip)}    # h_t clipped to ±clip (TF1)")
        elif key == "activations":
            lines.append("activations:")
            for role, act in value.items():
                lines.append(f"  {role}: {act}" if isinstance(act, str) else
                             f"  {role}: {{name: {act['name']}, alpha: "
                             f"{_yaml_number(act['alpha'])}, beta: {_yaml_number(act['beta'])}}}")
        else:
            lines.append(f"{key}: {_yaml_number(value)}")
    lines.append("gates:")
    for gate, entry in gates.items():
        lines.append(f"  {gate}:")
        for key, arr in entry.items():
            if arr.ndim == 2:
                rows = (",\n" + " " * 8).join(
                    "[" + ", ".join(_yaml_number(v) for v in row) + "]" for row in arr)
                lines += f"    {key}: [{rows}]".split("\n")
            else:
                lines.append(f"    {key}: [" + ", ".join(_yaml_number(v) for v in arr) + "]")
    return lines


def config_text(stack: list, directions: tuple, source: str, as_json: bool) -> str:
    """A config (YAML or JSON) holding exactly these weights: both biases, the forget bias;
    for more than one cell, its layers and direction."""
    import json

    from lstmcalc.core.stacks import per_layer

    single = len(stack) == 1 and directions == ("forward",)
    mixed = not all(isinstance(d, str) for d in directions)
    dirs = per_layer(directions, len(stack))
    # a mixed stack says each layer's directions; otherwise one direction for all
    direction = None if mixed else "bidirectional" if len(directions) == 2 else directions[0]

    def by_direction(k: int) -> bool:
        return mixed and dirs[k] != ("forward",) or len(dirs[k]) == 2

    if as_json:
        if single:
            return json.dumps(_cell_obj(stack[0][0]), indent=1) + "\n"
        layers = [{d: _cell_obj(w) for d, w in zip(dirs[k], layer)} if by_direction(k) else
                  _cell_obj(layer[0]) for k, layer in enumerate(stack)]
        obj: dict = {} if direction is None else {"direction": direction}
        return json.dumps({**obj, "layers": layers}, indent=1) + "\n"
    m, n = stack[0][0].sizes
    if single:
        return "\n".join([f"# converted by lstmcalc from {source}: m = {m}, n = {n}"]
                         + _cell_lines(stack[0][0])) + "\n"
    lines = [f"# converted by lstmcalc from {source}: {len(stack)} layers, m = {m}, n = {n}"]
    lines += [] if direction is None else [f"direction: {direction}"]
    lines.append("layers:")
    for k, layer in enumerate(stack):
        if not by_direction(k):
            cell = _cell_lines(layer[0])
            lines += [f"  # layer {k + 1}", f"  - {cell[0]}"]
            lines += ["    " + line for line in cell[1:]]
        else:
            lines.append(f"  # layer {k + 1}")
            for j, (d, w) in enumerate(zip(dirs[k], layer)):
                lines += [f"  - {d}:" if j == 0 else f"    {d}:"]
                lines += ["      " + line for line in _cell_lines(w)]
    return "\n".join(lines) + "\n"


def pt_bytes(stack: list, directions: tuple, dtype: str = "float64") -> bytes:
    """A PyTorch state dict of nn.LSTM(m, n, num_layers, bidirectional) names, as torch.save
    writes it, in dtype."""
    try:
        import torch
    except ImportError:
        raise MissingExtra("writing a .pt file", "PyTorch", "torch") from None
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=dtype))
             for k, v in layouts.stack_to_arrays("pytorch", stack, directions).items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def onnx_bytes(stack: list, directions: tuple, dtype: str = "float64") -> bytes:
    """An ONNX model with one LSTM node (X: (T, B, m) -> Y, Y_h, Y_c, every tensor in dtype):
    one layer, forward, reverse or bidirectional. It passes onnx.checker's full check; ONNX
    Runtime's LSTM runs float32 models only."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise MissingExtra("writing a .onnx file", "onnx", "onnx") from None
    layer = stack[0]
    m, n = layer[0].sizes
    plain = [[layouts.Weights(w.Wx, w.Wh, w.bx, w.bh, w.forget_bias) for w in layer]]
    named = layouts.stack_to_arrays("onnx", plain if len(stack) == 1 else stack, directions)
    names = ["W", "R", "B"]
    inputs = ["X", "W", "R", "B"]
    attrs: dict = {"hidden_size": n}
    if len(directions) == 2:
        attrs["direction"] = "bidirectional"
    elif directions == ("reverse",):
        attrs["direction"] = "reverse"
    variants = [w.variant for w in layer]
    for key in ("cell_clip", "clip", "coupled"):
        if len({getattr(v, key) for v in variants}) > 1:
            raise LayoutError(f"ONNX's LSTM node has one {key} for both directions; these "
                              "directions differ")
    v = variants[0]
    if v.cell_clip is not None:
        raise LayoutError("ONNX's LSTM has no cell-state clip: this cell cannot be written "
                          "as .onnx")
    if any(u.projection is not None for u in variants):
        raise LayoutError("ONNX's LSTM has no projection: this cell cannot be written as "
                          ".onnx (write it as pytorch, or as a yaml or json config)")
    if any(u.peephole is not None for u in variants):
        named["P"] = np.concatenate([
            np.concatenate([u.peephole[1], u.peephole[2], u.peephole[0]]) if
            u.peephole is not None else np.zeros(3 * n) for u in variants])
        named["P"] = named["P"].reshape(len(variants), 3 * n)
        names.append("P")
        inputs += ["", "", "", "P"]
    if v.clip is not None:
        attrs["clip"] = float(v.clip)
    if v.coupled:
        attrs["input_forget"] = 1
    onnx_names = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                  "softsign": "Softsign", "hard_sigmoid": "HardSigmoid", "affine": "Affine",
                  "hard_sigmoid_keras": "HardSigmoid", "hard_sigmoid_tf2": "HardSigmoid",
                  "identity": "Affine", "leaky_relu": "LeakyRelu", "elu": "Elu",
                  "softplus": "Softplus", "thresholded_relu": "ThresholdedRelu",
                  "scaled_tanh": "ScaledTanh"}
    if any("activations" in u.features() for u in variants):
        acts = [a for u in variants for a in (u.gate, u.candidate, u.cell)]
        missing = sorted({a.name for a in acts if a.name not in onnx_names})
        if missing:
            raise LayoutError(f"ONNX's LSTM has no {', '.join(missing)} activation: this cell "
                              "cannot be written as .onnx")
        attrs["activations"] = [onnx_names[a.name] for a in acts]
        # each activation that takes alpha (beta) consumes the next one, in order
        alphas = [1.0 if a.name == "identity" else float(a.alpha) for a in acts
                  if onnx_names[a.name] in ("HardSigmoid", "Affine", "LeakyRelu", "Elu",
                                            "ThresholdedRelu", "ScaledTanh")]
        betas = [0.0 if a.name == "identity" else float(a.beta) for a in acts
                 if onnx_names[a.name] in ("HardSigmoid", "Affine", "ScaledTanh")]
        if alphas:
            attrs["activation_alpha"] = alphas
        if betas:
            attrs["activation_beta"] = betas
    inits = [numpy_helper.from_array(np.ascontiguousarray(named[k], dtype=dtype), k)
             for k in names]
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], **attrs)
    graph = helper.make_graph(
        [node], "lstmcalc", [helper.make_tensor_value_info("X", elem, ["T", "B", m])],
        [helper.make_tensor_value_info(name, elem, shape) for name, shape in
         (("Y", ["T", len(directions), "B", n]), ("Y_h", [len(directions), "B", n]),
          ("Y_c", [len(directions), "B", n]))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    return model.SerializeToString()


def inspect(path: str, max_bytes: int) -> tuple[str, str, list[dict], list[str]]:
    """(source, what kind of file, one summary per LSTM in file order, everything else).

    A summary holds name, layout, input_size, hidden_size, num_layers, directions,
    projection_size (or None), variants (what each cell adds to the standard equations, for
    people) and dtype (as stored); an LSTM that cannot be built has its problem instead."""
    from lstmcalc.errors import LstmcalcError
    from lstmcalc.records import directions_json

    held = Held(path, max_bytes)
    found = []
    for name in held.lstms:
        entry: dict = {"name": name}
        try:
            stack, directions, layout, _, _ = build(held, name, None, None)
        except LstmcalcError as e:
            entry["problem"] = e.message
            found.append(entry)
            continue
        first = stack[0][0]
        m, n = first.sizes
        projection = first.variant.projection
        variants = sorted({phrase for layer in stack for w in layer
                           for phrase in w.variant.describe()})
        if first.forget_bias:
            variants.append(f"forget bias +{first.forget_bias:g}")
        dtype = held.dtype(name)
        entry.update({"layout": layout, "input_size": m, "hidden_size": n,
                      "num_layers": len(stack), "directions": directions_json(directions),
                      "projection_size": None if projection is None else projection.shape[0],
                      "variants": variants, "dtype": dtype})
        found.append(entry)
    return held.source, held.kind, found, list(held.other)
