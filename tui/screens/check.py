"""The pre-launch check in the console: run in a worker, shown as a report.

The live-ops launch dialog shows ``CheckReport.summary_lines()`` of the same
``core.content.check.run_check``.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.content.check import CheckReport, run_check
from core.store import Store
from tui.screens.base import BaseScreen

STYLES = {"fail": "bold red", "warn": "yellow", "ok": "green"}


def report_renderable(report: CheckReport) -> Text:
    out = Text()
    out.append(report.summary_lines()[0] + "\n\n", style="bold")
    for item in report.items:
        out.append(f"{item.level.upper():<4} ", style=STYLES[item.level])
        out.append(f"{item.section}: {item.title}\n")
        if item.reason and item.level != "ok":
            out.append(f"     why: {item.reason}\n", style="dim")
        if item.fix:
            out.append(f"     fix: {item.fix}\n", style="dim")
    return out


class CheckScreen(BaseScreen):
    DEFAULT_CSS = """
    CheckScreen VerticalScroll { height: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar = [
        Binding("r", "rerun", "Re-check"),
        Binding("escape", "app.back", "Back", show=False),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.report: CheckReport | None = None
        self.crumb = "campaigns › check"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll():
            yield Static("Checking…", id="report")

    def on_mount(self) -> None:
        self.crumb = f"campaigns › {self.store.campaigns.get(self.campaign_id)['name']} › check"
        self.refresh_header()
        self.run_check()

    def action_rerun(self) -> None:
        self.query_one("#report", Static).update("Checking…")
        self.run_check()

    def _progress(self, done: int, total: int) -> None:
        self.query_one("#report", Static).update(f"Checking… rendered {done:,} of {total:,}")

    @work(thread=True, exclusive=True, group="check")
    def run_check(self) -> None:
        # Its own connection: the worker thread must not share the console's.
        store = Store(self.app.db_path)
        try:
            report = run_check(
                store,
                self.campaign_id,
                self.app.config,
                progress=lambda done, total: self.app.call_from_thread(self._progress, done, total),
            )
        except Exception as exc:  # one line for the operator; the console stays up
            self.app.call_from_thread(self._show, None, f"Check failed: {exc}")
            return
        finally:
            store.close()
        self.app.call_from_thread(self._show, report)

    def _show(self, report: CheckReport | None, error: str = "") -> None:
        self.report = report
        shown = report_renderable(report) if report else Text(error, style="bold red")
        self.query_one("#report", Static).update(shown)
