"""No view cuts a number, at any width from 40 columns up (issue: honest on every screen).

Every table re-flows where its columns do not fit (render/fit.py): these run each view at
40, 60, 72, 80 and 120 columns and look for the two signs of a cut, an ellipsis and a line
wider than the terminal; and check that the numbers of a re-flowed gate table are the ones a
wide terminal shows."""

import io
import json
import pathlib
import re

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import run_main
from lstmcalc.config import builtin_text

WIDTHS = (40, 60, 72, 80, 120)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("widths")
    base = yaml.safe_load(builtin_text())
    rng = np.random.default_rng(5)

    def cell(m, n):
        return {"gates": {g: {"W": rng.normal(0, 0.5, (n, m + n)).round(3).tolist()}
                          for g in ("forget", "input", "candidate", "output")}}

    docs = {
        "founding": base,
        "batch": {**base, "x": [[1, 2, 3], [0, -1, 0.5]], "h": [[4, 5, 6], [0, 0, 0]]},
        "peepholes": {**base, "peepholes": {"forget": [0.1, -0.2, 0.3]}},
        "projection": {"x": [1, 2, 3], "h": [0.1, 0.2], "c": [0.5, -1.0, 0.2],
                       "gates": {g: {"W": rng.normal(0, 0.5, (3, 5)).round(3).tolist()}
                                 for g in ("forget", "input", "candidate", "output")},
                       "projection": {"W": [[0.5, -0.25, 1.0], [0.1, 0.2, -0.3]]}},
        "stack": {"x": [1, 2, 3], "sequence": base["sequence"], "direction": "bidirectional",
                  "layers": [{"forward": cell(3, 3), "reverse": cell(3, 3)}]},
    }
    for name, doc in docs.items():
        (path / f"{name}.json").write_text(json.dumps(doc))
    # hand-worked values, some wrong: the check's table of differences
    (path / "expect.yaml").write_text("h: [0.1543, -0.3976, 0.5]\nc: [0.2, -0.95, 0.3]\n")
    # a long key wrong, and blanks: the table's key column alone is most of 40 columns
    (path / "sheet.yaml").write_text("gates:\n  forget:\n    preactivation: [99, 177, _]\n")
    (path / "xs.csv").write_text("1,2,3\n0,1,0\n-1,0,1\n0.5,0.5,0.5\n0,0,0\n")
    return path


VIEWS = [
    ["step"], ["step", "-p", "8"], ["step", "--explain", "--derivatives", "--diagram",
                                    "--stochastic"],
    ["step", "{batch}"], ["step", "{peepholes}", "--explain", "--derivatives"],
    ["step", "{projection}", "--explain"], ["unroll", "-i", "{xs}"],
    ["unroll", "--view", "heatmap"], ["unroll", "{stack}"], ["unroll", "--final"],
    ["grad"], ["grad", "--view", "heatmap"], ["grad", "{stack}"], ["shapes"],
    ["shapes", "{stack}"], ["step", "--expect", "{expect}"], ["inspect", "{stack_npz}"],
    ["step", "--expect", "{sheet}"],
    ["compare", "{founding}", "{peepholes}"], ["compare", "{stack_npz}", "{stack_npz}"],
    ["step", "--dtype", "q4.12", "--hex", "--compare-to", "float64"],
    ["step", "{batch}", "--dtype", "float16", "--hex"],
    ["unroll", "--dtype", "q1.15", "--compare-to", "float64"],
]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_view_cuts_a_number_or_overflows(folder, width):
    names = {p.stem: str(p) for p in folder.iterdir()}
    names["xs"] = str(folder / "xs.csv")
    names["stack_npz"] = str(pathlib.Path(__file__).parent / "fixtures" / "frameworks" /
                             "pytorch_stack.npz")
    for view in VIEWS:
        args = [a.format(**names) for a in view]
        result = run_main(*args, "-f", "table", env={"COLUMNS": str(width)})
        assert result.returncode in (0, 1), (args, result.stderr)
        lines = result.stdout.decode().splitlines()
        assert not [line for line in lines if "…" in line], (width, args)
        assert not [line for line in lines if len(line) > width], (width, args)


