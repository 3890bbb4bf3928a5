"""Stacks (layers, directions) through every command, against PyTorch's nn.LSTM and autograd."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lstmcalc import layouts
from lstmcalc.cli import app

torch = pytest.importorskip("torch")
runner = CliRunner()
L, M, N, T, B = 2, 3, 4, 5, 2


def model(tmp_path, bidirectional: bool, seed: int = 0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(M, N, num_layers=L, bidirectional=bidirectional).double()
    path = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), path)
    return lstm, str(path)


def inputs(tmp_path, batch: bool):
    x = np.random.default_rng(1).normal(size=(T, B, M) if batch else (T, M))
    np.save(tmp_path / "x.npy", x)
    return x, str(tmp_path / "x.npy")


def grad_json(*args, input=None):
    r = runner.invoke(app, ["grad", *args, "-f", "json"], input=input)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def ours_as_torch(entry, k, suffix):
    """A layer's gradients in lstmcalc's layout (f, i, g, o; W = [Wx | Wh]) as PyTorch's."""
    g = entry["gates"]
    dW = np.stack([np.array(g[name]["W"]) for name in ("forget", "input", "candidate",
                                                         "output")])
    db = np.stack([np.array(g[name]["b"]) for name in ("forget", "input", "candidate",
                                                         "output")])
    m = dW.shape[2] - N
    arrays = layouts.to_arrays("pytorch", layouts.Weights(dW[:, :, :m], dW[:, :, m:], db, db))
    return {f"{name}_l{k}{suffix}": arrays[f"{name}_l0"] for name in ("weight_ih", "weight_hh",
                                                                       "bias_ih", "bias_hh")}


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch", [False, True])
def test_stack_gradients_agree_with_autograd(tmp_path, bidirectional, batch):
    lstm, path = model(tmp_path, bidirectional)
    x, xpath = inputs(tmp_path, batch)
    got = grad_json(path, "-i", xpath)
    xt = torch.tensor(x, requires_grad=True)
    out, _ = lstm(xt)
    out[-1].sum().backward()  # --loss sum: the top layer's output at the last step
    assert got["loss"]["value"] == pytest.approx(out[-1].sum().item(), rel=1e-13)
    np.testing.assert_allclose(got["gradients"]["x"], xt.grad.numpy(), rtol=0, atol=1e-13)
    D = 2 if bidirectional else 1
    assert [(e["layer"], e["direction"]) for e in got["gradients"]["layers"]] == [
        (k + 1, d) for k in range(L) for d in ("forward", "reverse")[:D]]
    for e in got["gradients"]["layers"]:
        suffix = "" if e["direction"] == "forward" else "_reverse"
        for name, ours in ours_as_torch(e, e["layer"] - 1, suffix).items():
            np.testing.assert_allclose(ours, getattr(lstm, name).grad.numpy(), rtol=0,
                                       atol=1e-13, err_msg=name)


def test_stack_mse_loss_and_initial_state_gradients(tmp_path):
    lstm, path = model(tmp_path, True, seed=3)
    x, xpath = inputs(tmp_path, False)
    rng = np.random.default_rng(2)
    target = rng.normal(size=(T, 2 * N))
    np.savetxt(tmp_path / "t.csv", target, delimiter=",")
    h0, c0 = rng.normal(size=(L * 2, N)), rng.normal(size=(L * 2, N))
    (tmp_path / "s.json").write_text(json.dumps({"h": h0.tolist(), "c": c0.tolist()}))
    got = grad_json(path, "-i", xpath, "--loss", "mse", "--target", str(tmp_path / "t.csv"),
                    "--state", str(tmp_path / "s.json"))
    h0t, c0t = (torch.tensor(a[:, None, :], requires_grad=True) for a in (h0, c0))
    out, _ = lstm(torch.tensor(x[:, None, :]), (h0t, c0t))
    loss = ((out[:, 0] - torch.tensor(target)) ** 2).mean()
    loss.backward()
    assert got["loss"]["value"] == pytest.approx(loss.item(), rel=1e-13)
    np.testing.assert_allclose(got["gradients"]["h0"], h0t.grad.numpy()[:, 0], atol=1e-13)
    np.testing.assert_allclose(got["gradients"]["c0"], c0t.grad.numpy()[:, 0], atol=1e-13)


