"""The choices the command line offers, as enums (shared by the CLI and what it calls)."""

import enum


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


class Loss(str, enum.Enum):
    sum = "sum"
    mse = "mse"


class Layout(str, enum.Enum):
    pytorch = "pytorch"
    keras = "keras"
    onnx = "onnx"
    tf1 = "tf1"
