"""The common JSON config read fast: Python's C JSON parser and whole arrays at once.

The located reader (document.py and config.py's checker) builds a node per number to say
FILE:LINE:COL when something is wrong: at 256 units that is seconds. Most configs are fine, so
this module reads the usual shape of a config (x, h, c, sequence and the four gates' W and b,
by their own names) straight into NumPy arrays, and answers None the moment anything is other
than plainly right: another key, a duplicate key, a value that is not a finite number (a
boolean, a string, null, an exponent of three digits, which might overflow or underflow), a
row of another length, a size that does not fit. The caller then reads the file again with
the located reader, which accepts or refuses it with its own message. Whatever this module
accepts, the located reader accepts too and builds the same Spec, bit for bit
(tests/test_fastpath.py holds both to it).
"""

import json
import re
from typing import Any

import numpy as np

from lstmcalc.core import GATES, Variant

_TOP = frozenset({"x", "h", "c", "sequence", "gates"})
_GATE = frozenset({"W", "b"})
# three-digit exponents may overflow or underflow, and a decimal with 300 zeros in a row may
# underflow: the located reader has the words for those (a huge integer overflows in NumPy's
# conversion, which declines too)
_RISKY_EXPONENT = re.compile(r"[eE][-+]?\d{3}")
_MANY_ZEROS = "0" * 300
_FEW = 2000  # exponents looked at one by one; past this many, the regular expression does


def _risky_exponent(text: str) -> bool:
    """Whether the text holds an exponent of three digits. Most configs hold few exponents
    (a key's e, a small number's e-05): finding each is faster than a regex over megabytes."""
    found = 0
    for letter in "eE":
        i = text.find(letter)
        while i != -1:
            found += 1
            if found > _FEW:
                return _RISKY_EXPONENT.search(text) is not None
            j = i + 1 + (text[i + 1:i + 2] in ("+", "-"))
            if text[j:j + 3].isdigit() and len(text[j:j + 3]) == 3:
                return True
            i = text.find(letter, i + 1)
    return False


class _Decline(Exception):
    """Not plainly the usual shape: the located reader decides."""


def _pairs(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Decline  # a key given twice
    return out


def _constant(name: str) -> float:
    raise _Decline  # NaN, Infinity


def _parse(text: str):
    """The JSON value of text. With orjson installed (`lstmcalc[fast]`), orjson's: 4 to 5
    times json's speed on a file of numbers, and the same float for every number (checked on
    1.5 million numbers of up to 40 digits; tests/test_fastpath.py holds the two to it). It
    keeps the last of a duplicated key, so the text's strings are counted by their quotes:
    two for each key of the objects read, and none else (without a backslash, a quote only
    opens or closes a string), else a key came twice, or a string stands where a number
    should: declined. Without orjson, or with a backslash in the text, json's, a duplicate
    key and NaN refused as they are read."""
    orjson: Any
    try:
        import orjson
    except ImportError:
        orjson = None
    if orjson is None or "\\" in text:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    value = orjson.loads(text)
    keys = 0
    objects = [value] if isinstance(value, dict) else []
    while objects:  # the objects reached through objects: where this module reads keys
        obj = objects.pop()
        keys += len(obj)
        objects += [item for item in obj.values() if isinstance(item, dict)]
    if text.count('"') != 2 * keys:
        raise _Decline
    return value


def _numbers(value, ndim: int, literals: bool) -> np.ndarray:
    """value as a float64 array of exactly ndim dimensions, each entry a JSON number (not a
    boolean), every row as long as the first. literals: whether the text holds true, false
    or null anywhere (else NumPy's own type discovery tells numbers from strings)."""
    if not isinstance(value, list) or not value:
        raise _Decline
    if ndim == 2:
        width = len(value[0]) if isinstance(value[0], list) else 0
        if not width or any(not isinstance(row, list) or len(row) != width for row in value):
            raise _Decline
    try:
        found = None if literals else np.array(value)  # numbers: int64 or float64
        if found is None or found.dtype.kind == "O":  # true/false/null, or past int64
            flat = [v for row in value for v in row] if ndim == 2 else value
            if any(type(v) is not float and type(v) is not int for v in flat):
                raise _Decline  # bool is not int here: type() is exact
            found = np.array(value, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        raise _Decline from None
    if found.dtype.kind not in "if" or found.ndim != ndim:
        raise _Decline  # strings, ragged rows
    arr = found.astype(np.float64)
    if not np.isfinite(arr).all():
        raise _Decline
    return arr


def _vector_or_batch(value, size: int, literals: bool) -> np.ndarray:
    ndim = 2 if isinstance(value, list) and value and isinstance(value[0], list) else 1
    arr = _numbers(value, ndim, literals)
    if arr.shape[-1] != size:
        raise _Decline
    return arr


def spec(text: str, source: str):
    """The Spec config.parse_spec would build from this JSON text, or None when the text is
    not plainly the usual shape (then parse_spec reads it and says what is wrong, if
    anything)."""
    from lstmcalc.config import Spec
    from lstmcalc.layouts import Weights

    if _MANY_ZEROS in text or _risky_exponent(text):
        return None
    literals = "true" in text or "false" in text or "null" in text
    try:
        top = _parse(text)
        if not isinstance(top, dict) or not set(top) <= _TOP or "gates" not in top:
            raise _Decline
        gates = top["gates"]
        if not isinstance(gates, dict) or set(gates) != set(GATES):
            raise _Decline
        entries = [gates[g] for g in GATES]
        if any(not isinstance(e, dict) or "W" not in e or not set(e) <= _GATE for e in entries):
            raise _Decline
        Ws = [_numbers(e["W"], 2, literals) for e in entries]
        n, width = Ws[0].shape
        # m as the located reader takes it: from x, else the sequence, else W's columns
        m = None
        for key in ("x", "sequence"):
            value = top.get(key)
            if isinstance(value, list) and value:
                first = value[0]
                m = len(first) if isinstance(first, list) else len(value)
                if m:
                    break
                m = None
        if m is None:
            if width <= n:
                raise _Decline
            m = width - n
        if any(W.shape != (n, m + n) for W in Ws):
            raise _Decline
        W = np.zeros((4, n, m + n))
        b = np.zeros((4, n))
        for k, (entry, Wk) in enumerate(zip(entries, Ws)):
            W[k] = Wk
            if "b" in entry:
                bk = _numbers(entry["b"], 1, literals)
                if bk.shape != (n,):
                    raise _Decline
                b[k] = bk
        sequence = None
        if "sequence" in top:
            sequence = _numbers(top["sequence"], 2, literals)
            if sequence.shape[1] != m:
                raise _Decline
        x, h, c = (_vector_or_batch(top[key], size, literals) if key in top else None
                   for key, size in (("x", m), ("h", n), ("c", n)))
    except (_Decline, ValueError, RecursionError):
        return None
    weights = Weights(W[:, :, :m], W[:, :, m:], b, np.zeros((4, n)), 0.0, Variant(),
                      ("x", "h"))
    return Spec(source, weights, x, h, c, sequence, None, tuple(GATES), (False,) * 4)
