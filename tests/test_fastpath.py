"""The fast JSON path (fastpath.py) against the located reader (config.parse_spec): whatever
the fast path accepts, the located reader accepts with the same Spec, bit for bit; whatever
it declines goes to the located reader, so every message stays as it was."""

import contextlib
import json
import sys
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmcalc import config, fastpath
from lstmcalc.core import GATES
from lstmcalc.errors import DataError


@contextlib.contextmanager
def parser(name: str):
    """fastpath's JSON parser: orjson where installed, or json (orjson hidden)."""
    if name == "orjson":
        pytest.importorskip("orjson")
        yield
    else:
        with mock.patch.dict(sys.modules, {"orjson": None}):
            yield


PARSERS = pytest.mark.parametrize("name", ["orjson", "json"])


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


@PARSERS
@settings(max_examples=150, deadline=None, database=None)
@given(text=configs())
def test_what_the_fast_path_reads_the_located_reader_reads_the_same(name, text):
    with parser(name):
        fast = fastpath.spec(text, "c.json")
    slow = config.parse_spec(text, "c.json", json=True)
    assert fast is not None, text[:300]
    same_spec(fast, slow)


@PARSERS
@settings(max_examples=300, deadline=None, database=None)
@given(text=configs(), data=st.data())
def test_a_damaged_config_is_accepted_by_both_or_declined(name, text, data):
    """Change a few characters: if the fast path still accepts, so does the located reader,
    with the same Spec; else the located reader's answer (a Spec or its error) stands."""
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 3))):
        k = data.draw(st.integers(0, len(chars) - 1))
        chars[k] = data.draw(st.sampled_from(list('0123456789.-+eE ,[]{}":tfnxa')))
    damaged = "".join(chars)
    with parser(name):
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
    # a key given twice at each level (orjson keeps the last: its quotes are counted)
    json.dumps(GOOD)[:-1] + ', "gates": ' + json.dumps(GOOD["gates"]) + "}",
    json.dumps(GOOD).replace('"forget": {', '"forget": {"W": [[9, 9, 9]], ', 1),
    json.dumps(GOOD).replace('"input": {', '"forget": {"W": [[1, 1, 1]]}, "input": {', 1),
])
@PARSERS
def test_the_fast_path_declines_and_the_message_is_the_located_one(tmp_path, text, name):
    with parser(name):
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


@PARSERS
def test_an_escaped_key_is_read_as_the_located_reader_reads_it(name):
    """A backslash in the text sends it to json, whose hooks see every key as written."""
    text = json.dumps(GOOD).replace('"W"', '"\\u0057"', 1)  # "W", escaped
    with parser(name):
        fast = fastpath.spec(text, "c.json")
    assert fast is not None
    same_spec(fast, config.parse_spec(text, "c.json", json=True))


def test_the_usual_config_takes_the_fast_path(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(GOOD))
    monkeypatch.setattr(config, "parse_spec", lambda *a, **k: pytest.fail("located reader"))
    spec = config.load(str(path))
    np.testing.assert_array_equal(spec.x, [1.0, 2.0])


def test_orjson_reads_every_number_as_json_does():
    """The fast path's numbers through orjson are json's (Python's float()), bit for bit:
    random doubles written shortest, to 17 and 25 digits, long decimals and integers, within
    the exponents the fast path takes (three-digit ones go to the located reader)."""
    import random
    import struct

    orjson = pytest.importorskip("orjson")
    rng = random.Random(11)
    texts = []
    while len(texts) < 60_000:
        d = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if d != d or abs(d) > 1e99 or 0 < abs(d) < 1e-99:
            continue
        texts += [repr(d), f"{d:.17e}", f"{d:.25g}",
                  "0." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40))),
                  str(rng.getrandbits(rng.randint(1, 80)) + 1) + "5" * rng.randint(0, 6)]
    text = "[" + ",".join(texts) + "]"
    assert fastpath._risky_exponent(text) is False
    assert struct.pack(f"<{len(texts)}d", *map(float, orjson.loads(text))) == \
        struct.pack(f"<{len(texts)}d", *map(float, json.loads(text)))


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
