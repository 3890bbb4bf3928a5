"""lstmcalc vectors: test vectors for a hardware testbench, in a narrow number format."""

import os
from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.cli.app import (
    ActivationsOpt,
    ArithmeticOpt,
    BatchFirstOpt,
    ConfigArg,
    InputFormatOpt,
    InputsOpt,
    LayoutOpt,
    MaxBytesOpt,
    NameOpt,
    app,
    given_sequence,
    load_spec,
    reported,
    stdin_once,
)
from lstmcalc.document import MAX_BYTES
from lstmcalc.errors import OutputError, UsageError


@app.command(short_help="Test vectors for a testbench: every signal's words, per step.",
             epilog="""\b
Examples:
  lstmcalc vectors --dtype q4.12 -o tb/          the founding example, one step
  lstmcalc vectors cfg.yaml -i xs.csv --dtype q8.8 -o tb/
  lstmcalc vectors model.pt -i xs.npy --dtype bfloat16 -o tb/
Each signal gets SIGNAL.hex ($readmemh: a line per step, unit 1 first), SIGNAL.npy,
and all of them vectors.h and manifest.json; docs/hardware.md says where each is rounded.""")
def vectors(
    config_path: ConfigArg = None,
    inputs: InputsOpt = None,
    input_format: InputFormatOpt = None,
    batch_first: BatchFirstOpt = False,
    dtype: ArithmeticOpt = "",
    folder: Annotated[str, typer.Option(
        "--output", "-o", metavar="DIR", show_default=False,
        help="The folder to write into (made if missing); files of the same names in it are "
             "replaced.")] = "",
    layout: LayoutOpt = None,
    activations: ActivationsOpt = None,
    name: NameOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Write test vectors: x, h_{t-1}, C_{t-1}, each gate's z and activation, f⊙C, i⊙g, C_t,
    tanh(C_t) and h_t at every step, and the weights, as words of a narrow format."""
    with reported():

        from lstmcalc import core, files
        from lstmcalc.core import formats
        from lstmcalc import vectors as writer

        if not dtype:
            raise UsageError("give --dtype: float16, bfloat16 or fixed point qI.F (e.g. q4.12)")
        if formats.parse(dtype) is None:
            raise UsageError(f"--dtype {dtype}: vectors are words of a narrow format: "
                             "float16, bfloat16 or qI.F")
        if not folder:
            raise UsageError("give -o DIR: the folder the vectors go into")
        stdin_once(**{"CONFIG": config_path, "--inputs": inputs})
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise OutputError("is not a folder", folder)
        spec = load_spec(config_path, max_input_bytes, layout, None, activations, name)
        cell = spec.cell_in(dtype)  # refuses a stack, naming why
        xs = given_sequence(spec, inputs, input_format and input_format.value, batch_first,
                            max_input_bytes)
        run = core.unroll(cell, xs, spec.h, spec.c)
        written = writer.files(run, spec.source)
        os.makedirs(folder, exist_ok=True)
        out = files.prepare({name: os.path.join(folder, name) for name in written},
                            [config_path, inputs])
        for key, data in written.items():
            out[key].commit(data)
        output.write_out(f"wrote {len(written)} files to {folder}: {run.T} step"
                         f"{'s' if run.T != 1 else ''} in {dtype}, {len(written) // 2 - 1} "
                         "signals (.hex, .npy), vectors.h, manifest.json\n")
