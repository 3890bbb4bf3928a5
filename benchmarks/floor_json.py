"""The start-up floor of this stack for machine output: a minimal Typer app that loads a YAML
file with PyYAML and prints one JSON line. benchmarks/startup.py times lstmcalc against it."""

import json
from typing import Annotated

import typer
import yaml

app = typer.Typer(add_completion=False)


@app.command()
def main(config: Annotated[str, typer.Argument()], fmt: Annotated[str, typer.Option("--format")]
         = "json"):
    with open(config) as f:
        data = yaml.safe_load(f)
    print(json.dumps({"keys": sorted(data)}))


if __name__ == "__main__":
    app()
