"""Config loading: good files give the right Spec; every bad file its exact located message."""

import json
import pathlib

import numpy as np
import pytest

from lstmcalc import config
from lstmcalc.errors import DataError, InputMissingError

ROOT = pathlib.Path(__file__).parent.parent
GOOD = """\
x: [1, 2, 3]
h: [4, 5, 6]
gates:
  forget:
    W: [[1, 2, 3, 4, 5, 6], [5, 6, 7, 8, 9, 10], [3, 4, 5, 6, 7, 8]]
    b: [1, 2, 3]
  input: {W: [[1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2], [3, 3, 3, 3, 3, 3]], b: [1, 1, 1]}
  candidate: {W: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]}
  output: {W: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]}
"""


def load_text(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return config.load(str(path))


def error_of(tmp_path, text, name="cfg.yaml"):
    with pytest.raises(DataError) as info:
        load_text(tmp_path, text, name)
    return str(info.value).replace(str(tmp_path) + "/", "")


def test_good_config(tmp_path):
    spec = load_text(tmp_path, GOOD)
    assert spec.cell.input_size == 3 and spec.cell.hidden_size == 3
    assert spec.x.tolist() == [1, 2, 3] and spec.h.tolist() == [4, 5, 6] and spec.c is None
    assert spec.cell.W[0, 1].tolist() == [5, 6, 7, 8, 9, 10]
    assert spec.cell.b[2].tolist() == [0, 0, 0]  # b defaults to zeros
    assert spec.cell.concat == ("x", "h")


def test_aliases_split_weights_and_concat(tmp_path):
    text = """\
concat: [h, x]
gates:
  f: {Wx: [[1, 2]], Wh: [[3]], b: [0.5]}
  i: {W: [[3, 1, 2]]}
  c: {W: [[0, 0, 0]]}
  o: {W: [[0, 0, 0]]}
"""
    spec = load_text(tmp_path, text)
    assert (spec.cell.input_size, spec.cell.hidden_size) == (2, 1)
    # concat [h, x]: W's columns are h first, then x
    assert spec.cell.W[0, 0].tolist() == [3, 1, 2]
    assert spec.cell.Wx[1].tolist() == [[1, 2]] and spec.cell.Wh[1].tolist() == [[3]]
    assert spec.x is None


def test_json_config_with_exponents(tmp_path):
    data = {"x": [1e3], "gates": {g: {"W": [[0.5, 1e-3]]} for g in
                                  ("forget", "input", "candidate", "output")}}
    spec = load_text(tmp_path, json.dumps(data), "cfg.json")
    assert spec.x.tolist() == [1000.0] and spec.cell.W[0, 0, 1] == 1e-3


def test_batch_x_and_sequence(tmp_path):
    spec = load_text(tmp_path, GOOD.replace("x: [1, 2, 3]", "x: [[1, 2, 3], [0, 0, 1]]")
                     + "sequence: [[1, 2, 3], [4, 5, 6]]\n")
    assert spec.x.shape == (2, 3) and spec.sequence.shape == (2, 3)


def test_every_shipped_config_loads():
    paths = sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "configs").glob("*.json"))
    assert paths
    for path in paths:
        spec = config.load(str(path))
        assert spec.cell.parameter_count > 0


def test_builtin_example_is_the_shipped_file():
    assert config.builtin_text() == (ROOT / "configs" / "founding.yaml").read_text()


