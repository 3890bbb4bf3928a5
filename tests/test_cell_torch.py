"""The core against PyTorch's nn.LSTMCell: committed fixtures always, torch live when present."""

import json
import pathlib

import numpy as np
import pytest

from helpers import cell_from_torch
from lstmcalc.core import step

FIXTURES = json.loads((pathlib.Path(__file__).parent / "fixtures" / "torch_lstmcell.json")
                      .read_text())
TOL = 1e-12


def check(case):
    cell = cell_from_torch(case["weight_ih"], case["weight_hh"], case["bias_ih"], case["bias_hh"])
    s = step(cell, case["x"], case["h"], case["c"])
    np.testing.assert_allclose(s.h, case["h_next"], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(s.c, case["c_next"], rtol=TOL, atol=TOL)
    return max(np.abs(s.h - case["h_next"]).max(), np.abs(s.c - case["c_next"]).max())


@pytest.mark.parametrize("case", FIXTURES["cases"], ids=lambda c: f"m{c['m']}n{c['n']}")
def test_against_committed_pytorch_outputs(case):
    check(case)


@pytest.mark.parametrize("seed", range(10))
def test_against_pytorch_live(seed):
    torch = pytest.importorskip("torch")
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).parent / "fixtures"))
    from make_torch_fixtures import case

    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    batch = int(rng.integers(1, 5)) if seed % 2 else None
    check(case(1000 + seed, m, n, batch))
    assert torch.get_default_dtype() == torch.float32  # the fixture code asked for float64
