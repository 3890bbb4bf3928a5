"""Framework weights: every layout round-trips exactly, and lstmcalc computes what PyTorch, ONNX
Runtime, Keras and (by its documented equations) TF1 compute with the same weights."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import onnx_lstm, run_keras
from lstmcalc import layouts
from lstmcalc.core import unroll
from lstmcalc.cli import app

runner = CliRunner()


def random_weights(seed=0, m=3, n=4, two_biases=True, forget_bias=0.0):
    rng = np.random.default_rng(seed)
    return layouts.Weights(rng.normal(size=(4, n, m)), rng.normal(size=(4, n, n)),
                           rng.normal(size=(4, n)),
                           rng.normal(size=(4, n)) if two_biases else np.zeros((4, n)),
                           forget_bias)


@pytest.mark.parametrize("layout", layouts.LAYOUTS)
def test_arrays_round_trip_exactly(layout):
    two = layout in ("pytorch", "onnx")
    w = random_weights(two_biases=two, forget_bias=1.0 if layout == "tf1" else 0.0)
    back = layouts.from_arrays(layout, layouts.to_arrays(layout, w), forget_bias=w.forget_bias)
    for name in ("Wx", "Wh", "bx", "bh"):
        np.testing.assert_array_equal(getattr(back, name), getattr(w, name))
    assert back.forget_bias == w.forget_bias


def test_detection_and_refusals():
    assert layouts.detect(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"]) == "pytorch"
    assert layouts.detect(["kernel", "recurrent_kernel", "bias"]) == "keras"
    assert layouts.detect(["arr_0", "arr_1", "arr_2"]) == "keras"
    assert layouts.detect(["W", "R", "B"]) == "onnx"
    assert layouts.detect(["kernel", "bias"]) == "tf1"
    assert layouts.detect(["something"]) is None
    arrays = layouts.to_arrays("pytorch", random_weights())
    with pytest.raises(layouts.LayoutError, match="more than one layer"):
        layouts.from_arrays("pytorch", {**arrays, "weight_ih_l1": arrays["weight_ih_l0"]})
    onnx_arrays = layouts.to_arrays("onnx", random_weights())
    P = np.arange(12.0)[None] + 1  # ONNX order i, o, f
    w = layouts.from_arrays("onnx", {**onnx_arrays, "P": P})
    np.testing.assert_array_equal(w.variant.peephole, [[9, 10, 11, 12], [1, 2, 3, 4],
                                                       [5, 6, 7, 8]])  # f, i, o
    np.testing.assert_array_equal(layouts.to_arrays("onnx", w)["P"], P)
    with pytest.raises(layouts.LayoutError, match="the pytorch layout cannot hold "
                                                  "peepholes"):
        layouts.to_arrays("pytorch", w)
    with pytest.raises(layouts.LayoutError, match="weight_hh_l0 has shape"):
        layouts.from_arrays("pytorch", {**arrays, "weight_hh_l0": np.zeros((16, 3))})


# through the command line: files in, files out -------------------------------------------------

def save_npz(path, arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("via", ["yaml", "json"])
@pytest.mark.parametrize("layout", layouts.LAYOUTS)
def test_convert_round_trips_through_configs_exactly(tmp_path, layout, via):
    two = layout in ("pytorch", "onnx")
    w = random_weights(seed=3, two_biases=two, forget_bias=1.0 if layout == "tf1" else 0.0)
    arrays = layouts.to_arrays(layout, w)
    if layout == "tf1":
        arrays["forget_bias"] = np.array(1.0)
    src = save_npz(tmp_path / "src.npz", arrays)
    mid, back = str(tmp_path / f"mid.{via}"), str(tmp_path / "back.npz")
    r = runner.invoke(app, ["convert", src, "--from", layout, "--to", via, "-o", mid])
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(app, ["convert", mid, "--to", layout, "-o", back])
    assert r.exit_code == 0, r.stderr
    with np.load(back) as f:
        for name, arr in arrays.items():
            np.testing.assert_array_equal(f[name], arr)


def test_convert_every_layout_to_every_other_computes_the_same(tmp_path):
    w = random_weights(seed=4)
    xs = np.random.default_rng(5).normal(size=(7, 3))
    np.save(tmp_path / "xs.npy", xs)
    ref = unroll(w.cell(), xs).h
    src = save_npz(tmp_path / "torch.npz", layouts.to_arrays("pytorch", w))
    for layout in layouts.LAYOUTS:
        out = str(tmp_path / f"{layout}.npz")
        assert runner.invoke(app, ["convert", src, "--to", layout, "-o", out]).exit_code == 0
        res = json.loads(runner.invoke(app, ["unroll", out, "--layout", layout, "-i",
                                             str(tmp_path / "xs.npy"), "-f", "json"]).stdout)
        np.testing.assert_allclose([s["h"] for s in res["steps"]], ref, rtol=1e-13, atol=1e-15)


def test_weights_file_errors(tmp_path):
    src = save_npz(tmp_path / "odd.npz", {"alpha": np.zeros(3)})
    r = runner.invoke(app, ["unroll", src, "-i", "-"], input="1,2,3\n")
    assert r.exit_code == 65 and "cannot tell the layout from the array names (alpha)" in r.stderr
    r = runner.invoke(app, ["step", "--layout", "keras"])
    assert r.exit_code == 2 and "--layout is for framework weight files (.npz" in r.stderr
    r = runner.invoke(app, ["step", "--name", "enc", "--activations", "tanh,tanh,tanh"])
    assert r.exit_code == 2 and r.stderr.startswith(
        "lstmcalc: error: --activations, --name are for framework weight files")
    good = save_npz(tmp_path / "k.npz",
                    layouts.to_arrays("keras", random_weights(two_biases=False)))
    r = runner.invoke(app, ["step", good])
    assert r.exit_code == 65 and "(or --inputs FILE)" in r.stderr
    r = runner.invoke(app, ["convert", good, "--to", "caffe"])
    assert r.exit_code == 2 and "choose from pytorch, keras, onnx, tf1, yaml, json" in r.stderr


# against the frameworks themselves -------------------------------------------------------------

def test_pytorch_state_dict_and_npz_against_nn_lstm(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, dtype=torch.float64)
    torch.save(lstm.state_dict(), tmp_path / "lstm.pt")
    x = torch.randn(9, 2, 3, dtype=torch.float64)
    h0, c0 = torch.randn(1, 2, 4, dtype=torch.float64), torch.randn(1, 2, 4, dtype=torch.float64)
    with torch.no_grad():
        y, _ = lstm(x, (h0, c0))
    np.save(tmp_path / "x.npy", x.numpy())
    (tmp_path / "state.json").write_text(json.dumps({"h": h0[0].tolist(), "c": c0[0].tolist()}))
    for path in ("lstm.pt",):
        r = runner.invoke(app, ["unroll", str(tmp_path / path), "-i", str(tmp_path / "x.npy"),
                                "--state", str(tmp_path / "state.json"), "-f", "json"])
        assert r.exit_code == 0, r.stderr
        h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
        np.testing.assert_allclose(h, y.numpy(), rtol=1e-12, atol=1e-12)
    table = runner.invoke(app, ["unroll", str(tmp_path / "lstm.pt"), "-i",
                                str(tmp_path / "x.npy"), "-f", "table"],
                          env={"COLUMNS": "300"}).stdout
    assert "(pytorch file)" in table


def test_onnx_model_against_onnx_runtime(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(7)
    m, n, T, B = 3, 5, 8, 2
    arrays = {"W": rng.normal(size=(1, 4 * n, m)), "R": rng.normal(size=(1, 4 * n, n)),
              "B": rng.normal(size=(1, 8 * n)), "initial_h": rng.normal(size=(1, B, n)),
              "initial_c": rng.normal(size=(1, B, n))}
    x = rng.normal(size=(T, B, m)).astype(np.float32)
    (y,) = onnx_lstm(tmp_path / "m.onnx", arrays, x)
    np.save(tmp_path / "x.npy", x)
    for dtype, tol in (("float64", 1e-5), ("float32", 1e-5)):
        r = runner.invoke(app, ["unroll", str(tmp_path / "m.onnx"), "-i",
                                str(tmp_path / "x.npy"), "-f", "json", "--dtype", dtype])
        assert r.exit_code == 0, r.stderr
        h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])  # initial_h, c from model
        np.testing.assert_allclose(h, y[:, 0], rtol=tol, atol=tol)


def test_keras_weights_against_keras(tmp_path):
    paths = [str(tmp_path / name) for name in ("keras.npz", "x.npy", "y.npy")]
    run_keras("""
