"""The README and docs stay true: the commands are the ones CI runs, the output is what lstmcalc
prints."""

import io
import pathlib
import re

import pytest
from rich.console import Console

from helpers import step_table
from lstmcalc import config
from lstmcalc.core import step

ROOT = pathlib.Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
# the README and every page of docs/, where the longer examples live
DOCS = README + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def shell_blocks(text: str = README):
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def test_readme_opens_with_the_two_setup_commands():
    first, second = shell_blocks()[:2]
    assert first.strip() == "python -m pip install . && lstmcalc step"
    assert second.strip() == "python -m pip install -e '.[test]' && python -m pytest"


def test_ci_runs_exactly_the_readme_test_command():
    command = shell_blocks()[1].strip()
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in lines


def test_readme_shows_the_real_founding_output():
    spec = config.load_builtin()
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False,
                      highlight=False)
    console.print(step_table(step(spec.cell, spec.x, spec.h, spec.c), 4, spec.source))
    assert console.file.getvalue().rstrip("\n") in README


def test_readme_pipeline_prints_what_the_readme_says():
    """The streaming example, run through a real shell (jq's part done here in Python)."""
    import json
    import os
    import subprocess
    import sys

    command = next(b for b in shell_blocks(DOCS) if "printf" in b).strip()
    producer = command.rsplit("| jq", 1)[0].replace("lstmcalc", f"{sys.executable} -m lstmcalc")
    out = subprocess.run(["bash", "-c", producer], capture_output=True, text=True, cwd=ROOT,
                         env=os.environ, check=True).stdout
    got = [json.dumps([json.loads(ln)["t"], json.loads(ln)["h"]], separators=(",", ":"))
           for ln in out.splitlines()]
    expected = DOCS.split(command, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    assert got == expected.splitlines()


def test_readme_diagram_is_the_real_one():
    from lstmcalc.render.diagram import diagram_view

    spec = config.load_builtin()
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    console.print(diagram_view(step(spec.cell, spec.x, spec.h, spec.c)))
    assert console.file.getvalue().strip("\n") in DOCS


def test_readme_expect_example_agrees(tmp_path):
    from typer.testing import CliRunner

    from lstmcalc.cli import app

    example = DOCS.split("# mine.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mine.yaml").write_text(example)
    result = CliRunner().invoke(app, ["step", str(ROOT / "configs" / "founding.yaml"),
                                      "--expect", str(tmp_path / "mine.yaml"), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.endswith("11 agree, 0 differ\n")


def test_the_readme_is_short_and_links_the_docs():
    assert len(README.splitlines()) < 300
    for page in ("docs/guide.md", "docs/reference.md", "docs/design.md"):
        assert f"({page}" in README and (ROOT / page).exists()


def test_the_guides_checkpoint_example_runs(tmp_path):
    """save.py as the guide writes it, then its two commands, in real processes."""
    import json
    import os
    import subprocess
    import sys

    import pytest

    pytest.importorskip("torch")
    code = "# save.py" + DOCS.split("```python\n# save.py", 1)[1].split("```", 1)[0]
    (tmp_path / "save.py").write_text(code)
    subprocess.run([sys.executable, "save.py"], cwd=tmp_path, check=True,
                   env={**os.environ, "OPENBLAS_THREAD_TIMEOUT": "4"})
    block = next(b for b in shell_blocks(DOCS) if "inspect checkpoint.pt" in b
                 and "--name encoder" in b and "echo" in b)
    lstmcalc = f"{sys.executable} -m lstmcalc"
    outs = [subprocess.run(["bash", "-c", line.replace("lstmcalc", lstmcalc)], cwd=tmp_path,
                           capture_output=True, text=True) for line in block.strip().splitlines()]
    assert [o.returncode for o in outs] == [0, 0], [o.stderr for o in outs]
    assert [entry["name"] for entry in json.loads(outs[0].stdout)] == [
        "model_state_dict.encoder", "model_state_dict.decoder"]
    assert json.loads(outs[1].stdout)["hidden_size"] == 4


@pytest.mark.parametrize("framework, needs", [("pytorch", "torch"), ("keras", "keras"),
                                              ("onnx", "torch"), ("tf1", "tensorflow")])
def test_the_guides_from_framework_examples_run(tmp_path, framework, needs):
    """Each "from-FRAMEWORK.py" block of the guide, run as written, then the command after
    it, in real processes; step reads the saved model (exit 0, an h of 4 entries)."""
    import json
    import os
    import subprocess
    import sys

    import importlib.util

    # Keras runs on a backend: these tests give it PyTorch (KERAS_BACKEND=torch)
    for package in (needs, *{"onnx": ["onnx"], "keras": ["h5py", "torch"]}.get(framework, [])):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed")
    marker = f"# from-{framework}.py"
    code = marker + DOCS.split("```python\n" + marker, 1)[1].split("```", 1)[0]
    (tmp_path / "save.py").write_text(code)
    env = {**os.environ, "OPENBLAS_THREAD_TIMEOUT": "4", "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, "save.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    command = DOCS.split(code.split("\n", 1)[1], 1)[1].split("```sh\n", 1)[1].split("```")[0]
    run = subprocess.run(["bash", "-c", command.strip().replace(
        "lstmcalc", f"{sys.executable} -m lstmcalc") + " -f json"], cwd=tmp_path,
        capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["h"]) == 4


def test_the_hardware_page_s_worked_example_is_what_lstmcalc_prints():
    """docs/hardware.md: the q4.12 words of the founding step, and the numbers worked by hand
    beside them."""
    import json

    from helpers import run_main

    page = (ROOT / "docs" / "hardware.md").read_text()
    table = run_main("step", "--dtype", "q4.12", "--hex", "-f", "table",
                     env={"COLUMNS": "80"}).stdout.decode()
    words = table[table.index("Words in q4.12"):]
    assert "\n".join(line.rstrip() for line in words.splitlines()) in page
    out = json.loads(run_main("step", "--dtype", "q4.12", "-f", "json").stdout)
    assert out["gates"]["candidate"]["preactivation"][0] == -0.30029296875
    assert out["gates"]["candidate"]["activation"][0] == -1194 / 4096
    assert out["forget_times_c_prev"][0] == 0.5 and out["c"][0] == 0.20849609375
    assert out["h"][0] == 0.154296875 == 632 / 4096
    error = out["number_format"]["error"]
    assert f"{error['h']['max_abs']:.2e}" == "1.39e-04" and "1.39e−4 (0.57" in page
    assert f"{error['h']['max_lsb']:.2f}" == "0.57"
    assert f"{error['c']['max_abs']:.2e}" == "3.81e-04" and "3.81e−4 (1.56" in page
    assert round(error["gates"]["forget"]["preactivation"]["max_abs"]) == 169
    assert round(error["gates"]["input"]["preactivation"]["max_abs"]) == 56
