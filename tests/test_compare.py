"""lstmcalc compare on real ports: a PyTorch LSTM ported to Keras 3 (and to TF1's and ONNX's
layouts) with each of the usual mistakes, saved by the frameworks themselves; compare must
find that the two part and name the mistake that explains it (tested on the weights)."""

import json

import numpy as np
import pytest

from helpers import run_keras, run_main

M, N = 3, 4


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    """The reference (a PyTorch nn.LSTM saved with torch.save) and one port per mistake."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("h5py")
    folder = tmp_path_factory.mktemp("ports")
    torch.manual_seed(3)
    lstm = torch.nn.LSTM(M, N).double()
    with torch.no_grad():  # weights that float32 does not hold exactly
        for p in lstm.parameters():
            p.add_(torch.randn_like(p) * 1e-3)
    torch.save(lstm.state_dict(), folder / "ref.pt")
    w = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    np.savez(folder / "w.npz", **w)
    run_keras("""
w = dict(np.load(sys.argv[1] + "/w.npz"))
wih, whh, bih, bhh = w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"], w["bias_hh_l0"]
n = whh.shape[1]
swap = np.r_[n:2 * n, 0:n, 2 * n:4 * n]  # f and i exchanged (PyTorch and Keras: i, f, g, o)

def save(name, kernel, recurrent, bias, dtype="float64", **options):
    layer = keras.layers.LSTM(n, return_sequences=True, name="lstm", dtype=dtype,
                              use_bias=bias is not None, **options)
    model = keras.Sequential([keras.Input((None, kernel.shape[0])), layer])
    layer.set_weights([kernel, recurrent] + ([bias] if bias is not None else []))
    model.save(sys.argv[1] + f"/{name}.keras")

save("right", wih.T, whh.T, bih + bhh)
save("gate_swap", wih.T[:, swap], whh.T[:, swap], (bih + bhh)[swap])
save("not_transposed", wih.reshape(wih.shape[1], -1), whh.T, bih + bhh)
save("bias_missing", wih.T, whh.T, bih)
save("no_bias", wih.T, whh.T, None)
save("direction", wih.T, whh.T, bih + bhh, go_backwards=True)
save("float32", wih.T, whh.T, bih + bhh, dtype="float32")
save("activations", wih.T, whh.T, bih + bhh, recurrent_activation="hard_sigmoid")
""", [str(folder)])
    # PyTorch's two biases both set to Keras's one: the bias counted twice
    np.savez(folder / "bias_twice.npz", **{**w, "bias_hh_l0": w["bias_ih_l0"] + w["bias_hh_l0"],
                                          "bias_ih_l0": w["bias_ih_l0"] + w["bias_hh_l0"]})
    # TF1's kernel is [x; h] @ (m + n, 4n), gates i, j, f, o, plus forget_bias (1.0)
    i, f, g, o = (slice(k * N, (k + 1) * N) for k in range(4))
    order = np.r_[0:N, 2 * N:3 * N, N:2 * N, 3 * N:4 * N]  # PyTorch's i, f, g, o -> i, g, f, o
    kernel = np.concatenate([w["weight_ih_l0"].T, w["weight_hh_l0"].T])[:, order]
    bias = (w["bias_ih_l0"] + w["bias_hh_l0"])[order]
    np.savez(folder / "forget_bias.npz", kernel=kernel, bias=bias)  # TF1 adds 1.0
    hx = np.concatenate([w["weight_hh_l0"].T, w["weight_ih_l0"].T])[:, order]
    np.savez(folder / "concat_order.npz", kernel=hx, bias=bias, forget_bias=np.array(0.0))
    # ONNX wants i, o, f, c: PyTorch's blocks copied as they are
    np.savez(folder / "copied_order.npz", W=w["weight_ih_l0"][None], R=w["weight_hh_l0"][None],
             B=np.concatenate([w["bias_ih_l0"], w["bias_hh_l0"]])[None])
    return folder


def compare(folder, port, *options):
    r = run_main("compare", str(folder / "ref.pt"), str(folder / port), "-f", "json", *options)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def test_a_right_port_agrees(ports):
    status, out = compare(ports, "right.keras")
    assert status == 0 and out["agree"] and out["diagnosis"] == []
    assert out["largest_difference"]["h"] < 1e-14


@pytest.mark.parametrize("port, options, mistake, words", [
    ("gate_swap.keras", [], "gate_order", "forget and input gates are swapped"),
    ("copied_order.npz", [], "gate_order",
     "in pytorch's order (i, f, g, o) where onnx reads i, o, f, c"),
    ("not_transposed.keras", [], "not_transposed", "kernel was reshaped"),
    ("bias_missing.keras", [], "bias_missing", "the recurrent one (bias_hh / Rb) is missing"),
    ("no_bias.keras", [], "bias_missing", "B has no bias where A has one"),
    ("bias_twice.npz", [], "bias_twice", "B's bias is twice A's"),
    ("forget_bias.npz", ["--layout-b", "tf1"], "forget_bias", "B adds 1 to the forget gate"),
    ("concat_order.npz", ["--layout-b", "tf1"], "concat_order", "[h, x] where A's"),
    ("direction.keras", [], "direction", "A runs forward and B reverse"),
    ("float32.keras", ["--tolerance", "1e-12"], "float32", "rounded to float32"),
    ("activations.keras", [], "variant", "hard_sigmoid_tf2"),
])
def test_each_porting_mistake_is_named(ports, port, options, mistake, words):
    status, out = compare(ports, port, *options)
    assert status == 1 and not out["agree"]
    assert out["first_parting_step"] is not None
    found = [(d["mistake"], d["explanation"]) for d in out["diagnosis"]]
    assert any(key.split("+")[-1] == mistake and words in text for key, text in found), found


def test_the_table_is_what_a_forum_answer_needs(ports):
    r = run_main("compare", str(ports / "ref.pt"), str(ports / "gate_swap.keras"), "-f", "table",
                 env={"COLUMNS": "100"})
    text = r.stdout.decode()
    assert r.returncode == 1
    assert "They differ: largest |h_A − h_B| = " in text and "they part at step 1" in text
    assert "Diagnosis (each tested on the weights):" in text
    assert "B's forget and input gates are swapped" in text


def test_compare_refuses_what_cannot_run_on_the_same_inputs(ports, tmp_path):
    np.savez(tmp_path / "other.npz", kernel=np.zeros((5, 4 * N)),
             recurrent_kernel=np.zeros((N, 4 * N)), bias=np.zeros(4 * N))
    r = run_main("compare", str(ports / "ref.pt"), str(tmp_path / "other.npz"))
    assert r.returncode == 2 and b"A reads x of 3 entries and B of 5" in r.stderr
