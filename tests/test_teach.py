"""Teaching features: golden text for shapes, explain, derivatives and the diagram; --expect;
the stochastic reading; the output layer; init; pictures."""

import json
import pathlib
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import check_golden, rendered
from lstmcalc import config
from lstmcalc.core import (Cell, OutputLayer, derivative_arrays, preactivation_terms, step,
                           stochastic_reading)
from lstmcalc.reports import shapes_report
from lstmcalc.cli import app
from lstmcalc.expect import written_tolerance
from lstmcalc.render.diagram import diagram_view
from lstmcalc.render.teach import derivatives_view, explain_view, shapes_view

runner = CliRunner()


def founding():
    spec = config.load_builtin()
    return spec, step(spec.cell, spec.x, spec.h, spec.c)


def test_explain_golden():
    _, s = founding()
    text = rendered(explain_view(s, preactivation_terms(s), 4))
    assert "z_f[1] = 1·1 + 2·2 + 3·3 + 4·4 + 5·5 + 6·6 + 1 = 92" in text
    assert "f[1] = σ(92) ≈ 1 − 1.1e-40" in text  # a distance shown to two digits: rounded
    check_golden("explain.txt", text)


def test_explain_shortens_long_rows():
    rng = np.random.default_rng(0)
    cell = Cell(rng.normal(size=(4, 9, 21)), rng.normal(size=(4, 9)))
    s = step(cell, rng.normal(size=12))
    text = rendered(explain_view(s, preactivation_terms(s), 3), width=120)
    assert "+ … +" in text and "(21 terms)" in text and "│   …  " in text


def test_derivatives_golden():
    _, s = founding()
    check_golden("derivatives.txt", rendered(derivatives_view(s, derivative_arrays(s))))


def test_diagram_golden_small_and_large():
    _, s = founding()
    check_golden("diagram.txt", rendered(diagram_view(s)))
    rng = np.random.default_rng(3)
    big = step(Cell(rng.normal(size=(4, 6, 8)), rng.normal(size=(4, 6))), [0.5, -1.0])
    text = rendered(diagram_view(big))
    assert "(n = 6: each vector shows its mean (avg) and range)" in text
    check_golden("diagram_n6.txt", text)


def test_shapes_golden_and_answer():
    spec, _ = founding()
    text = rendered(shapes_view(shapes_report(m=3, n=3, source="founding.yaml")))
    assert "Yes: both C_t and h_t" in text and "= 84." in text
    check_golden("shapes.txt", text)
    out = json.loads(runner.invoke(app, ["shapes", "-m", "10", "-n", "20", "-f", "json"]).stdout)
    assert out["shapes"]["W_f"] == [20, 30] and out["parameters"]["total"] == 4 * (20 * 30 + 20)
    assert out["cell_and_hidden_same_size"] is True


def test_shapes_usage_errors():
    r = runner.invoke(app, ["shapes", "configs/founding.yaml", "-m", "3", "-n", "3"])
    assert r.exit_code == 2 and "not both" in r.stderr
    r = runner.invoke(app, ["shapes", "-m", "3"])
    assert r.exit_code == 2 and "go together" in r.stderr


# --expect ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,tol", [("0.57", 0.005), ("92", 0.5), ("1.1e-40", 5e-42),
                                      ("-0.2913", 0.00005), ("1.0e+3", 50.0)])
def test_written_tolerance(text, tol):
    assert written_tolerance(text) == pytest.approx(tol, rel=1e-6)


def expect_run(tmp_path, text, *args, name="mine.yaml"):
    (tmp_path / name).write_text(text)
    return runner.invoke(app, ["step", "--expect", str(tmp_path / name), *args])


def test_expect_agreeing_values_exit_0(tmp_path):
    r = expect_run(tmp_path, "gates:\n  forget:\n    preactivation: [92, 177, 136]\n"
                             "    activation: [1, 1, 1]\n  output:\n"
                             "    activation: [0.75, 0.54, 0.27]\nh: [0.1543, -0.3976, ~]\n",
                   "-f", "table")
    assert r.exit_code == 0, r.stdout
    assert "Checked 11 hand-worked values: 11 agree, 0 differ" in r.stdout


