"""The unsubscribe endpoint (RFC 8058): `postroom unsubscribe-server`.

``GET /…/TOKEN`` shows a confirmation page and changes nothing (mail
scanners follow links). ``POST /…/TOKEN`` with the body
``List-Unsubscribe=One-Click`` (what Gmail and Yahoo send, and what the
page's button sends) suppresses the address at once and answers 200 without
a redirect. A token that does not verify gets 400 and changes nothing.

Plain HTTP on purpose: run it on loopback behind the TLS proxy that serves
``[unsubscribe] base_url`` (see README). Tokens never reach the log.
"""

from __future__ import annotations

import html
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from core.content.unsubscribe import parse_token, unsubscribe_secret
from core.store import Store

MAX_BODY = 4096
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em;">
<h1 style="font-size: 1.4em;">{title}</h1>{body}</body></html>
"""


def mask(email: str) -> str:
    """a***@example.com: enough to recognise, not enough to harvest from a forwarded link."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


class UnsubscribeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, db_path: Path, host: str, port: int, log: TextIO | None = None) -> None:
        self.store = Store(db_path)
        self.secret = unsubscribe_secret(self.store)
        self.db_lock = threading.Lock()  # one SQLite connection, many request threads
        self.log = log if log is not None else sys.stderr
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def unsubscribe(self, email: str, list_id: int | None) -> None:
        detail = "" if list_id is None else f"list {list_id}"
        with self.db_lock:
            self.store.suppressions.add(email, "unsubscribed", "one-click", detail)

    def server_close(self) -> None:
        super().server_close()
        self.store.close()


class _Handler(BaseHTTPRequestHandler):
    server: UnsubscribeServer
    server_version = "postroom-unsubscribe"
    sys_version = ""

    def _token(self) -> str:
        return unquote(urlsplit(self.path).path.rstrip("/").rpartition("/")[2])

    def _reply(self, status: HTTPStatus, title: str, body: str) -> None:
        page = _PAGE.format(title=html.escape(title), body=body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")  # the URL is personal
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(page)

    def _bad_link(self) -> None:
        self._reply(
            HTTPStatus.BAD_REQUEST,
            "This unsubscribe link is not valid",
            "<p>The link may have been cut or changed. Use the link in the newest email,"
            " or reply to it and ask to be removed.</p>",
        )

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        found = parse_token(self.server.secret, self._token())
        if found is None:
            self._bad_link()
            return
        email, _ = found
        self._reply(
            HTTPStatus.OK,
            "Unsubscribe",
            f"<p>Stop sending these emails to {html.escape(mask(email))}?</p>"
            '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form>',
        )

    do_HEAD = do_GET  # noqa: N815

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._reply(HTTPStatus.BAD_REQUEST, "Bad request", "<p>Unexpected request body.</p>")
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        found = parse_token(self.server.secret, self._token())
        if found is None:
            self._bad_link()
            return
        if form.get("List-Unsubscribe") != ["One-Click"]:
            self._reply(
                HTTPStatus.BAD_REQUEST,
                "Bad request",
                "<p>Expected List-Unsubscribe=One-Click.</p>",
            )
            return
        email, list_id = found
        self.server.unsubscribe(email, list_id)
        self._reply(
            HTTPStatus.OK,
            "You are unsubscribed",
            f"<p>{html.escape(mask(email))} will get no more of these emails.</p>",
        )

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # The request line carries the token (an address and its MAC): keep it out.
        line = (format % args).replace(
            self.path, urlsplit(self.path).path.rpartition("/")[0] + "/…"
        )
        print(f"{self.log_date_time_string()} {line}", file=self.server.log, flush=True)
