"""Fuzz lstmcalc's loaders for a while (outside CI): python tests/fuzz/run.py [MINUTES [CASE]]

Hypothesis generates mutated binary files (.npz, .npy, .pt, .onnx), random and mutated
configs, JSON documents and sequences; any exception
other than lstmcalc's own errors is a finding, printed with the input that caused it.
"""

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.reporting import with_reporter  # noqa: E402

from targets import (SEED_FILES, SEED_TEXT, binary_target, config_target,  # noqa: E402
                     mutate, sequence_target)

TOKENS = st.sampled_from(["[", "]", "{", "}", ":", ",", "-", " ", "\n", "\t", "1e3", ".nan",
                          "&a", "*a", "!!float", "~", "yes", "'2'", "W:", "Wx:", "b:", "x:",
                          "gates:", "forget:", "0x1f", "1_0", "-.5", "9" * 400, "\x00", "\xff"])
EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 8),
                           st.one_of(TOKENS, st.text(max_size=4))), min_size=1, max_size=6)
SETTINGS = settings(max_examples=10**9, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def run(minutes: float, only: str | None = None):
    stop = time.monotonic() + minutes * 60
    counts = {}

    def timed(name, target):
        def wrapper(*args):
            counts[name] = counts.get(name, 0) + 1
            if time.monotonic() > stop:
                raise KeyboardInterrupt
            target(*args)
        return wrapper

    import tempfile

    folder = tempfile.mkdtemp(prefix="lstmcalc-fuzz-")
    byte_edits = st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 8),
                                    st.binary(max_size=6)), min_size=1, max_size=4)
    cases = [
        ("binary files", given(st.sampled_from(sorted(SEED_FILES)), byte_edits)(SETTINGS(
            lambda kind, e: timed("binary files", binary_target)(
                kind, mutate(SEED_FILES[kind], e), folder)))),
        ("mutated yaml", given(EDITS)(SETTINGS(lambda e: timed("mutated yaml", config_target)(
            mutate(SEED_TEXT, e))))),
        ("random yaml", given(st.text(max_size=300))(SETTINGS(
            lambda t: timed("random yaml", config_target)(t)))),
        ("random json", given(st.text(max_size=300))(SETTINGS(
            lambda t: timed("random json", config_target)(t, True)))),
        ("sequences", given(st.text(max_size=300), st.sampled_from(
            ["csv", "tsv", "txt", "jsonl", "json", "yaml"]))(SETTINGS(
                lambda t, f: timed("sequences", sequence_target)(t, f)))),
    ]
    if only is not None:  # e.g. "binary": the cases whose name holds it
        cases = [case for case in cases if only in case[0]]
    share = minutes / len(cases)
    for name, case in cases:
        stop = time.monotonic() + share * 60
        try:
            # the time limit stops a case with KeyboardInterrupt, which Hypothesis would report
            # as a failure to reproduce; a real finding raises something else, and stops here
            with with_reporter(lambda *args: None):
                case()
        except KeyboardInterrupt:
            pass
    print("examples run:", ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    print("findings: none (every input either loaded or raised lstmcalc's own error)")


if __name__ == "__main__":
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 10,
        sys.argv[2] if len(sys.argv) > 2 else None)
