"""How each view looks at 80x24 on the demo database (SVG snapshots).

Regenerate only after reading the diff report:
    .venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from tests.support.console import make_app

SIZE = (80, 24)


@pytest.mark.parametrize("view", ["dashboard", "accounts", "lists", "campaigns", "logs"])
def test_view_at_80x24(snap_compare, demo_db, view):
    assert snap_compare(make_app(demo_db, start_view=view), terminal_size=SIZE)


def test_list_members_at_80x24(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db, start_view="lists"), press=["enter"], terminal_size=SIZE)


def test_help_at_80x24(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db, start_view="lists"), press=["?"], terminal_size=SIZE)


def test_readonly_header_at_80x24(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db, readonly=True), terminal_size=SIZE)


def test_no_color_at_80x24(snap_compare, demo_db, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(demo_db, start_view="campaigns")
    assert app.no_color
    assert snap_compare(app, terminal_size=SIZE)
