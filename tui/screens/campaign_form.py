"""The campaign form: create or edit a draft; `e` on a body opens it in $EDITOR.

Like k9s editing a resource: the body goes to a temporary file, the console
steps aside (``app.suspend()``) while the operator's editor runs, and the
file is read back when the editor exits.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from core.content import ContentError
from core.content.headers import sender_address
from core.content.templates import CampaignTemplates
from core.store import StoreError
from tui.readonly import mutating
from tui.screens.base import BaseScreen

FIELDS = {
    "name": "Name",
    "from_name": "From name",
    "from_email": "From address",
    "reply_to": "Reply-To",
    "subject": "Subject",
    "feedback_id": "Feedback-ID",
    "accounts": "Accounts",
}
PLACEHOLDERS = {
    "reply_to": "optional",
    "feedback_id": "optional, e.g. spring:news:example",
    "accounts": "name=weight, name=weight",
}


def run_editor(app: Any, text: str, suffix: str) -> str:
    """Edit ``text`` in $VISUAL/$EDITOR (default vi) and return what was saved."""
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8") as f:
        f.write(text)
    path = Path(f.name)
    try:
        try:
            with app.suspend():
                subprocess.run([*editor, str(path)], check=False)  # noqa: S603 - the operator's editor
        except Exception as exc:  # SuspendNotSupported: headless (tests, textual serve)
            if type(exc).__name__ != "SuspendNotSupported":
                raise
            subprocess.run([*editor, str(path)], check=False, stdin=subprocess.DEVNULL)  # noqa: S603
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)


class BodyField(Static, can_focus=True):
    """A body in summary; `e` (or Enter) edits it in $EDITOR."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(id=f"body-{kind}")
        self.kind = kind
        self.text = text

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        lines = self.text.splitlines()
        first = next((line.strip() for line in lines if line.strip()), "")
        summary = f"{len(lines)} lines: {first[:40]}" if lines else "(empty)"
        if not lines and self.kind == "text":
            summary += " — derived from the HTML"
        self.update(f"{summary}  [dim]e edits[/dim]")


class CampaignForm(BaseScreen):
    """Dismisses with the saved campaign's id, or None when cancelled."""

    DEFAULT_CSS = """
    CampaignForm VerticalScroll { height: 1fr; padding: 0 1; }
    CampaignForm .row { height: 1; }
    CampaignForm .row Label { width: 14; color: $text-muted; }
    CampaignForm .row Input, CampaignForm .row Select, CampaignForm .row BodyField { width: 1fr; }
    CampaignForm BodyField:focus { background: $accent 30%; }
    CampaignForm #error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", key_display="^s"),
        Binding("e", "edit_body", "Edit body"),
        Binding("escape", "cancel", "Cancel", key_display="esc"),
    ]

    def __init__(self, campaign: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.original = campaign
        self.crumb = f"campaigns › {campaign['name']}" if campaign else "campaigns › new"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        c = self.original or {}
        pool = self.store.campaigns.accounts(c["id"]) if c else []
        values = {
            **{key: str(c.get(key) or "") for key in FIELDS},
            "accounts": ", ".join(f"{a['name']}={a['weight']}" for a in pool),
        }
        lists = [(row["name"], row["id"]) for row in self.store.lists.all_with_counts()]
        with VerticalScroll():
            for key, label in FIELDS.items():
                with Horizontal(classes="row"):
                    yield Label(label)
                    yield Input(
                        values[key], placeholder=PLACEHOLDERS.get(key, ""), id=key, compact=True
                    )
            with Horizontal(classes="row"):
                yield Label("List")
                yield Select(
                    lists, value=c.get("list_id") or Select.NULL, id="list_id", compact=True
                )
            with Horizontal(classes="row"):
                yield Label("Text body")
                yield BodyField("text", c.get("text_body", ""))
            with Horizontal(classes="row"):
                yield Label("HTML body")
                yield BodyField("html", c.get("html_body", ""))
            yield Static("", id="error")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def action_edit_body(self) -> None:
        field = self.focused
        if not isinstance(field, BodyField):
            self.notify("Move to a body (tab) and press e to edit it", severity="warning")
            return
        field.text = run_editor(self.app, field.text, ".html" if field.kind == "html" else ".txt")
        field.show()
        self.refresh()

    def collect(self) -> tuple[dict[str, Any], dict[int, int]]:
        """The campaign's values and pool, checked; raises ContentError/StoreError."""
        values: dict[str, Any] = {key: self.query_one(f"#{key}", Input).value for key in FIELDS}
        pool_text = values.pop("accounts")
        values["name"] = values["name"].strip()
        if not values["name"]:
            raise ContentError("Name is required")
        list_id = self.query_one("#list_id", Select).value
        values["list_id"] = None if list_id is Select.NULL else list_id
        values["text_body"] = self.query_one("#body-text", BodyField).text
        values["html_body"] = self.query_one("#body-html", BodyField).text
        CampaignTemplates.compile(values["subject"], values["text_body"], values["html_body"])
        sender_address(values["from_email"], "From address", smtputf8=True)
        if values["reply_to"].strip():
            sender_address(values["reply_to"], "Reply-To", smtputf8=True)
        weights: dict[int, int] = {}
        for entry in filter(None, (p.strip() for p in pool_text.split(","))):
            name, _, weight = entry.partition("=")
            if not (weight.strip() or "1").isdigit() or int(weight.strip() or "1") < 1:
                raise ContentError(f"Accounts: {entry!r}: weight must be a positive integer")
            weights[self.store.accounts.require(name.strip())["id"]] = int(weight.strip() or "1")
        if not weights:
            raise ContentError("Accounts: give at least one, as name=weight")
        return values, weights

    @mutating
    def action_save(self) -> None:
        try:
            values, weights = self.collect()
            with self.store.db.transaction():
                if self.original:
                    campaign_id = self.original["id"]
                    self.store.campaigns.update(campaign_id, **values)
                else:
                    campaign_id = self.store.campaigns.create(**values)
                self.store.campaigns.set_accounts(campaign_id, weights)
        except (ContentError, StoreError) as exc:
            self.query_one("#error", Static).update(str(exc))
            return
        action = "campaign.edit" if self.original else "campaign.create"
        self.store.audit.record(self.app.user, action, values["name"], "console")
        self.notify(f"Saved campaign {values['name']}")
        self.dismiss(campaign_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
