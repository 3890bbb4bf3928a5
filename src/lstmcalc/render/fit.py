"""Tables that never cut a number.

A FitTable keeps every number whole: its number columns never wrap, and where its columns do
not fit the width it is printed as two or more stacked tables of the same rows, each repeating
the key columns (unit, t, ...), the title above the first and the caption below the last. Prose
columns (meanings, notes) wrap at spaces as text does.
"""

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table

# column headers whose cells are prose: they wrap at spaces instead of forcing a split
PROSE = frozenset({"meaning", "note", "symbol", "variable"})


class FitTable(Table):
    """A Rich table that re-flows instead of cutting. keys: how many leading columns every
    part repeats."""

    def __init__(self, *headers: str, keys: int = 1, **kwargs):
        super().__init__(*headers, **kwargs)
        self.keys = keys
        for column in self.columns:
            self._set_wrap(column)

    def add_column(self, header="", *args, **kwargs) -> None:
        super().add_column(header, *args, **kwargs)
        if "no_wrap" not in kwargs:
            self._set_wrap(self.columns[-1])

    @staticmethod
    def _set_wrap(column: Column) -> None:
        prose = str(column.header).strip() in PROSE
        column.no_wrap = not prose
        if prose:
            column.overflow = "fold"  # a word wider than its column folds, never "…"

    def _part(self, columns: list[Column], first: bool, last: bool) -> Table:
        part = Table(box=self.box, pad_edge=self.pad_edge, show_edge=self.show_edge,
                     show_lines=self.show_lines, show_header=self.show_header,
                     title=self.title if first else None, title_justify=self.title_justify,
                     title_style=self.title_style,
                     caption=self.caption if last else None,
                     caption_justify=self.caption_justify, padding=self.padding,
                     collapse_padding=self.collapse_padding, expand=self.expand)
        for column in columns:
            part.add_column(column.header, justify=column.justify, style=column.style,
                            header_style=column.header_style, no_wrap=column.no_wrap,
                            overflow=column.overflow, min_width=column.min_width)
        for k, row in enumerate(self.rows):
            part.add_row(*(column._cells[k] for column in columns), style=row.style,
                         end_section=row.end_section)
        return part

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        part, ranges = self._measured(console, options, self.columns, True, True)
        if part._extra_width + sum(lo for lo, _ in ranges) <= width:
            if self._sized(part, ranges, width):
                yield part
            else:
                yield from super().__rich_console__(console, options)
            return
        keys, rest = self.columns[:self.keys], self.columns[self.keys:]
        groups: list[list[Column]] = []
        current: list[Column] = []
        for column in rest:
            if current and self._minimum(console, options, keys + current + [column]) > width:
                groups.append(current)
                current = []
            current.append(column)
        groups.append(current)
        for k, group in enumerate(groups):
            if k:
                yield ""
            part, ranges = self._measured(console, options, keys + group, k == 0,
                                          k == len(groups) - 1)
            if part._extra_width + sum(lo for lo, _ in ranges) > width:
                # even the key columns and one more are too wide: the labels (the left-
                # justified columns) fold onto more lines, every character kept
                for column in part.columns:
                    if column.justify == "left":
                        column.no_wrap, column.overflow = False, "fold"
                part, ranges = self._remeasured(console, options, part)
            self._sized(part, ranges, width)
            yield part

    @staticmethod
    def _sized(part: Table, ranges: list[tuple[int, int]], width: int) -> bool:
        """Fit a part (its columns' ranges measured) to the width; False where it fits as it
        is. Where it must shrink, every column starts at its narrowest (a number whole, a
        prose column its longest word) and the prose columns share what is left in proportion
        to what more they would take: Rich's own shrinking narrows the widest prose column
        first and can fold a word."""
        spare = width - part._extra_width - sum(lo for lo, _ in ranges)
        want = [hi - lo for lo, hi in ranges]
        if spare >= sum(want):
            return False
        prose = [k for k, column in enumerate(part.columns) if not column.no_wrap]
        shares = {k: spare * want[k] // sum(want) for k in prose}
        if prose:  # what the rounding down left goes to the column that wants most
            shares[max(prose, key=lambda k: want[k])] += spare - sum(shares.values())
        for k in prose:
            part.columns[k].width = ranges[k][0] + shares[k] - part._get_padding_width(k)
        return True

    def _measured(self, console: Console, options: ConsoleOptions, columns: list[Column],
                  first: bool, last: bool) -> tuple[Table, list[tuple[int, int]]]:
        """These columns as a table, and each column's narrowest and natural width, padding
        included: a number column is as wide as its widest cell (Rich measures it by its
        longest word), a prose column at least its longest word."""
        part = self._part(columns, first, last)
        ranges = []
        for k, column in enumerate(part.columns):
            cells = (column.header, *column._cells)
            sizes = [Measurement.get(console, options, cell) for cell in cells]
            hi = max(m.maximum for m in sizes)
            lo = hi if column.no_wrap else max(m.minimum for m in sizes)
            pad = part._get_padding_width(k)
            ranges.append((lo + pad, hi + pad))
        return part, ranges

    @staticmethod
    def _remeasured(console: Console, options: ConsoleOptions,
                    part: Table) -> tuple[Table, list[tuple[int, int]]]:
        """A part's columns measured again after some became foldable: a folding column can
        be as narrow as its widest character."""
        ranges = []
        for k, column in enumerate(part.columns):
            cells = (column.header, *column._cells)
            hi = max(Measurement.get(console, options, cell).maximum for cell in cells)
            lo = hi if column.no_wrap else 1
            pad = part._get_padding_width(k)
            ranges.append((lo + pad, hi + pad))
        return part, ranges

    def _minimum(self, console: Console, options: ConsoleOptions,
                 columns: list[Column]) -> int:
        """The narrowest these columns can be with no number cut."""
        part, ranges = self._measured(console, options, columns, True, True)
        return part._extra_width + sum(lo for lo, _ in ranges)


class NeedsWidth:
    """A drawing that only reads at its own width: drawn whole where it fits, else one line
    saying the width it needs (never wrapped into a garble)."""

    def __init__(self, drawing, what: str):
        self.drawing, self.what = drawing, what

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        need = Measurement.get(console, options.update(width=10_000), self.drawing).maximum
        if need <= options.max_width:
            yield self.drawing
        else:
            yield (f"{self.what} needs {need} columns; this terminal has {options.max_width} "
                   f"(widen it, or set COLUMNS={need})")
