"""Renderers against golden text, and the number formatting they share.

Regenerate the golden files after an intended change with UPDATE_GOLDEN=1, and read the diff.
"""

import json

import numpy as np
import pytest

from helpers import check_golden, rendered, step_table
from lstmcalc import config
from lstmcalc.core import Cell, step, unroll
from lstmcalc.render.heatmap import heatmap_view
from lstmcalc.render.machine import step_dict, to_csv
from lstmcalc.render.numbers import honest, percent, plain, sci
from lstmcalc.render.table import final_view, run_view



def founding():
    spec = config.load_builtin()
    return step(spec.cell, spec.x, spec.h, spec.c)


def test_founding_table_golden():
    check_golden("founding_table.txt", rendered(step_table(founding(), 4, "founding.yaml")))


def test_founding_table_golden_precision_2_wide():
    check_golden("founding_table_p2_w120.txt",
                 rendered(step_table(founding(), 2, "founding.yaml"), width=120))


def test_batch_table_golden():
    spec = config.load_builtin()
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    check_golden("batch_table.txt", rendered(step_table(step(spec.cell, x, spec.h, spec.c), 4)))


def test_founding_json_golden():
    check_golden("founding.json", json.dumps(step_dict(founding()), indent=1) + "\n")


def test_csv_batch_has_sequence_column():
    spec = config.load_builtin()
    text = to_csv(step(spec.cell, np.ones((2, 3)), spec.h, spec.c))
    header, first, second = text.splitlines()
    assert header.startswith("sequence,x[0],x[1],x[2],h_prev[0]")
    assert first.startswith("1,1.0,1.0,1.0,4.0") and second.startswith("2,")


@pytest.mark.parametrize("value,precision,gap,expected", [
    (92.0, 4, None, "92"),
    (0.57444251681, 4, None, "0.5744"),
    (-0.3, 4, None, "-0.3"),
    (1.0, 4, 1.1089390193121365e-40, "1 − 1.1e-40"),
    (0.99996, 4, 4e-5, "1 − 4e-5"),
    (0.99994, 4, 6e-5, "0.9999"),
    (-1.0, 4, 2e-12, "−1 + 2e-12"),
    (1.0, 4, 0.0, "1"),
    (1.1e-40, 4, None, "1.1e-40"),
    (-3e-9, 4, None, "-3e-9"),
    (-0.0, 4, None, "0"),
    (0.0, 4, None, "0"),
    (1.5e7, 3, None, "1.5e7"),
    (0.5, 0, None, "0.5"),
])
def test_honest_numbers(value, precision, gap, expected):
    assert honest(value, precision, gap) == expected


def test_number_helpers():
    assert sci(1.1089390193121365e-40) == "1.1e-40" and sci(2.5e10) == "2.5e10"
    assert plain(123456789.0, 2) == "1.23e8"
    assert percent(0.7502) == "75.0%" and percent(1.0, 1e-40) == "≈100%"
    assert percent(1e-9) == "≈0%"
    assert honest(1.0, 4, 1e-40, tight=True) == "1−1e-40"


def test_table_escapes_nothing_it_should_not():
    # a source name with markup is shown literally
    text = rendered(step_table(founding(), 4, "w[red].yaml"))
    assert "w[red].yaml" in text


def test_saturation_flags_follow_the_slope():
    n = 2
    W = np.zeros((4, n, 1 + n))
    W[0, 0, 0], W[0, 1, 0] = 2.0, 7.0  # sigma'(2) = 0.105 (not saturated); sigma'(7) < 0.0025
    text = rendered(step_table(step(Cell(W, np.zeros((4, n))), [1.0]), 4), width=120)
    forget = text.split("Forget gate")[1].split("Input gate")[0]
    line1, line2 = [ln for ln in forget.splitlines() if ln.strip()[:1] in ("1", "2")]
    assert "saturated" not in line1 and "saturated" in line2


def founding_run():
    spec = config.load_builtin()
    return unroll(spec.cell, spec.sequence, spec.h, spec.c)


def test_run_table_golden():
    check_golden("founding_unroll_table.txt",
                 rendered(run_view(founding_run(), 4, "founding.yaml")))


