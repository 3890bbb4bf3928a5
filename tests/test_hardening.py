"""Every bad input gets a clear error, nothing is lost, nothing runs that should not.

Each case runs lstmcalc's console entry point with its own argv, stdin, stdout, stderr and
environment (in this process: helpers.run_main; a real process where only one shows the
behaviour: memory, time, signals) and checks the exit status, a single line on stderr (with
FILE:LINE:COL where a location exists), no traceback, nothing on stdout after a data error,
and no output file created or changed.
"""

import json
import os
import pathlib
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

from helpers import run_main
from lstmcalc.config import builtin_text

ROOT = pathlib.Path(__file__).parent.parent


def lstmcalc(*args, cwd=None, input=None, env=None):
    return run_main(*args, cwd=cwd, input=input, env=env)


def one_line_error(result, status: int, pattern: str):
    """The contract of every refusal."""
    err = result.stderr.decode()
    assert result.returncode == status, err
    assert err.count("\n") == 1 and err.startswith("lstmcalc: "), err
    assert "Traceback" not in err
    assert re.search(pattern, err), err
    assert result.stdout == b""


@pytest.fixture()
def cfg(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(builtin_text())
    return path


# 1. missing, unreadable, directory -------------------------------------------------------------

@pytest.mark.parametrize("make,reason", [
    (lambda d: d / "missing.yaml", "No such file or directory"),
    (lambda d: d, "Is a directory"),
    (lambda d: (d / "file.yaml").write_text("x: 1") and d / "file.yaml" / "below.yaml",
     "Not a directory"),
    (lambda d: (os.symlink(d / "gone", d / "dangling.yaml"), d / "dangling.yaml")[1],
     "No such file or directory"),
])
def test_missing_or_unreadable_input_is_66(tmp_path, make, reason):
    path = make(tmp_path)
    one_line_error(lstmcalc("step", str(path)), 66, f"error: {re.escape(str(path))}: cannot "
                                                    f"read: {reason}$")


def test_missing_inputs_and_state_files_are_66(cfg, tmp_path):
    one_line_error(lstmcalc("unroll", str(cfg), "-i", str(tmp_path / "no.csv")), 66,
                   r"no.csv: cannot read: No such file or directory")
    one_line_error(lstmcalc("step", str(cfg), "--state", str(tmp_path / "no.json")), 66,
                   r"no.json: cannot read: No such file or directory")


# 2. syntax, tabs, encoding ---------------------------------------------------------------------

@pytest.mark.parametrize("content,pattern", [
    (b"x: [1, 2\ngates: {}\n", r"cfg.yaml:2:\d+: YAML syntax error"),
    (b"x:\n\t- 1\n", r"cfg.yaml:2:1: YAML syntax error: .* \(a tab: YAML is indented with "
                     r"spaces only\)"),
    (b"x: [1, \xc3\x28]\n", r"cfg.yaml:1:8: invalid UTF-8 at byte offset 7 \(0xc3\)"),
    (b"x: [1, 2]\x00\n", r"cfg.yaml:1:10: NUL byte in input"),
])
def test_syntax_and_encoding_errors_are_located(tmp_path, content, pattern):
    (tmp_path / "cfg.yaml").write_bytes(content)
    one_line_error(lstmcalc("step", "cfg.yaml", cwd=tmp_path), 65, pattern)


# 3. tags: refused where they stand, nothing runs -----------------------------------------------

@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {{a, b}}",
    "!custom [1, 2]",
])
def test_tags_are_refused_and_nothing_runs(tmp_path, tag):
    marker = tmp_path / "pwned"
    (tmp_path / "cfg.yaml").write_text(f"x: {tag.format(marker=marker)}\n")
    one_line_error(lstmcalc("step", "cfg.yaml", cwd=tmp_path), 65,
                   r"cfg.yaml:1:4: tag '.*' is not allowed")
    assert not marker.exists()


# 4. billion laughs -----------------------------------------------------------------------------

def test_billion_laughs_is_refused_fast_and_small(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 9):
        prev, cur = chr(96 + k), chr(97 + k)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "lol.yaml").write_text("\n".join(lines) + "\n")
    peak = tmp_path / "peak"
    code = ("import atexit, re, sys\n"
            f"atexit.register(lambda: open({str(peak)!r}, 'w').write(re.search("
            "r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))\n"
            "from lstmcalc.cli import main\n"
            f"sys.argv = ['lstmcalc', 'step', {str(tmp_path / 'lol.yaml')!r}]\nmain()\n")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    elapsed = time.perf_counter() - start
    one_line_error(result, 65, r"lol.yaml:1:4: anchor '&a' is not allowed")
    assert elapsed < 1.0  # the whole process, start-up included
    assert int(peak.read_text()) < 120_000  # KiB: nothing was expanded


# 5. absurd nesting -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["x: " + "[" * 50_000 + "]" * 50_000,
                                  "x: " + "{a: " * 50_000 + "1" + "}" * 50_000,
                                  '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"])
def test_deep_nesting_is_refused_cleanly(tmp_path, text):
    name = "deep.json" if text.startswith("{\"") else "deep.yaml"
    (tmp_path / name).write_text(text)
    one_line_error(lstmcalc("step", name, cwd=tmp_path), 65,
                   rf"{name}:1:\d+: nesting deeper than 32 levels")


# 6. size cap -----------------------------------------------------------------------------------

