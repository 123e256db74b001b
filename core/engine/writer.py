"""Outcomes are committed in small groups: every few ms, or sooner when many pile up."""

from __future__ import annotations

import asyncio

from core.store import Outcome, Store

FLUSH_AT = 256  # outcomes; beyond this, commit at once


class OutcomeWriter:
    def __init__(self, store: Store, run_id: str, interval_ms: float) -> None:
        self.store = store
        self.run_id = run_id
        self.interval = max(0.001, interval_ms / 1000)
        self._buffer: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self._buffer.append(outcome)
        if len(self._buffer) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self.store.ledger.record(self.run_id, batch)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.flush()
