"""Which LSTMs a weight file holds, by their names: pure logic over the names of its arrays.

A state dict saved from a model carries module prefixes (`encoder.weight_ih_l0`), a training
checkpoint nests it (`model_state_dict.encoder.weight_ih_l0` once flattened), and one file may
hold several LSTMs. group() sorts the names into one group per LSTM, named by its prefix
(`model_state_dict.encoder`; "" for names without one), and lists what belongs to none;
choose() picks the one --name asks for, or refuses, naming each.
"""

import re

from lstmcalc import layouts
from lstmcalc.errors import UsageError

_TORCH = re.compile(r"(?P<prefix>(?:.*[./])?)"
                    r"(?P<base>(?:weight|bias)_(?:ih|hh|hr)_l\d+(?:_reverse)?)")
_KERAS = re.compile(r"(?P<prefix>(?:.*[./])?)(?P<base>recurrent_kernel|kernel|bias)(?::0)?")
_TF1 = re.compile(r"(?P<prefix>(?:.*?[./])??)"  # the shortest: projection/kernel is a name
                  r"(?P<base>projection/kernel|kernel|bias|w_[fio]_diag|forget_bias|proj_clip)(?::0)?")


def flatten(tree, prefix: str = "", out: dict | None = None) -> dict:
    """Nested dicts (a checkpoint) as one dict with dotted keys; other values kept as they
    are. Keys that are not strings (an optimizer's parameter numbers) are written with str()."""
    out = {} if out is None else out
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flatten(value, name + ".", out)
        else:
            out[name] = value
    return out


def group(names) -> tuple[dict[str, dict[str, str]], list[str]]:
    """({LSTM name: {the framework's own name: the key in the file}}, the keys of no LSTM).

    PyTorch's names (weight_ih_l0, ...) and Keras's (kernel, recurrent_kernel, bias, also
    TF2's `:0` forms) are found under any prefix, TF1's (kernel without recurrent_kernel, bias,
    w_f_diag, ..., projection/kernel) under one that says "lstm" (a Dense layer has a kernel
    and a bias too); names without a prefix are one LSTM when
    layouts.detect() tells their layout (ONNX's W, R, B; np.savez's arr_0, ...)."""
    names = list(names)
    groups: dict[str, dict[str, str]] = {}
    torch_prefixes = {m.group("prefix") for k in names if (m := _TORCH.fullmatch(k))
                      and m.group("base").startswith("weight_ih_l")}
    keras_prefixes = {m.group("prefix") for k in names if (m := _KERAS.fullmatch(k))
                      and m.group("base") == "recurrent_kernel"} - torch_prefixes
    # a kernel alone is also a Dense layer's: under a prefix, TF1's cell says "lstm" in it
    tf1_prefixes = {m.group("prefix") for k in names if (m := _TF1.fullmatch(k))
                    and m.group("base") == "kernel"
                    and (m.group("prefix") == "" or "lstm" in m.group("prefix").lower())}
    tf1_prefixes -= torch_prefixes | keras_prefixes
    for k in names:
        for pattern, prefixes in ((_TORCH, torch_prefixes), (_KERAS, keras_prefixes),
                                  (_TF1, tf1_prefixes)):
            m = pattern.fullmatch(k)
            if m and m.group("prefix") in prefixes:
                groups.setdefault(m.group("prefix"), {})[m.group("base")] = k
                break
    used = {k for g in groups.values() for k in g.values()}
    if "" not in groups:
        top = [k for k in names if k not in used and not re.search(r"[./]", k)]
        if top and layouts.detect(top) is not None:
            groups[""] = {k: k for k in top}
            used.update(top)
    named = {prefix.rstrip("./"): members for prefix, members in groups.items()}  # file order
    return named, [k for k in names if k not in used]


def _shown(name: str) -> str:
    return name or "(top level)"


def choose(groups: dict, name: str | None, source: str) -> str:
    """The LSTM --name picks: its full name, or the last parts of it (`encoder` for
    `model.encoder`); with no --name, the only one. Refusals (status 2) name every LSTM."""
    everything = ", ".join(_shown(g) for g in groups)
    if name is None:
        if len(groups) == 1:
            return next(iter(groups))
        raise UsageError(f"{source} holds {len(groups)} LSTMs ({everything}); choose one "
                         "with --name")
    found = [g for g in groups if g == name or re.search(rf"(^|[./]){re.escape(name)}$", g)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"--name {name}: {source} holds no LSTM of that name; it holds "
                         f"{everything}")
    raise UsageError(f"--name {name} fits {len(found)} LSTMs in {source} "
                     f"({', '.join(found)}); give more of the name")
