"""What a check reports: findings with a status, a reason and the record to publish."""

from __future__ import annotations

from dataclasses import dataclass, field

# "error" means the DNS did not answer (SERVFAIL, timeout): nothing is known
# about the record, so no record is proposed.
STATUSES = ("pass", "warn", "fail", "error")
_RANK = {"pass": 0, "warn": 1, "error": 2, "fail": 3}


@dataclass(frozen=True)
class Finding:
    check: str  # spf | dkim | dmarc | mx
    status: str  # pass | warn | fail | error
    reason: str
    record: str | None = None  # zone-file line(s) to publish, for a fail


@dataclass
class DomainReport:
    domain: str
    findings: list[Finding] = field(default_factory=list)
    checked_at: float = 0.0

    def status(self, check: str) -> str:
        """The worst status among ``check``'s findings ("-" when none)."""
        statuses = [f.status for f in self.findings if f.check == check]
        return max(statuses, key=_RANK.__getitem__) if statuses else "-"

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]


def zone_txt(name: str, value: str, ttl: int = 3600) -> str:
    """A TXT record as a zone-file line; values over 255 bytes split into strings."""
    pieces = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    quoted = " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in pieces)
    return f"{name.rstrip('.')}. {ttl} IN TXT {quoted}"
