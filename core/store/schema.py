"""The whole schema, as an ordered list of migrations.

A database's ``PRAGMA user_version`` is the number of migrations applied to
it; opening a database applies the rest in one transaction each, so an old
file upgrades in place. Never edit a migration that has shipped: append one.

Times are REAL seconds since the epoch (UTC): cheap to compare and index.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL                      -- JSON
    );

    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        provider TEXT NOT NULL DEFAULT 'custom',  -- preset key
        host TEXT NOT NULL,
        port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        tls TEXT NOT NULL DEFAULT 'starttls'
            CHECK (tls IN ('starttls', 'implicit', 'none')),
        auth TEXT NOT NULL DEFAULT 'password'
            CHECK (auth IN ('password', 'xoauth2', 'none')),
        username TEXT,
        secret TEXT,            -- 'env:NAME', 'file:PATH' or 'db:<password>'
        oauth_token_cmd TEXT,
        allow_plaintext_auth INTEGER NOT NULL DEFAULT 0,
        verify_tls INTEGER NOT NULL DEFAULT 1,
        envelope_from TEXT,     -- bounce address; campaign From when NULL
        rate REAL NOT NULL DEFAULT 1.0,            -- configured messages/second
        max_connections INTEGER NOT NULL DEFAULT 2,
        max_messages_per_connection INTEGER NOT NULL DEFAULT 100,
        max_per_hour INTEGER,
        max_per_day INTEGER,
        max_message_bytes INTEGER,
        warmup TEXT,            -- JSON list of daily caps, day 1 first
        warmup_started_at REAL,
        limits_source TEXT,     -- where the limits came from (preset/operator)
        state TEXT NOT NULL DEFAULT 'active'
            CHECK (state IN ('active', 'paused', 'paused_auto', 'draining')),
        state_reason TEXT,
        last_error TEXT,
        last_error_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );

    CREATE TABLE lists (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );

    -- email is stored with its domain lower-cased (and IDNA-normalised), so
    -- the UNIQUE constraint is case-insensitive on the domain.
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        domain TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '{}',        -- JSON custom fields
        valid INTEGER NOT NULL DEFAULT 1,
        role INTEGER NOT NULL DEFAULT 0,          -- postmaster@, abuse@, ...
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX subscribers_domain ON subscribers (domain);

    CREATE TABLE list_members (
        list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        added_at REAL NOT NULL,
        PRIMARY KEY (list_id, subscriber_id)
    ) WITHOUT ROWID;
    CREATE INDEX list_members_subscriber ON list_members (subscriber_id);

    CREATE TABLE suppressions (
        email TEXT PRIMARY KEY,
        reason TEXT NOT NULL
            CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'manual')),
        source TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );

    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        list_id INTEGER REFERENCES lists (id) ON DELETE CASCADE,
        expression TEXT NOT NULL,
        created_at REAL NOT NULL
    );

    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        list_id INTEGER REFERENCES lists (id) ON DELETE RESTRICT,
        segment_id INTEGER REFERENCES segments (id) ON DELETE RESTRICT,
        from_name TEXT NOT NULL DEFAULT '',
        from_email TEXT NOT NULL DEFAULT '',
        reply_to TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        text_body TEXT NOT NULL DEFAULT '',
        html_body TEXT NOT NULL DEFAULT '',
        headers TEXT NOT NULL DEFAULT '{}',       -- JSON extra headers
        attachments TEXT NOT NULL DEFAULT '[]',   -- JSON list of paths
        feedback_id TEXT NOT NULL DEFAULT '',
        rate REAL,                                -- campaign cap, messages/second
        scheduled_at REAL,
        state TEXT NOT NULL DEFAULT 'draft'
            CHECK (state IN ('draft', 'scheduled', 'running', 'paused',
                             'completed', 'cancelled')),
        launched_at REAL,
        finished_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );

    CREATE TABLE campaign_accounts (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE RESTRICT,
        weight INTEGER NOT NULL DEFAULT 1 CHECK (weight > 0),
        PRIMARY KEY (campaign_id, account_id)
    ) WITHOUT ROWID;

    -- The ledger: one row per (campaign, subscriber); its state is the single
    -- source of truth for what was sent (see DESIGN.md).
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        email TEXT NOT NULL,
        domain TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'bounced',
                             'failed', 'unknown', 'suppressed', 'cancelled',
                             'skipped')),
        reason TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        run_id TEXT,
        account_id INTEGER REFERENCES accounts (id),
        message_id TEXT,
        last_code INTEGER,
        last_enhanced TEXT,
        last_reply TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sent_at REAL,
        UNIQUE (campaign_id, subscriber_id)
    );
    CREATE INDEX deliveries_claim ON deliveries (campaign_id, state, next_attempt_at);
    CREATE INDEX deliveries_state ON deliveries (state);
    CREATE INDEX deliveries_domain ON deliveries (domain);
    CREATE INDEX deliveries_updated ON deliveries (updated_at);

    CREATE TABLE delivery_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        run_id TEXT NOT NULL,
        account_id INTEGER REFERENCES accounts (id),
        outcome TEXT NOT NULL,  -- sent, deferred, throttled, bounced, failed, unknown
        code INTEGER,
        enhanced TEXT,
        reply TEXT,
        message_id TEXT,
        started_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX attempts_delivery ON delivery_attempts (delivery_id);
    CREATE INDEX attempts_account_time ON delivery_attempts (account_id, finished_at);

    -- Who changed what, when (the unix user).
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );

    -- One engine per database: the holder refreshes heartbeat_at.
    CREATE TABLE engine_lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        run_id TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL
    );

    -- Control commands for a detached engine, applied in id order.
    CREATE TABLE engine_commands (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        user TEXT NOT NULL,
        command TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',          -- JSON
        applied_at REAL,
        result TEXT
    );

    -- The latest stats() of a running engine, for attached consoles.
    CREATE TABLE engine_stats (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at REAL NOT NULL,
        snapshot TEXT NOT NULL                    -- JSON
    );

    CREATE TABLE dkim_keys (
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        key_path TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (domain, selector)
    ) WITHOUT ROWID;
    """,
    # 2: the delivery log reads most recent activity first, (updated_at, id),
    # also within its common filters (campaign, state, domain). The state and
    # domain indexes give way to the ones they are a prefix of; an outcome
    # now rewrites five index entries of its row instead of three.
    """
    CREATE INDEX deliveries_campaign_activity ON deliveries (campaign_id, updated_at);
    DROP INDEX deliveries_state;
    CREATE INDEX deliveries_state_activity ON deliveries (state, updated_at);
    DROP INDEX deliveries_domain;
    CREATE INDEX deliveries_domain_activity ON deliveries (domain, updated_at);
    """,
    # 3: the unsubscribe-token secret is made with the database, so looking at
    # a campaign (preview, check) never has to write, even in --readonly.
    # randomblob() is SQLite's CSPRNG, seeded from the operating system.
    """
    INSERT OR IGNORE INTO settings (key, value)
    VALUES ('unsubscribe_secret', json_quote(lower(hex(randomblob(32)))));
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
