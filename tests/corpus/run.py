"""Record what lstmcalc writes over a corpus of configs, and compare two recordings byte for byte.

    python tests/corpus/run.py record DIR     run every case, write DIR/<case>.out (+ .err, .rc)
    python tests/corpus/run.py compare A B    list the cases whose bytes differ (exit 1 if any)

A tool for moving code without changing behaviour: record before, record after, compare. The
cases cover single cells, every variant, projections, stacks, float32, batches and streams, in
every machine format, plus tables at a fixed width.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import VARIANT_KEYS  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures" / "frameworks"


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _configs(work: pathlib.Path) -> dict[str, str]:
    base = yaml.safe_load((ROOT / "configs" / "founding.yaml").read_text())
    rng = np.random.default_rng(7)

    def cell(m, n, p=None, **extra):
        r = n if p is None else p
        gates = {g: {"W": np.round(rng.normal(0, 0.5, (n, m + r)), 3).tolist(),
                     "b": np.round(rng.normal(0, 0.5, n), 3).tolist()}
                 for g in ("forget", "input", "candidate", "output")}
        out = {"gates": gates, **extra}
        if p is not None:
            out["projection"] = {"W": np.round(rng.normal(0, 0.5, (p, n)), 3).tolist()}
        return out

    seq = np.round(rng.normal(0, 1, (6, 3)), 3).tolist()
    variants = {**VARIANT_KEYS, "forget_bias": {"forget_bias": 1.0}}
    out = {"founding": dict(base)}
    for name, extra in variants.items():
        out[name] = {**base, **extra}
    coupled = {k: v for k, v in base.items()}
    coupled["gates"] = {k: v for k, v in base["gates"].items() if k != "forget"}
    out["coupled"] = {**coupled, "coupled": True}
    out["hx"] = {**base, "concat": ["h", "x"]}
    out["batch"] = {**base, "x": [[1, 2, 3], [0, -1, 0.5]], "h": [[4, 5, 6], [0, 0, 0]]}
    out["projection"] = {"x": seq[0], "sequence": seq, "c": [0.1, -0.2, 0.3, 0.0],
                         **cell(3, 4, p=2)}
    out["output_layer"] = {**base, "output_layer": {"W": [[1, -1, 0.5], [0.2, 0.2, 0.2]],
                                                    "activation": "softmax"}}
    out["stack"] = {"x": seq[0], "sequence": seq, "layers": [cell(3, 4), cell(4, 4)]}
    out["bidirectional"] = {"x": seq[0], "sequence": seq, "direction": "bidirectional",
                            "layers": [{"forward": cell(3, 3), "reverse": cell(3, 3)},
                                       {"forward": cell(6, 3), "reverse": cell(6, 3)}]}
    out["reverse"] = {"x": seq[0], "sequence": seq, "direction": "reverse",
                      "layers": [cell(3, 3)]}
    paths = {}
    for name, doc in out.items():
        path = work / f"{name}.yaml"
        path.write_text(yaml.dump(doc, Dumper=_NoAliases, sort_keys=False))
        paths[name] = str(path)
    for name in ("pytorch_stack.pt", "pytorch_proj.pt", "onnx_variants.onnx", "keras.npz"):
        paths[name] = str(FIXTURES / name)
    return paths


def _cases(work: pathlib.Path):
    """(name, argv, stdin bytes or None)."""
    configs = _configs(work)
    xs = work / "xs.csv"
    xs.write_text("x1,x2,x3\n1,2,3\n0,1,0\n-1,0,1\n0.5,0.5,0.5\n0,0,0\n")
    xs_jsonl = work / "xs.jsonl"
    xs_jsonl.write_text("[1,2,3]\n[0,1,0]\n[-1,0,1]\n")
    for name, path in configs.items():
        framework = not path.endswith(".yaml")
        m_inputs = []
        if framework:
            m = {"pytorch_stack.pt": 3, "pytorch_proj.pt": 3, "onnx_variants.onnx": 3,
                 "keras.npz": 3}.get(name)
            rows = np.round(np.random.default_rng(1).normal(0, 1, (4, m)), 3)
            f = work / f"{name}.inputs.csv"
            f.write_text("\n".join(",".join(map(repr, r)) for r in rows.tolist()) + "\n")
            one = work / f"{name}.one.csv"
            one.write_text(",".join(map(repr, rows[0].tolist())) + "\n")
            m_inputs = ["-i", str(f)]
            step_inputs = ["-i", str(one)]
        else:
            step_inputs = []
        for fmt in ("json", "jsonl", "yaml", "csv"):
            yield f"{name}.step.{fmt}", ["step", path, "-f", fmt, *step_inputs], None
            yield f"{name}.step.{fmt}.f32", ["step", path, "-f", fmt, "--dtype", "float32",
                                             *step_inputs], None
            seq_args = m_inputs or ["-i", str(xs)]
            yield f"{name}.unroll.{fmt}", ["unroll", path, "-f", fmt, *seq_args], None
            yield f"{name}.unroll.{fmt}.final", ["unroll", path, "-f", fmt, "--final",
                                                 *seq_args], None
        for fmt in ("json", "yaml"):
            yield f"{name}.grad.{fmt}", ["grad", path, "-f", fmt, *(m_inputs or [])], None
        yield f"{name}.step.table", ["step", path, "-f", "table", *step_inputs], None
        yield f"{name}.unroll.table", ["unroll", path, "-f", "table",
                                       *(m_inputs or ["-i", str(xs)])], None
        yield f"{name}.grad.table", ["grad", path, "-f", "table", *(m_inputs or [])], None
        yield f"{name}.shapes", ["shapes", path], None
        yield f"{name}.shapes.json", ["shapes", path, "-f", "json"], None
    founding = configs["founding"]
    stream = xs_jsonl.read_bytes()
    yield "stream.jsonl", ["unroll", founding, "-i", "-", "-f", "jsonl"], stream
    yield "stream.csv", ["unroll", founding, "-i", "-", "-f", "csv"], stream
    yield "stream.final", ["unroll", founding, "-i", "-", "-f", "json", "--final"], stream
    yield "file.jsonl", ["unroll", founding, "-i", str(xs_jsonl), "-f", "jsonl"], None
    yield "step.extras", ["step", founding, "-f", "json", "--derivatives", "--stochastic",
                          "--seed", "3"], None
    yield "step.explain", ["step", founding, "-f", "table", "--explain", "--derivatives",
                           "--diagram", "--stochastic"], None
    yield "unroll.stochastic", ["unroll", founding, "-f", "jsonl", "--stochastic"], None
    yield "unroll.heatmap", ["unroll", founding, "-f", "table", "--view", "heatmap"], None
    yield "grad.heatmap", ["grad", founding, "-f", "table", "--view", "heatmap"], None
    yield "grad.check", ["grad", founding, "-f", "json", "--check"], None
    yield "unroll.fields", ["unroll", founding, "-f", "jsonl", "--fields", "h,c,forget"], None


def record(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "_inputs"
    work.mkdir(exist_ok=True)
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    exe = [sys.executable, "-m", "lstmcalc"]
    from concurrent.futures import ThreadPoolExecutor

    def run(case):
        name, argv, stdin = case
        return name, subprocess.run(exe + argv, input=stdin, capture_output=True, env=env,
                                    stdin=None if stdin is not None else subprocess.DEVNULL)

    count = 0
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        results = list(pool.map(run, _cases(work)))
    for name, r in results:
        # paths differ between recordings: keep them out of what is compared
        text = r.stdout.replace(str(work).encode(), b"<work>").replace(
            str(FIXTURES).encode(), b"<fixtures>")
        err = r.stderr.replace(str(work).encode(), b"<work>").replace(
            str(FIXTURES).encode(), b"<fixtures>")
        (out / f"{name}.out").write_bytes(text)
        (out / f"{name}.err").write_bytes(err + f"\nstatus {r.returncode}\n".encode())
        count += 1
    print(f"recorded {count} cases in {out}")


def compare(a: pathlib.Path, b: pathlib.Path) -> int:
    names = sorted({p.name for p in a.glob("*.out")} | {p.name for p in b.glob("*.out")}
                   | {p.name for p in a.glob("*.err")} | {p.name for p in b.glob("*.err")})
    differ = [n for n in names
              if not (a / n).exists() or not (b / n).exists()
              or (a / n).read_bytes() != (b / n).read_bytes()]
    for n in differ:
        print(f"differs: {n}")
    print(f"{len(names) - len(differ)} equal, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(pathlib.Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
