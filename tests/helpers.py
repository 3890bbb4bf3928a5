"""Independent references for the core: exact decimal arithmetic, and PyTorch's weight layout."""

import io
import os
import pathlib
from decimal import Decimal, getcontext

import numpy as np

from lstmcalc.core import Cell

getcontext().prec = 60
getcontext().Emax, getcontext().Emin = 10**9, -(10**9)  # no overflow, even for exp(1e308)


def d_sigmoid(z) -> Decimal:
    return _sigmoid_exact(Decimal(float(z)))


def d_tanh(z) -> Decimal:
    return _tanh_exact(Decimal(float(z)))


def d_tanh_gap(z) -> Decimal:
    """1 - |tanh z| = 2 e / (1 + e) with e = exp(-2|z|): no cancellation in the reference."""
    q = abs(Decimal(float(z)))
    e = (-2 * q).exp() if q < 10**6 else Decimal(0)
    return 2 * e / (1 + e)


def decimal_step(W, b, x, h, c, concat=("x", "h")):
    """One LSTM step in 60-digit decimal arithmetic, from float inputs. Gates f, i, g, o."""
    parts = {"x": [Decimal(float(v)) for v in x], "h": [Decimal(float(v)) for v in h]}
    v = parts[concat[0]] + parts[concat[1]]
    z = [[sum(Decimal(float(w)) * vk for w, vk in zip(row, v)) + Decimal(float(bias))
          for row, bias in zip(W[k], b[k])] for k in range(4)]
    f, i, o = ([_sigmoid_exact(q) for q in z[k]] for k in (0, 1, 3))
    g = [_tanh_exact(q) for q in z[2]]
    c_new = [fj * Decimal(float(cj)) + ij * gj for fj, cj, ij, gj in zip(f, c, i, g)]
    h_new = [oj * _tanh_exact(cj) for oj, cj in zip(o, c_new)]
    return {"z": z, "f": f, "i": i, "g": g, "o": o, "c": c_new, "h": h_new}


def _sigmoid_exact(q: Decimal) -> Decimal:
    if abs(q) > 10**6:  # exp would overflow even Decimal; the true value is 0 or 1 to 10^-434294
        return Decimal(1) if q > 0 else Decimal(0)
    return 1 / (1 + (-q).exp())


def _tanh_exact(q: Decimal) -> Decimal:
    e = (-2 * abs(q)).exp() if abs(q) < 10**6 else Decimal(0)
    t = (1 - e) / (1 + e)
    return t if q >= 0 else -t


def cell_from_torch(weight_ih, weight_hh, bias_ih, bias_hh) -> Cell:
    """PyTorch keeps the gates in the order i, f, g, o and two biases; lstmcalc f, i, g, o."""
    wih, whh = np.asarray(weight_ih), np.asarray(weight_hh)
    n = whh.shape[1]
    W = np.concatenate([wih, whh], axis=1).reshape(4, n, -1)
    b = (np.asarray(bias_ih) + np.asarray(bias_hh)).reshape(4, n)
    order = [1, 0, 2, 3]  # i, f, g, o -> f, i, g, o
    return Cell(W[order], b[order])


GOLDEN = pathlib.Path(__file__).parent / "golden"


def rendered(renderable, width=80) -> str:
    """What a person sees on a terminal of this width, without colour."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                      legacy_windows=False, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


def check_golden(name: str, text: str):
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it (then read the diff)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


ONNX_INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")


def onnx_lstm(path, arrays: dict, x, outputs=("Y",), **attributes):
    """Save a float32 ONNX model with one LSTM node whose initializers are `arrays` (any of W,
    R, B, initial_h, initial_c, P), run it on x (T, B, m) in ONNX Runtime, and return the
    outputs asked for. The reference the ONNX cross-checks compare lstmcalc against."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    names = [name for name in ONNX_INPUTS if name == "X" or name in arrays]
    inputs = [name if name in names else "" for name in ONNX_INPUTS[:ONNX_INPUTS.index(
        names[-1]) + 1]]
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k)
             for k, v in arrays.items()]
    n = np.shape(arrays["R"])[-1]
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], hidden_size=n, **attributes)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    return ort.InferenceSession(str(path)).run(list(outputs), {"X": np.asarray(x, np.float32)})


def step_table(step, precision: int = 4, source: str = ""):
    """The table view of one step, as `lstmcalc step` renders it (through its report)."""
    from lstmcalc import reports
    from lstmcalc.choices import Format, Show
    from lstmcalc.render.views import render

    return render(reports.step_report(source, step), Format.table, Show(precision=precision))


