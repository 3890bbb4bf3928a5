"""lstmcalc shapes, inspect, init and convert: sizes, templates and framework weights."""

import sys
from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.choices import DType, Format, Layout
from lstmcalc.cli.app import (
    ActivationsOpt,
    ConfigArg,
    ForgetBiasOpt,
    FormatOpt,
    LayoutOpt,
    NameOpt,
    QuietOpt,
    MaxBytesOpt,
    app,
    load_spec,
    reported,
)
from lstmcalc.document import MAX_BYTES
from lstmcalc.errors import UsageError, shown

MAX_TEMPLATE_WEIGHTS = 1_000_000  # about 16 MiB of YAML: the default input cap


@app.command(short_help="The size of every variable, and the parameters.",
             epilog="""\b
Examples:
  lstmcalc shapes                          the founding example: m = 3, n = 3
  lstmcalc shapes cfg.yaml
  lstmcalc shapes --input-size 10 --hidden-size 20""")
def shapes(
    config_path: ConfigArg = None,
    input_size: Annotated[int | None, typer.Option(
        "--input-size", "-m", min=1, max=100_000, show_default=False,
        help="m, the entries of x_t (instead of a config).")] = None,
    hidden_size: Annotated[int | None, typer.Option(
        "--hidden-size", "-n", min=1, max=100_000, show_default=False,
        help="n, the hidden units (instead of a config).")] = None,
    fmt: FormatOpt = Format.auto,
    layout: LayoutOpt = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    name: NameOpt = None,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """The size of every variable, the parameter count, and whether C_t and h_t match."""
    with reported():
        sizes_given = input_size is not None or hidden_size is not None
        if sizes_given and config_path is not None:
            raise UsageError("give a CONFIG or --input-size and --hidden-size, not both")
        if sizes_given and (input_size is None or hidden_size is None):
            raise UsageError("--input-size and --hidden-size go together")
        from lstmcalc import reports

        if sizes_given:
            report = reports.shapes_report(m=input_size, n=hidden_size)
        else:
            spec = load_spec(config_path, max_input_bytes, layout, forget_bias, activations, name,
                             lengths_ok=True)
            if spec.is_stack:
                report = reports.stack_shapes_report(spec.stack_cells("float64"),
                                                     spec.directions, spec.source)
            else:
                report = reports.shapes_report(spec.cell, output_layer=spec.output,
                                               source=spec.source)
        output.emit(report, output.resolve(fmt))


@app.command(short_help="Every LSTM in a weight file, and what else it holds.",
             epilog="""\b
Examples:
  lstmcalc inspect checkpoint.pt       each LSTM's name (for --name), sizes
  lstmcalc inspect model.onnx -f json  a list of objects, one per LSTM""")
def inspect(
    source: Annotated[str, typer.Argument(
        metavar="FILE", help="A weight file (.pt, .pth, .npz, .safetensors, .keras, .h5, .onnx).",
        show_default=False)],
    fmt: FormatOpt = Format.auto,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Every LSTM a weight file holds: its name (for --name), layout, input_size, hidden_size,
    layers, directions, projection, variants and dtype; and the file's other contents."""
    with reported():
        from lstmcalc import frameworks, reports
        from lstmcalc.document import WEIGHT_SUFFIXES, is_weights_file

        if not is_weights_file(source):
            raise UsageError(f"{shown(source)}: inspect reads weight files "
                             f"({', '.join(WEIGHT_SUFFIXES)}); `lstmcalc shapes` shows a "
                             "config's sizes")
        found = frameworks.inspect(source, max_input_bytes)
        report = reports.InspectReport(found[0], found[1], tuple(found[2]), tuple(found[3]))
        output.emit(report, output.resolve(fmt))


@app.command(short_help="A commented config template to fill in.",
             epilog="""\b
Examples:
  lstmcalc init -m 4 -n 2 -o my.yaml       a template to fill in
  lstmcalc init --random --seed 1 | lstmcalc step -""")
def init(
    input_size: Annotated[int, typer.Option(
        "--input-size", "-m", min=1, max=10_000, help="m, the entries of x_t.")] = 3,
    hidden_size: Annotated[int, typer.Option(
        "--hidden-size", "-n", min=1, max=10_000, help="n, the hidden units.")] = 3,
    random: Annotated[bool, typer.Option(
        "--random", help="Fill in random values (weights as PyTorch initialises them) instead "
                         "of zeros.")] = False,
    seed: Annotated[int | None, typer.Option(
        "--seed", metavar="N", min=0, max=2**63 - 1, show_default=False,
        help="Seed for --random (default 0); the same seed, the same config.")] = None,
    target: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Write here (atomically) instead of to stdout.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="With -o: replace an existing file.")] = False,
):
    """Write a commented config template: zeros to fill in, or seeded random values."""
    with reported():
        import os

        import numpy as np

        from lstmcalc import files
        from lstmcalc.errors import OutputError
        from lstmcalc.template import config_text

        if seed is not None and not random:
            raise UsageError("--seed goes with --random")
        if force and target is None:
            raise UsageError("--force goes with --output")
        weights = 4 * hidden_size * (input_size + hidden_size)
        if weights > MAX_TEMPLATE_WEIGHTS:
            raise UsageError(f"-m {input_size} -n {hidden_size} makes {weights:,} weights; a "
                             f"template holds at most {MAX_TEMPLATE_WEIGHTS:,} (a config that "
                             "size is about the largest lstmcalc reads back by default)")
        rng = np.random.default_rng(0 if seed is None else seed) if random else None
        text = config_text(input_size, hidden_size, rng)
        if target is None:
            output.write_out(text)
            return
        if os.path.exists(target) and not force:
            raise OutputError("exists; refusing to replace it (use --force)", target)
        files.prepare({"out": target}, [])["out"].commit(text)