def test_expect_rounded_and_wrong_values_exit_1(tmp_path):
    # the true o[1] is 0.75026...: 0.75 agrees; 0.76 does not; h[1] = 0.1543...: 0.16 does not
    r = expect_run(tmp_path, "gates:\n  output:\n    activation: [0.75, 0.76, 0.27]\n"
                             "h: [0.16, -0.3976, 0.0783]\n", "-f", "table")
    assert r.exit_code == 1
    assert "Checked 6 hand-worked values: 4 agree, 2 differ" in r.stdout
    assert "gates.output.activation" in r.stdout and "0.76" in r.stdout


def test_expect_with_json_output_reports_on_stderr(tmp_path):
    r = expect_run(tmp_path, '{"h": [0.16, -0.3976, 0.0783]}', "-f", "json", name="mine.json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["hidden_size"] == 3
    assert r.stderr.splitlines() == [
        "lstmcalc: differs: h unit 1: yours 0.16, lstmcalc 0.15433583570833667, "
        "difference 0.00566 (tolerance 0.005)",
        "lstmcalc: checked 3 values: 2 agree, 1 differ"]


def test_expect_tolerance_overrides_written_digits(tmp_path):
    r = expect_run(tmp_path, "h: [0.16, -0.4, 0.08]\n", "-f", "json", "--tolerance", "0.01")
    assert r.exit_code == 0
    r = expect_run(tmp_path, "h: [0.1543]\n", "-f", "json", "--tolerance", "0")
    assert r.exit_code == 65 and "h has 1 values, lstmcalc has 3" in r.stderr


def test_expect_bad_files(tmp_path):
    r = expect_run(tmp_path, "hh: [1, 2, 3]\n", "-f", "json")
    assert r.exit_code == 65 and "unknown key 'hh' (did you mean 'h'?)" in r.stderr
    r = expect_run(tmp_path, "gates:\n  forget: [1, 2, 3]\n", "-f", "json")
    assert r.exit_code == 65 and "gates.forget holds keys (preactivation, activation, " \
        "saturation_gap), not a list" in r.stderr
    r = expect_run(tmp_path, "h: [yes, 1, 2]\n", "-f", "json")
    assert r.exit_code == 65 and "h[1]: 'yes' is a boolean in YAML, not a number" in r.stderr
    r = runner.invoke(app, ["step", "--tolerance", "0.1"])
    assert r.exit_code == 2 and "--tolerance goes with --expect" in r.stderr


# stochastic -------------------------------------------------------------------------------------

def test_stochastic_reading_is_reproducible_and_labelled():
    a = runner.invoke(app, ["step", "--stochastic", "--seed", "7", "-f", "json"])
    b = runner.invoke(app, ["step", "--stochastic", "--seed", "7", "-f", "json"])
    c = runner.invoke(app, ["step", "--stochastic", "--seed", "8", "-f", "json"])
    ra, rb, rc = (json.loads(r.stdout)["stochastic"] for r in (a, b, c))
    assert ra == rb and ra != rc and "non-standard" in ra["note"]
    table = runner.invoke(app, ["step", "--stochastic", "-f", "table"]).stdout
    assert "Stochastic reading (seed 0)" in table and "non-standard" in table
    r = runner.invoke(app, ["step", "--seed", "3"])
    assert r.exit_code == 2 and "--seed goes with --stochastic" in r.stderr


def test_stochastic_frequencies_follow_the_gate_values():
    rng = np.random.default_rng(0)
    cell = Cell(rng.normal(size=(4, 5, 7)), rng.normal(size=(4, 5)))
    s = step(cell, rng.normal(size=2))
    draws = 20000
    on = np.zeros((3, 5))
    for seed in range(draws):
        u = np.random.default_rng(seed).random((3, 5))
        on += stochastic_reading(s, u).on
    p = s.a[[0, 1, 3]]
    # within 4 standard errors of the gate value, for every unit of every gate
    assert (np.abs(on / draws - p) <= 4 * np.sqrt(p * (1 - p) / draws) + 1e-9).all()


def test_stochastic_unroll_matches_in_stream_and_whole(tmp_path):
    (tmp_path / "xs.csv").write_text("1,2,3\n0,1,0\n-1,0,1\n")
    whole = runner.invoke(app, ["unroll", "-i", str(tmp_path / "xs.csv"), "-f", "json",
                                "--stochastic", "--seed", "5"])
    streamed = runner.invoke(app, ["unroll", "-i", str(tmp_path / "xs.csv"), "-f", "jsonl",
                                   "--stochastic", "--seed", "5"])
    steps = json.loads(whole.stdout)["steps"]
    lines = [json.loads(ln) for ln in streamed.stdout.splitlines()]
    assert [s["stochastic"] for s in steps] == [ln["stochastic"] for ln in lines]


# output layer -----------------------------------------------------------------------------------

OUTPUT = "output_layer:\n  W: [[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]\n  b: [0.1, -0.2]\n"


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "identity", "softmax"])
def test_output_layer(tmp_path, activation):
    (tmp_path / "cfg.yaml").write_text(config.builtin_text() + OUTPUT
                                       + f"  activation: {activation}\n")
    out = json.loads(runner.invoke(app, ["step", str(tmp_path / "cfg.yaml"), "-f", "json"])
                     .stdout)
    h = np.array(out["h"])
    z = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]) @ h + [0.1, -0.2]
    ref = {"sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z), "identity": z,
           "softmax": np.exp(z) / np.exp(z).sum()}[activation]
    np.testing.assert_allclose(out["y"], ref, rtol=1e-14)
    table = runner.invoke(app, ["step", str(tmp_path / "cfg.yaml"), "-f", "table"]).stdout
    assert f"y_t = {activation}(W_y·h_t + b_y)" in table


