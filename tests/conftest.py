"""Shared fixtures: every test gets its own data directories and database."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.demo import build_demo
from core.store import Store


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the operator's own data, settings and terminal preferences out."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for name in ("POSTROOM_DB", "POSTROOM_CONFIG", "NO_COLOR", "TEXTUAL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "postroom.db"


@pytest.fixture
def store(db_path: Path) -> Store:
    opened = Store(db_path)
    yield opened
    opened.close()


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    """A demo database (sample_data/) whose accounts point at port 2525."""
    path = tmp_path / "demo" / "postroom.db"
    build_demo(path, 2525).close()
    return path