layer = keras.layers.LSTM(4, return_sequences=True)
x = np.random.default_rng(0).normal(size=(2, 6, 3))
y = layer(x).detach().numpy()
np.savez(sys.argv[1], *layer.get_weights())
np.save(sys.argv[2], np.transpose(x, (1, 0, 2)))
np.save(sys.argv[3], np.transpose(y, (1, 0, 2)))
""", paths)
    r = runner.invoke(app, ["unroll", paths[0], "-i", paths[1], "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    h = np.array([s["h"] for s in out["steps"]])
    np.testing.assert_allclose(h, np.load(paths[2]), rtol=1e-12, atol=1e-12)


def tf1_reference(kernel, bias, forget_bias, xs):
    """TensorFlow 1's LSTMCell (no peepholes, no projection), written from its documentation:
    i, j, f, o = split([x, h] @ kernel + bias); c = c sigma(f + forget_bias) + sigma(i) tanh(j);
    h = tanh(c) sigma(o)."""
    def sig(v):
        return 1 / (1 + np.exp(-v))
    n = kernel.shape[1] // 4
    h, c, out = np.zeros(n), np.zeros(n), []
    for x in xs:
        i, j, f, o = np.split(np.concatenate([x, h]) @ kernel + bias, 4)
        c = c * sig(f + forget_bias) + sig(i) * np.tanh(j)
        h = np.tanh(c) * sig(o)
        out.append(h)
    return np.array(out)


def test_tf1_layout_against_its_documented_equations(tmp_path):
    rng = np.random.default_rng(9)
    kernel, bias = rng.normal(size=(7, 16)), rng.normal(size=16)
    xs = rng.normal(size=(5, 3))
    np.save(tmp_path / "x.npy", xs)
    src = save_npz(tmp_path / "tf1.npz", {"kernel": kernel, "bias": bias})
    for fb in (1.0, 0.25):
        r = runner.invoke(app, ["unroll", src, "--layout", "tf1", "--forget-bias", str(fb), "-i",
                                str(tmp_path / "x.npy"), "-f", "json"])
        assert r.exit_code == 0, r.stderr
        h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
        np.testing.assert_allclose(h, tf1_reference(kernel, bias, fb, xs), rtol=1e-12,
                                   atol=1e-14)


def test_written_pt_and_onnx_files_read_back(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    w = random_weights(seed=11)
    src = save_npz(tmp_path / "t.npz", layouts.to_arrays("pytorch", w))
    for to, name in (("pytorch", "w.pt"), ("onnx", "w.onnx")):
        out = str(tmp_path / name)
        assert runner.invoke(app, ["convert", src, "--to", to, "-o", out]).exit_code == 0
        back = str(tmp_path / f"{name}.npz")
        r = runner.invoke(app, ["convert", out, "--to", "pytorch", "-o", back])
        assert r.exit_code == 0, r.stderr
        with np.load(back) as f:
            for key, arr in layouts.to_arrays("pytorch", w).items():
                np.testing.assert_array_equal(f[key], arr)


def test_shapes_reads_a_weights_file(tmp_path):
    src = save_npz(tmp_path / "k.npz", layouts.to_arrays("keras", random_weights(m=5, n=2)))
    out = json.loads(runner.invoke(app, ["shapes", src, "-f", "json"]).stdout)
    assert out["input_size"] == 5 and out["hidden_size"] == 2


def test_product_never_imports_torch_or_onnx_for_npz(tmp_path):
    src = save_npz(tmp_path / "k.npz", layouts.to_arrays("keras", random_weights()))
    code = ("import sys; from lstmcalc.cli import main; sys.argv = ['lstmcalc', 'shapes', "
            f"{src!r}, '-f', 'json']\ntry: main()\nexcept SystemExit: pass\n"
            "sys.stderr.write(','.join(m for m in ('torch', 'onnx') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert result.stderr == b""


# stacked layers and directions -----------------------------------------------------------------

@pytest.mark.parametrize("layers,bidirectional", [(2, False), (1, True), (3, True)])
def test_pytorch_stacks_against_nn_lstm(tmp_path, layers, bidirectional):
    torch = pytest.importorskip("torch")
    torch.manual_seed(layers)
    lstm = torch.nn.LSTM(3, 4, num_layers=layers, bidirectional=bidirectional,
                         dtype=torch.float64)
    torch.save(lstm.state_dict(), tmp_path / "s.pt")
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        y, (h, c) = lstm(x)
    np.save(tmp_path / "x.npy", x.numpy())
    r = runner.invoke(app, ["unroll", str(tmp_path / "s.pt"), "-i", str(tmp_path / "x.npy"),
                            "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["num_layers"] == layers
    assert out["directions"] == (["forward", "reverse"] if bidirectional else ["forward"])
    np.testing.assert_allclose(out["output"], y.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["h"], h.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["c"], c.numpy(), rtol=1e-12, atol=1e-12)
    final = json.loads(runner.invoke(app, ["unroll", str(tmp_path / "s.pt"), "-i",
                                           str(tmp_path / "x.npy"), "--final"]).stdout)
    assert final["h"] == out["h"] and "layers" not in final
    lines = runner.invoke(app, ["unroll", str(tmp_path / "s.pt"), "-i",
                                str(tmp_path / "x.npy"), "-f", "jsonl", "--fields", "h"]).stdout
    records = [json.loads(ln) for ln in lines.splitlines()]
    assert len(records) == 7 * layers * (2 if bidirectional else 1)
    assert {(rec["layer"], rec["direction"]) for rec in records} == {
        (k + 1, d) for k in range(layers)
        for d in (("forward", "reverse") if bidirectional else ("forward",))}


@pytest.mark.parametrize("direction", ["bidirectional", "reverse"])
def test_onnx_directions_against_onnx_runtime(tmp_path, direction):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(8)
    m, n, T, B = 2, 3, 6, 1
    D = 2 if direction == "bidirectional" else 1
    arrays = {"W": rng.normal(size=(D, 4 * n, m)), "R": rng.normal(size=(D, 4 * n, n)),
              "B": rng.normal(size=(D, 8 * n))}
    x = rng.normal(size=(T, B, m)).astype(np.float32)
    y, y_h = onnx_lstm(tmp_path / "m.onnx", arrays, x, ("Y", "Y_h"), direction=direction)
    np.save(tmp_path / "x.npy", x)
    r = runner.invoke(app, ["unroll", str(tmp_path / "m.onnx"), "-i", str(tmp_path / "x.npy"),
                            "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    # ONNX's Y is (T, D, B, n); lstmcalc's output is (T, B, D n)
    ours = np.array(out["output"]).reshape(T, B, D, n).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(ours, y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["h"], y_h, rtol=1e-5, atol=1e-5)


def test_stacks_refuse_what_they_do_not_do_yet(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.LSTM(3, 2, num_layers=2, dtype=torch.float64).state_dict(),
               tmp_path / "s.pt")
    (tmp_path / "x.csv").write_text("1,2,3\n")
    for args, needle in ((["step", "-i", str(tmp_path / "x.csv"), "--explain", "-f", "table"],
                          "--explain: not available yet"),
                         (["unroll", "-i", str(tmp_path / "x.csv"), "--stochastic"],
                          "--stochastic: not available yet")):
        command, rest = args[0], args[1:]
        r = runner.invoke(app, [command, str(tmp_path / "s.pt"), *rest])
        assert r.exit_code == 2 and needle in r.stderr, (args, r.stderr)


# variants, against ONNX Runtime --------------------------------------------------------------

VARIANTS = {
    "peepholes": dict(P=True),
    "clip": dict(clip=0.7),
    "input_forget": dict(input_forget=1),
    "hard_sigmoid_relu": dict(activations=["HardSigmoid", "Relu", "Softsign"],
                              activation_alpha=[0.25], activation_beta=[0.45]),
    "everything": dict(P=True, clip=1.5, input_forget=1,
                       activations=["HardSigmoid", "Tanh", "Softsign"]),
    "bidirectional_peepholes": dict(P=True, direction="bidirectional"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_onnx_variants_against_onnx_runtime(tmp_path, name):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    spec = dict(VARIANTS[name])
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    m, n, T, B = 3, 4, 7, 2
    D = 2 if spec.get("direction") == "bidirectional" else 1
    arrays = {"W": rng.normal(size=(D, 4 * n, m)), "R": rng.normal(size=(D, 4 * n, n)) * 0.5,
              "B": rng.normal(size=(D, 8 * n))}
    if spec.pop("P", False):
        arrays["P"] = rng.normal(size=(D, 3 * n))
    if "activations" in spec:
        spec["activations"] = spec["activations"] * D
    x = rng.normal(size=(T, B, m)).astype(np.float32)
    y, y_c = onnx_lstm(tmp_path / "m.onnx", arrays, x, ("Y", "Y_c"), **spec)
    np.save(tmp_path / "x.npy", x)
    for dtype in ("float64", "float32"):
        r = runner.invoke(app, ["unroll", str(tmp_path / "m.onnx"), "-i",
                                str(tmp_path / "x.npy"), "-f", "json", "--dtype", dtype])
        assert r.exit_code == 0, r.stderr
        out = json.loads(r.stdout)
        if D == 1:
            h = np.array([s["h"] for s in out["steps"]])
            np.testing.assert_allclose(h, y[:, 0], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(out["c"], y_c[0], rtol=1e-5, atol=1e-5)
        else:
            ours = np.array(out["output"]).reshape(T, B, D, n).transpose(0, 2, 1, 3)
            np.testing.assert_allclose(ours, y, rtol=1e-5, atol=1e-5)


def test_variant_configs_round_trip_through_onnx_and_yaml(tmp_path):
    pytest.importorskip("onnx")
    text = """\
