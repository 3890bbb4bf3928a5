"""The command line end to end: CliRunner for behaviour, real processes for pipes and statuses."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from lstmcalc import core
from lstmcalc.cli import app

runner = CliRunner()
DESIGN_KEYS = ["input_size", "hidden_size", "concat", "x", "h_prev", "c_prev", "concatenated",
               "gates", "c", "h"]
GATE_KEYS = ["preactivation", "activation"]


def run(*args, input=None, env=None):
    return runner.invoke(app, list(args), input=input, env=env)


def lstmcalc(*args, input=None, env=None):
    """A real process, as a shell would start it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "lstmcalc", *args], input=input,
                          capture_output=True, env=full_env)


def test_default_is_the_founding_example_as_json_when_piped():
    result = run("step")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    for key in DESIGN_KEYS:
        assert key in out
    assert list(out["gates"]) == ["forget", "input", "candidate", "output"]
    for gate in out["gates"].values():
        for key in GATE_KEYS:
            assert len(gate[key]) == 3
    assert out["input_size"] == 3 and out["hidden_size"] == 3 and out["concat"] == ["x", "h"]
    assert out["concatenated"] == [1, 2, 3, 4, 5, 6]
    assert out["gates"]["forget"]["preactivation"] == [92, 177, 136]
    assert out["gates"]["input"]["preactivation"] == [22, 43, 64]
    assert 1e-41 < out["gates"]["forget"]["saturation_gap"][0] < 1e-39


def test_table_format_shows_every_section():
    result = run("step", "-f", "table", env={"COLUMNS": "100"})
    assert result.exit_code == 0
    text = result.stdout
    for needle in ["Shapes: the size of each variable", "Forget gate", "Input gate", "Candidate",
                   "Output gate", "Cell state", "Hidden state", "1 − 1.1e-40", "keeps ≈100%",
                   "v = [x_t, h_{t-1}] = [1, 2, 3 | 4, 5, 6]", "= 84."]:
        assert needle in text
    assert "\x1b[" not in text


def test_yaml_and_csv_carry_the_same_numbers_as_json():
    js = json.loads(run("step", "-f", "json").stdout)
    ya = yaml.safe_load(run("step", "-f", "yaml").stdout)
    assert ya == js
    rows = list(csv.DictReader(io.StringIO(run("step", "-f", "csv").stdout)))
    assert len(rows) == 1
    assert [float(rows[0][f"h[{j}]"]) for j in range(3)] == js["h"]
    assert [float(rows[0][f"forget_pre[{j}]"]) for j in range(3)] == [92, 177, 136]


def test_float32_numbers_are_shortest_float32_decimals():
    out = json.loads(run("step", "--dtype", "float32", "-f", "json").stdout)
    assert out["dtype"] == "float32"
    import numpy as np

    h64 = json.loads(run("step", "-f", "json").stdout)["h"]
    from lstmcalc import config

    spec = config.load_builtin()
    h32 = core.step(spec.cell.astype(np.float32), spec.x, spec.h, spec.c).h
    for v32, v64, true in zip(out["h"], h64, h32):
        assert np.float32(v32) == true  # reads back to exactly the float32 computed
        assert float(str(np.float32(v32))) == v32  # and is float32's shortest decimal
        assert len(repr(v32)) <= 12 and abs(v32 - v64) < 1e-6


def test_config_from_stdin_and_file_agree(tmp_path):
    from lstmcalc.config import builtin_text

    from_stdin = run("step", "-", input=builtin_text())
    assert from_stdin.exit_code == 0
    assert json.loads(from_stdin.stdout)["h"] == json.loads(run("step").stdout)["h"]


