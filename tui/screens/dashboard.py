"""`:dashboard` — the start screen: what is sending, how fast, and what needs a human.

It draws stats snapshots (CONTRACTS.md shape) that the app polls at
`[console] refresh_hz` and hands only to the screen on display. Rows are
diffed by key: a tick touches only the cells whose text changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tui.readonly import mutating
from tui.screens.base import BaseScreen
from tui.screens.dialogs import ConfirmDialog
from tui.screens.steering import RateDialog, rate_text, start_launch, step_rate
from tui.widgets.alert_strip import AlertStrip, BounceWatch, alerts_in
from tui.widgets.gauges import duration, per_second, progress_bar, short_count, sparkline

WIDE = 110  # from this width the tables show their extra columns

STATE_STYLE = {
    "running": "bold green",
    "paused": "bold yellow",
    "paused_auto": "bold red",
    "draining": "yellow",
    "scheduled": "cyan",
    "cancelled": "dim",
    "completed": "dim",
    "active": "green",
}
ACTIVE_FIRST = {"running": 0, "paused": 1, "scheduled": 2}


def _num(value: Any) -> str:
    return short_count(value)


def _state(state: str) -> Text:
    return Text(state.replace("paused_auto", "auto-paused"), style=STATE_STYLE.get(state, ""))


def _quota(left: Any, limit: Any, unit: str) -> str:
    return "—" if limit is None else f"{short_count(left)}/{unit}"


# (key, title, width, wide only, cell from a snapshot entry). Tables have no
# cell padding: widths include the gap, and numbers are right-aligned in them.
TableColumn = tuple[str, str, int, bool, Callable[[dict[str, Any]], Any]]

CAMPAIGN_COLUMNS: tuple[TableColumn, ...] = (
    ("name", "CAMPAIGN", 13, False, lambda c: c.get("name", "")),
    ("state", "STATE", 10, False, lambda c: _state(c.get("state", ""))),
    ("progress", "PROGRESS", 11, False, lambda c: progress_bar(_done(c), c.get("total") or 0, 5)),
    ("sent", "SENT", 7, False, lambda c: _num(_count(c, "sent"))),
    ("deferred", "DEFER", 7, False, lambda c: _num(_count(c, "deferred"))),
    ("bounced", "BOUNCE", 7, False, lambda c: _num(_count(c, "bounced"))),
    ("failed", "FAIL", 6, False, lambda c: _num(_count(c, "failed"))),
    ("unknown", "UNKNOWN", 8, True, lambda c: _num(_count(c, "unknown"))),
    ("rate", "RATE", 7, False, lambda c: per_second(c.get("rate_10s"))),
    ("rate60", "60S", 7, True, lambda c: per_second(c.get("rate_60s"))),
    ("eta", "ETA", 7, False, lambda c: duration(c.get("eta_seconds"))),
    ("spark", " LAST 10 MIN", 22, True, lambda c: " " + sparkline(c.get("history") or [], 20)),
)

ACCOUNT_COLUMNS: tuple[TableColumn, ...] = (
    ("name", "ACCOUNT", 13, False, lambda a: a.get("name", "")),
    ("state", "STATE", 12, False, lambda a: _state(a.get("state", ""))),
    ("rate", "RATE/SET", 12, False, lambda a: _rates(a)),
    (
        "hour",
        "LEFT/H",
        9,
        False,
        lambda a: _quota(a.get("quota_left_hour"), a.get("max_per_hour"), "h"),
    ),
    (
        "day",
        "LEFT/D",
        9,
        False,
        lambda a: _quota(a.get("quota_left_day"), a.get("max_per_day"), "d"),
    ),
    ("conns", "CONN", 6, True, lambda a: _num(a.get("connections"))),
    ("inflight", "FLIGHT", 8, True, lambda a: _num(a.get("in_flight"))),
    (
        "error",
        " LAST ERROR",
        0,
        False,
        lambda a: " " + (a.get("last_error") or a.get("state_reason") or ""),
    ),
)
RIGHT_ALIGNED = {
    "sent",
    "deferred",
    "bounced",
    "failed",
    "unknown",
    "rate",
    "rate60",
    "eta",
    "hour",
    "day",
    "conns",
    "inflight",
}


def _rates(a: dict[str, Any]) -> str:
    return f"{per_second(a.get('rate')).removesuffix('/s')}/{per_second(a.get('configured_rate'))}"


FINISHED = ("sent", "bounced", "failed", "suppressed", "cancelled", "skipped")


def _count(c: dict[str, Any], state: str) -> int:
    return (c.get("counts") or {}).get(state, 0)


def _done(c: dict[str, Any]) -> int:
    return sum(_count(c, s) for s in FINISHED)


def _cell_key(value: Any) -> Any:
    return value.markup if isinstance(value, Text) else value


class DashboardScreen(BaseScreen):
    crumb = "dashboard"
    DEFAULT_CSS = """
    DashboardScreen .title { height: 1; padding: 0 1; text-style: bold; background: $boost; }
    DashboardScreen DataTable { overflow-x: hidden; scrollbar-size-vertical: 1; }
    DashboardScreen #campaigns { height: auto; max-height: 45%; }
    DashboardScreen #accounts { height: 1fr; }
    DashboardScreen #detail { height: 1; padding: 0 1; color: $text-muted; }
    DashboardScreen .empty { color: $text-muted; padding: 0 2; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("l", "launch", "Launch"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("plus", "rate_step(True)", "Rate up", key_display="+"),
        Binding("minus", "rate_step(False)", "Rate down", key_display="-"),
        Binding("equals_sign", "exact_rate", "Set rate", key_display="="),
        Binding("r", "retry", "Retry"),
        Binding("ctrl+d", "cancel", "Cancel", key_display="^d"),
        Binding("d", "drain", "Drain account"),
        Binding("tab", "app.focus_next", "Campaigns/accounts", show=False),
        Binding("escape", "app.back", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.bounces = BounceWatch()
        self.snapshot: dict[str, Any] = {}
        self._width = 0
        self._widths: dict[str, dict[str, int]] = {"campaigns": {}, "accounts": {}}
        self.draws = 0  # snapshots drawn: a hidden dashboard draws none
        self._cells: dict[str, dict[str, tuple[Any, ...]]] = {"campaigns": {}, "accounts": {}}

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield AlertStrip(id="alerts")
        yield Static("Campaigns", classes="title", id="campaigns-title")
        yield DataTable(id="campaigns", cursor_type="row", zebra_stripes=True, cell_padding=0)
        yield Static("", id="detail")
        yield Static("Accounts", classes="title", id="accounts-title")
        yield DataTable(id="accounts", cursor_type="row", zebra_stripes=True, cell_padding=0)

    def on_mount(self) -> None:
        self._set_columns(self.size.width >= WIDE)
        self.query_one("#campaigns", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.app.refresh_live()  # fresh numbers at once, not a tick later

    def on_resize(self) -> None:
        if self.size.width != self._width:  # reflow: columns follow the width
            self._set_columns(self.size.width >= WIDE)
            if self.snapshot:
                self.show_snapshot(self.snapshot)

    def _set_columns(self, wide: bool) -> None:
        self._width = self.size.width
        for name, columns in (("campaigns", CAMPAIGN_COLUMNS), ("accounts", ACCOUNT_COLUMNS)):
            table = self.query_one(f"#{name}", DataTable)
            table.clear(columns=True)
            self._cells[name] = {}
            used = 0
            for key, title, width, wide_only, _ in columns:
                if wide or not wide_only:
                    if not width:  # the last column takes what is left
                        width = max(10, self.size.width - used - 2)
                    used += width
                    self._widths[name][key] = width
                    table.add_column(Text(_align(key, title, width)), width=width, key=key)

    # -- live ------------------------------------------------------------------------

    def show_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Draw one snapshot: touch only what changed."""
        if not self.is_attached or not self.query("#campaigns"):
            return  # the console is closing
        self.snapshot = snapshot
        self.draws += 1
        campaigns = snapshot.get("campaigns") or {}
        accounts = snapshot.get("accounts") or {}
        ordered = sorted(
            campaigns.items(),
            key=lambda kv: (ACTIVE_FIRST.get(kv[1].get("state"), 9), kv[1].get("name", "")),
        )
        with self.app.batch_update():
            table = self.query_one("#campaigns", DataTable)
            table.styles.height = len(ordered) + 1  # no blank rows under a short list
            self._sync("campaigns", CAMPAIGN_COLUMNS, ordered)
            self._sync("accounts", ACCOUNT_COLUMNS, sorted(accounts.items(), key=_by_name))
            self.query_one(AlertStrip).show(alerts_in(snapshot) + self.bounces.observe(snapshot))
            running = sum(1 for c in campaigns.values() if c.get("state") == "running")
            self.query_one("#campaigns-title", Static).update(
                f"Campaigns  {len(campaigns)} shown, {running} running"
                if campaigns
                else "Campaigns  none running or scheduled — launch one from :campaigns"
            )
            self.query_one("#accounts-title", Static).update(
                f"Accounts  {len(accounts)}"
                if accounts
                else "Accounts  none — postroom accounts add"
            )
            self._show_detail()

    def _sync(
        self,
        name: str,
        columns: tuple[TableColumn, ...],
        entries: list[tuple[str, dict[str, Any]]],
    ) -> None:
        table = self.query_one(f"#{name}", DataTable)
        shown = self._cells[name]
        keys = [str(column.key.value) for column in table.ordered_columns]
        makers = {key: make for key, _, _, _, make in columns}
        wanted = dict(entries)
        for gone in [k for k in shown if k not in wanted]:
            table.remove_row(gone)
            del shown[gone]
        for row_key, entry in entries:
            cells = tuple(_align(k, makers[k](entry), self._widths[name][k]) for k in keys)
            old = shown.get(row_key)
            if old is None:
                table.add_row(*cells, key=row_key)
            else:
                for col, before, after in zip(keys, old, cells, strict=True):
                    if _cell_key(before) != _cell_key(after):
                        table.update_cell(row_key, col, after)
            shown[row_key] = cells

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "campaigns":
            self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted campaign's last ten minutes, and why it waits, if it does."""
        key = self.selected_key("campaigns")
        c = (self.snapshot.get("campaigns") or {}).get(key) if key else None
        text = Text()
        if c:
            text.append(f"{c.get('name')}  ")
            text.append(sparkline(c.get("history") or [], 30), "bold")
            cap = self._cap(key, c)
            text.append(
                f"  now {per_second(c.get('rate_10s'))}  60s {per_second(c.get('rate_60s'))}"
                f"  {'cap ' + rate_text(cap) if cap else 'no cap'}"
                f"  in flight {c.get('in_flight') or 0}"
            )
            note = c.get("waiting_reason") or c.get("last_error")
            if note:
                text.append(f"  · {note}", "italic")
        self.query_one("#detail", Static).update(text)

    def _cap(self, key: str, c: dict[str, Any]) -> float | None:
        """The campaign's rate cap: a pending change, else the database's."""
        if "rate_cap" in c:
            return c["rate_cap"]
        row = self.store.campaigns.get(int(key))
        return row["rate"] if row else None

    def selected_key(self, name: str) -> str | None:
        """The key of the highlighted row of ``campaigns`` or ``accounts``."""
        table = self.query_one(f"#{name}", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # -- steering: keys on the selected campaign or account ----------------------------

    def _target(self) -> tuple[str, str, dict[str, Any]] | None:
        """("campaigns" | "accounts", key, snapshot entry) of the focused table's row."""
        focused = self.app.focused
        name = "accounts" if getattr(focused, "id", None) == "accounts" else "campaigns"
        key = self.selected_key(name)
        entry = (self.snapshot.get(name) or {}).get(key) if key else None
        if entry is None:
            self.notify(f"No {name[:-1]} selected", severity="warning")
            return None
        return name, key, entry

    @mutating
    def action_toggle_pause(self) -> None:
        target = self._target()
        if target is None:
            return
        section, key, entry = target
        state, name = entry.get("state"), entry.get("name", key)
        if section == "campaigns":
            moves = {
                "running": ("pause_campaign", "paused"),
                "paused": ("resume_campaign", "running"),
            }
        else:
            moves = {
                "active": ("pause_account", "paused"),
                "paused": ("resume_account", "active"),
                "paused_auto": ("resume_account", "active"),
                "draining": ("resume_account", "active"),
            }
        if state not in moves:
            self.notify(f"{name} is {state}: nothing to pause or resume")
            return
        method, after = moves[state]
        self.app.steer(method, int(key), expect=(section, key, {"state": after}))

    def _set_rate(self, section: str, key: str, rate: float | None) -> None:
        if section == "campaigns":
            self.app.steer(
                "set_rate", "campaign", int(key), rate, expect=(section, key, {"rate_cap": rate})
            )
        else:
            self.app.steer(
                "set_rate",
                "account",
                int(key),
                rate,
                expect=(section, key, {"configured_rate": rate}),
            )

    @mutating
    def action_rate_step(self, up: bool) -> None:
        target = self._target()
        if target is None:
            return
        section, key, entry = target
        if section == "accounts":
            current = entry.get("configured_rate")
        else:
            current = self._cap(key, entry)
            if not current and up:
                self.notify(f"{entry.get('name')} has no rate cap; = sets one")
                return
            current = current or entry.get("rate_10s") or RATE_FLOOR
        self._set_rate(section, key, step_rate(current, up))

    @mutating
    def action_exact_rate(self) -> None:
        target = self._target()
        if target is None:
            return
        section, key, entry = target
        campaign = section == "campaigns"
        current = self._cap(key, entry) if campaign else entry.get("configured_rate")

        def chosen(rate: float | None) -> None:
            if rate is not None:
                self._set_rate(section, key, rate or None)

        what = f"{'campaign' if campaign else 'account'} {entry.get('name', key)}"
        self.app.push_screen(RateDialog(what, current, allow_none=campaign), chosen)

    @mutating
    def action_retry(self) -> None:
        target = self._campaign_target("retry")
        if target is None:
            return
        key, entry = target
        counts = entry.get("counts") or {}
        parts = {s: counts.get(s, 0) for s in ("failed", "deferred", "unknown")}
        n, name = sum(parts.values()), entry.get("name", key)
        if not n:
            self.notify(f"{name}: nothing failed, deferred or unknown to retry")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.steer(
                    "retry",
                    int(key),
                    done=lambda k: self.notify(f"{name}: {k:,} deliveries queued again"),
                )

        detail = ", ".join(f"{v:,} {s}" for s, v in parts.items() if v)
        self.app.push_screen(
            ConfirmDialog(
                f"Retry {n:,} deliveries of {name} ({detail})?\nThey are sent again now.",
                yes="Retry",
            ),
            answered,
        )

    @mutating
    def action_cancel(self) -> None:
        target = self._campaign_target("cancel")
        if target is None:
            return
        key, entry = target
        name = entry.get("name", key)
        if entry.get("state") in ("completed", "cancelled"):
            self.notify(f"{name} is {entry.get('state')}: nothing to cancel")
            return
        counts = entry.get("counts") or {}
        unsent = sum(counts.get(s, 0) for s in ("queued", "deferred", "sending"))

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.steer(
                    "cancel_campaign",
                    int(key),
                    expect=("campaigns", key, {"state": "cancelled"}),
                    done=lambda k: self.notify(f"{name} cancelled: {k or 0:,} never sent"),
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Cancel campaign {name}? {unsent:,} deliveries not yet sent will never be"
                " sent. This cannot be undone.",
                yes="Cancel campaign",
            ),
            answered,
        )

    def _campaign_target(self, what: str) -> tuple[str, dict[str, Any]] | None:
        target = self._target()
        if target is None:
            return None
        section, key, entry = target
        if section != "campaigns":
            self.notify(f"{what} applies to a campaign: tab to the campaigns", severity="warning")
            return None
        return key, entry

    @mutating
    def action_drain(self) -> None:
        target = self._target()
        if target is None:
            return
        section, key, entry = target
        if section != "accounts":
            self.notify("drain applies to an account: tab to the accounts", severity="warning")
            return
        if entry.get("state") != "active":
            self.notify(f"{entry.get('name')} is {entry.get('state')}: nothing to drain")
            return
        self.app.steer("drain_account", int(key), expect=("accounts", key, {"state": "draining"}))

    @mutating
    def action_launch(self) -> None:
        drafts = [c for c in self.store.campaigns.all() if c["state"] in ("draft", "scheduled")]
        if len(drafts) == 1:
            start_launch(self.app, drafts[0]["id"])
        elif not drafts:
            self.notify("No draft campaign to launch: create one on :campaigns (n)")
        else:
            self.app.switch_mode("campaigns")
            self.app.notify("Select the campaign to launch and press l")


RATE_FLOOR = 1.0  # `-` on an uncapped campaign that is not sending yet starts here


def _align(key: str, cell: Any, width: int) -> Any:
    """Numbers right-aligned; every cell leaves a one-cell gap to the next column."""
    if not isinstance(cell, str):
        return cell
    if len(cell) >= width:
        cell = cell[: width - 2] + "…"
    return cell.rjust(width - 1) + " " if key in RIGHT_ALIGNED else cell.ljust(width)


def _by_name(item: tuple[str, dict[str, Any]]) -> str:
    return item[1].get("name", "")
