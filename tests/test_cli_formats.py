"""Narrow arithmetic from the command line: --dtype float16|bfloat16|qI.F on step and unroll,
--compare-to float64, --hex, and `lstmcalc vectors` (its files read back to the same words)."""

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import run_main, rendered
from lstmcalc import api

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def out_json(*args):
    result = run_main(*args)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_step_in_q4_12_writes_exact_codes_and_says_what_saturated():
    out = out_json("step", "--dtype", "q4.12", "-f", "json")
    assert out["dtype"] == "q4.12"
    for key in ("x", "h_prev", "c_prev", "c", "tanh_c", "h"):
        codes = np.asarray(out[key]) * 4096
        assert np.array_equal(codes, np.rint(codes)), key  # every value is k / 2^12
    fmt = out["number_format"]
    assert fmt["dtype"] == "q4.12" and fmt["compared_to"] == "float64"
    # the founding W_f holds 8, 9, 10 and W_i... 8: four weights past 7.99976
    assert fmt["saturated"]["W"] == {"count": 4}
    assert fmt["saturated"]["gates"]["forget"]["preactivation"] == {"count": 3,
                                                                  "units": [1, 2, 3]}
    assert fmt["saturated"]["h"] == {"count": 0, "units": []}
    # the error is against the float64 step of the same cell on the same inputs
    exact = out_json("step", "-f", "json")
    h_error = np.abs(np.asarray(out["h"]) - np.asarray(exact["h"])).max()
    assert fmt["error"]["h"]["max_abs"] == h_error
    assert fmt["error"]["h"]["max_lsb"] == h_error * 4096
    gates = out["gates"]["forget"]
    assert gates["saturation_gap"] == [1 - a for a in gates["activation"]]  # exact here


def test_float16_step_is_the_api_s_and_has_no_saturation_counts():
    out = out_json("step", "--dtype", "float16", "-f", "json")
    assert out["dtype"] == "float16" and "saturated" not in out["number_format"]
    report = api.step("configs/founding.yaml", dtype="float16")
    assert out["h"] == report.to_dict()["h"]
    assert np.array_equal(np.float16(out["h"]).astype(np.float64), out["h"])


def test_float32_compares_with_float64_only_when_asked():
    assert "number_format" not in out_json("step", "--dtype", "float32", "-f", "json")
    out = out_json("step", "--dtype", "float32", "--compare-to", "float64", "-f", "json")
    assert out["number_format"]["dtype"] == "float32"


