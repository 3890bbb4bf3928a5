"""Input sequences: x_1..x_T from text rows, JSONL, JSON or YAML lists, or .npy files.

Every reader returns float64 arrays of shape (T, m) for one sequence or (T, B, m) for a batch,
and every error names the file and the line (and column where there is one). The line readers
also stream: `rows()` yields one row at a time, so a pipe is processed as it arrives.
"""

import contextlib
import io
import json
import math
import re
import sys
from typing import Any
from collections.abc import Iterable, Iterator

import numpy as np

from lstmcalc.document import (MAX_BYTES, STDIN, Map, Seq, decode, display_name, number, parse,
                               read_input, regular_file_size)
from lstmcalc.errors import DataError, InputMissingError, UsageError

LINE_FORMATS = ("csv", "tsv", "txt", "jsonl")
FORMATS = LINE_FORMATS + ("json", "yaml", "npy")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "txt", ".dat": "txt", ".jsonl": "jsonl",
            ".ndjson": "jsonl", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".npy": "npy"}
_SPLIT = {"csv": re.compile(r"\s*,\s*"), "tsv": re.compile(r"\t"), "txt": re.compile(r"\s+")}


def format_of(path: str, given: str | None) -> str:
    """The input format: as given, else from the suffix; stdin needs --input-format or a look."""
    if given:
        return given
    for suffix, fmt in SUFFIXES.items():
        if path.lower().endswith(suffix):
            return fmt
    if path == STDIN:
        return "auto"
    raise UsageError(f"cannot tell the format of {path!r} from its name; "
                     f"give --input-format ({', '.join(FORMATS)})")


def sniff(first_line: str) -> str:
    """The format of stdin from its first non-blank line, when --input-format is not given:
    every format lstmcalc writes (JSONL records, CSV with its header, JSON, YAML) and every
    row form the README documents."""
    text = first_line.strip().lstrip("\ufeff")
    if text.startswith("["):
        try:
            row = json.loads(text)
        except (ValueError, RecursionError):
            return "json"  # a document spread over several lines
        return "jsonl" if row and not isinstance(row[0], list) else "json"
    if text.startswith("{"):
        try:  # a JSONL record, as lstmcalc writes them ({"t": 1, "x": [...], ...})
            return "jsonl" if isinstance(json.loads(text), dict) else "yaml"
        except (ValueError, RecursionError):
            return "yaml"  # a JSON or YAML mapping spread over several lines
    for fmt in ("csv", "tsv", "txt"):
        fields = _SPLIT[fmt].split(text)
        if len(fields) > 1 and all(_is_number(f) for f in fields):
            return fmt  # a row of numbers (negative ones too)
    if len(text.split()) == 1 and _is_number(text):
        return "txt"  # one number a row
    if text.startswith("- ") or text == "-" or ":" in text and "," not in text:
        return "yaml"
    return "csv" if "," in text else "tsv" if "\t" in text else "txt"


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _finite(text: str, source: str, line: int, col: int, k: int) -> float:
    try:
        value = float(text)
    except ValueError:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise DataError(f"value {k} of the row, {shown!r}, is not a number", source, line,
                        col) from None
    if not math.isfinite(value):
        raise DataError(f"value {k} of the row, {text!r}, is not a finite number", source, line,
                        col)
    return value


class _Rows:
    """The rows of a line format, line by line: the first line may be a header, every row must
    have m values (m from the first row where not given), each a finite number."""

    def __init__(self, fmt: str, source: str, m: int | None):
        self.fmt, self.source, self.m = fmt, source, m
        self.first = True
        self.header: tuple[int, int] | None = None  # (line, columns) of a header

    def take(self, line: str, line_no: int) -> list[float] | None:
        """The row a line holds, or None for a blank line, a comment or the header."""
        source, fmt, m = self.source, self.fmt, self.m
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        if fmt == "jsonl":
            values = _jsonl_row(text, source, line_no)
        else:
            fields = _SPLIT[fmt].split(text)
            if self.first and not any(_is_number(f) for f in fields):
                self.first = False
                self.header = (line_no, len(fields))
                if m is not None and len(fields) != m:
                    raise DataError(f"the header names {len(fields)} columns, expected {m} "
                                    f"(m = {m})", source, line_no)
                return None  # a header
            try:  # the usual line: numbers, all finite; else located, value by value
                values = [float(f) for f in fields]
                plain = all(map(math.isfinite, values))
            except ValueError:
                plain = False
            if not plain:
                cols = _columns(line, fields, fmt)
                values = [_finite(f, source, line_no, col, k)
                          for k, (f, col) in enumerate(zip(fields, cols), start=1)]
        self.first = False
        header = self.header
        if header is not None and len(values) != header[1]:
            raise DataError(f"row has {len(values)} values, the header on line {header[0]} "
                            f"names {header[1]} columns", source, line_no)
        if m is None:
            self.m = m = len(values)
        if len(values) != m:
            raise DataError(f"row has {len(values)} values, expected {m} (m = {m})", source,
                            line_no)
        return values


