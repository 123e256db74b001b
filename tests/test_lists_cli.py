"""`postroom lists|suppress|segments` as an operator uses them, and suppression rules."""

from __future__ import annotations

import csv
import io

import pytest

from core.lists import suppress
from core.store import Store, StoreError
from tui.cli import main


@pytest.fixture
def people_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "email,country,plan\nAnn@Example.com,DE,pro\nbob@example.com,FR,free\n"
        "postmaster@example.com,DE,pro\nbroken@@example.com,DE,free\n",
        encoding="utf-8",
    )
    return path


def run(db, *argv):
    return main(["--db", str(db), *argv])


def test_import_prints_progress_and_summary_then_show_and_export(
    db_path, people_csv, capsys, tmp_path
):
    assert run(db_path, "lists", "import", "news", str(people_csv)) == 0
    out, err = capsys.readouterr()
    assert "rows/s" in err and "100%" in err
    assert "added 3" in out and "rejected 1: invalid address 1" in out
    assert (tmp_path / "people.csv.rejects.csv").exists()

    assert run(db_path, "lists", "show") == 0
    out, _ = capsys.readouterr()
    assert "news" in out and "3" in out

    assert (
        run(db_path, "segments", "create", "de", 'country = "DE" and not role', "--list", "news")
        == 0
    )
    assert "1 subscribers match" in capsys.readouterr().out
    assert run(db_path, "segments", "count", "--where", 'plan = "pro"') == 0
    assert capsys.readouterr().out.strip() == "2"

    target = tmp_path / "out.csv"
    assert run(db_path, "lists", "export", "news", "--segment", "de", "-o", str(target)) == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert rows == [
        {"email": "ann@example.com", "valid": "1", "role": "0", "country": "DE", "plan": "pro"}
    ]


def test_bad_filter_is_one_line_with_the_column(db_path, capsys):
    assert run(db_path, "segments", "count", "--where", "country = DE") == 1
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "postroom: filter column 11: expected a value after '=', found 'DE' (put text in quotes)"
    )


def test_unreadable_file_fails_in_one_line(db_path, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert run(db_path, "lists", "import", "news", str(empty), "--no-progress") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"postroom: {empty}: the file is empty"]
    assert Store(db_path).lists.by_name("news") is None


def test_readonly_refuses_import(db_path, people_csv, capsys):
    assert run(db_path, "--readonly", "lists", "import", "news", str(people_csv)) == 1
    assert "read-only" in capsys.readouterr().err


def test_delete_needs_yes_when_not_interactive(db_path, people_csv, capsys, monkeypatch):
    run(db_path, "lists", "import", "news", str(people_csv), "--no-progress")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(db_path, "lists", "delete", "news") == 1
    assert "needs --yes" in capsys.readouterr().err
    assert run(db_path, "lists", "delete", "news", "--yes") == 0
    store = Store(db_path)
    assert store.lists.by_name("news") is None
    assert store.subscribers.by_email("ann@example.com") is not None  # people stay


def test_suppression_matches_any_spelling_and_counts_on_the_list(db_path, people_csv, capsys):
    run(db_path, "lists", "import", "news", str(people_csv), "--no-progress")
    assert run(db_path, "suppress", "add", "ANN@example.COM", "--reason", "complained") == 0
    store = Store(db_path)
    assert suppress.is_suppressed(store, "ann@EXAMPLE.com")
    assert store.lists.all_with_counts()[0]["suppressed"] == 1
    assert run(db_path, "suppress", "remove", "Ann@Example.com") == 0
    assert not suppress.is_suppressed(store, "ann@example.com")
    with pytest.raises(StoreError, match="not a valid address"):
        suppress.add(store, "nope", "manual")


def test_suppression_import_maps_reasons_and_export_round_trips(db_path, tmp_path, capsys):
    source = tmp_path / "unsubs.csv"
    source.write_text(
        "Email Address;Reason;Detail\nA@example.com;hard_bounce;550 5.1.1\n"
        "b@example.com;spam;fbl\nc@example.com;;\nnot-an-address;x;\na@EXAMPLE.com;unsub;\n",
        encoding="utf-8",
    )
    assert run(db_path, "suppress", "import", str(source), "--reason", "unsubscribed") == 0
    out = capsys.readouterr().out
    assert "5 rows: 3 suppressed, 1 already suppressed" in out
    assert "invalid address 1" in out

    target = tmp_path / "export.csv"
    assert run(db_path, "suppress", "export", "-o", str(target)) == 0
    rows = {r["email"]: r for r in csv.DictReader(target.open(encoding="utf-8"))}
    assert {k: v["reason"] for k, v in rows.items()} == {
        "a@example.com": "bounced",
        "b@example.com": "complained",
        "c@example.com": "unsubscribed",
    }
    assert rows["a@example.com"]["detail"] == "550 5.1.1"

    # The exported file imports into another database unchanged.
    other = tmp_path / "other.db"
    assert run(other, "suppress", "import", str(target)) == 0
    assert Store(other).suppressions.count("bounced") == 1
    assert run(other, "suppress", "list") == 0
    assert "a@example.com" in capsys.readouterr().out


def test_suppressed_among_for_send_time_checks(store):
    suppress.add(store, "x@example.com", "bounced")
    assert suppress.suppressed_among(store, ["x@example.com", "y@example.com"]) == {"x@example.com"}


def test_import_check_mx_uses_the_configured_nameserver(db_path, tmp_path, capsys, monkeypatch):
    from tests.support.dns_server import DnsServer

    path = tmp_path / "mx.csv"
    path.write_text("email\nok@good.example\nno@nullmx.example\n", encoding="utf-8")
    with DnsServer() as dns:
        dns.mx("good.example", 10, "mx.good.example")
        dns.add("nullmx.example. 300 IN MX 0 .")
        host, port = dns.nameserver
        monkeypatch.setenv("POSTROOM_NAMESERVER", f"{host}:{port}")
        assert run(db_path, "lists", "import", "l", str(path), "--check-mx", "--no-progress") == 0
    assert "undeliverable domain 1" in capsys.readouterr().out
    assert Store(db_path).subscribers.by_email("no@nullmx.example")["valid"] == 0
