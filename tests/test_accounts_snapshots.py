"""How the accounts view and the account form look at 80x24."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from core.accounts.presets import preset_values
from core.store import Store
from tui.app import PostroomApp


@pytest.fixture
def app(db_path, monkeypatch):
    # The user@host status is the machine's: pin it so the picture is the same everywhere.
    monkeypatch.setattr(PostroomApp, "status_line", lambda self: "ops@mailhost  postroom.db")
    store = Store(db_path)
    store.accounts.create(
        name="ses-eu",
        username="AKIAEXAMPLE",
        secret="env:SES_PASSWORD",
        **preset_values("ses", region="eu-west-1", sandbox=True),
    )
    store.accounts.create(
        name="o365-news",
        username="news@example.com",
        oauth_token_cmd="get-token",
        **preset_values("office365"),
    )
    paused = store.accounts.create(
        name="own-mta", host="mta.example.com", port=587, username="u", secret="env:MTA_PW"
    )
    store.accounts.set_state(paused, "paused_auto", "535 auth failed")
    store.accounts.record_error(paused, "535 5.7.8 Authentication credentials invalid")
    store.close()
    return PostroomApp(db_path, start_view="accounts")


def test_accounts_screen(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24))


def test_account_form_with_ses_preset(app, snap_compare):
    async def fill(pilot) -> None:
        await pilot.press("a")
        await pilot.pause()
        form = pilot.app.screen
        form.query_one("#preset", Select).value = "ses"
        await pilot.pause()
        form.query_one("#region", Input).focus()
        await pilot.press(*"eu-west-1")
        form.query_one("#name", Input).focus()
        await pilot.press(*"ses eu")  # a space: the inline error shows
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=fill)