BAD = [
    # (replace this, with this) in GOOD  ->  expected message
    (("[5, 6, 7, 8, 9, 10]", "[5, 6, 7, 8, 9]"),
     "cfg.yaml:5:29: gates.forget.W row 2 has 5 columns, expected 6 (m + n = 3 + 3)"),
    (("input: {W", "input: {w"),
     "cfg.yaml:7:11: unknown key 'w' in gates.input (did you mean 'W'?); "
     "expected one of: W, Wx, Wh, b, bh"),
    (("gates:", "gate:"),
     "cfg.yaml:3:1: unknown key 'gate' in the config (did you mean 'gates'?); "
     "expected one of: x, h, c, concat, gates, sequence, output_layer, forget_bias, "
     "peepholes, coupled, clip, cell_clip, activations, projection, layers, direction"),
    (("  forget:", "  forgt:"),
     "cfg.yaml:4:3: unknown key 'forgt' in gates (did you mean 'forget'?); "
     "expected one of: forget, input, candidate, output"),
    (("h: [4, 5, 6]", "h: [4, 5]"), "cfg.yaml:2:4: h has 2 entries, expected 3 "
                                    "(n = 3, the rows of gates.forget)"),
    (("x: [1, 2, 3]", "x: [1, yes, 3]"),
     "cfg.yaml:1:8: x[2]: 'yes' is a boolean in YAML, not a number"),
    (("x: [1, 2, 3]", "x: [1, ~, 3]"), "cfg.yaml:1:8: x[2]: '~' is null in YAML, not a number"),
    (("x: [1, 2, 3]", "x: [1, '2', 3]"),
     "cfg.yaml:1:8: x[2]: '2' is a quoted string, not a number (remove the quotes)"),
    (("x: [1, 2, 3]", "x: [1, 1e3, 3]"),
     "cfg.yaml:1:8: x[2]: '1e3' is read by YAML 1.1 as a string, not a number; write 1.0e+3"),
    (("x: [1, 2, 3]", "x: [1, -.5, 3]"),
     "cfg.yaml:1:8: x[2]: '-.5' is read by YAML 1.1 as a string, not a number; write -0.5"),
    (("x: [1, 2, 3]", "x: [1, 2001-12-14, 3]"),
     "cfg.yaml:1:8: x[2]: '2001-12-14' is a date in YAML, not a number"),
    (("x: [1, 2, 3]", "x: [1, !!float , 3]"),
     "cfg.yaml:1:8: x[2]: '!!float' with an empty value is not a number"),
    (("x: [1, 2, 3]", "x: [1, abc, 3]"), "cfg.yaml:1:8: x[2]: 'abc' is a string, not a number"),
    (("x: [1, 2, 3]", "x: [1, 1:30, 3]"),
     "cfg.yaml:1:8: x[2]: '1:30' is a base-60 number in YAML 1.1; write the number in base 10"),
    (("x: [1, 2, 3]", "x: [1, 017, 3]"),
     "cfg.yaml:1:8: x[2]: '017' is an octal number in YAML 1.1 (15 in base 10); write the "
     "number in base 10"),
    (("x: [1, 2, 3]", "x: [1, .nan, 3]"),
     "cfg.yaml:1:8: x[2]: '.nan' is not a finite number; weights and states must be finite"),
    (("x: [1, 2, 3]", "x: [1, -.inf, 3]"),
     "cfg.yaml:1:8: x[2]: '-.inf' is not a finite number; weights and states must be finite"),
    (("x: [1, 2, 3]", "x: [1, 1.0e+999, 3]"),
     "cfg.yaml:1:8: x[2]: '1.0e+999' is not a finite number; weights and states must be finite"),
    (("x: [1, 2, 3]", "x: [1, " + "9" * 5000 + ", 3]"),
     "cfg.yaml:1:8: x[2]: an integer of 5,000 digits is too large to be a finite number"),
    (("x: [1, 2, 3]", "x: [1, " + "9" * 400 + ", 3]"),
     "cfg.yaml:1:8: x[2]: '99999999999999999999…9999999999' is too large to be a finite number"),
    (("x: [1, 2, 3]", "x: [1, [2], 3]"), "cfg.yaml:1:8: x[2]: expected a number, found a list"),
    (("x: [1, 2, 3]", "x: [[1, 2, 3], 4]"),
     "cfg.yaml:1:16: x row 2 must be a list of numbers, found an integer"),
    (("x: [1, 2, 3]", "x: 5"), "cfg.yaml:1:4: x must be a list of numbers, found an integer"),
    (("x: [1, 2, 3]", "x: []"), "cfg.yaml:1:4: x is empty, expected 3 entries "
                                "(m = 3, from gates.forget.W)"),
    (("x: [1, 2, 3]", "x: [1, 2, 3]\nx: [1, 2, 3]"),
     "cfg.yaml:2:1: duplicate key 'x' (first given at line 1)"),
    (("x: [1, 2, 3]", "x: &a [1, 2, 3]\nc: *a"),
     "cfg.yaml:1:4: anchor '&a' is not allowed (lstmcalc refuses anchors and aliases)"),
    (("x: [1, 2, 3]", "x: !!python/object/apply:os.system ['true']"),
     "cfg.yaml:1:4: tag '!!python/object/apply:os.system' is not allowed "
     "(lstmcalc reads plain numbers, strings, lists and mappings only)"),
    (("x: [1, 2, 3]", "x: !!binary aGVsbG8="),
     "cfg.yaml:1:4: tag '!!binary' is not allowed "
     "(lstmcalc reads plain numbers, strings, lists and mappings only)"),
    (("x: [1, 2, 3]", "x: !mine [1, 2, 3]"),
     "cfg.yaml:1:4: tag '!mine' is not allowed "
     "(lstmcalc reads plain numbers, strings, lists and mappings only)"),
    (("  candidate: {W:", "  g: {W: [[0, 0, 0, 0, 0, 0]]}\n  candidate: {W:"),
     "cfg.yaml:9:3: 'candidate' and 'g' (line 8) both give gates.candidate"),
    (("  output: {W: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]}\n", ""),
     "cfg.yaml:4:3: gates: missing 'output' (expected forget, input, candidate, output)"),
    (("input: {W:", "input: {Wx: [[1, 1, 1]], W:"),
     "cfg.yaml:7:10: gates.input: give either W or Wx and Wh, not both"),
    (("input: {W:", "input: {Wx:"),
     "cfg.yaml:7:10: gates.input: missing Wh (give W, n x (m + n), or Wx, n x m, and Wh, n x n)"),
    (("output: {W: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]}",
      "output: {W: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]}"),
     "cfg.yaml:9:15: gates.output.W has 2 rows, expected 3 (n = 3, the rows of gates.forget)"),
    (("x: [1, 2, 3]", "x: [1, 2, 3]\nconcat: [x, y]"),
     "cfg.yaml:2:9: concat must be [x, h] or [h, x]"),
    (("x: [1, 2, 3]", "x: [1, 2]"), "cfg.yaml:5:9: gates.forget.W row 1 has 6 columns, "
                                    "expected 5 (m + n = 2 + 3)"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m.split(": ", 1)[1][:50] for _, m in BAD])
