"""Segment filters: parsing, errors that point at the token, and what they select."""

from __future__ import annotations

import pytest

from core.lists.importer import import_csv
from core.lists.segments import SegmentError, parse
from core.store.lists import render_filter

PEOPLE = """email,country,plan,signed_up,score,vip
ann@example.com,DE,pro,2025-03-01,12,true
bob@example.com,DE,free,2025-06-01,3,
cat@example.com,FR,team,2024-12-31,40,
dan@example.com,DE,team,2025-01-01,7,
postmaster@example.com,DE,pro,2025-02-02,1,
eve@example.org,,pro,2026-01-01,9,
"""


@pytest.fixture
def people(store, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE, encoding="utf-8")
    import_csv(store, "all", path)
    news = tmp_path / "news.csv"
    news.write_text("email\nann@example.com\ncat@example.com\n", encoding="utf-8")
    import_csv(store, "news", news)
    store.suppressions.add("bob@example.com", "unsubscribed")
    return store


def select(store, text: str, list_name: str | None = "all") -> set[str]:
    list_id = store.lists.require(list_name)["id"] if list_name else None
    node = parse(text)
    rows = store.subscribers.page(list_id, where=node, limit=1000)
    assert store.subscribers.count(list_id, where=node) == len(rows)
    return {row["email"].split("@")[0] for row in rows}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('country = "DE"', {"ann", "bob", "dan", "postmaster"}),
        (
            'country = "DE" and plan in ("pro","team") and signed_up >= 2025-01-01',
            {"ann", "dan", "postmaster"},
        ),
        (
            'country = "DE" and plan in ("pro","team") and signed_up >= 2025-01-01 and not role',
            {"ann", "dan"},
        ),
        ("score > 8", {"ann", "cat", "eve"}),
        ("score >= 7 and score <= 12", {"ann", "dan", "eve"}),
        ('country != "DE"', {"cat", "eve"}),  # a missing field is "not DE"
        ('not country = "DE"', {"cat", "eve"}),
        ('plan not in ("pro")', {"bob", "cat", "dan"}),
        ('in list "news"', {"ann", "cat"}),
        ('in list "news" or domain = "example.org"', {"ann", "cat", "eve"}),
        ('not (in list "news") and country = "DE"', {"bob", "dan", "postmaster"}),
        ("suppressed", {"bob"}),
        ("vip", {"ann"}),
        ('email contains "AN"', {"ann", "dan"}),
        ('COUNTRY = "DE"', set()),  # field names are case-sensitive; keywords are not
        ('country = "DE" AND NOT role OR plan == "team"', {"ann", "bob", "dan", "cat"}),
    ],
)
def test_filters_select_the_right_people(people, text, expected):
    assert select(people, text) == expected


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("", 1, "empty"),
        ('country = "DE" and', 19, "expected a field name, found the end"),
        ("country = DE", 11, "put text in quotes"),
        ('country = "DE', 11, "unterminated string"),
        ('plan in ("pro" "team")', 16, "expected ',' or ')'"),
        ('(plan = "pro"', 14, "expected ')'"),
        ('country ~ "DE"', 9, "unexpected character '~'"),
        ('country = "DE" plan = "x"', 16, "expected 'and', 'or' or the end"),
        ("in list news", 9, "a list name in quotes"),
        ("score > 5 and and", 15, "expected a field name, found 'and'"),
        ("score contains 5", 16, "takes a string"),
    ],
)
def test_invalid_filters_point_at_the_token(text, column, reason):
    with pytest.raises(SegmentError) as info:
        parse(text)
    assert info.value.column == column
    assert reason in str(info.value)
    assert str(info.value).startswith(f"column {column}: ")


@pytest.mark.parametrize(
    "text",
    [
        'country = "DE\'; DROP TABLE subscribers; --"',
        'country = "x\\" OR 1=1 --"',
        'in list "news\') OR 1=1 --"',
        'plan in ("a\')) OR ((1=1")',
    ],
)
def test_injection_attempts_are_just_values(people, text):
    node = parse(text)
    sql, params = render_filter(node)
    # Nothing the operator typed reaches the SQL text; it is all in params.
    for token in ("DROP", "OR 1=1", "--", "'"):
        assert token not in sql
    assert select(people, text) == set()
    assert people.db.scalar("SELECT count(*) FROM subscribers") == 6


def test_field_names_are_bound_not_formatted(people):
    sql, params = render_filter(parse("plan = 1"))
    assert "plan" not in sql and '$."plan"' in params


def test_saved_segment_on_a_list(people):
    list_id = people.lists.require("all")["id"]
    segment_id = people.segments.create("de-pro", 'country = "DE" and plan = "pro"', list_id)
    saved = people.segments.require("de-pro")
    assert saved["id"] == segment_id
    assert people.subscribers.count(list_id, where=parse(saved["expression"])) == 2
