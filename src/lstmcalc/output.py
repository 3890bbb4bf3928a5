"""Writing to stdout: every byte of it, and Rich renderables printed once."""

import sys

from lstmcalc.choices import Format


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def write_out(text: str):
    """Write all of text to stdout. A raw (unbuffered) stdout may accept only part of a large
    write, and the text layer would drop the rest silently: loop until every byte is out."""
    sys.stdout.flush()
    data = memoryview(text.encode(sys.stdout.encoding or "utf-8", "replace"))
    stream = sys.stdout.buffer
    while data:
        written = stream.write(data)
        data = data[written if written is not None else len(data):]
    stream.flush()


def resolve(fmt: Format) -> Format:
    if fmt is Format.auto:
        return Format.table if stdout_is_terminal() else Format.json
    return fmt


def print_rich(renderable, svg=None, html=None, title: str = "lstmcalc"):
    """Print once; with svg/html (files.AtomicFile) also save exactly what was printed."""
    import io

    from rich.console import Console

    probe = Console()  # what stdout is: a terminal or not, its width, its colours
    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, record=bool(svg or html), width=probe.width,
                      color_system=probe.color_system, force_terminal=probe.is_terminal,
                      no_color=probe.no_color, legacy_windows=False)
    console.print(renderable)
    write_out(buffer.getvalue())
    if svg is not None:
        svg.commit(console.export_svg(title=title, clear=False))
    if html is not None:
        html.commit(console.export_html(clear=False))
