"""The delivery log as a Line-API widget: rows are read from SQLite on demand.

Rows come most recent activity first (updated_at, then id), like a tail.
Nothing is loaded up front. The view knows the row count of its filter and
fetches the pages it draws (keyset pagination from a neighbouring page when
one is known, an OFFSET from the nearer end otherwise), keeping recent pages
in an LRU cache. So a log of millions of rows opens with two queries and
scrolling costs one query per page of rows newly on screen.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.store.deliveries import Deliveries, Key, LogFilter

PAGE_SIZE = 100
CACHED_PAGES = 32

STATE_STYLES = {
    "sent": Style(color="green"),
    "deferred": Style(color="yellow"),
    "bounced": Style(color="red", bold=True),
    "failed": Style(color="red"),
    "unknown": Style(color="magenta", bold=True),
    "sending": Style(color="cyan"),
}


def _clean(value: Any) -> str:
    """One line of text: replies may carry CR/LF or other control characters."""
    if value is None:
        return ""
    text = str(value)
    return "".join(ch if ch.isprintable() else " " for ch in text)


def log_time(epoch: float | None, fmt: str = "%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.localtime(epoch)) if epoch else ""


# (title, cell text from a row, width or 0 to share the rest, shown from/below screen width)
Column = tuple[str, Callable[[dict[str, Any]], str], int, int, int]
WIDE = 100
COLUMNS: tuple[Column, ...] = (
    ("TIME", lambda r: log_time(r["updated_at"]), 14, WIDE, 10_000),
    ("TIME", lambda r: log_time(r["updated_at"], "%H:%M:%S"), 8, 0, WIDE),
    ("STATE", lambda r: r["state"], 10, 0, 10_000),
    ("CODE", lambda r: str(r["last_code"] or ""), 4, 0, 10_000),
    ("CAMPAIGN", lambda r: r["campaign_name"], 12, 0, 10_000),
    ("RECIPIENT", lambda r: r["email"], 0, 0, 10_000),
    ("ACCOUNT", lambda r: r["account_name"] or "", 10, WIDE, 10_000),
    ("REPLY", lambda r: r["last_reply"] or r["reason"] or "", 0, 0, 10_000),
)


def _key(row: dict[str, Any]) -> Key:
    return (row["updated_at"], row["id"])


@functools.lru_cache(maxsize=8)
def layout(width: int) -> list[tuple[Column, int]]:
    """Column widths for a screen ``width``: fixed ones first, the rest shared."""
    shown = [c for c in COLUMNS if c[3] <= width < c[4]]
    fixed = sum(c[2] for c in shown) + len(shown) - 1
    rest = max(0, width - fixed)
    recipient = min(max(24, rest // 2), 34, rest)
    reply = rest - recipient
    widths = []
    for column in shown:
        if column[0] == "RECIPIENT":
            widths.append((column, recipient))
        elif column[0] == "REPLY":
            if reply >= 6:
                widths.append((column, reply))
        else:
            widths.append((column, column[2]))
    return widths


class LogView(ScrollView, can_focus=True):
    """Delivery rows of a ``LogFilter``, most recently active first, with a cursor."""

    DEFAULT_CSS = """
    LogView { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    LogView > .log-view--header { text-style: bold; background: $panel; }
    LogView > .log-view--cursor { background: $accent 40%; text-style: bold; }
    LogView:focus > .log-view--cursor { background: $accent; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-view--header", "log-view--cursor"}
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("up,k", "cursor(-1)", show=False),
        Binding("down,j", "cursor(1)", show=False),
        Binding("pageup", "cursor_page(-1)", show=False),
        Binding("pagedown,space", "cursor_page(1)", show=False),
        Binding("home,g", "cursor_to(0)", show=False),
        Binding("end,G", "cursor_to(-1)", show=False),
        Binding("enter", "select", "Attempts", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Moved(Message):
        """The operator moved the cursor (a key, not a refresh)."""

    class Selected(Message):
        def __init__(self, delivery_id: int) -> None:
            super().__init__()
            self.delivery_id = delivery_id

    def __init__(self, deliveries: Deliveries, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.deliveries = deliveries
        self.filter = LogFilter()
        self.total = 0
        self._pages: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._bounds: dict[int, tuple[Key, Key]] = {}  # page -> (first key, last key)

    # -- data ---------------------------------------------------------------

    def load(self, log: LogFilter) -> None:
        """Show ``log``, pinned to the rows as they are now; cursor on the newest."""
        self.filter, self.total = self.deliveries.log_open(log)
        self._forget()
        self._resize()
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def take_new_rows(self) -> bool:
        """Follow: re-pin to the head when anything happened since; True if so.

        Every write to a delivery stamps updated_at, so an unchanged head
        means nothing to redraw: an idle tick costs one indexed query.
        """
        if self.deliveries.head() == self.filter.until:
            return False
        self.filter, self.total = self.deliveries.log_open(self.filter)
        self._forget()  # rows moved: every cached page is stale
        self._resize()
        self.refresh()
        return True

    def row(self, index: int) -> dict[str, Any] | None:
        if not 0 <= index < self.total:
            return None
        rows = self._page(index // PAGE_SIZE)
        offset = index % PAGE_SIZE
        return rows[offset] if offset < len(rows) else None

    @property
    def selected(self) -> dict[str, Any] | None:
        return self.row(self.cursor)

    def _forget(self) -> None:
        self._pages.clear()
        self._bounds.clear()

    def _page(self, page: int) -> list[dict[str, Any]]:
        rows = self._pages.get(page)
        if rows is not None:
            self._pages.move_to_end(page)
            return rows
        rows = self._fetch(page)
        self._pages[page] = rows
        if rows:
            self._bounds[page] = (_key(rows[0]), _key(rows[-1]))
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        return rows

    def _fetch(self, page: int) -> list[dict[str, Any]]:
        fetch = self.deliveries.log_page
        if page - 1 in self._bounds:  # scrolling down: keyset from the page above
            return fetch(self.filter, before=self._bounds[page - 1][1], limit=PAGE_SIZE)
        if page + 1 in self._bounds:  # scrolling up: keyset from the page below
            return fetch(self.filter, after=self._bounds[page + 1][0], limit=PAGE_SIZE)
        start = page * PAGE_SIZE
        size = min(PAGE_SIZE, self.total - start)
        from_end = self.total - start - size
        if from_end < start:  # a jump nearer the oldest rows: count from that end
            return fetch(self.filter, offset=from_end, from_oldest=True, limit=size)
        return fetch(self.filter, offset=start, limit=PAGE_SIZE)

    # -- geometry and drawing ---------------------------------------------------

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total + 1)  # +1: the header line

    def on_resize(self) -> None:
        self._resize()

    @property
    def _rows_on_screen(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            style = self.get_component_rich_style("log-view--header")
            cells = [(title, None) for (title, *_), _ in layout(width)]
            return self._strip(cells, width, style)
        index = self.scroll_offset.y + y - 1
        record = self.row(index)
        if record is None:
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("log-view--cursor")
        cells = []
        for (title, value, *_), _ in layout(width):
            text = _clean(value(record))
            cells.append((text, STATE_STYLES.get(text) if title == "STATE" else None))
        return self._strip(cells, width, base)

    def _strip(self, cells: list[tuple[str, Style | None]], width: int, base: Style) -> Strip:
        segments = []
        for (text, style), (_, size) in zip(cells, layout(width), strict=True):
            cell = set_cell_size(text, size) if text else " " * size  # rich returns "" for ""
            segments.append(Segment(cell, base + style if style else base))
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    # -- cursor -------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        top = round(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + self._rows_on_screen:
            self.scroll_to(y=new - self._rows_on_screen + 1, animate=False, immediate=True)
        self.refresh()

    def _move_to(self, index: int) -> None:
        self.cursor = max(0, min(index, self.total - 1))
        self.post_message(self.Moved())

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_cursor_page(self, direction: int) -> None:
        page = self._rows_on_screen
        self.scroll_to(y=self.scroll_offset.y + direction * page, animate=False, immediate=True)
        self._move_to(self.cursor + direction * page)

    def action_cursor_to(self, index: int) -> None:
        self._move_to(index if index >= 0 else self.total - 1)

    def action_select(self) -> None:
        if (record := self.selected) is not None:
            self.post_message(self.Selected(record["id"]))
