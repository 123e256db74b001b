"""`:logs` — the delivery log, most recent activity first, over any number of rows.

`f` follows: each refresh tick re-reads the head, so a delivery the engine
just touched comes to the top. Moving the cursor stops following, so the
row under it stays put (the view is pinned between refreshes).

Filter with `/` or `:logs ARGS`: words are delivery states (`bounced`),
`campaign:NAME`, `account:NAME`, `domain:example.com` (or `@example.com`),
reply codes (`550`, `5xx`, `code:421`), and anything else is free text
searched in the address, the reply, the reason and the Message-ID.
"""

from __future__ import annotations

import csv
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from core.store import DELIVERY_STATES, Store, StoreError
from core.store.deliveries import LogFilter
from tui.format import count, stamp
from tui.screens.base import SLASH, BaseScreen
from tui.widgets.log_view import LogView


class FilterError(ValueError):
    """A filter word the operator should fix (unknown campaign, bad code)."""


def _code_range(word: str) -> tuple[int, int]:
    word = word.lower()
    if len(word) == 3 and word[0] in "2345" and word[1:] == "xx":
        low = int(word[0]) * 100
        return low, low + 99
    if len(word) == 3 and word.isdigit():
        return int(word), int(word)
    raise FilterError(f"reply code {word!r}: use three digits (550) or a class (5xx)")


def parse_filter(expression: str, store: Store) -> LogFilter:
    """Turn the filter line into a ``LogFilter``; names are resolved now."""
    try:
        words = shlex.split(expression)
    except ValueError:
        words = expression.split()
    states: list[str] = []
    text: list[str] = []
    values: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition(":")
        key = key.lower() if sep else ""
        if word.lower() in DELIVERY_STATES:
            states.append(word.lower())
        elif key in ("campaign", "c"):
            values["campaign_id"] = store.campaigns.require(value)["id"]
        elif key in ("account", "a"):
            values["account_id"] = store.accounts.require(value)["id"]
        elif key in ("domain", "d") or (word.startswith("@") and len(word) > 1):
            values["domain"] = (value if sep else word[1:]).lower()
        elif key == "code":
            values["code_min"], values["code_max"] = _code_range(value)
        elif not sep and (word.isdigit() and len(word) == 3 or word.lower() in ("4xx", "5xx")):
            values["code_min"], values["code_max"] = _code_range(word)
        elif key == "state":
            raise FilterError(f"unknown state {value!r}: one of {', '.join(DELIVERY_STATES)}")
        else:
            text.append(word)
    return LogFilter(states=tuple(states), text=" ".join(text), **values)


CSV_COLUMNS = (
    "id",
    "updated_at",
    "campaign",
    "email",
    "state",
    "reason",
    "attempts",
    "code",
    "enhanced",
    "reply",
    "account",
    "message_id",
    "sent_at",
)


def _csv_cell(value: Any) -> Any:
    # Reply texts come from remote servers: keep spreadsheets from running them.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(db_path: Path, log: LogFilter, target: Path) -> int:
    """Write the filtered log to ``target`` (private, complete or not at all)."""
    store = Store(db_path, create=False)  # this runs in a thread: its own connection
    target = target.expanduser()
    fd, tmp = tempfile.mkstemp(prefix=".postroom-export-", dir=target.parent or ".")
    written = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for r in store.deliveries.log_rows(log):
                writer.writerow(
                    _csv_cell(v)
                    for v in (
                        r["id"],
                        stamp(r["updated_at"]),
                        r["campaign_name"],
                        r["email"],
                        r["state"],
                        r["reason"],
                        r["attempts"],
                        r["last_code"],
                        r["last_enhanced"],
                        r["last_reply"],
                        r["account_name"],
                        r["message_id"],
                        stamp(r["sent_at"]) if r["sent_at"] else "",
                    )
                )
                written += 1
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        store.close()
    return written


