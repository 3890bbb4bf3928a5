"""The fast JSON path (fastpath.py) against the located reader (config.parse_spec): whatever
the fast path accepts, the located reader accepts with the same Spec, bit for bit; whatever
it declines goes to the located reader, so every message stays as it was."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmcalc import config, fastpath
from lstmcalc.core import GATES
from lstmcalc.errors import DataError


def same_spec(a, b) -> None:
    def arrays(s):
        w = s.weights
        out = [w.Wx, w.Wh, w.bx, w.bh]
        out += [v for v in (s.x, s.h, s.c, s.sequence) if v is not None]
        return out

    assert (a.source, a.gate_names, a.split, a.output, a.stack, a.directions) == \
        (b.source, b.gate_names, b.split, b.output, b.stack, b.directions)
    assert [v is None for v in (a.x, a.h, a.c, a.sequence)] == \
        [v is None for v in (b.x, b.h, b.c, b.sequence)]
    assert (a.weights.forget_bias, a.weights.concat, a.weights.variant.features()) == \
        (b.weights.forget_bias, b.weights.concat, b.weights.variant.features())
    for x, y in zip(arrays(a), arrays(b), strict=True):
        assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes())


# numbers as JSON writers write them; three-digit exponents are left to the located reader
# (they may overflow or underflow), so the fast path's own numbers stay within 1e±99
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e99, max_value=1e99).filter(
        lambda v: v == 0 or abs(v) >= 1e-99),
    st.integers(-10**20, 10**20), st.sampled_from([0, -0.0, 0.0, 1e-99, 2**53 + 1, 1e22]))


@st.composite
def configs(draw):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))

    def matrix(rows, cols):
        return [[draw(numbers) for _ in range(cols)] for _ in range(rows)]

    doc: dict = {"gates": {}}
    for g in GATES:
        entry: dict = {"W": matrix(n, m + n)}
        if draw(st.booleans()):
            entry["b"] = [draw(numbers) for _ in range(n)]
        doc["gates"][g] = entry
    for key, size in (("x", m), ("h", n), ("c", n)):
        kind = draw(st.sampled_from(["none", "vector", "batch"]))
        if kind == "vector":
            doc[key] = [draw(numbers) for _ in range(size)]
        elif kind == "batch":
            doc[key] = matrix(2, size)
    if draw(st.booleans()):
        doc["sequence"] = matrix(draw(st.integers(1, 3)), m)
    keys = list(doc)
    order = draw(st.permutations(keys))
    return json.dumps({k: doc[k] for k in order}, indent=draw(st.sampled_from([None, 1])))


@settings(max_examples=150, deadline=None, database=None)
@given(configs())
def test_what_the_fast_path_reads_the_located_reader_reads_the_same(text):
    fast = fastpath.spec(text, "c.json")
    slow = config.parse_spec(text, "c.json", json=True)
    assert fast is not None, text[:300]
    same_spec(fast, slow)


@settings(max_examples=300, deadline=None, database=None)
@given(configs(), st.data())
def test_a_damaged_config_is_accepted_by_both_or_declined(text, data):
    """Change a few characters: if the fast path still accepts, so does the located reader,
    with the same Spec; else the located reader's answer (a Spec or its error) stands."""
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 3))):
        k = data.draw(st.integers(0, len(chars) - 1))
        chars[k] = data.draw(st.sampled_from(list('0123456789.-+eE ,[]{}":tfnxa')))
    damaged = "".join(chars)
    fast = fastpath.spec(damaged, "c.json")
    if fast is None:
        return
    same_spec(fast, config.parse_spec(damaged, "c.json", json=True))


GOOD = {"x": [1, 2], "gates": {g: {"W": [[0.5, -1, 2]], "b": [0.1]} for g in GATES}}


@pytest.mark.parametrize("text", [
    '{"x": [1, 2], "x": [1, 2], "gates": ' + json.dumps(GOOD["gates"]) + "}",
    json.dumps({**GOOD, "x": [1, True]}),
    json.dumps({**GOOD, "x": [1, "2"]}),
    json.dumps({**GOOD, "x": [1, None]}),
    json.dumps(GOOD).replace("0.5", "NaN"),
    json.dumps(GOOD).replace("0.5", "1e400"),
    json.dumps(GOOD).replace("0.5", "1e-400"),
    json.dumps(GOOD).replace("0.5", "1e-120"),  # fine, but read by the located reader
    json.dumps({**GOOD, "clip": 2}),
    json.dumps({**GOOD, "gates": {**GOOD["gates"], "f": GOOD["gates"]["forget"]}}),
    json.dumps({**GOOD, "x": [1, 2, 3]}),
    json.dumps({**GOOD, "h": [[1], [2, 3]]}),
    json.dumps(GOOD)[:-1],
])
def test_the_fast_path_declines_and_the_message_is_the_located_one(tmp_path, text):
    assert fastpath.spec(text, "c.json") is None
    path = tmp_path / "c.json"
    path.write_text(text)
    try:
        want = config.parse_spec(text, str(path), json=True)
    except DataError as e:
        with pytest.raises(DataError) as got:
            config.load(str(path))
        assert str(got.value) == str(e)
    else:
        same_spec(config.load(str(path)), want)


def test_the_usual_config_takes_the_fast_path(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(GOOD))
    monkeypatch.setattr(config, "parse_spec", lambda *a, **k: pytest.fail("located reader"))
    spec = config.load(str(path))
    np.testing.assert_array_equal(spec.x, [1.0, 2.0])


def test_the_exponent_scan_agrees_with_the_regular_expression():
    """fastpath._risky_exponent finds each e and E (or, past a few thousand, runs the regex):
    on every text, the same answer as the regex over the whole text."""
    import random

    from lstmcalc import fastpath

    rng = random.Random(5)
    pieces = ["1.5e-05", "2E+10", "3e-100", "4E300", "5e7", "true", "gates", "e", "E-",
              "1e+1234", "6e-9", "0.5", '"Wé"', "7e-0", "8E12"]
    texts = ["", "e", "1e100", "e1000", "xE+999", "1e-99 2e-9"]
    texts += [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
              for _ in range(500)]
    texts += [", ".join(["1.5e-05"] * 3000), ", ".join(["1.5e-05"] * 3000) + ", 1e-300"]
    for text in texts:
        assert fastpath._risky_exponent(text) == bool(fastpath._RISKY_EXPONENT.search(text)), \
            text[:80]