def test_bad_config_message(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    assert error_of(tmp_path, GOOD.replace(old, new, 1)) == message


@pytest.mark.parametrize("text,message", [
    ("", "cfg.yaml: the input is empty: expected a YAML or JSON document"),
    ("# only a comment\n", "cfg.yaml: the input is empty: expected a YAML or JSON document"),
    ("- 1\n- 2\n", "cfg.yaml:1:1: the top level must be a mapping with keys x, h, c, concat, "
                   "gates, sequence, output_layer, forget_bias, peepholes, coupled, clip, "
                   "cell_clip, activations, projection, layers, direction; found a list"),
    ("x: 1\n---\nx: 2\n", "cfg.yaml:2:1: a second YAML document starts here; "
                          "lstmcalc reads exactly one"),
    ("x:\n\t- 1\n", "cfg.yaml:2:1: YAML syntax error: found character that cannot start any "
                    "token (a tab: YAML is indented with spaces only)"),
    ("x: [1, 2\n", "cfg.yaml:2:1: YAML syntax error: did not find expected ',' or ']'"),
    (b"x: [1, \xff]\n", "cfg.yaml:1:8: invalid UTF-8 at byte offset 7 (0xff)"),
    (b"x: [1,\n  \x00]\n", "cfg.yaml:2:3: NUL byte in input (is this a binary file?)"),
    ("x: " + "[" * 50000 + "]" * 50000, "cfg.yaml:1:1003: nesting deeper than 32 levels"),
    ("x: " + "[" * 40 + "]" * 40, "cfg.yaml:1:35: nesting deeper than 32 levels"),
    ("a: &x [1]\nb: [*x, *x]\n", "cfg.yaml:1:4: anchor '&x' is not allowed "
                                 "(lstmcalc refuses anchors and aliases)"),
    ("x: [1]\n", "cfg.yaml:1:1: missing key 'gates' (the weights of the forget, input, "
                 "candidate and output gates)"),
    ("? [1, 2]\n: 3\n", "cfg.yaml:1:3: a mapping key must be a plain name, found a list"),
    # found by fuzzing: PyYAML's reader error came without a location and over two lines
    ("x: [1]\x07\n", "cfg.yaml:1:7: character U+0007 is not allowed in YAML (control "
                     "characters are not allowed)"),
])
def test_bad_document_message(tmp_path, text, message):
    assert error_of(tmp_path, text) == message


def test_billion_laughs_refused_fast(tmp_path):
    lol = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + k)}: &{chr(98 + k)} [" + ", ".join([f"*{chr(97 + k)}"] * 9) + "]\n"
        for k in range(8))
    assert error_of(tmp_path, lol).startswith("cfg.yaml:1:4: anchor '&a' is not allowed")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputMissingError, match=r"nope.yaml: cannot read: No such file"):
        config.load(str(tmp_path / "nope.yaml"))
    with pytest.raises(InputMissingError, match=r"cannot read: Is a directory"):
        config.load(str(tmp_path))


