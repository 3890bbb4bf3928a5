"""Backward: against PyTorch autograd (committed and live), against finite differences, and the
vanishing of dL/dC_t through saturated forget gates; the grad command end to end."""

import json
import pathlib
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import cell_from_torch
from lstmcalc.core import finite_diff as gradcheck
from lstmcalc.core import Cell, backward, forget_products, loss_mse, loss_sum, unroll
from lstmcalc.cli import app
from lstmcalc.config import builtin_text

FIXTURES = json.loads((pathlib.Path(__file__).parent / "fixtures" / "torch_grad.json")
                      .read_text())
runner = CliRunner()
ORDER = [1, 0, 2, 3]  # PyTorch i, f, g, o -> f, i, g, o


def check_against(case):
    cell = cell_from_torch(case["weight_ih"], case["weight_hh"], case["bias_ih"], case["bias_hh"])
    run = unroll(cell, case["x"], case["h0"], case["c0"])
    value, dh, dc = loss_sum(run) if case["loss"] == "sum" else loss_mse(run, case["target"])
    g = backward(run, dh, dc)
    n, m = case["n"], case["m"]
    dW = np.concatenate([case["d_weight_ih"], case["d_weight_hh"]], axis=1)
    dW = dW.reshape(4, n, m + n)[ORDER]
    db = np.asarray(case["d_bias"]).reshape(4, n)[ORDER]
    tol = dict(rtol=1e-10, atol=1e-12)
    assert value == pytest.approx(case["value"], rel=1e-12)
    np.testing.assert_allclose(g.dW, dW, **tol)
    np.testing.assert_allclose(g.db, db, **tol)
    np.testing.assert_allclose(g.dx, case["dx"], **tol)
    np.testing.assert_allclose(g.dh0, case["dh0"], **tol)
    np.testing.assert_allclose(g.dc0, case["dc0"], **tol)


@pytest.mark.parametrize("case", FIXTURES["cases"],
                         ids=lambda c: f"{c['loss']}-m{c['m']}n{c['n']}B{c['batch']}T{c['T']}")
def test_against_committed_autograd(case):
    check_against(case)


@pytest.mark.parametrize("seed", range(6))
def test_against_autograd_live(seed):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "fixtures"))
    from make_torch_fixtures import grad_case

    rng = np.random.default_rng(seed)
    check_against(grad_case(3000 + seed, int(rng.integers(1, 9)), int(rng.integers(1, 9)),
                            int(rng.integers(1, 4)), int(rng.integers(1, 30)),
                            "sum" if seed % 2 else "mse"))