def test_softmax_is_stable_for_huge_logits():
    layer = OutputLayer(np.array([[1000.0], [-1000.0], [999.0]]), np.zeros(3), "softmax")
    _, y = layer(np.array([1.0]))
    assert np.isfinite(y).all() and y.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("extra,message", [
    ("output_layer:\n  W: [[1, 2, 3]]\n", "output_layer: missing activation"),
    ("output_layer:\n  W: [[1, 2]]\n  activation: sigmoid\n",
     "output_layer.W row 1 has 2 columns, expected 3 (n = 3"),
    ("output_layer:\n  W: [[1, 2, 3]]\n  activation: relu\n",
     "output_layer.activation must be one of sigmoid, tanh, identity, softmax"),
    ("output_layer:\n  W: [[1, 2, 3]]\n  b: [1, 2]\n  activation: tanh\n",
     "output_layer.b has 2 entries, expected 1 (q = 1"),
])
def test_output_layer_errors(tmp_path, extra, message):
    (tmp_path / "cfg.yaml").write_text(config.builtin_text() + extra)
    r = runner.invoke(app, ["step", str(tmp_path / "cfg.yaml"), "-f", "json"])
    assert r.exit_code == 65 and message in r.stderr


# init -------------------------------------------------------------------------------------------

def test_init_random_round_trip():
    text = runner.invoke(app, ["init", "--random", "--seed", "1", "-m", "4", "-n", "2"]).stdout
    r = runner.invoke(app, ["step", "-", "-f", "json"], input=text)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["input_size"], out["hidden_size"]) == (4, 2)
    again = runner.invoke(app, ["init", "--random", "--seed", "1", "-m", "4", "-n", "2"]).stdout
    assert again == text
    assert runner.invoke(app, ["unroll", "-", "-f", "json"], input=text).exit_code == 0


def test_init_template_loads_and_is_commented(tmp_path):
    path = tmp_path / "t.yaml"
    assert runner.invoke(app, ["init", "-o", str(path)]).exit_code == 0
    text = path.read_text()
    assert "# lstmcalc config" in text and "near 1 keeps C_{t-1}" in text
    assert config.load(str(path)).cell.hidden_size == 3
    r = runner.invoke(app, ["init", "-o", str(path)])
    assert r.exit_code == 73 and "exists; refusing to replace it (use --force)" in r.stderr
    assert runner.invoke(app, ["init", "-o", str(path), "--force", "-n", "5"]).exit_code == 0
    assert config.load(str(path)).cell.hidden_size == 5