def rows(lines: Iterable[str], fmt: str, source: str, m: int | None) -> Iterator[list[float]]:
    """One list of m numbers per data line. Blank lines and lines starting with # are skipped;
    in CSV/TSV/text, a first line whose fields are all non-numeric names is a header."""
    reader = _Rows(fmt, source, m)
    for line_no, line in enumerate(decoded(lines, source), start=1):
        values = reader.take(line, line_no)
        if values is not None:
            yield values


_DELIMITER = {"csv": ",", "tsv": "\t"}


def file_rows(blocks: Iterable[bytes], fmt: str, source: str, m: int | None, limit: int,
              size: int) -> Iterator[list[float] | np.ndarray]:
    """rows() of CSV, TSV or text given as blocks of whole lines (a regular file's, read a
    block at a time: line_blocks; a pipe's, as they arrive: PipeLines.blocks): a block whose
    every line is plainly m numbers comes out as one (k, m) array (in pieces of `size` rows),
    read in one pass; any other block (the first, with its header or byte-order mark; a
    comment, a blank line, a bad value, invalid UTF-8) goes line by line through rows()' own
    checks and messages."""
    reader = _Rows(fmt, source, m)
    line_no = 0
    for data in blocks:
        block = None
        if not reader.first and reader.m is not None:  # a row read: the header is settled
            block = _plain_block(data, fmt, reader.m, limit)
        if block is not None:
            line_no += len(block)
            for s in range(0, len(block), size):
                yield block[s:s + size]
            continue
        for line in decoded(block_lines(data), source, limit, start=line_no):
            line_no += 1
            values = reader.take(line, line_no)
            if values is not None:
                yield values


def block_lines(data: bytes) -> list[bytes]:
    """A block's lines, each with its newline (the last may have none), as a stream gives
    them to decoded()."""
    lines = data.split(b"\n")
    last = lines.pop()  # b"" after a final newline, else a line without one
    return [line + b"\n" for line in lines] + ([last] if last else [])


BLOCK = 1 << 16  # bytes read at a time from a regular file


def line_blocks(stream, limit: int) -> Iterator[bytes]:
    """The stream's bytes, about BLOCK at a time, each piece whole lines (the last piece's last
    line maybe without its newline). A line past `limit` comes alone, as soon as it is past it,
    for decoded() to refuse: it is never read whole."""
    pending = b""
    while True:
        data = stream.read(BLOCK)
        if not data:
            if pending:
                yield pending
            return
        pending += data
        cut = pending.rfind(b"\n")
        if cut == -1:
            if len(pending) > limit:
                yield pending
                return
            continue
        yield pending[:cut + 1]
        pending = pending[cut + 1:]


def _plain_block(data: bytes, fmt: str, m: int, limit: int) -> np.ndarray | None:
    """The lines as a (k, m) array when each is plainly m finite numbers, else None (and the
    lines go through rows()' own checks and messages). Plainly: ASCII, no comment, no NUL,
    no blank line, no line past `limit`, and in CSV and TSV m - 1 delimiters on every line,
    counted for all the lines at once."""
    if b"\0" in data or b"#" in data:
        return None
    body = data[:-1] if data.endswith(b"\n") else data
    if fmt in _DELIMITER:
        mark = _DELIMITER[fmt].encode()
        buf = np.frombuffer(body, np.uint8)
        ends = np.flatnonzero(buf == 10)  # the newlines between the lines
        k = len(ends) + 1
        if len(body) + 1 > limit:  # some line may be past the cap
            starts = np.concatenate(([0], ends + 1))
            stops = np.concatenate((ends + 1, [len(body) + 1]))
            if int((stops - starts).max()) > limit:
                return None
        if m > 1:  # the delimiters of each line
            per_line = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == mark[0])),
                                   minlength=k)
            if not (per_line == m - 1).all():
                return None
        elif mark in body:
            return None
        tokens = body.replace(b"\n", mark).split(mark)
    else:  # ASCII whitespace only: a line split at other spaces goes line by line
        lines = body.split(b"\n")
        k = len(lines)
        if any(len(line) + 1 > limit or len(line.split()) != m for line in lines):
            return None
        tokens = body.split()
    if len(tokens) != k * m:
        return None
    try:  # float() of bytes takes ASCII only: anything else goes line by line
        values = np.array(list(map(float, tokens)), dtype=np.float64)
    except ValueError:
        return None
    if not np.isfinite(values).all():
        return None
    return values.reshape(k, m)