def test_state_chains_steps_through_a_real_pipe(tmp_path):
    from lstmcalc.config import builtin_text

    cfg = tmp_path / "founding.yaml"
    cfg.write_text(builtin_text())
    first = lstmcalc("step", str(cfg), "-f", "json")
    second = lstmcalc("step", str(cfg), "--state", "-", "-f", "json", input=first.stdout)
    assert second.returncode == 0, second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert b["h_prev"] == a["h"] and b["c_prev"] == a["c"]
    # YAML output chains too
    first_yaml = lstmcalc("step", str(cfg), "-f", "yaml")
    third = lstmcalc("step", str(cfg), "--state", "-", input=first_yaml.stdout)
    assert json.loads(third.stdout)["h"] == b["h"]


def test_both_stdin_is_a_usage_error():
    result = run("step", "-", "--state", "-", input="")
    assert result.exit_code == 2
    assert result.stderr == "lstmcalc: error: CONFIG and --state cannot both be read from " \
                            "stdin (-)\n"


def test_missing_x(tmp_path):
    text = "gates:\n" + "".join(f"  {g}: {{W: [[1, 2]]}}\n" for g in "figo")
    (tmp_path / "nox.yaml").write_text(text)
    result = run("step", str(tmp_path / "nox.yaml"))
    assert result.exit_code == 65
    assert result.stderr.endswith("nox.yaml: no x in the config: step needs x_t, 1 numbers "
                                  "(or --inputs FILE)\n")


@pytest.mark.parametrize("args,status,message", [
    (["step", "missing.yaml"], 66,
     "lstmcalc: error: missing.yaml: cannot read: No such file or directory\n"),
    (["step", "."], 66, "lstmcalc: error: .: cannot read: Is a directory\n"),
])
def test_exit_statuses_in_a_real_process(args, status, message):
    result = lstmcalc(*args)
    assert result.returncode == status
    assert result.stderr.decode() == message
    assert result.stdout == b""


def test_bad_config_real_process(tmp_path):
    (tmp_path / "bad.yaml").write_text("x: [1, yes]\n")
    result = lstmcalc("step", "bad.yaml", env={"PWD": str(tmp_path)}) if False else \
        subprocess.run([sys.executable, "-m", "lstmcalc", "step", "bad.yaml"], cwd=tmp_path,
                       capture_output=True)
    assert result.returncode == 65
    assert result.stderr.decode() == ("lstmcalc: error: bad.yaml:1:1: missing key 'gates' (the "
                                      "weights of the forget, input, candidate and output "
                                      "gates)\n")
    assert result.stdout == b"" and b"Traceback" not in result.stderr


def test_markup_in_file_names_is_printed_literally(tmp_path):
    (tmp_path / "a[").mkdir()
    for name in ["w[red].yaml", "a[/].yaml"]:
        (tmp_path / name).write_text("x: [1]\n")
        result = subprocess.run([sys.executable, "-m", "lstmcalc", "step", name], cwd=tmp_path,
                                capture_output=True)
        assert result.returncode == 65
        assert result.stderr.decode().startswith(f"lstmcalc: error: {name}:1:1: missing key")


def test_unknown_option_is_usage_error_with_usage_line():
    result = lstmcalc("step", "--bogus")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "lstmcalc: error: No such option: --bogus", "Usage: lstmcalc step [OPTIONS] [CONFIG|-]",
        "Try 'lstmcalc step -h' for help."]
    assert result.stdout == b""


def test_closed_pipe_ends_quietly(tmp_path):
    # a batch large enough that the JSON overflows the pipe buffer
    rows = ", ".join("[1, 2, 3]" for _ in range(4000))
    from lstmcalc.config import builtin_text

    (tmp_path / "big.yaml").write_text(builtin_text().replace("x: [1, 2, 3]", f"x: [{rows}]"))
    proc = subprocess.Popen([sys.executable, "-m", "lstmcalc", "step", str(tmp_path / "big.yaml"),
                             "-f", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(5) == b'{"inp'
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait() == 141
    assert err == b""


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"FORCE_COLOR": "1"}, {"TERM": "xterm"}])
def test_machine_output_has_no_escape_bytes(env):
    result = lstmcalc("step", "-f", "json", env=env)
    assert b"\x1b" not in result.stdout and b"NaN" not in result.stdout
    assert json.loads(result.stdout)["hidden_size"] == 3


