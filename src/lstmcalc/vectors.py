"""Test vectors for a hardware testbench, from a run in a narrow format: pure, files as bytes.

For each signal: <signal>.hex, one line per time step (and sequence) holding its entries,
unit 1 first, as words of ceil(bits / 4) hex digits separated by spaces (what Verilog's
$readmemh reads: two's complement codes in fixed point, IEEE bit patterns in float16 and
bfloat16); <signal>.npy with the same words as integers (signed codes in fixed point, the bit
patterns in float16/bfloat16); vectors.h, a C header with every array; manifest.json naming the
signals, their shapes and files, the format and the semantics' version.
"""

import io
import json

import numpy as np

from lstmcalc import records
from lstmcalc.core import Cell, Run
from lstmcalc.core.formats import SEMANTICS_VERSION, Fixed, NumberFormat

MEANING = {
    "x": "x_t, the step's input", "h_prev": "h_{t-1}", "c_prev": "C_{t-1}",
    "forget_z": "z_f = W_f v + b_f, the forget gate's pre-activation",
    "forget_a": "f = sigmoid(z_f)", "input_z": "z_i, the input gate's pre-activation",
    "input_a": "i = sigmoid(z_i)", "candidate_z": "z_g, the candidate's pre-activation",
    "candidate_a": "g = tanh(z_g)", "output_z": "z_o, the output gate's pre-activation",
    "output_a": "o = sigmoid(z_o)", "forget_times_c_prev": "f ⊙ C_{t-1}, rounded",
    "input_times_candidate": "i ⊙ g, rounded", "c": "C_t = f⊙C_{t-1} + i⊙g",
    "tanh_c": "tanh(C_t)", "h": "h_t = o ⊙ tanh(C_t)",
    "W": "the weights: line 4k + j (0-based) is row j of gate k's W (k = f, i, g, o), its "
         "columns [x, h] in the cell's concat order",
    "b": "the bias: line k is gate k's (k = f, i, g, o), unit 1 first",
}


def signals(run: Run) -> list[tuple[str, np.ndarray]]:
    """The per-step signals, each (T, ..., k)."""
    return records.signals(run.x, run.h_prev, run.c_prev, run.z, run.a, run.fc, run.ig, run.c,
                           run.tanh_c, run.h)


def _words(fmt: NumberFormat, values: np.ndarray) -> np.ndarray:
    """The words as stored in .npy: signed codes (fixed point) or bit patterns."""
    if isinstance(fmt, Fixed):
        return fmt.signed_codes(values).astype(_signed(fmt.bits))
    return fmt.codes(values).astype(np.uint16)


def _signed(bits: int) -> type:
    return np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32


def _c_type(fmt: NumberFormat) -> str:
    if isinstance(fmt, Fixed):
        return f"int{np.dtype(_signed(fmt.bits)).itemsize * 8}_t"
    return "uint16_t"


def _hex(fmt: NumberFormat, lines: np.ndarray) -> str:
    """lines: (L, k) values -> L lines of k words."""
    return "".join(fmt.hex_words(row) + "\n" for row in lines)


def _c_array(name: str, ctype: str, words: np.ndarray) -> str:
    dims = "".join(f"[{d}]" for d in words.shape)

    def body(a: np.ndarray) -> str:
        if a.ndim == 1:
            return "{" + ", ".join(str(int(w)) for w in a) + "}"
        return "{" + ",\n  ".join(body(sub) for sub in a) + "}"
    return f"static const {ctype} lstm_{name}{dims} = {body(words)};\n"


def format_dict(fmt: NumberFormat) -> dict:
    out: dict = {"name": fmt.name, "bits": fmt.bits}
    if isinstance(fmt, Fixed):
        out.update(kind="fixed", integer_bits=fmt.integer, fraction_bits=fmt.fraction,
                   encoding="two's complement code k, value k / 2^F",
                   rounding="half to even, saturating")
    else:
        out.update(kind="ieee", encoding="IEEE bit pattern", rounding="nearest even")
    return out


def files(run: Run, source: str) -> dict[str, bytes]:
    """Every file of the vectors directory, by name."""
    cell: Cell = run.cell
    fmt = cell.number
    assert fmt is not None
    n, T, batch = cell.hidden_size, run.T, run.batch_shape
    out: dict[str, bytes] = {}
    entries, header = [], [
        "/* lstmcalc test vectors: generated, do not edit. Values are words of the format "
        f"{fmt.name} (see manifest.json). */\n", "#include <stdint.h>\n\n",
        f"#define LSTM_STEPS {T}\n#define LSTM_BATCH {batch[0] if batch else 1}\n",
        f"#define LSTM_INPUTS {cell.input_size}\n#define LSTM_UNITS {n}\n",
        f"#define LSTM_WORD_BITS {fmt.bits}\n"]
    if isinstance(fmt, Fixed):
        header.append(f"#define LSTM_FRACTION_BITS {fmt.fraction}\n")
    header.append("\n")
    weights = [("W", cell.W.reshape(4 * n, -1)), ("b", cell.b)]
    for name, values in weights + signals(run):
        values = np.asarray(values, np.float64)
        per_line = values.reshape(-1, values.shape[-1])
        words = _words(fmt, values)
        out[f"{name}.hex"] = _hex(fmt, per_line).encode()
        buffer = io.BytesIO()
        np.save(buffer, words, allow_pickle=False)
        out[f"{name}.npy"] = buffer.getvalue()
        header.append(_c_array(name, _c_type(fmt), words))
        entries.append({"name": name, "shape": list(values.shape), "lines": per_line.shape[0],
                        "hex": f"{name}.hex", "npy": f"{name}.npy", "meaning": MEANING[name]})
    out["vectors.h"] = "".join(header).encode()
    manifest = {
        "generator": "lstmcalc vectors", "source": source, "format": format_dict(fmt),
        "semantics_version": SEMANTICS_VERSION,
        "semantics": "docs/hardware.md of lstmcalc: where each value is rounded and saturated",
        "steps": T, "batch_size": batch[0] if batch else None,
        "input_size": cell.input_size, "hidden_size": n, "concat": list(cell.concat),
        "activations": [repr(cell.variant.gate), repr(cell.variant.candidate),
                        repr(cell.variant.cell)],
        "line": "one per time step (per sequence within a step, for a batch), entries unit 1 "
                "first",
        "signals": entries}
    out["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    return out