@app.command(short_help="Weights between PyTorch, Keras, ONNX, TF1, configs.",
             epilog="""\b
Examples:
  lstmcalc convert lstm.pt --to keras -o keras.npz
  lstmcalc convert keras.npz --from keras --to yaml -o cell.yaml
  lstmcalc convert cell.yaml --to onnx -o cell.onnx
  lstmcalc convert tf1.npz --from tf1 --forget-bias 1.0 --to pytorch \\
      -o torch.npz""")
def convert(
    source: Annotated[str, typer.Argument(
        metavar="SRC", help="A framework weight file (.pt, .npz, .safetensors, .keras, .h5, "
                            ".onnx) or a config (YAML, JSON).", show_default=False)],
    to: Annotated[str, typer.Option(
        "--to", metavar="LAYOUT|yaml|json",
        help="pytorch, keras, onnx or tf1 (written as .npz with that framework's names, or as "
             ".pt / .onnx by the -o suffix), or a yaml or json config.", show_default=False)],
    from_: Annotated[Layout | None, typer.Option(
        "--from", show_default=False,
        help="The layout of SRC when its names do not tell (a weight file only).")] = None,
    forget_bias: ForgetBiasOpt = None,
    activations: ActivationsOpt = None,
    name: NameOpt = None,
    dtype: Annotated[DType, typer.Option(
        "--dtype", help="The stored type of a .npz, .pt or .onnx: float64 keeps every weight "
                        "exactly; float32 rounds each once (ONNX Runtime's LSTM runs float32 "
                        "only).")] = DType.float64,
    target: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Write here (atomically); text formats go to stdout without it.")] = None,
    quiet: QuietOpt = False,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Convert LSTM weights between PyTorch, Keras, ONNX, TF1 and lstmcalc configs."""
    with reported():
        from lstmcalc import files, frameworks, layouts

        kinds = (*layouts.LAYOUTS, "yaml", "json")
        if to not in kinds:
            raise UsageError(f"--to {to!r}: choose from {', '.join(kinds)}")
        data_files = frameworks.onnx_data_files(source) if source.lower().endswith(".onnx") \
            else []
        out = files.prepare({"out": target}, [source, *data_files])
        import os

        big = source != "-" and os.path.isfile(source) and os.path.getsize(source) >= 10 << 20
        with output.progress("convert", big and output.progress_wanted(quiet)):
            spec = load_spec(source, max_input_bytes, from_, forget_bias, activations, name,
                             lengths_ok=True)
        stack = spec.stack if spec.stack is not None else [[spec.weights]]
        directions = spec.directions
        data: str | bytes
        if to in ("yaml", "json"):
            if dtype is not DType.float64:
                raise UsageError(f"--dtype is for .npz, .pt and .onnx; a {to} config holds "
                                 "the weights as decimals, each exact")
            data = frameworks.config_text(stack, directions, shown(source),
                                          as_json=to == "json")
        else:
            suffix = (target or "").lower()
            if to == "pytorch" and suffix.endswith((".pt", ".pth")):
                data = frameworks.pt_bytes(stack, directions, dtype.value)
            elif to == "onnx" and suffix.endswith(".onnx"):
                data = frameworks.onnx_bytes(stack, directions, dtype.value)
            elif to == "keras" and suffix.endswith(".weights.h5"):
                from lstmcalc import kerasfile

                data = kerasfile.weights_h5(stack, directions, dtype.value)
            elif target is None or suffix.endswith(".npz"):
                data = frameworks.save_npz(to, stack, directions, dtype.value)
                if target is None and output.stdout_is_terminal():
                    raise UsageError("a .npz is binary: give -o FILE.npz (or pipe stdout)")
            else:
                raise UsageError(f"-o {target}: --to {to} writes .npz"
                                 + {"pytorch": ", .pt or .pth", "onnx": " or .onnx",
                                    "keras": " or .weights.h5"}.get(to, ""))
            biased = [w.forget_bias for layer in stack for w in layer if w.forget_bias]
            if biased and to != "tf1":
                sys.stderr.write(f"lstmcalc: note: the forget bias {biased[0]} is "
                                 f"added to the forget gate's b for {to}\n")
        if target is None:
            if isinstance(data, bytes):
                sys.stdout.flush()
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            else:
                output.write_out(data)
        else:
            out["out"].commit(data)
