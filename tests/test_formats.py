"""Narrow arithmetic: float16 and bfloat16 against PyTorch's nn.LSTMCell bit for bit (committed
outputs, and live where torch is installed), fixed point against an integer implementation
written here from the semantics of docs/hardware.md (sharing no code with lstmcalc's)."""

import math
import pathlib
from fractions import Fraction

import numpy as np
import pytest

from helpers import cell_from_torch
from lstmcalc.core import Cell, Variant, formats, reduced, unroll
from lstmcalc.core.activations import Activation
from lstmcalc.errors import DataError, Unsupported, UsageError

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ml_dtypes = pytest.importorskip("ml_dtypes")


def torch_cell(arrays: dict, prefix: str = "") -> tuple[Cell, np.ndarray]:
    """The float64 Cell of PyTorch's arrays, and its bias_hh in lstmcalc's gate order."""
    get = {k: arrays[prefix + k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    cell = cell_from_torch(get["weight_ih"], get["weight_hh"], get["bias_ih"], get["bias_hh"])
    n = get["weight_hh"].shape[1]
    return cell, np.asarray(get["bias_hh"]).reshape(4, n)[[1, 0, 2, 3]]


# parsing -----------------------------------------------------------------------------------

def test_names_parse_and_bad_ones_are_refused_with_the_choices():
    assert formats.parse("float64") is None and formats.parse("float32") is None
    q = formats.parse("q4.12")
    assert isinstance(q, formats.Fixed) and (q.integer, q.fraction, q.bits) == (4, 12, 16)
    assert (q.lowest, q.highest, q.hex_digits) == (-32768, 32767, 4)
    assert formats.parse("q1.31").bits == 32 and formats.parse("q3.2").hex_digits == 2
    with pytest.raises(UsageError, match=r"I \+ F <= 32"):
        formats.parse("q16.17")
    with pytest.raises(UsageError, match="I >= 1"):
        formats.parse("q0.8")
    with pytest.raises(UsageError, match="float64, float32, float16, bfloat16 or fixed point"):
        formats.parse("int8")


def test_fixed_quantize_rounds_half_to_even_and_saturates():
    q = formats.parse("q2.2")  # codes -8..7, values -2..1.75 in steps of 0.25
    values, saturated = q.quantize(np.array([0.125, 0.375, -0.125, 1.8, 5.0, -2.0, -2.2]))
    assert values.tolist() == [0.0, 0.5, -0.0, 1.75, 1.75, -2.0, -2.0]
    assert saturated.tolist() == [False, False, False, False, True, False, True]
    assert q.codes(values).tolist() == [0, 2, 0, 7, 7, 8, 8]  # two's complement, 4 bits


# float16 / bfloat16 against PyTorch --------------------------------------------------------

@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_narrow_floats_equal_committed_torch_lstmcell_outputs(name):
    data = np.load(FIXTURES / "torch_narrow.npz")
    seeds = sorted({key.split("/")[1] for key in data.files if key.startswith(name)})
    assert len(seeds) == 4
    fmt = formats.parse(name)
    for seed in seeds:
        prefix = f"{name}/{seed}/"
        cell, bias_hh = torch_cell(data, prefix)
        run = unroll(reduced.quantize_cell(fmt, cell, bias_hh), data[prefix + "x"],
                     data[prefix + "h0"], data[prefix + "c0"])
        assert run.cell.dtype_name == name
        np.testing.assert_array_equal(run.h, data[prefix + "h"].astype(np.float64))
        np.testing.assert_array_equal(run.c, data[prefix + "c"].astype(np.float64))


def test_without_a_second_bias_the_whole_bias_goes_with_the_input_product():
    cell = Cell(np.arange(24.0).reshape(4, 2, 3) / 7, np.ones((4, 2)) / 3)
    fmt = formats.parse("float16")
    alone = reduced.quantize_cell(fmt, cell)
    assert alone.biases is not None
    np.testing.assert_array_equal(alone.biases[1], 0)
    np.testing.assert_array_equal(alone.biases[0], np.float16(1 / 3))


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_sigmoid_and_tanh_equal_torch_for_every_value_of_the_format(torch, name):
    """Exhaustive: all 65536 bit patterns (the finite ones)."""
    fmt = formats.parse(name)
    np_type = fmt.numpy_type()
    values = np.arange(65536, dtype=np.uint16).view(np_type).astype(np.float32)
    values = values[np.isfinite(values)]
    tdt = getattr(torch, name)
    t = torch.from_numpy(values).to(tdt)
    z = values.astype(np.float64)
    from lstmcalc.core.activations import SIGMOID, TANH

    for act, theirs in ((SIGMOID, torch.sigmoid), (TANH, torch.tanh)):
        mine = reduced._float_activation(fmt, act, z)
        np.testing.assert_array_equal(mine, theirs(t).double().numpy(), err_msg=repr(act))


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_narrow_floats_equal_live_torch_on_random_cells_batches_and_sequences(torch, name):
    """Step by step from PyTorch's own state, every unit bit for bit, except a unit one of
    whose four sums of products is one the order of PyTorch's float32 accumulation can decide
    (see the test below); those are counted, and nearly all units must be checked."""
    tdt = getattr(torch, name)
    fmt = formats.parse(name)
    rng = np.random.default_rng(5)
    checked = total = 0
    for trial in range(30):
        m, n, batch = (int(v) for v in rng.integers(1, 9, 3))
        T = int(rng.integers(1, 12))
        torch.manual_seed(100 + trial)
        tc = torch.nn.LSTMCell(m, n, dtype=torch.float64)
        xs = torch.randn(T, batch, m, dtype=torch.float64) * 2
        h = torch.randn(batch, n, dtype=torch.float64)
        c = torch.randn(batch, n, dtype=torch.float64) * 3
        cell, bias_hh = torch_cell({k: p.detach().numpy() for k, p in tc.named_parameters()})
        low_cell = reduced.quantize_cell(fmt, cell, bias_hh)
        low, hh, cc = tc.to(tdt), h.to(tdt), c.to(tdt)
        low_arrays = {k: p.detach().double().numpy() for k, p in low.named_parameters()}
        with torch.no_grad():
            for t in range(T):
                h_prev, c_prev = hh.double().numpy(), cc.double().numpy()
                mine = unroll(low_cell, xs[t:t + 1].numpy(), h_prev, c_prev)
                hh, cc = low(xs[t].to(tdt), (hh, cc))
                x_low = xs[t].to(tdt).double().numpy()
                unsure = _sensitive(fmt, low_arrays, x_low, h_prev).reshape(batch, 4, n)
                sure = ~unsure.any(axis=1)  # (B, n): none of the unit's four sums
                assert (mine.h[0] == hh.double().numpy())[sure].all()
                assert (mine.c[0] == cc.double().numpy())[sure].all()
                checked += int(sure.sum())
                total += sure.size
    assert checked >= 0.9 * total


def _sensitive(fmt, arrays: dict, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """(..., 4n) in PyTorch's gate order: where W_ih x + b_ih or W_hh h + b_hh is
    order-sensitive, for x (..., m) and h (..., n) and PyTorch's arrays in the format."""
    shape = x.shape[:-1] + (arrays["bias_ih"].shape[0],)
    return (_order_sensitive(fmt, x[..., None, :] * arrays["weight_ih"],
                             np.broadcast_to(arrays["bias_ih"], shape))
            | _order_sensitive(fmt, h[..., None, :] * arrays["weight_hh"],
                               np.broadcast_to(arrays["bias_hh"], shape)))


def _order_sensitive(fmt, products: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Where a float32 sum of these terms, in some order, may round to another value of the
    format than the exact sum does: the exact sum within the worst-case error of recursive
    float32 summation, (k - 1) u sum|terms| with u = 2^-24, of a rounding boundary."""
    terms = np.concatenate([products, bias[..., None]], axis=-1)
    exact = terms.sum(axis=-1)  # float64: near enough exact for these sizes
    k = terms.shape[-1]
    bound = 1.01 * (k - 1) * 2.0 ** -24 * np.abs(terms).sum(axis=-1)
    low = fmt.round32((exact - bound).astype(np.float32))
    high = fmt.round32((exact + bound).astype(np.float32))
    return low != high


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_at_real_sizes_every_difference_from_torch_is_where_the_float32_order_decides(
        torch, name):
    """PyTorch sums each product in float32 in its BLAS's order (MKL here, something else on
    another machine); lstmcalc sums exactly and rounds once. Every pre-activation where they
    differ must be one where some float32 order can decide; everywhere else, equal bits."""
    tdt = getattr(torch, name)
    fmt = formats.parse(name)
    F = torch.nn.functional
    differ = sensitive_total = 0
    for trial in range(6):
        torch.manual_seed(200 + trial)
        m, n, batch = 48, 32, 3
        tc = torch.nn.LSTMCell(m, n, dtype=torch.float64).to(tdt)
        x = torch.randn(batch, m).to(tdt)
        h = (torch.randn(batch, n) * 0.5).to(tdt)
        c = torch.randn(batch, n).to(tdt)
        with torch.no_grad():
            gx = F.linear(x, tc.weight_ih, tc.bias_ih)
            gh = F.linear(h, tc.weight_hh, tc.bias_hh)
            z_torch = (gh + gx).double().numpy()
        arrays = {k: p.detach().double().numpy() for k, p in tc.named_parameters()}
        cell, bias_hh = torch_cell(arrays)
        run = unroll(reduced.quantize_cell(fmt, cell, bias_hh), x.double().numpy()[None],
                     h.double().numpy(), c.double().numpy())
        mine = run.z[0]  # (B, 4, n) in f, i, g, o
        theirs = z_torch.reshape(batch, 4, n)[:, [1, 0, 2, 3]]
        sens = _sensitive(fmt, arrays, x.double().numpy(), h.double().numpy())
        sens = sens.reshape(batch, 4, n)[:, [1, 0, 2, 3]]
        # the sum z = R(gx + gh) of a differing gx or gh may still round alike
        assert not ((mine != theirs) & ~sens).any()
        differ += int((mine != theirs).sum())
        sensitive_total += int(sens.sum())
    print(name, "differ", differ, "order-sensitive", sensitive_total, "of", 6 * 3 * 4 * 32)
    assert sensitive_total < 0.5 * 6 * 3 * 4 * 32  # most values are checked bit for bit


def test_values_past_the_range_are_refused_by_name():
    cell = Cell(np.full((4, 1, 2), 70000.0), np.zeros((4, 1)))
    with pytest.raises(DataError, match=r"W\[0, 0, 0\] = 70000 is beyond float16's range"):
        reduced.quantize_cell(formats.parse("float16"), cell)
    big = Cell(np.full((4, 1, 2), 300.0), np.zeros((4, 1)))
    with pytest.raises(DataError, match="forget gate pre-activation of unit 1 is not finite"):
        unroll(reduced.quantize_cell(formats.parse("float16"), big), [[300.0]])


def test_variants_beyond_the_activations_are_refused():
    cell = Cell(np.ones((4, 1, 2)), np.zeros((4, 1)), variant=Variant(coupled=True))
    with pytest.raises(Unsupported, match="standard cell .* coupled gates"):
        reduced.quantize_cell(formats.parse("q4.12"), cell)


# fixed point against an integer implementation of docs/hardware.md --------------------------

class Reference:
    """qI.F as docs/hardware.md states it, in Python integers and fractions."""

    def __init__(self, integer: int, fraction: int):
        self.F = fraction
        self.lo, self.hi = -2 ** (integer + fraction - 1), 2 ** (integer + fraction - 1) - 1
        self.saturated: dict[str, list] = {}
        self.ties = 0  # sums and products exactly halfway between two codes

    def sat(self, k: int, what: str) -> int:
        hit = k < self.lo or k > self.hi
        self.saturated.setdefault(what, []).append(hit)
        return min(max(k, self.lo), self.hi)

    def quantize(self, value, what: str) -> int:
        return self.sat(round(Fraction(value) * 2 ** self.F), what)  # round(): half to even

    def shift(self, K: int, what: str) -> int:
        self.ties += K % 2 ** self.F == 2 ** (self.F - 1)
        return self.sat(round(Fraction(K, 2 ** self.F)), what)

    def activation(self, name: str, k: int, what: str) -> int:
        z = Fraction(k, 2 ** self.F)
        if name == "sigmoid":
            zf = float(z)
            value = Fraction(1 / (1 + math.exp(-zf)) if zf >= 0 else
                             math.exp(zf) / (1 + math.exp(zf)))
        elif name == "tanh":
            value = Fraction(math.tanh(float(z)))
        elif name == "hard_sigmoid":  # Keras 2's: clip(0.2 z + 0.5, 0, 1), 0.2 as a float64
            value = min(max(Fraction(0.2) * z + Fraction(1, 2), Fraction(0)), Fraction(1))
        elif name == "hard_sigmoid_tf2":
            value = min(max(Fraction(1 / 6) * z + Fraction(1, 2), Fraction(0)), Fraction(1))
        else:
            raise AssertionError(name)
        return self.quantize(value, what)

    def run(self, W, b, xs, h, c, acts=("sigmoid", "tanh", "tanh")):
        """W (4, n, m + n) floats, x first; returns per step the codes of every quantity."""
        gate_act, cand_act, cell_act = acts
        n = len(b[0])
        Wc = [[[self.quantize(w, "W") for w in row] for row in gate] for gate in W]
        bc = [[self.quantize(v, "b") for v in gate] for gate in b]
        hc = [self.quantize(v, "h_prev") for v in h]
        cc = [self.quantize(v, "c_prev") for v in c]
        steps = []
        for x in xs:
            xc = [self.quantize(v, "x") for v in x]
            v = xc + hc
            z = [[self.shift(sum(w * u for w, u in zip(Wc[k][j], v)) + bc[k][j] * 2 ** self.F,
                             "preactivation") for j in range(n)] for k in range(4)]
            a = [[self.activation(cand_act if k == 2 else gate_act, z[k][j], "activation")
                  for j in range(n)] for k in range(4)]
            fc = [self.shift(a[0][j] * cc[j], "forget_times_c_prev") for j in range(n)]
            ig = [self.shift(a[1][j] * a[2][j], "input_times_candidate") for j in range(n)]
            cc = [self.sat(fc[j] + ig[j], "c") for j in range(n)]
            tc = [self.activation(cell_act, cc[j], "tanh_c") for j in range(n)]
            hc = [self.shift(a[3][j] * tc[j], "h") for j in range(n)]
            steps.append({"z": z, "a": a, "fc": fc, "ig": ig, "c": cc, "tc": tc, "h": hc})
        return steps


def _codes(values: np.ndarray, F: int) -> list:
    return np.rint(np.asarray(values) * 2.0 ** F).astype(np.int64).tolist()


def _compare(fmt_name: str, W, b, xs, h, c, acts=("sigmoid", "tanh", "tanh")):
    fmt = formats.parse(fmt_name)
    F = fmt.fraction
    variant = Variant(gate=Activation(acts[0]), candidate=Activation(acts[1]),
                      cell=Activation(acts[2]))
    cell = Cell(np.asarray(W, float), np.asarray(b, float), variant=variant)
    run = unroll(reduced.quantize_cell(fmt, cell), np.asarray(xs, float), np.asarray(h, float),
                 np.asarray(c, float))
    ref = Reference(fmt.integer, F)
    steps = ref.run(W, b, xs, h, c, acts)
    for t, want in enumerate(steps):
        assert _codes(run.z[t], F) == want["z"], t
        assert _codes(run.a[t], F) == want["a"], t
        for key, mine in (("fc", run.fc), ("ig", run.ig), ("c", run.c), ("tc", run.tanh_c),
                          ("h", run.h)):
            assert _codes(mine[t], F) == want[key], (t, key)
    # where values saturated: the same counts, quantity by quantity
    sat = {**run.saturated, **reduced.load_saturation(fmt, cell)}
    for key in ("preactivation", "activation", "forget_times_c_prev", "input_times_candidate",
                "c", "tanh_c", "h", "x", "W", "b"):
        assert int(sat[key].sum()) == sum(ref.saturated.get(key, [])), key
    return run, ref


@pytest.mark.parametrize("fmt_name", ["q4.12", "q8.8", "q1.15", "q3.2", "q4.4", "q16.16",
                                      "q2.30"])
def test_fixed_point_equals_the_integer_reference(fmt_name):
    rng = np.random.default_rng(abs(hash(fmt_name)) % 2 ** 32)
    for _ in range(3):
        m, n, T = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 6))
        W = rng.normal(0, 1.5, (4, n, m + n)).tolist()
        b = rng.normal(0, 1, (4, n)).tolist()
        xs = rng.normal(0, 2, (T, m)).tolist()
        h, c = rng.normal(0, 0.5, n).tolist(), rng.normal(0, 2, n).tolist()
        _compare(fmt_name, W, b, xs, h, c)


def test_fixed_point_ties_round_to_even_and_saturation_is_counted():
    """q2.2: a step of 0.25, so ties are everywhere: inputs halfway between codes, and the
    products f * C and i * g with their two low bits 10."""
    F = 2
    x = [0.125, 0.375, -0.625]  # halfway: 0, 0.5, -0.5 after round half to even
    W = [[[0.875, -0.125, 0.5, 1.0]], [[0.5, 0.5, 0.5, 0.5]],
         [[1.625, -1.375, 0.25, 0.75]], [[-0.5, 0.25, 1.0, 0.5]]]
    b = [[0.375], [0.125], [-0.125], [5.0]]  # 5.0 saturates to 1.75
    run, ref = _compare("q2.2", W, b, [x, [1.9, -2.4, 0.0]], [0.625], [1.375])
    assert sum(ref.saturated["b"]) == 1 and sum(ref.saturated["x"]) == 2  # 1.9, -2.4
    assert any(ref.saturated["preactivation"])  # the sums pass 1.75 or -2 too
    # ties inside the recurrence too (a sum or product exactly halfway between two codes),
    # where lstmcalc rounded as the reference did (above)
    assert ref.ties >= 2, ref.ties
    assert F == ref.F


@pytest.mark.parametrize("gates", ["hard_sigmoid", "hard_sigmoid_tf2"])
def test_fixed_point_with_hardware_activations_is_exact_at_ties(gates):
    """hard_sigmoid_tf2 (z / 6 + 1/2) meets a rounding tie where z's code is 3 mod 6 in true
    arithmetic; with 1/6 as a float64 it is just off the tie, and lstmcalc must land where the
    exact rational lands."""
    rng = np.random.default_rng(11)
    for fmt_name in ("q4.4", "q4.12", "q8.8"):
        W = rng.normal(0, 1, (4, 3, 5)).tolist()
        b = rng.normal(0, 1, (4, 3)).tolist()
        xs = rng.normal(0, 3, (6, 2)).tolist()
        _compare(fmt_name, W, b, xs, [0.1, -0.2, 0.3], [1.0, -1.5, 0.25],
                 acts=(gates, "tanh", "tanh"))
    fmt = formats.parse("q8.8")
    k = np.array([3, 9, -3, 300, -300, 0])
    codes = reduced._linear_piece(Activation("hard_sigmoid_tf2"), k, 8)
    ref = Reference(8, 8)
    assert codes.tolist() == [ref.activation("hard_sigmoid_tf2", int(v), "a") for v in k]
    assert fmt.highest == 32767


def test_fixed_point_with_wide_words_sums_exactly_in_python_integers():
    """q16.16: products of 32-bit codes pass 2^62, so the sum is in Python integers."""
    W = [[[30000.0, -30000.0, 20000.0]], [[1.0, 2.0, 3.0]], [[0.5, 0.25, 0.125]],
         [[-1.0, 1.0, 0.0]]]
    b = [[0.0], [0.0], [0.0], [0.0]]
    _compare("q16.16", W, b, [[30000.0, -30000.0], [1.5, 2.5]], [32767.0], [-3.0])