def test_no_color_table_has_no_escape_bytes():
    result = lstmcalc("step", "-f", "table", env={"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert result.returncode == 0 and b"\x1b" not in result.stdout


def test_version_and_help():
    assert lstmcalc("--version").stdout.decode().startswith("lstmcalc ")
    help_text = run("step", "--help").stdout
    assert "Examples:" in help_text and "lstmcalc step configs/founding.yaml" in help_text
    assert "--state" in help_text and "--dtype" in help_text


def test_internal_error_is_70_and_debug_shows_the_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "unroll", boom)
    result = run("step")
    assert result.exit_code == 70
    assert result.stderr == ("lstmcalc: internal error: RuntimeError: boom "
                             "(run with --debug to see the traceback)\n")
    result = run("--debug", "step")
    assert result.exit_code == 70
    assert "Traceback" in result.stderr and "boom" in result.stderr


def test_overflow_names_the_gate(tmp_path):
    text = "x: [10]\ngates:\n" + "".join(f"  {g}: {{W: [[{w}, 0]]}}\n" for g, w in
                                         zip("figo", ["0", "0", "1.0e+308", "0"]))
    (tmp_path / "big.yaml").write_text(text)
    result = run("step", str(tmp_path / "big.yaml"))
    assert result.exit_code == 65
    assert result.stderr == "lstmcalc: error: candidate gate pre-activation of unit 1 is not " \
                            "finite (inf)\n"


@pytest.mark.parametrize("command", [[], ["step"], ["unroll"], ["shapes"], ["init"], ["grad"],
                                     ["convert"]])
def test_every_help_has_an_example(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "lstmcalc " in result.stdout.split("Examples:")[1]


@pytest.mark.parametrize("shell, mark", [("bash", "complete -o default -F _lstmcalc_completion"),
                                         ("zsh", "#compdef lstmcalc"),
                                         ("fish", "complete --command lstmcalc")])
def test_completion_scripts_for_three_shells(shell, mark):
    import os
    import subprocess
    import sys

    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    out = subprocess.run([sys.executable, "-m", "lstmcalc", "--show-completion", shell],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and mark in out.stdout, out.stderr


def test_completion_answers_commands_options_and_choices():
    """What the shells' scripts ask: commands, options, the choices of an option (and no
    traceback: the completion's own exit once fell into a handler that crashed)."""
    import os
    import subprocess
    import sys

    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "_LSTMCALC_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(cword)}
        out = subprocess.run([sys.executable, "-m", "lstmcalc"], capture_output=True,
                             text=True, env=env)
        assert out.returncode == 0 and not out.stderr, out.stderr
        return out.stdout.split()

    assert complete("lstmcalc in", 1) == ["inspect", "init"]
    assert "--layout" in complete("lstmcalc unroll x.yaml --lay", 3)
    assert complete("lstmcalc unroll x.yaml --layout ", 4) == ["pytorch", "keras", "onnx", "tf1"]
    assert complete("lstmcalc step --dtype ", 3) == ["float64", "float32", "float16",
                                                     "bfloat16", "q4.12", "q8.8", "q1.15"]
    assert complete("lstmcalc unroll --dtype q", 3) == ["q4.12", "q8.8", "q1.15"]
    assert complete("lstmcalc grad --dtype b", 3) == ["bfloat16"]


def test_the_trim_threshold_is_set_on_linux_only(monkeypatch):
    """cli.app._keep_freed_memory asks glibc's mallopt for a 64 MB trim threshold on Linux
    (a stream's freed memory kept for its next chunk) and does nothing elsewhere."""
    import ctypes
    import importlib

    cli_app = importlib.import_module("lstmcalc.cli.app")  # the module, not the Typer app

    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    monkeypatch.setattr(sys, "platform", "linux")
    cli_app._keep_freed_memory()
    assert calls == [(-1, 64 << 20)]
    monkeypatch.setattr(sys, "platform", "darwin")
    cli_app._keep_freed_memory()
    assert len(calls) == 1
