"""Reading YAML and JSON into a tree of located nodes, safely.

JSON is read by a small parser here (so JSON has JSON's numbers, and PyYAML is not even
imported). YAML is read as a stream of PyYAML's parser events and the tree is built here, not
by PyYAML's composer or constructor, so that every refusal happens before anything is built or
expanded:
anchors and aliases, tags other than the plain data ones, nesting deeper than MAX_DEPTH, a
second document, duplicate keys. Every node keeps its line and column (1-based) so that later
checks can say where a value is wrong. Nothing here is converted silently: a scalar keeps its
text and resolved tag, and `number()` refuses whatever is not plainly a finite number.
"""

import bisect
import json as _json
import re
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from lstmcalc.errors import DataError, InputMissingError, shown

MAX_BYTES = 16 * 1024 * 1024
# framework weight files, read by frameworks
WEIGHT_SUFFIXES = (".npz", ".pt", ".pth", ".onnx", ".safetensors", ".keras", ".h5")
MAX_DEPTH = 32
STDIN = "-"

_Y = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, TIMESTAMP = (_Y + t for t in
                                          ("str", "int", "float", "bool", "null", "timestamp"))
ALLOWED_TAGS = {STR, INT, FLOAT, BOOL, NULL, _Y + "seq", _Y + "map", "!"}
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LOOSE_NUMBER = re.compile(r"([-+]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?)([0-9]+))?")
_LEADING_ZERO_OCTAL = re.compile(r"[-+]?0[0-7_]+")


@dataclass(frozen=True, eq=False)
class Node:
    line: int
    col: int

    @property
    def kind(self) -> str:
        return "a value"


@dataclass(frozen=True, eq=False)
class Scalar(Node):
    text: str
    tag: str
    quoted: bool

    @property
    def kind(self) -> str:
        return {INT: "an integer", FLOAT: "a number", BOOL: "a boolean", NULL: "null",
                TIMESTAMP: "a date"}.get(self.tag, "a string")


@dataclass(frozen=True, eq=False)
class Seq(Node):
    items: list = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "a list"


@dataclass(frozen=True, eq=False)
class Map(Node):
    items: dict = field(default_factory=dict)  # key text -> (key Scalar, value Node)

    @property
    def kind(self) -> str:
        return "a mapping"


def display_name(path: str) -> str:
    """How an input is named in messages and titles: <stdin> for -, else its path, escaped."""
    return "<stdin>" if path == STDIN else shown(path)


def is_weights_file(path: str | None) -> bool:
    """Whether CONFIG names a framework's weight file rather than a YAML or JSON config."""
    return path is not None and path != STDIN and path.lower().endswith(WEIGHT_SUFFIXES)


def read_input(path: str, max_bytes: int = MAX_BYTES) -> tuple[str, bytes]:
    """(display name, bytes) of a file or of stdin ('-'), refusing more than max_bytes."""
    if path == STDIN:
        name, stream = display_name(path), sys.stdin.buffer
        data = _read_capped(stream, max_bytes)
    else:
        name = display_name(path)
        try:
            with open(path, "rb") as stream:
                data = _read_capped(stream, max_bytes)
        except OSError as e:
            raise InputMissingError(f"cannot read: {e.strerror or e}", name) from None
    if len(data) > max_bytes:
        raise DataError(
            f"input is larger than the {max_bytes:,}-byte cap (raise it with --max-input-bytes)",
            name)
    return name, data


