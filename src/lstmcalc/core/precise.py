"""Correctly rounded distances to saturation for the numbers lstmcalc writes.

1 - sigmoid(z) and 1 - |tanh(z)| computed in double-double arithmetic (a value is an unevaluated
sum hi + lo of two float64s, about 106 bits): e^-a by Cody-Waite reduction, a Taylor series and
eight squarings, then one division, then a single rounding to float64 (subnormals rounded on
their own grid, not twice). The relative error before that rounding is below 1e-28, so the
float64 written is the correctly rounded one except where the true value lies within 1e-28 of a
rounding boundary; tests/test_activations.py checks it against 60-digit decimals.

Where long double is x87 extended precision, a first pass in it settles all but the values that
lie near a midpoint between two float64s (about 3%), and only those go through double-double:
about ten times the loops' cost, where double-double alone is seventy. Only the writers call
it (once per written gap), never the loops. Error-free transformations after Dekker and Knuth
(no FMA needed).
"""

from typing import Any

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

Num = Any  # an array, or a float constant that broadcasts
Pair = tuple[Num, Num]

_SPLIT = 134217729.0  # 2^27 + 1
# ln 2 = _LN2_HI + _LN2_MID + _LN2_LO; _LN2_HI has 32 significant bits, so k * _LN2_HI is
# exact for every |k| < 2^21
_LN2_HI = float.fromhex("0x1.62e42fee00000p-1")
_LN2_MID = 1.9082149292705877e-10
_LN2_LO = 1.1612227229362532e-26
_SQUARINGS = 8
_TERMS = 11  # |y| <= ln2 / 2^9 after reduction: y^12 / 12! < 1e-40


# 1/j! for j = 0 .. _TERMS as double-double (hi, lo), from exact fractions (Fraction(1,
# factorial(j)) split into its nearest float and the rest; tests/test_activations.py checks)
_INVERSE_FACTORIALS = [
    (1.0, 0.0), (1.0, 0.0), (0.5, 0.0), (0.16666666666666666, 9.25185853854297e-18),
    (0.041666666666666664, 2.3129646346357427e-18),
    (0.008333333333333333, 1.1564823173178714e-19),
    (0.001388888888888889, -5.300543954373577e-20),
    (0.0001984126984126984, 1.7209558293420705e-22),
    (2.48015873015873e-05, 2.1511947866775882e-23),
    (2.7557319223985893e-06, -1.858393274046472e-22),
    (2.755731922398589e-07, 2.3767714622250297e-23),
    (2.505210838544172e-08, -1.448814070935912e-24)]


def _fast_two_sum(a: Num, b: Num) -> Pair:
    s = a + b
    return s, b - (s - a)


def _two_sum(a: Num, b: Num) -> Pair:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a: Num, b: Num) -> Pair:
    p = a * b
    t = _SPLIT * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = _SPLIT * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _add(a: Pair, b: Pair) -> Pair:
    s, e = _two_sum(a[0], b[0])
    t, f = _two_sum(a[1], b[1])
    s, e = _fast_two_sum(s, e + t)
    return _fast_two_sum(s, e + f)


def _mul(a: Pair, b: Pair) -> Pair:
    p, e = _two_prod(a[0], b[0])
    return _fast_two_sum(p, e + (a[0] * b[1] + a[1] * b[0]))


def _div(a: Pair, b: Pair) -> Pair:
    q1 = a[0] / b[0]
    r = _add(a, _neg(_mul((q1, 0.0), b)))
    q2 = r[0] / b[0]
    r = _add(r, _neg(_mul((q2, 0.0), b)))
    q3 = r[0] / b[0]
    q1, q2 = _fast_two_sum(q1, q2)
    return _add((q1, q2), (q3, 0.0))


def _neg(a: Pair) -> Pair:
    return -a[0], -a[1]


