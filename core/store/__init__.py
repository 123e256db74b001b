"""The SQLite store: the only place in Postroom with SQL.

``Store(path)`` opens (creating and migrating) a database and exposes one
repository per domain: ``store.accounts``, ``store.lists``,
``store.subscribers``, ``store.segments``, ``store.suppressions``,
``store.campaigns``, ``store.deliveries``, ``store.settings``,
``store.audit``, ``store.dkim_keys``, ``store.ledger`` (the engine's write
path), ``store.engine_state`` (engine lock, commands, stats). Every parameter
is bound, never formatted into SQL.
"""

from __future__ import annotations

from pathlib import Path

from core.store.accounts import Accounts
from core.store.campaigns import Campaigns
from core.store.db import Database, StoreError, loose_permissions_warning, now
from core.store.deliveries import DELIVERY_STATES, Deliveries
from core.store.dkim_keys import DkimKeys
from core.store.engine_state import EngineBusy, EngineState
from core.store.ledger import Ledger, Outcome
from core.store.lists import Lists, Segments, Subscribers, Suppressions
from core.store.ops import Audit, Settings
from core.store.schema import SCHEMA_VERSION

__all__ = [
    "DELIVERY_STATES",
    "SCHEMA_VERSION",
    "EngineBusy",
    "Outcome",
    "Store",
    "StoreError",
    "now",
]


class Store:
    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.db = Database(path, create=create)
        self.path = self.db.path
        self.accounts = Accounts(self.db)
        self.lists = Lists(self.db)
        self.subscribers = Subscribers(self.db)
        self.segments = Segments(self.db)
        self.suppressions = Suppressions(self.db)
        self.campaigns = Campaigns(self.db)
        self.deliveries = Deliveries(self.db)
        self.settings = Settings(self.db)
        self.audit = Audit(self.db)
        self.dkim_keys = DkimKeys(self.db)
        self.ledger = Ledger(self.db)
        self.engine_state = EngineState(self.db)

    def permissions_warning(self) -> str | None:
        return loose_permissions_warning(self.path)

    def close(self) -> None:
        self.db.close()