def test_size_cap_file_and_stdin_and_raising_it(tmp_path, cfg):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # 200 MB, sparse: reading it all would take a while
    start = time.perf_counter()
    one_line_error(lstmcalc("step", str(big)), 65, r"big.yaml: input is larger than the "
                                                   r"16,777,216-byte cap \(raise it with "
                                                   r"--max-input-bytes\)")
    assert time.perf_counter() - start < 5
    text = builtin_text().encode()
    one_line_error(lstmcalc("step", "-", "--max-input-bytes", "100", input=text), 65,
                   r"<stdin>: input is larger than the 100-byte cap")
    assert lstmcalc("step", "-", "--max-input-bytes", str(len(text)),
                    input=text).returncode == 0


# 7. duplicate, unknown, missing keys -----------------------------------------------------------

@pytest.mark.parametrize("old,new,pattern", [
    ("h: [4, 5, 6]", "h: [4, 5, 6]\nh: [1, 1, 1]",
     r"cfg.yaml:7:1: duplicate key 'h' \(first given at line 6\)"),
    ("concat: [x, h]", "concatt: [x, h]",
     r"cfg.yaml:8:1: unknown key 'concatt' in the config \(did you mean 'concat'\?\)"),
    ("  input:", "  inptu:", r"cfg.yaml:15:3: unknown key 'inptu' in gates \(did you mean "
                             r"'input'\?\)"),
    ("    b: [1, 2, 3]\n", "", None),
])
def test_duplicate_unknown_and_missing_keys(cfg, old, new, pattern):
    text = builtin_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1))
    if pattern is None:  # b defaults to zeros: not an error
        assert lstmcalc("step", str(cfg)).returncode == 0
        return
    one_line_error(lstmcalc("step", "cfg.yaml", cwd=cfg.parent), 65, pattern)


def test_missing_gate_and_missing_gates(cfg):
    text = builtin_text()
    cfg.write_text(text.split("  output:")[0])
    one_line_error(lstmcalc("step", "cfg.yaml", cwd=cfg.parent), 65,
                   r"cfg.yaml:\d+:3: gates: missing 'output'")
    cfg.write_text("x: [1, 2, 3]\n")
    one_line_error(lstmcalc("step", "cfg.yaml", cwd=cfg.parent), 65,
                   r"cfg.yaml:1:1: missing key 'gates'")


# 8. and 9. non-numbers and non-finite numbers --------------------------------------------------

@pytest.mark.parametrize("value,pattern", [
    ("yes", r"x\[2\]: 'yes' is a boolean in YAML, not a number"),
    ("~", r"x\[2\]: '~' is null in YAML, not a number"),
    ("'2'", r"x\[2\]: '2' is a quoted string, not a number \(remove the quotes\)"),
    ("1e3", r"x\[2\]: '1e3' is read by YAML 1.1 as a string, not a number; write 1.0e\+3"),
    ("2001-12-14", r"x\[2\]: '2001-12-14' is a date in YAML, not a number"),
    ("!!float", r"x\[2\]: '!!float' with an empty value is not a number"),
    ("9" * 5000, r"x\[2\]: an integer of 5,000 digits is too large to be a finite number"),
    (".nan", r"x\[2\]: '.nan' is not a finite number"),
    (".inf", r"x\[2\]: '.inf' is not a finite number"),
    ("1.0e+999", r"x\[2\]: '1.0e\+999' is not a finite number"),
])
def test_non_numbers_are_never_coerced(cfg, value, pattern):
    cfg.write_text(builtin_text().replace("x: [1, 2, 3]", f"x: [1, {value}, 3]"))
    one_line_error(lstmcalc("step", "cfg.yaml", cwd=cfg.parent), 65, r"cfg.yaml:5:8: " + pattern)


def test_overflowing_products_name_step_and_gate_without_warnings(tmp_path):
    text = "x: [10]\ngates:\n" + "".join(f"  {g}: {{W: [[{w}, 0]]}}\n" for g, w in
                                         zip("figo", ["0", "1.0e+308", "0", "0"]))
    (tmp_path / "big.yaml").write_text(text)
    one_line_error(lstmcalc("step", str(tmp_path / "big.yaml")), 65,
                   r"input gate pre-activation of unit 1 is not finite \(inf\)$")
    (tmp_path / "xs.csv").write_text("0\n1\n10\n")
    one_line_error(lstmcalc("unroll", str(tmp_path / "big.yaml"), "-i",
                            str(tmp_path / "xs.csv"), "-f", "json"), 65,
                   r"input gate pre-activation of unit 1 at step 3 is not finite")


# 10. saturation is silent and exact ------------------------------------------------------------

def test_huge_preactivations_compute_silently(tmp_path):
    text = "x: [1]\ngates:\n" + "".join(f"  {g}: {{W: [[{w}, 0]]}}\n" for g, w in
                                        zip("figo", ["1000", "-1000", "1000", "-1000"]))
    (tmp_path / "sat.yaml").write_text(text)
    result = lstmcalc("step", str(tmp_path / "sat.yaml"), "-f", "json",
                      env={"PYTHONWARNINGS": "error"})
    assert result.returncode == 0 and result.stderr == b""
    import json

    out = json.loads(result.stdout)
    assert out["gates"]["forget"]["activation"] == [1.0]
    assert 0.0 <= out["gates"]["input"]["activation"][0] < 1e-300


# 11. outputs: never over an input, 73 when unwritable, atomic ----------------------------------

def test_outputs_never_overwrite_inputs(cfg, tmp_path):
    before = cfg.read_bytes()
    os.symlink(cfg, tmp_path / "link.yaml")
    os.link(cfg, tmp_path / "hard.yaml")
    xs = tmp_path / "xs.csv"
    xs.write_text("1,2,3\n")
    for target in (cfg, tmp_path / "link.yaml", tmp_path / "hard.yaml"):
        for args in (["unroll", str(cfg), "--state-out", str(target)],
                     ["unroll", str(cfg), "-f", "json", "--plot", str(target)],
                     ["step", str(cfg), "-f", "table", "--svg", str(target)],
                     ["step", str(cfg), "-f", "table", "--html", str(target)]):
            one_line_error(lstmcalc(*args), 73, r"refusing to write .*: it is the input")
    one_line_error(lstmcalc("unroll", str(cfg), "-i", str(xs), "--state-out", str(xs)), 73,
                   r"it is the input")
    assert cfg.read_bytes() == before and xs.read_text() == "1,2,3\n"


