"""The terminal, and the one function that writes a report to stdout.

The terminal (is stdout one, its width, its colours) is detected once and can be injected
(`use_terminal`), so tests render tables in-process at any width instead of starting a
process for it.
"""

import contextlib
import dataclasses
import io
import sys
import time
from collections.abc import Iterator

from lstmcalc.choices import Format, Show
from lstmcalc.errors import OutputError


@dataclasses.dataclass(frozen=True)
class Terminal:
    """What stdout is. width None: Rich decides (COLUMNS, the terminal, or 80)."""

    is_terminal: bool
    width: int | None = None
    color_system: str | None = None
    no_color: bool = False


_injected: Terminal | None = None


def terminal() -> Terminal:
    if _injected is not None:
        return _injected
    from rich.console import Console

    probe = Console()  # what stdout is: a terminal or not, its width, its colours
    width = probe.width if probe.width > 0 else 80  # COLUMNS=0 says nothing: 80
    return Terminal(probe.is_terminal, width, probe.color_system, probe.no_color)


@contextlib.contextmanager
def use_terminal(term: Terminal) -> Iterator[None]:
    """Within this block, stdout is taken to be `term` (for tests)."""
    global _injected
    before, _injected = _injected, term
    try:
        yield
    finally:
        _injected = before


def stdout_is_terminal() -> bool:
    return _injected.is_terminal if _injected is not None else sys.stdout.isatty()


def resolve(fmt: Format, text_views: bool = False) -> Format:
    """auto: the table on a terminal, JSON otherwise; and the table wherever a view that only
    exists as text was asked for (--explain, --diagram, a heat map): | less shows it."""
    if fmt is Format.auto:
        return Format.table if text_views or stdout_is_terminal() else Format.json
    return fmt


def write_out(text: str) -> None:
    """Write all of text to stdout. A raw (unbuffered) stdout may accept only part of a large
    write, and the text layer would drop the rest silently: loop until every byte is out."""
    if sys.stdout is None:  # started with stdout closed
        raise OutputError("cannot write: stdout is closed", "<stdout>")
    try:
        sys.stdout.flush()
        data = memoryview(text.encode(sys.stdout.encoding or "utf-8", "replace"))
        stream = sys.stdout.buffer
        while data:
            written = stream.write(data)
            data = data[written if written is not None else len(data):]
        stream.flush()
    except BrokenPipeError:
        raise  # the reader went away: the CLI ends quietly
    except OSError as e:  # a full disk, a closed or failing device
        raise OutputError(f"cannot write: {e.strerror or e}", "<stdout>") from None


def write_err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def table_text(renderable, svg=None, html=None, title: str = "lstmcalc") -> str:
    """The renderable as the terminal shows it; with svg/html (files.AtomicFile) also save
    exactly that."""
    from rich.console import Console

    term = terminal()
    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, record=bool(svg or html), width=term.width,
                      color_system=term.color_system,  # type: ignore[arg-type]  # Rich types it as a Literal
                      force_terminal=term.is_terminal, no_color=term.no_color,
                      legacy_windows=False)
    console.print(renderable)
    if svg is not None:
        svg.commit(console.export_svg(title=title, clear=False))
    if html is not None:
        html.commit(console.export_html(clear=False))
    return buffer.getvalue()


def emit(report, fmt: Format, show: Show = Show(), svg=None, html=None) -> None:
    """Render the report in the format and write it. Output that streams (JSONL, CSV of a
    sequence) is written piece by piece, each before the next is computed."""
    from lstmcalc.render.views import render

    if (svg is not None or html is not None) and fmt is not Format.table:
        # the pictures of the table, whatever format stdout gets
        table_text(render(report, Format.table, show), svg, html, show.title)
        svg = html = None
    rendered = render(report, fmt, show)
    if isinstance(rendered, str):
        write_out(rendered)
    elif fmt is not Format.table and not hasattr(rendered, "__rich_console__") and \
            not hasattr(rendered, "__rich__"):
        for piece in rendered:
            write_out(piece)
    else:
        write_out(table_text(rendered, svg, html, show.title))


def emit_checks(checks) -> None:
    """The check of hand-worked values on stderr, for formats whose stdout holds the data."""
    from lstmcalc.render.views import checks_text

    write_err(checks_text(checks))


def state_text(report) -> str:
    """A FinalReport as the JSON --state reads back (for --state-out)."""
    from lstmcalc.render.views import state_text as text

    return text(report)


def require_plot() -> None:
    """Refuse --plot before any work where matplotlib is missing."""
    from lstmcalc.render.plot import require_matplotlib

    require_matplotlib()


def png(report, title: str) -> bytes:
    """A RunReport or StackReport drawn as PNG bytes (for --plot)."""
    from lstmcalc.render import plot

    if hasattr(report, "stack"):
        return plot.png_stack(report.stack, title)
    return plot.png(report.run, title)


# Progress on long work -----------------------------------------------------------------------

LONG = 10_000  # steps from which unroll and grad show that they are working


def progress_wanted(quiet: bool, fmt: Format | None = None) -> bool:
    """Progress goes to stderr when a person watches it there: stderr is a terminal, --quiet
    was not given, and stdout is not the table being drawn on that same terminal."""
    if quiet or not sys.stderr or not sys.stderr.isatty():
        return False
    return not (fmt is Format.table and stdout_is_terminal())


@contextlib.contextmanager
def progress(label: str, enabled: bool, total_bytes: int | None = None):
    """A Rich progress display on stderr, or nothing. Yields advance(steps, bytes=0): steps
    done so far and, where the input's size is known (a regular file), the bytes read of
    total_bytes, from which the bar and the time left come; without it, the steps and their
    rate under a pulsing bar."""
    if not enabled:
        yield lambda steps, read=0: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = [TextColumn(label), BarColumn(), TextColumn("{task.fields[steps]:,} steps"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn()]
    if total_bytes:
        columns.append(TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total_bytes or None, steps=0, rate="")

        def advance(steps: int, read: int = 0) -> None:
            seconds = time.perf_counter() - started
            rate = f"{steps / seconds:,.0f}/s" if seconds > 0.5 else ""
            bar.update(task, completed=read if total_bytes else None, steps=steps, rate=rate)

        yield advance