# pictures ---------------------------------------------------------------------------------------

def test_svg_html_and_png_are_valid_files(tmp_path):
    svg, html, png = (str(tmp_path / f"out.{ext}") for ext in ("svg", "html", "png"))
    r = runner.invoke(app, ["step", "-f", "table", "--svg", svg, "--html", html])
    assert r.exit_code == 0
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and "Forget" in pathlib.Path(svg).read_text()
    assert pathlib.Path(html).read_text().startswith("<!DOCTYPE html>")
    r = runner.invoke(app, ["unroll", "-f", "json", "--plot", png])
    assert r.exit_code == 0, r.stderr
    data = pathlib.Path(png).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_table_only_options_are_refused_with_machine_formats(tmp_path):
    for args in (["step", "-f", "json", "--explain"], ["step", "-f", "csv", "--diagram"],
                 ["unroll", "-f", "json", "--view", "heatmap"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "in the table format only" in r.stderr, args


def test_views_follow_the_output(tmp_path):
    # auto picks the table for a view that only exists as text, whatever stdout is
    for args in (["step", "--explain"], ["step", "--diagram"],
                 ["unroll", "--view", "heatmap"], ["grad", "--view", "heatmap"]):
        r = runner.invoke(app, args)  # stdout is not a terminal here
        assert r.exit_code == 0 and not r.stdout.startswith("{"), args
    # --svg and --html save the tables whatever format stdout gets
    r = runner.invoke(app, ["step", "-f", "json", "--svg", str(tmp_path / "a.svg"), "--html",
                            str(tmp_path / "a.html")])
    assert r.exit_code == 0 and json.loads(r.stdout)["h"]
    assert "Forget gate" in (tmp_path / "a.html").read_text()
    assert (tmp_path / "a.svg").read_text().startswith("<svg")


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    r = runner.invoke(app, ["unroll", "-f", "json", "--plot", str(tmp_path / "p.png")])
    assert r.exit_code == 69 and r.stdout == ""
    assert r.stderr == ("lstmcalc: error: --plot needs matplotlib, which is not installed: "
                        "pip install 'lstmcalc[plot]'\n")


def test_output_layer_in_unroll_every_format(tmp_path):
    (tmp_path / "cfg.yaml").write_text(config.builtin_text() + OUTPUT + "  activation: tanh\n")
    cfg = str(tmp_path / "cfg.yaml")
    whole = json.loads(runner.invoke(app, ["unroll", cfg, "-f", "json"]).stdout)
    h = np.array([s["h"] for s in whole["steps"]])
    ref = np.tanh(h @ np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]).T + [0.1, -0.2])
    np.testing.assert_allclose([s["y"] for s in whole["steps"]], ref, rtol=1e-14)
    lines = runner.invoke(app, ["unroll", cfg, "-f", "jsonl", "--fields", "y"]).stdout
    assert [json.loads(ln)["y"] for ln in lines.splitlines()] == [s["y"] for s in whole["steps"]]
    rows = runner.invoke(app, ["unroll", cfg, "-f", "csv", "--fields", "y"]).stdout.splitlines()
    assert rows[0] == "t,y[0],y[1]" and float(rows[1].split(",")[1]) == whole["steps"][0]["y"][0]
    (tmp_path / "xs.csv").write_text("1,2,3\n0,1,0\n")
    streamed = runner.invoke(app, ["unroll", cfg, "-i", str(tmp_path / "xs.csv"), "-f", "jsonl"])
    assert json.loads(streamed.stdout.splitlines()[0])["y"] == whole["steps"][0]["y"]
    table = runner.invoke(app, ["unroll", cfg, "-f", "table"]).stdout
    assert "Output layer y_t" in table
    step_csv = runner.invoke(app, ["step", cfg, "-f", "csv"]).stdout.splitlines()
    assert step_csv[0].endswith(",y[0],y[1]")
