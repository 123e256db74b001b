"""Export a list or a segment to CSV, streaming (keyset pages, flat memory)."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from core.lists import segments
from core.store import Store

BASE_COLUMNS = ("email", "valid", "role")


def export_subscribers(
    store: Store,
    out: TextIO,
    *,
    list_id: int | None = None,
    where: segments.Node | None = None,
) -> int:
    """Write matching subscribers as CSV: address, flags, then one column per
    custom field (names from the data). Returns rows written. Values are
    written as stored; a spreadsheet user opening it should mind cells
    starting with ``=`` (the file is data, not a report)."""
    names = store.subscribers.field_names(list_id, where=where)
    writer = csv.writer(out)
    writer.writerow([*BASE_COLUMNS, *names])
    written = 0
    for row in store.subscribers.iterate(list_id, where=where):
        fields = json.loads(row["fields"])
        writer.writerow(
            [row["email"], row["valid"], row["role"], *(_cell(fields.get(n)) for n in names)]
        )
        written += 1
    return written


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