def test_unroll_json_carries_the_run_s_summary_and_jsonl_the_steps():
    out = out_json("unroll", "--dtype", "bfloat16", "-f", "json")
    assert out["dtype"] == "bfloat16" and len(out["steps"]) == 5
    assert set(out["number_format"]["error"]) == {"gates", "forget_times_c_prev",
                                                  "input_times_candidate", "c", "tanh_c", "h"}
    lines = run_main("unroll", "--dtype", "bfloat16", "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["h"] for line in lines] == [s["h"] for s in out["steps"]]


def test_the_table_shows_the_format_its_errors_and_with_hex_the_words():
    result = run_main("step", "--dtype", "q4.12", "--hex", "-f", "table",
                      env={"COLUMNS": "80"})
    text = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert "q4.12: signed fixed point, 16 bits (4 integer bits with the sign, 12" in text
    assert "Saturated on load: 4 of W" in text
    h = out_json("step", "--dtype", "q4.12", "-f", "json")["h"]
    words = " ".join(f"{int(round(v * 4096)) & 0xFFFF:04x}" for v in h)
    assert f"h_t           {words}" in text
    result = run_main("step", "--dtype", "q4.12", "--compare-to", "float64", "-f", "table")
    assert "max in LSB" in result.stdout.decode()


@pytest.mark.parametrize("args, message", [
    (["--dtype", "float64", "--compare-to", "float64"], "compares another --dtype"),
    (["--hex"], "--hex shows a narrow format's words"),
    (["--dtype", "int8"], "is not a number format"),
    (["--dtype", "q20.20"], "I + F <= 32"),
])
def test_misuse_is_refused_with_status_2(args, message):
    result = run_main("step", *args)
    assert result.returncode == 2 and message in result.stderr.decode()


def test_a_stack_is_refused_in_a_narrow_format():
    result = run_main("unroll", FIXTURES / "frameworks" / "pytorch_stack.npz", "-i", "-",
                      "--dtype", "q4.12", input="1,2,3,4\n")
    assert result.returncode == 2
    assert "--dtype q4.12 computes one cell" in result.stderr.decode()


def test_bfloat16_without_ml_dtypes_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # import fails as if not installed
    result = run_main("step", "--dtype", "bfloat16")
    assert result.returncode == 69
    assert result.stderr.decode() == ("lstmcalc: error: --dtype bfloat16 needs ml_dtypes, which "
                                      "is not installed: pip install 'lstmcalc[bfloat16]'\n")


# vectors -------------------------------------------------------------------------------------

def _read_hex(path: pathlib.Path, bits: int) -> np.ndarray:
    rows = [[int(word, 16) for word in line.split()] for line in path.read_text().splitlines()]
    words = np.array(rows, dtype=np.int64)
    return np.where(words >= 1 << (bits - 1), words - (1 << bits), words)  # two's complement


def test_vectors_read_back_to_the_same_codes_as_unroll(tmp_path):
    folder = tmp_path / "tb"
    result = run_main("vectors", "--dtype", "q4.12", "-o", folder)
    assert result.returncode == 0, result.stderr
    assert b"wrote 38 files" in result.stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"]["name"] == "q4.12" and manifest["semantics_version"] == 1
    names = [s["name"] for s in manifest["signals"]]
    assert names[:5] == ["W", "b", "x", "h_prev", "c_prev"] and "forget_z" in names
    run = out_json("unroll", "--dtype", "q4.12", "-f", "json")["steps"]
    for signal in manifest["signals"]:
        hexed = _read_hex(folder / signal["hex"], 16)
        stored = np.load(folder / signal["npy"])
        assert stored.dtype == np.int16
        assert np.array_equal(hexed, stored.reshape(hexed.shape)), signal["name"]
        assert list(stored.shape) == signal["shape"]
    h = _read_hex(folder / "h.hex", 16)
    assert np.array_equal(h / 4096, [s["h"] for s in run])
    z = _read_hex(folder / "candidate_z.hex", 16)
    assert np.array_equal(z / 4096, [s["gates"]["candidate"]["preactivation"] for s in run])
    h_prev = _read_hex(folder / "h_prev.hex", 16)
    assert np.array_equal(h_prev / 4096, [s["h_prev"] for s in run])


def test_vectors_in_float16_are_ieee_bit_patterns(tmp_path):
    result = run_main("vectors", "--dtype", "float16", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    words = [[int(w, 16) for w in line.split()]
             for line in (tmp_path / "c.hex").read_text().splitlines()]
    c = [s["c"] for s in out_json("unroll", "--dtype", "float16", "-f", "json")["steps"]]
    assert np.array_equal(np.array(words, np.uint16).view(np.float16).astype(np.float64), c)
    assert np.load(tmp_path / "c.npy").dtype == np.uint16


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_the_c_header_compiles_and_holds_the_words(tmp_path):
    assert run_main("vectors", "--dtype", "q8.8", "-o", tmp_path).returncode == 0
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "vectors.h"\n'
        'int main(void) { printf("%d %d %d\\n", LSTM_STEPS, LSTM_FRACTION_BITS, '
        'lstm_h[LSTM_STEPS - 1][0]); return 0; }\n')
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-o", tmp_path / "main",
                    tmp_path / "main.c"], check=True, cwd=tmp_path)
    printed = subprocess.run([tmp_path / "main"], capture_output=True, text=True).stdout
    last_h = int(np.load(tmp_path / "h.npy")[-1, 0])
    assert printed.split() == ["5", "8", str(last_h)]


@pytest.mark.parametrize("args, message", [
    ([], "give --dtype"),
    (["--dtype", "float32"], "vectors are words of a narrow format"),
    (["--dtype", "q4.12"], "give -o DIR"),
])
def test_vectors_misuse_is_refused(args, message):
    result = run_main("vectors", *args)
    assert result.returncode == 2 and message in result.stderr.decode()