@pytest.mark.parametrize("folder,reason", [("missing/sub", "No such file or directory"),
                                           ("/sys", "Permission denied")])
def test_unwritable_output_folder_is_73(cfg, tmp_path, folder, reason):
    target = (tmp_path / folder if not folder.startswith("/") else pathlib.Path(folder)) / "s.json"
    one_line_error(lstmcalc("unroll", str(cfg), "--state-out", str(target)), 73,
                   rf"s.json: cannot write: {reason}$")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from lstmcalc import files

    target = tmp_path / "state.json"
    target.write_text("old")

    def crash(*args):
        raise KeyboardInterrupt  # as if killed between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        files.AtomicFile(str(target)).commit("new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_kill_during_a_long_run_leaves_the_old_state(cfg, tmp_path):
    state = tmp_path / "state.json"
    state.write_text('{"h": [0, 0, 0], "c": [0, 0, 0]}')
    p = subprocess.Popen([sys.executable, "-m", "lstmcalc", "unroll", str(cfg), "-i", "-",
                          "-f", "jsonl", "--state-out", str(state)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"1,2,3\n")
    p.stdin.flush()
    p.stdout.readline()
    p.kill()
    p.wait()
    for stream in (p.stdin, p.stdout, p.stderr):
        stream.close()
    assert state.read_text() == '{"h": [0, 0, 0], "c": [0, 0, 0]}'
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cfg.yaml", "state.json"]


# 12. usage -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [(["step", "--bogus"], "No such option: --bogus"),
                                         (["step", "--format"], "requires an argument"),
                                         (["unroll", "--inputs"], "requires an argument"),
                                         (["step", "--format", "xml"], "Invalid value"),
                                         (["nosuchcommand"], "No such command")])
def test_usage_errors_are_2_with_the_usage_line(args, needle):
    result = lstmcalc(*args)
    err = result.stderr.decode()
    first, usage, hint = err.splitlines()
    assert result.returncode == 2 and first.startswith("lstmcalc: error: ") and needle in first
    assert usage.startswith("Usage: lstmcalc") and hint.startswith("Try 'lstmcalc")
    assert "Traceback" not in err and result.stdout == b""


# 13. markup in file names ----------------------------------------------------------------------

def test_markup_in_file_names_is_literal(tmp_path):
    (tmp_path / "w[red].yaml").write_text("x: [1]\n")
    one_line_error(lstmcalc("step", "w[red].yaml", cwd=tmp_path), 65,
                   re.escape("w[red].yaml:1:1: missing key"))
    (tmp_path / "ok[bold].yaml").write_text(builtin_text())
    result = lstmcalc("step", "ok[bold].yaml", "-f", "table", cwd=tmp_path)
    assert b"ok[bold].yaml" in result.stdout


# 14. escapes and NaN ---------------------------------------------------------------------------

@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"FORCE_COLOR": "1", "TERM": "xterm"},
                                 {"TERM": "xterm-256color"}])
@pytest.mark.parametrize("fmt", ["json", "jsonl", "yaml", "csv"])
def test_machine_output_is_clean(env, fmt):
    for command in (["step"], ["unroll"]):
        result = lstmcalc(*command, "-f", fmt, env=env)
        assert result.returncode == 0
        assert b"\x1b" not in result.stdout
        assert b"NaN" not in result.stdout and b"Infinity" not in result.stdout


# 15. Ctrl-C ------------------------------------------------------------------------------------

