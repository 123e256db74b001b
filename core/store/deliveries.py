"""SQL for the delivery ledger and its attempts (read side for screens).

The engine's write path (materialise, claim, record outcomes) belongs here
too, next to the queries that read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from core.store.db import Database

DELIVERY_STATES = (
    "queued",
    "sending",
    "sent",
    "deferred",
    "bounced",
    "failed",
    "unknown",
    "suppressed",
    "cancelled",
    "skipped",
)

Key = tuple[float, int]  # (updated_at, id): a delivery's place in the log


class Deliveries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def counts_by_state(self, campaign_id: int) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT state, count(*) FROM deliveries WHERE campaign_id = ? GROUP BY state",
            (campaign_id,),
        ).fetchall()
        counts = dict.fromkeys(DELIVERY_STATES, 0)
        counts.update({state: n for state, n in rows})
        return counts

    def counts_by_campaign(self) -> dict[int, dict[str, int]]:
        """Every campaign's ledger counted by state, in one pass over an index."""
        counts: dict[int, dict[str, int]] = {}
        for campaign_id, state, n in self.db.execute(
            "SELECT campaign_id, state, count(*) FROM deliveries GROUP BY campaign_id, state"
        ).fetchall():
            counts.setdefault(campaign_id, dict.fromkeys(DELIVERY_STATES, 0))[state] = n
        return counts

    def page(self, *, before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest deliveries first, keyset-paged by id."""
        return self.db.all(
            "SELECT d.*, c.name AS campaign_name, a.name AS account_name FROM deliveries d"
            " JOIN campaigns c ON c.id = d.campaign_id"
            " LEFT JOIN accounts a ON a.id = d.account_id"
            " WHERE (? IS NULL OR d.id < ?) ORDER BY d.id DESC LIMIT ?",
            (before_id, before_id, limit),
        )

    def get(self, delivery_id: int) -> dict[str, Any] | None:
        return self.db.one(
            "SELECT d.*, c.name AS campaign_name, a.name AS account_name FROM deliveries d"
            " JOIN campaigns c ON c.id = d.campaign_id"
            " LEFT JOIN accounts a ON a.id = d.account_id WHERE d.id = ?",
            (delivery_id,),
        )

    # -- the delivery log: filtered, most recent activity first ---------------
    #
    # The log is ordered by the key (updated_at, id), newest first, so rows
    # the engine just touched come first. Keyset pages split "same time,
    # smaller id" from "earlier time" (a UNION ALL of two index ranges):
    # SQLite would only range-scan updated_at for a row-value comparison,
    # which walks every tied row, and a launch stamps a whole campaign with
    # one time.

    def head(self) -> Key | None:
        """The key of the most recently active delivery (None for an empty ledger)."""
        row = self.db.execute(
            "SELECT updated_at, id FROM deliveries ORDER BY updated_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return (row[0], row[1]) if row is not None else None

    def log_open(self, log: LogFilter) -> tuple[LogFilter, int]:
        """``log`` pinned to the current head, and how many rows it shows.

        One statement reads both, so they agree even while the engine writes;
        the count needs no pin then (no row is newer than the head), which
        lets SQLite count over an index alone.
        """
        where, params = log.where(pin=False)
        total, at, newest = self.db.execute(
            f"SELECT (SELECT count(*) FROM deliveries d WHERE {where}),"  # noqa: S608 - fixed fragments
            " (SELECT updated_at FROM deliveries ORDER BY updated_at DESC, id DESC LIMIT 1),"
            " (SELECT id FROM deliveries ORDER BY updated_at DESC, id DESC LIMIT 1)",
            params,
        ).fetchone()
        return log.pinned(None if newest is None else (at, newest)), total

    def log_page(
        self,
        log: LogFilter,
        *,
        before: Key | None = None,
        after: Key | None = None,
        offset: int = 0,
        from_oldest: bool = False,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """One page of the filtered log, always returned most recent first.

        ``before`` pages down from a known row's key and ``after`` up from one
        (keyset, cheap at any depth); ``offset`` counts from the newest row, or
        from the oldest with ``from_oldest``, for a jump to an unvisited page.
        """
        ascending = after is not None or from_oldest
        order = "ASC" if ascending else "DESC"
        key = before if before is not None else after
        if key is None:
            where, params = log.where()
            ids = f"SELECT d.id FROM deliveries d WHERE {where} {_order(order)} LIMIT ? OFFSET ?"  # noqa: S608
            params += [limit, offset]
        else:
            ids, params = self._keyset(log, key, ascending, limit)
        rows = self.db.all(
            f"SELECT {_LOG_COLUMNS} FROM deliveries d"  # noqa: S608 - fixed fragments
            " JOIN campaigns c ON c.id = d.campaign_id"
            " LEFT JOIN accounts a ON a.id = d.account_id"
            f" WHERE d.id IN ({ids}) {_order(order)} LIMIT ?",
            (*params, limit),
        )
        if ascending:
            rows.reverse()
        return rows

    @staticmethod
    def _keyset(log: LogFilter, key: Key, ascending: bool, limit: int) -> tuple[str, list[Any]]:
        """Ids of the ``limit`` rows after ``key`` in log order (before it if ascending).

        Below a known row the pin is implied; above one it bounds the range,
        added per branch so SQLite still picks the filter's index for each.
        """
        where, params = log.where(pin=False)
        op, order = (">", "ASC") if ascending else ("<", "DESC")
        same, same_params = f"d.updated_at = ? AND d.id {op} ?", [key[0], key[1]]
        earlier, earlier_params = f"d.updated_at {op} ?", [key[0]]
        if ascending and log.until is not None:
            if key[0] == log.until[0]:
                same += " AND d.id <= ?"
                same_params.append(log.until[1])
            earlier += " AND (d.updated_at, d.id) <= (?, ?)"
            earlier_params.extend(log.until)
        ids = (
            f"SELECT * FROM (SELECT d.id FROM deliveries d WHERE {where} AND {same}"  # noqa: S608
            f" ORDER BY d.id {order} LIMIT ?)"
            f" UNION ALL SELECT * FROM (SELECT d.id FROM deliveries d WHERE {where} AND {earlier}"
            f" {_order(order)} LIMIT ?)"
        )
        return ids, [*params, *same_params, limit, *params, *earlier_params, limit]

    def log_rows(self, log: LogFilter, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every row of the filtered log, in the log's order, read in keyset batches."""
        before: Key | None = None
        while True:
            rows = self.log_page(log, before=before, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            before = (rows[-1]["updated_at"], rows[-1]["id"])

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT t.*, a.name AS account_name FROM delivery_attempts t"
            " LEFT JOIN accounts a ON a.id = t.account_id"
            " WHERE t.delivery_id = ? ORDER BY t.id",
            (delivery_id,),
        )


def _order(direction: str) -> str:
    return f"ORDER BY d.updated_at {direction}, d.id {direction}"


_LOG_COLUMNS = (
    "d.id, d.campaign_id, d.email, d.domain, d.state, d.reason, d.attempts, d.account_id,"
    " d.message_id, d.last_code, d.last_enhanced, d.last_reply, d.created_at, d.updated_at,"
    " d.sent_at, c.name AS campaign_name, a.name AS account_name"
)


@dataclass(frozen=True)
class LogFilter:
    """What the delivery log shows. Every field narrows it; the default shows all.

    ``until`` pins the view to the rows as they were when it opened (their
    key at most this one), so counts and positions stay put while the
    engine keeps writing; a row the engine touches since leaves the view
    until the next refresh puts it on top.
    """

    campaign_id: int | None = None
    states: tuple[str, ...] = ()
    account_id: int | None = None
    domain: str | None = None
    code_min: int | None = None  # reply code range, inclusive (550-550, 500-599)
    code_max: int | None = None
    text: str = ""
    until: Key | None = None

    def pinned(self, until: Key | None) -> LogFilter:
        return replace(self, until=until)

    def where(self, *, pin: bool = True) -> tuple[str, list[Any]]:
        """A WHERE clause from fixed fragments, and its bound parameters."""
        clauses = ["1"]
        params: list[Any] = []
        if pin and self.until is not None:
            clauses.append("(d.updated_at, d.id) <= (?, ?)")
            params.extend(self.until)
        if self.campaign_id is not None:
            clauses.append("d.campaign_id = ?")
            params.append(self.campaign_id)
        if self.states:
            clauses.append(f"d.state IN ({', '.join('?' for _ in self.states)})")
            params.extend(self.states)
        if self.account_id is not None:
            clauses.append("d.account_id = ?")
            params.append(self.account_id)
        if self.domain:
            clauses.append("d.domain = ?")
            params.append(self.domain.lower())
        if self.code_min is not None:
            clauses.append("d.last_code BETWEEN ? AND ?")
            params.extend((self.code_min, self.code_max or self.code_min))
        if self.text:
            like = "%" + _escape_like(self.text) + "%"
            clauses.append(
                "(d.email LIKE ? ESCAPE '\\' OR d.last_reply LIKE ? ESCAPE '\\'"
                " OR d.reason LIKE ? ESCAPE '\\' OR d.message_id LIKE ? ESCAPE '\\')"
            )
            params.extend((like, like, like, like))
        return " AND ".join(clauses), params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
