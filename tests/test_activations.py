"""The activations against 60-digit decimal references, across the whole float range."""

import numpy as np
import pytest

from helpers import d_sigmoid, d_tanh_gap
from lstmcalc.core import activations as act
from lstmcalc.core import precise

Z = [0.0, 1e-300, -1e-300, 0.5, -0.5, 1.0, -3.0, 20.0, -20.0, 36.0, -36.7, 92.0, 177.0,
     -177.0, 709.0, 710.0, -745.0, -746.0, 1000.0, -1000.0, 1e308, -1e308]


ULPS4 = 4 * np.finfo(float).eps / 2  # four half-ulps: exp's error plus a division and a sum


def rel(a, b):
    return abs(a - b) / abs(b) if b != 0 else abs(a)


@pytest.mark.parametrize("z", Z)
def test_sigmoid_and_its_complement_to_the_last_digits(z):
    ref = d_sigmoid(z)
    assert rel(float(act.sigmoid(np.float64(z))), float(ref)) <= ULPS4
    # 1 - sigma(z) is computed as sigma(-z): exact even where sigma(z) rounds to 1
    ref_c = d_sigmoid(-z)
    got_c = float(act.sigmoid_complement(np.float64(z)))
    if float(ref_c) == 0.0:  # below the smallest subnormal
        assert got_c == 0.0
    else:
        assert rel(got_c, float(ref_c)) <= ULPS4 or abs(got_c - float(ref_c)) < 1e-323


@pytest.mark.parametrize("z", Z)
def test_tanh_gap_is_one_minus_abs_tanh_without_cancellation(z):
    ref = d_tanh_gap(z)
    got = float(act.tanh_gap(np.float64(z)))
    if float(ref) == 0.0:
        assert got == 0.0
    else:
        assert rel(got, float(ref)) <= ULPS4 or abs(got - float(ref)) < 1e-323


def test_founding_forget_gate_is_below_one_by_1e40_to_1e77():
    gap = act.sigmoid_complement(np.array([92.0, 177.0, 136.0]))
    assert act.sigmoid(np.array([92.0, 177.0, 136.0])).tolist() == [1.0, 1.0, 1.0]
    for got, z in zip(gap, [92, 177, 136]):
        assert rel(float(got), float(d_sigmoid(-z))) <= ULPS4
    assert 1e-41 < gap[0] < 1e-39 and 1e-78 < gap[1] < 1e-76


def test_no_warning_for_any_finite_input():
    z = np.array([-np.finfo(float).max, -1e308, -1000.0, -1.0, 0.0, 1.0, 1000.0, 1e308,
                  np.finfo(float).max])
    # pytest runs with warnings as errors: any RuntimeWarning fails this test
    for f in (act.sigmoid, act.sigmoid_complement, act.tanh, act.tanh_gap,
              act.sigmoid_derivative, act.tanh_derivative):
        out = f(z)
        assert np.isfinite(out).all()


def test_float32_stays_float32_and_silent():
    z = np.array([-1000.0, -90.0, 0.0, 90.0, 1000.0], dtype=np.float32)
    for f in (act.sigmoid, act.sigmoid_complement, act.tanh_gap):
        assert f(z).dtype == np.float32


def test_derivatives_against_finite_differences_and_bounds():
    z = np.linspace(-8, 8, 161)
    eps = 1e-6
    fd_sig = (act.sigmoid(z + eps) - act.sigmoid(z - eps)) / (2 * eps)
    fd_tanh = (np.tanh(z + eps) - np.tanh(z - eps)) / (2 * eps)
    # central differences: truncation ~eps^2, rounding ~1e-16/eps, so agreement to ~1e-9
    np.testing.assert_allclose(act.sigmoid_derivative(z), fd_sig, rtol=0, atol=1e-9)
    np.testing.assert_allclose(act.tanh_derivative(z), fd_tanh, rtol=0, atol=1e-9)
    assert act.sigmoid_derivative(z).max() == 0.25 and act.tanh_derivative(z).max() == 1.0
    assert act.sigmoid_derivative(np.array([92.0]))[0] < 1e-39  # saturated: almost no gradient


def _ulps(got: float, ref) -> tuple[float, float]:
    """got's distance from ref in units of the last place of ref's nearest float64
    (subnormals included): from that nearest float (the correctly rounded value), and from
    ref itself."""
    nearest = float(ref)
    ulp = float(np.spacing(abs(nearest)))
    return abs(got - nearest) / ulp, float(abs(type(ref)(got) - ref)) / ulp


GRID = np.concatenate([np.linspace(-800, 800, 4111), Z,
                       [22, 43, 30, -30, 50, -50, 744.4, -744.4, 745.1, 372, -372, 373, 14.01],
                       np.ldexp(0.75, np.arange(-1074, 3, 41))])  # subnormal z and gaps


