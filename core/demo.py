"""The demo: a database built from sample_data/ whose accounts point at a
local capture SMTP server, so `make run` needs no credentials or network.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.lists.importer import import_csv
from core.store import Store

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def build_demo(db_path: Path, smtp_port: int, sample_data: Path = SAMPLE_DATA) -> Store:
    """Create a demo database at ``db_path`` with its accounts on ``smtp_port``."""
    store = Store(db_path)
    accounts = tomllib.loads((sample_data / "accounts.toml").read_text(encoding="utf-8"))
    for account in accounts.get("account", []):
        store.accounts.create(**{**account, "port": smtp_port, "limits_source": "sample"})

    # The real importer: sample_data/subscribers.csv has deliberately broken
    # rows; their rejects go beside the demo database, never into sample_data.
    list_id = store.lists.create("demo", "5,000 synthetic people from sample_data/")
    import_csv(
        store,
        "demo",
        sample_data / "subscribers.csv",
        rejects_path=Path(db_path).parent / "demo-rejects.csv",
    )

    campaign = tomllib.loads((sample_data / "welcome.toml").read_text(encoding="utf-8"))
    campaign_id = store.campaigns.create(
        name=campaign["name"],
        list_id=list_id,
        from_name=campaign["from_name"],
        from_email=campaign["from_email"],
        reply_to=campaign.get("reply_to", ""),
        subject=campaign["subject"],
        text_body=(sample_data / campaign["text_file"]).read_text(encoding="utf-8"),
        html_body=(sample_data / campaign["html_file"]).read_text(encoding="utf-8"),
    )
    store.campaigns.set_accounts(
        campaign_id,
        {
            store.accounts.require(name)["id"]: weight
            for name, weight in campaign["accounts"].items()
        },
    )
    return store
