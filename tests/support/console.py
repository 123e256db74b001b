"""Opening the console on a test database, with nothing volatile on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.app import PostroomApp


def make_app(db_path: Path, **options: Any) -> PostroomApp:
    app = PostroomApp(db_path, **options)
    app.where = "operator@server"  # the real user@host differs between machines
    return app