def decoded(lines: Iterable[str] | Iterable[bytes], source: str,
            limit: int | None = None, start: int = 0) -> Iterator[str]:
    """The lines as text (a binary stream's decoded one by one, so that invalid UTF-8 is
    located on its own line), with every problem a located DataError. limit: the longest
    line taken; a stream is then read a line at a time up to it, so that one endless line
    cannot fill the memory."""
    if limit is not None and hasattr(lines, "readline"):
        reader: Any = lines
        it: Iterator = iter(lambda: reader.readline(limit + 1), reader.read(0))
    else:
        it = iter(lines)
    line_no = start  # lines before these (a file read a block at a time)
    while True:
        try:
            raw = next(it)
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except StopIteration:
            return
        except UnicodeDecodeError as e:
            raise DataError(f"invalid UTF-8 ({e.reason})", source, line_no + 1) from None
        if line_no == 0:
            line = line.removeprefix("\ufeff")  # a byte-order mark, as decode() drops it
        line_no += 1
        if limit is not None and len(line) > limit:
            raise DataError(f"the line is longer than {limit:,} characters (raise the cap with "
                            "--max-input-bytes)", source, line_no)
        if "\0" in line:
            raise DataError("NUL byte in input (is this a binary file?)", source, line_no)
        yield line


def _columns(line: str, fields: list[str], fmt: str) -> list[int]:
    """The 1-based column where each field starts (for error locations)."""
    cols, pos = [], 0
    for f in fields:
        pos = line.find(f, pos)
        cols.append(pos + 1)
        pos += len(f)
    return cols


def _jsonl_row(text: str, source: str, line_no: int) -> list[float]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"not a JSON line: {e.msg}", source, line_no, e.colno) from None
    except (ValueError, RecursionError) as e:  # a 400-digit integer, deep nesting
        raise DataError(f"not a JSON line lstmcalc reads: {e}", source, line_no) from None
    if isinstance(row, dict):
        row = row.get("x", row)
    if not isinstance(row, list) or not row:
        raise DataError("a JSONL line must be a list of numbers (or an object with x)", source,
                        line_no)
    out = []
    for k, v in enumerate(row, start=1):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DataError(f"value {k} of the row, {json.dumps(v)}, is not a number", source,
                            line_no)
        if not math.isfinite(v):
            raise DataError(f"value {k} of the row is not a finite number", source, line_no)
        out.append(float(v))
    return out


def _document(text: str, source: str, fmt: str) -> np.ndarray:
    """A JSON or YAML list of rows (T, m) or of sequences (B, T, m) -> (T, m) or (T, B, m)."""
    root = parse(text, source, json=fmt == "json")
    if isinstance(root, Map) and "sequence" in root.items:
        root = root.items["sequence"][1]
    if not isinstance(root, Seq) or not root.items:
        raise DataError("expected a list of rows (x_1 .. x_T), or a list of such lists",
                        source, root.line, root.col)
    batch = isinstance(root.items[0], Seq) and root.items[0].items and \
        isinstance(root.items[0].items[0], Seq)
    seqs = root.items if batch else [root]
    out: list[list[list[float]]] = []
    width = None
    for b, seq in enumerate(seqs, start=1):
        if not isinstance(seq, Seq) or not seq.items:
            raise DataError(f"sequence {b} must be a non-empty list of rows", source, seq.line,
                            seq.col)
        rows_ = []
        for t, row in enumerate(seq.items, start=1):
            if not isinstance(row, Seq):
                raise DataError(f"row {t} must be a list of numbers, found {row.kind}", source,
                                row.line, row.col)
            width = width or len(row.items)
            if len(row.items) != width:
                raise DataError(f"row {t} has {len(row.items)} values, expected {width}",
                                source, row.line, row.col)
            rows_.append([number(v, f"row {t} value {k}", source)
                          for k, v in enumerate(row.items, start=1)])
        if out and len(rows_) != len(out[0]):
            raise DataError(f"sequence {b} has {len(rows_)} steps, sequence 1 has "
                            f"{len(out[0])}: a batch needs sequences of one length", source,
                            seq.line, seq.col)
        out.append(rows_)
    arr = np.array(out, dtype=np.float64)  # (B, T, m)
    return arr.transpose(1, 0, 2) if batch else arr[0]