def stderr_on_a_terminal(argv: list[str]) -> tuple[bytes, int]:
    """What a command draws on stderr when stderr is a terminal (a pseudo-terminal, drained
    as a terminal would be) and stdout goes nowhere, and its exit status. Shared by the
    progress tests and benchmarks/progress.py."""
    import pty
    import subprocess

    leader, follower = pty.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    status = p.wait(timeout=60)
    os.close(leader)
    return drawn, status


def run_main(*args, input=None, env=None, cwd=None):
    """lstmcalc's console entry point run in this process, as a shell would run it: argv,
    stdin, stdout and stderr as bytes, the environment and the working folder set for the
    call. Returns a subprocess.CompletedProcess. For what only a real process shows (pipes
    between processes, signals, memory), start one instead."""
    import contextlib
    import subprocess
    import sys

    from lstmcalc.cli import main

    data = input.encode() if isinstance(input, str) else (input or b"")
    out, err = io.BytesIO(), io.BytesIO()
    streams = (io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"),
               io.TextIOWrapper(out, encoding="utf-8", write_through=True),
               io.TextIOWrapper(err, encoding="utf-8", write_through=True))
    saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr, dict(os.environ), os.getcwd())
    sys.argv = ["lstmcalc", *map(str, args)]
    sys.stdin, sys.stdout, sys.stderr = streams
    os.environ.update(env or {})
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        for stream in streams[1:]:
            with contextlib.suppress(ValueError):
                stream.flush()
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved[:4]
        os.environ.clear()
        os.environ.update(saved[4])
        os.chdir(saved[5])
    return subprocess.CompletedProcess(["lstmcalc", *args], code, out.getvalue(),
                                       err.getvalue())


# The founding cell's variants, as config keys (the corpus and the teaching-view tests)
VARIANT_KEYS = {
    "peepholes": {"peepholes": {"forget": [0.1, -0.2, 0.3], "input": [0.2, 0.1, -0.1],
                                "output": [-0.3, 0.2, 0.1]}},
    "clip": {"clip": 2.5},
    "cell_clip": {"cell_clip": 0.4},
    "activations": {"activations": {"gates": "hard_sigmoid", "candidate": "relu",
                                    "cell": "softsign"}},
}


# A cell with a projection (p = 2, n = 4): PyTorch's proj_size, TF1's num_proj
PROJECTED = {
    "x": [0.5, -1.0, 2.0], "c": [0.1, -0.2, 0.3, 0.0],
    "sequence": [[0.5, -1.0, 2.0], [0.0, 0.3, -0.2], [1.0, 1.0, -1.0]],
    "gates": {g: {"W": np.round(np.random.default_rng(k).normal(0, 0.5, (4, 5)), 3).tolist(),
                  "b": [0.1, -0.1, 0.2, 0.0]}
              for k, g in enumerate(("forget", "input", "candidate", "output"))},
    "projection": {"W": [[0.5, -0.25, 1.0, 0.0], [0.1, 0.2, -0.3, 0.4]]},
}


def run_keras(code: str, paths: list):
    """Run code after a Keras prelude (torch backend, float64) in its own process, with the
    paths as sys.argv[1:]; skip the test where Keras is not installed."""
    prelude = """\
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras
keras.config.set_floatx("float64")
"""
    import subprocess
    import sys

    import pytest

    pytest.importorskip("torch")
    result = subprocess.run([sys.executable, "-c", prelude + code, *paths], capture_output=True,
                            env={**os.environ, "KERAS_BACKEND": "torch"})
    if result.returncode and b"No module named 'keras'" in result.stderr:
        pytest.skip("keras is not installed")
    assert result.returncode == 0, result.stderr.decode()[-2000:]


# A Keras 3 model with three LSTM layers and a Dense head (run_keras's names in scope): relu
# with Keras 3's hard_sigmoid gates, a Bidirectional LSTM, a go_backwards LSTM without bias.
# The live Keras test and the committed fixture (make_framework_fixtures.py) build it alike.
KERAS_THREE_LSTMS = """
inp = keras.Input((None, 3))
a = keras.layers.LSTM(4, return_sequences=True, name="enc", activation="relu",
                      recurrent_activation="hard_sigmoid")(inp)
b = keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True), name="bi")(a)
c = keras.layers.LSTM(2, go_backwards=True, use_bias=False, return_sequences=True,
                      name="back")(b)
model = keras.Model(inp, keras.layers.Dense(1, name="head")(c))
"""