def test_size_cap(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(GOOD + "#" * 200 + "\n")
    with pytest.raises(DataError, match=r"input is larger than the 100-byte cap \(raise it with "
                                        r"--max-input-bytes\)"):
        config.load(str(path), max_bytes=100)
    assert config.load(str(path), max_bytes=10_000).cell.hidden_size == 3


def test_the_cap_holds_to_the_byte_for_a_file_read_in_one_call(tmp_path):
    """A regular file is read in one call of its size: exactly the cap is read whole, one
    byte more is refused, as when it is read in chunks (a pipe)."""
    from lstmcalc.document import read_input

    path = tmp_path / "c.yaml"
    path.write_bytes(b"x" * 1000)
    assert read_input(str(path), max_bytes=1000) == (str(path), b"x" * 1000)
    with pytest.raises(DataError, match="input is larger than the 999-byte cap"):
        read_input(str(path), max_bytes=999)


def test_state_from_previous_output(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"h": [1, 2], "c": [3, 4], "gates": {}}))
    h, c = config.load_state(str(path), 2)
    assert h.tolist() == [1, 2] and c.tolist() == [3, 4]
    path.write_text(json.dumps({"h": [1, 2]}))
    with pytest.raises(DataError, match=r"state.json:1:1: missing key 'c' \(a state holds h and "
                                        r"c, as the JSON or YAML output of lstmcalc step does\)"):
        config.load_state(str(path), 2)
    path.write_text(json.dumps({"h": [1, 2, 3], "c": [3, 4]}))
    with pytest.raises(DataError, match=r"h has 3 entries, expected 2 \(n = 2\)"):
        config.load_state(str(path), 2)


@pytest.mark.parametrize("text,message", [
    ('{"x": [1, 2,]}', "cfg.json:1:13: JSON syntax error: unexpected ']'"),
    ('{"x": [1 2]}', "cfg.json:1:10: JSON syntax error: expected ',' or ']'"),
    ('{"x": [1, NaN]}', "cfg.json:1:11: JSON syntax error: unexpected character 'N'"),
    ('{"x": [1], "x": [2]}', "cfg.json:1:12: duplicate key 'x' (first given at line 1)"),
    ('{"x": [1]} {}', "cfg.json:1:12: JSON syntax error: extra data after the document"),
    ('{"x": [1', "cfg.json:1:9: JSON syntax error: the document ends too early"),
    ('{x: [1]}', "cfg.json:1:2: JSON syntax error: unexpected character 'x'"),
    ("[" * 40 + "]" * 40, "cfg.json:1:33: nesting deeper than 32 levels"),
    ('{"x": [1, "2"], "gates": {' + ", ".join(f'"{g}": {{"W": [[1, 2, 3]]}}' for g in "figo")
     + "}}", "cfg.json:1:11: x[2]: '2' is a quoted string, not a number (remove the quotes)"),
    ('{"x": [true], "gates": {' + ", ".join(f'"{g}": {{"W": [[1, 2]]}}' for g in "figo")
     + "}}", "cfg.json:1:8: x[1]: 'true' is a boolean, not a number"),
    ("", "cfg.json: the input is empty: expected a YAML or JSON document"),
])
def test_bad_json_config(tmp_path, text, message):
    assert error_of(tmp_path, text, "cfg.json") == message


