"""lstmcalc exercise: problems with friendly numbers, their answer sheets and keys."""

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import run_main
from lstmcalc import exercise
from lstmcalc.core import GATES


@settings(max_examples=60, deadline=None, database=None)
@given(st.integers(0, 10**9), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5),
       st.integers(1, 4))
def test_problems_are_friendly_interesting_and_deterministic(seed, level, m, n, span):
    from lstmcalc.errors import UsageError

    try:
        doc = exercise.generate(seed, level, m, n, span)
    except UsageError as e:  # |z| >= 4 out of reach, or nearly: refused, never faked
        assert "widen the range" in str(e) and span * (m + n + 1) <= 5
        return
    assert doc == exercise.generate(seed, level, m, n, span)
    W = np.array([doc["gates"][g]["W"] for g in GATES])
    b = np.array([doc["gates"][g]["b"] for g in GATES])
    ints = np.concatenate([W.ravel(), b.ravel(), doc["x"], doc["h"],
                           np.ravel(doc["sequence"])])
    assert np.all(ints == np.round(ints)) and np.abs(ints).max() <= span
    assert all(round(v, 1) == v and abs(v) <= 1 for v in doc["c"])
    z = np.einsum("knj,j->kn", W, np.concatenate([doc["x"], doc["h"]])) + b
    assert np.abs(z).max() >= 4 and (np.abs(z) <= 2).any() and (z != 0).all()


def test_seeds_differ_and_the_text_is_the_same_bytes(tmp_path):
    texts = [exercise.config_text(exercise.generate(s, 2), s, 2) for s in range(5)]
    assert len(set(texts)) == 5
    assert texts[0] == exercise.config_text(exercise.generate(0, 2), 0, 2)
    assert texts[3].startswith("# lstmcalc exercise: seed 3, level 2\n")


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_generated_configs_load_everywhere_and_the_key_passes(tmp_path, level):
    problem = tmp_path / "p.yaml"
    r = run_main("exercise", "--seed", "11", "--level", str(level), "-o", str(problem))
    assert r.returncode == 0, r.stderr
    for command in ("step", "unroll", "grad", "shapes"):
        assert run_main(command, str(problem), "-f", "json").returncode == 0, command
    sheet = yaml.safe_load((tmp_path / "p-answers.yaml").read_text())
    assert "_" in (tmp_path / "p-answers.yaml").read_text() and sheet
    assert run_main("exercise", "--seed", "11", "--level", str(level), "-o", str(problem),
                    "--key").returncode == 0
    key = tmp_path / "p-key.yaml"
    r = run_main("step", str(problem), "--expect", str(key), "-f", "json")
    assert r.returncode == 0, r.stderr
    assert b", 0 differ\n" in r.stderr and b"not answered" not in r.stderr


def test_a_wrong_number_fails_naming_it_and_blanks_are_not_answered(tmp_path):
    problem = tmp_path / "p.yaml"
    run_main("exercise", "--seed", "5", "--level", "2", "-o", str(problem), "--key")
    key = (tmp_path / "p-key.yaml").read_text().splitlines()
    at = next(k for k, line in enumerate(key) if "preactivation" in line)
    line = key[at]
    first = line.split("[", 1)[1].split(",", 1)[0]
    key[at] = line.replace(f"[{first},", f"[{int(first) + 7},", 1)
    (tmp_path / "wrong.yaml").write_text("\n".join(key) + "\n")
    r = run_main("step", str(problem), "--expect", str(tmp_path / "wrong.yaml"), "-f", "json")
    assert r.returncode == 1 and b"differs: gates.forget.preactivation unit 1" in r.stderr
    # the blank sheet: every number not answered, none wrong, so not a failure
    run_main("exercise", "--seed", "5", "--level", "2", "-o", str(problem))
    r = run_main("step", str(problem), "--expect", str(tmp_path / "p-answers.yaml"), "-f",
                 "json")
    assert r.returncode == 0
    assert r.stderr.decode().endswith("checked 0 values: 0 agree, 0 differ, 12 not answered\n")
    assert b"lstmcalc: not answered: gates.output.preactivation (units 1, 2, 3)\n" in r.stderr


def test_level_one_asks_the_sizes_and_the_forget_gate():
    doc = exercise.generate(2, 1)
    key = yaml.safe_load(exercise.sheet_text(doc, 2, 1, exercise.key_truth(doc), "p.yaml"))
    assert key["shapes"] == {"x": [3], "h_prev": [3], "c_prev": [3], "concatenated": [6],
                             "W_f": [3, 6], "b_f": [3]}
    assert list(key["gates"]) == ["forget"]


def test_refusals():
    r = run_main("exercise", "--level", "5")
    assert r.returncode == 2
    r = run_main("exercise", "--key")
    assert r.returncode == 2 and b"--key writes the answer key to --answers FILE" in r.stderr
