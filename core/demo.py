"""The demo: a database built from sample_data/ whose accounts point at a
local capture SMTP server, so `make run` needs no credentials or network.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.accounts.transfer import import_accounts, parse_accounts
from core.content.campaign_file import create_from_file
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

    # Interim loader until the list importer lands: lower-cases the domain and
    # marks rows without exactly one "@" invalid.
    list_id = store.lists.create("demo", "5,000 synthetic people from sample_data/")
    rows = []
    with (sample_data / "subscribers.csv").open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            email = record.pop("email").strip()
            local, at, domain = email.rpartition("@")
            if not at or not local or not domain:
                continue
            domain = domain.lower()
            rows.append({"email": f"{local}@{domain}", "domain": domain, "fields": record})
    store.subscribers.upsert_many(rows, list_id=list_id)

    create_from_file(store, sample_data / "welcome.toml")
    return store
