"""The choices the command line offers, as enums (shared by the CLI and what it calls)."""

import dataclasses
import enum


# What --fields may name: the keys of a step object (t is always kept).
FIELDS = ("x", "h_prev", "c_prev", "concatenated", "gates", "forget", "input", "candidate",
          "output", "forget_times_c_prev", "input_times_candidate", "c", "tanh_c", "h", "y")

# grad refuses CSV, before any work (the CLI) and in the renderer (reports used from Python)
GRAD_FORMATS = "grad writes table, json or yaml (its gradients are nested)"


class Format(str, enum.Enum):
    auto = "auto"
    table = "table"
    json = "json"
    jsonl = "jsonl"
    yaml = "yaml"
    csv = "csv"


class View(str, enum.Enum):
    table = "table"
    heatmap = "heatmap"


class InputFormat(str, enum.Enum):
    csv = "csv"
    tsv = "tsv"
    txt = "txt"
    jsonl = "jsonl"
    json = "json"
    yaml = "yaml"
    npy = "npy"


class DType(str, enum.Enum):
    float64 = "float64"
    float32 = "float32"


class CompareTo(str, enum.Enum):
    float64 = "float64"


class Loss(str, enum.Enum):
    sum = "sum"
    mse = "mse"


class Layout(str, enum.Enum):
    pytorch = "pytorch"
    keras = "keras"
    onnx = "onnx"
    tf1 = "tf1"


@dataclasses.dataclass(frozen=True)
class Show:
    """How a report is shown: the options that choose a view, never what is computed."""

    precision: int = 4
    rows: int = 20  # steps shown in a table
    fields: frozenset[str] | None = None  # keys kept in machine formats
    view: View = View.table
    explain: bool = False
    derivatives: bool = False
    diagram: bool = False
    title: str = "lstmcalc"  # of an SVG or HTML copy of the table
    hex: bool = False  # a narrow format's words in hex, beside the values