def _exp_neg(a: np.ndarray) -> tuple[Pair, np.ndarray]:
    """e^-a for finite 0 <= a <= 2000 as (m, k): e^-a = (m_hi + m_lo) * 2^-k, m near 1."""
    k = np.rint(a / np.log(2))
    s, e = _two_sum(a, -k * _LN2_HI)  # exact: k * _LN2_HI has at most 43 bits
    r = _add((s, e), _neg(_two_prod(k, _LN2_MID)))  # constants as scalars: fewer arrays
    r = _add(r, (-k * _LN2_LO, 0.0))  # r = a - k ln2, |r| <= ln2 / 2
    y = (-r[0] / 2**_SQUARINGS, -r[1] / 2**_SQUARINGS)  # exact scaling
    # Horner over 1/j!, each coefficient a double-double constant
    m: Any = _INVERSE_FACTORIALS[-1]
    for hi, lo in reversed(_INVERSE_FACTORIALS[:-1]):
        m = _add(_mul(m, y), (hi, lo))
    for _ in range(_SQUARINGS):
        m = _mul(m, m)
    return m, k


def _round_scaled(r: Pair, scale: np.ndarray) -> np.ndarray:
    """(r_hi + r_lo) * 2^scale rounded once to float64, subnormals included."""
    out = np.ldexp(r[0], scale.astype(np.int64))
    tiny = np.abs(out) < np.finfo(np.float64).tiny
    if tiny.any():
        shift = (scale[tiny] + 1074).astype(np.int64)
        t_hi, t_lo = np.ldexp(r[0][tiny], shift), np.ldexp(r[1][tiny], shift)  # in 2^-1074
        n = np.rint(t_hi)
        frac = (t_hi - n) + t_lo
        out[tiny] = np.ldexp(n + (frac > 0.5) - (frac < -0.5), -1074)
    return out


def _dd_gaps(w: np.ndarray, twice: "bool | np.ndarray") -> np.ndarray:
    """1 - sigmoid(w) in double-double for float64 w, no NaN, doubled where `twice` (a tanh's
    gap: w = 2|z|)."""
    a = np.minimum(np.abs(w), 2000.0)  # past 745.2, e^-a is 0 in float64
    m, k = _exp_neg(a)
    e = (np.ldexp(m[0], (-k).astype(np.int64)), np.ldexp(m[1], (-k).astype(np.int64)))
    denominator = _add((np.ones_like(a), np.zeros_like(a)), e)  # 1 + e^-a
    # 1 - sigmoid(w) = e^-w / (1 + e^-w) for w >= 0, 1 / (1 + e^-|w|) for w < 0
    positive = w >= 0
    numerator = (np.where(positive, m[0], 1.0), np.where(positive, m[1], 0.0))
    scale = np.where(positive, -k, 0.0) + twice
    return _round_scaled(_div(numerator, denominator), scale)


# x87 extended precision (64-bit significand, most x86-64 builds): a first pass in it settles
# nearly every value; elsewhere (long double = double, or quad in software) double-double only
_EXTENDED = np.finfo(np.longdouble).nmant == 63
_DOUBT = 2.0**-58  # relative: far above the extended pass's error (a few units of 2^-64)
# from here up, v - out (12 significant bits at most, below out's last) and half a spacing
# are float64s, subnormals not needed
_NORMAL = 2.0**-1000