def test_ctrl_c_during_a_long_unroll(cfg, tmp_path):
    state = tmp_path / "state.json"
    p = subprocess.Popen([sys.executable, "-m", "lstmcalc", "unroll", str(cfg), "-i", "-",
                          "-f", "jsonl", "--state-out", str(state)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"1,2,3\n")
    p.stdin.flush()
    assert p.stdout.readline().startswith(b'{"t":1')
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    p.stdin.close()
    assert p.returncode == 130
    assert err == b"lstmcalc: interrupted\n"
    assert not state.exists()


# 16. internal errors ---------------------------------------------------------------------------

def test_internal_error_is_70_and_debug_shows_the_traceback(tmp_path):
    code = ("import sys, lstmcalc.core as c\n"
            "def boom(*a, **k):\n    secret = 'do-not-print'\n    raise RuntimeError('boom')\n"
            "c.unroll = boom\nfrom lstmcalc.cli import main\n"
            "sys.argv = ['lstmcalc'] + sys.argv[1:]\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code, "step"], capture_output=True)
    one_line_error(result, 70, r"^lstmcalc: internal error: RuntimeError: boom \(run with "
                               r"--debug to see the traceback\)$")
    result = subprocess.run([sys.executable, "-c", code, "--debug", "step"], capture_output=True)
    err = result.stderr.decode()
    assert result.returncode == 70 and "Traceback (most recent call last)" in err
    assert "do-not-print" not in err  # no local variables, ever


def test_convert_never_overwrites_its_source(tmp_path):
    import numpy as np

    src = tmp_path / "k.npz"
    rng = np.random.default_rng(0)
    np.savez(src, kernel=rng.normal(size=(3, 8)), recurrent_kernel=rng.normal(size=(2, 8)),
             bias=rng.normal(size=8))
    before = src.read_bytes()
    one_line_error(lstmcalc("convert", str(src), "--to", "pytorch", "-o", str(src)), 73,
                   r"refusing to write .*k.npz: it is the input")
    assert src.read_bytes() == before
    result = lstmcalc("convert", str(src), "--to", "yaml")
    assert result.returncode == 0 and result.stdout.startswith(b"# converted by lstmcalc")


# 6. terminal injection -------------------------------------------------------------------------

def test_control_characters_from_inputs_never_reach_the_terminal(tmp_path, cfg):
    esc = "\x1b]0;owned\x07\x1b[2J"
    evil = tmp_path / f"w{esc}.yaml"
    evil.write_text(builtin_text())
    table = lstmcalc("step", str(evil), "-f", "table", env={"COLUMNS": "200"})
    assert table.returncode == 0 and b"\x1b]0" not in table.stdout and b"\x07" not in table.stdout
    assert b"w\\x1b]0;owned\\x07\\x1b[2J.yaml" in table.stdout
    import json

    import yaml

    bad_key = tmp_path / "key.json"  # JSON may spell any character in a key: \u001b
    doc = yaml.safe_load(builtin_text())
    doc[f"conc{esc}at"] = doc.pop("concat")
    bad_key.write_text(json.dumps(doc))
    one_line_error(lstmcalc("step", str(bad_key)), 65, r"unknown key 'conc\\x1b\]0;owned")
    for result in (lstmcalc("step", str(bad_key)), lstmcalc("step", f"--bo{esc}gus"),
                   lstmcalc("step", str(tmp_path / f"no{esc}.yaml"))):
        assert result.returncode in (2, 65, 66)
        assert b"\x1b" not in result.stderr and b"\x07" not in result.stderr, result.stderr
    # a new line in a file name never becomes config text
    newline = tmp_path / "a\nb: 1.yaml"
    newline.write_text(builtin_text())
    converted = lstmcalc("convert", str(newline), "--to", "yaml")
    assert converted.returncode == 0 and b"b: 1.yaml" not in converted.stdout.split(b"\n")[1]
    assert b"a\\x0ab: 1.yaml" in converted.stdout.split(b"\n")[0]


# 2. what stands at an output path survives ------------------------------------------------------

def test_fifos_devices_and_folders_at_an_output_are_refused_before_any_work(cfg, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    to_null = tmp_path / "null.json"
    os.symlink("/dev/null", to_null)
    for target, kind in ((fifo, "a FIFO"), (to_null, "a character device"),
                         (tmp_path, "a folder")):
        one_line_error(lstmcalc("unroll", str(cfg), "--state-out", str(target)), 73,
                       f"refusing to write over {kind}")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(to_null)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_stays_a_link_and_modes_follow_the_umask(cfg, tmp_path):
    real = tmp_path / "real" / "state.json"
    real.parent.mkdir()
    real.write_text("{}")
    os.chmod(real, 0o664)
    link = tmp_path / "link.json"
    os.symlink(real, link)
    assert lstmcalc("unroll", str(cfg), "--state-out", str(link)).returncode == 0
    assert os.path.islink(link) and json.loads(real.read_text())["h"]  # replaced through it
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o664  # a replaced file keeps its mode
    assert [p.name for p in real.parent.iterdir()] == ["state.json"]  # no temporary left
    old = os.umask(0o027)
    try:
        assert lstmcalc("unroll", str(cfg), "--state-out", str(tmp_path / "new.json"),
                        "-f", "json").returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o640  # 0666 & ~027


def test_a_killed_runs_temporary_is_cleaned_by_the_next_write(cfg, tmp_path):
    stale = tmp_path / ".lstmcalc-4194303-abc.tmp"  # a process id no process has
    stale.write_text("half")
    mine = tmp_path / f".lstmcalc-{os.getpid()}-x.tmp"  # a live process's: kept
    mine.write_text("busy")
    assert lstmcalc("unroll", str(cfg), "--state-out", str(tmp_path / "s.json")).returncode == 0
    assert not stale.exists() and mine.exists()


def test_outputs_that_cannot_be_files(cfg, tmp_path):
    result = lstmcalc("unroll", str(cfg), "--state-out", "-")
    assert result.returncode == 2 and b"--state-out -: stdout carries the output" in result.stderr
    same = str(tmp_path / "t.svg")
    result = lstmcalc("unroll", str(cfg), "-f", "table", "--svg", same, "--html", same)
    assert result.returncode == 2 and b"--svg and --html name the same file" in result.stderr
    assert not os.path.exists(same)


# 4. nothing non-finite is ever written ---------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "yaml", "table"])
def test_overflowing_gradients_and_losses_are_data_errors(tmp_path, fmt):
    up = tmp_path / "up.json"
    up.write_text('{"dh": [1e308, 1e308, 1e308]}')
    one_line_error(lstmcalc("grad", "--upstream", str(up), "-f", fmt), 65,
                   r"dL/d\w+ is not finite: the gradients overflow")
    target = tmp_path / "t.csv"
    target.write_text("1e300,1e300,1e300\n" * 5)
    one_line_error(lstmcalc("grad", "--loss", "mse", "--target", str(target), "-f", fmt), 65,
                   r"the loss is not finite \(inf\)")


def test_an_overflowing_activation_is_named_and_no_state_is_written(tmp_path):
    import yaml

    doc = yaml.safe_load(builtin_text())
    doc["activations"] = {"gates": {"name": "affine", "alpha": 1e308, "beta": 0}}
    cfg = tmp_path / "affine.json"
    cfg.write_text(json.dumps(doc))
    state = tmp_path / "s.json"
    for fmt in ("json", "csv", "yaml"):
        one_line_error(lstmcalc("unroll", str(cfg), "-f", fmt, "--state-out", str(state)), 65,
                       r"forget gate activation of unit 1 at step 1 is not finite \(inf\)")
    assert not state.exists()


# 1, 5, 7. framework files: bad arrays, size bombs, silently wrong values -----------------------

def _npz(path, **arrays):
    import numpy as np

    np.savez(path, **arrays)
    return str(path)


def _pt_arrays(n=2, m=3):
    import numpy as np

    rng = np.random.default_rng(0)
    return {"weight_ih_l0": rng.normal(size=(4 * n, m)),
            "weight_hh_l0": rng.normal(size=(4 * n, n)),
            "bias_ih_l0": np.zeros(4 * n), "bias_hh_l0": np.zeros(4 * n)}


@pytest.mark.parametrize("change,pattern", [
    ({"weight_ih_l0": [1.0] * 12}, r"weight_ih_l0 has shape \(12,\), expected \(4n, m\)"),
    ({"weight_ih_l0": 3.0}, r"weight_ih_l0 has shape \(\), expected \(4n, m\)"),
    ({"weight_ih_l0": [["a"] * 3] * 8}, r"weight_ih_l0 holds <U1 values, not numbers"),
    ({"weight_ih_l0": [[1j] * 3] * 8}, r"weight_ih_l0 holds complex numbers"),
    ({"weight_ih_l0": [[True] * 3] * 8}, r"weight_ih_l0 holds booleans"),
    ({"weight_ih_l0": [[1.0] * 3] * 7}, r"weight_ih_l0 has shape \(7, 3\), expected \(4n, m\): "
                                        r"7 is not 4n"),
    ({"bias_ih_l0": [float("nan")] * 8}, r"bias_ih_l0\[0\] is not finite \(nan\)"),
])
def test_bad_npz_arrays_are_data_errors(tmp_path, change, pattern):
    import numpy as np

    arrays = {**_pt_arrays(), **{k: np.array(v) for k, v in change.items()}}
    one_line_error(lstmcalc("step", _npz(tmp_path / "w.npz", **arrays), "-i", "-",
                            input="1,2,3\n"), 65, pattern)


def test_float128_beyond_float64_is_named(tmp_path):
    import numpy as np

    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("no extended precision here")
    arrays = _pt_arrays()
    arrays["bias_hh_l0"] = np.full(8, np.longdouble("1e400"))
    one_line_error(lstmcalc("step", _npz(tmp_path / "w.npz", **arrays), "-i", "-",
                            input="1,2,3\n"), 65, r"bias_hh_l0\[0\] is beyond float64's range")


def _claiming(path, shape):
    """A .npy whose header claims `shape` (float64) and that holds almost nothing."""
    import numpy as np

    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": shape})
        f.write(b"\0" * 64)
    return path


def test_size_bombs_are_refused_fast_and_small(tmp_path):
    import zipfile

    bomb = _claiming(tmp_path / "x.npy", (100_000, 100_000))
    code = ("import resource, subprocess, sys, time; t = time.time(); "
            "r = subprocess.run([sys.executable, '-m', 'lstmcalc'] + sys.argv[1:], "
            "capture_output=True); "
            "print(r.returncode, time.time() - t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.stderr.decode())")
    for args in (["unroll", "-i", str(bomb)],):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                             text=True).stdout
        status, seconds, kb = out.split()[:3]
        assert status == "65" and float(seconds) < 10 and int(kb) < 400_000, out
        assert "over the 16,777,216-byte cap" in out
    npz = tmp_path / "bomb.npz"
    with zipfile.ZipFile(npz, "w") as z:
        z.write(_claiming(tmp_path / "w.npy", (400_000, 10_000)), "weight_ih_l0.npy")
    one_line_error(lstmcalc("step", str(npz)), 65,
                   r"weight_ih_l0 has shape \(400000, 10000\): 32,000,000,000 bytes, over the")
    one_line_error(lstmcalc("init", "-m", "10000", "-n", "10000"), 2, "800,000,000 weights")


def test_bad_options_are_usage_errors():
    for args in (["step", "--stochastic", "--seed", "-1"],
                 ["step", "--max-input-bytes", str(2**70)]):
        result = lstmcalc(*args)
        assert result.returncode == 2 and b"Traceback" not in result.stderr, result.stderr


def test_forget_bias_on_a_pytorch_file_is_refused_not_ignored(tmp_path):
    one_line_error(lstmcalc("step", _npz(tmp_path / "w.npz", **_pt_arrays()), "-i", "-",
                            "--forget-bias", "1", input="1,2,3\n"), 2,
                   "--forget-bias goes with the tf1 layout")


TORCH_CASES = {
    "sparse": (lambda t: t.zeros(8, 3).to_sparse(), "is a sparse_coo tensor"),
    "meta": (lambda t: t.zeros(8, 3, device="meta"), "is a meta tensor"),
    "quantized": (lambda t: t.quantize_per_tensor(t.zeros(8, 3), 0.1, 0, t.qint8),
                  "is a quantized tensor"),
    "three_d": (lambda t: t.zeros(8, 3, 1), r"has shape \(8, 3, 1\), expected \(4n, m\)"),
    "complex": (lambda t: t.zeros(8, 3, dtype=t.complex64), "holds complex64 values"),
    "bool": (lambda t: t.zeros(8, 3, dtype=t.bool), "holds bool values"),
    "stride0": (lambda t: t.zeros(1, 1).expand(400_000_000, 3), r"has shape \(400000000, 3\)"),
}


@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_bad_pytorch_tensors_are_data_errors(tmp_path, case):
    torch = pytest.importorskip("torch")
    make, pattern = TORCH_CASES[case]
    state = {k: torch.tensor(v) for k, v in _pt_arrays().items()}
    import warnings

    with warnings.catch_warnings():  # torch deprecates making quantized tensors
        warnings.simplefilter("ignore")
        state["weight_ih_l0"] = make(torch)
    torch.save(state, tmp_path / "w.pt")
    one_line_error(lstmcalc("step", str(tmp_path / "w.pt"), "-i", "-", input="1,2,3\n"), 65,
                   pattern)
    torch.save({3: torch.zeros(8, 3)}, tmp_path / "k.pt")
    one_line_error(lstmcalc("step", str(tmp_path / "k.pt")), 65, "a key that is not a name: 3")


def _onnx_model(path, **change):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    n, m = 2, 3
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(1, 4 * n, m)), "W"),
             numpy_helper.from_array(rng.normal(size=(1, 4 * n, n)), "R")]
    inputs = ["X", "W", "R"]
    attrs = {"hidden_size": n, **change.pop("attrs", {})}
    for name, tensor in change.items():
        inits = [t for t in inits if t.name != name] + [tensor]
    if "sequence_lens" in change:
        inputs += ["", "sequence_lens"]
    node = helper.make_node("LSTM", inputs, ["Y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "X", TensorProto.DOUBLE, ["T", "B", m])], [helper.make_tensor_value_info(
            "Y", TensorProto.DOUBLE, None)], inits)
    onnx.save(helper.make_model(graph), path)
    return str(path)


