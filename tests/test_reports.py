"""The report layer: one report per command, every cell (projections, variants) right in every
view, and the fixes that came with it, checked against independent references."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import PROJECTED, VARIANT_KEYS
from lstmcalc.cli import app

runner = CliRunner()

def run(*args, input=None):
    r = runner.invoke(app, list(args), input=input)
    assert r.exit_code in (0, 1), (r.exit_code, r.output)
    return r


def test_shapes_of_a_projected_cell_match_pytorch(projected):
    torch = pytest.importorskip("torch")
    got = json.loads(run("shapes", projected, "-f", "json").stdout)
    m, n, p = 3, 4, 2
    assert got["shapes"]["h_prev"] == [p] and got["shapes"]["c_prev"] == [n]
    assert got["shapes"]["W_f"] == [n, m + p] and got["shapes"]["W_hr"] == [p, n]
    assert got["cell_and_hidden_same_size"] is False and got["projection_size"] == p
    lstm = torch.nn.LSTM(m, n, proj_size=p)
    # PyTorch keeps two biases per gate where a config has one: 4n more parameters
    assert got["parameters"]["total"] == sum(t.numel() for t in lstm.parameters()) - 4 * n


def test_shapes_table_of_a_projected_cell_says_h_and_c_differ(projected):
    out = run("shapes", projected, "-f", "table").stdout
    assert "Not in this cell" in out and "W_hr" in out and "p = 2" in out
    assert "Yes: both C_t and h_t" not in out


def test_final_table_of_a_projected_cell(projected):
    out = run("unroll", projected, "--final", "-f", "table").stdout
    final = json.loads(run("unroll", projected, "--final", "-f", "json").stdout)
    assert len(final["h"]) == 2 and len(final["c"]) == 4
    for value in final["h"] + final["c"]:
        assert repr(value) in out


def test_grad_mse_with_a_projection_takes_p_targets_and_agrees_with_autograd(projected,
                                                                             tmp_path):
    torch = pytest.importorskip("torch")
    target = tmp_path / "t.csv"
    ys = np.array([[0.1, 0.2], [0.0, -0.3], [0.5, 0.5]])
    target.write_text("\n".join(",".join(map(repr, r)) for r in ys.tolist()) + "\n")
    got = json.loads(run("grad", projected, "--loss", "mse", "--target", str(target),
                         "-f", "json").stdout)
    W = {g: torch.tensor(PROJECTED["gates"][g]["W"], dtype=torch.float64, requires_grad=True)
         for g in PROJECTED["gates"]}
    b = {g: torch.tensor(PROJECTED["gates"][g]["b"], dtype=torch.float64) for g in W}
    Whr = torch.tensor(PROJECTED["projection"]["W"], dtype=torch.float64)
    h = torch.zeros(2, dtype=torch.float64)
    c = torch.tensor(PROJECTED["c"], dtype=torch.float64)
    hs = []
    for x in torch.tensor(PROJECTED["sequence"], dtype=torch.float64):
        v = torch.cat([x, h])
        f, i, o = (torch.sigmoid(W[g] @ v + b[g]) for g in ("forget", "input", "output"))
        g_ = torch.tanh(W["candidate"] @ v + b["candidate"])
        c = f * c + i * g_
        h = Whr @ (o * torch.tanh(c))
        hs.append(h)
    loss = ((torch.stack(hs) - torch.tensor(ys)) ** 2).mean()
    loss.backward()
    assert got["loss"]["value"] == pytest.approx(loss.item(), rel=1e-14)
    for g in W:
        np.testing.assert_allclose(got["gradients"]["gates"][g]["W"], W[g].grad.numpy(),
                                   rtol=0, atol=1e-14)


SATURATED = "x: [1.0]\ngates:\n" + "".join(
    f"  {g}: {{W: [[15, 15]]}}\n" for g in ("forget", "input", "candidate", "output"))


def test_grad_check_passes_a_correct_tiny_gradient_where_the_difference_is_zero():
    # Every gate saturates: the candidate's gradients are ~1e-13 and no larger gradient lifts
    # the relative floor, so the finite difference's rounding noise alone gave relative
    # errors up to 1e-3 and a failed check for a correct gradient.
    r = runner.invoke(app, ["grad", "-", "-f", "json", "--check"], input=SATURATED)
    check = json.loads(r.stdout)["check"]
    assert r.exit_code == 0 and check["passed"] and check["failed"] == 0
    assert check["max_relative_error"] > 1e-5  # passed by the absolute floor
    assert check["max_absolute_error"] < check["absolute_floor"]


def test_grad_check_still_fails_a_wrong_gradient(monkeypatch):
    from lstmcalc.core import finite_diff

    real = finite_diff.check

    def wrong(cell, xs, h0, c0, loss, dW, db, *args, **kwargs):
        dW = dW.copy()
        dW[2, 0, 0] *= 1.01  # one gradient of the candidate 1% off
        return real(cell, xs, h0, c0, loss, dW, db, *args, **kwargs)

    monkeypatch.setattr(finite_diff, "check", wrong)
    r = run("grad", "-f", "json", "--check")
    check = json.loads(r.stdout)["check"]
    assert r.exit_code == 1 and not check["passed"] and check["worst"] == "W_candidate[0, 0]"
    assert check["worst_at"] == {"parameter": "W_candidate", "index": [0, 0]}  # from 0, as JSON
    table = runner.invoke(app, ["grad", "-f", "table", "--check"], env={"COLUMNS": "200"})
    assert "(at W_candidate row 1, column 1)" in table.stdout  # from 1, as tables count


def test_grad_in_float32_agrees_with_float64():
    g64 = json.loads(run("grad", "-f", "json").stdout)
    g32 = json.loads(run("grad", "-f", "json", "--dtype", "float32").stdout)
    assert g32["dtype"] == "float32" and g64["dtype"] == "float64"
    np.testing.assert_allclose(g32["gradients"]["gates"]["candidate"]["W"],
                               g64["gradients"]["gates"]["candidate"]["W"], rtol=1e-5,
                               atol=1e-7)


FOUNDING_VARIANTS = {**VARIANT_KEYS, "coupled": {"coupled": True}}


def variant_config(tmp_path, name) -> str:
    import yaml

    from lstmcalc.config import builtin_text

    doc = yaml.safe_load(builtin_text())
    doc.update(FOUNDING_VARIANTS[name])
    if name == "coupled":
        del doc["gates"]["forget"]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("name", [*FOUNDING_VARIANTS, "projection"])
def test_teaching_views_write_out_every_variant(tmp_path, name, projected):
    path = projected if name == "projection" else variant_config(tmp_path, name)
    r = runner.invoke(app, ["step", path, "-f", "table", "--explain", "--derivatives",
                            "--diagram"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    expected = {"peepholes": "+ p·C_{t-1} = 0.1·0.5 = 0.05   → 92.05",
                "clip": "clipped to ±2.5 → 2.5",
                "cell_clip": "= -0.95   clipped → -0.4",
                "activations": "f = hard_sigmoid(0.2, 0.5)(z)",
                "coupled": "forget gate: coupled, f = 1 − i",
                "projection": "the projection: h_t = W_hr·m"}[name]
    assert expected in out
    note = {"peepholes": "peepholes: z_f, z_i gain p ⊙ C_{t-1}", "clip": "clipped to ±2.5",
            "cell_clip": "C_t is clipped to ±0.4", "activations": "activations: gates",
            "coupled": "coupled: f_t = 1 − i_t", "projection": "projection: h_t = W_hr"}[name]
    assert note in out  # the diagram's line for what it does not draw


def test_derivatives_of_variants_against_finite_differences(tmp_path):
    from lstmcalc.core.activations import sigmoid

    got = json.loads(runner.invoke(app, ["step", variant_config(tmp_path, "peepholes"), "-f",
                                         "json", "--derivatives"]).stdout)
    # dh/dC with an output peephole: d/dC [σ(lin_o + p_o C) tanh(C)]
    lin_o = np.array(got["gates"]["output"]["preactivation"]) - np.array([-0.3, 0.2, 0.1]) * \
        np.array(got["c"])
    p_o = np.array([-0.3, 0.2, 0.1])

    def h_of(c):
        return sigmoid(lin_o + p_o * c) * np.tanh(c)

    c, e = np.array(got["c"]), 1e-6
    numeric = (h_of(c + e) - h_of(c - e)) / (2 * e)
    np.testing.assert_allclose(got["derivatives"]["dh_dc"], numeric, rtol=1e-8)
    coupled = json.loads(runner.invoke(app, ["step", variant_config(tmp_path, "coupled"), "-f",
                                             "json", "--derivatives"]).stdout)
    assert coupled["derivatives"]["forget"] == [-d for d in coupled["derivatives"]["input"]]
    clipped = json.loads(runner.invoke(app, ["step", variant_config(tmp_path, "cell_clip"),
                                             "-f", "json", "--derivatives"]).stdout)
    raw = np.array(clipped["forget_times_c_prev"]) + np.array(clipped["input_times_candidate"])
    f = np.array(clipped["gates"]["forget"]["activation"])
    np.testing.assert_array_equal(clipped["derivatives"]["dc_dc_prev"],
                                  np.where(np.abs(raw) < 0.4, f, 0.0))


def test_the_terminal_is_injected():
    from lstmcalc import output

    wide = output.Terminal(is_terminal=True, width=120, color_system=None)
    with output.use_terminal(wide):
        r = runner.invoke(app, ["step"])  # auto: a terminal gets the table
    assert r.exit_code == 0 and r.stdout.startswith("lstmcalc step")
    colour = re.compile(r"\x1b\[[0-9;]*3[0-9]")  # a foreground colour (bold is no colour)
    assert max(map(len, r.stdout.splitlines())) <= 120 and not colour.search(r.stdout)
    with output.use_terminal(output.Terminal(True, 90, "truecolor")):
        coloured = runner.invoke(app, ["step"]).stdout
    assert colour.search(coloured)  # colour where the terminal has it
    with output.use_terminal(output.Terminal(True, 90, "truecolor", no_color=True)):
        assert not colour.search(runner.invoke(app, ["step"]).stdout)
    with output.use_terminal(output.Terminal(is_terminal=False, width=80)):
        assert runner.invoke(app, ["step"]).stdout.startswith("{")  # auto: JSON in a pipe


def test_saturation_past_float64_against_exact_decimals():
    from decimal import Decimal

    from helpers import d_sigmoid  # noqa: F401 - sets the decimal context's range
    from lstmcalc.core import Cell, log10_saturation, step
    from lstmcalc.render.numbers import honest

    zs = [30.0, 372.0, 745.5, 800.0, 5000.0, -1000.0, -50.0]
    for z in zs:
        W = np.zeros((4, 1, 2))
        W[:, 0, 0] = z  # every gate sees z (x = 1, h = 0)
        s = step(Cell(W, np.zeros((4, 1))), [1.0])
        gap, value, _ = log10_saturation(s)
        q = Decimal(z)
        exact_gap = (1 / (1 + q.exp())).log10()  # 1 − σ(z) = σ(−z)
        exact_value = (1 / (1 + (-q).exp())).log10()  # σ(z)
        exact_tanh_gap = (2 / (1 + (2 * abs(q)).exp())).log10()  # 1 − |tanh z|
        assert abs(gap[0, 0] - float(exact_gap)) <= 1e-12 * abs(float(exact_gap))
        assert abs(value[0, 0] - float(exact_value)) <= 1e-12 * max(1, abs(float(exact_value)))
        assert abs(gap[2, 0] - float(exact_tanh_gap)) <= 1e-12 * abs(float(exact_tanh_gap))
    # as a table shows them: the true leading digits, never a digit float64 lost
    assert honest(1.0, 4, 0.0, log_gap=float((1 / (1 + Decimal(800).exp())).log10())) == \
        "1 − 3.7e-348"
    assert honest(0.0, 4, log_value=float((1 / (1 + Decimal(1000).exp())).log10())) == \
        "5.1e-435"
    tanh_372 = 2 / (1 + Decimal(744).exp())  # a subnormal in float64: 1.5e-323, not 2e-323
    assert honest(1.0, 4, float(tanh_372), log_gap=float(tanh_372.log10())) == "1 − 1.5e-323"


def test_the_step_table_shows_saturation_past_float64():
    config = ("x: [1.0]\ngates:\n  forget: {W: [[800, 0]]}\n  input: {W: [[-1000, 0]]}\n"
              "  candidate: {W: [[372, 0]]}\n  output: {W: [[30, 0]]}\n")
    out = runner.invoke(app, ["step", "-", "-f", "table"], input=config,
                        env={"COLUMNS": "120"}).stdout
    assert "1 − 3.7e-348" in out and "keeps ≈100% of C_{t-1}[1]" in out  # σ(800)
    assert "5.1e-435" in out and "admits ≈0% of g[1]" in out  # σ(−1000)
    assert "1 − 1.5e-323" in out and "2e-323" not in out  # tanh(372): a subnormal's digits


@pytest.mark.parametrize("name", sorted(FOUNDING_VARIANTS))
def test_written_gaps_of_every_variant_are_the_correctly_rounded_ones(tmp_path, name):
    """A sigmoid or tanh gate's saturation_gap is the correctly rounded 1 − |act(z)| of the z
    written beside it (60-digit decimals); other activations and the coupled forget gate keep
    the loop's 1 − |a|."""
    from helpers import d_sigmoid, d_tanh_gap

    got = json.loads(runner.invoke(app, ["step", variant_config(tmp_path, name), "-f",
                                         "json"]).stdout)
    acts = {"gate": "sigmoid", "candidate": "tanh"}
    if name == "activations":
        keys = VARIANT_KEYS[name]["activations"]
        acts = {"gate": keys["gates"], "candidate": keys["candidate"]}
    checked = 0
    for gate, values in got["gates"].items():
        act = acts["candidate" if gate == "candidate" else "gate"]
        for z, a, gap in zip(values["preactivation"], values["activation"],
                             values["saturation_gap"]):
            if (name == "coupled" and gate == "forget") or act not in ("sigmoid", "tanh"):
                assert gap == 1 - abs(a)
            else:
                assert gap == float(d_sigmoid(-z) if act == "sigmoid" else d_tanh_gap(z))
                checked += 1
    assert checked >= (0 if name == "activations" else 3)
