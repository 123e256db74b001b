"""The global suppression list: nobody on it is ever mailed again.

Addresses are kept in the same normal form as subscribers
(core.lists.validate), so a suppression matches whatever case or IDN
spelling the address arrives in. Imports are one transaction; exports
stream in keyset pages.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from core.lists.importer import (
    FIELD_LIMIT,
    ImportFailed,
    detect_encoding,
    find_email_column,
    sniff_delimiter,
)
from core.lists.validate import AddressError, Validator
from core.store import Store, StoreError
from core.store.lists import SUPPRESSION_REASONS

# What other tools call our four reasons.
REASON_ALIASES = {
    "unsubscribed": "unsubscribed",
    "unsubscribe": "unsubscribed",
    "unsub": "unsubscribed",
    "optout": "unsubscribed",
    "opt-out": "unsubscribed",
    "opted_out": "unsubscribed",
    "bounced": "bounced",
    "bounce": "bounced",
    "hard_bounce": "bounced",
    "hardbounce": "bounced",
    "hard-bounce": "bounced",
    "complained": "complained",
    "complaint": "complained",
    "spam": "complained",
    "abuse": "complained",
    "manual": "manual",
    "blocklisted": "manual",
    "blacklisted": "manual",
}
EXPORT_COLUMNS = ("email", "reason", "source", "detail", "suppressed_at")
_BATCH = 5000


@dataclass
class SuppressionImport:
    rows: int = 0
    added: int = 0
    already: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"{self.rows:,} rows: {self.added:,} suppressed, {self.already:,} already suppressed"
        ]
        if self.rejected:
            out.append(
                "rejected: " + ", ".join(f"{why} {n:,}" for why, n in self.rejected.most_common())
            )
        out.extend(f"note: {note}" for note in self.notes)
        return out


def canonical_reason(text: str, default: str = "manual") -> str:
    key = text.strip().lower().replace(" ", "_")
    return REASON_ALIASES.get(key, default) if key else default


def add(
    store: Store, email: str, reason: str = "manual", source: str = "", detail: str = ""
) -> str:
    """Suppress one address; returns its normal form."""
    try:
        normal = Validator().check(email).email
    except AddressError as exc:
        raise StoreError(f"{email!r} is not a valid address: {exc}") from None
    if reason not in SUPPRESSION_REASONS:
        raise StoreError(f"reason must be one of {', '.join(SUPPRESSION_REASONS)}, not {reason!r}")
    store.suppressions.add(normal, reason, source, detail)
    return normal


def _normal_or_raw(email: str) -> str:
    try:
        return Validator().check(email).email
    except AddressError:
        return email.strip().lower()


def remove(store: Store, email: str) -> bool:
    return store.suppressions.remove(_normal_or_raw(email))


def is_suppressed(store: Store, email: str) -> bool:
    return store.suppressions.contains(_normal_or_raw(email))


def suppressed_among(store: Store, emails: Iterable[str]) -> set[str]:
    """The suppressed ones among already-normalised addresses (engine checks)."""
    return store.suppressions.which(emails)


def import_file(
    store: Store,
    path: str | Path,
    *,
    reason: str = "manual",
    source: str | None = None,
    email_column: str | None = None,
) -> SuppressionImport:
    """Suppress every address in a CSV (or a plain one-address-per-line file).

    Optional columns ``reason`` (other tools' names are mapped),
    ``source`` and ``detail`` are kept. All rows are one transaction.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    if reason not in SUPPRESSION_REASONS:
        raise ImportFailed(f"reason must be one of {', '.join(SUPPRESSION_REASONS)}")
    encoding, note = detect_encoding(path)
    result = SuppressionImport(notes=[note] if note else [])
    source = source if source is not None else f"import:{path.name}"
    check = Validator().check
    csv.field_size_limit(FIELD_LIMIT)
    stamp = time.time()
    with path.open(encoding=encoding, newline="") as text:
        first = text.readline(FIELD_LIMIT)
        text.seek(0)
        reader = csv.reader(text, delimiter=sniff_delimiter(first))
        header = next(reader, [])
        if not header:
            raise ImportFailed(f"{path}: the file is empty")
        lowered = [h.strip().lower() for h in header]
        if "@" in "".join(header) and email_column is None:
            email_index, rows_iter = 0, _chain(header, reader)  # bare list of addresses
            lowered = []
        else:
            email_index, rows_iter = find_email_column(header, email_column), reader

        def column(name: str) -> int | None:
            return lowered.index(name) if name in lowered else None

        reason_at, source_at, detail_at = column("reason"), column("source"), column("detail")
        batch: list[tuple[str, str, str, str, float]] = []
        with store.db.transaction():
            for cells in rows_iter:
                if not cells or not any(c.strip() for c in cells):
                    continue
                result.rows += 1
                try:
                    email = check(cells[email_index] if email_index < len(cells) else "").email
                except AddressError:
                    result.rejected["invalid address"] += 1
                    continue
                batch.append(
                    (
                        email,
                        canonical_reason(_cell(cells, reason_at), reason),
                        _cell(cells, source_at) or source,
                        _cell(cells, detail_at),
                        stamp,
                    )
                )
                if len(batch) >= _BATCH:
                    result.added += store.suppressions.add_many(batch)
                    batch.clear()
            if batch:
                result.added += store.suppressions.add_many(batch)
    result.already = result.rows - result.added - sum(result.rejected.values())
    return result


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _chain(first: list[str], rest: Iterable[list[str]]) -> Iterable[list[str]]:
    yield first
    yield from rest


def export(store: Store, out: TextIO, *, reason: str | None = None) -> int:
    """Write the suppression list as CSV (UTF-8, ISO times); returns rows written."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    written, after = 0, ""
    while True:
        rows = store.suppressions.page(after_email=after, limit=_BATCH, reason=reason)
        for row in rows:
            at = datetime.fromtimestamp(row["created_at"], UTC).isoformat(timespec="seconds")
            writer.writerow([row["email"], row["reason"], row["source"], row["detail"], at])
        written += len(rows)
        if len(rows) < _BATCH:
            return written
        after = rows[-1]["email"]
