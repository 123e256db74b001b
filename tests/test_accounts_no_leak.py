"""No password on screen, in logs, in exceptions or in exports: look everywhere."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest

from core.accounts.connect import ConnectError, open_session
from core.store import Store
from tests.support.auth_smtp import auth_smtp_server
from tests.support.screen import screen_text
from tests.support.tls import make_certificate
from tui.app import PostroomApp
from tui.cli import main

STORED = "Stored-Pw-4471"
FROM_ENV = "Env-Pw-9902"
FORMS = [
    STORED,
    FROM_ENV,
    base64.b64encode(STORED.encode()).decode(),
    base64.b64encode(FROM_ENV.encode()).decode(),
    base64.b64encode(f"\0news\0{STORED}".encode()).decode(),
    base64.b64encode(f"\0news\0{FROM_ENV}".encode()).decode(),
]


def assert_clean(where: str, text: str) -> None:
    for form in FORMS:
        assert form not in text, f"a password appears in {where}"


def test_passwords_appear_nowhere(db_path, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    cert = make_certificate(tmp_path / "certs")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert_path))
    monkeypatch.setenv("RELAY_PW", FROM_ENV)
    seen: list[tuple[str, str]] = []
    # The server knows other passwords: every login below is refused.
    with auth_smtp_server(cert, users={"news": "something-else"}) as server:
        store = Store(db_path)
        for name, secret in (("stored", f"db:{STORED}"), ("env", "env:RELAY_PW")):
            store.accounts.create(name=name, host="127.0.0.1", port=server.port,
                                  username="news", secret=secret)  # fmt: skip
        for account in store.accounts.all():
            with pytest.raises(ConnectError) as caught:
                asyncio.run(open_session(account, timeout=5))
            seen += [("exception", str(caught.value)), ("exception", repr(caught.value))]
            seen.append(("reply", caught.value.reply))

        export = tmp_path / "accounts.toml"
        for argv in (["list"], ["show", "stored"], ["show", "env"], ["test", "stored"],
                     ["test", "env"], ["export", "-o", str(export)], ["export"]):  # fmt: skip
            main(["--db", str(db_path), "accounts", *argv])
            out = capsys.readouterr()
            seen += [(f"accounts {argv[0]} output", out.out + out.err)]
        seen.append(("exported file", export.read_text()))
        seen.append(("last_error", str([a["last_error"] for a in store.accounts.all()])))
        seen.append(("audit log", str(store.audit.recent())))

        asyncio.run(look_at_the_console(db_path, seen))
    seen.append(("logs", caplog.text))
    # The failures were really shown (so the places searched held the replies).
    assert any("535" in text for where, text in seen if where == "exception")
    assert any("FAILED (auth)" in text for where, text in seen if where == "accounts screen")
    assert any("Secret kind" in text for where, text in seen if where == "account form")
    for where, text in seen:
        assert_clean(where, text)


async def look_at_the_console(db_path, seen: list[tuple[str, str]]) -> None:
    app = PostroomApp(db_path, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("t", "down", "t"):  # test both; failures are shown
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            seen.append(("accounts screen", screen_text(app)))
        for keys in (("e",), ("up", "e"), ("c",)):  # edit both, duplicate
            await pilot.press(*keys)
            await pilot.pause()
            seen.append(("account form", screen_text(app)))
            for field in app.screen.query("Input"):
                seen.append(("form widget", field.value))
            await pilot.press("escape")
            await pilot.pause()
