"""Keras 3 model files: `.keras` (a zip of config.json and model.weights.h5) and `.weights.h5`.

In the weights file every layer is a group (`layers/lstm`, `layers/sequential/layers/lstm_1`,
...) whose `vars` group carries the layer's own name as an attribute; an LSTM's arrays are
`cell/vars/0` (kernel, m x 4n), `1` (recurrent kernel, n x 4n) and `2` (bias, with use_bias);
a Bidirectional layer holds `forward_layer` and `backward_layer`. config.json records each
layer's activation, recurrent_activation, use_bias, go_backwards and merge_mode; a
`.weights.h5` alone has none of them. Older Keras 2 `.h5` files use TF-style names
(`lstm/lstm_cell/kernel:0`), which frameworks.py reads by name like any other file.

h5py is an optional extra, imported only here.
"""

import io
import json
import zipfile
from dataclasses import dataclass, field

import numpy as np

from lstmcalc import arrays, layouts
from lstmcalc.errors import DataError, LayoutError, MissingExtra


@dataclass
class KerasLSTM:
    """One LSTM layer: its cells' arrays (one, or forward and backward for Bidirectional) by
    Keras's names, and what config.json says of it (None without a config)."""

    cells: list[dict] = field(default_factory=list)
    config: dict | None = None
    bidirectional: dict | None = None  # a Bidirectional wrapper's config (merge_mode, ...)


def _h5py():
    try:
        import h5py
    except ImportError:
        raise MissingExtra("reading a Keras .keras or .h5 file", "h5py", "keras") from None
    return h5py


def is_keras_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def read(data: bytes, source: str, max_bytes: int) -> tuple[dict, list[str], dict | None]:
    """(LSTM layers by name, the other layers' names, the raw h5 datasets by path when the
    file is not in Keras 3's layout, for reading by name)."""
    config = None
    if is_keras_zip(data):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
                if "model.weights.h5" not in names or "config.json" not in names:
                    raise DataError("a .keras file holds config.json and model.weights.h5; "
                                    f"this one holds {', '.join(sorted(names)) or 'nothing'}",
                                    source)
                info = z.getinfo("model.weights.h5")
                if info.file_size + z.getinfo("config.json").file_size > max_bytes:
                    raise DataError(f"the model unpacks to more than the {max_bytes:,}-byte "
                                    "cap (raise it with --max-input-bytes)", source)
                config = json.loads(z.read("config.json").decode("utf-8"))
                data = z.read("model.weights.h5")
        except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError) as e:
            raise DataError(f"not a readable .keras file: {e}", source) from None
    h5py = _h5py()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as e:
        raise DataError(f"not a readable HDF5 file: {e}", source) from None
    with f:
        if "layers" in f:
            lstms, other = _keras3(f, h5py, source, max_bytes)
            if config is not None:
                _attach_configs(lstms, config)
            return lstms, other, None
        flat: dict = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                arrays.check_size(name, tuple(obj.shape), obj.dtype.itemsize, source, max_bytes)
                flat[name] = np.asarray(obj[()])
        f.visititems(visit)
        return {}, [], flat


