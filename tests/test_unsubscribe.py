"""One-click unsubscribe: tokens, and the server over real HTTP on loopback."""

from __future__ import annotations

import http.client
import io
import re
import subprocess
import sys
import threading
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest

from core.config import Config
from core.content import compile_campaign, unsubscribe_token
from core.content.unsubscribe import SECRET_SETTING, parse_token, unsubscribe_secret
from core.unsubscribe_server import UnsubscribeServer
from tests.support.campaigns import make_campaign, recipient

SECRET = b"k" * 32


def test_token_round_trips_recipient_and_list():
    token = unsubscribe_token(SECRET, "ada@example.com", 7)
    assert parse_token(SECRET, token) == ("ada@example.com", 7)
    assert parse_token(SECRET, unsubscribe_token(SECRET, "ada@example.com", None)) == (
        "ada@example.com",
        None,
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)  # URL-safe as is


def test_tokens_cannot_be_forged_or_moved_to_another_address():
    token = unsubscribe_token(SECRET, "ada@example.com", 7)
    body, mac = token.split(".")
    other_body = unsubscribe_token(SECRET, "grace@example.com", 7).split(".")[0]
    assert parse_token(SECRET, f"{other_body}.{mac}") is None  # MAC bound to the address
    assert parse_token(SECRET, unsubscribe_token(SECRET, "ada@example.com", 8)) != (
        "ada@example.com",
        7,
    )
    assert parse_token(b"x" * 32, token) is None  # another installation's secret
    assert parse_token(SECRET, f"{body}.{mac[:-2]}") is None  # truncated
    assert parse_token(SECRET, f"{body}.AAAAAAAAAAAAAAAAAAAAAA") is None  # guessed
    assert parse_token(SECRET, "garbage") is None
    assert parse_token(SECRET, "%%%.!!!") is None


def test_secret_is_made_once_and_kept_in_settings(store):
    first = unsubscribe_secret(store)
    assert len(first) == 32
    assert unsubscribe_secret(store) == first
    assert bytes.fromhex(store.settings.get(SECRET_SETTING)) == first


@pytest.fixture
def server(db_path, store):
    log = io.StringIO()
    httpd = UnsubscribeServer(db_path, "127.0.0.1", 0, log=log)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, log
    httpd.shutdown()
    httpd.server_close()


def link_from_message(store) -> str:
    """The HTTPS link of a real rendered message's List-Unsubscribe header."""
    campaign_id = make_campaign(store)
    compiled = compile_campaign(store, campaign_id, Config())
    data = compiled.render(recipient(store, "ada@example.com")).data
    header = message_from_bytes(data, policy=policy.default)["List-Unsubscribe"]
    return re.findall(r"<(https://[^>]+)>", header)[0]


def request(httpd, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=5)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    payload = response.read().decode()
    conn.close()
    return response, payload


ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


def test_get_shows_a_confirmation_and_changes_nothing(server, store):
    httpd, _ = server
    path = urlsplit(link_from_message(store)).path
    response, page = request(httpd, "GET", path)
    assert response.status == 200
    assert "Stop sending these emails to a***@example.com?" in page
    assert 'name="List-Unsubscribe" value="One-Click"' in page
    assert response.getheader("Referrer-Policy") == "no-referrer"
    assert store.suppressions.count() == 0


def test_one_click_post_suppresses_at_once_without_redirect(server, store):
    httpd, log = server
    path = urlsplit(link_from_message(store)).path
    response, page = request(httpd, "POST", path, "List-Unsubscribe=One-Click", ONE_CLICK)
    assert response.status == 200 and response.getheader("Location") is None
    assert "You are unsubscribed" in page
    row = store.suppressions.all()[0]
    assert (row["email"], row["reason"], row["source"]) == (
        "ada@example.com",
        "unsubscribed",
        "one-click",
    )
    token = path.rsplit("/", 1)[1]
    assert "POST" in log.getvalue() and token not in log.getvalue()


def test_replayed_token_is_harmless(server, store):
    httpd, _ = server
    path = urlsplit(link_from_message(store)).path
    request(httpd, "POST", path, "List-Unsubscribe=One-Click", ONE_CLICK)
    first = store.suppressions.all()
    response, _ = request(httpd, "POST", path, "List-Unsubscribe=One-Click", ONE_CLICK)
    assert response.status == 200
    assert store.suppressions.all() == first  # one row, first time kept


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_token_is_400_and_changes_nothing(server, store, method):
    httpd, _ = server
    path = urlsplit(link_from_message(store)).path
    body, mac = path.rsplit("/", 1)[1].split(".")
    forged = unsubscribe_token(b"guess" * 8, "grace@example.org", None)
    for bad in (f"/u/{body}.{mac[::-1]}", f"/u/{forged}", "/u/", "/u/nonsense"):
        response, page = request(httpd, method, bad, "List-Unsubscribe=One-Click", ONE_CLICK)
        assert response.status == 400, bad
        assert "not valid" in page
    assert store.suppressions.count() == 0


def test_post_without_the_one_click_body_is_refused(server, store):
    httpd, _ = server
    path = urlsplit(link_from_message(store)).path
    response, _ = request(httpd, "POST", path, "List-Unsubscribe=Maybe", ONE_CLICK)
    assert response.status == 400
    assert store.suppressions.count() == 0


def test_cli_serves_until_terminated(db_path, store):
    path = urlsplit(link_from_message(store)).path
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())"]
        + ["--db", str(db_path), "unsubscribe-server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+);", line).group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", path, "List-Unsubscribe=One-Click", ONE_CLICK)
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert store.suppressions.contains("ada@example.com")
