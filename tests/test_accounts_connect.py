"""open_session against a real aiosmtpd server on loopback, and secret resolution."""

from __future__ import annotations

import logging
import os
import stat
import sys

import pytest

from core.accounts.connect import ConnectError, close_session, open_session
from core.accounts.secrets import SecretError, describe, resolve_password
from tests.support.auth_smtp import auth_smtp_server, stalling_server
from tests.support.tls import make_certificate

PASSWORD = "s3cret-Pa55word-XYZ"
# aiosmtpd warns about the deliberately unsafe servers these tests start.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def cert(tmp_path):
    return make_certificate(tmp_path / "certs")


def account(port: int, **overrides) -> dict:
    base = {
        "name": "relay",
        "host": "127.0.0.1",
        "port": port,
        "tls": "starttls",
        "auth": "password",
        "username": "news",
        "secret": f"db:{PASSWORD}",
        "oauth_token_cmd": None,
        "allow_plaintext_auth": 0,
        "verify_tls": 1,
    }
    return {**base, **overrides}


async def test_starttls_and_password_give_an_authenticated_session(cert):
    with auth_smtp_server(cert, users={"news": PASSWORD}) as server:
        smtp = await open_session(account(server.port), tls_context=cert.client_context())
        try:
            assert smtp.get_transport_info("ssl_object") is not None
            # Authenticated: the server (auth_required) accepts a message.
            await smtp.sendmail("news@example.com", ["a@example.org"], b"Subject: hi\r\n\r\nx\r\n")
        finally:
            await close_session(smtp)
        assert server.handler.count == 1
        assert server.handler.logins == ["PLAIN news"]


async def test_implicit_tls_is_verified_and_authenticates(cert):
    with auth_smtp_server(cert, mode="implicit", users={"news": PASSWORD}) as server:
        smtp = await open_session(
            account(server.port, tls="implicit"), tls_context=cert.client_context()
        )
        assert smtp.get_transport_info("ssl_object").version().startswith("TLS")
        await close_session(smtp)


async def test_bad_password_shows_the_reply_and_not_the_password(cert, caplog):
    caplog.set_level(logging.DEBUG)
    with (
        auth_smtp_server(cert, users={"news": "the-right-one"}) as server,
        pytest.raises(ConnectError) as caught,
    ):
        await open_session(account(server.port), timeout=5, tls_context=cert.client_context())
    error = caught.value
    assert error.stage == "auth"
    assert error.code == 535
    assert "535" in str(error) and "authentication rejected" in str(error)
    assert "Authentication credentials invalid" in error.reply
    for text in (str(error), error.reply, repr(error.args), caplog.text):
        assert PASSWORD not in text


async def test_server_without_starttls_gets_no_credentials(tmp_path):
    with (
        auth_smtp_server(None, mode="plain", users={"news": PASSWORD}) as server,
        pytest.raises(ConnectError) as caught,
    ):
        await open_session(account(server.port))
    assert caught.value.stage == "starttls_missing"
    assert "does not offer STARTTLS" in str(caught.value)
    assert server.handler.logins == []


async def test_plaintext_auth_is_refused_before_connecting_unless_allowed_on_loopback():
    with pytest.raises(ConnectError) as caught:
        await open_session(account(25, host="mail.example.com", tls="none"))
    assert caught.value.stage == "auth_refused_plaintext"
    assert "use tls = starttls or implicit" in str(caught.value)

    with pytest.raises(ConnectError) as caught:
        await open_session(account(25, tls="none"))
    assert caught.value.stage == "auth_refused_plaintext"
    assert "allow_plaintext_auth" in str(caught.value)


async def test_plaintext_auth_on_loopback_with_opt_in():
    with auth_smtp_server(None, mode="plain", users={"news": PASSWORD}) as server:
        smtp = await open_session(account(server.port, tls="none", allow_plaintext_auth=1))
        await close_session(smtp)
    assert server.handler.logins == ["PLAIN news"]


async def test_certificate_for_another_name_is_a_name_mismatch(tmp_path):
    other = make_certificate(tmp_path / "other", names=("mail.example.com",))
    with (
        auth_smtp_server(other, users={"news": PASSWORD}) as server,
        pytest.raises(ConnectError) as caught,
    ):
        await open_session(account(server.port), tls_context=other.client_context())
    assert caught.value.stage == "certificate"
    assert "certificate name mismatch" in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    assert server.handler.logins == []