def test_stack_gradient_check_and_tables(tmp_path):
    _, path = model(tmp_path, True, seed=5)
    _, xpath = inputs(tmp_path, False)
    got = grad_json(path, "-i", xpath, "--check", "--check-samples", "40")
    assert got["check"]["passed"] and got["check"]["checked"] == 40
    r = runner.invoke(app, ["grad", path, "-i", xpath, "-f", "table"])
    assert r.exit_code == 0 and "Layer 2, reverse: dL/dW and dL/db" in r.stdout
    r = runner.invoke(app, ["grad", path, "-i", xpath, "-f", "table", "--view", "heatmap"])
    assert r.exit_code == 0 and "Layer 2, reverse" in r.stdout


def test_stack_upstream_gradient_is_the_linear_loss(tmp_path):
    lstm, path = model(tmp_path, False, seed=7)
    x, xpath = inputs(tmp_path, False)
    dy = np.random.default_rng(4).normal(size=(T, N))
    (tmp_path / "up.json").write_text(json.dumps({"dh": dy.tolist()}))
    got = grad_json(path, "-i", xpath, "--upstream", str(tmp_path / "up.json"))
    xt = torch.tensor(x[:, None, :], requires_grad=True)
    out, _ = lstm(xt)
    out[:, 0].backward(torch.tensor(dy))
    np.testing.assert_allclose(got["gradients"]["x"], xt.grad.numpy()[:, 0], atol=1e-13)
    (tmp_path / "dc.json").write_text(json.dumps({"dc": [0.0] * N}))
    r = runner.invoke(app, ["grad", path, "-i", xpath, "--upstream",
                            str(tmp_path / "dc.json")])
    assert r.exit_code == 65 and "reads its output only; give dh" in r.stderr


