"""The start-up floor of this stack for table output: a minimal Typer app that loads a YAML file
with PyYAML and prints one Rich table. benchmarks/startup.py times lstmcalc against it."""

from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False)


@app.command()
def main(config: Annotated[str, typer.Argument()], fmt: Annotated[str, typer.Option("--format")]
         = "table"):
    with open(config) as f:
        data = yaml.safe_load(f)
    table = Table(title="keys")
    table.add_column("key")
    for key in sorted(data):
        table.add_row(key)
    Console().print(table)


if __name__ == "__main__":
    app()
