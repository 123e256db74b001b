"""DNS checks for sending domains (SPF, DKIM, DMARC, MX) and recipient domains.

``mx_status(domain)`` answers "can this domain receive mail?" for list
hygiene; ``check_domain`` runs every check for a From domain.
"""

from __future__ import annotations

from core.dnscheck.domain import CHECKS, DomainContext, check_domain, context_for, from_domains
from core.dnscheck.findings import DomainReport, Finding, zone_txt
from core.dnscheck.mx import MxStatus, mx_status
from core.dnscheck.resolver import Lookup, Resolver, default_resolver

__all__ = [
    "CHECKS",
    "DomainContext",
    "DomainReport",
    "Finding",
    "Lookup",
    "MxStatus",
    "Resolver",
    "check_domain",
    "context_for",
    "default_resolver",
    "from_domains",
    "mx_status",
    "zone_txt",
]