def unroll_json(*args):
    r = runner.invoke(app, ["unroll", *args, "-f", "json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_convert_a_stack_to_a_config_and_back_to_pytorch(tmp_path, bidirectional):
    lstm, path = model(tmp_path, bidirectional, seed=11)
    x, xpath = inputs(tmp_path, True)
    want, _ = lstm(torch.tensor(x))
    for fmt in ("yaml", "json"):
        cfg = tmp_path / f"stack.{fmt}"
        r = runner.invoke(app, ["convert", path, "--to", fmt, "-o", str(cfg)])
        assert r.exit_code == 0, r.stderr
        got = unroll_json(str(cfg), "-i", xpath)
        np.testing.assert_allclose(got["output"], want.detach().numpy(), rtol=0, atol=1e-13)
        back = tmp_path / f"back_{fmt}.pt"
        r = runner.invoke(app, ["convert", str(cfg), "--to", "pytorch", "-o", str(back)])
        assert r.exit_code == 0, r.stderr
        state = torch.load(back, weights_only=True)
        for name, tensor in lstm.state_dict().items():
            # a config holds one bias per gate: bias_ih + bias_hh is what reaches the cell
            if name.startswith("bias_hh"):
                continue
            if name.startswith("bias_ih"):
                hh = name.replace("bias_ih", "bias_hh")
                torch.testing.assert_close(state[name] + state[hh],
                                           tensor + lstm.state_dict()[hh], rtol=0, atol=1e-15)
            else:
                assert torch.equal(state[name], tensor), name


def test_convert_a_bidirectional_layer_to_onnx_and_back(tmp_path):
    pytest.importorskip("onnx")
    lstm = torch.nn.LSTM(M, N, bidirectional=True).double()
    path = tmp_path / "bi.pt"
    torch.save(lstm.state_dict(), path)
    x, xpath = inputs(tmp_path, True)
    onnx_path = tmp_path / "bi.onnx"
    r = runner.invoke(app, ["convert", str(path), "--to", "onnx", "-o", str(onnx_path)])
    assert r.exit_code == 0, r.stderr
    import onnx

    onnx.checker.check_model(onnx.load(onnx_path))
    got = unroll_json(str(onnx_path), "-i", xpath)
    want, _ = lstm(torch.tensor(x))
    np.testing.assert_allclose(got["output"], want.detach().numpy(), rtol=0, atol=1e-13)


def test_convert_refuses_what_a_layout_cannot_hold(tmp_path):
    _, path = model(tmp_path, True)
    for to, out, needle in (
            ("keras", "k.npz", "the keras layout holds one forward cell; this stack has "
                               "2 layers, forward, reverse"),
            ("tf1", "t.npz", "the tf1 layout holds one forward cell"),
            ("onnx", "o.onnx", "the onnx layout holds one LSTM node, one layer"),
            ("onnx", "o.npz", "the onnx layout holds one LSTM node, one layer")):
        r = runner.invoke(app, ["convert", path, "--to", to, "-o", str(tmp_path / out)])
        assert r.exit_code == 65 and needle in r.stderr, (to, r.stderr)
        assert not (tmp_path / out).exists()
    one = tmp_path / "one.pt"
    torch.save(torch.nn.LSTM(M, N).double().state_dict(), one)
    cell = json.loads(runner.invoke(app, ["convert", str(one), "--to", "json"]).stdout)
    reverse = tmp_path / "reverse.json"
    reverse.write_text(json.dumps({"direction": "reverse", "layers": [cell]}))
    r = runner.invoke(app, ["convert", str(reverse), "--to", "pytorch", "-o",
                            str(tmp_path / "r.pt")])
    assert r.exit_code == 65 and "cannot hold a reverse-only LSTM" in r.stderr
    r = runner.invoke(app, ["convert", str(reverse), "--to", "onnx", "-o",
                            str(tmp_path / "r.onnx")])
    assert r.exit_code == 0, r.stderr  # ONNX's direction attribute holds it
    x, xpath = inputs(tmp_path, False)
    np.testing.assert_allclose(unroll_json(str(tmp_path / "r.onnx"), "-i", xpath)["h"],
                               unroll_json(str(reverse), "-i", xpath)["h"], rtol=0, atol=1e-15)


def test_stack_shapes_count_pytorchs_parameters(tmp_path):
    lstm, path = model(tmp_path, True)
    r = runner.invoke(app, ["shapes", path, "-f", "json"])
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["num_layers"] == L and got["directions"] == ["forward", "reverse"]
    assert [e["shapes"]["W_f"] for e in got["layers"]] == [[N, M + N]] * 2 + [[N, 2 * N + N]] * 2
    # PyTorch keeps two biases per gate where lstmcalc computes with their sum: 4n each cell
    assert got["parameters"]["total"] == sum(p.numel() for p in lstm.parameters()) - 4 * N * 4
    table = " ".join(runner.invoke(app, ["shapes", path, "-f", "table"]).stdout.split())
    assert "Layer 2, reverse" in table and f"{got['parameters']['total']} parameters" in table


def test_stack_state_resumes_a_split_sequence_exactly(tmp_path):
    # forward layers only: a reverse direction reads the sequence from its end, so no split
    # resumes it (its --state is PyTorch's h_0 all the same, tested with grad above)
    _, path = model(tmp_path, False, seed=9)
    x, _ = inputs(tmp_path, True)
    np.save(tmp_path / "a.npy", x[:2])
    np.save(tmp_path / "b.npy", x[2:])
    whole = unroll_json(path, "-i", str(tmp_path / "x.npy"), "--final")
    state = tmp_path / "state.json"
    r = runner.invoke(app, ["unroll", path, "-i", str(tmp_path / "a.npy"), "-f", "json",
                            "--state-out", str(state)])
    assert r.exit_code == 0, r.stderr
    assert np.shape(json.loads(state.read_text())["h"]) == (L, B, N)
    resumed = unroll_json(path, "-i", str(tmp_path / "b.npy"), "--final", "--state",
                          str(state))
    assert resumed["h"] == whole["h"] and resumed["c"] == whole["c"]


def test_stack_csv_has_every_layer_in_input_order(tmp_path):
    _, path = model(tmp_path, True, seed=2)
    x, xpath = inputs(tmp_path, False)
    got = unroll_json(path, "-i", xpath)
    r = runner.invoke(app, ["unroll", path, "-i", xpath, "-f", "csv"])
    assert r.exit_code == 0, r.stderr
    import csv
    import io

    rows = list(csv.reader(io.StringIO(r.stdout)))
    head, body = rows[0], rows[1:]
    assert head[:2] == ["t", "h_l1[0]"] and "c_l2_reverse[3]" in head and len(body) == T
    top = [head.index(f"h_l2{s}[{j}]") for s in ("", "_reverse") for j in range(N)]
    np.testing.assert_array_equal([[float(row[i]) for i in top] for row in body],
                                  got["output"])
    r = runner.invoke(app, ["unroll", path, "-i", xpath, "-f", "csv", "--fields", "forget"])
    assert r.exit_code == 2 and "a stack's CSV holds h and c" in r.stderr
    final = runner.invoke(app, ["unroll", path, "-i", xpath, "-f", "csv", "--final"]).stdout
    last = list(csv.reader(io.StringIO(final)))
    assert last[0][0] == "steps" and last[1][0] == str(T)
    np.testing.assert_array_equal([float(v) for v in last[1][1:1 + N]], got["h"][0])


def test_stack_tables_save_svg(tmp_path):
    _, path = model(tmp_path, False)
    _, xpath = inputs(tmp_path, False)
    r = runner.invoke(app, ["unroll", path, "-i", xpath, "-f", "table", "--svg",
                            str(tmp_path / "t.svg")])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "t.svg").read_text().startswith("<svg")


def test_layers_of_different_sizes(tmp_path):
    rng = np.random.default_rng(0)

    def cell(m, n):
        return {"gates": {g: {"W": rng.normal(0, 0.5, (n, m + n)).round(3).tolist()}
                          for g in ("forget", "input", "candidate", "output")}}

    cfg = tmp_path / "ragged.json"
    cfg.write_text(json.dumps({"sequence": [[1, 2, 3], [0, 1, 0], [0.5, 0, -1]],
                               "layers": [cell(3, 4), cell(4, 2)]}))
    final = unroll_json(str(cfg), "--final")
    assert [len(h) for h in final["h"]] == [4, 2] and [len(c) for c in final["c"]] == [4, 2]
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"h": final["h"], "c": final["c"]}))
    again = unroll_json(str(cfg), "--final", "--state", str(state))
    assert [len(h) for h in again["h"]] == [4, 2] and again["h"] != final["h"]
    got = grad_json(str(cfg), "--check")
    assert got["check"]["passed"] and [len(h) for h in got["gradients"]["h0"]] == [4, 2]