def test_vectors_refuse_a_file_as_the_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    result = run_main("vectors", "--dtype", "q4.12", "-o", path)
    assert result.returncode == 73
    assert "is not a folder" in result.stderr.decode()


def test_precision_section_renders_at_every_width():
    report = api.step("configs/founding.yaml", dtype="q4.12", compare_to="float64")
    for width in (40, 60, 80, 120):
        text = rendered(report, width)
        assert "Number format" in text and "1.39e-04" in text and "max in LSB" in text


def test_explain_writes_the_exact_sum_then_what_the_format_made_of_it():
    text = run_main("step", "--dtype", "q4.12", "--explain", "-f", "table",
                    env={"COLUMNS": "100"}).stdout.decode()
    assert "z_f[1] = 1·1 + 2·2 + 3·3 + 4·4 + 5·5 + 6·6 + 1 = 92 " in text
    assert "→ 7.9998 in q4.12 (saturated)" in text
    assert "→ -0.3003 in q4.12 (rounded)" not in text  # -0.30029296875 is the exact sum
    text16 = run_main("step", "--dtype", "float16", "--explain", "-f", "table",
                      env={"COLUMNS": "100"}).stdout.decode()
    assert "f[1] = σ(92) = 1" in text16  # the format's value, not the function's 1 − 1e-40
    assert "in float16 (rounded)" in text16  # a candidate sum rounded to float16


def test_grad_in_a_narrow_format_backpropagates_through_its_values():
    """The forward pass in float16 (or qI.F), the backward pass in float64 through the values
    it computed: near float64's gradients of the same cell, not equal; --check refused."""
    narrow = out_json("grad", "--dtype", "float16", "-f", "json")
    exact = out_json("grad", "-f", "json")
    assert narrow["dtype"] == "float16" and exact["dtype"] == "float64"
    a = np.asarray(narrow["gradients"]["gates"]["candidate"]["W"])
    b = np.asarray(exact["gradients"]["gates"]["candidate"]["W"])
    assert not np.array_equal(a, b)
    np.testing.assert_allclose(a, b, rtol=0, atol=2e-2 * np.abs(b).max())
    result = run_main("grad", "--dtype", "q4.12", "--check")
    assert result.returncode == 2 and "--dtype q4.12 rounds every value" in \
        result.stderr.decode()


def test_a_pt_file_without_torch_names_the_extra(monkeypatch):
    """Reading a .pt where PyTorch is not installed: status 69 and the extra to install (it
    was an internal error, 70, found by running the suite without torch)."""
    monkeypatch.setitem(sys.modules, "torch", None)  # import fails as if not installed
    result = run_main("shapes", FIXTURES / "frameworks" / "pytorch_stack.pt")
    assert result.returncode == 69
    assert result.stderr.decode() == ("lstmcalc: error: reading a .pt file needs PyTorch, which "
                                      "is not installed: pip install 'lstmcalc[torch]'\n")


def test_options_a_stack_does_not_take_are_refused_not_ignored():
    stack = FIXTURES / "frameworks" / "pytorch_stack.npz"
    for args, message in (
            (["step", stack, "-i", "-", "--dtype", "float32", "--compare-to", "float64"],
             "--compare-to float64 compares one cell"),
            (["unroll", stack, "-i", "-", "--dtype", "float32", "--compare-to", "float64"],
             "--compare-to float64 compares one cell"),
            (["step", stack, "-i", "-", "--hex"], "--hex: not available yet for stacked")):
        result = run_main(*args, input="1,2,3\n")
        assert result.returncode == 2 and message in result.stderr.decode(), args
    from lstmcalc.errors import Unsupported

    for call in (api.step, api.unroll):
        with pytest.raises(Unsupported, match="compares one cell"):
            call(str(stack), x=[1.0, 2.0, 3.0], dtype="float32", compare_to="float64") \
                if call is api.step else \
                call(str(stack), [[1.0, 2.0, 3.0]], dtype="float32", compare_to="float64")
