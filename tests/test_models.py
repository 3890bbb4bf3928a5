"""Weight files as people save them: checkpoints, module prefixes, several LSTMs in one file,
safetensors, ONNX graphs with other nodes; --name chooses, refusals name every LSTM. Each
model's numbers are checked against the framework's own forward pass."""

import json
import pathlib

import numpy as np
import pytest

from helpers import run_main
from lstmcalc import models


def test_group_finds_each_lstm_by_its_prefix_in_file_order():
    names = ["model.encoder.weight_ih_l0", "model.encoder.weight_hh_l0",
             "model.encoder.bias_ih_l0", "model.encoder.bias_hh_l0", "model.fc.weight",
             "dec/lstm/kernel:0", "dec/lstm/recurrent_kernel:0", "dec/lstm/bias:0",
             "rnn/lstm_cell/kernel", "rnn/lstm_cell/bias", "rnn/lstm_cell/projection/kernel",
             "epoch_tensor"]
    groups, other = models.group(names)
    assert list(groups) == ["model.encoder", "dec/lstm", "rnn/lstm_cell"]
    assert groups["dec/lstm"] == {"kernel": "dec/lstm/kernel:0",
                                  "recurrent_kernel": "dec/lstm/recurrent_kernel:0",
                                  "bias": "dec/lstm/bias:0"}
    assert groups["rnn/lstm_cell"]["projection/kernel"] == "rnn/lstm_cell/projection/kernel"
    assert other == ["model.fc.weight", "epoch_tensor"]
    # names without a prefix: one LSTM when their layout is known
    assert models.group(["W", "R", "B"]) == ({"": {"W": "W", "R": "R", "B": "B"}}, [])
    assert models.group(["arr_0", "arr_1"])[0] == {"": {"arr_0": "arr_0", "arr_1": "arr_1"}}


def test_choose_by_full_name_or_its_last_parts():
    groups = {"model.encoder": {}, "model.decoder": {}, "aux.decoder": {}}
    assert models.choose(groups, "encoder", "f.pt") == "model.encoder"
    assert models.choose(groups, "model.decoder", "f.pt") == "model.decoder"
    assert models.choose({"only": {}}, None, "f.pt") == "only"
    from lstmcalc.errors import UsageError

    with pytest.raises(UsageError, match=r"f.pt holds 3 LSTMs \(model.encoder, model.decoder, "
                                         r"aux.decoder\); choose one with --name"):
        models.choose(groups, None, "f.pt")
    with pytest.raises(UsageError, match=r"--name decoder fits 2 LSTMs in f.pt \(model.decoder, "
                                         r"aux.decoder\); give more of the name"):
        models.choose(groups, "decoder", "f.pt")
    with pytest.raises(UsageError, match=r"--name coder: f.pt holds no LSTM of that name"):
        models.choose(groups, "coder", "f.pt")