def test_a_mixed_stack_a_bidirectional_layer_under_a_forward_one(tmp_path):
    torch.manual_seed(13)
    low = torch.nn.LSTM(M, N, bidirectional=True).double()
    high = torch.nn.LSTM(2 * N, 2).double()
    cells = []
    for lstm in (low, high):
        path = tmp_path / "part.pt"
        torch.save(lstm.state_dict(), path)
        cells.append(json.loads(runner.invoke(app, ["convert", str(path), "--to",
                                                    "json"]).stdout))
    low_layer = cells[0]["layers"][0]  # {"forward": ..., "reverse": ...}
    cfg = tmp_path / "mixed.json"
    cfg.write_text(json.dumps({"layers": [low_layer, cells[1]]}))
    x, xpath = inputs(tmp_path, True)
    xt = torch.tensor(x, requires_grad=True)
    y, (h, c) = high(low(xt)[0])
    got = unroll_json(str(cfg), "-i", xpath)
    assert got["directions"] == [["forward", "reverse"], ["forward"]]
    np.testing.assert_allclose(got["output"], y.detach().numpy(), rtol=0, atol=1e-13)
    y[-1].sum().backward()
    grads = grad_json(str(cfg), "-i", xpath)["gradients"]
    np.testing.assert_allclose(grads["x"], xt.grad.numpy(), rtol=0, atol=1e-13)
    assert [(e["layer"], e["direction"]) for e in grads["layers"]] == [
        (1, "forward"), (1, "reverse"), (2, "forward")]
    # written back as a config it is the same stack; PyTorch's layout cannot hold it
    again = tmp_path / "again.yaml"
    assert runner.invoke(app, ["convert", str(cfg), "--to", "yaml", "-o",
                               str(again)]).exit_code == 0
    assert unroll_json(str(again), "-i", xpath)["output"] == got["output"]
    r = runner.invoke(app, ["convert", str(cfg), "--to", "pytorch", "-o",
                            str(tmp_path / "m.pt")])
    assert r.exit_code == 65 and "runs every layer in the same directions" in r.stderr
    shapes = json.loads(runner.invoke(app, ["shapes", str(cfg), "-f", "json"]).stdout)
    assert [e["direction"] for e in shapes["layers"]] == ["forward", "reverse", "forward"]


def test_stack_and_projection_plots_are_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    _, path = model(tmp_path, True)
    _, xpath = inputs(tmp_path, True)
    r = runner.invoke(app, ["unroll", path, "-i", xpath, "-f", "json", "--plot",
                            str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    proj = torch.nn.LSTM(M, N, proj_size=2).double()
    torch.save(proj.state_dict(), tmp_path / "p.pt")
    r = runner.invoke(app, ["unroll", str(tmp_path / "p.pt"), "-i", xpath, "-f", "json",
                            "--plot", str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