def test_json_and_yaml_read_the_same_config(tmp_path):
    import yaml

    data = yaml.safe_load(GOOD)
    from_json = load_text(tmp_path, json.dumps(data, indent=2), "cfg.json")
    from_yaml = load_text(tmp_path, GOOD)
    np.testing.assert_array_equal(from_json.cell.W, from_yaml.cell.W)
    np.testing.assert_array_equal(from_json.x, from_yaml.x)


def test_several_problems_are_reported_together_in_file_order(tmp_path):
    from helpers import run_main

    text = config.builtin_text().replace("x: [1, 2, 3]", "x: [1, 2, yes]").replace(
        "[5, 6, 7, 8, 9, 10]", "[5, 6, 7, 8, 9]").replace("b: [1, 2, 3]", "b: [1, 2, ~]")
    (tmp_path / "many.yaml").write_text(text)
    result = run_main("step", str(tmp_path / "many.yaml"))
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 65 and result.stdout == b""
    import re

    places = [tuple(map(int, re.search(r"many.yaml:(\d+):(\d+): ", line).groups()))
              for line in lines]
    assert len(places) == 3 and places == sorted(places)  # in file order
    assert "x[3]: 'yes' is a boolean" in lines[0] and "row 2 has 5 columns" in lines[1]
    assert "gates.forget.b[3]: '~' is null" in lines[2]
    many = config.builtin_text().split("sequence:")[0] + "sequence:\n" + "  - [yes, 1, 2]\n" * 30
    (tmp_path / "thirty.yaml").write_text(many)
    lines = run_main("step", str(tmp_path / "thirty.yaml")).stderr.decode().splitlines()
    assert len(lines) == 20  # at most 20


def test_yaml_lists_of_plain_numbers_are_kept_compact_with_the_same_values_and_messages(
        monkeypatch):
    """document.parse(compact=True) keeps a list of plain numbers as one float array
    (NumItems), never a node per number; the Spec is the same bit for bit, and a list with
    anything number() would have a word about keeps its nodes, so messages do not change."""
    import numpy as np

    from lstmcalc import document
    from lstmcalc.document import NumItems, parse

    text = ("x: [1, -0, 2.5, 1.0e-3]\nh: [0, 0]\nc: [0, 0]\ngates:\n" + "".join(
        f"  {g}:\n    W: [[0.1, -2, 3.25, 4, 5, 6], [1e-7, 0.2, 0, 0, 0, 1]]\n"
        f"    b: [0.5, -0.5]\n" for g in ("forget", "input", "candidate", "output")))
    root = parse(text, "t.yaml", compact=True)
    x = root.items["x"][1].items
    assert isinstance(x, NumItems) and list(x.values) == [1.0, 0.0, 2.5, 0.001]
    assert str(x.values[1]) == "0.0"  # -0 is the integer 0, as number() reads it
    W = root.items["gates"][1].items["forget"][1].items["W"][1]
    assert isinstance(W.items[0].items, NumItems)  # 1e-7 is a string in YAML 1.1:
    assert not isinstance(W.items[1].items, NumItems)  # that row keeps its nodes

    def outcome(source: str):
        try:
            spec = config.parse_spec(source, "t.yaml")
        except DataError as e:
            return str(e)
        return np.concatenate([spec.cell.W.ravel(), spec.cell.b.ravel(), spec.x.ravel()])

    compact = [outcome(t) for t in (text, text.replace("1e-7", "0.0000001"))]
    monkeypatch.setattr(config, "parse", lambda t, s, json=False, compact=False:
                        document.parse(t, s, json))  # the located reader, a node per number
    located = [outcome(t) for t in (text, text.replace("1e-7", "0.0000001"))]
    assert compact[0] == located[0] and "'1e-7' is read by YAML 1.1 as a string" in located[0]
    assert compact[1].tobytes() == located[1].tobytes()