def test_bad_onnx_models_are_data_errors(tmp_path):
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    short = TensorProto(name="W", data_type=TensorProto.DOUBLE, dims=[1, 8, 3])
    short.double_data.extend([1.0, 2.0])  # dims that disagree with the data
    cases = [
        ({"W": helper.make_tensor("W", TensorProto.STRING, [1], [b"x"])},
         r"W \(W\) holds object values, not numbers|W \(W\) holds"),
        ({"W": short}, r"W \(W\) is not a readable tensor"),
        ({"attrs": {"clip": 0.0}}, "clip must be positive, found 0"),
        ({"attrs": {"clip": -1.5}}, "clip must be positive"),
        ({"attrs": {"activations": [b"Sigmoid", b"Tanh", b"Weird"]}},
         "activation 'weird' is not one lstmcalc computes"),
        ({"attrs": {"direction": "sideways"}}, "direction 'sideways' is not forward"),
        ({"attrs": {"direction": "bidirectional"}}, "direction is bidirectional but its W holds 1"),
    ]
    for k, (change, pattern) in enumerate(cases):
        path = _onnx_model(tmp_path / f"m{k}.onnx", **change)
        one_line_error(lstmcalc("step", path, "-i", "-", input="1,2,3\n"), 65, pattern)
    # sequence_lens: unroll runs it (tests/test_ragged.py); step runs whole sequences
    path = _onnx_model(tmp_path / "lens.onnx", sequence_lens=helper.make_tensor(
        "sequence_lens", TensorProto.INT32, [1], [2]))
    one_line_error(lstmcalc("step", path, "-i", "-", input="1,2,3\n"), 2,
                   "has sequence_lens .* lstmcalc unroll runs it")
    one_line_error(lstmcalc("unroll", path, "-i", "-", input="1,2,3\n"), 65,
                   r"sequence lengths need a batch of inputs \(T, B, m\)")


