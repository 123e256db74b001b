"""`postroom dns check` and `postroom dkim ...` as an operator runs them."""

from __future__ import annotations

import os
import stat

import pytest

from core.store import Store
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain
from tui.cli import main


@pytest.fixture
def dns_server():
    with DnsServer() as server:
        yield server


def test_dns_check_prints_findings_and_exits_by_result(db_path, dns_server, capsys):
    store = Store(db_path)
    publish_good_domain(dns_server, store)
    store.close()
    ns = f"127.0.0.1:{dns_server.port}"
    assert main(["--db", str(db_path), "dns", "check", "good.example", "--nameserver", ns]) == 0
    out = capsys.readouterr().out
    assert out.startswith("good.example\n")
    assert "  SPF    pass   relay email-smtp.eu-west-1.amazonaws.com covered" in out
    assert "  DKIM   pass   s1._domainkey.good.example matches" in out

    dns_server.remove("_dmarc.good.example")
    assert main(["--db", str(db_path), "dns", "check", "good.example", "--nameserver", ns]) == 1
    out = capsys.readouterr().out
    assert "  DMARC  fail   no DMARC record at _dmarc.good.example" in out
    assert 'publish: _dmarc.good.example. 3600 IN TXT "v=DMARC1; p=none; rua=' in out


def test_dkim_generate_show_and_import(db_path, tmp_path, capsys):
    args = ["--db", str(db_path), "dkim"]
    assert main([*args, "generate", "example.com", "s1"]) == 0
    out = capsys.readouterr().out
    assert "(mode 600)" in out
    assert 's1._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; p=' in out
    key_file = tmp_path / "xdg-data" / "postroom" / "dkim" / "example.com" / "s1.pem"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600

    assert main([*args, "import", "example.com", "s2", str(key_file)]) == 0
    capsys.readouterr()
    assert main([*args, "show", "example.com"]) == 0
    out = capsys.readouterr().out
    assert out.index("selector s2  (signs outgoing mail)") < out.index("selector s1\n")
    assert "PRIVATE KEY" not in out

    store = Store(db_path)
    assert [a["action"] for a in store.audit.recent()] == ["dkim.import", "dkim.generate"]
    store.close()


def test_dkim_errors_are_one_line_and_readonly_refuses(db_path, tmp_path, capsys):
    args = ["--db", str(db_path), "dkim"]
    assert main([*args, "show", "example.com"]) == 1
    assert capsys.readouterr().err == (
        "postroom: no DKIM key for example.com; run: postroom dkim generate example.com SELECTOR\n"
    )
    assert main([*args, "import", "example.com", "s1", str(tmp_path / "nope.pem")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["--readonly", *args, "generate", "example.com", "s1"]) == 1
    assert "read-only" in capsys.readouterr().err
