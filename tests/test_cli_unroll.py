"""lstmcalc unroll end to end: formats, fields, state files, streaming through real pipes."""

import json
import os
import pathlib
import select
import subprocess
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from helpers import stderr_on_a_terminal
from lstmcalc.cli import app
from lstmcalc.config import builtin_text

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def proc(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lstmcalc", *args], capture_output=True, **kw)


@pytest.fixture()
def cfg(tmp_path):
    path = tmp_path / "founding.yaml"
    path.write_text(builtin_text())
    return str(path)


def test_unroll_json_contract_and_equal_to_chained_steps(cfg):
    out = json.loads(run("unroll", cfg, "-f", "json").stdout)
    assert [k for k in out if k in ("input_size", "hidden_size", "steps", "h", "c")] == \
        ["input_size", "hidden_size", "steps", "h", "c"]
    assert [s["t"] for s in out["steps"]] == [1, 2, 3, 4, 5]
    spec = yaml.safe_load(builtin_text())
    state = None
    for t, x in enumerate(spec["sequence"]):
        one = dict(spec, x=list(x))
        args = ["step", "-", "-f", "json"]
        text = yaml.safe_dump(one)
        if state is not None:  # chain through a state file
            with open(cfg + ".state.json", "w") as f:
                json.dump(state, f)
            args += ["--state", cfg + ".state.json"]
        state = json.loads(run(*args, input=text).stdout)
        step_t = out["steps"][t]
        assert step_t["h"] == state["h"] and step_t["c"] == state["c"]
        assert step_t["gates"] == state["gates"]
    assert out["h"] == out["steps"][-1]["h"] and out["c"] == out["steps"][-1]["c"]


def test_jsonl_csv_yaml_and_fields(cfg):
    lines = run("unroll", cfg, "-f", "jsonl", "--fields", "h,c").stdout.splitlines()
    assert len(lines) == 5
    first = json.loads(lines[0])
    assert set(first) == {"t", "input_size", "hidden_size", "concat", "dtype", "h", "c"}
    rows = run("unroll", cfg, "-f", "csv", "--fields", "h,forget").stdout.splitlines()
    assert rows[0] == ("t,forget_pre[0],forget_pre[1],forget_pre[2],forget[0],forget[1],"
                       "forget[2],h[0],h[1],h[2]")
    assert len(rows) == 6 and rows[1].startswith("1,92.0,177.0,136.0,1.0,1.0,1.0,")
    ya = yaml.safe_load(run("unroll", cfg, "-f", "yaml").stdout)
    assert ya == json.loads(run("unroll", cfg, "-f", "json").stdout)


def test_bad_field_is_usage_error(cfg):
    result = run("unroll", cfg, "--fields", "h,bogus")
    assert result.exit_code == 2
    assert result.stderr.startswith("lstmcalc: error: --fields: unknown field 'bogus'; choose "
                                    "from x, h_prev,")


def test_final_only(cfg):
    final = json.loads(run("unroll", cfg, "--final").stdout)
    full = json.loads(run("unroll", cfg, "-f", "json").stdout)
    assert final["h"] == full["h"] and final["c"] == full["c"] and final["steps"] == 5


def test_split_run_through_state_files_is_bit_identical(cfg, tmp_path):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(50, 3))
    np.savetxt(tmp_path / "all.csv", xs, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "a.csv", xs[:17], delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "b.csv", xs[17:], delimiter=",", fmt="%.17g")
    whole = json.loads(run("unroll", cfg, "-i", str(tmp_path / "all.csv"), "--final").stdout)
    state = str(tmp_path / "state.json")
    assert run("unroll", cfg, "-i", str(tmp_path / "a.csv"), "--final", "--state-out",
               state).exit_code == 0
    second = json.loads(run("unroll", cfg, "-i", str(tmp_path / "b.csv"), "--state", state,
                            "--final").stdout)
    assert second["h"] == whole["h"] and second["c"] == whole["c"]
    # the same through the streaming path (jsonl output) and the whole-array path (json)
    streamed = run("unroll", cfg, "-i", str(tmp_path / "all.csv"), "-f", "jsonl",
                   "--fields", "h").stdout.splitlines()
    assert json.loads(streamed[-1])["h"] == whole["h"]