def _npy(data: bytes, source: str, batch_first: bool, max_bytes: int) -> np.ndarray:
    from lstmcalc import arrays

    arr = arrays.load_npy(data, source, max_bytes)
    if arr.dtype.kind not in "fiu":
        raise DataError(f"a .npy sequence must hold numbers, found dtype {arr.dtype}", source)
    if arr.ndim not in (2, 3) or 0 in arr.shape:
        raise DataError(f"a .npy sequence must have shape (T, m) or (T, B, m), got {arr.shape}",
                        source)
    arr = arrays.numeric("x", arr, source, owned=True)  # x[t, (b,) j]; np.load's own array
    if batch_first and arr.ndim == 3:
        arr = arr.transpose(1, 0, 2)
    return arr


def read(path: str, fmt: str | None = None, batch_first: bool = False,
         m: int | None = None, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """A whole sequence: (T, m), or (T, B, m) for a batch."""
    fmt = format_of(path, fmt)
    source, data = read_input(path, max_bytes)
    if fmt == "npy":
        arr = _npy(data, source, batch_first, max_bytes)
    else:
        text = decode(data, source)
        if fmt == "auto":
            first = next((ln for ln in text.splitlines() if ln.strip()), "")
            fmt = sniff(first)
        if fmt in LINE_FORMATS:
            arr = np.array(list(rows(text.splitlines(), fmt, source, m)), dtype=np.float64)
        else:
            arr = _document(text, source, fmt)
            if batch_first and arr.ndim == 3:
                raise UsageError("--batch-first applies to .npy input; a JSON or YAML batch is "
                                 "already a list of sequences")
    if arr.size == 0:
        raise DataError("the input holds no rows", source)
    if m is not None and arr.shape[-1] != m:
        raise DataError(f"rows have {arr.shape[-1]} values, expected {m} (m = {m})", source)
    return arr


class PipeLines:
    """The lines of a pipe or terminal, read straight from its file descriptor in whatever
    amounts have arrived, and able to say without waiting whether another whole line is
    already here (`ready`): the stream path computes the rows that have arrived together and
    writes their lines before it waits for more. A line longer than `limit` comes out as it
    is (decoded() then refuses it); the last line may lack its newline."""

    def __init__(self, stream, limit: int):
        self.fd = stream.fileno()
        self.limit = limit
        self.buffer = b""
        self.eof = False

    def _read(self, wait: bool) -> None:
        import os
        import select

        if self.eof:
            return
        if not wait and not select.select([self.fd], [], [], 0)[0]:
            return
        chunk = os.read(self.fd, 1 << 16)
        if chunk:
            self.buffer += chunk
        else:
            self.eof = True

    def _whole(self) -> bool:
        return b"\n" in self.buffer or len(self.buffer) > self.limit

    def ready(self) -> bool:
        """Whether the next line is already here, or the input has ended (never waits)."""
        if not self._whole() and not self.eof:
            self._read(wait=False)
        return self._whole() or self.eof

    def __iter__(self) -> "PipeLines":
        return self

    def blocks(self) -> Iterator[bytes]:
        """The lines in blocks as they arrive: as soon as one whole line is here, every whole
        line that is (the last line at the end may lack its newline; a line past the limit
        comes as its first limit + 1 bytes, for decoded() to refuse)."""
        while True:
            while not self._whole() and not self.eof:
                self._read(wait=True)
            if not self.buffer:
                return
            cut = self.buffer.rfind(b"\n") + 1
            if cut == 0:  # no newline: the last line, or one past the limit
                cut = min(len(self.buffer), self.limit + 1)
            block, self.buffer = self.buffer[:cut], self.buffer[cut:]
            yield block

    def __next__(self) -> bytes:
        while not self._whole() and not self.eof:
            self._read(wait=True)
        if not self.buffer:
            raise StopIteration
        end = self.buffer.find(b"\n")
        end = len(self.buffer) if end < 0 else end + 1
        end = min(end, self.limit + 1)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line


def pipe_lines(stream, limit: int) -> "PipeLines | None":
    """A PipeLines over a pipe or terminal with a file descriptor (POSIX); None elsewhere
    (a regular file, an in-memory stream, Windows), where lines are read as before."""
    import os

    if os.name == "nt" or is_regular_file(stream):
        return None
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    return PipeLines(stream, limit)


def is_regular_file(stream) -> bool:
    """Whether a stream reads a regular file (which never makes a reader wait), not a pipe."""
    return regular_file_size(stream) is not None


@contextlib.contextmanager
def open_lines(path: str):
    """(display name, a binary stream) for streaming (decoded() makes it lines of text);
    stdin is read as it arrives."""
    if path == STDIN:
        yield display_name(path), sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")
    except OSError as e:
        raise InputMissingError(f"cannot read: {e.strerror or e}", path) from None
    with stream:
        yield display_name(path), stream