x: [0.5, -1.0]
coupled: true
clip: 2.5
peepholes: {input: [0.1, -0.2], output: [0.3, 0.05]}
activations:
  gates: {name: hard_sigmoid, alpha: 0.25, beta: 0.375}
  candidate: tanh
  cell: softsign
gates:
  input: {W: [[0.1, 0.2, 0.3, 0.4], [0.5, -0.6, 0.7, -0.8]], b: [0.1, 0.2]}
  candidate: {W: [[1.0, -1.0, 0.5, 0.25], [0.2, 0.1, -0.3, 0.4]]}
  output: {W: [[0.3, 0.3, -0.3, 0.3], [0.0, 1.0, 0.0, -1.0]], b: [-0.5, 0.5]}
"""
    (tmp_path / "v.yaml").write_text(text)
    (tmp_path / "xs.csv").write_text("1,2\n-1,0.5\n0,0\n")
    onnx_path, back = str(tmp_path / "v.onnx"), str(tmp_path / "back.yaml")
    r = runner.invoke(app, ["convert", str(tmp_path / "v.yaml"), "--to", "onnx", "-o",
                            onnx_path])
    assert r.exit_code == 0, r.stderr
    assert runner.invoke(app, ["convert", onnx_path, "--to", "yaml", "-o", back]).exit_code == 0
    results = []
    for src in (str(tmp_path / "v.yaml"), onnx_path, back):
        r = runner.invoke(app, ["unroll", src, "-i", str(tmp_path / "xs.csv"), "-f", "json"])
        assert r.exit_code == 0, r.stderr
        results.append([s["h"] for s in json.loads(r.stdout)["steps"]])
    # bit for bit (ONNX keeps attributes such as alpha in float32: these values are exact there)
    assert results[0] == results[1] == results[2]
    table = runner.invoke(app, ["step", str(tmp_path / "v.yaml"), "-f", "table"],
                          env={"COLUMNS": "200"}).stdout
    assert "Variant: peepholes; coupled gates (f = 1 − i); pre-activations clipped to ±2.5; " \
        "activations hard_sigmoid(0.25, 0.375) / tanh / softsign" in table
    r = runner.invoke(app, ["step", str(tmp_path / "v.yaml"), "-f", "table", "--explain"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "forget gate: coupled, f = 1 − i" in r.stdout


@pytest.mark.parametrize("extra,message", [
    ("coupled: 1\n", "coupled must be true or false"),
    ("clip: -1.0\n", "clip must be positive, got -1"),
    ("activations: {gates: swish}\n", "activations.gates must be one of sigmoid, tanh"),
    ("peepholes: {forget: [1, 2]}\n", "peepholes.forget has 2 entries, expected 3"),
])
def test_variant_config_errors(tmp_path, extra, message):
    from lstmcalc.config import builtin_text

    (tmp_path / "c.yaml").write_text(builtin_text() + extra)
    r = runner.invoke(app, ["step", str(tmp_path / "c.yaml"), "-f", "json"])
    assert r.exit_code == 65 and message in r.stderr, r.stderr


def tf1_peephole_projection_reference(kernel, bias, fb, wf, wi, wo, proj, xs, cell_clip=None,
                                      proj_clip=None):
    """TF1's LSTMCell(use_peepholes=True, num_proj=p, cell_clip=...), from its documentation:
    c = sigma(f + fb + w_f c) c + sigma(i + w_i c) tanh(j), clipped; m = sigma(o + w_o c)
    tanh(c); h = m @ projection_kernel, clipped to ±proj_clip."""
    def sig(v):
        return 1 / (1 + np.exp(-v))
    n, p = proj.shape
    h, c, out = np.zeros(p), np.zeros(n), []
    for x in xs:
        i, j, f, o = np.split(np.concatenate([x, h]) @ kernel + bias, 4)
        c = sig(f + fb + wf * c) * c + sig(i + wi * c) * np.tanh(j)
        if cell_clip is not None:
            c = np.clip(c, -cell_clip, cell_clip)
        m = sig(o + wo * c) * np.tanh(c)
        h = m @ proj
        if proj_clip is not None:
            h = np.clip(h, -proj_clip, proj_clip)
        out.append(h)
    return np.array(out)


def tf1_cell_against_its_reference(tmp_path, seed: int, scale: float = 1.0,
                                   proj_clip: float | None = None):
    """A TF1 cell with peepholes and a projection (scaled; with proj_clip beside the arrays,
    where given) saved as .npz, unrolled by lstmcalc over 6 random steps and held to TF1's
    equations to 1e-12. Returns (the .npz path, its arrays, the x .npy path, h)."""
    rng = np.random.default_rng(seed)
    m, n, p = 3, 4, 2
    arrays = {"kernel": rng.normal(size=(m + p, 4 * n)), "bias": rng.normal(size=4 * n),
              "w_f_diag": rng.normal(size=n), "w_i_diag": rng.normal(size=n),
              "w_o_diag": rng.normal(size=n),
              "projection/kernel": rng.normal(size=(n, p)) * scale}
    if proj_clip is not None:
        arrays["proj_clip"] = np.array(proj_clip)
    src = save_npz(tmp_path / "tf1.npz", arrays)
    xs = rng.normal(size=(6, m))
    np.save(tmp_path / "x.npy", xs)
    r = runner.invoke(app, ["unroll", src, "--layout", "tf1", "-i", str(tmp_path / "x.npy"),
                            "-f", "json"])
    assert r.exit_code == 0, r.stderr
    h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
    ref = tf1_peephole_projection_reference(
        arrays["kernel"], arrays["bias"], 1.0, arrays["w_f_diag"], arrays["w_i_diag"],
        arrays["w_o_diag"], arrays["projection/kernel"], xs, proj_clip=proj_clip)
    np.testing.assert_allclose(h, ref, rtol=1e-12, atol=1e-14)
    return src, arrays, tmp_path / "x.npy", h


def test_tf1_peepholes_and_projection(tmp_path):
    src, arrays, _, _ = tf1_cell_against_its_reference(tmp_path, 13)
    # and back out, exactly
    back = str(tmp_path / "back.npz")
    assert runner.invoke(app, ["convert", src, "--from", "tf1", "--to", "yaml", "-o",
                               str(tmp_path / "t.yaml")]).exit_code == 0
    assert runner.invoke(app, ["convert", str(tmp_path / "t.yaml"), "--to", "tf1", "-o",
                               back]).exit_code == 0
    with np.load(back) as f:
        for key, arr in arrays.items():
            np.testing.assert_array_equal(f[key], arr)


def test_keras_hard_sigmoid_via_activations_option(tmp_path):
    paths = [str(tmp_path / name) for name in ("k.npz", "x.npy", "y.npy")]
    run_keras("""
