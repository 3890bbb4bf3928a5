"""Ragged batches: each sequence stops at its own length (ONNX's sequence_lens, PyTorch's packed
sequences), against ONNX Runtime, PyTorch, and each sequence run alone."""

import json

import numpy as np
import pytest

from helpers import cell_from_torch, run_main
from lstmcalc.core import Cell, stack_unroll, unroll
from lstmcalc.errors import DataError, ShapeError

T, B, M, N = 6, 4, 3, 2
LENGTHS = [6, 2, 0, 5]


def _cells(rng, count):
    return [Cell(rng.normal(0, 0.8, (4, N, M + N)), rng.normal(0, 0.5, (4, N)))
            for _ in range(count)]


@pytest.mark.parametrize("directions", [("forward",), ("reverse",), ("forward", "reverse")])
def test_a_ragged_batch_is_each_sequence_run_alone(directions):
    """The definition, with no peer: sequence b is x[:L_b, b], read forward or from its end;
    the output is 0 past L_b; the final state is the sequence's last (0 when L_b = 0). Alone,
    a sequence's products take another BLAS path than in a batch: equal to the last bit or
    two."""
    rng = np.random.default_rng(3)
    cells = _cells(rng, len(directions))
    xs = rng.normal(0, 1, (T, B, M))
    h0 = rng.normal(0, 0.5, (len(directions), B, N))
    c0 = rng.normal(0, 0.5, (len(directions), B, N))
    sr = stack_unroll([cells], directions, xs, h0, c0, LENGTHS)
    out = sr.output[-1].reshape(T, B, len(directions), N)
    for d, (cell, direction) in enumerate(zip(cells, directions)):
        for b, length in enumerate(LENGTHS):
            mine_h, mine_c = np.asarray(sr.final_h)[d, b], np.asarray(sr.final_c)[d, b]
            if length == 0:
                assert not out[:, b, d].any() and not mine_h.any() and not mine_c.any()
                continue
            seq = xs[:length, b]
            alone = unroll(cell, seq[::-1] if direction == "reverse" else seq, h0[d, b],
                           c0[d, b])
            hs = alone.h[::-1] if direction == "reverse" else alone.h
            np.testing.assert_allclose(out[:length, b, d], hs, rtol=0, atol=1e-15)
            assert not out[length:, b, d].any()
            np.testing.assert_allclose(mine_h, alone.h[-1], rtol=0, atol=1e-15)
            np.testing.assert_allclose(mine_c, alone.c[-1], rtol=0, atol=1e-15)
    run = sr.runs[0][0]
    assert run.padded is not None and run.padded.shape == (T, B)
    assert run.padded[:, 2].all() and not run.padded[:, 0].any()


def test_lengths_are_checked():
    cell = _cells(np.random.default_rng(0), 1)
    xs = np.zeros((T, B, M))
    for lengths, error, message in [
            ([1, 2], ShapeError, "2 sequence lengths for a batch of 4"),
            ([1, 2, 3, 7], DataError, r"must lie in 0\.\.6"),
            ([1, 2, 3, -1], DataError, r"must lie in 0\.\.6"),
            ([1, 2.5, 3, 4], DataError, "whole numbers")]:
        with pytest.raises(error, match=message):
            stack_unroll([cell], ("forward",), xs, lengths=lengths)
    with pytest.raises(ShapeError, match=r"need a batch of inputs \(T, B, m\)"):
        stack_unroll([cell], ("forward",), np.zeros((T, M)), lengths=[3])


