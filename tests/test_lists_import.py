"""CSV import: odd files operators really have, from files the tests write."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest

from core.lists.importer import ImportCancelled, ImportFailed, import_csv
from core.lists.validate import AddressError, Validator, normalize

HEADER = "email,first_name,country,plan,score,signed_up\n"


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    if isinstance(text, str):
        text = text.encode(encoding)
    path.write_bytes(text)
    return path


def members(store, list_name: str) -> dict[str, dict]:
    list_id = store.lists.require(list_name)["id"]
    rows = store.db.all(
        "SELECT s.email, s.fields, s.role, s.valid FROM list_members m"
        " JOIN subscribers s ON s.id = m.subscriber_id WHERE m.list_id = ?",
        (list_id,),
    )
    return {r["email"]: {**json.loads(r["fields"]), "_role": r["role"]} for r in rows}


def test_plain_file_imports_with_typed_fields(store, tmp_path):
    path = write(
        tmp_path / "a.csv",
        HEADER + "ann@example.com,Ann,DE,pro,42,2025-01-02\nbob@example.org,Bob,FR,team,1.5,\n",
    )
    summary = import_csv(store, "news", path)
    assert (summary.rows, summary.added, summary.rejected_total) == (2, 2, 0)
    got = members(store, "news")
    assert got["ann@example.com"]["score"] == 42
    assert got["ann@example.com"]["signed_up"] == "2025-01-02"
    assert got["bob@example.org"]["score"] == 1.5
    assert "signed_up" not in got["bob@example.org"]  # empty cell: no value
    assert summary.rejects_path is None and not (tmp_path / "a.csv.rejects.csv").exists()


def test_leading_zeros_stay_text(store, tmp_path):
    path = write(tmp_path / "z.csv", "email,zip,phone\nz@example.com,01234,+4930123\n")
    import_csv(store, "l", path)
    assert members(store, "l")["z@example.com"] | {"_role": 0} == {
        "zip": "01234",
        "phone": "+4930123",
        "_role": 0,
    }


def test_utf8_bom_is_not_part_of_the_header(store, tmp_path):
    path = write(
        tmp_path / "bom.csv", b"\xef\xbb\xbf" + "Email;Name\nbé@example.com;Zoë\n".encode()
    )
    summary = import_csv(store, "l", path)
    assert summary.encoding == "utf-8-sig" and summary.delimiter == ";"
    assert members(store, "l")["bé@example.com"]["Name"] == "Zoë"


def test_cp1252_file_is_read_and_the_summary_says_so(store, tmp_path):
    text = "email,name,city\nfrancois@example.com,François “Frank”,Zürich\n"
    path = write(tmp_path / "win.csv", text, encoding="cp1252")
    summary = import_csv(store, "l", path)
    assert summary.encoding == "cp1252"
    assert any("not UTF-8" in note and "CP1252" in note for note in summary.notes)
    assert members(store, "l")["francois@example.com"]["name"] == "François “Frank”"


def test_semicolon_delimiter_and_quoted_newlines(store, tmp_path):
    text = (
        'e-mail;note;plan\n"a@example.com";"line one\nline two; still note";pro\n'
        "b@example.com;plain;free\n"
        "not-an-address;x;y\n"
    )
    summary = import_csv(store, "l", write(tmp_path / "s.csv", text))
    got = members(store, "l")
    assert got["a@example.com"]["note"] == "line one\nline two; still note"
    assert got["b@example.com"]["plan"] == "free"
    # The bad row starts on physical line 5 (the quoted newline took two lines).
    rows = list(csv.reader(Path(summary.rejects_path).read_text(encoding="utf-8").splitlines()))
    assert rows[1][:1] == ["5"] and "invalid address" in rows[1][1]


def test_missing_email_column_fails_in_one_line_and_changes_nothing(store, tmp_path):
    path = write(tmp_path / "n.csv", "name,country\nAnn,DE\n")
    with pytest.raises(ImportFailed, match="no email column") as info:
        import_csv(store, "l", path)
    assert "\n" not in str(info.value)
    assert store.lists.by_name("l") is None


def test_email_column_can_be_chosen(store, tmp_path):
    path = write(tmp_path / "c.csv", "name,contact\nAnn,ann@example.com\n")
    import_csv(store, "l", path, email_column="contact")
    assert members(store, "l")["ann@example.com"]["name"] == "Ann"


def test_file_without_header_finds_the_address_column(store, tmp_path):
    path = write(tmp_path / "h.csv", "Ann,ann@example.com\nBob,bob@example.com\n")
    summary = import_csv(store, "l", path)
    assert summary.added == 2
    assert members(store, "l")["bob@example.com"]["column_1"] == "Bob"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (b"email\n", "no data rows"),
    ],
)
def test_unreadable_files_fail_clearly_and_change_nothing(store, tmp_path, content, message):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(ImportFailed, match=message):
        import_csv(store, "l", path)
    assert store.lists.by_name("l") is None
    assert store.db.scalar("SELECT count(*) FROM subscribers") == 0


def test_a_100k_character_line_is_stored_or_rejected_not_fatal(store, tmp_path):
    long_note = "x" * 100_000
    long_address = "a" * 100_000 + "@example.com"
    text = f"email,note\nok@example.com,{long_note}\n{long_address},short\nafter@example.com,y\n"
    summary = import_csv(store, "l", write(tmp_path / "long.csv", text))
    got = members(store, "l")
    assert got["ok@example.com"]["note"] == long_note
    assert "after@example.com" in got
    assert summary.rejected == {"invalid address": 1}


def test_duplicates_differing_by_case_are_merged(store, tmp_path):
    text = "email,plan,city\nAnn@Example.COM,free,\nann@example.com,pro,Berlin\nANN@EXAMPLE.com,,\n"
    summary = import_csv(store, "l", write(tmp_path / "d.csv", text))
    assert (summary.added, summary.merged) == (1, 2)
    assert members(store, "l") == {"ann@example.com": {"plan": "pro", "city": "Berlin", "_role": 0}}


def test_idn_domains_are_normalised_to_one_form(store, tmp_path):
    text = "email\nzoe@MÜNCHEN.example\nzoe@xn--mnchen-3ya.example\nmax@bücher.example\n"
    summary = import_csv(store, "l", write(tmp_path / "idn.csv", text))
    assert set(members(store, "l")) == {"zoe@münchen.example", "max@bücher.example"}
    assert summary.merged == 1


def test_header_injection_in_names_is_stored_as_given(store, tmp_path):
    evil = "Eve\r\nBcc: victim@example.net"
    with (tmp_path / "inj.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name"])
        writer.writerow(["eve@example.com", evil])
    import_csv(store, "l", tmp_path / "inj.csv")
    assert members(store, "l")["eve@example.com"]["first_name"] == evil


def test_role_addresses_are_flagged_not_rejected(store, tmp_path):
    text = "email\npostmaster@example.com\nno-reply@example.com\nann@example.com\n"
    summary = import_csv(store, "l", write(tmp_path / "r.csv", text))
    got = members(store, "l")
    assert summary.role == 2
    assert got["postmaster@example.com"]["_role"] == 1 and got["ann@example.com"]["_role"] == 0


def test_reimport_modes(store, tmp_path):
    first = write(tmp_path / "1.csv", "email,plan\na@example.com,free\nb@example.com,free\n")
    import_csv(store, "l", first)
    import_csv(store, "other", write(tmp_path / "o.csv", "email\nc@example.com\n"))
    second = write(
        tmp_path / "2.csv", "email,plan,city\nb@example.com,pro,Oslo\nc@example.com,x,\n"
    )

    # update: only members already on the list change; nobody joins.
    summary = import_csv(store, "l", second, mode="update")
    assert (summary.updated, summary.skipped, summary.added) == (1, 1, 0)
    assert set(members(store, "l")) == {"a@example.com", "b@example.com"}
    assert members(store, "l")["b@example.com"]["city"] == "Oslo"

    # add: fields merge, the other list's subscriber joins, no duplicates.
    summary = import_csv(store, "l", second, mode="add")
    assert (summary.added, summary.updated, summary.joined) == (0, 2, 1)
    assert set(members(store, "l")) == {"a@example.com", "b@example.com", "c@example.com"}
    assert store.db.scalar("SELECT count(*) FROM subscribers") == 3

    # replace: members not in the file leave the list (the subscriber stays).
    summary = import_csv(store, "l", second, mode="replace")
    assert summary.removed == 1
    assert set(members(store, "l")) == {"b@example.com", "c@example.com"}
    assert store.subscribers.by_email("a@example.com") is not None
    assert set(members(store, "other")) == {"c@example.com"}


def test_rejects_file_names_line_and_reason(store, tmp_path):
    text = "email,name\ngood@example.com,G\nbad@@example.com,B\n,Empty\nx@example.com,1,2,3\n"
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    summary = import_csv(store, "l", write(tmp_path / "r.csv", text), rejects_path=rejects)
    assert summary.rejected == {"invalid address": 1, "no address": 1, "too many columns": 1}
    rows = list(csv.reader(rejects.open(encoding="utf-8")))
    assert rows[0] == ["line", "reason", "row"]
    assert [r[0] for r in rows[1:]] == ["3", "4", "5"]
    assert rows[1][2:] == ["bad@@example.com", "B"]
    assert rows[3][1] == "4 columns, the header has 2"
    assert any("rejected 3" in line for line in summary.lines())


def test_progress_reports_rows_bytes_and_eta_and_cancel_changes_nothing(store, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,n\n")
        for i in range(12_000):
            handle.write(f"user{i}@example.com,{i}\n")
    ticks = iter(range(10**6))
    seen = []
    summary = import_csv(store, "l", path, progress=seen.append, clock=lambda: next(ticks))
    reading = [p for p in seen if p.phase == "reading"]
    assert [p.rows for p in reading] == [5000, 10000, 12000]
    assert reading[0].bytes_read < reading[-1].bytes_read == path.stat().st_size
    assert reading[0].eta_s is not None and reading[0].rows_per_s > 0
    assert seen[-1].phase == "saving" and summary.added == 12_000

    cancel = threading.Event()

    def stop_at_first(progress):
        cancel.set()

    with pytest.raises(ImportCancelled):
        import_csv(store, "other", path, progress=stop_at_first, cancel=cancel)
    assert store.lists.by_name("other") is None
    assert store.db.scalar("SELECT count(*) FROM subscribers") == 12_000


def test_validator_matches_email_validator_and_caches_domains():
    validator = Validator()
    assert validator.check(" Ann.Lee+tag@Example.COM ").email == "ann.lee+tag@example.com"
    assert validator.check("Ünïcode@bücher.example").email == "ünïcode@bücher.example"
    assert normalize("x@xn--MNCHEN-3ya.example") == "x@münchen.example"
    assert validator.check("x@MÜNCHEN.example").domain == "münchen.example"
    for bad in ("a@b", "a..b@example.com", "a@-x.example", "plain", "a@localhost"):
        with pytest.raises(AddressError):
            validator.check(bad)


def test_mx_check_marks_undeliverable_domains_via_loopback_dns(store, tmp_path):
    from core.lists.validate import MxChecker
    from tests.support.dns_server import DnsServer

    text = (
        "email\na@good.example\nb@good.example\nc@implicit.example\nd@nullmx.example\n"
        "e@nothing.example\nf@broken.example\ng@GOOD.example\nh@bücher.example\n"
    )
    path = write(tmp_path / "mx.csv", text)
    with DnsServer() as dns:
        dns.mx("good.example", 10, "mx.good.example")
        dns.a("mx.good.example", "192.0.2.1")
        dns.a("implicit.example", "192.0.2.2")
        dns.add("nullmx.example. 300 IN MX 0 .")
        dns.servfail("broken.example")
        dns.mx("xn--bcher-kva.example", 10, "mx.good.example")
        checker = MxChecker(dns.resolver(timeout=0.5))
        summary = import_csv(store, "l", path, check_mx=checker)
        # Each distinct domain was asked once, however many rows it has.
        assert dns.queried("good.example", "MX") == 1
    valid = {
        r["email"]: r["valid"]
        for r in store.db.all("SELECT email, valid FROM subscribers ORDER BY email")
    }
    assert valid == {
        "a@good.example": 1,
        "b@good.example": 1,
        "c@implicit.example": 1,
        "d@nullmx.example": 0,
        "e@nothing.example": 0,
        "f@broken.example": 1,  # DNS failed: not called undeliverable
        "g@good.example": 1,
        "h@bücher.example": 1,  # looked up as xn--bcher-kva.example
    }
    assert summary.undeliverable == 2
    assert any("broken.example" in note for note in summary.notes)
    assert any("undeliverable domain 2" in line for line in summary.lines())