# 1, 8, 9. streams, stdout, warnings, small things ----------------------------------------------

def _shell(command: str) -> subprocess.CompletedProcess:
    """A real shell, for what only one shows: closed descriptors and full devices."""
    return subprocess.run(["bash", "-c", command], capture_output=True,
                          env={**os.environ, "LSTMCALC": f"{sys.executable} -m lstmcalc"})


def test_stdout_that_cannot_be_written_is_73_and_a_closed_stderr_keeps_the_status(tmp_path):
    for redirect in (">/dev/full", ">&-"):
        result = _shell(f"$LSTMCALC step -f json {redirect}")
        assert result.returncode == 73, result.stderr
        assert result.stderr.decode().count("\n") == 1 and b"Traceback" not in result.stderr
        assert b"<stdout>: cannot write" in result.stderr
    assert _shell(f"$LSTMCALC step {tmp_path / 'none.yaml'} 2>&-").returncode == 66


def test_invalid_utf8_streamed_from_stdin(cfg):
    result = lstmcalc("unroll", str(cfg), "-i", "-", "-f", "jsonl",
                      input=b"1,2,3\n" * 999 + b"\xff\xfe,1\n")
    assert result.returncode == 65 and len(result.stdout.splitlines()) == 999  # kept
    assert result.stderr.decode() == ("lstmcalc: error: <stdin>:1000: invalid UTF-8 (invalid "
                                      "start byte) (stopped here; the 999 steps before it were "
                                      "written)\n")


def test_values_beyond_the_arithmetic_are_named_without_warnings(tmp_path):
    import yaml

    doc = yaml.safe_load(builtin_text())
    doc["gates"]["forget"]["W"][0][:2] = [1e308, 1e308]
    (tmp_path / "big.json").write_text(json.dumps(doc))
    one_line_error(lstmcalc("step", str(tmp_path / "big.json")), 65,
                   r"forget gate pre-activation of unit 1 is not finite \(inf\)")
    doc = yaml.safe_load(builtin_text())
    doc["gates"]["candidate"]["b"][0] = 1e300
    (tmp_path / "f32.json").write_text(json.dumps(doc))
    one_line_error(lstmcalc("step", str(tmp_path / "f32.json"), "--dtype", "float32"), 65,
                   r"b\[2, 0\] = 1e\+300 is beyond float32's range")