def _keras3(f, h5py, source: str, max_bytes: int) -> tuple[dict, list[str]]:
    lstms: dict = {}
    other: list[str] = []

    def own_name(group, fallback: str) -> str:
        v = group.get("vars")
        name = v.attrs.get("name") if v is not None else None
        return name.decode() if isinstance(name, bytes) else (name or fallback)

    def cell_arrays(group, where: str) -> dict | None:
        cell = group.get("cell/vars")
        if cell is None or "0" not in cell or "1" not in cell:
            return None
        out = {}
        for index, key in (("0", "kernel"), ("1", "recurrent_kernel"), ("2", "bias")):
            if index in cell:
                d = cell[index]
                if not isinstance(d, h5py.Dataset):
                    raise DataError(f"{where}/cell/vars/{index} is not an array", source)
                arrays.check_size(f"{where}/cell/vars/{index}", tuple(d.shape),
                                  d.dtype.itemsize, source, max_bytes)
                out[key] = np.asarray(d[()])
        return out

    def walk(group, path: str, names: tuple[str, ...]) -> None:
        for key in group:
            child = group[key]
            if not isinstance(child, h5py.Group):
                continue
            where = f"{path}/{key}"
            name = own_name(child, key)
            full = "/".join((*names, name))
            single = cell_arrays(child, where)
            if single is not None:
                lstms[full] = KerasLSTM([single])
            elif "forward_layer" in child and "backward_layer" in child:
                cells = [cell_arrays(child[k], f"{where}/{k}")
                         for k in ("forward_layer", "backward_layer")]
                if cells[0] is not None and cells[1] is not None:
                    lstms[full] = KerasLSTM([cells[0], cells[1]], bidirectional={})
                else:
                    other.append(full)
            elif "layers" in child:  # a nested model
                walk(child["layers"], f"{where}/layers", (*names, name))
            elif key != "input_layer" and not name.startswith("input_layer"):
                other.append(full)

    walk(f["layers"], "layers", ())
    return lstms, other


def _attach_configs(lstms: dict, config: dict) -> None:
    """Each LSTM's layer config from config.json, found by the same path of names."""
    found: dict = {}

    def walk(node, names: tuple[str, ...]) -> None:
        for layer in node.get("config", {}).get("layers", []) or []:
            cfg = layer.get("config", {})
            name = cfg.get("name") or layer.get("name")
            full = "/".join((*names, name))
            if layer.get("class_name") in ("LSTM", "Bidirectional"):
                found[full] = layer
            elif isinstance(cfg, dict) and cfg.get("layers"):
                walk(layer, (*names, name))

    walk(config, ())
    order = {name: k for k, name in enumerate(found)}  # the model's order, not HDF5's
    ordered = sorted(lstms.items(), key=lambda item: order.get(item[0], len(order)))
    lstms.clear()
    lstms.update(ordered)
    for name, lstm in lstms.items():
        layer = found.get(name)
        if layer is None:
            continue
        if layer["class_name"] == "Bidirectional":
            lstm.bidirectional = layer["config"]
            lstm.config = layer["config"].get("layer", {}).get("config")
        else:
            lstm.config = layer["config"]


def weights_h5(stack: list, directions: tuple, dtype: str = "float64") -> bytes:
    """A Keras 3 weights file for one LSTM layer, as `model.save_weights` writes it for
    `Sequential([Input((None, m)), LSTM(n)])` (the layer at layers/lstm) or, for both
    directions, `Bidirectional(LSTM(n))` (at layers/bidirectional): `model.load_weights`
    reads it into such a model. Weights only: what they do not hold is refused."""
    h5py = _h5py()
    if len(stack) != 1:
        raise LayoutError(f"a Keras weights file holds one LSTM layer here; this is a stack of "
                          f"{len(stack)} (convert each layer, or write .npz)")
    if tuple(directions) == ("reverse",):
        raise LayoutError("a Keras weights file does not record go_backwards: a reverse-only "
                          "layer would load as a forward one (write a .npz or a config)")
    for w in stack[0]:
        if w.variant.features():
            raise LayoutError("a Keras weights file holds the standard cell's arrays only; "
                              f"this cell adds {', '.join(w.variant.describe())}")
    cells = [layouts.to_arrays("keras", w) for w in stack[0]]
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        if len(cells) == 1:
            groups = {"layers/lstm": cells[0]}
        else:
            groups = {"layers/bidirectional/forward_layer": cells[0],
                      "layers/bidirectional/backward_layer": cells[1]}
        for path, cell in groups.items():
            g = f.create_group(f"{path}/cell/vars")
            for index, key in (("0", "kernel"), ("1", "recurrent_kernel"), ("2", "bias")):
                g[index] = np.asarray(cell[key], dtype=dtype)
            f.create_group(f"{path}/vars")
        f.create_group("vars")
    return buffer.getvalue()
