"""The preview: one subscriber's message exactly as it will be sent.

`n`/`p` step through the list's members, `s` saves the raw message as .eml
in the current directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.content import ContentError, compile_campaign
from core.content.preview import Preview, pick_subscriber, preview_message
from tui.screens.base import BaseScreen


def preview_renderable(preview: Preview) -> Text:
    if preview.error:
        return Text.assemble((f"{preview.email}: cannot render\n", "bold red"), preview.error)
    out = Text()
    for name, value in preview.headers:
        out.append(f"{name}: ", style="bold")
        out.append(f"{value}\n")
    out.append("\n── text part ──\n", style="bold reverse")
    out.append(preview.text.rstrip("\n") + "\n")
    if preview.html_text is not None:
        out.append("\n── HTML part, as text ──\n", style="bold reverse")
        out.append(preview.html_text.rstrip("\n") + "\n")
    return out


class PreviewScreen(BaseScreen):
    DEFAULT_CSS = """
    PreviewScreen VerticalScroll { height: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar = [
        Binding("n", "step(1)", "Next"),
        Binding("p", "step(-1)", "Previous"),
        Binding("s", "save", "Save .eml"),
        Binding("escape", "app.back", "Back", show=False),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.compiled: Any = None
        self.row: dict[str, Any] | None = None
        self.preview: Preview | None = None
        self.crumb = "campaigns › preview"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll():
            yield Static(id="message")

    def on_mount(self) -> None:
        campaign = self.store.campaigns.get(self.campaign_id)
        self.crumb = f"campaigns › {campaign['name']} › preview"
        try:
            self.compiled = compile_campaign(self.store, self.campaign_id, self.app.config)
            self.row = pick_subscriber(self.store, self.compiled.list_id)
        except ContentError as exc:
            self.query_one("#message", Static).update(Text(str(exc), style="bold red"))
            return
        self.show()

    def show(self) -> None:
        self.preview = preview_message(self.compiled, self.row)
        self.query_one("#message", Static).update(preview_renderable(self.preview))
        self.crumb = f"campaigns › preview › {self.row['email']}"
        self.refresh_header()

    def action_step(self, step: int) -> None:
        if self.row is None:
            return
        found = self.store.campaigns.audience_neighbour(self.compiled.list_id, self.row["id"], step)
        if found is None:
            self.notify("No more subscribers that way")
            return
        self.row = found
        self.show()
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def action_save(self) -> None:
        if self.preview is None or not self.preview.data:
            self.notify("Nothing to save", severity="warning")
            return
        path = Path.cwd() / f"{self.compiled.campaign_id}-{self.preview.subscriber_id}.eml"
        try:
            path.write_bytes(self.preview.data)
        except OSError as exc:  # one line for the operator; the console stays up
            self.notify(f"{path}: cannot save: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Saved {path}")
