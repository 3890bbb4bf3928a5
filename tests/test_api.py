"""The Python API (lstmcalc.api): the same reports as the command line, so to_dict() is the
CLI's `-f json` parsed, for step, unroll and grad, single cells, variants and stacks."""

import io
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import yaml
from rich.console import Console

import lstmcalc
from helpers import PROJECTED, VARIANT_KEYS, run_main
from lstmcalc.config import builtin_text
from lstmcalc.errors import DataError, LstmcalcError

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOUNDING = str(ROOT / "configs" / "founding.yaml")
STACK = str(ROOT / "tests" / "fixtures" / "frameworks" / "pytorch_stack.npz")


def cli(*args) -> dict:
    r = run_main(*args, "-f", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def configs(tmp_path) -> dict[str, str]:
    base = yaml.safe_load(builtin_text())
    out = {"founding": FOUNDING}
    for name, keys in VARIANT_KEYS.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**base, **keys}))
        out[name] = str(path)
    (tmp_path / "projected.json").write_text(json.dumps(PROJECTED))
    out["projected"] = str(tmp_path / "projected.json")
    cell = {"gates": base["gates"]}
    (tmp_path / "stack.json").write_text(json.dumps(
        {"x": base["x"], "sequence": base["sequence"], "direction": "bidirectional",
         "layers": [{"forward": cell, "reverse": cell}]}))
    out["stack"] = str(tmp_path / "stack.json")
    return out


@pytest.mark.parametrize("name", ["founding", *VARIANT_KEYS, "projected", "stack"])
def test_to_dict_is_the_clis_json(tmp_path, name):
    path = configs(tmp_path)[name]
    if name != "projected":
        assert lstmcalc.step(path).to_dict() == cli("step", path)
    assert lstmcalc.unroll(path).to_dict() == cli("unroll", path)
    assert lstmcalc.grad(path).to_dict() == cli("grad", path)


def test_weight_files_arrays_paths_and_dicts(tmp_path):
    x = np.random.default_rng(1).normal(size=(4, 3))
    np.save(tmp_path / "x.npy", x)
    via_cli = cli("unroll", STACK, "-i", str(tmp_path / "x.npy"))
    assert lstmcalc.unroll(STACK, x).to_dict() == via_cli
    assert lstmcalc.unroll(STACK, tmp_path / "x.npy").to_dict() == via_cli
    assert lstmcalc.grad(STACK, x).to_dict() == cli("grad", STACK, "-i", str(tmp_path / "x.npy"))
    doc = yaml.safe_load(builtin_text())
    doc["gates"]["forget"]["W"] = np.array(doc["gates"]["forget"]["W"])  # arrays are fine
    assert lstmcalc.step(doc).to_dict()["h"] == cli("step", FOUNDING)["h"]
    np.savetxt(tmp_path / "t.csv", np.zeros((5, 3)), delimiter=",")
    target = np.zeros((5, 3))
    assert lstmcalc.grad(FOUNDING, loss="mse", target=target).to_dict() == \
        cli("grad", FOUNDING, "--loss", "mse", "--target", str(tmp_path / "t.csv"))


def test_arrays_for_code_and_the_tables_for_people():
    r = lstmcalc.step(FOUNDING, x=[1, 2, 3])
    d = r.to_dict()
    assert r.gates["forget"].preactivation.tolist() == d["gates"]["forget"]["preactivation"]
    assert r.gates["input"].saturation_gap.tolist() == d["gates"]["input"]["saturation_gap"]
    assert r.h.tolist() == d["h"] and r.c.tolist() == d["c"]
    run = lstmcalc.unroll(FOUNDING)
    assert run.gates["output"].activation.shape == run.h.shape == (5, 3)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(r)
    assert "Forget gate" in console.file.getvalue()
    html = r._repr_html_()
    assert "<html" in html.lower() and "Forget gate" in html
    assert isinstance(lstmcalc.grad(FOUNDING).loss, float)


def test_errors_are_the_clis():
    with pytest.raises(LstmcalcError, match="cannot read"):
        lstmcalc.step("no/such/file.yaml")
    with pytest.raises(DataError, match="gates"):
        lstmcalc.step({"x": [1, 2, 3]})
    with pytest.raises(LstmcalcError, match="mse"):
        lstmcalc.grad(FOUNDING, loss="mse")


def test_import_lstmcalc_loads_no_numpy():
    code = "import sys, lstmcalc; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_the_python_page_runs(monkeypatch):
    """docs/python.md's blocks, in order, in one namespace, from the project's root."""
    import re

    monkeypatch.chdir(ROOT)
    # every block of the page; of the README, the one that starts with `import lstmcalc`
    for page, pattern in (("docs/python.md", r"```python\n(.*?)```"),
                          ("README.md", r"```python\n(import lstmcalc\n.*?)```")):
        text = (ROOT / page).read_text()
        namespace: dict = {}
        blocks = re.findall(pattern, text, re.S)
        for block in blocks:
            exec(compile(block, page, "exec"), namespace)  # noqa: S102
        assert blocks and namespace["r"].kind == "StepReport", page
    assert len(re.findall(r"```python\n", (ROOT / "docs" / "python.md").read_text())) == 4