def _extended_gaps(w: np.ndarray, twice: "bool | np.ndarray") -> tuple[np.ndarray, np.ndarray]:
    """_dd_gaps' gaps from long double arithmetic rounded to float64, and where that rounding is in
    doubt (the long double value within _DOUBT of a midpoint between two float64s). The
    midpoint test runs in float64 where it can: there, the value's distance to its float64
    (exact by Sterbenz's lemma) and the half-spacings are float64s; only for the values below
    _NORMAL, where they need not be, does it run in long double."""
    wl = w.astype(np.longdouble)
    e = np.exp(-np.abs(wl))
    v = np.where(w >= 0, e, 1) / (1 + e)
    if np.any(twice):
        v = v * (1 + np.asarray(twice, np.int8))  # exact
    out = v.astype(np.float64)
    d = (v - out).astype(np.float64)
    half_up = (np.nextafter(out, np.inf) - out) * 0.5
    half_down = (out - np.nextafter(out, -np.inf)) * 0.5
    margin = _DOUBT * out
    doubt = (np.abs(d - half_up) <= margin) | (np.abs(d + half_down) <= margin)
    tiny = out < _NORMAL
    if tiny.any():
        vt, ot = v[tiny], out[tiny]
        up = np.nextafter(ot, np.inf).astype(np.longdouble)
        down = np.nextafter(ot, -np.inf).astype(np.longdouble)
        here = ot.astype(np.longdouble)
        margin_t = _DOUBT * vt
        doubt[tiny] = ((np.abs(vt - (here + up) / 2) <= margin_t)
                       | (np.abs(vt - (here + down) / 2) <= margin_t))
    return out, doubt


def _gaps(w: np.ndarray, twice: "bool | np.ndarray") -> np.ndarray:
    """1 - sigmoid(w) correctly rounded to float64, doubled where `twice`; NaN stays NaN."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        nan = np.isnan(w)
        w = np.where(nan, 0.0, w)
        if _EXTENDED:
            out, doubt = _extended_gaps(w, twice)
            if doubt.any():
                which = np.asarray(twice)[doubt] if np.ndim(twice) else twice
                out[doubt] = _dd_gaps(w[doubt], which)
        else:
            out = _dd_gaps(w, twice)
        return np.where(nan, np.nan, out)


def _argument(z: np.ndarray, kind: str) -> np.ndarray:
    """The float64 w with 1 - sigmoid(w) the gap, doubled for a tanh: 1 - tanh(|z|) =
    2 (1 - sigmoid(2|z|)); doubling is exact."""
    w = z.astype(np.float64)
    with np.errstate(over="ignore"):
        return 2 * np.abs(w) if kind == "tanh" else w


def precise_gaps(z: ArrayLike, kind: str) -> np.ndarray:
    """1 - sigmoid(z) (kind "sigmoid") or 1 - |tanh(z)| (kind "tanh"), correctly rounded (see
    the module's docstring). Any float dtype: computed for z's value, rounded to float64 once
    and then to z's dtype (float32 within 1 ulp); NaN stays NaN, the infinities give 0 or 1."""
    z = np.asarray(z)
    dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
    return _gaps(_argument(z, kind), kind == "tanh").astype(dtype)


def written_gaps(variant: Any, z: np.ndarray,
                 a_gap: "np.ndarray | Callable[[], np.ndarray]") -> np.ndarray:
    """The saturation gaps lstmcalc writes, for any number of steps at once (z and a_gap of
    shape (..., 4, n)): correctly rounded (precise_gaps) wherever a gate is a sigmoid or tanh
    of its pre-activation; a coupled forget gate's and other activations' as the loop
    computed them (a_gap, or a function that gives it: asked for only where needed)."""
    from lstmcalc.core.types import F, G

    out = np.empty(np.shape(z), np.asarray(z).dtype)
    gates, kinds = [], []
    for k in range(4):
        act = variant.candidate if k == G else variant.gate
        if (variant.coupled and k == F) or act.name not in ("sigmoid", "tanh"):
            given = a_gap() if callable(a_gap) else a_gap
            out[..., k, :] = given[..., k, :]
            continue
        gates.append(k)
        kinds.append(act.name)
    if gates:  # every gate in one call: its fixed cost once
        z = np.asarray(z)[..., gates, :]
        w = np.stack([_argument(z[..., j, :], kind) for j, kind in enumerate(kinds)], axis=-2)
        twice = np.broadcast_to(np.array([kind == "tanh" for kind in kinds])[:, None], w.shape)
        out[..., gates, :] = _gaps(w.reshape(-1), twice.reshape(-1)).reshape(w.shape)
    return out