class AttemptsScreen(ModalScreen[None]):
    """Enter on a delivery: its ledger row and every attempt, replies in full."""

    DEFAULT_CSS = """
    AttemptsScreen { align: center middle; }
    AttemptsScreen > VerticalScroll { width: 100; max-width: 100%; height: auto;
        max-height: 100%; border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Binding]] = [Binding("escape,q,enter", "dismiss", "Close", show=False)]

    def __init__(self, delivery: dict[str, Any], attempts: list[dict[str, Any]]) -> None:
        super().__init__()
        self.delivery = delivery
        self.attempts = attempts

    def compose(self) -> ComposeResult:
        d = self.delivery
        lines = [
            f"[b]{escape(d['email'])}[/b]  {escape(d['campaign_name'])}  state [b]{d['state']}[/b]"
            + (f" ({escape(d['reason'])})" if d["reason"] else ""),
            f"attempts {d['attempts']}  account {escape(d['account_name'] or '—')}"
            f"  message-id {escape(d['message_id'] or '—')}",
            f"created {stamp(d['created_at'])}  updated {stamp(d['updated_at'])}"
            f"  sent {stamp(d['sent_at'])}",
            "",
        ]
        if not self.attempts:
            lines.append("[dim]No attempts yet.[/dim]")
        for n, t in enumerate(self.attempts, 1):
            code = " ".join(str(x) for x in (t["code"], t["enhanced"]) if x)
            lines.append(
                f"[b]#{n}[/b] {stamp(t['started_at'])}  [b]{t['outcome']}[/b] {code}"
                f"  via {escape(t['account_name'] or '—')}  run {escape(t['run_id'])}"
            )
            lines.append(escape(t["reply"] or "(no reply text)"))
            lines.append("")
        lines.append("[dim]esc closes[/dim]")
        with VerticalScroll():
            yield Static("\n".join(lines))


class LogsScreen(BaseScreen):
    crumb = "logs"
    DEFAULT_CSS = """
    LogsScreen #filterbar { height: 1; padding: 0 1; color: $text-muted; }
    LogsScreen #filter, LogsScreen #export { dock: bottom; display: none; height: 1;
        border: none; padding: 0 1; }
    LogsScreen #filter.-open, LogsScreen #export.-open { display: block; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding(action="filter", description="Filter", **SLASH),
        Binding("f", "follow", "Follow"),
        Binding("enter", "attempts", "Attempts"),
        Binding("e", "export", "Export CSV"),
        Binding("escape", "clear_filter", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.expression = ""
        self.following = False

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Static(id="filterbar")
        yield LogView(self.store.deliveries, id="log")
        for name, hint in (
            ("filter", "filter: bounced campaign:NAME account:NAME @domain 5xx text (esc)"),
            ("export", "export the filtered log to CSV file: (enter writes, esc cancels)"),
        ):
            box = Input(placeholder=hint, id=name)
            box.can_focus = False  # only while open
            yield box

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.apply(self.expression)
        hz = max(1, min(10, int(self.app.config.get("console", "refresh_hz"))))
        self.set_interval(1 / hz, self._follow_tick)

    def on_screen_resume(self) -> None:
        self.log_view.focus()

    def apply(self, expression: str) -> bool:
        try:
            log = parse_filter(expression, self.store)
        except (FilterError, StoreError) as exc:  # e.g. no such campaign
            self.notify(str(exc), severity="error")
            return False
        self.expression = expression
        self.log_view.load(log)
        self._show_bar()
        return True

    def apply_argument(self, argument: str) -> None:
        self.apply(argument)

    def _show_bar(self) -> None:
        view = self.log_view
        parts = [f"{count(view.total)} deliveries"]
        if self.expression:
            parts.append(f"filter: {self.expression}")
        parts.append("following" if self.following else "f follows")
        self.query_one("#filterbar", Static).update(Text("  ·  ".join(parts)))

    def _follow_tick(self) -> None:
        # Only a visible, following log reads the database.
        if self.following and self.app.screen is self and self.log_view.take_new_rows():
            self.log_view.cursor = 0
            self._show_bar()

    @on(LogView.Moved)
    def _moved(self) -> None:
        if self.following and self.log_view.cursor != 0:
            self.following = False  # the operator is reading: hold the rows still
            self._show_bar()

    # -- actions ----------------------------------------------------------------

    def _open(self, name: str, value: str) -> None:
        box = self.query_one(f"#{name}", Input)
        if isinstance(self.focused, Input):
            raise SkipAction  # typed into a field: text
        box.value = value
        self.open_line(box)

    def _close(self, box: Input) -> None:
        box.can_focus = False
        box.remove_class("-open")
        self.log_view.focus()

    def action_filter(self) -> None:
        self._open("filter", self.expression)

    def action_export(self) -> None:
        self._open("export", str(Path.cwd() / "postroom-log.csv"))

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.log_view.cursor = 0
            self._follow_tick()
        self._show_bar()

    def action_attempts(self) -> None:
        if (row := self.log_view.selected) is not None:
            self._show_attempts(row["id"])

    @on(LogView.Selected)
    def _selected(self, event: LogView.Selected) -> None:
        self._show_attempts(event.delivery_id)

    def _show_attempts(self, delivery_id: int) -> None:
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is not None:
            self.app.push_screen(
                AttemptsScreen(delivery, self.store.deliveries.attempts(delivery_id))
            )

    def action_clear_filter(self) -> None:
        for box in self.query(Input).filter(".-open"):
            self._close(box)
            return
        if self.expression:
            self.apply("")
        else:
            self.app.action_back()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.apply(event.value.strip()):
            self._close(event.input)

    @on(Input.Submitted, "#export")
    def _export_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close(event.input)
        if event.value.strip():
            self.export(Path(event.value.strip()), self.log_view.filter)

    @work(thread=True, exclusive=True, group="export")
    def export(self, target: Path, log: LogFilter) -> None:
        try:
            written = export_csv(self.app.db_path, log, target)
        except OSError as exc:
            self.app.call_from_thread(
                self.notify, f"{target}: {exc.strerror or exc}", severity="error"
            )
            return
        self.app.call_from_thread(self.notify, f"Exported {count(written)} rows to {target}")
