"""Property-based tests: whatever the input, only lstmcalc's own errors come out.

The same targets run for minutes with tests/fuzz/run.py; here a few hundred examples each.
"""

import pathlib
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

sys.path.insert(0, str(pathlib.Path(__file__).parent / "fuzz"))

from targets import (SEED_FILES, SEED_TEXT, binary_target, config_target,  # noqa: E402
                     mutate, sequence_target)

from lstmcalc.cli import app  # noqa: E402

TOKENS = st.sampled_from(["[", "]", "{", "}", ":", ",", "-", " ", "\n", "\t", "1e3", ".nan",
                          "&a", "*a", "!!float", "~", "yes", "'2'", "W:", "Wx:", "b:", "x:",
                          "gates:", "forget:", "0x1f", "1_0", "-.5", "9" * 400, "\x00"])
EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 8),
                           st.one_of(TOKENS, st.text(max_size=4))), min_size=1, max_size=6)
FAST = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(EDITS)
def test_mutated_configs_load_or_raise_our_errors(edits):
    config_target(mutate(SEED_TEXT, edits))


@FAST
@given(st.text(max_size=200))
def test_random_text_as_yaml_and_json(text):
    config_target(text)
    config_target(text, as_json=True)


@FAST
@given(st.text(max_size=200), st.sampled_from(["csv", "tsv", "txt", "jsonl", "json", "yaml"]))
def test_random_sequences(text, fmt):
    sequence_target(text, fmt)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(EDITS)
def test_the_cli_gives_one_line_and_a_known_status(edits):
    text = mutate(SEED_TEXT, edits)
    result = CliRunner().invoke(app, ["step", "-", "-f", "json"], input=text)
    assert result.exit_code in (0, 65), result.stderr
    if result.exit_code:
        assert result.stdout == ""
        lines = result.stderr.splitlines()  # one line per problem, up to 20, in file order
        assert 1 <= len(lines) <= 20 and "internal error" not in result.stderr
        assert all(line.startswith("lstmcalc: error: <stdin>") for line in lines), lines


BYTE_EDITS = st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 8),
                                st.binary(max_size=6)), min_size=1, max_size=4)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(SEED_FILES)), BYTE_EDITS)
def test_mutated_binary_files_load_or_raise_our_errors(tmp_path, kind, edits):
    binary_target(kind, mutate(SEED_FILES[kind], edits), tmp_path)
