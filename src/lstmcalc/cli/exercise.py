"""lstmcalc exercise: a problem with friendly numbers to work by hand, and its answer sheet."""

import os
from typing import Annotated

import typer

from lstmcalc import output
from lstmcalc.cli.app import app, reported
from lstmcalc.errors import UsageError


@app.command(short_help="A problem to work by hand, and its answer sheet.",
             epilog="""\b
Examples:
  lstmcalc exercise --seed 7 -o p7.yaml           p7.yaml, p7-answers.yaml
  lstmcalc step p7.yaml --expect p7-answers.yaml  check the filled sheet
  lstmcalc step p7.yaml --explain                 the worked solution""")
def exercise(
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, metavar="N",
                                      help="The same seed, the same problem.")] = 0,
    level: Annotated[int, typer.Option(
        "--level", min=1, max=4, metavar="1|2|3|4",
        help="1: sizes and the forget gate's z; 2: every z; 3: also activations and C_t; "
             "4: the whole step.")] = 2,
    input_size: Annotated[int, typer.Option("--input-size", "-m", min=1, max=12,
                                            help="m, the entries of x_t.")] = 3,
    hidden_size: Annotated[int, typer.Option("--hidden-size", "-n", min=1, max=12,
                                             help="n, the hidden units.")] = 3,
    span: Annotated[int, typer.Option("--range", min=1, max=99, metavar="R",
                                      help="Integers from -R to R.")] = 3,
    zeros: Annotated[bool, typer.Option("--zeros", help="Allow a pre-activation of 0.")] = False,
    target: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Write the problem here and the sheet beside it (FILE-answers.yaml).")] = None,
    answers: Annotated[str | None, typer.Option(
        "--answers", metavar="FILE", show_default=False,
        help="Write the answer sheet here.")] = None,
    key: Annotated[bool, typer.Option(
        "--key", help="The filled answer key instead of the blank sheet (for teachers).")] = False,
):
    """A config whose numbers are friendly for hand work, and an answer sheet in --expect's
    format with a _ for every number the level asks for (--key: filled in)."""
    with reported():
        from lstmcalc import exercise as problems
        from lstmcalc import files

        doc = problems.generate(seed, level, input_size, hidden_size, span, zeros)
        if target is not None and answers is None:
            stem, _ = os.path.splitext(target)
            answers = f"{stem}-{'key' if key else 'answers'}.yaml"
        if answers is not None and answers == target:
            raise UsageError("--answers and --output name the same file")
        config_name = os.path.basename(target) if target else "PROBLEM.yaml"
        sheet = problems.sheet_text(doc, seed, level,
                                    problems.key_truth(doc) if key else None, config_name)
        out = files.prepare({"config": target, "answers": answers}, [])
        text = problems.config_text(doc, seed, level)
        if target is None:
            output.write_out(text)
        else:
            out["config"].commit(text)
        if answers is not None:
            out["answers"].commit(sheet)
        elif key:
            raise UsageError("--key writes the answer key to --answers FILE (or beside -o)")