@pytest.mark.parametrize("concat", [("x", "h"), ("h", "x")])
def test_against_finite_differences(concat):
    rng = np.random.default_rng(1)
    cell = Cell(rng.normal(0, 0.7, (4, 3, 5)), rng.normal(0, 0.5, (4, 3)), concat)
    xs, h0, c0 = rng.normal(size=(6, 2, 2)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    target = rng.normal(size=(6, 2, 3))
    run = unroll(cell, xs, h0, c0)
    g = backward(run, *loss_mse(run, target)[1:])
    summary = gradcheck.check(cell, xs, h0, c0, lambda r: loss_mse(r, target)[0], g.dW, g.db)
    assert summary["checked"] == summary["parameters"] == 4 * 3 * 5 + 4 * 3
    assert summary["passed"] and summary["max_relative_error"] < 1e-6
    # and the inputs, by hand
    eps = 1e-6
    for idx in [(0, 0, 0), (3, 1, 1), (5, 0, 1)]:
        up, down = xs.copy(), xs.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric = (loss_mse(unroll(cell, up, h0, c0), target)[0]
                   - loss_mse(unroll(cell, down, h0, c0), target)[0]) / (2 * eps)
        assert g.dx[idx] == pytest.approx(numeric, rel=1e-6, abs=1e-10)


def test_saturated_forget_gates_make_the_gradient_vanish():
    """f ~ 0.018 everywhere: dL/dC_t shrinks by about that factor at each step back."""
    n = 2
    W = np.zeros((4, n, 1 + n))
    b = np.zeros((4, n))
    b[0] = -4.0  # forget gate ~ sigmoid(-4) = 0.018
    b[3] = 10.0  # output gate open
    run = unroll(Cell(W, b), np.zeros((12, 1)), None, np.ones(n))
    _, dh, dc = loss_sum(run)
    g = backward(run, np.zeros_like(dh), np.ones(n))  # only dL/dC_T = 1
    norms = np.linalg.norm(g.dc, axis=-1)
    ratios = norms[:-1] / norms[1:]
    np.testing.assert_allclose(ratios, 1 / (1 + np.exp(4.0)), rtol=1e-12)
    np.testing.assert_allclose(forget_products(run)[:, 0], ratios[0] ** np.arange(11, -1, -1),
                               rtol=1e-12)
    # and with f ~ 0.982 it survives
    b[0] = 4.0
    run = unroll(Cell(W, b), np.zeros((12, 1)), None, np.ones(n))
    g = backward(run, np.zeros_like(run.h), np.ones(n))
    assert np.linalg.norm(g.dc[0]) > 0.8 * np.linalg.norm(g.dc[-1])


# the command -----------------------------------------------------------------------------------

def test_grad_json_keys_and_founding_numbers():
    r = runner.invoke(app, ["grad", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["loss"]["kind"] == "sum" and out["steps_count"] == 5
    assert set(out["gradients"]) == {"gates", "x", "h0", "c0"}
    assert set(out["gradients"]["gates"]) == {"forget", "input", "candidate", "output"}
    assert np.array(out["gradients"]["gates"]["forget"]["W"]).shape == (3, 6)
    assert len(out["steps"]) == 5 and set(out["steps"][0]) == {"t", "dz", "dh", "dc", "dc_norm",
                                                             "forget_product"}
    assert out["steps"][-1]["dh"] == [1.0, 1.0, 1.0]  # dL/dh_T for L = sum(h_T)
    assert len(out["cell_path"]["dc_norm"]) == 5


def test_grad_reports_in_the_configs_own_layout_and_names(tmp_path):
    text = ("x: [1.0, -1.0]\ngates:\n"
            "  f: {Wx: [[0.1, 0.2]], Wh: [[0.3]], b: [0.5]}\n  i: {W: [[0.1, 0.2, 0.3]]}\n"
            "  g: {W: [[0.4, -0.2, 0.1]]}\n  o: {Wx: [[0.2, 0.2]], Wh: [[-0.3]]}\n")
    (tmp_path / "c.yaml").write_text(text)
    out = json.loads(runner.invoke(app, ["grad", str(tmp_path / "c.yaml"), "-f", "json"])
                     .stdout)
    gates = out["gradients"]["gates"]
    assert list(gates) == ["f", "i", "g", "o"]
    assert set(gates["f"]) == {"Wx", "Wh", "b"} and set(gates["i"]) == {"W", "b"}
    assert np.array(gates["f"]["Wx"]).shape == (1, 2) and np.array(gates["f"]["Wh"]).shape == (1, 1)


def test_grad_check_mse_and_upstream(tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "xs.csv", rng.normal(size=(8, 3)), delimiter=",")
    np.savetxt(tmp_path / "ys.csv", rng.normal(size=(8, 3)) * 0.3, delimiter=",")
    r = runner.invoke(app, ["grad", "-i", str(tmp_path / "xs.csv"), "--loss", "mse", "--target",
                            str(tmp_path / "ys.csv"), "--check", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["loss"]["kind"] == "mse" and out["check"]["passed"]
    assert out["check"]["checked"] == 84
    (tmp_path / "up.json").write_text(json.dumps({"dh": [1, 1, 1]}))
    given = json.loads(runner.invoke(app, ["grad", "-i", str(tmp_path / "xs.csv"), "--upstream",
                                           str(tmp_path / "up.json"), "-f", "json"]).stdout)
    summed = json.loads(runner.invoke(app, ["grad", "-i", str(tmp_path / "xs.csv"), "-f",
                                            "json"]).stdout)
    assert given["gradients"] == summed["gradients"]  # dL/dh_T = 1 is L = sum(h_T)


@pytest.mark.parametrize("args,status,needle", [
    (["grad", "--loss", "mse"], 2, "--loss mse needs --target FILE"),
    (["grad", "--check-samples", "3"], 2, "--check-samples goes with --check"),
    (["grad", "-f", "csv"], 2, "grad writes table, json or yaml"),
])
def test_grad_usage_errors(args, status, needle):
    r = runner.invoke(app, args)
    assert r.exit_code == status and needle in r.stderr


def test_grad_target_must_match_the_sequence(tmp_path):
    (tmp_path / "ys.csv").write_text("1,2,3\n")
    r = runner.invoke(app, ["grad", "--loss", "mse", "--target", str(tmp_path / "ys.csv")])
    assert r.exit_code == 65 and "the target has 1 rows, the sequence 5 steps" in r.stderr


def test_grad_tables_and_heatmap_on_a_50_step_sequence(tmp_path):
    rng = np.random.default_rng(2)
    np.savetxt(tmp_path / "xs.csv", rng.normal(size=(50, 3)), delimiter=",")
    r = runner.invoke(app, ["grad", "-i", str(tmp_path / "xs.csv"), "-f", "table"])
    assert r.exit_code == 0
    assert "Along the cell state" in r.stdout and "30 steps left out" in r.stdout
    r = runner.invoke(app, ["grad", "-i", str(tmp_path / "xs.csv"), "-f", "table", "--view",
                            "heatmap"])
    assert r.exit_code == 0 and "dL/dz, forget gate" in r.stdout and "dL/dC_t" in r.stdout


# variants: against PyTorch autograd through an independent implementation ---------------------

def torch_variant_run(torch, W, b, P, coupled, clip, cell_clip, acts, x, h0, c0):
    """The variant cell written directly in torch (autograd gives the reference gradients)."""
    def act(name, z):
        if name == "sigmoid":
            return torch.sigmoid(z)
        if name == "tanh":
            return torch.tanh(z)
        if name == "softsign":
            return z / (1 + z.abs())
        if name == "relu":
            return torch.relu(z)
        return torch.clamp(0.2 * z + 0.5, 0, 1)  # hard_sigmoid_keras
    gate, cand, cellact = acts
    h, c, hs = h0, c0, []
    for t in range(x.shape[0]):
        z = torch.cat([x[t], h], dim=-1) @ W.reshape(4 * W.shape[1], -1).T + b.reshape(-1)
        zf, zi, zg, zo = z.chunk(4, dim=-1)
        if P is not None:
            zf, zi = zf + P[0] * c, zi + P[1] * c
        if clip is not None:
            zf, zi, zg = (torch.clamp(q, -clip, clip) for q in (zf, zi, zg))
        i = act(gate, zi)
        f = 1 - i if coupled else act(gate, zf)
        c = f * c + i * act(cand, zg)
        if cell_clip is not None:
            c = torch.clamp(c, -cell_clip, cell_clip)
        if P is not None:
            zo = zo + P[2] * c
        if clip is not None:
            zo = torch.clamp(zo, -clip, clip)
        h = act(gate, zo) * act(cellact, c)
        hs.append(h)
    return torch.stack(hs)


VARIANT_CASES = {
    "peepholes": dict(P=True),
    "coupled": dict(coupled=True),
    "peepholes_coupled": dict(P=True, coupled=True),
    "clips": dict(clip=1.2, cell_clip=0.8),
    "activations": dict(acts=("hard_sigmoid_keras", "softsign", "relu")),
    "everything": dict(P=True, coupled=True, clip=2.0, cell_clip=1.5,
                       acts=("sigmoid", "softsign", "tanh")),
}


@pytest.mark.parametrize("name", list(VARIANT_CASES))
def test_variant_gradients_against_autograd(name):
    torch = pytest.importorskip("torch")
    from lstmcalc.core.activations import Activation
    from lstmcalc.core import Variant

    case = dict(VARIANT_CASES[name])
    rng = np.random.default_rng(len(name))
    m, n, B, T = 3, 4, 2, 6
    W = rng.normal(0, 0.8, (4, n, m + n))
    b = rng.normal(0, 0.5, (4, n))
    P = rng.normal(0, 0.7, (3, n)) if case.get("P") else None
    acts = case.get("acts", ("sigmoid", "tanh", "tanh"))
    variant = Variant(P, case.get("coupled", False), case.get("clip"), case.get("cell_clip"),
                      *(Activation(a) for a in acts))
    x, h0, c0 = rng.normal(size=(T, B, m)), rng.normal(size=(B, n)), rng.normal(size=(B, n))
    target = rng.normal(size=(T, B, n))
    run = unroll(Cell(W, b, variant=variant), x, h0, c0)
    value, dh, dc = loss_mse(run, target)
    g = backward(run, dh, dc)

    tt = {k: torch.tensor(v, requires_grad=True) for k, v in
          dict(W=W, b=b, x=x, h0=h0, c0=c0, **({"P": P} if P is not None else {})).items()}
    hs = torch_variant_run(torch, tt["W"], tt["b"], tt.get("P"), case.get("coupled", False),
                           case.get("clip"), case.get("cell_clip"), acts, tt["x"], tt["h0"],
                           tt["c0"])
    np.testing.assert_allclose(run.h, hs.detach().numpy(), rtol=1e-12, atol=1e-13)
    loss = ((hs - torch.tensor(target)) ** 2).mean()
    loss.backward()
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.dW, tt["W"].grad.numpy(), **tol)
    np.testing.assert_allclose(g.db, tt["b"].grad.numpy(), **tol)
    np.testing.assert_allclose(g.dx, tt["x"].grad.numpy(), **tol)
    np.testing.assert_allclose(g.dh0, tt["h0"].grad.numpy(), **tol)
    np.testing.assert_allclose(g.dc0, tt["c0"].grad.numpy(), **tol)
    if P is not None:
        np.testing.assert_allclose(g.dP, tt["P"].grad.numpy(), **tol)
    if case.get("coupled"):
        assert not g.dW[0].any() and not g.db[0].any()  # f = 1 - i has no weights of its own


def test_variant_gradients_against_finite_differences():
    from lstmcalc.core.activations import Activation
    from lstmcalc.core import Variant

    rng = np.random.default_rng(12)
    variant = Variant(rng.normal(0, 0.5, (3, 3)), False, None, None, Activation("sigmoid"),
                      Activation("softsign"), Activation("tanh"))
    cell = Cell(rng.normal(0, 0.7, (4, 3, 5)), rng.normal(0, 0.5, (4, 3)), variant=variant)
    xs = rng.normal(size=(5, 2))
    target = rng.normal(size=(5, 3))
    run = unroll(cell, xs)
    g = backward(run, *loss_mse(run, target)[1:])
    summary = gradcheck.check(cell, xs, None, None, lambda r: loss_mse(r, target)[0], g.dW,
                              g.db, dP=g.dP)
    assert summary["parameters"] == 4 * 3 * 5 + 4 * 3 + 3 * 3
    assert summary["passed"] and summary["max_relative_error"] < 1e-6


def test_grad_command_on_a_variant_config(tmp_path):
    text = builtin_text() + "peepholes: {f: [0.1, 0.2, 0.3], o: [-0.1, 0.0, 0.1]}\n"
    (tmp_path / "p.yaml").write_text(text)
    r = runner.invoke(app, ["grad", str(tmp_path / "p.yaml"), "--check", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["gradients"]["peepholes"]) == {"forget", "input", "output"}
    assert out["check"]["passed"] and out["check"]["parameters"] == 84 + 9


def test_projection_against_nn_lstm_forward_and_autograd(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(5)
    lstm = torch.nn.LSTM(3, 5, proj_size=2, dtype=torch.float64)
    torch.save(lstm.state_dict(), tmp_path / "p.pt")
    x = torch.randn(8, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, 2, 5, dtype=torch.float64, requires_grad=True)
    y, (hT, cT) = lstm(x, (h0, c0))
    target = torch.randn(8, 2, 2, dtype=torch.float64)
    ((y - target) ** 2).mean().backward()

    from lstmcalc import frameworks

    stack, _, _, _, _ = frameworks.load(str(tmp_path / "p.pt"), None, None, 10**8)
    cell = stack[0][0].cell()
    assert (cell.hidden_size, cell.state_size, cell.input_size) == (5, 2, 3)
    run = unroll(cell, x.detach().numpy(), h0.detach().numpy()[0], c0.detach().numpy()[0])
    np.testing.assert_allclose(run.h, y.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.c[-1], cT.detach().numpy()[0], rtol=1e-12, atol=1e-12)
    g = backward(run, *loss_mse(run, target.numpy())[1:])
    order = [1, 0, 2, 3]
    dW = torch.cat([lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad], 1).reshape(4, 5, 5)[order]
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.dW, dW.numpy(), **tol)
    np.testing.assert_allclose(g.db, lstm.bias_ih_l0.grad.reshape(4, 5)[order].numpy(), **tol)
    np.testing.assert_allclose(g.dWp, lstm.weight_hr_l0.grad.numpy(), **tol)
    np.testing.assert_allclose(g.dx, x.grad.numpy(), **tol)
    np.testing.assert_allclose(g.dh0, h0.grad.numpy()[0], **tol)
    np.testing.assert_allclose(g.dc0, c0.grad.numpy()[0], **tol)
    # the command line: tables and JSON with p beside n, and the check
    np.save(tmp_path / "x.npy", x.detach().numpy())
    out = json.loads(runner.invoke(app, ["unroll", str(tmp_path / "p.pt"), "-i",
                                         str(tmp_path / "x.npy"), "-f", "json"]).stdout)
    assert len(out["h"][0]) == 2 and len(out["c"][0]) == 5
    assert len(out["steps"][0]["h_unprojected"][0]) == 5
    table = runner.invoke(app, ["step", str(tmp_path / "p.pt"), "-i", "-", "-f", "table"],
                          input="1,2,3\n", env={"COLUMNS": "120"}).stdout
    assert "h_t has p = 2 entries while C_t keeps n = 5" in table and "h_t = W_hr m" in table
    r = runner.invoke(app, ["grad", str(tmp_path / "p.pt"), "-i", str(tmp_path / "x.npy"),
                            "--check", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    checked = json.loads(r.stdout)
    assert checked["check"]["passed"] and len(checked["gradients"]["projection"]) == 2
    back = str(tmp_path / "back.npz")
    assert runner.invoke(app, ["convert", str(tmp_path / "p.pt"), "--to", "pytorch", "-o",
                               back]).exit_code == 0
    with np.load(back) as f:
        np.testing.assert_array_equal(f["weight_hr_l0"], lstm.weight_hr_l0.detach().numpy())


@pytest.mark.parametrize("via", ["yaml", "json"])
def test_projection_round_trips_through_configs(tmp_path, via):
    pytest.importorskip("torch")
    import torch

    torch.manual_seed(6)
    torch.save(torch.nn.LSTM(2, 4, proj_size=3, dtype=torch.float64).state_dict(),
               tmp_path / "p.pt")
    mid, back = str(tmp_path / f"p.{via}"), str(tmp_path / "back.npz")
    assert runner.invoke(app, ["convert", str(tmp_path / "p.pt"), "--to", via, "-o",
                               mid]).exit_code == 0
    r = runner.invoke(app, ["convert", mid, "--to", "pytorch", "-o", back])
    assert r.exit_code == 0, r.stderr
    state = torch.load(tmp_path / "p.pt", weights_only=True)
    with np.load(back) as f:
        for key, tensor in state.items():
            np.testing.assert_array_equal(f[key], tensor.numpy())


def test_mean_squared_takes_t_rows_shared_by_a_batch():
    """A target of T rows (T, k) for a batch's outputs (T, B, k): every sequence against the
    same rows, as `grad --target` and lstmcalc.grad give it."""
    from lstmcalc.core import mean_squared

    rng = np.random.default_rng(4)
    y, rows = rng.normal(size=(5, 3, 2)), rng.normal(size=(5, 2))
    shared = mean_squared(y, rows)
    spelled = mean_squared(y, np.repeat(rows[:, None, :], 3, axis=1))
    assert shared[0] == spelled[0] and np.array_equal(shared[1], spelled[1])