def test_state_out_refuses_to_overwrite_an_input(cfg, tmp_path):
    before = pathlib.Path(cfg).read_text()
    result = run("unroll", cfg, "--state-out", cfg)
    assert result.exit_code == 73
    assert "refusing to write" in result.stderr and pathlib.Path(cfg).read_text() == before
    os.symlink(cfg, tmp_path / "link.yaml")
    assert run("unroll", cfg, "--state-out", str(tmp_path / "link.yaml")).exit_code == 73
    os.link(cfg, tmp_path / "hard.yaml")
    assert run("unroll", cfg, "--state-out", str(tmp_path / "hard.yaml")).exit_code == 73
    assert pathlib.Path(cfg).read_text() == before


def test_state_out_into_missing_folder_is_73(cfg, tmp_path):
    result = run("unroll", cfg, "--state-out", str(tmp_path / "no" / "s.json"))
    assert result.exit_code == 73
    assert result.stderr.endswith("s.json: cannot write: No such file or directory\n")


def test_batch_from_json_is_reported_per_sequence(cfg, tmp_path):
    (tmp_path / "b.json").write_text(json.dumps([[[1, 2, 3], [0, 1, 0]], [[0, 0, 0], [1, 1, 1]]]))
    out = json.loads(run("unroll", cfg, "-i", str(tmp_path / "b.json"), "-f", "json").stdout)
    assert out["batch_size"] == 2 and len(out["steps"]) == 2
    assert np.array(out["steps"][0]["h"]).shape == (2, 3)
    table = run("unroll", cfg, "-i", str(tmp_path / "b.json"), "-f", "table").stdout
    assert "Sequence 1 of 2" in table and "Sequence 2 of 2" in table
    rows = run("unroll", cfg, "-i", str(tmp_path / "b.json"), "-f", "csv").stdout.splitlines()
    assert rows[0].startswith("t,sequence,x[0]") and len(rows) == 5


def test_long_sequence_table_leaves_out_the_middle(cfg, tmp_path):
    np.savetxt(tmp_path / "long.txt", np.zeros((100, 3)))
    text = run("unroll", cfg, "-i", str(tmp_path / "long.txt"), "-f", "table",
               "--rows", "6").stdout
    assert "94 steps left out, t = 4 .. 97 (--rows N shows more)" in text
    assert "\n100 " in text


def test_heatmap_without_colour_is_plain_glyphs(cfg):
    result = proc("unroll", cfg, "-f", "table", "--view", "heatmap", env={**os.environ,
                                                                           "NO_COLOR": "1"})
    assert result.returncode == 0 and b"\x1b" not in result.stdout
    text = result.stdout.decode()
    assert "forget gate f_t" in text and "legend" in text and "█" in text


