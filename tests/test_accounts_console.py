"""The accounts view and form in the console (Pilot, 80x24)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static

from core.store import Store
from tests.support.auth_smtp import auth_smtp_server
from tests.support.screen import screen_text
from tests.support.tls import make_certificate
from tui.app import PostroomApp
from tui.screens.account_form import AccountForm
from tui.screens.dialogs import ConfirmDialog

PASSWORD = "Pilot-Secret-7731"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def error_text(form: AccountForm, field: str) -> str:
    widget = form.query_one(f"#err-{field}", Static)
    return str(widget.render()) if widget.has_class("-shown") else ""


async def type_into(pilot, form: AccountForm, field: str, text: str, *, clear: bool = True) -> None:
    box = form.query_one(f"#{field}", Input)
    box.focus()
    if clear:
        box.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def test_form_checks_values_as_they_are_typed_and_masks_the_password(db_path):
    app = PostroomApp(db_path, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, AccountForm)
        await type_into(pilot, form, "port", "99x")
        assert "a whole number" in error_text(form, "port")
        await pilot.press("backspace")
        await type_into(pilot, form, "port", "465")
        assert error_text(form, "port") == ""

        await type_into(pilot, form, "name", "relay one")
        assert "letters, digits" in error_text(form, "name")
        await type_into(pilot, form, "name", "relay-1")
        await type_into(pilot, form, "host", "smtp.example.com")
        await type_into(pilot, form, "username", "news@example.com")

        secret = form.query_one("#secret", Input)
        assert secret.password  # masked while it holds a password
        await type_into(pilot, form, "secret", PASSWORD)
        assert PASSWORD not in screen_text(app)

        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, AccountForm)
        account = Store(db_path).accounts.require("relay-1")
        assert account["secret"] == f"db:{PASSWORD}" and account["port"] == 465
        # Editing never puts the stored password back on screen.
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.query_one("#secret", Input).value == ""
        assert PASSWORD not in screen_text(app)


async def test_save_shows_every_problem_inline(db_path):
    app = PostroomApp(db_path, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        form = app.screen
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, AccountForm)
        assert "letters, digits" in error_text(form, "name")
        assert "required" in error_text(form, "host")
        assert "required for auth = password" in error_text(form, "username")
        assert Store(db_path).accounts.all() == []


async def test_ses_preset_fills_the_form_from_the_region(db_path):
    app = PostroomApp(db_path, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        form = app.screen
        form.query_one("#preset", Select).value = "ses"
        await pilot.pause()
        await type_into(pilot, form, "region", "eu-west-1")
        assert form.query_one("#host", Input).value == "email-smtp.eu-west-1.amazonaws.com"
        assert form.query_one("#max_message_bytes", Input).value == str(40 * 1024 * 1024)
        assert "SES: 40 MB per message" in str(form.query_one("#src-max_message_bytes").render())
        await type_into(pilot, form, "max_per_day", "90000")
        assert str(form.query_one("#src-max_per_day").render()) == "operator"


async def test_delete_asks_first_and_no_keeps_the_account(db_path):
    Store(db_path).accounts.create(name="old", host="smtp.example.com", port=587, auth="none")
    app = PostroomApp(db_path, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")  # focus starts on No
        await pilot.pause()
        assert Store(db_path).accounts.by_name("old") is not None
        await pilot.press("ctrl+d", "y")
        await pilot.pause()
        assert Store(db_path).accounts.by_name("old") is None


async def test_pause_and_readonly(db_path):
    Store(db_path).accounts.create(name="r", host="smtp.example.com", port=587, auth="none")
    app = PostroomApp(db_path, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert Store(db_path).accounts.require("r")["state"] == "paused"
        assert "paused" in screen_text(app)
    app = PostroomApp(db_path, start_view="accounts", readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p", "a", "ctrl+d")
        await pilot.pause()
        assert Store(db_path).accounts.require("r")["state"] == "paused"
        assert not isinstance(app.screen, AccountForm | ConfirmDialog)


async def test_t_tests_the_connection_in_a_worker(db_path, tmp_path, monkeypatch):
    cert = make_certificate(tmp_path / "certs")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert_path))
    with auth_smtp_server(cert, users={"news": PASSWORD}) as server:
        store = Store(db_path)
        store.accounts.create(name="good", host="127.0.0.1", port=server.port,
                              username="news", secret=f"db:{PASSWORD}")  # fmt: skip
        store.accounts.create(name="wrong", host="127.0.0.1", port=server.port,
                              username="news", secret="db:nope")  # fmt: skip
        app = PostroomApp(db_path, start_view="accounts")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            await app.workers.wait_for_complete()
            await pilot.pause()
            panel = str(app.screen.query_one("#probe", Static).render())
            assert "TLS: TLSv1.3" in panel and "SMTPUTF8 yes" in panel
            await pilot.press("down", "t")
            await app.workers.wait_for_complete()
            await pilot.pause()
            panel = str(app.screen.query_one("#probe", Static).render())
            assert "FAILED (auth)" in panel and "535" in panel
            assert PASSWORD not in screen_text(app)
        assert server.handler.count == 0
