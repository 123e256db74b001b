"""The top bar: where you are, the state that matters, and the keys that apply."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.readonly import is_mutating


class ViewHeader(Widget):
    """Two lines: breadcrumb and status, then the current screen's keys."""

    DEFAULT_CSS = """
    ViewHeader { height: 2; background: $panel; color: $text; }
    """

    def render(self) -> Text:
        app = self.app
        screen = self.screen
        crumb = Text.assemble(
            ("postroom", "bold"),
            " › ",
            (getattr(screen, "crumb", screen.__class__.__name__), "bold underline"),
        )
        status = getattr(app, "status_line", lambda: "")()
        if app.readonly:
            status = f"READ-ONLY  {status}".strip()
        width = max(self.size.width, 1)
        pad = max(1, width - crumb.cell_len - len(status))
        line1 = crumb + Text(" " * pad) + Text(status, style="bold")
        return line1 + Text("\n") + self._keys(width)

    def _keys(self, width: int) -> Text:
        """The keys that apply here, in binding order; when they do not fit,
        as many as fit and then ``<?> more`` (the help lists them all)."""
        pieces: list[Text] = []
        seen: set[str] = set()
        for node in (self.screen, self.app):
            for binding in getattr(node, "BINDINGS", []):
                if not getattr(binding, "show", False):
                    continue
                if self.app.readonly and is_mutating(node, binding.action):
                    continue
                label = binding.key_display or binding.key
                if label in seen:
                    continue
                seen.add(label)
                pieces.append(Text.assemble((f"<{label}>", "bold"), f" {binding.description}  "))
        keys = Text()
        if sum(piece.cell_len for piece in pieces) <= width:
            for piece in pieces:
                keys += piece
            return keys
        more = Text.assemble(("<?>", "bold"), " more")
        for piece in pieces:
            if keys.cell_len + piece.cell_len + more.cell_len > width:
                break
            keys += piece
        return keys + more
