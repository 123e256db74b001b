"""The store: schema, migrations, constraints worded for the operator."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from core.store import SCHEMA_VERSION, Store, StoreError
from core.store.schema import MIGRATIONS


def test_new_database_is_private_and_fully_migrated(db_path):
    store = Store(db_path)
    assert store.db.user_version == SCHEMA_VERSION
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert store.db.scalar("PRAGMA journal_mode") == "wal"
    assert store.db.scalar("PRAGMA foreign_keys") == 1
    tables = {t for t in store.db.db.table_names()}
    assert {
        "accounts",
        "lists",
        "subscribers",
        "list_members",
        "suppressions",
        "campaigns",
        "deliveries",
        "delivery_attempts",
        "settings",
        "audit_log",
    } <= tables


def test_previous_version_database_upgrades_in_place(db_path, monkeypatch):
    # A database written by a build that knew one migration fewer: simulate
    # a future migration on top of today's schema and check it applies.
    Store(db_path).close()
    extra = "CREATE TABLE later_feature (id INTEGER PRIMARY KEY);"
    monkeypatch.setattr("core.store.db.MIGRATIONS", [*MIGRATIONS, extra])
    monkeypatch.setattr("core.store.db.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    store = Store(db_path)
    assert store.db.user_version == SCHEMA_VERSION + 1
    assert "later_feature" in store.db.db.table_names()


def test_newer_database_is_refused_with_a_clear_message(db_path):
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer Postroom"):
        Store(db_path)


def test_failed_migration_leaves_the_database_untouched(db_path, monkeypatch):
    Store(db_path).close()
    monkeypatch.setattr(
        "core.store.db.MIGRATIONS", [*MIGRATIONS, "CREATE TABLE t (x); SELECT * FROM nope;"]
    )
    monkeypatch.setattr("core.store.db.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"migration {SCHEMA_VERSION + 1} failed"):
        Store(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0] == 0


def test_duplicate_account_name_is_explained(store):
    store.accounts.create(name="ses", host="h", port=587)
    with pytest.raises(StoreError, match="an account with that name already exists"):
        store.accounts.create(name="ses", host="h", port=587)


def test_bad_values_are_refused_by_the_schema(store):
    with pytest.raises(StoreError, match="invalid value"):
        store.accounts.create(name="x", host="h", port=70000)
    with pytest.raises(StoreError, match="unknown account field"):
        store.accounts.create(name="x", host="h", port=25, passwrd="oops")


def test_deleting_a_list_in_use_by_a_campaign_is_refused(store):
    list_id = store.lists.create("news")
    store.campaigns.create(name="c", list_id=list_id)
    with pytest.raises(StoreError, match="still in use"):
        store.lists.delete(list_id)


def test_subscriber_upsert_merges_fields_and_is_unique_per_address(store):
    list_id = store.lists.create("news")
    row = {"email": "Ann@example.com", "domain": "example.com", "fields": {"plan": "pro"}}
    store.subscribers.upsert_many([row], list_id=list_id)
    store.subscribers.upsert_many([{**row, "fields": {"country": "DE"}}], list_id=list_id)
    assert store.subscribers.count_in_list(list_id) == 1
    found = store.subscribers.by_email("Ann@example.com")
    assert '"plan":"pro"' in found["fields"].replace(" ", "")
    assert '"country":"DE"' in found["fields"].replace(" ", "")


def test_transaction_rolls_back_everything_on_error(store):
    with pytest.raises(RuntimeError), store.db.transaction():
        store.lists.create("a")
        raise RuntimeError("boom")
    assert store.lists.by_name("a") is None


def test_each_new_database_has_its_own_unsubscribe_secret(tmp_path):
    from core.content.unsubscribe import unsubscribe_secret

    first, second = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    secret = unsubscribe_secret(first)
    assert len(secret) == 32 and secret != unsubscribe_secret(second)
    # Reading it writes nothing: preview and check stay read-only.
    before = first.db.conn.total_changes
    assert unsubscribe_secret(first) == secret
    assert first.db.conn.total_changes == before