def _read_capped(stream, max_bytes: int) -> bytes:
    """Up to max_bytes + 1 bytes (one more says the input is over the cap), read in chunks:
    a single read would reserve the whole cap first, and a cap of 2^62 bytes is allowed. A
    regular file within the cap is read in one call of its own size (plus one byte, which
    says it grew): one buffer, no joining of chunks (10 MB: 4 ms less)."""
    chunks, total = [], 0
    size = regular_file_size(stream)
    if size is not None and size <= max_bytes:
        data = stream.read(size + 1)
        if len(data) <= size:
            return data
        chunks, total = [data], len(data)
    while total <= max_bytes:
        chunk = stream.read(min(1 << 22, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def regular_file_size(stream) -> int | None:
    """The size of the regular file a stream reads (which never makes a reader wait), or None
    for a pipe, a terminal or an in-memory stream."""
    import os
    import stat

    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(data[:e.start].decode("utf-8", "replace"))
        raise DataError(f"invalid UTF-8 at byte offset {e.start} (0x{data[e.start]:02x})",
                        source, line, col) from None
    text = text.removeprefix("\ufeff")
    nul = text.find("\0")
    if nul >= 0:
        raise DataError("NUL byte in input (is this a binary file?)", source,
                        *_line_col(text[:nul]))
    return text


def _line_col(before: str) -> tuple[int, int]:
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def parse(text: str, source: str, json: bool = False, compact: bool = False) -> Node:
    """The one document in text as located nodes, read as JSON or as YAML. compact: YAML
    lists of plain numbers kept as NumItems (a config's matrices), not a node per number."""
    return _parse_json(text, source) if json else _parse_yaml(text, source, compact)


_JSON_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<punct>[\[\]{}:,])
  | (?P<string>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
  | (?P<word>true|false|null)
""", re.X)


def _parse_json(text: str, source: str) -> Node:
    """JSON (RFC 8259) into located nodes; depth, duplicate keys and syntax checked as read."""
    starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]

    def where(pos):
        line = bisect.bisect_right(starts, pos)
        return line, pos - starts[line - 1] + 1

    def fail(message, pos) -> NoReturn:
        raise DataError(message, source, *where(pos))

    tokens = []  # (kind, text, position)
    pos = 0
    while pos < len(text):
        m = _JSON_TOKEN.match(text, pos)
        if m is None:
            fail(f"JSON syntax error: unexpected character {text[pos]!r}", pos)
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    if not tokens:
        raise DataError("the input is empty: expected a YAML or JSON document", source)
    end = len(text)
    k = 0

    def take():
        nonlocal k
        if k >= len(tokens):
            fail("JSON syntax error: the document ends too early", end)
        k += 1
        return tokens[k - 1]

    def value(depth):
        kind, tok, p = take()
        line, col = where(p)
        if tok in "[{" and kind == "punct":
            if depth >= MAX_DEPTH:
                fail(f"nesting deeper than {MAX_DEPTH} levels", p)
            closing = "]" if tok == "[" else "}"
            node = Seq(line, col) if tok == "[" else Map(line, col)
            if k < len(tokens) and tokens[k][1] == closing:
                take()
                return node
            while True:
                if isinstance(node, Seq):
                    node.items.append(value(depth + 1))
                else:
                    kkind, ktok, kp = take()
                    if kkind != "string":
                        fail("JSON syntax error: expected a string key", kp)
                    key = Scalar(*where(kp), _json.loads(ktok), STR, True)
                    if key.text in node.items:
                        first = node.items[key.text][0]
                        fail(f"duplicate key '{key.text}' (first given at line {first.line})", kp)
                    _, colon, cp = take()
                    if colon != ":":
                        fail("JSON syntax error: expected ':'", cp)
                    node.items[key.text] = (key, value(depth + 1))
                _, sep, sp = take()
                if sep == closing:
                    return node
                if sep != ",":
                    fail(f"JSON syntax error: expected ',' or '{closing}'", sp)
        if kind == "string":
            return Scalar(line, col, _json.loads(tok), STR, True)
        if kind == "number":
            is_float = any(ch in tok for ch in ".eE")
            return Scalar(line, col, tok, FLOAT if is_float else INT, False)
        if kind == "word":
            return Scalar(line, col, tok, BOOL if tok != "null" else NULL, False)
        fail(f"JSON syntax error: unexpected {tok!r}", p)

    root = value(0)
    if k < len(tokens):
        fail("JSON syntax error: extra data after the document", tokens[k][2])
    return root


def _parse_yaml(text: str, source: str, compact: bool = False) -> Node:
    import yaml  # only when YAML is read

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        return _build(loader, source, compact)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or "syntax error"
        if "nesting depth" in problem:  # libyaml's own limit, met while scanning ahead
            raise DataError(f"nesting deeper than {MAX_DEPTH} levels", source,
                            *((mark.line + 1, mark.column + 1) if mark else (None, None))) from None
        lines = text.split("\n")
        line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
        if "\t" in line[:mark.column + 1 if mark is not None else 0]:
            problem += " (a tab: YAML is indented with spaces only)"
        where = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise DataError(f"YAML syntax error: {problem}", source, *where) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow
        char = e.character if isinstance(e.character, int) else ord(e.character)
        raise DataError(f"character U+{char:04X} is not allowed in YAML ({e.reason})", source,
                        *_line_col(text[:e.position])) from None
    except yaml.YAMLError as e:
        raise DataError(f"YAML syntax error: {e}", source) from None
    finally:
        loader.dispose()



def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


class NumItems(Sequence):
    """A Seq's items when every one is a plain number, kept as one float array (a 16 MiB
    config holds a million numbers; a located node each would take a few hundred bytes).
    Only what number() accepts without a word is kept so, with the value it gives; an item
    asked for is made again as a node at the list's place."""

    def __init__(self, values: "array", line: int, col: int):
        self.values, self.line, self.col = values, line, col

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        return Scalar(self.line, self.col, repr(self.values[k]), FLOAT, False)


def _plain_number(node: Node) -> float | None:
    """The value number() gives a node, or None where it has a word to say instead."""
    try:
        return number(node, "", "")
    except DataError:
        return None


def _compacted(node: Node) -> None:
    """A closed Seq of plain numbers: its items as a NumItems."""
    if not isinstance(node, Seq) or not node.items:
        return
    values = array("d")
    for item in node.items:
        value = _plain_number(item)
        if value is None:
            return
        values.append(value)
    object.__setattr__(node, "items", NumItems(values, node.line, node.col))


def _build(loader, source: str, compact: bool = False) -> Node:
    import yaml
    from yaml.resolver import Resolver

    resolver = Resolver()
    stack: list[tuple[Node, Scalar | None]] = []  # open containers, each with a pending key
    root = None
    documents = 0

    def fail(message, event) -> NoReturn:
        raise DataError(message, source, event.start_mark.line + 1, event.start_mark.column + 1)

    def attach(node, event):
        nonlocal root
        if not stack:
            root = node
            return
        parent, key = stack[-1]
        if isinstance(parent, Seq):
            parent.items.append(node)
        elif key is None:
            if not isinstance(node, Scalar) or node.tag not in (STR, INT, FLOAT, BOOL, NULL):
                fail(f"a mapping key must be a plain name, found {node.kind}", event)
            if node.text in parent.items:
                first = parent.items[node.text][0]
                fail(f"duplicate key '{node.text}' (first given at line {first.line})", event)
            stack[-1] = (parent, node)
        else:
            parent.items[key.text] = (key, node)
            stack[-1] = (parent, None)

    while loader.check_event():
        event = loader.get_event()
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                fail("a second YAML document starts here; lstmcalc reads exactly one", event)
            continue
        if isinstance(event, yaml.AliasEvent):
            fail(f"alias '*{event.anchor}' is not allowed (lstmcalc refuses anchors and aliases)",
                 event)
        if not isinstance(event, yaml.NodeEvent) and not isinstance(event, yaml.CollectionEndEvent):
            continue
        if isinstance(event, yaml.NodeEvent):
            if event.anchor is not None:
                fail(f"anchor '&{event.anchor}' is not allowed "
                     "(lstmcalc refuses anchors and aliases)", event)
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in ALLOWED_TAGS:
                fail(f"tag '{_tag_name(tag)}' is not allowed "
                     "(lstmcalc reads plain numbers, strings, lists and mappings only)", event)
        mark = event.start_mark
        assert mark is not None  # the parser marks every event
        line, col = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.ScalarEvent):
            plain = event.style is None or event.style == ""
            if event.tag not in (None, "!"):
                tag = event.tag
            else:
                tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            attach(Scalar(line, col, event.value, tag, not plain), event)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                fail(f"nesting deeper than {MAX_DEPTH} levels", event)
            node = Seq(line, col) if isinstance(event, yaml.SequenceStartEvent) else Map(line, col)
            attach(node, event)
            stack.append((node, None))
        else:  # end of a sequence or mapping
            closed, _ = stack.pop()
            if compact:
                _compacted(closed)
    if documents == 0 or root is None:
        raise DataError("the input is empty: expected a YAML or JSON document", source)
    return root


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:20] + "…" + text[-10:])


