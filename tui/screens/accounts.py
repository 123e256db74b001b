"""`:accounts` — sending accounts, their health, and what an operator does to them.

`a` add, `e`/Enter edit, `c` duplicate, `p` pause/resume, `ctrl+d` delete
(behind a dialog), `t` test the connection (a worker; sends no mail), `s`
send a test message (asks for the address, then confirms).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from core.accounts.connect import ConnectError
from core.accounts.health import DAY, HOUR, health_from_counts
from core.accounts.probe import SendError, probe, send_test_message
from tui.format import limit, rate
from tui.readonly import mutating
from tui.screens.account_form import AccountForm
from tui.screens.base import TableScreen
from tui.screens.dialogs import ConfirmDialog

_SHORT_STATES = {"paused": "paused", "paused_auto": "auto-paused", "draining": "draining"}


def _why(account: dict[str, Any]) -> str:
    """Why it is paused, else its last error; short enough for a column."""
    text = account["state_reason"] if account["state"] != "active" else None
    text = text or account["last_error"] or ""
    return text if len(text) <= 32 else text[:31] + "…"


def _used(sent: int, cap: int | None) -> str:
    return f"{sent:,}/{limit(cap)}"


class AddressPrompt(ModalScreen[str | None]):
    """Asks for the address a test message goes to."""

    DEFAULT_CSS = """
    AddressPrompt { align: center middle; }
    AddressPrompt > Vertical { width: 60; max-width: 100%; height: auto;
                               border: thick $accent; background: $surface; padding: 1 2; }
    """
    BINDINGS: ClassVar = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, account_name: str) -> None:
        super().__init__()
        self.account_name = account_name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Send a test message through {self.account_name} to:")
            yield Input(placeholder="you@example.com", id="address")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class AccountsScreen(TableScreen):
    crumb = "accounts"
    columns = ("NAME", "STATE", "RATE", "HOUR", "DAY", "WARM-UP", "WHY / LAST ERROR", "HOST")
    empty_text = "No accounts yet. Press a to add one (or `postroom accounts add`)."
    DEFAULT_CSS = """
    AccountsScreen #probe { height: auto; max-height: 8; padding: 0 1;
                            border-top: solid $accent; display: none; }
    AccountsScreen #probe.-shown { display: block; }
    """
    BINDINGS: ClassVar = [
        Binding("a", "add", "Add"),
        Binding("e,enter", "edit", "Edit", key_display="e"),
        Binding("t", "test", "Test"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("c", "duplicate", "Copy"),
        Binding("s", "send_test", "Send test", show=False),
        Binding("ctrl+d", "delete", "Delete", key_display="^d"),
        *TableScreen.BINDINGS,
    ]
    REFRESH_SECONDS = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.clock = time.time

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="probe")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(self.REFRESH_SECONDS, self._refresh_if_shown)

    def _refresh_if_shown(self) -> None:
        if self.is_current:
            self.reload()

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        now = self.clock()
        accounts = self.store.accounts.all()
        self.accounts = {str(a["id"]): a for a in accounts}
        hour = self.store.accounts.sent_since_by_account(now - HOUR)
        day = self.store.accounts.sent_since_by_account(now - DAY)
        rows = []
        for a in accounts:
            health = health_from_counts(a, hour.get(a["id"], 0), day.get(a["id"], 0), at=now)
            rows.append(
                (
                    a["id"],
                    (
                        a["name"],
                        _SHORT_STATES.get(a["state"], a["state"]),
                        rate(a["rate"]),
                        _used(health.sent_hour, health.max_per_hour),
                        _used(health.sent_day, health.day_cap),
                        f"d{health.warmup_day} {health.warmup_cap:,}" if health.warmup_day else "—",
                        _why(a),
                        f"{a['host']}:{a['port']}",
                    ),
                )
            )
        return rows

    @property
    def selected(self) -> dict[str, Any] | None:
        key = self.selected_key
        return self.accounts.get(key) if key is not None else None

    async def on_data_table_row_selected(self, event: object) -> None:
        await self.run_action("edit")  # Enter reaches the table, not the screen's binding

    # -- create / edit / duplicate / delete -------------------------------------

    def _after_form(self, account_id: int | None) -> None:
        if account_id is not None:
            self.reload()
            index = next((i for i, (key, _) in enumerate(self.rows) if key == account_id), None)
            if index is not None:
                self.table.move_cursor(row=index)

    @mutating
    def action_add(self) -> None:
        self.app.push_screen(AccountForm(), self._after_form)

    @mutating
    def action_edit(self) -> None:
        if (account := self.selected) is not None:
            self.app.push_screen(AccountForm(account), self._after_form)

    @mutating
    def action_duplicate(self) -> None:
        if (account := self.selected) is not None:
            self.app.push_screen(AccountForm(account, duplicate=True), self._after_form)

    @mutating
    def action_toggle_pause(self) -> None:
        account = self.selected
        if account is None:
            return
        pausing = account["state"] in ("active", "draining")
        if self.app.feed.mode != "none":  # an engine runs: it must stop using the account now
            self.app.steer(
                "pause_account" if pausing else "resume_account",
                account["id"],
                done=lambda _: self.reload(),
                success=f"{account['name']}: {'paused' if pausing else 'active'}",
            )
            return
        reason = f"by {self.app.user}" if pausing else None
        self.store.accounts.set_state(account["id"], "paused" if pausing else "active", reason)
        self.store.audit.record(
            self.app.user, "account.pause" if pausing else "account.resume", account["name"]
        )
        self.notify(f"{account['name']}: {'paused' if pausing else 'active'}")
        self.reload()

    @mutating
    def action_delete(self) -> None:
        account = self.selected
        if account is None:
            return
        usage = self.store.accounts.usage(account["id"])
        if usage["campaigns"]:
            self.notify(
                f"{account['name']} is used by campaign(s) {', '.join(usage['campaigns'])}; "
                "remove it from them first",
                severity="error",
            )
            return
        if usage["deliveries"] or usage["attempts"]:
            self.notify(
                f"{account['name']} has delivery history ({usage['attempts']:,} attempts), "
                "kept for the log; pause it instead",
                severity="error",
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.store.accounts.delete(account["id"])
                self.store.audit.record(self.app.user, "account.delete", account["name"])
                self.notify(f"Deleted account {account['name']}")
                self.reload()

        self.app.push_screen(
            ConfirmDialog(
                f"Delete account {account['name']} ({account['host']})?\n"
                "Its settings and stored password are lost.",
                yes="Delete",
            ),
            answered,
        )

    # -- connection test and test message --------------------------------------

    def _show_probe(self, text: str) -> None:
        panel = self.query_one("#probe", Static)
        panel.update(text)
        panel.set_class(bool(text), "-shown")

    def action_test(self) -> None:
        if (account := self.selected) is not None:
            self._show_probe(f"testing {account['name']} ({account['host']}:{account['port']})…")
            self.run_test(account)

    @work(exclusive=True, group="account-probe")
    async def run_test(self, account: dict[str, Any]) -> None:
        try:
            result = await probe(account, timeout=15.0)
        except ConnectError as exc:
            self._show_probe(f"[b]{account['name']}: FAILED ({exc.stage})[/b]\n{_escape(str(exc))}")
            return
        self._show_probe(f"[b]{account['name']}[/b] " + "\n".join(map(_escape, result.lines())))

    @mutating
    def action_send_test(self) -> None:
        account = self.selected
        if account is None:
            return

        def confirmed(address: str, yes: bool | None) -> None:
            if yes:
                self._show_probe(f"sending a test message to {address}…")
                self.run_send(account, address)
                self.store.audit.record(
                    self.app.user, "account.test_message", account["name"], address
                )

        def addressed(address: str | None) -> None:
            if address:
                self.app.push_screen(
                    ConfirmDialog(
                        f"Send a test message to {address} through {account['name']}?", yes="Send"
                    ),
                    lambda yes: confirmed(address, yes),
                )

        self.app.push_screen(AddressPrompt(account["name"]), addressed)

    @work(exclusive=True, group="account-probe")
    async def run_send(self, account: dict[str, Any], address: str) -> None:
        try:
            reply = await send_test_message(account, address, timeout=30.0)
        except (ConnectError, SendError) as exc:
            self._show_probe(f"[b]test message FAILED[/b]: {_escape(str(exc))}")
            return
        self._show_probe(f"test message to {_escape(address)}: accepted ({_escape(reply)})")


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