def _worst(gaps, kind) -> tuple[float, float]:
    reference = (lambda z: d_sigmoid(-z)) if kind == "sigmoid" else d_tanh_gap
    distances = [_ulps(float(g), reference(z)) for z, g in zip(GRID, gaps)]
    return max(d[0] for d in distances), max(d[1] for d in distances)


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_written_gaps_are_correctly_rounded_where_the_fast_ones_are_two_floats_off(kind):
    """Issue: JSON saturation_gap within 1 ulp of the true value, subnormals included. Over
    the grid (and the cases the issue names, z = 14.01 where the earlier compensated form
    was 1.02 ulps off), precise_gaps is the correctly rounded float (0.5 ulp from the true
    value); the loops' forms are up to two floats away (sigmoid) or one (tanh)."""
    quick = act.sigmoid_complement if kind == "sigmoid" else act.tanh_gap
    assert _worst(precise.precise_gaps(GRID, kind), kind) == (0.0, pytest.approx(0.5, abs=1e-9))
    # the grid finds what the loops' forms miss: two floats for sigmoid, one for tanh
    assert _worst(quick(GRID), kind)[0] == {"sigmoid": 2.0, "tanh": 1.0}[kind]


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_double_double_alone_is_correctly_rounded(kind):
    """Where long double is not x87 extended precision, double-double does every value."""
    w = GRID if kind == "sigmoid" else 2 * np.abs(np.minimum(np.abs(GRID), 1e300))
    with np.errstate(over="ignore", invalid="ignore"):
        gaps = precise._dd_gaps(w, kind == "tanh")
    assert _worst(gaps, kind) == (0.0, pytest.approx(0.5, abs=1e-9))


@pytest.mark.skipif(not precise._EXTENDED, reason="long double is not x87 extended here")
@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_the_extended_pass_is_right_wherever_it_is_not_in_doubt(kind):
    rng = np.random.default_rng(7)
    w = np.concatenate([rng.uniform(-800, 800, 50000), rng.normal(0, 3, 50000),
                        rng.uniform(-1e-6, 1e-6, 10000)])
    w = w if kind == "sigmoid" else 2 * np.abs(w)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        quick, doubt = precise._extended_gaps(w, kind == "tanh")
        exact = precise._dd_gaps(w, kind == "tanh")
    assert not ((quick != exact) & ~doubt).any()
    assert (quick != exact).any() and doubt.mean() < 0.1  # the filter has work, and little


def test_precise_gaps_keep_the_dtype_and_pass_nan_and_infinities():
    z = np.array([np.nan, np.inf, -np.inf, 0.0], dtype=np.float32)
    s, t = precise.precise_gaps(z, "sigmoid"), precise.precise_gaps(z, "tanh")
    assert s.dtype == t.dtype == np.float32
    assert np.isnan(s[0]) and np.isnan(t[0])
    assert s[1:].tolist() == [0.0, 1.0, 0.5] and t[1:].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("name", act.Activation.NAMES)
def test_every_activation_slope_against_central_differences(name):
    """f'(z) against (f(z + e) - f(z - e)) / 2e, away from the kinks (0, ±1, ±3, 6, alpha
    and the hard sigmoids' corners), and max_slope bounds every slope."""
    f = act.Activation(name)
    z = np.linspace(-7.3, 7.3, 147)
    kinks = np.array([0.0, 1.0, -1.0, 3.0, -3.0, 6.0, f.alpha, -f.beta / f.alpha
                      if f.alpha else 0.0, (1 - f.beta) / f.alpha if f.alpha else 0.0])
    z = z[np.min(np.abs(z[:, None] - kinks[None, :]), axis=1) > 1e-3]
    eps = 1e-6
    numeric = (f(z + eps) - f(z - eps)) / (2 * eps)
    np.testing.assert_allclose(f.derivative(z), numeric, rtol=1e-6, atol=1e-6 * max(
        1.0, float(np.max(np.abs(numeric)))))
    assert np.all(np.abs(f.derivative(np.linspace(-20, 20, 40001))) <= f.max_slope * (1 + 1e-12))


def test_keras_and_onnx_activations_against_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    z = np.linspace(-8, 8, 321)
    t = torch.from_numpy(z)
    peers = {"elu": F.elu(t), "selu": F.selu(t), "gelu": F.gelu(t), "silu": F.silu(t),
             "softplus": F.softplus(t, threshold=50), "relu6": F.relu6(t),
             "leaky_relu": F.leaky_relu(t, 0.2), "hard_silu": F.hardswish(t), "mish": F.mish(t),
             "hard_tanh": F.hardtanh(t), "exponential": torch.exp(t)}
    for name, want in peers.items():
        np.testing.assert_allclose(act.Activation(name)(z), want.numpy(), rtol=1e-15,
                                   atol=1e-15, err_msg=name)
    np.testing.assert_allclose(act.Activation("thresholded_relu", 0.5)(z),
                               np.where(z >= 0.5, z, 0.0))
    np.testing.assert_allclose(act.Activation("scaled_tanh", 2.0, 0.5)(z), 2 * np.tanh(0.5 * z))


def test_the_double_double_inverse_factorials_are_exact_splits():
    import math
    from fractions import Fraction

    for j, (hi, lo) in enumerate(precise._INVERSE_FACTORIALS):
        exact = Fraction(1, math.factorial(j))
        assert hi == float(exact) and lo == float(exact - Fraction(hi))