def number(node: Node, what: str, source: str) -> float:
    """The finite number a node holds, or a DataError that says what it holds instead."""

    def fail(message) -> NoReturn:
        raise DataError(f"{what}: {message}", source, node.line, node.col)

    if not isinstance(node, Scalar):
        fail(f"expected a number, found {node.kind}")
    text, tag = node.text, node.tag
    if tag == STR:
        if node.quoted:
            fail(f"{_shown(text)} is a quoted string, not a number (remove the quotes)")
        suggestion = _yaml11_spelling(text)
        if suggestion is not None:
            fail(f"{_shown(text)} is read by YAML 1.1 as a string, not a number; "
                 f"write {suggestion}")
        fail(f"{_shown(text)} is a string, not a number")
    if tag == BOOL:
        plainly = text in ("true", "false")
        fail(f"{_shown(text)} is a boolean{'' if plainly else ' in YAML'}, not a number")
    if tag == NULL:
        fail(f"{_shown(text)} is null in YAML, not a number" if text
             else "the value is empty (null in YAML), expected a number")
    if tag == TIMESTAMP:
        fail(f"{_shown(text)} is a date in YAML, not a number")
    if tag not in (INT, FLOAT):
        fail(f"expected a number, found {_tag_name(tag)}")
    if ":" in text:
        fail(f"{_shown(text)} is a base-60 number in YAML 1.1; write the number in base 10")
    if tag == INT and _LEADING_ZERO_OCTAL.fullmatch(text):
        fail(f"{_shown(text)} is an octal number in YAML 1.1 ({int(text, 8)} in base 10); "
             "write the number in base 10")
    try:
        if _JSON_NUMBER.fullmatch(text):
            value = int(text) if tag == INT else float(text)
        else:  # YAML's own spellings: 0x1f, 1_000, +.5, ...
            import yaml
            from yaml.constructor import SafeConstructor

            construct = SafeConstructor.construct_yaml_int if tag == INT else \
                SafeConstructor.construct_yaml_float
            value = construct(SafeConstructor(), yaml.ScalarNode(tag, text))
    except (ValueError, IndexError, ArithmeticError) as e:
        if "digits" in str(e):
            digits = sum(ch.isdigit() for ch in text)
            fail(f"an integer of {digits:,} digits is too large to be a finite number")
        if not text.strip():
            fail(f"'{_tag_name(tag)}' with an empty value is not a number")
        fail(f"{_shown(text)} is not a valid {_tag_name(tag)}")
    try:
        value = float(value)
    except OverflowError:
        fail(f"{_shown(text)} is too large to be a finite number")
    if value != value or value in (float("inf"), float("-inf")):
        fail(f"{_shown(text)} is not a finite number; weights and states must be finite")
    if value == 0 and any(ch in "123456789" for ch in text.lower().split("e")[0]):
        fail(f"{_shown(text)} is too small for float64: it would be read as 0 (write 0 if you "
             "mean 0)")
    return value


def _yaml11_spelling(text: str) -> str | None:
    """How to write a number that YAML 1.1 reads as a string (1e3, -.5), or None."""
    m = _LOOSE_NUMBER.fullmatch(text)
    if not m or not (m.group(2) or m.group(3)):
        return None
    sign, whole, frac, exp_sign, exp = m.groups()
    spelled = f"{sign}{whole or '0'}.{frac or '0'}"
    if exp is not None:
        spelled += f"e{exp_sign or '+'}{exp}"
    return spelled
