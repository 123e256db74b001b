"""DNS checks for sending domains (SPF, DKIM, DMARC, MX) and recipient domains.

``mx_status(domain)`` answers "can this domain receive mail?" for list
hygiene; ``check_domain`` runs every check for a From domain.
"""

from __future__ import annotations

from core.dnscheck.mx import MxStatus, mx_status
from core.dnscheck.resolver import Lookup, Resolver, default_resolver

__all__ = ["Lookup", "MxStatus", "Resolver", "default_resolver", "mx_status"]