layer = keras.layers.LSTM(3, return_sequences=True, recurrent_activation="hard_sigmoid")
x = np.random.default_rng(1).normal(size=(1, 5, 2)) * 3
y = layer(x).detach().numpy()
np.savez(sys.argv[1], *layer.get_weights())
np.save(sys.argv[2], x[0])
np.save(sys.argv[3], y[0])
""", paths)
    # Keras 3's hard_sigmoid is x/6 + 1/2 (TensorFlow 2's slope), clipped to [0, 1]
    r = runner.invoke(app, ["unroll", paths[0], "-i", paths[1], "-f", "json", "--activations",
                            "hard_sigmoid_tf2,tanh,tanh"])
    assert r.exit_code == 0, r.stderr
    h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
    np.testing.assert_allclose(h, np.load(paths[2]), rtol=1e-12, atol=1e-12)
    r = runner.invoke(app, ["unroll", paths[0], "-i", paths[1], "-f", "json", "--activations",
                            "hard_sigmoid_keras,tanh,tanh"])
    h2 = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
    assert np.abs(h2 - np.load(paths[2])).max() > 1e-6  # the Keras 2 slope is another cell


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_pytorch_batch_first_and_float32(tmp_path, dtype, tol):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    tdt = torch.float64 if dtype == "float64" else torch.float32
    lstm = torch.nn.LSTM(3, 4, batch_first=True, dtype=tdt)
    torch.save(lstm.state_dict(), tmp_path / "b.pt")
    x = torch.randn(2, 9, 3, dtype=tdt)  # (B, T, m)
    with torch.no_grad():
        y, _ = lstm(x)
    np.save(tmp_path / "x.npy", x.numpy())
    r = runner.invoke(app, ["unroll", str(tmp_path / "b.pt"), "-i", str(tmp_path / "x.npy"),
                            "--batch-first", "--dtype", dtype, "-f", "json"])
    assert r.exit_code == 0, r.stderr
    h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])  # (T, B, n)
    np.testing.assert_allclose(h.transpose(1, 0, 2), y.numpy(), rtol=tol, atol=tol)


def test_stacks_from_a_config_against_nn_lstm(tmp_path):
    torch = pytest.importorskip("torch")
    from lstmcalc import frameworks

    torch.manual_seed(4)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    state = {k: v.numpy() for k, v in lstm.state_dict().items()}
    stack, directions = layouts.stack_from_arrays("pytorch", state)
    layers = []
    for per in stack:  # each cell written as its own one-cell config, then stacked by hand
        cells = [json.loads(frameworks.config_text([[w]], ("forward",), "", as_json=True))
                 for w in per]
        layers.append(dict(zip(directions, cells)))
    (tmp_path / "stack.json").write_text(json.dumps({"direction": "bidirectional",
                                                     "layers": layers}))
    x = torch.randn(6, 3, dtype=torch.float64)
    with torch.no_grad():
        y, (h, c) = lstm(x[:, None])
    np.save(tmp_path / "x.npy", x.numpy())
    r = runner.invoke(app, ["unroll", str(tmp_path / "stack.json"), "-i",
                            str(tmp_path / "x.npy"), "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    np.testing.assert_allclose(out["output"], y.numpy()[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["h"], h.numpy()[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("text,message", [
    ("layers: [{gates: {}}]\ngates: {}\n", "'gates' does not go with layers: give it inside "
                                          "each layer"),
    ("direction: reverse\ngates: {}\n", "direction goes with layers"),
    ("layers: []\n", "layers must be a list of cells"),
    ("direction: sideways\nlayers: [{gates: {}}]\n", "direction must be forward, reverse or "
                                                     "bidirectional"),
    ("direction: bidirectional\nlayers: [{forward: {gates: {}}}]\n",
     "layers[1]: missing reverse (a bidirectional layer has a forward and a reverse cell)"),
    ("x: [1, 2]\nlayers:\n  - gates: {f: {W: [[1, 2, 3]]}, i: {W: [[1, 2, 3]]}, "
     "g: {W: [[1, 2, 3]]}, o: {W: [[1, 2, 3]]}}\n  - gates: {f: {W: [[1, 2, 3]]}, "
     "i: {W: [[1, 2, 3]]}, g: {W: [[1, 2, 3]]}, o: {W: [[1, 2, 3]]}}\n",
     "layers[2].gates.f.W row 1 has 3 columns, expected 2 (m + n = 1 + 1)"),
])
def test_stack_config_errors(tmp_path, text, message):
    (tmp_path / "s.yaml").write_text(text)
    r = runner.invoke(app, ["unroll", str(tmp_path / "s.yaml"), "-f", "json"])
    assert r.exit_code == 65 and message in r.stderr, r.stderr


# committed outputs of the frameworks (tests/fixtures/make_framework_fixtures.py) ---------------

FIX = pathlib.Path(__file__).parent / "fixtures" / "frameworks"


def _arrays(path) -> dict:
    """Every array of an .npz, the file closed (an open one warns when collected)."""
    with np.load(path) as f:
        return dict(f)


@pytest.mark.parametrize("name", ["pytorch_stack", "pytorch_proj"])
def test_committed_pytorch_outputs(tmp_path, name):
    io = _arrays(FIX / f"{name}_io.npz")
    np.save(tmp_path / "x.npy", io["x"])
    files = [FIX / f"{name}.npz"]
    try:
        import torch  # noqa: F401

        files.append(FIX / f"{name}.pt")
    except ImportError:
        pass
    for path in files:
        r = runner.invoke(app, ["unroll", str(path), "-i", str(tmp_path / "x.npy"), "-f",
                                "json"])
        assert r.exit_code == 0, r.stderr
        out = json.loads(r.stdout)
        y = out["output"] if "output" in out else [s["h"] for s in out["steps"]]
        np.testing.assert_allclose(y, io["y"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out["c"], io["c_n"] if "output" in out else io["c_n"][0],
                                   rtol=1e-12, atol=1e-12)


def test_committed_keras_outputs(tmp_path):
    io = _arrays(FIX / "keras_io.npz")
    np.save(tmp_path / "x.npy", io["x"])
    r = runner.invoke(app, ["unroll", str(FIX / "keras.npz"), "-i", str(tmp_path / "x.npy"),
                            "-f", "json"])
    assert r.exit_code == 0, r.stderr
    h = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
    np.testing.assert_allclose(h, io["y"], rtol=1e-12, atol=1e-12)


def test_committed_onnx_runtime_outputs(tmp_path):
    pytest.importorskip("onnx")  # reading a .onnx file needs the onnx package
    io = _arrays(FIX / "onnx_variants_io.npz")
    np.save(tmp_path / "x.npy", io["x"])
    r = runner.invoke(app, ["unroll", str(FIX / "onnx_variants.onnx"), "-i",
                            str(tmp_path / "x.npy"), "-f", "json"])
    assert r.exit_code == 0, r.stderr
    T, D, B, n = io["y"].shape
    ours = np.array(json.loads(r.stdout)["output"]).reshape(T, B, D, n).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(ours, io["y"], rtol=1e-5, atol=1e-5)


def test_one_bidirectional_layer_is_one_layer_in_words(tmp_path):
    pytest.importorskip("onnx")
    io = _arrays(FIX / "onnx_variants_io.npz")
    np.save(tmp_path / "x.npy", io["x"])
    for command in ("unroll", "grad"):
        r = runner.invoke(app, [command, str(FIX / "onnx_variants.onnx"), "-i",
                                str(tmp_path / "x.npy"), "-f", "table"],
                           env={"COLUMNS": "300"})
        assert r.exit_code == 0, r.stderr
        assert "(1 layer, forward, reverse" in r.stdout and "layers" not in r.stdout.split("\n")[0]
    r = runner.invoke(app, ["shapes", str(FIX / "onnx_variants.onnx"), "-f", "table"],
                      env={"COLUMNS": "300"})
    assert "1 layer, forward, reverse;" in r.stdout


@pytest.mark.parametrize("variant", ["standard", "peepholes", "clip", "coupled", "activations",
                                     "bidirectional"])
def test_written_onnx_passes_the_checker_and_runs_in_onnx_runtime(tmp_path, variant):
    """convert --to onnx: float64 exact, float32 what ONNX Runtime's LSTM runs; both pass
    onnx.checker's full check, and ONNX Runtime on the float32 file gives lstmcalc's numbers
    for that file (zero initial state) to 1e-5."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import yaml

    from helpers import VARIANT_KEYS
    from lstmcalc.config import builtin_text

    doc = yaml.safe_load(builtin_text())
    if variant == "bidirectional":
        cell = {"gates": doc["gates"]}
        doc = {"x": doc["x"], "direction": "bidirectional", "layers": [
            {"forward": cell, "reverse": {"gates": {k: {"W": (np.array(v["W"]) * 0.5).tolist()}
                                                    for k, v in doc["gates"].items()}}}]}
    elif variant == "coupled":
        doc["coupled"] = True
        del doc["gates"]["forget"]
    elif variant != "standard":
        doc.update(VARIANT_KEYS[variant])
    (tmp_path / "c.json").write_text(json.dumps(doc))
    x = np.random.default_rng(4).normal(size=(5, 1, 3))
    np.save(tmp_path / "x.npy", x[:, 0])
    for dtype in ("float64", "float32"):
        path = tmp_path / f"{dtype}.onnx"
        r = runner.invoke(app, ["convert", str(tmp_path / "c.json"), "--to", "onnx", "--dtype",
                                dtype, "-o", str(path)])
        assert r.exit_code == 0, r.stderr
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    (y,) = ort.InferenceSession(str(tmp_path / "float32.onnx")).run(
        ["Y"], {"X": x.astype(np.float32)})
    r = runner.invoke(app, ["unroll", str(tmp_path / "float32.onnx"), "-i",
                            str(tmp_path / "x.npy"), "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    if "output" in out:
        ours = np.array(out["output"]).reshape(5, 2, 3)  # directions side by side
    else:
        ours = np.array([s["h"] for s in out["steps"]]).reshape(5, 1, 3)
    np.testing.assert_allclose(ours, y[:, :, 0], rtol=1e-5, atol=1e-5)


def test_what_onnx_cannot_hold_is_refused_by_name(tmp_path, projected):
    pytest.importorskip("onnx")
    r = runner.invoke(app, ["convert", projected, "--to", "onnx", "-o", str(tmp_path / "p.onnx")])
    assert r.exit_code == 65 and "ONNX's LSTM has no projection" in r.stderr
    assert not (tmp_path / "p.onnx").exists()
    r = runner.invoke(app, ["convert", projected, "--to", "yaml", "--dtype", "float32"])
    assert r.exit_code == 2 and "--dtype is for .npz, .pt and .onnx" in r.stderr


def test_tf1_proj_clip_forward_gradients_and_round_trips(tmp_path):
    """TF1's proj_clip (h_t clipped after the projection): as `proj_clip` beside the arrays
    and as a config's projection.clip; the outputs against TF1's equations, the gradients
    against central differences, round trips through tf1 and yaml exact, and PyTorch (which
    has no proj_clip) refused by name."""
    import yaml

    src, arrays, x_path, h = tf1_cell_against_its_reference(tmp_path, 21, 3.0, 0.5)
    xs = np.load(x_path)
    assert np.isclose(np.abs(h).max(), 0.5)  # the clip is reached
    # a config says it as projection.clip, and grad --check holds the gradients through it
    cfg = tmp_path / "c.yaml"
    assert runner.invoke(app, ["convert", src, "--from", "tf1", "--to", "yaml", "-o",
                               str(cfg)]).exit_code == 0
    assert yaml.safe_load(cfg.read_text())["projection"]["clip"] == 0.5
    r = runner.invoke(app, ["grad", str(cfg), "-i", str(x_path), "--check", "-f",
                            "json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["check"]["passed"]
    back = tmp_path / "back.npz"
    assert runner.invoke(app, ["convert", str(cfg), "--to", "tf1", "-o", str(back)]).exit_code == 0
    with np.load(back) as f:
        assert float(f["proj_clip"]) == 0.5
        np.testing.assert_array_equal(f["projection/kernel"], arrays["projection/kernel"])
    r = runner.invoke(app, ["convert", str(cfg), "--to", "pytorch", "-o", str(tmp_path / "p.npz")])
    assert r.exit_code == 65 and "h_t clipped to ±0.5 after the projection" in r.stderr
    doc = yaml.safe_load(cfg.read_text())
    doc["projection"]["clip"] = 0.1
    doc["x"] = xs[0].tolist()
    (tmp_path / "tight.yaml").write_text(yaml.safe_dump(doc))
    r = runner.invoke(app, ["step", str(tmp_path / "tight.yaml"), "--explain", "-f", "table"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    assert "clipped →" in r.stdout