def _onnx_file(path, direction, lengths, runtime=False, seed=0):
    """A float32 ONNX model with one LSTM node (sequence_lens an initializer, or a graph
    input), and ONNX Runtime's Y, Y_h, Y_c on random inputs."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    arrays = {"W": rng.normal(0, 1, (D, 4 * N, M)), "R": rng.normal(0, 1, (D, 4 * N, N)),
              "B": rng.normal(0, 1, (D, 8 * N)), "initial_h": rng.normal(0, 1, (D, B, N)),
              "initial_c": rng.normal(0, 1, (D, B, N))}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in arrays.items()]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, M])]
    if runtime:
        graph_inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [B]))
    else:
        inits.append(numpy_helper.from_array(np.array(lengths, np.int32), "lens"))
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "lens", "initial_h", "initial_c"],
                            ["Y", "Y_h", "Y_c"], hidden_size=N, direction=direction)
    graph = helper.make_graph([node], "g", graph_inputs, [
        helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ("Y", "Y_h", "Y_c")],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.save(model, path)
    xs = rng.normal(0, 1, (T, B, M)).astype(np.float32)
    feed = {"X": xs, **({"lens": np.array(lengths, np.int32)} if runtime else {})}
    return xs, ort.InferenceSession(str(path)).run(None, feed)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_onnx_sequence_lens_as_onnx_runtime_runs_it(tmp_path, direction):
    path = tmp_path / "m.onnx"
    xs, (Y, Y_h, Y_c) = _onnx_file(path, direction, LENGTHS)
    np.save(tmp_path / "xs.npy", xs.astype(np.float64))
    result = run_main("unroll", path, "-i", tmp_path / "xs.npy", "-f", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["lengths"] == LENGTHS
    D = 2 if direction == "bidirectional" else 1
    mine = np.array(out["output"]).reshape(T, B, D, N).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(mine, Y, atol=2e-6)
    h = np.array(out["h"]).reshape(D, B, N)
    np.testing.assert_allclose(h, Y_h, atol=2e-6)
    np.testing.assert_allclose(np.array(out["c"]).reshape(D, B, N), Y_c, atol=2e-6)
    for layer in out["layers"]:  # a reverse run's steps: its own, each sequence's last last
        for s, step in enumerate(layer["steps"]):
            expect = [s >= length if layer["direction"] == "forward" else s < T - length
                      for length in LENGTHS]
            assert step["padded"] == expect
            for b in np.flatnonzero(expect):
                assert step["gates"]["forget"]["activation"][b] == [0.0, 0.0]
                assert step["gates"]["forget"]["saturation_gap"][b] == [1.0, 1.0]


def test_lengths_from_a_graph_input_come_with_lengths(tmp_path):
    path = tmp_path / "m.onnx"
    xs, (Y, Y_h, _) = _onnx_file(path, "forward", LENGTHS, runtime=True)
    np.save(tmp_path / "xs.npy", xs.astype(np.float64))
    result = run_main("unroll", path, "-i", tmp_path / "xs.npy")
    assert result.returncode == 2
    assert "sequence_lens is the graph input 'lens': give the lengths with --lengths" in \
        result.stderr.decode()
    result = run_main("unroll", path, "-i", tmp_path / "xs.npy", "--lengths", "6,2,0,5",
                      "-f", "json")
    np.testing.assert_allclose(np.array(json.loads(result.stdout)["h"]).reshape(1, B, N), Y_h,
                               atol=2e-6)
    own = tmp_path / "own.onnx"
    _onnx_file(own, "forward", LENGTHS)
    result = run_main("unroll", own, "-i", tmp_path / "xs.npy", "--lengths", "1,1,1,1")
    assert result.returncode == 2 and "this file gives its own" in result.stderr.decode()
    for command in (["step"], ["grad"], ["compare", own], ["vectors", "--dtype", "q4.12",
                                                         "-o", tmp_path / "tb"]):
        result = run_main(*command, own, "-i", tmp_path / "xs.npy")
        assert result.returncode == 2, command
        assert "has sequence_lens" in result.stderr.decode(), command


def test_lengths_on_a_config_batch_and_the_table_marks_the_steps_not_run(tmp_path):
    xs = np.random.default_rng(1).normal(0, 1, (4, 3, 3))
    np.save(tmp_path / "xs.npy", xs)
    result = run_main("unroll", "-i", tmp_path / "xs.npy", "--lengths", "4,1,3", "-f", "table",
                      env={"COLUMNS": "40"})
    text = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert "Sequence lengths 4, 1, 3: past its length" in " ".join(text.split())
    assert "2* " in text and all(len(line) <= 40 for line in text.splitlines())
    out = json.loads(run_main("unroll", "-i", tmp_path / "xs.npy", "--lengths", "4,1,3",
                              "-f", "json").stdout)
    from lstmcalc import config

    spec = config.load_builtin()
    alone = unroll(spec.cell, xs[:1, 1], spec.h, spec.c)
    np.testing.assert_allclose(out["h"][0][1], alone.h[-1], rtol=0, atol=1e-15)
    for bad, message in (("4,1", "2 sequence lengths for a batch of 3"),
                         ("4,x,1", "whole numbers separated by commas"),
                         ("4,1,9", r"must lie in 0..4")):
        result = run_main("unroll", "-i", tmp_path / "xs.npy", "--lengths", bad)
        assert result.returncode in (2, 65) and message in result.stderr.decode(), bad
    result = run_main("unroll", "-i", tmp_path / "xs.npy", "--lengths", "4,1,3",
                      "--dtype", "q4.12")
    assert result.returncode == 2 and "runs in float64 or float32" in result.stderr.decode()


def test_packed_sequences_in_pytorch_agree(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(4)
    lstm = torch.nn.LSTM(M, N, bidirectional=True, dtype=torch.float64)
    xs = torch.randn(T, B, M, dtype=torch.float64)
    lengths = [6, 2, 1, 5]  # PyTorch refuses a length of 0
    packed = pack_padded_sequence(xs, torch.tensor(lengths), enforce_sorted=False)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(packed)
    out, _ = pad_packed_sequence(out, total_length=T)
    p = {k: v.detach().numpy() for k, v in lstm.named_parameters()}
    cells = [cell_from_torch(p[f"weight_ih_l0{s}"], p[f"weight_hh_l0{s}"], p[f"bias_ih_l0{s}"],
                             p[f"bias_hh_l0{s}"]) for s in ("", "_reverse")]
    sr = stack_unroll([cells], ("forward", "reverse"), xs.numpy(), lengths=lengths)
    np.testing.assert_allclose(sr.output[-1], out.numpy(), atol=1e-14)
    np.testing.assert_allclose(sr.final_h, h_n.numpy(), atol=1e-14)
    np.testing.assert_allclose(sr.final_c, c_n.numpy(), atol=1e-14)


def test_the_committed_onnx_model_with_sequence_lens_against_onnx_runtime_s_outputs(tmp_path):
    """tests/fixtures/make_framework_fixtures.py onnx_ragged: the check holds where ONNX
    Runtime is not installed (reading the file needs onnx)."""
    import pathlib

    pytest.importorskip("onnx")
    folder = pathlib.Path(__file__).parent / "fixtures" / "frameworks"
    io = np.load(folder / "onnx_ragged_io.npz")
    np.save(tmp_path / "x.npy", io["x"].astype(np.float64))
    out = json.loads(run_main("unroll", folder / "onnx_ragged.onnx", "-i", tmp_path / "x.npy",
                              "-f", "json").stdout)
    T_, B_ = io["x"].shape[:2]
    assert out["lengths"] == [5, 2, 0]
    y = np.array(out["output"]).reshape(T_, B_, 2, -1).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(y, io["Y"], atol=2e-6)
    np.testing.assert_allclose(np.array(out["h"]), io["Y_h"], atol=2e-6)
    np.testing.assert_allclose(np.array(out["c"]), io["Y_c"], atol=2e-6)


def test_a_ragged_run_keeps_the_gaps_its_steps_computed():
    """1 - |a|, 1 - |tanh C| and 1 - |h| where a sequence ran are the run's own, computed
    without cancellation (a saturated gate's 1e-30 is kept, not rounded to 0); where it did
    not run, the gates and tanh C are 0, so 1 from their bound."""
    rng = np.random.default_rng(8)
    cell = Cell(rng.normal(0, 8, (4, N, M + N)), rng.normal(0, 8, (4, N)))  # saturating
    xs = rng.normal(0, 3, (T, B, M))
    for direction in ("forward", "reverse"):
        run = stack_unroll([[cell]], (direction,), xs, lengths=LENGTHS).runs[0][0]
        for b, length in enumerate(LENGTHS):
            if length == 0:
                assert (run.a_gap[:, b] == 1).all() and (run.tanh_c_gap[:, b] == 1).all()
                continue
            seq = xs[:length, b]
            alone = unroll(cell, seq[::-1] if direction == "reverse" else seq)
            shown = ~run.padded[:, b]
            assert shown.sum() == length
            assert (alone.a_gap < 1e-12).any()  # saturated somewhere: the check has teeth
            for mine, theirs in ((run.a_gap, alone.a_gap), (run.tanh_c_gap, alone.tanh_c_gap),
                                 (run.h_gap, alone.h_gap)):
                np.testing.assert_allclose(mine[shown, b], theirs, rtol=1e-12, atol=0)
            assert (run.a_gap[~shown, b] == 1).all()