@pytest.fixture(scope="module")
def net():
    """Two LSTMs and a linear layer, trained one Adam step; its checkpoint as people save it."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.LSTM(3, 4).double()
            self.decoder = torch.nn.LSTM(4, 2, num_layers=2, bidirectional=True).double()
            self.fc = torch.nn.Linear(4, 1).double()

    model = Net()
    optimizer = torch.optim.Adam(model.parameters())
    x = torch.randn(5, 3, dtype=torch.float64)
    y, _ = model.decoder(model.encoder(x)[0])
    model.fc(y).sum().backward()
    optimizer.step()
    with torch.no_grad():
        encoded = model.encoder(x)[0]
        decoded = model.decoder(encoded)[0]
    return {"model": model, "optimizer": optimizer, "x": x.numpy(),
            "encoded": encoded.numpy(), "decoded": decoded.numpy()}


def _outputs(path, name, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    r = run_main("unroll", str(path), "--name", name, "-i", str(tmp_path / "x.npy"), "-f",
                 "json")
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    if "output" in out:  # a stack: the top layer's output, both directions
        return np.array(out["output"])
    return np.array([s["h"] for s in out["steps"]])


def _check_both(path, net, tmp_path, rtol=1e-12):
    np.testing.assert_allclose(_outputs(path, "encoder", net["x"], tmp_path), net["encoded"],
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(_outputs(path, "decoder", net["encoded"], tmp_path),
                               net["decoded"], rtol=rtol, atol=rtol)


def test_a_training_checkpoint_with_two_lstms(tmp_path, net):
    import torch

    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 3, "model_state_dict": net["model"].state_dict(),
                "optimizer_state_dict": net["optimizer"].state_dict(), "loss": 0.25}, path)
    r = run_main("step", str(path))
    assert r.returncode == 2
    assert r.stderr.decode() == (f"lstmcalc: error: {path} holds 2 LSTMs "
                                 "(model_state_dict.encoder, model_state_dict.decoder); choose "
                                 "one with --name\n")
    _check_both(path, net, tmp_path)
    r = run_main("shapes", str(path), "--name", "model_state_dict.decoder", "-f", "json")
    assert json.loads(r.stdout)["num_layers"] == 2
    r = run_main("step", str(path), "--name", "fc")
    assert r.returncode == 2 and b"holds no LSTM of that name" in r.stderr


def test_a_state_dict_with_module_prefixes_in_npz_and_pt(tmp_path, net):
    import torch

    state = net["model"].state_dict()
    torch.save(state, tmp_path / "state.pt")
    np.savez(tmp_path / "state.npz", **{k: v.numpy() for k, v in state.items()})
    for name in ("state.pt", "state.npz"):
        _check_both(tmp_path / name, net, tmp_path)


def test_safetensors_read_without_the_package(tmp_path, net):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(net["model"].state_dict(), str(path))
    _check_both(path, net, tmp_path)
    # float32 and bfloat16 as stored: the numbers of the rounded weights
    import torch

    for dtype in (torch.float32, torch.bfloat16):
        rounded = {k: v.to(dtype) for k, v in net["model"].encoder.state_dict().items()}
        safetensors_torch.save_file(rounded, str(path))
        lstm = torch.nn.LSTM(3, 4).double()
        lstm.load_state_dict({k: v.double() for k, v in rounded.items()})
        with torch.no_grad():
            want = lstm(torch.from_numpy(net["x"]))[0].numpy()
        np.save(tmp_path / "x.npy", net["x"])
        r = run_main("unroll", str(path), "-i", str(tmp_path / "x.npy"), "-f", "json")
        got = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:4], "shorter than its 8-byte header length"),
    (lambda b: (10**9).to_bytes(8, "little") + b[8:], "its header claims 1,000,000,000 bytes"),
    (lambda b: b[:8] + b"x" + b[9:], "its header is not JSON"),
    (lambda b: b[:-8], "do not hold its shape"),
])
def test_damaged_safetensors_are_data_errors(tmp_path, damage, message):
    header = json.dumps({"weight_ih_l0": {"dtype": "F64", "shape": [8, 1],
                                          "data_offsets": [0, 64]}}).encode()
    good = len(header).to_bytes(8, "little") + header + bytes(64)
    (tmp_path / "w.safetensors").write_bytes(damage(good))
    r = run_main("step", str(tmp_path / "w.safetensors"))
    assert r.returncode == 65 and message in r.stderr.decode(), r.stderr


def test_keras_weights_without_a_bias_saved_with_savez(tmp_path):
    """np.savez(f, *layer.get_weights()) of a use_bias=False layer: two arrays."""
    rng = np.random.default_rng(3)
    kernel, recurrent = rng.normal(size=(3, 8)), rng.normal(size=(2, 8))
    np.savez(tmp_path / "k.npz", kernel, recurrent)
    np.savez(tmp_path / "full.npz", kernel, recurrent, np.zeros(8))
    x = rng.normal(size=(4, 3))
    np.save(tmp_path / "x.npy", x)
    outs = [run_main("unroll", str(tmp_path / f), "-i", str(tmp_path / "x.npy"), "-f", "json")
            for f in ("k.npz", "full.npz")]
    assert outs[0].returncode == 0, outs[0].stderr
    assert outs[0].stdout == outs[1].stdout


def test_onnx_graph_with_two_lstm_nodes_and_other_nodes(tmp_path):
    """Two LSTM nodes in one graph, with a Gemm and Squeeze nodes around them and one node's
    weights given as Constant nodes: each chosen by its node name agrees with ONNX Runtime."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    m, n1, n2, T, B = 3, 4, 2, 6, 1

    def weights(prefix, m, n):
        return {f"{prefix}_W": rng.normal(size=(1, 4 * n, m)).astype(np.float32),
                f"{prefix}_R": rng.normal(size=(1, 4 * n, n)).astype(np.float32),
                f"{prefix}_B": rng.normal(size=(1, 8 * n)).astype(np.float32)}

    first, second = weights("enc", m, n1), weights("dec", n1, n2)
    inits = [numpy_helper.from_array(v, k) for k, v in first.items()]
    constants = [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(v, k + "_v"))
                 for k, v in second.items()]
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    nodes = [*constants,
             helper.make_node("LSTM", ["X", "enc_W", "enc_R", "enc_B"], ["Y1"],
                              hidden_size=n1, name="encoder"),
             helper.make_node("Squeeze", ["Y1", "axes"], ["Y1s"], name="squeeze"),
             helper.make_node("LSTM", ["Y1s", "dec_W", "dec_R", "dec_B"], ["Y2"],
                              hidden_size=n2, name="decoder")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, m])],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ("Y1", "Y2")],
        [*inits, axes])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    x = rng.normal(size=(T, B, m)).astype(np.float32)
    y1, y2 = ort.InferenceSession(str(path)).run(["Y1", "Y2"], {"X": x})
    r = run_main("step", str(path))
    assert r.returncode == 2 and b"holds 2 LSTMs (encoder, decoder)" in r.stderr
    np.testing.assert_allclose(_outputs(path, "encoder", x[:, 0], tmp_path), y1[:, 0, 0],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_outputs(path, "decoder", y1[:, 0, 0], tmp_path), y2[:, 0, 0],
                               rtol=1e-5, atol=1e-5)