def test_a_reflowed_table_shows_the_same_numbers(folder):
    def numbers(width):
        out = run_main("step", "-p", "8", "-f", "table", env={"COLUMNS": str(width)})
        return sorted(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out.stdout.decode()))

    assert numbers(40) == numbers(200)


@pytest.mark.parametrize("width", range(34, 81))
def test_prose_columns_wrap_at_spaces_and_never_split_a_word(width):
    """Rich's own shrinking narrows the widest prose column first, below its longest word
    ("concatenatio" / "n" in the 40-column shapes panel): a FitTable never does that."""
    from rich import box
    from rich.console import Console
    from rich.text import Text

    from lstmcalc.render.fit import FitTable

    rows = [("v = [x_t, h_{t-1}]", "the concatenation every gate reads", "6×1"),
            ("W_f, W_i, W_c, W_o", "one weight matrix per gate, n × (m + n)", "3×6"),
            ("x_t", "input at time t (m entries)", "123456789.123456789")]
    table = FitTable(box=box.SIMPLE_HEAD)
    for name in ("variable", "meaning", "shape"):
        table.add_column(name)
    for row in rows:
        table.add_row(*map(Text, row))
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(table)
    out = console.file.getvalue()
    words = set(out.split())
    assert {w for row in rows for cell in row for w in cell.split()} <= words, out
    assert max(map(len, out.splitlines())) <= width


@pytest.mark.parametrize("command", ["", "step", "unroll", "grad", "shapes", "inspect", "compare",
                                     "exercise", "init", "convert"])
def test_help_fits_80_columns_and_cuts_no_summary(command):
    result = run_main(*([command] if command else []), "--help", env={"COLUMNS": "80"})
    lines = result.stdout.decode().splitlines()
    assert result.returncode == 0 and lines
    assert not [line for line in lines if len(line) > 80], command
    commands = lines[lines.index("Commands:") + 1:] if "Commands:" in lines else []
    assert not [line for line in commands if line.rstrip().endswith("...")], commands


@settings(max_examples=25, deadline=None, database=None)
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from(WIDTHS), st.integers(0, 8),
       st.integers(0, 2**32 - 1))
def test_every_number_in_a_table_is_a_computed_value_at_the_shown_precision(m, n, width,
                                                                             precision, seed):
    """Random cells, widths and precisions: each plain number a step table prints is one of
    the step's values (its JSON) rounded to the precision, so none is cut or garbled."""
    import io

    from rich.console import Console

    from lstmcalc import core, records, reports
    from lstmcalc.choices import Format, Show
    from lstmcalc.render.views import render

    rng = np.random.default_rng(seed)
    cell = core.Cell(rng.normal(0, 2, (4, n, m + n)), rng.normal(0, 1, (4, n)))
    s = core.step(cell, rng.normal(0, 2, m), rng.normal(0, 1, n), rng.normal(0, 1, n))
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(render(reports.step_report("cfg", s), Format.table, Show(precision=precision)))
    text = console.file.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= width
    values = np.abs(np.concatenate([np.ravel(a) for a in _leaves(records.step_dict(s))]))
    table = text.split("Units are numbered")[0].split("╰")[-1]  # below the shapes panel
    for token in re.findall(r"(?<![\w.e−-])-?\d+\.\d+(?![\w.%])", table):  # not a %
        shown = abs(float(token))
        assert np.any(np.abs(values - shown) <= 0.5 * 10 ** -precision * (1 + 1e-9)), token


def _leaves(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _leaves(value)
    elif isinstance(obj, list) and obj and not isinstance(obj[0], str):
        yield np.asarray(obj, dtype=float)