def test_run_table_long_and_wide_golden():
    rng = np.random.default_rng(0)
    cell = Cell(rng.normal(0, 0.5, (4, 12, 14)), rng.normal(0, 0.5, (4, 12)))
    run = unroll(cell, rng.normal(size=(40, 2)))
    check_golden("unroll_long_table.txt", rendered(run_view(run, 3, "random", rows=4), 100))


def test_heatmap_golden():
    rng = np.random.default_rng(1)
    cell = Cell(rng.normal(0, 1.0, (4, 4, 7)), rng.normal(0, 0.5, (4, 4)))
    run = unroll(cell, np.sin(np.arange(150)[:, None] / np.array([5.0, 9.0, 17.0])))
    check_golden("heatmap.txt", rendered(heatmap_view(run, "waves"), 100))


def test_final_view_golden():
    run = founding_run()
    check_golden("final.txt", rendered(final_view(run.cell, run.h[-1], run.c[-1], run.T)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_orjson_and_stdlib_write_the_same_numbers(monkeypatch, dtype):
    from lstmcalc.render import machine

    pytest.importorskip("orjson")
    spec = config.load_builtin()
    run = unroll(spec.cell.astype(dtype), spec.sequence, spec.h, spec.c)
    def lines():  # run_jsonl gives its lines a chunk of steps at a time
        return "".join(machine.run_jsonl(run)).splitlines()

    fast = [machine.run_json(run)] + lines() + [machine.to_json(run.step(2))]
    monkeypatch.setattr(machine, "_orjson", None)
    slow = [machine.run_json(run)] + lines() + [machine.to_json(run.step(2))]
    assert [json.loads(a) for a in fast] == [json.loads(b) for b in slow]
    for line in slow:
        for value in json.loads(line)["h"] if "h" in json.loads(line) else []:
            assert dtype(value) == dtype(float(repr(value)))


def test_precision_zero_rounds_and_keeps_the_epsilon_form_for_what_it_hides():
    from lstmcalc.render.numbers import honest

    assert honest(0.6351, 0, 0.3649) == "1"  # a rounding asked for, not "1 − 0.36"
    assert honest(0.97, 0, 0.03) == "1 − 0.03"  # near the bound: still said
    assert honest(0.99996, 4, 4e-5) == "1 − 4e-5"


@pytest.mark.parametrize("writer", ["orjson", "json"])
def test_jsonl_lines_made_a_chunk_at_a_time_are_the_per_step_lines(monkeypatch, writer):
    """machine.run_lines (every step's line from whole arrays) writes, byte for byte, what
    jsonl_line writes for each Step: float64 and float32 (orjson writes float32 arrays in its
    own shortest form), batches, a projection, both concat orders, --fields, any range of
    steps (h_prev, c_prev and concatenated are cut from the texts of h, c and x)."""
    from lstmcalc.core import Cell, Variant
    from lstmcalc.render import machine

    if writer == "orjson":
        pytest.importorskip("orjson")
    else:
        monkeypatch.setattr(machine, "_orjson", None)
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        for batch in ((), (3,)):
            for variant in (Variant(), Variant(projection=rng.normal(size=(2, 4)))):
                r = 2 if variant.projection is not None else 4
                concat = ("h", "x") if variant.projection is None else ("x", "h")
                cell = Cell(rng.normal(size=(4, 4, 3 + r)), rng.normal(size=(4, 4)), concat,
                            variant=variant).astype(dtype)
                xs = rng.normal(size=(9, *batch, 3))
                xs[2] *= 1e-6  # numbers that print with an exponent
                run = unroll(cell, xs)
                for fields in (None, frozenset({"h", "forget"}), frozenset({"y"}),
                               frozenset({"x", "concatenated", "c"}),
                               frozenset({"h_prev", "c_prev", "concatenated"})):
                    want = [machine.jsonl_line(run.step(j), 5 + j, fields)
                            for j in range(run.T)]
                    assert machine.run_lines(run, 5, fields) == "".join(want)
                    assert machine.run_lines(run, 5, fields, None, 3, 7) == "".join(want[3:7])
