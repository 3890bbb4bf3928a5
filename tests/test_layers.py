"""The layers hold in the imports (DESIGN.md): data flows one way, input -> core -> report ->
renderer -> stdout, and no module imports one above it."""

import ast
import pathlib
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "lstmcalc"


def _imports(path: pathlib.Path) -> set[str]:
    """Every lstmcalc module a file imports, at any depth (lazy imports count too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in out if name.split(".")[0] in ("lstmcalc", "rich", "typer", "yaml")}


def _modules(folder: str) -> list[pathlib.Path]:
    return sorted((SRC / folder).rglob("*.py")) if folder else [SRC / "errors.py"]


def test_core_imports_only_numpy_itself_and_errors():
    for path in _modules("core"):
        for name in _imports(path):
            assert name.startswith(("lstmcalc.core", "lstmcalc.errors")), (path.name, name)


def test_errors_imports_nothing_of_ours():
    assert not _imports(SRC / "errors.py")


def test_renderers_never_import_the_cli_and_the_cli_never_a_renderer():
    for path in _modules("render"):
        assert not any(n.startswith("lstmcalc.cli") for n in _imports(path)), path.name
    for path in _modules("cli"):
        assert not any(n.startswith("lstmcalc.render") for n in _imports(path)), path.name


def test_nothing_outside_the_cli_imports_it():
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts or path.name == "__main__.py":
            continue
        assert not any(n.startswith("lstmcalc.cli") for n in _imports(path)), path.name


def test_reports_import_no_renderer():
    for name in ("reports.py", "records.py"):
        assert not any(n.startswith(("lstmcalc.render", "rich")) for n in _imports(SRC / name))


def test_help_loads_no_numpy():
    code = ("import sys\nfrom lstmcalc.cli import app\n"
            "try:\n    app(['--help'], prog_name='lstmcalc')\nexcept SystemExit:\n    pass\n"
            "print('numpy' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stderr.strip().endswith("False"), r.stderr
