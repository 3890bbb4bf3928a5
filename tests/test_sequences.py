"""Sequence readers: every format gives the same array; every bad input its located message."""

import json

import numpy as np
import pytest

from lstmcalc import sequences
from lstmcalc.errors import DataError, UsageError

XS = [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [4.0, 5.0, 6.0]]


@pytest.mark.parametrize("name,text", [
    ("xs.csv", "1,2,3\n0.5, -1, 0\n4,5,6\n"),
    ("xs.csv", "x0,x1,x2\n1,2,3\n# a comment\n\n0.5,-1,0\n4,5,6\n"),
    ("xs.tsv", "1\t2\t3\n0.5\t-1\t0\n4\t5\t6\n"),
    ("xs.txt", "1 2 3\n  0.5   -1 0\n4 5 6\n"),
    ("xs.jsonl", "[1, 2, 3]\n[0.5, -1, 0]\n{\"x\": [4, 5, 6]}\n"),
    ("xs.json", json.dumps(XS)),
    ("xs.yaml", "- [1, 2, 3]\n- [0.5, -1, 0]\n- [4, 5, 6]\n"),
    ("xs.yaml", "sequence: [[1, 2, 3], [0.5, -1, 0], [4, 5, 6]]\n"),
])
def test_formats_agree(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    np.testing.assert_array_equal(sequences.read(str(path), m=3), XS)


def test_npy_time_major_and_batch_first(tmp_path):
    arr = np.arange(24, dtype=float).reshape(2, 4, 3)  # (B, T, m)
    np.save(tmp_path / "bt.npy", arr)
    got = sequences.read(str(tmp_path / "bt.npy"), batch_first=True)
    assert got.shape == (4, 2, 3)
    np.testing.assert_array_equal(got[:, 1], arr[1])
    np.save(tmp_path / "t.npy", arr[0])
    assert sequences.read(str(tmp_path / "t.npy")).shape == (4, 3)


def test_json_batch_is_time_major(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps([XS, XS[::-1]]))
    got = sequences.read(str(tmp_path / "b.json"))
    assert got.shape == (3, 2, 3)
    np.testing.assert_array_equal(got[:, 1], XS[::-1])


def test_stdin_sniffing():
    assert sequences.sniff("[1, 2, 3]") == "jsonl"
    assert sequences.sniff("[[1, 2, 3], [4, 5, 6]]") == "json"
    assert sequences.sniff("[") == "json"
    assert sequences.sniff("1,2,3") == "csv"
    assert sequences.sniff("1\t2") == "tsv"
    assert sequences.sniff("1 2 3") == "txt"
    assert sequences.sniff("- [1, 2]") == "yaml"
    assert sequences.sniff("-1 2") == "txt"


def error_of(tmp_path, name, content, **kw):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as info:
        sequences.read(str(path), **kw)
    return str(info.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize("name,content,message", [
    ("a.csv", "1,2,3\n4,5\n", "a.csv:2: row has 2 values, expected 3 (m = 3)"),
    ("a.csv", "1,2,3\n4,abc,6\n", "a.csv:2:3: value 2 of the row, 'abc', is not a number"),
    ("a.csv", "1,2,3\n4,nan,6\n", "a.csv:2:3: value 2 of the row, 'nan', is not a finite number"),
    ("a.csv", "1,2,3\n4,inf,6\n", "a.csv:2:3: value 2 of the row, 'inf', is not a finite number"),
    ("a.csv", "", "a.csv: the input holds no rows"),
    ("a.csv", "# only a comment\n", "a.csv: the input holds no rows"),
    ("a.txt", "1 2 3\n\xff\n".encode("latin-1"), "a.txt:2:1: invalid UTF-8 at byte offset 6 "
                                                 "(0xff)"),
    ("a.jsonl", "[1, 2, 3]\n[1, true, 3]\n", "a.jsonl:2: value 2 of the row, true, is not a "
                                             "number"),
    ("a.jsonl", "[1, 2, 3]\n[1, 2, 3\n", "a.jsonl:2:9: not a JSON line: Expecting ',' "
                                         "delimiter"),
    ("a.jsonl", "[1, 2, 3]\n\"abc\"\n", "a.jsonl:2: a JSONL line must be a list of numbers "
                                        "(or an object with x)"),
    ("a.json", "[[1, 2, 3], [1, 2]]", "a.json:1:13: row 2 has 2 values, expected 3"),
    ("a.json", "[[1, 2, 3], [1, \"x\", 3]]", "a.json:1:17: row 2 value 2: 'x' is a quoted "
                                             "string, not a number (remove the quotes)"),
    ("a.json", "[]", "a.json:1:1: expected a list of rows (x_1 .. x_T), or a list of such lists"),
    ("a.yaml", "- [1, yes]\n", "a.yaml:1:7: row 1 value 2: 'yes' is a boolean in YAML, not a "
                               "number"),
    ("a.json", "[[[1, 2]], [[1, 2], [3, 4]]]",
     "a.json:1:12: sequence 2 has 2 steps, sequence 1 has 1: a batch needs sequences of one "
     "length"),
    ("a.npy", b"not numpy", "a.npy: not a .npy file (it does not begin with NumPy's magic "
                            "bytes)"),
])
def test_bad_sequences(tmp_path, name, content, message):
    assert error_of(tmp_path, name, content) == message


def test_width_must_match_the_cell(tmp_path):
    assert error_of(tmp_path, "a.csv", "1,2\n3,4\n", m=3) == \
        "a.csv:1: row has 2 values, expected 3 (m = 3)"
    np.save(tmp_path / "w.npy", np.zeros((4, 2)))
    with pytest.raises(DataError, match=r"w.npy: rows have 2 values, expected 3 \(m = 3\)"):
        sequences.read(str(tmp_path / "w.npy"), m=3)


def test_npy_refusals(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match=r"x\[0, 1\] is not finite \(nan\)"):
        sequences.read(str(tmp_path / "obj.npy"))
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"must hold numbers, found dtype <U1"):
        sequences.read(str(tmp_path / "s.npy"))
    np.save(tmp_path / "flat.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"must have shape \(T, m\) or \(T, B, m\), got \(3,\)"):
        sequences.read(str(tmp_path / "flat.npy"))


def test_unknown_suffix_needs_input_format(tmp_path):
    (tmp_path / "xs.data").write_text("1,2\n")
    with pytest.raises(UsageError, match=r"give --input-format"):
        sequences.read(str(tmp_path / "xs.data"))
    assert sequences.read(str(tmp_path / "xs.data"), fmt="csv").tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize("line,message", [
    ("[" + "1" * 5000 + "]", "Exceeds the limit (4300 digits) for integer string conversion"),
    ("[" * 100_000 + "]" * 100_000, "maximum recursion depth exceeded"),
])
def test_jsonl_rows_json_cannot_read_are_data_errors(line, message):
    with pytest.raises(DataError, match="not a JSON line lstmcalc reads") as e:
        list(sequences.rows([line], "jsonl", "xs.jsonl", 3))
    assert message in e.value.message and e.value.line == 1


@pytest.mark.parametrize("fmt, sep", [("csv", ","), ("tsv", "\t"), ("txt", "  ")])
def test_a_file_read_a_block_at_a_time_gives_what_lines_give(tmp_path, monkeypatch, fmt, sep):
    """sequences.file_rows (a regular file's plain lines, a 64 KiB block at a time) against
    the line-by-line reader (what a pipe gets): the same bytes out, and the same message, at
    the same line, for whatever a later block holds."""
    from helpers import run_main
    from lstmcalc import sequences

    blocks = sequences.file_rows

    def line_by_line(blocks, fmt, source, m, limit, size):
        lines = b"".join(blocks).split(b"\n")
        last = lines.pop()
        lines = [line + b"\n" for line in lines] + ([last] if last else [])
        return sequences.rows(sequences.decoded(lines, source, limit), fmt, source, m)

    rng = np.random.default_rng(3)
    good = [sep.join(repr(float(v)) for v in row) for row in rng.normal(size=(2500, 3))]
    cases = {"plain": good, "crlf": [line + "\r" for line in good]}
    bads = (("comment", "# a note"), ("blank", ""), ("word", "1,2,x"), ("inf", "1,2,inf"),
            ("short", "1,2"), ("nul", "1,2,\0"), ("long", "1," * 40000 + "1"))
    for name, bad in bads if fmt == "csv" else bads[2:3]:
        lines = list(good)
        lines[2000] = bad.replace(",", sep)  # in the third 64 KiB block
        cases[name] = lines
    # the block's delimiters add up (one line has one too many, the next one too few); a
    # digit that float() reads only as text; spaces around the values
    lines = list(good)
    lines[2000], lines[2001] = "1,2,3,4".replace(",", sep), "5,6".replace(",", sep)
    cases["shifted"] = lines
    cases["arabic digit"] = good[:2000] + ["1,2,٣".replace(",", sep)] + good[2001:]
    cases["spaces"] = [" " + line.replace(sep, " " + sep + " ") + " " for line in good]
    header = {"csv": "a,b,c", "tsv": "a\tb\tc", "txt": "a b c"}[fmt]
    cases["header"] = [header] + good
    for name, lines in cases.items():
        path = tmp_path / f"{name}.{fmt}"
        path.write_bytes(("\n".join(lines) + ("" if name == "spaces" else "\n")).encode())
        args = ("unroll", "configs/founding.yaml", "-f", "jsonl", "--fields", "h",
                "--max-input-bytes", "70000")
        monkeypatch.setattr(sequences, "file_rows", blocks)
        from_file = run_main(*args, "-i", path)
        monkeypatch.setattr(sequences, "file_rows", line_by_line)
        piped = run_main(*args, "-i", path)
        assert from_file.stdout == piped.stdout, name
        assert from_file.returncode == piped.returncode, name
        written = len(from_file.stdout.splitlines())
        # an error at line 2001: the rows before it
        expected = {"plain": 2500, "crlf": 2500, "header": 2500, "comment": 2499,
                    "blank": 2499, "arabic digit": 2500, "spaces": 2500}.get(name, 2000)
        assert written == expected, (name, written, from_file.stderr)
        assert from_file.stderr == piped.stderr, name


def test_a_npy_sequence_is_not_copied_and_weights_are():
    """numeric(owned=True): np.load's own float64 array is kept as it is (a 10 MB sequence
    was copied once more); arrays of others (a framework's tensors) are copied."""
    from lstmcalc import arrays

    arr = np.arange(6.0).reshape(3, 2)
    assert arrays.numeric("x", arr, "x.npy", owned=True) is arr
    copied = arrays.numeric("W", arr, "model.pt")
    assert copied is not arr and np.array_equal(copied, arr)
    assert arrays.numeric("x", arr.astype(np.float32), "x.npy", owned=True).dtype == np.float64


def test_a_npy_file_is_read_as_a_view_of_its_bytes_and_as_np_load_reads_it():
    """arrays.load_npy: where the bytes are exactly the array the header says, a read-only
    view of them, equal to np.load's array in C and Fortran order, any byte order and dtype;
    a file with bytes missing or left over goes to np.load, whose words the error keeps."""
    import io

    from lstmcalc import arrays
    from lstmcalc.errors import DataError

    rng = np.random.default_rng(2)
    for arr in (rng.normal(size=(5, 3)), np.asfortranarray(rng.normal(size=(4, 2, 3))),
                rng.normal(size=(6, 2)).astype(">f8"), rng.integers(-9, 9, (3, 4), np.int16),
                rng.normal(size=(2, 3)).astype(np.float32)):
        buffer = io.BytesIO()
        np.save(buffer, arr)
        data = buffer.getvalue()
        got = arrays.load_npy(data, "x.npy", 1 << 30)
        want = np.load(io.BytesIO(data))
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want) and not got.flags.writeable
        for damaged in (data[:-1], data + b"\0"):
            try:
                again = np.load(io.BytesIO(damaged))
            except Exception as e:  # noqa: BLE001 - whatever np.load says
                with pytest.raises(DataError, match="not a readable .npy file") as err:
                    arrays.load_npy(damaged, "x.npy", 1 << 30)
                assert str(e) in str(err.value)
            else:
                assert np.array_equal(arrays.load_npy(damaged, "x.npy", 1 << 30), again)


@pytest.mark.parametrize("block", [16, 64, 1 << 16])
def test_blocks_and_lines_agree_on_damaged_rows(monkeypatch, block):
    """A differential check of the block reader (file_rows over line_blocks) against the line
    reader (rows): 1,000 random CSV, TSV and text inputs, each with up to three characters
    damaged (a NUL, a comment mark, a tab, a vertical tab, a non-ASCII letter, a newline, a
    word), caps of 40 bytes to a megabyte: the same rows, or the same message at the same
    line."""
    import io
    import random

    from lstmcalc import sequences
    from lstmcalc.errors import DataError

    monkeypatch.setattr(sequences, "BLOCK", block)

    def rows_of(make):
        out: list = []
        try:
            for r in make():
                out += [list(map(float, x)) for x in (r if isinstance(r, np.ndarray) else [r])]
        except DataError as e:
            out.append(str(e))
        return out

    rng = random.Random(block)
    for _ in range(1000):
        fmt = rng.choice(["csv", "tsv", "txt"])
        sep, m = {"csv": ",", "tsv": "\t", "txt": " "}[fmt], rng.choice([1, 2, 3])
        text = "\n".join(sep.join(repr(rng.uniform(-5, 5)) for _ in range(m))
                         for _ in range(rng.randint(1, 60))) + rng.choice(["", "\n"])
        chars = list(text)
        for _ in range(rng.randint(0, 3)):
            chars[rng.randrange(len(chars))] = rng.choice("0.,-e \t#\r\nx\u00e9\0\x0b")
        data, limit = "".join(chars).encode(), rng.choice([40, 1000, 10**6])
        lines = data.split(b"\n")
        last = lines.pop()
        raw = [line + b"\n" for line in lines] + ([last] if last else [])
        blocks = rows_of(lambda: sequences.file_rows(
            sequences.line_blocks(io.BytesIO(data), limit), fmt, "x", m, limit, 7))
        one_by_one = rows_of(lambda: sequences.rows(sequences.decoded(raw, "x", limit), fmt,
                                                    "x", m))
        assert blocks == one_by_one, (fmt, m, limit, data)
