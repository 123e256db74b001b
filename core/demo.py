"""The demo: a database built from sample_data/ whose accounts point at a
local capture SMTP server, so `make run` needs no credentials or network.
"""

from __future__ import annotations

from pathlib import Path

from core.accounts.transfer import import_accounts, parse_accounts
from core.content.campaign_file import create_from_file
from core.lists.importer import import_csv
from core.store import Store

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def build_demo(db_path: Path, smtp_port: int, sample_data: Path = SAMPLE_DATA) -> Store:
    """Create a demo database at ``db_path`` with its accounts on ``smtp_port``."""
    store = Store(db_path)
    path = sample_data / "accounts.toml"
    accounts = parse_accounts(path.read_text(encoding="utf-8"), path)
    for account in accounts:
        account.update(port=smtp_port, limits_source="sample")
    import_accounts(store, accounts, user="demo")

    # The real importer: sample_data/subscribers.csv has deliberately broken
    # rows; their rejects go beside the demo database, never into sample_data.
    store.lists.create("demo", "5,000 synthetic people from sample_data/")
    import_csv(
        store,
        "demo",
        sample_data / "subscribers.csv",
        rejects_path=Path(db_path).parent / "demo-rejects.csv",
    )

    create_from_file(store, sample_data / "welcome.toml")
    return store
