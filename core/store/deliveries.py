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

    # -- the delivery log: filtered, keyset-paged, newest first ---------------

    def newest_id(self) -> int | None:
        return self.db.scalar("SELECT max(id) FROM deliveries")

    def log_count(self, log: LogFilter) -> int:
        where, params = log.where()
        return self.db.scalar(f"SELECT count(*) FROM deliveries d WHERE {where}", params)  # noqa: S608 - fixed fragments, bound values

    def log_page(
        self,
        log: LogFilter,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        offset: int = 0,
        from_oldest: bool = False,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """One page of the filtered log, always returned newest first.

        ``before_id`` pages down from a known row and ``after_id`` up from one
        (keyset, cheap at any depth); ``offset`` counts from the newest row, or
        from the oldest with ``from_oldest``, for a jump to an unvisited page.
        """
        where, params = log.where()
        ascending = after_id is not None or from_oldest
        if before_id is not None:
            where += " AND d.id < ?"
            params.append(before_id)
        if after_id is not None:
            where += " AND d.id > ?"
            params.append(after_id)
        order = "ASC" if ascending else "DESC"
        rows = self.db.all(
            f"SELECT {_LOG_COLUMNS} FROM deliveries d"  # noqa: S608 - fixed fragments
            " JOIN campaigns c ON c.id = d.campaign_id"
            " LEFT JOIN accounts a ON a.id = d.account_id"
            f" WHERE {where} ORDER BY d.id {order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        if ascending:
            rows.reverse()
        return rows

    def log_rows(self, log: LogFilter, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every row of the filtered log, newest first, read in keyset batches."""
        before: int | None = None
        while True:
            rows = self.log_page(log, before_id=before, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            before = rows[-1]["id"]

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT t.*, a.name AS account_name FROM delivery_attempts t"
            " LEFT JOIN accounts a ON a.id = t.account_id"
            " WHERE t.delivery_id = ? ORDER BY t.id",
            (delivery_id,),
        )


_LOG_COLUMNS = (
    "d.id, d.campaign_id, d.email, d.domain, d.state, d.reason, d.attempts, d.account_id,"
    " d.message_id, d.last_code, d.last_enhanced, d.last_reply, d.created_at, d.updated_at,"
    " d.sent_at, c.name AS campaign_name, a.name AS account_name"
)


@dataclass(frozen=True)
class LogFilter:
    """What the delivery log shows. Every field narrows it; the default shows all.

    ``max_id`` pins the view to the rows that existed when it opened, so
    counts and page positions stay put while the engine keeps writing.
    """

    campaign_id: int | None = None
    states: tuple[str, ...] = ()
    account_id: int | None = None
    domain: str | None = None
    code_min: int | None = None  # reply code range, inclusive (550-550, 500-599)
    code_max: int | None = None
    text: str = ""
    max_id: int | None = None
    min_id: int | None = None  # exclusive: only rows newer than this one

    def pinned(self, max_id: int | None) -> LogFilter:
        return replace(self, max_id=max_id, min_id=None)

    def newer(self, than_id: int | None, up_to: int | None) -> LogFilter:
        """The rows that arrived after ``than_id``, up to ``up_to``."""
        return replace(self, min_id=than_id, max_id=up_to)

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause from fixed fragments, and its bound parameters."""
        clauses = ["1"]
        params: list[Any] = []
        if self.max_id is not None:
            clauses.append("d.id <= ?")
            params.append(self.max_id)
        if self.min_id is not None:
            clauses.append("d.id > ?")
            params.append(self.min_id)
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