def test_small_things(cfg, tmp_path):
    assert b"Forget gate" in lstmcalc("step", "-f", "table", env={"COLUMNS": "0"}).stdout
    (tmp_path / "h.csv").write_text("a,b\n1,2,3\n")
    one_line_error(lstmcalc("unroll", str(cfg), "-i", str(tmp_path / "h.csv"), "-f", "jsonl"),
                   65, r"h.csv:1: the header names 2 columns, expected 3 \(m = 3\)$")
    (tmp_path / "o.yaml").write_text(builtin_text().replace("x: [1, 2, 3]", "x: [017, 2, 3]"))
    one_line_error(lstmcalc("step", str(tmp_path / "o.yaml")), 65,
                   r"'017' is an octal number in YAML 1.1 \(15 in base 10\); write the number "
                   "in base 10")


def test_a_plot_title_is_text_not_mathtext(tmp_path):
    pytest.importorskip("matplotlib")
    cfg = tmp_path / "a$\\frac{x.yaml"
    cfg.write_text(builtin_text())
    result = lstmcalc("unroll", str(cfg), "-f", "json", "--plot", str(tmp_path / "p.png"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_an_endless_line_and_a_piped_document_obey_the_cap(cfg, tmp_path):
    cap = str(len(builtin_text().encode()) + 100)  # the config itself fits
    (tmp_path / "long.csv").write_text("1," * 2000 + "1\n")
    one_line_error(lstmcalc("unroll", str(cfg), "-i", str(tmp_path / "long.csv"), "-f", "jsonl",
                            "--max-input-bytes", cap), 65,
                   r"long.csv:1: the line is longer than [\d,]+ characters")
    document = "[\n" + ",\n".join(["[1, 2, 3]"] * 400) + "\n]\n"  # short lines, long text
    one_line_error(lstmcalc("unroll", str(cfg), "-i", "-", "-f", "jsonl", "--max-input-bytes",
                            cap, input=document), 65,
                   r"<stdin>: input is larger than the [\d,]+-byte cap")


# 3. ONNX external data stays in the model's folder ---------------------------------------------

def test_onnx_external_data_is_read_only_from_the_models_folder(tmp_path):
    onnx = pytest.importorskip("onnx")
    inline = _onnx_model(tmp_path / "inline.onnx")
    model = onnx.load(inline)
    (tmp_path / "m").mkdir()
    onnx.save_model(model, tmp_path / "m" / "ext.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    want = lstmcalc("step", inline, "-i", "-", "-f", "json", input="1,2,3\n")
    got = lstmcalc("step", str(tmp_path / "m" / "ext.onnx"), "-i", "-", "-f", "json",
                   input="1,2,3\n")
    assert got.returncode == 0 and json.loads(got.stdout)["h"] == json.loads(want.stdout)["h"]
    # convert never writes over a model's data file
    one_line_error(lstmcalc("convert", str(tmp_path / "m" / "ext.onnx"), "--to", "pytorch",
                            "-o", str(tmp_path / "m" / "w.bin")), 73, "it is the input")

    def pointing(location, name="bad.onnx"):
        bad = onnx.load(str(tmp_path / "m" / "ext.onnx"), load_external_data=False)
        for t in bad.graph.initializer:
            for entry in t.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save(bad, tmp_path / "m" / name)
        return str(tmp_path / "m" / name)

    (tmp_path / "secret.bin").write_bytes(b"\x00" * 4096)
    os.symlink(tmp_path / "secret.bin", tmp_path / "m" / "link.bin")
    for location, pattern in (("../secret.bin", "must lie in the model's own folder"),
                              (str(tmp_path / "secret.bin"), "must lie in the model's own"),
                              ("link.bin", "leads out of the model's folder")):
        one_line_error(lstmcalc("step", pointing(location), "-i", "-", input="1,2,3\n"), 65,
                       pattern)
    (tmp_path / "m" / "short.bin").write_bytes(b"\x00" * 10)
    one_line_error(lstmcalc("step", pointing("short.bin"), "-i", "-", input="1,2,3\n"), 65,
                   r"short.bin holds 10 bytes, the tensor needs \d+ from offset 0")


def test_numbers_that_would_silently_change(tmp_path, cfg):
    (tmp_path / "tiny.yaml").write_text(builtin_text().replace("b: [1, 2, 3]",
                                                               "b: [1.0e-400, 2, 3]"))
    one_line_error(lstmcalc("step", str(tmp_path / "tiny.yaml")), 65,
                   r"'1.0e-400' is too small for float64: it would be read as 0")
    (tmp_path / "e.json").write_text('{"h": [0e400, 1e-400, 1e999]}')
    result = lstmcalc("step", "-f", "json", "--expect", str(tmp_path / "e.json"))
    assert result.returncode == 65 and b"'1e-400' is too small for float64" in result.stderr
    (tmp_path / "e.json").write_text('{"h": [0e400, 1, 2]}')  # 0, to the unit 1e400
    assert lstmcalc("step", "-f", "json", "--expect", str(tmp_path / "e.json")).returncode == 1


def test_convert_refusals_are_data_errors(tmp_path):
    import yaml

    doc = yaml.safe_load(builtin_text())
    doc["peepholes"] = {"forget": [0.1, 0.2, 0.3]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    one_line_error(lstmcalc("convert", str(tmp_path / "p.json"), "--to", "keras", "-o",
                            str(tmp_path / "k.npz")), 65, "the keras layout cannot hold peepholes$")
    assert not (tmp_path / "k.npz").exists()


def test_a_batched_state_runs_in_grad_as_in_unroll(tmp_path):
    (tmp_path / "s.json").write_text('{"h": [[4, 5, 6], [1, 1, 1]], "c": [[0, 0, 0], [1, 1, 1]]}')
    got = json.loads(lstmcalc("grad", "--state", str(tmp_path / "s.json"), "-f", "json").stdout)
    assert got["batch_size"] == 2 and len(got["gradients"]["h0"]) == 2
    (tmp_path / "bad.json").write_text('{"h": [[4, 5, 6], [1, 1, 1]], '
                                       '"c": [[0, 0, 0], [1, 1, 1], [2, 2, 2]]}')
    one_line_error(lstmcalc("grad", "--state", str(tmp_path / "bad.json")), 65,
                   "the batch sizes disagree: x has one sequence, h a batch of 2, C a batch "
                   "of 3")


def test_the_in_process_runner_matches_a_real_process(cfg, tmp_path):
    """run_main stands in for a process in this file: a sample of every kind of outcome
    gives the same status, stdout and stderr in a real one."""
    (tmp_path / "bad.yaml").write_text("x: [1, 2\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["step", "-f", "json"], ["step", str(tmp_path / "bad.yaml")],
                 ["step", str(tmp_path / "missing.yaml")], ["step", "--bogus"],
                 ["unroll", str(cfg), "--state-out", str(fifo)],
                 ["grad", "-f", "csv"], ["step", "-f", "json", "--expect", str(cfg)]):
        real = subprocess.run([sys.executable, "-m", "lstmcalc", *args], capture_output=True,
                              stdin=subprocess.DEVNULL)
        inside = lstmcalc(*args)
        assert (inside.returncode, inside.stdout, inside.stderr) == \
            (real.returncode, real.stdout, real.stderr), args


def test_a_pickled_model_is_named_not_unpickled(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.LSTM(3, 2), tmp_path / "model.pt")
    one_line_error(lstmcalc("step", str(tmp_path / "model.pt"), "-i", "-", input="1,2,3\n"), 65,
                   r"holds a pickled torch.nn.modules.rnn.LSTM, not a state dict; lstmcalc "
                   r"loads weights only \(save model.state_dict\(\)\)$")


def test_damaged_zip_archives_are_data_errors(tmp_path):
    """Found by fuzzing: an .npz whose first byte is gone made zipfile raise ValueError."""
    good = pathlib.Path(_npz(tmp_path / "w.npz", **_pt_arrays())).read_bytes()
    for k, damaged in enumerate((good[1:], good[:-30], good[:100] + b"\xff" * 8 + good[108:])):
        (tmp_path / f"d{k}.npz").write_bytes(damaged)
        result = lstmcalc("step", str(tmp_path / f"d{k}.npz"), "-i", "-", input="1,2,3\n")
        assert result.returncode == 65 and b"Traceback" not in result.stderr, result.stderr


def test_a_missing_extra_is_69_naming_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnx)
    fixture = pathlib.Path(__file__).parent / "fixtures" / "frameworks" / "onnx_variants.onnx"
    one_line_error(lstmcalc("step", str(fixture), "-i", "-", input="1,2,3\n"), 69,
                   r"reading a .onnx file needs onnx, which is not installed: "
                   r"pip install 'lstmcalc\[onnx\]'$")


# issue 12, point 4: lstmcalc reads what lstmcalc writes, through real pipes -------------------

def test_pipes_of_lstmcalcs_own_output(cfg):
    def pipe(left: str, right: str) -> subprocess.CompletedProcess:
        return _shell(f"$LSTMCALC {left} | $LSTMCALC {right}")

    jsonl = pipe(f"unroll {cfg} -f jsonl", f"unroll {cfg} -i - -f jsonl --fields h")
    assert jsonl.returncode == 0 and len(jsonl.stdout.splitlines()) == 5, jsonl.stderr
    state = pipe(f"unroll {cfg} -f jsonl", f"step {cfg} --state - -f json")
    final = json.loads(_shell(f"$LSTMCALC unroll {cfg} -f json --final").stdout)
    assert state.returncode == 0 and json.loads(state.stdout)["h_prev"] == final["h"]
    one = _shell(f"echo '{{\"x\": [1, 2, 3]}}' | $LSTMCALC step {cfg} -i - -f json")
    assert one.returncode == 0 and json.loads(one.stdout)["x"] == [1.0, 2.0, 3.0]
    negative = _shell(f"printf -- '-1,2,3\\n0,1,0\\n' | $LSTMCALC unroll {cfg} -i - -f jsonl")
    assert negative.returncode == 0 and len(negative.stdout.splitlines()) == 2
    bom = _shell(f"printf '\\xef\\xbb\\xbfx1,x2,x3\\n1,2,3\\n' | $LSTMCALC unroll {cfg} -i - "
                 "-f csv")
    assert bom.returncode == 0 and len(bom.stdout.splitlines()) == 2, bom.stderr


def test_text_views_and_pictures_follow_the_output_through_real_pipes(tmp_path):
    explain = _shell("$LSTMCALC step --explain | cat")
    assert explain.returncode == 0 and b"Worked by hand" in explain.stdout
    saved = _shell(f"$LSTMCALC step --svg {tmp_path / 'a.svg'} > /dev/null")
    assert saved.returncode == 0 and (tmp_path / "a.svg").read_text().startswith("<svg")


def test_the_largest_input_cap_does_not_reserve_it(cfg):
    """--max-input-bytes takes up to 2^62: reading stopped at the cap, but a single read of
    cap + 1 bytes reserved them all first (MemoryError, an internal error)."""
    big = str(2**62)
    r = lstmcalc("step", cfg, "--max-input-bytes", big, "-f", "json")
    assert r.returncode == 0, r.stderr
    r = lstmcalc("step", "-", "--max-input-bytes", big, "-f", "json",
                 input=pathlib.Path(cfg).read_text())
    assert r.returncode == 0, r.stderr
