"""The account form: create, edit or duplicate, checked as the operator types.

Each value is parsed on every keystroke (``core.accounts.validation``) and a
problem is shown on the line under its field. The secret field is masked
when it holds a password; an existing stored password is never loaded into
the form (leave the field empty to keep it).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from core.accounts.presets import (
    LIMIT_FIELDS,
    OPERATOR,
    PRESETS,
    PresetError,
    limit_sources,
    mark_operator_edits,
    preset_values,
)
from core.accounts.validation import AUTH_MODES, TLS_MODES, cross_field_errors, parse_field
from core.store import StoreError
from tui.readonly import mutating
from tui.screens.base import BaseScreen

# field -> label; the order of the form.
TEXT_FIELDS = {
    "name": "Name",
    "host": "Host",
    "port": "Port",
    "username": "Username",
    "secret": "Secret",
    "oauth_token_cmd": "Token command",
    "envelope_from": "Bounces to",
    "rate": "Rate (msg/s)",
    "max_connections": "Connections",
    "max_messages_per_connection": "Msgs/connection",
    "max_per_hour": "Per hour",
    "max_per_day": "Per day",
    "max_message_bytes": "Max bytes",
    "warmup": "Warm-up caps",
}
SECRET_KINDS = [("password (in database)", "db"), ("env:NAME", "env"), ("file:PATH", "file")]
PLACEHOLDERS = {
    "host": "smtp.example.com",
    "username": "login name or address",
    "oauth_token_cmd": "command printing an access token",
    "envelope_from": "bounces@example.com (default: campaign From)",
    "max_per_hour": "no limit",
    "max_per_day": "no limit",
    "max_message_bytes": "no limit",
    "warmup": "50,100,200,400 (daily caps)",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class AccountForm(BaseScreen):
    """Dismisses with the saved account's id, or None when cancelled."""

    DEFAULT_CSS = """
    AccountForm VerticalScroll { height: 1fr; padding: 0 1; }
    AccountForm .row { height: 1; }
    AccountForm .row Label { width: 16; color: $text-muted; }
    AccountForm .row Input, AccountForm .row Select { width: 1fr; }
    AccountForm .row.-limit Input { width: 14; }
    AccountForm .source { width: 1fr; color: $text-muted; padding-left: 1; }
    AccountForm .error { height: auto; color: $error; padding-left: 16; display: none; }
    AccountForm .error.-shown { display: block; }
    AccountForm .hidden { display: none; }
    AccountForm Checkbox { margin-left: 16; }
    AccountForm #note { color: $text-muted; padding-left: 16; }
    """
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", key_display="^s"),
        Binding("escape", "cancel", "Cancel", key_display="esc"),
    ]

    def __init__(self, account: dict[str, Any] | None = None, *, duplicate: bool = False) -> None:
        super().__init__()
        self.original = account
        self.editing = account is not None and not duplicate
        self.kept_secret = account.get("secret") if account else None
        if account is None:
            self.crumb = "accounts › new"
            self.values = {"name": "", **preset_values("custom")}
        else:
            self.values = dict(account)
            if duplicate:
                self.values["name"] = f"{account['name']}-copy"
                self.crumb = f"accounts › copy of {account['name']}"
            else:
                self.crumb = f"accounts › {account['name']}"
        self.sources = limit_sources(self.values)
        # The limits as the preset (or the saved account) has them: a limit whose
        # text differs is the operator's own.
        self.base_text = {name: _text(self.values.get(name)) for name in LIMIT_FIELDS}
        self.touched: set[str] = set()
        self.submitted = False

    # -- layout -----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll():
            if not self.editing and self.original is None:
                yield from self._row(
                    "preset",
                    "Preset",
                    Select(
                        [(p.label, p.key) for p in PRESETS.values()],
                        value="custom",
                        allow_blank=False,
                        compact=True,
                        id="preset",
                    ),
                )
                yield from self._row(
                    "region", "SES region", self._input("region", "", "eu-west-1"), hidden=True
                )
                yield Checkbox("SES sandbox limits", id="sandbox", compact=True, classes="hidden")
                yield Static(PRESETS["custom"].note, id="note")
            for name in ("name", "host", "port"):
                yield from self._text_row(name)
            yield from self._row("tls", "TLS", self._select("tls", TLS_MODES))
            yield from self._row("auth", "Auth", self._select("auth", AUTH_MODES))
            yield from self._text_row("username")
            kind, reference = self._secret_parts()
            yield from self._row(
                "secret_kind",
                "Secret kind",
                Select(SECRET_KINDS, value=kind, allow_blank=False, compact=True, id="secret_kind"),
            )
            secret = self._input("secret", reference, self._secret_placeholder(kind))
            secret.password = kind == "db"
            yield from self._row("secret", "Secret", secret)
            for name in ("oauth_token_cmd", "envelope_from"):
                yield from self._text_row(name)
            for name in LIMIT_FIELDS:
                yield from self._text_row(name, limit=True)
            yield from self._text_row("warmup")
            yield Checkbox(
                "Verify the server's certificate",
                value=bool(self.values.get("verify_tls", 1)),
                id="verify_tls",
                compact=True,
            )
            yield Checkbox(
                "Allow AUTH without TLS (loopback only)",
                value=bool(self.values.get("allow_plaintext_auth", 0)),
                id="allow_plaintext_auth",
                compact=True,
            )
            yield Static("", id="err-form", classes="error")

    def _input(self, name: str, value: str, placeholder: str = "") -> Input:
        return Input(value=value, placeholder=placeholder, id=name, compact=True)

    def _select(self, name: str, choices: tuple[str, ...]) -> Select:
        return Select(
            [(c, c) for c in choices],
            value=self.values.get(name) or choices[0],
            allow_blank=False,
            compact=True,
            id=name,
        )

    def _row(
        self, name: str, label: str, widget: Widget, *, hidden: bool = False, limit: bool = False
    ) -> ComposeResult:
        classes = "row" + (" -limit" if limit else "") + (" hidden" if hidden else "")
        with Horizontal(classes=classes, id=f"row-{name}"):
            yield Label(label)
            yield widget
            if limit:
                yield Static(self.sources.get(name, ""), id=f"src-{name}", classes="source")
        yield Static("", id=f"err-{name}", classes="error")

    def _text_row(self, name: str, *, limit: bool = False) -> ComposeResult:
        value = self.values.get(name)
        if name == "warmup" and value:
            value = ",".join(str(cap) for cap in json.loads(value))
        widget = self._input(name, _text(value), PLACEHOLDERS.get(name, ""))
        yield from self._row(name, TEXT_FIELDS[name], widget, limit=limit)

    def _secret_parts(self) -> tuple[str, str]:
        secret = self.kept_secret or ""
        scheme, _, rest = secret.partition(":")
        if scheme in ("env", "file"):
            return scheme, rest
        return "db", ""  # a stored password is never put back in a widget

    def _secret_placeholder(self, kind: str) -> str:
        if kind == "db":
            stored = (self.kept_secret or "").startswith("db:")
            return "(unchanged: type to replace)" if stored else "password (hidden)"
        return "VARIABLE_NAME" if kind == "env" else "~/.config/postroom/relay-password"

    def on_mount(self) -> None:
        self._show_errors()
        self.query_one("#name" if self.editing is False else "#host", Input).focus()

    # -- reading the form ---------------------------------------------------

    def _secret_value(self) -> str | None:
        kind = self.query_one("#secret_kind", Select).value
        typed = self.query_one("#secret", Input).value
        if kind == "db":
            if typed:
                return f"db:{typed}"
            return self.kept_secret if (self.kept_secret or "").startswith("db:") else None
        return f"{kind}:{typed}" if typed else None

    def collect(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(parsed values, errors by field) from what is on screen now."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in TEXT_FIELDS:
            if name == "secret":
                continue
            value, error = parse_field(name, self.query_one(f"#{name}", Input).value)
            if error:
                errors[name] = error
            else:
                values[name] = value
        for name in ("tls", "auth"):
            values[name] = self.query_one(f"#{name}", Select).value
        for name in ("verify_tls", "allow_plaintext_auth"):
            values[name] = int(self.query_one(f"#{name}", Checkbox).value)
        secret = self._secret_value()
        if secret is not None:
            value, error = parse_field("secret", secret)
            if error:
                errors["secret"] = error
            values["secret"] = value
        else:
            values["secret"] = None
        for name, error in cross_field_errors(values).items():
            errors.setdefault(name, error)
        if values.get("auth") != "password":
            errors.pop("secret", None)
        return values, errors

    def _show_errors(self, errors: dict[str, str] | None = None) -> dict[str, str]:
        if errors is None:
            _, errors = self.collect()
        for widget in self.query(".error"):
            name = (widget.id or "").removeprefix("err-")
            text = errors.get(name, "")
            visible = bool(text) and (self.submitted or name in self.touched)
            widget.update(f"↳ {text}" if visible else "")
            widget.set_class(visible, "-shown")
        return errors

    # -- reacting to typing -----------------------------------------------------

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        if name == "region":
            self._apply_preset()
        self.touched.add(name)
        if name in LIMIT_FIELDS:
            self.query_one(f"#src-{name}", Static).update(self._source(name, event.value))
        self._show_errors()

    def _source(self, name: str, text: str) -> str:
        return self.sources[name] if text == self.base_text[name] else OPERATOR

    @on(Select.Changed)
    def _selected(self, event: Select.Changed) -> None:
        name = event.select.id or ""
        if name == "preset":
            self._apply_preset()
        elif name == "secret_kind":
            box = self.query_one("#secret", Input)
            box.password = event.value == "db"
            box.placeholder = self._secret_placeholder(str(event.value))
        self.touched.add(name)
        self._show_errors()

    @on(Checkbox.Changed)
    def _checked(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "sandbox":
            self._apply_preset()
        self._show_errors()

    def _apply_preset(self) -> None:
        key = str(self.query_one("#preset", Select).value)
        is_ses = key == "ses"
        self.query_one("#row-region").set_class(not is_ses, "hidden")
        self.query_one("#sandbox").set_class(not is_ses, "hidden")
        self.query_one("#note", Static).update(PRESETS[key].note)
        region = self.query_one("#region", Input).value if is_ses else None
        sandbox = self.query_one("#sandbox", Checkbox).value if is_ses else False
        try:
            values = preset_values(key, region=region or "us-east-1", sandbox=sandbox)
        except PresetError as exc:
            self.query_one("#err-region", Static).update(f"↳ {exc}")
            return
        if is_ses and not region:
            values["host"] = ""  # the region picks the host
        self.sources = json.loads(values["limits_source"])
        self.base_text = {name: _text(values[name]) for name in LIMIT_FIELDS}
        with self.app.batch_update():
            for name in ("host", "port", *LIMIT_FIELDS):
                self.query_one(f"#{name}", Input).value = _text(values[name])
                if name in LIMIT_FIELDS:
                    self.query_one(f"#src-{name}", Static).update(self.sources[name])
            self.query_one("#tls", Select).value = values["tls"]
            self.query_one("#auth", Select).value = values["auth"]

    # -- actions ------------------------------------------------------------------

    @mutating
    def action_save(self) -> None:
        self.submitted = True
        values, errors = self.collect()
        self._show_errors(errors)
        if errors:
            self.notify(f"{len(errors)} field(s) need attention", severity="error")
            return
        store = self.store
        try:
            if self.editing:
                assert self.original is not None
                values["limits_source"] = mark_operator_edits(self.original, values)
                store.accounts.update(self.original["id"], **values)
                account_id = self.original["id"]
                action = "account.edit"
            else:
                values["provider"] = (
                    str(self.query_one("#preset", Select).value)
                    if self.original is None
                    else self.original["provider"]
                )
                values["limits_source"] = json.dumps(
                    {
                        name: self._source(name, self.query_one(f"#{name}", Input).value)
                        for name in LIMIT_FIELDS
                    }
                )
                account_id = store.accounts.create(**values)
                action = "account.add" if self.original is None else "account.duplicate"
        except StoreError as exc:
            self._show_errors({"name" if "name" in str(exc) else "form": str(exc)})
            return
        store.audit.record(self.app.user, action, values["name"])
        self.notify(f"Saved account {values['name']}")
        self.dismiss(account_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