async def test_untrusted_certificate_is_refused_by_default(cert):
    # No tls_context: the system's trust store, which does not know the test's CA.
    with (
        auth_smtp_server(cert, users={"news": PASSWORD}) as server,
        pytest.raises(ConnectError) as caught,
    ):
        await open_session(account(server.port))
        assert caught.value.stage == "certificate"
        assert "not trusted" in str(caught.value)
        # The operator can turn verification off for this account.
        smtp = await open_session(account(server.port, verify_tls=0))
        await close_session(smtp)


async def test_a_server_that_never_greets_times_out():
    with stalling_server() as port, pytest.raises(ConnectError) as caught:
        await open_session(account(port), timeout=0.3)
    assert caught.value.stage == "timeout"
    assert "timed out after 0.3s waiting for the connection and the server's greeting" in str(
        caught.value
    )


async def test_nothing_listening_is_connection_refused():
    with stalling_server() as port:
        pass  # closed again: the port is free
    with pytest.raises(ConnectError) as caught:
        await open_session(account(port), timeout=2)
    assert caught.value.stage == "tcp"
    assert "connection refused" in str(caught.value)


async def test_xoauth2_uses_the_token_command(cert, tmp_path):
    script = tmp_path / "token.sh"
    script.write_text("#!/bin/sh\necho ya29.token-value\n")
    script.chmod(0o700)
    with auth_smtp_server(cert, tokens={"ya29.token-value"}) as server:
        good = account(server.port, auth="xoauth2", secret=None, oauth_token_cmd=str(script))
        smtp = await open_session(good, tls_context=cert.client_context())
        await close_session(smtp)
        assert server.handler.logins == ["XOAUTH2 news"]

        failing = {
            **good,
            "oauth_token_cmd": f"{sys.executable} -c 'import sys; sys.exit(\"run az login\")'",
        }
        with pytest.raises(ConnectError) as caught:
            await open_session(failing, tls_context=cert.client_context())
        assert caught.value.stage == "secret"
        assert "exited with status 1: run az login" in str(caught.value)


async def test_xoauth2_rejected_token_is_an_auth_error_without_the_token(cert):
    with auth_smtp_server(cert, tokens={"good"}) as server:
        bad = account(server.port, auth="xoauth2", secret=None, oauth_token_cmd="echo expired-tok")
        with pytest.raises(ConnectError) as caught:
            await open_session(bad, tls_context=cert.client_context())
    assert caught.value.stage == "auth"
    assert "expired-tok" not in str(caught.value)


# -- secrets -------------------------------------------------------------


def test_env_and_file_references_resolve_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAY_PASSWORD", PASSWORD)
    assert resolve_password(account(1, secret="env:RELAY_PASSWORD")) == PASSWORD
    secret_file = tmp_path / "pw"
    secret_file.write_text(PASSWORD + "\n")
    assert resolve_password(account(1, secret=f"file:{secret_file}")) == PASSWORD
    assert resolve_password(account(1, auth="none", secret=None)) is None


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (
            "env:NOT_SET_ANYWHERE",
            "environment variable NOT_SET_ANYWHERE (env:NOT_SET_ANYWHERE) is not set",
        ),
        ("file:/nonexistent/pw", "file:/nonexistent/pw: no such file"),
        (None, "no password set"),
        (PASSWORD, "secret is not a valid reference"),
        ("env:", "env: needs a value"),
    ],
)
def test_unresolvable_secrets_name_the_reference_never_the_value(secret, expected):
    with pytest.raises(SecretError) as caught:
        resolve_password(account(1, secret=secret))
    assert expected in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_unreadable_and_empty_secret_files(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(SecretError, match="file is empty"):
        resolve_password(account(1, secret=f"file:{empty}"))
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked"
        locked.write_text(PASSWORD)
        locked.chmod(0)
        with pytest.raises(SecretError, match="permission denied"):
            resolve_password(account(1, secret=f"file:{locked}"))
        locked.chmod(stat.S_IRUSR)


async def test_secret_errors_surface_as_connect_errors_before_any_connection():
    with pytest.raises(ConnectError) as caught:
        await open_session(account(1, secret="env:NOT_SET_ANYWHERE"))
    assert caught.value.stage == "secret"
    assert "env:NOT_SET_ANYWHERE" in str(caught.value)


def test_describe_never_shows_a_stored_password():
    assert describe(f"db:{PASSWORD}") == "stored in database"
    assert describe("env:X") == "env:X"
    assert describe(PASSWORD) == "invalid reference"