def test_inspect_lists_every_lstm_and_what_else_the_file_holds(tmp_path, net):
    import torch

    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 3, "model_state_dict": net["model"].state_dict(),
                "optimizer_state_dict": net["optimizer"].state_dict()}, path)
    r = run_main("inspect", str(path), "-f", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {"name": "model_state_dict.encoder", "layout": "pytorch", "input_size": 3,
         "hidden_size": 4, "num_layers": 1, "directions": ["forward"], "projection_size": None,
         "variants": [], "dtype": "float64"},
        {"name": "model_state_dict.decoder", "layout": "pytorch", "input_size": 4,
         "hidden_size": 2, "num_layers": 2, "directions": ["forward", "reverse"],
         "projection_size": None, "variants": [], "dtype": "float64"}]
    table = run_main("inspect", str(path), "-f", "table", env={"COLUMNS": "300"})
    text = table.stdout.decode()
    assert f"{path}: a PyTorch checkpoint with 2 LSTMs" in text
    assert "  pytorch layout, m = 4, n = 2, 2 layers, forward, reverse; float64; standard cell" \
        in text
    assert "Also in the file: model_state_dict.fc.weight, model_state_dict.fc.bias, " \
           "optimizer_state_dict.* (" in text and "epoch" in text


def test_inspect_an_onnx_model_and_refuse_a_config(tmp_path):
    pytest.importorskip("onnx")
    from helpers import onnx_lstm

    rng = np.random.default_rng(2)
    onnx_lstm(tmp_path / "m.onnx", {"W": rng.normal(size=(2, 8, 3)),
                                    "R": rng.normal(size=(2, 8, 2))},
              rng.normal(size=(4, 1, 3)), direction="bidirectional", clip=3.0)
    r = run_main("inspect", str(tmp_path / "m.onnx"), "-f", "json")
    assert json.loads(r.stdout) == [
        {"name": "#1", "layout": "onnx", "input_size": 3, "hidden_size": 2, "num_layers": 1,
         "directions": ["forward", "reverse"], "projection_size": None,
         "variants": ["pre-activations clipped to ±3"], "dtype": "float32"}]
    (tmp_path / "c.yaml").write_text("x: [1]\n")
    r = run_main("inspect", str(tmp_path / "c.yaml"))
    assert r.returncode == 2 and b"inspect reads weight files" in r.stderr
    lines = run_main("inspect", str(tmp_path / "m.onnx"), "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["#1"]


def test_keras_model_files_every_lstm_layer_against_keras(tmp_path):
    """A Keras 3 model with an LSTM (relu activation, hard_sigmoid gates), a Bidirectional
    LSTM, a go_backwards LSTM without bias and a Dense head, saved as .keras and
    .weights.h5: each LSTM by its layer name agrees with Keras's own outputs to 1e-12."""
    pytest.importorskip("h5py")
    from helpers import KERAS_THREE_LSTMS, run_keras

    run_keras(KERAS_THREE_LSTMS + """
model.save(sys.argv[1] + "/m.keras")
model.save_weights(sys.argv[1] + "/m.weights.h5")
x = np.random.default_rng(0).normal(size=(1, 6, 3))
ya = keras.Model(inp, a)(x).detach().numpy()
yb = keras.Model(inp, b)(x).detach().numpy()
yc = keras.Model(inp, c)(x).detach().numpy()
np.savez(sys.argv[1] + "/io.npz", x=x[0], a=ya[0], b=yb[0], c=yc[0])
""", [str(tmp_path)])
    io = np.load(tmp_path / "io.npz")
    path = tmp_path / "m.keras"
    r = run_main("inspect", str(path), "-f", "json")
    assert [(e["name"], e["directions"], e["variants"]) for e in json.loads(r.stdout)] == [
        ("enc", ["forward"], ["activations hard_sigmoid_tf2 / relu / relu"]),
        ("bi", ["forward", "reverse"], []), ("back", ["reverse"], [])]
    np.testing.assert_allclose(_outputs(path, "enc", io["x"], tmp_path), io["a"], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(_outputs(path, "bi", io["a"], tmp_path), io["b"], rtol=1e-12,
                               atol=1e-12)
    # go_backwards: Keras returns the outputs in the order it made them (last input first);
    # lstmcalc aligns each output with its input, as PyTorch does for a reverse direction
    np.testing.assert_allclose(_outputs(path, "back", io["b"], tmp_path), io["c"][::-1],
                               rtol=1e-12, atol=1e-12)
    # the weights file records no activations: standard ones, unless --activations says
    weights = tmp_path / "m.weights.h5"
    np.save(tmp_path / "x.npy", io["x"])
    r = run_main("unroll", str(weights), "--name", "enc", "-i", str(tmp_path / "x.npy"),
                 "--activations", "hard_sigmoid_tf2,relu,relu", "-f", "json")
    got = np.array([s["h"] for s in json.loads(r.stdout)["steps"]])
    np.testing.assert_allclose(got, io["a"], rtol=1e-12, atol=1e-12)
    r = run_main("inspect", str(weights), "-f", "table", env={"COLUMNS": "200"})
    assert "a Keras weights file (which records no activations or go_backwards)" in \
        r.stdout.decode()


def test_keras_2_h5_names_and_damaged_keras_files(tmp_path, monkeypatch):
    """A Keras 2 / TF .h5 names its arrays (`lstm/lstm_cell/kernel:0`): read by name, like the
    same arrays in an .npz. A .keras without its weights, a damaged one, and a missing h5py
    are one-line errors (65, 65, 69)."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(8)
    named = {"kernel": rng.normal(size=(3, 8)), "recurrent_kernel": rng.normal(size=(2, 8)),
             "bias": rng.normal(size=8)}
    with h5py.File(tmp_path / "old.h5", "w") as f:
        for k, v in named.items():
            f[f"model_weights/lstm/lstm/lstm_cell/{k}:0"] = v
        f["model_weights/dense/dense/kernel:0"] = np.zeros((2, 1))
    np.savez(tmp_path / "same.npz", **named)
    outs = [run_main("step", str(tmp_path / name), "-i", "-", "-f", "json", input="1,2,3\n")
            for name in ("old.h5", "same.npz")]
    assert outs[0].returncode == 0, outs[0].stderr
    assert json.loads(outs[0].stdout)["h"] == json.loads(outs[1].stdout)["h"]
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as z:
        z.writestr("config.json", "{}")
    r = run_main("step", str(tmp_path / "empty.keras"))
    assert r.returncode == 65 and b"a .keras file holds config.json and model.weights.h5; " \
                                  b"this one holds config.json" in r.stderr
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\nnot really")
    r = run_main("step", str(tmp_path / "bad.h5"))
    assert r.returncode == 65 and b"not a readable HDF5 file" in r.stderr
    import builtins

    real_import = builtins.__import__

    def without_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_h5py)
    r = run_main("step", str(tmp_path / "old.h5"))
    assert r.returncode == 69 and r.stderr.decode().endswith(
        "reading a Keras .keras or .h5 file needs h5py, which is not installed: "
        "pip install 'lstmcalc[keras]'\n")


@pytest.mark.parametrize("activations, params", [
    (["HardSigmoid", "LeakyRelu", "Elu"], {}),
    (["Sigmoid", "Softplus", "Tanh"], {}),
    (["Sigmoid", "ScaledTanh", "ThresholdedRelu"], {}),
    (["Affine", "Tanh", "Tanh"], {}),
    (["Sigmoid", "ScaledTanh", "ThresholdedRelu"],
     {"activation_alpha": [0.7, 0.1], "activation_beta": [1.3]}),
    (["HardSigmoid", "LeakyRelu", "Elu"],
     {"activation_alpha": [0.3, 0.05, 0.8], "activation_beta": [0.4]}),
])
def test_onnx_activations_and_their_defaults_against_onnx_runtime(tmp_path, activations,
                                                                  params):
    """Every activation the ONNX LSTM defines, with alpha and beta given or left out (ONNX
    Runtime's values then: float32 0.2 and 0.01, and 0 where the spec has no default)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from helpers import onnx_lstm

    rng = np.random.default_rng(5)
    m, n, T = 3, 2, 6
    arrays = {"W": rng.normal(size=(1, 4 * n, m)), "R": rng.normal(size=(1, 4 * n, n)),
              "B": rng.normal(size=(1, 8 * n))}
    x = rng.normal(size=(T, 1, m)).astype(np.float32)
    (y,) = onnx_lstm(tmp_path / "a.onnx", arrays, x, activations=activations, **params)
    got = _outputs(tmp_path / "a.onnx", "#1", x[:, 0], tmp_path)
    np.testing.assert_allclose(got, y[:, 0, 0], rtol=1e-5, atol=1e-5)


def test_keras_activations_against_keras(tmp_path):
    """Each Keras 3 activation lstmcalc reads, in an LSTM saved as .keras, against Keras's own
    forward pass (float64): as the candidate and cell activation, and most as the gates'.
    (Keras on the PyTorch backend returns z itself for softplus past z = 20, where lstmcalc
    and the other backends keep log(1 + e^z): kept below that here.)"""
    pytest.importorskip("h5py")
    from helpers import run_keras

    names = ["elu", "selu", "gelu", "silu", "swish", "softplus", "relu6", "leaky_relu",
             "hard_silu", "exponential", "hard_tanh", "mish", "linear", "hard_sigmoid"]
    run_keras("""
names = sys.argv[2].split(",")
keras.utils.set_random_seed(0)
x = np.random.default_rng(1).normal(size=(1, 5, 3)) * 0.5
bounded = ("hard_sigmoid", "hard_tanh", "relu6", "elu", "selu", "gelu", "silu", "swish",
           "hard_silu", "mish", "leaky_relu", "linear")  # as gates too; the rest grow past 20
outs = {}
inp = keras.Input((None, 3))
layers = []
for name in names:
    layer = keras.layers.LSTM(2, return_sequences=True, name=name, activation=name,
                              recurrent_activation=name if name in bounded else "sigmoid")
    layers.append(layer(inp))
    outs[name] = keras.Model(inp, layers[-1])(x).detach().numpy()[0]
keras.Model(inp, layers).save(sys.argv[1] + "/acts.keras")
np.savez(sys.argv[1] + "/acts.npz", x=x[0], **outs)
""", [str(tmp_path), ",".join(names)])
    io = np.load(tmp_path / "acts.npz")
    for name in names:
        got = _outputs(tmp_path / "acts.keras", name, io["x"], tmp_path)
        np.testing.assert_allclose(got, io[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_model_exported_by_torch_onnx_export(tmp_path):
    """torch.onnx.export writes h_0 and c_0 as zeros computed in the graph (Expand of a zero
    constant) and the weights as initializers: read as the zero state, and the numbers are
    PyTorch's (float32) to 1e-5."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import warnings

    torch.manual_seed(2)
    lstm = torch.nn.LSTM(3, 4, bidirectional=True)
    x = torch.randn(6, 1, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(lstm, (x,), str(tmp_path / "lstm.onnx"), dynamo=False)
    with torch.no_grad():
        want = lstm(x)[0][:, 0].numpy()
    got = _outputs(tmp_path / "lstm.onnx", "/LSTM", x[:, 0].numpy().astype(np.float64),
                   tmp_path)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_written_keras_weights_file_loads_into_keras(tmp_path, bidirectional):
    """convert --to keras -o FILE.weights.h5: Keras's model.load_weights reads it into
    Sequential([Input, LSTM(n)]) (or Bidirectional(LSTM(n))), and Keras's outputs are
    lstmcalc's to 1e-12; lstmcalc reads the file back to the same numbers."""
    pytest.importorskip("h5py")
    import yaml

    from helpers import run_keras
    from lstmcalc.config import builtin_text

    doc = yaml.safe_load(builtin_text())
    doc = {k: v for k, v in doc.items() if k not in ("h", "c", "sequence")}  # zero state
    if bidirectional:
        cell = {"gates": doc["gates"]}
        half = {"gates": {k: {"W": (np.array(v["W"]) * 0.1).tolist(), "b": v.get("b", [0] * 3)}
                          for k, v in doc["gates"].items()}}
        doc = {"x": doc["x"], "direction": "bidirectional", "layers": [
            {"forward": cell, "reverse": half}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    weights = tmp_path / "w.weights.h5"
    r = run_main("convert", str(tmp_path / "c.json"), "--to", "keras", "-o", str(weights))
    assert r.returncode == 0, r.stderr
    x = np.random.default_rng(2).normal(size=(5, 3))
    np.save(tmp_path / "x.npy", x)
    run_keras("""
bidirectional = sys.argv[3] == "1"
lstm = keras.layers.LSTM(3, return_sequences=True)
layer = keras.layers.Bidirectional(lstm) if bidirectional else lstm
model = keras.Sequential([keras.Input((None, 3)), layer])
model.load_weights(sys.argv[1])
x = np.load(sys.argv[2])[None]
np.save(sys.argv[2].replace("x.npy", "y.npy"), model(x).detach().numpy()[0])
""", [str(weights), str(tmp_path / "x.npy"), "1" if bidirectional else "0"])
    want = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(_plain_outputs(tmp_path / "c.json", x, tmp_path), want,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_plain_outputs(weights, x, tmp_path), want, rtol=1e-12,
                               atol=1e-12)


def _plain_outputs(path, x, tmp_path):
    np.save(tmp_path / "xin.npy", x)
    r = run_main("unroll", str(path), "-i", str(tmp_path / "xin.npy"), "-f", "json")
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    return np.array(out["output"]) if "output" in out else np.array([s["h"] for s in
                                                                      out["steps"]])


def test_what_a_keras_weights_file_cannot_hold_is_refused(tmp_path, projected):
    pytest.importorskip("h5py")
    r = run_main("convert", projected, "--to", "keras", "-o", str(tmp_path / "p.weights.h5"))
    assert r.returncode == 65 and b"holds the standard cell's arrays only; this cell adds " \
                                  b"a projection to p = 2" in r.stderr
    assert not (tmp_path / "p.weights.h5").exists()
    r = run_main("convert", projected, "--to", "keras", "-o", str(tmp_path / "p.h5"))
    assert r.returncode == 2 and b"--to keras writes .npz or .weights.h5" in r.stderr


FIX = pathlib.Path(__file__).parent / "fixtures" / "frameworks"


@pytest.mark.parametrize("file, needs, names, rtol", [
    ("keras_model.keras", "h5py", ("enc", "bi", "back"), 1e-12),
    ("two_lstms.safetensors", None, ("encoder", "decoder"), 1e-12),
    ("onnx_graph.onnx", "onnx", ("encoder", "decoder"), 1e-5),
])
def test_committed_model_files_against_their_frameworks_outputs(tmp_path, file, needs, names,
                                                                rtol):
    """Files the frameworks saved (tests/fixtures/make_framework_fixtures.py) and the
    outputs the frameworks computed, committed: the checks hold where Keras, PyTorch or ONNX
    Runtime are not installed. Each LSTM's input is the one before it's output."""
    if needs:
        pytest.importorskip(needs)
    io = np.load(FIX / (file.split(".")[0] + "_io.npz"))
    x = io["x"].astype(np.float64)
    for name in names:
        want = io[name]
        if name == "back":  # Keras's go_backwards output order: last input first
            want = want[::-1]
        got = _outputs(FIX / file, name, x, tmp_path)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=name)
        x = io[name].astype(np.float64)
