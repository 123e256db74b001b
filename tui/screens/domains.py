"""`:domains` — SPF, DKIM, DMARC and MX of every From domain in use.

Checks run in a worker on the app's loop (dnspython's async resolver), so
the table stays responsive while lookups wait or time out.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.dkim import DkimError, generate_key
from core.dnscheck import (
    CHECKS,
    DomainReport,
    Resolver,
    check_domain,
    context_for,
    from_domains,
)
from tui.readonly import mutating
from tui.screens.base import BaseScreen, TableScreen
from tui.screens.dialogs import ConfirmDialog

_STATUS = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "error": "DNS?", "-": "—"}


def new_selector() -> str:
    """Selectors named by month (``pr202503``) make rotations easy to follow."""
    return time.strftime("pr%Y%m")


class DomainsScreen(TableScreen):
    crumb = "domains"
    columns = ("DOMAIN", "DKIM KEY", "SPF", "DKIM", "DMARC", "MX")
    empty_text = "No From domains yet: campaigns' From addresses appear here."
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Findings"),
        Binding("r", "recheck", "Re-check"),
        Binding("g", "generate", "Generate DKIM key"),
        *TableScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reports: dict[str, DomainReport] = {}
        self.resolver = Resolver.from_env()

    def on_mount(self) -> None:
        # TableScreen's on_mount (which adds the columns) runs after this one.
        self.call_later(lambda: self.check(self.domains()))

    def domains(self) -> list[str]:
        keyed = {row["domain"] for row in self.store.dkim_keys.all()}
        return sorted(set(from_domains(self.store)) | keyed)

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        rows = []
        for domain in self.domains():
            keys = self.store.dkim_keys.for_domain(domain)
            report = self.reports.get(domain)
            statuses = (
                [_STATUS[report.status(c)] for c in CHECKS] if report else ["…"] * len(CHECKS)
            )
            rows.append((domain, (domain, keys[0]["selector"] if keys else "—", *statuses)))
        return rows

    def check(self, domains: list[str]) -> None:
        """Check ``domains`` in the background; rows fill in as answers arrive."""
        contexts = [context_for(self.store, d) for d in domains]  # SQLite, on this thread
        for context in contexts:
            self.reports.pop(context.domain, None)
        self.reload()
        self.run_worker(self._check(contexts), group="dns", exit_on_error=False)

    async def _check(self, contexts: list) -> None:
        for context in contexts:
            self.reports[context.domain] = await check_domain(context, self.resolver)
            self.reload()

    def action_recheck(self) -> None:
        self.resolver.clear()
        self.check(self.domains())

    def action_open(self) -> None:
        domain = self.selected_key
        if domain is None:
            return
        if domain not in self.reports:
            self.notify(f"{domain}: still checking", timeout=3)
            return
        self.app.push_screen(FindingsScreen(self.reports[domain]))

    def on_data_table_row_selected(self, event: object) -> None:
        self.action_open()

    @mutating
    def action_generate(self) -> None:
        domain = self.selected_key
        if domain is None:
            return
        selector = new_selector()
        question = f"Generate a 2048-bit DKIM key for {domain}, selector {selector}?"
        if self.store.dkim_keys.for_domain(domain):
            question += (
                "\n\nIt replaces the current key for signing at once: publish its "
                "record before the next send."
            )

        def answered(yes: bool | None) -> None:
            if yes:
                self._generate(domain, selector)

        self.app.push_screen(ConfirmDialog(question, yes="Generate"), answered)

    def _generate(self, domain: str, selector: str) -> None:
        try:
            key = generate_key(self.store, domain, selector)
        except DkimError as exc:
            self.notify(str(exc), severity="error")
            return
        self.store.audit.record(self.app.user, "dkim.generate", key.dns_name)
        self.notify(f"{key.dns_name}: key created; publish the record shown in its findings")
        self.check([domain])


class FindingsScreen(BaseScreen):
    """One domain's findings, each fail with the record to publish."""

    DEFAULT_CSS = """
    FindingsScreen VerticalScroll { padding: 0 1; }
    FindingsScreen .record { color: $text-muted; padding: 0 0 0 7; }
    """
    BINDINGS: ClassVar = [Binding("escape", "app.back", "Back")]

    def __init__(self, report: DomainReport) -> None:
        super().__init__()
        self.report = report
        self.crumb = f"domains › {report.domain}"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll():
            for check in CHECKS:
                for finding in self.report.by_check(check):
                    label = _STATUS[finding.status]
                    yield Static(
                        f"[b]{check.upper():<5}[/b] {label:<4}  {escape(finding.reason)}",
                        classes=f"finding -{finding.status}",
                    )
                    if finding.record:
                        yield Static(f"publish: {escape(finding.record)}", classes="record")
