"""A table over millions of rows that reads only what is on screen.

``PagedTable`` is a Line-API ``ScrollView`` (the Toolong pattern): its
virtual height is the row count, ``render_line`` draws one row, and rows are
fetched a page at a time from a ``PageSource`` by keyset pagination, with an
LRU cache of pages. Opening a million-row source costs one count and one
page; scrolling costs one query per new page; jumping far (End, dragging
the scrollbar) costs one offset lookup on an index, then keyset again.

Generic on purpose: any view with ordered, keyed rows (subscribers, the
delivery log) supplies a ``PageSource``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Row = tuple[Any, Sequence[str]]  # (key, cells)

# Control characters would break a terminal line: show them, never emit them.
_VISIBLE = {0x0A: "↵", 0x0D: "␍", 0x09: " "} | {
    c: "�" for c in (*range(32), 0x7F) if c not in (9, 10, 13)
}


class PageSource(Protocol):
    """Rows in a stable key order, read by key (keyset), never all at once."""

    columns: Sequence[tuple[str, int]]  # (title, width in cells; 0 = the rest)

    def count(self) -> int: ...

    def page(self, *, after: Any = None, before: Any = None, limit: int) -> list[Row]:
        """``limit`` rows after key ``after`` (from the start when both are
        None), or the ``limit`` rows before key ``before``; ascending."""
        ...

    def key_at(self, offset: int) -> Any:
        """The key of the row at ``offset`` (0-based), for far jumps."""
        ...


class PagedTable(ScrollView, can_focus=True):
    """Line 0 is the column header; the rows scroll beneath it."""

    DEFAULT_CSS = """
    PagedTable { height: 1fr; }
    PagedTable > .paged-table--header { text-style: bold; }
    PagedTable > .paged-table--cursor { background: $accent; color: $text; }
    PagedTable > .paged-table--empty { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "paged-table--header",
        "paged-table--cursor",
        "paged-table--empty",
    }
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("up,k", "move(-1)", show=False),
        Binding("down,j", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown,space", "page(1)", show=False),
        Binding("home,g", "jump_home", show=False),
        Binding("end,G", "jump_end", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        """Enter on a row."""

        def __init__(self, table: PagedTable, key: Any) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> PagedTable:
            return self.table

    def __init__(
        self,
        source: PageSource | None = None,
        *,
        page_size: int = 100,
        cache_pages: int = 16,
        empty_text: str = "No rows.",
        id: str | None = None,  # noqa: A002 - textual's name
    ) -> None:
        super().__init__(id=id)
        self.page_size = page_size
        self.cache_pages = cache_pages
        self.empty_text = empty_text
        self.source: PageSource | None = None
        self.total = 0
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._first: dict[int, Any] = {}  # page -> first key (ints: bounded, tiny)
        self._last: dict[int, Any] = {}  # page -> last key
        if source is not None:
            self.set_source(source)

    # -- data -----------------------------------------------------------------

    def set_source(self, source: PageSource) -> None:
        """Show ``source`` from its first row."""
        self.source = source
        self.cursor = 0
        self.reload()
        self.scroll_to(y=0, animate=False, immediate=True)

    def reload(self) -> None:
        """Re-count and forget cached pages (after the data changed)."""
        self._pages.clear()
        self._first.clear()
        self._last.clear()
        self.total = self.source.count() if self.source is not None else 0
        self.cursor = min(self.cursor, max(self.total - 1, 0))
        self.virtual_size = Size(self._width(), self.total + 1)
        self.refresh()

    def row(self, index: int) -> Row | None:
        """Row ``index`` (0-based), fetching its page if needed."""
        if self.source is None or not 0 <= index < self.total:
            return None
        number, within = divmod(index, self.page_size)
        rows = self._page(number)
        return rows[within] if within < len(rows) else None

    @property
    def row_count(self) -> int:
        return self.total

    def get_row_at(self, index: int) -> list[str]:
        """The cells of row ``index`` (DataTable's name for it)."""
        found = self.row(index)
        if found is None:
            raise IndexError(index)
        return list(found[1])

    @property
    def selected_key(self) -> Any:
        found = self.row(self.cursor)
        return found[0] if found else None

    def _page(self, number: int) -> list[Row]:
        if number in self._pages:
            self._pages.move_to_end(number)
            return self._pages[number]
        source, size = self.source, self.page_size
        assert source is not None
        if number == 0:
            rows = source.page(limit=size)
        elif number - 1 in self._last:
            rows = source.page(after=self._last[number - 1], limit=size)
        elif number + 1 in self._first:
            rows = source.page(before=self._first[number + 1], limit=size)
        else:
            anchor = source.key_at(number * size - 1)
            rows = [] if anchor is None else source.page(after=anchor, limit=size)
        if rows:
            self._first[number], self._last[number] = rows[0][0], rows[-1][0]
        self._pages[number] = rows
        while len(self._pages) > self.cache_pages:
            self._pages.popitem(last=False)
        return rows

    # -- drawing ----------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        columns = self.source.columns if self.source is not None else []
        fixed = sum(w for _, w in columns if w) + max(len(columns) - 1, 0)
        return [w or max(width - fixed, 4) for _, w in columns]

    def _width(self) -> int:
        columns = self.source.columns if self.source is not None else []
        return sum(w or 10 for _, w in columns) + max(len(columns) - 1, 0)

    def _line(self, cells: Sequence[str], widths: list[int]) -> str:
        return " ".join(
            set_cell_size(str(cell).translate(_VISIBLE), width)
            for cell, width in zip(cells, widths, strict=False)
        )

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        widths = self._widths(width)
        if y == 0:
            titles = [title for title, _ in (self.source.columns if self.source else [])]
            style = self.get_component_rich_style("paged-table--header")
            return Strip([Segment(set_cell_size(self._line(titles, widths), width), style)])
        index = int(self.scroll_offset.y) + y - 1
        if self.total == 0 and y == 1:
            style = self.get_component_rich_style("paged-table--empty")
            return Strip([Segment(set_cell_size(self.empty_text, width), style)])
        found = self.row(index)
        if found is None:
            return Strip.blank(width, self.rich_style)
        style = self.rich_style
        if index == self.cursor:
            style = self.get_component_rich_style("paged-table--cursor")
            if not self.has_focus:
                style += Style(dim=True)
        return Strip([Segment(set_cell_size(self._line(found[1], widths), width), style)])

    # -- moving ------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        visible = max(self.size.height - 1, 1)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False, immediate=True)
        self.refresh()

    def _go(self, index: int) -> None:
        self.cursor = max(0, min(index, self.total - 1)) if self.total else 0

    def action_move(self, delta: int) -> None:
        self._go(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor + direction * max(self.size.height - 2, 1))

    def action_jump_home(self) -> None:
        self._go(0)

    def action_jump_end(self) -> None:
        self._go(self.total - 1)

    def key_enter(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: Any) -> None:
        if event.y >= 1:
            self._go(int(self.scroll_offset.y) + event.y - 1)
