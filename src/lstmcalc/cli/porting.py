"""lstmcalc compare: do two weight files compute the same thing, and if not, why."""

from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.choices import Format, Layout
from lstmcalc.cli.app import FormatOpt, MaxBytesOpt, app, load_spec, reported
from lstmcalc.document import MAX_BYTES, display_name
from lstmcalc.errors import ExitStatus, UsageError

DEFAULT_STEPS = 8


NameA = Annotated[str | None, typer.Option(
    "--name-a", metavar="NAME", show_default=False, help="Which LSTM of A, of several.")]
NameB = Annotated[str | None, typer.Option(
    "--name-b", metavar="NAME", show_default=False, help="Which LSTM of B, of several.")]
LayoutA = Annotated[Layout | None, typer.Option(
    "--layout-a", show_default=False, help="The layout of A when its names do not tell.")]
LayoutB = Annotated[Layout | None, typer.Option(
    "--layout-b", show_default=False, help="The layout of B when its names do not tell.")]


@app.command(short_help="Do two weight files agree? Where not, which porting slip.",
             epilog="""\b
Examples:
  lstmcalc compare model.pt port.keras         seeded random inputs
  lstmcalc compare a.onnx b.npz -i x.npy --tolerance 1e-5""")
def compare(
    a: Annotated[str, typer.Argument(metavar="A", help="The reference: a weight file or a "
                                     "config.", show_default=False)],
    b: Annotated[str, typer.Argument(metavar="B", help="The port to check against A.",
                                     show_default=False)],
    inputs: Annotated[str | None, typer.Option(
        "--inputs", "-i", metavar="FILE", show_default=False,
        help="x_1..x_T for both (a .npy, .csv, ... as unroll reads); by default --steps "
             "random steps from --seed.")] = None,
    steps: Annotated[int, typer.Option(
        "--steps", min=1, max=100_000, metavar="T",
        help="How many random steps, without --inputs.")] = DEFAULT_STEPS,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, metavar="N", help="The seed of the random inputs.")] = 0,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0, metavar="X",
        help="The largest |difference| of any output or final C that still agrees.")] = 1e-6,
    name_a: NameA = None,
    name_b: NameB = None,
    layout_a: LayoutA = None,
    layout_b: LayoutB = None,
    fmt: FormatOpt = Format.auto,
    max_input_bytes: MaxBytesOpt = MAX_BYTES,
):
    """Run A and B on the same inputs from zero state and report where they part: per step,
    gate and unit. When they do, test the usual porting mistakes on the weights (gate order,
    a kernel not transposed, a bias missing or counted twice, a forget bias of +1, [h, x] for
    [x, h], a reversed direction, float32 rounding) and say which explains it. Exit 0 when
    they agree within --tolerance, 1 when not."""
    with reported():
        import numpy as np

        from lstmcalc import porting, reports, sequences

        specs = [load_spec(path, max_input_bytes, layout, name=name)
                 for path, layout, name in ((a, layout_a, name_a), (b, layout_b, name_b))]
        stacks = [s.stack if s.stack is not None else [[s.weights]] for s in specs]
        m = stacks[0][0][0].sizes[0]
        if stacks[1][0][0].sizes[0] != m:
            raise UsageError(f"A reads x of {m} entries and B of {stacks[1][0][0].sizes[0]}: "
                             "they cannot run on the same inputs")
        if inputs is not None:
            xs = sequences.read(inputs, None, False, m, max_input_bytes)
            if xs.ndim != 2:
                raise UsageError("compare runs one sequence (T, m): give a 2-d --inputs")
            said = f"inputs {display_name(inputs)} ({xs.shape[0]} steps)"
        else:
            xs = np.random.default_rng(seed).normal(size=(steps, m))
            said = f"{steps} random steps (normal, --seed {seed})"
        said += ", zero initial state"
        cells = [[[w.cell() for w in layer] for layer in stack] for stack in stacks]
        agreement = porting.agreement(cells[0], specs[0].directions, cells[1],
                                      specs[1].directions, xs, tolerance)
        findings: list = []
        if not agreement.agree:
            findings = _diagnose(stacks, specs)
        report = reports.CompareReport(specs[0].source, specs[1].source, said, agreement,
                                       tuple(findings))
        output.emit(report, output.resolve(fmt))
        if not agreement.agree:
            raise typer.Exit(int(ExitStatus.DIFFERENCES))


def _diagnose(stacks, specs) -> list:
    """Findings for each pair of cells (layer k, direction d) that both have."""
    from lstmcalc import porting
    from lstmcalc.core.stacks import per_layer

    out = []
    layers = min(len(stacks[0]), len(stacks[1]))
    if len(stacks[0]) != len(stacks[1]):
        out.append(("", porting.Finding(
            "layers", f"A has {len(stacks[0])} layers and B {len(stacks[1])}", float("inf"))))
    dirs = [per_layer(spec.directions, len(stack)) for spec, stack in zip(specs, stacks)]
    single = layers == 1 and len(stacks[0][0]) == len(stacks[1][0]) == 1
    for k in range(layers):
        for d in range(min(len(stacks[0][k]), len(stacks[1][k]))):
            label = "" if single else f"layer {k + 1}, {dirs[0][k][d]}"
            for finding in porting.diagnose(stacks[0][k][d], stacks[1][k][d], dirs[0][k][d],
                                            dirs[1][k][d], specs[1].layout, specs[0].layout):
                out.append((label, finding))
    return out