def test_stdin_stream_is_processed_line_by_line(cfg):
    """Each output line appears before the next input line is written."""
    p = subprocess.Popen([sys.executable, "-m", "lstmcalc", "unroll", cfg, "-i", "-", "-f",
                          "jsonl", "--fields", "h"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for t, row in enumerate(["1,2,3", "0,1,0", "-1,0,1"], start=1):
            p.stdin.write(row.encode() + b"\n")
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 20)
            assert ready, f"no output for input line {t} before the next was sent"
            assert json.loads(p.stdout.readline())["t"] == t
        p.stdin.close()
        assert p.wait(timeout=20) == 0
    finally:
        p.kill()
        p.stdout.close()
        p.stderr.close()


def test_bad_line_mid_stream_keeps_what_was_written(cfg):
    result = proc("unroll", cfg, "-i", "-", "-f", "jsonl", "--fields", "h",
                  input=b"1,2,3\n0,1,0\n1,oops,2\n4,5,6\n")
    assert result.returncode == 65
    lines = result.stdout.decode().splitlines()
    assert [json.loads(ln)["t"] for ln in lines] == [1, 2]
    assert result.stderr.decode() == ("lstmcalc: error: <stdin>:3:3: value 2 of the row, 'oops', "
                                      "is not a number (stopped here; the 2 steps before it "
                                      "were written)\n")


@pytest.mark.parametrize("content,message", [
    (b"1,2,3\n4,5\n", "<stdin>:2: row has 2 values, expected 3 (m = 3)"),
    (b"", "<stdin>: the input holds no rows"),
    (b"[1, 2, 3]\n[1, 2]\n", "<stdin>:2: row has 2 values, expected 3 (m = 3)"),
])
def test_bad_sequence_input_statuses(cfg, content, message):
    result = proc("unroll", cfg, "-i", "-", "-f", "json", input=content)
    assert result.returncode == 65 and result.stdout == b""
    assert result.stderr.decode() == f"lstmcalc: error: {message}\n"


def test_closed_pipe_in_jsonl_ends_quietly(cfg, tmp_path):
    np.savetxt(tmp_path / "xs.csv", np.zeros((3000, 3)), delimiter=",")
    p = subprocess.Popen([sys.executable, "-m", "lstmcalc", "unroll", cfg, "-i",
                          str(tmp_path / "xs.csv"), "-f", "jsonl"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert json.loads(p.stdout.readline())["t"] == 1
    p.stdout.close()
    err = p.stderr.read()
    p.stderr.close()
    assert p.wait() == 141 and err == b""


def test_two_stdin_inputs_is_usage_error(cfg):
    result = run("unroll", "-", "-i", "-", input="")
    assert result.exit_code == 2
    assert result.stderr == "lstmcalc: error: CONFIG and --inputs cannot both be read from " \
                            "stdin (-)\n"


def test_no_sequence(tmp_path):
    text = builtin_text().split("sequence:")[0]
    (tmp_path / "noseq.yaml").write_text(text)
    result = run("unroll", str(tmp_path / "noseq.yaml"))
    assert result.exit_code == 65
    assert result.stderr.endswith("noseq.yaml: no sequence: give --inputs FILE, or a sequence "
                                  "in the config\n")


def test_machine_paths_import_neither_rich_nor_yaml(tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps(yaml.safe_load(builtin_text())))
    (tmp_path / "xs.csv").write_text("1,2,3\n0,1,0\n")
    code = ("import sys; from lstmcalc.cli import main; sys.argv = ['lstmcalc', 'unroll', "
            f"{str(tmp_path / 'cfg.json')!r}, '-i', {str(tmp_path / 'xs.csv')!r}, '-f', "
            "'jsonl']\ntry: main()\nexcept SystemExit: pass\n"
            "bad = [m for m in ('rich', 'yaml', 'torch', 'onnx') if m in sys.modules]\n"
            "sys.stderr.write('imported: ' + ','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert result.stderr.decode() == "imported: "


def test_a_long_stream_runs_in_constant_memory(cfg, tmp_path):
    """30,000 steps through a real pipe; the child's peak memory stays far below 150 MB."""
    rows = "\n".join("0.1,0.2,0.3" for _ in range(30_000)) + "\n"
    peak = tmp_path / "peak"
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) pytest parent
    code = ("import atexit, re, sys\n"
            f"atexit.register(lambda: open({str(peak)!r}, 'w').write(re.search("
            "r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))\n"
            "from lstmcalc.cli import main\n"
            f"sys.argv = ['lstmcalc', 'unroll', {cfg!r}, '-i', '-', '-f', 'jsonl', '--fields',"
            " 'h']\nmain()\n")
    p = subprocess.run([sys.executable, "-c", code], input=rows.encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert int(peak.read_text()) / 1024 < 150  # VmHWM is in KiB


def test_file_streams_in_chunks_with_the_same_bits_and_errors(cfg, tmp_path):
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(600, 3))
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n"
    (tmp_path / "xs.csv").write_text(text)
    from_file = proc("unroll", cfg, "-i", str(tmp_path / "xs.csv"), "-f", "jsonl", "--fields",
                     "h,c")
    from_pipe = proc("unroll", cfg, "-i", "-", "-f", "jsonl", "--fields", "h,c",
                     input=text.encode())
    assert from_file.returncode == 0 and from_file.stdout == from_pipe.stdout
    # a bad line inside a chunk: every line before it is written, and the error says where
    lines = text.splitlines()
    lines[299] = "1,oops,3"
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    bad = proc("unroll", cfg, "-i", str(tmp_path / "bad.csv"), "-f", "jsonl", "--fields", "h")
    assert bad.returncode == 65
    assert [json.loads(ln)["t"] for ln in bad.stdout.decode().splitlines()] == \
        list(range(1, 300))
    assert bad.stderr.decode().endswith("bad.csv:300:3: value 2 of the row, 'oops', is not a "
                                        "number (stopped here; the 299 steps before it were "
                                        "written)\n")


def test_file_stream_overflow_names_the_absolute_step(tmp_path):
    text = "x: [1]\ngates:\n" + "".join(f"  {g}: {{W: [[{w}, 0]]}}\n" for g, w in
                                        zip("figo", ["0", "1.0e+300", "0", "0"]))
    (tmp_path / "big.yaml").write_text(text)
    (tmp_path / "xs.csv").write_text("0\n" * 299 + "1.0e+10\n" + "0\n" * 5)
    r = proc("unroll", str(tmp_path / "big.yaml"), "-i", str(tmp_path / "xs.csv"), "-f",
             "jsonl", "--fields", "h")
    assert r.returncode == 65 and len(r.stdout.decode().splitlines()) == 299
    assert "step 300: input gate pre-activation of unit 1 is not finite" in r.stderr.decode()


def test_a_pipe_in_bursts_gives_the_bytes_of_the_file(cfg, tmp_path):
    """Rows arriving in uneven pieces (lines cut in two, bursts of hundreds, pauses) are
    computed in blocks of whatever has arrived: the JSONL is byte for byte the file's, whose
    rows are computed 256 at a time."""
    import threading
    import time

    rng = np.random.default_rng(3)
    rows = "".join(f"{a},{b},{c}\n" for a, b, c in rng.normal(size=(1500, 3)).tolist())
    (tmp_path / "rows.csv").write_text(rows)
    from_file = proc("unroll", cfg, "-i", str(tmp_path / "rows.csv"), "-f", "jsonl").stdout
    p = subprocess.Popen([sys.executable, "-m", "lstmcalc", "unroll", cfg, "-i", "-", "-f",
                          "jsonl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def write():
        data, at = rows.encode(), 0
        while at < len(data):
            size = int(rng.integers(1, 9000))
            p.stdin.write(data[at:at + size])
            p.stdin.flush()
            at += size
            time.sleep(0.002)
        p.stdin.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        piped = p.stdout.read()
        writer.join()
        assert p.wait(timeout=60) == 0
    finally:
        p.kill()
        p.stdout.close()
    assert piped == from_file


def _stderr_on_a_terminal(argv: list[str]) -> bytes:
    """What a command draws on stderr when stderr is a terminal and stdout a pipe; it exits 0."""
    drawn, status = stderr_on_a_terminal(argv)
    assert status == 0
    return drawn


def test_progress_shows_on_a_terminals_stderr_only(cfg, tmp_path):
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, np.random.default_rng(0).random((5_000, 3)), delimiter=",")
    argv = [sys.executable, "-m", "lstmcalc", "unroll", cfg, "-i", str(rows), "-f", "jsonl"]
    assert b"steps" in _stderr_on_a_terminal(argv) and b"unroll" in _stderr_on_a_terminal(argv)
    assert b"steps" not in _stderr_on_a_terminal(argv + ["--quiet"])
    piped = proc("unroll", cfg, "-i", str(rows), "-f", "jsonl")
    assert piped.returncode == 0 and piped.stderr == b""
    # a whole-array run and grad say they are working too
    np.save(tmp_path / "x.npy", np.random.default_rng(1).random((10_000, 3)))
    for command in ("unroll", "grad"):
        drawn = _stderr_on_a_terminal([sys.executable, "-m", "lstmcalc", command, cfg, "-i",
                                       str(tmp_path / "x.npy"), "-f", "json"])
        assert f"{command}, 10,000 steps".encode() in drawn


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt", "auto"])
def test_a_pipe_read_in_blocks_says_what_the_file_says(cfg, tmp_path, fmt):
    """A pipe's lines go through the same blocks as a file's (sequences.file_rows, as they
    arrive): the same bytes out, and the same message at the same line, for a header, a
    comment, a bad value, a short row or a line past the cap in a later block, CRLF, and a
    last line without its newline."""
    sep = {"csv": ",", "tsv": "\t", "txt": " ", "auto": ","}[fmt]
    rng = np.random.default_rng(4)
    good = [sep.join(repr(v) for v in row) for row in rng.normal(size=(3000, 3)).tolist()]
    cases = {"plain": good, "header": [sep.join("abc")] + good,
             "crlf": [line + "\r" for line in good], "no final newline": good}
    for name, bad in (("comment", "# a note"), ("word", sep.join("12x")),
                      ("short", sep.join("12")), ("long", "1" * 70000)):
        cases[name] = good[:2500] + [bad] + good[2500:]
    args = ["unroll", cfg, "-f", "jsonl", "--fields", "h", "--max-input-bytes", "65000"]
    told = [] if fmt == "auto" else ["--input-format", fmt]  # auto: stdin's format sniffed
    for name, lines in cases.items():
        data = ("\n".join(lines) + ("" if name == "no final newline" else "\n")).encode()
        path = tmp_path / f"rows.{'csv' if fmt == 'auto' else fmt}"
        path.write_bytes(data)
        from_file = proc(*args, "-i", str(path))
        piped = proc(*args, *told, "-i", "-", input=data)
        assert piped.stdout == from_file.stdout, name
        assert piped.returncode == from_file.returncode, name
        assert piped.stderr == from_file.stderr.replace(str(path).encode(), b"<stdin>"), name
