"""DMARC (RFC 7489): the record, its policy, and whether From aligns with
the DKIM d= and the envelope sender."""

from __future__ import annotations

from core.dnscheck.findings import Finding, zone_txt
from core.dnscheck.resolver import Resolver

# Common two-label public suffixes. A full Public Suffix List is not shipped;
# for other registries the last two labels are taken as the organisation.
_TWO_LABEL_SUFFIXES = frozenset(
    [
        "co.uk",
        "org.uk",
        "ac.uk",
        "gov.uk",
        "com.au",
        "net.au",
        "org.au",
        "co.nz",
        "co.jp",
        "ne.jp",
        "or.jp",
        "com.br",
        "com.mx",
        "com.ar",
        "co.za",
        "co.in",
        "com.cn",
        "com.tw",
        "com.hk",
        "com.sg",
        "co.kr",
        "com.tr",
    ]
)


def org_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    take = 3 if ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-take:])


def aligned(a: str, b: str, mode: str) -> bool:
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b if mode == "s" else org_domain(a) == org_domain(b)


def parse(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = value.strip()
    return tags


async def _record(resolver: Resolver, domain: str) -> tuple[str, str | None, Finding | None]:
    """(where, record, failure): _dmarc.<domain>, else the organisational domain's."""
    org = org_domain(domain)
    for name in dict.fromkeys((f"_dmarc.{domain}", f"_dmarc.{org}")):
        lookup = await resolver.lookup(name, "TXT")
        if lookup.failed:
            return name, None, Finding("dmarc", "error", lookup.failure_text())
        records = [r for r in lookup.records if r.replace(" ", "").upper().startswith("V=DMARC1")]
        if len(records) > 1:
            return name, None, Finding("dmarc", "fail", f"{len(records)} DMARC records at {name}")
        if records:
            return name, records[0], None
    return f"_dmarc.{domain}", None, None


async def check_dmarc(
    resolver: Resolver, domain: str, *, dkim_domain: str | None, envelope_domains: list[str]
) -> list[Finding]:
    """``dkim_domain`` is the d= Postroom signs with (None: unsigned)."""
    name, record, failure = await _record(resolver, domain)
    if failure is not None:
        return [failure]
    if record is None:
        proposal = f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{org_domain(domain)}"
        return [
            Finding(
                "dmarc",
                "fail",
                f"no DMARC record at {name}: Gmail, Yahoo and Outlook require one",
                zone_txt(f"_dmarc.{domain}", proposal),
            )
        ]
    tags = parse(record)
    inherited = not name.endswith(f"_dmarc.{domain}")
    policy = (tags.get("sp") if inherited else None) or tags.get("p", "")
    findings = []
    if policy not in ("none", "quarantine", "reject"):
        fixed = f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{org_domain(domain)}"
        findings.append(
            Finding(
                "dmarc", "fail", f"{name}: missing or bad p= ({policy!r})", zone_txt(name, fixed)
            )
        )
    elif policy == "none" and not tags.get("rua"):
        findings.append(
            Finding(
                "dmarc",
                "warn",
                f"{name}: p=none without rua: no policy and no reports to learn from",
                zone_txt(
                    name, f"{record.rstrip('; ')}; rua=mailto:dmarc-reports@{org_domain(domain)}"
                ),
            )
        )
    else:
        reports = f", reports to {tags['rua']}" if tags.get("rua") else ""
        findings.append(Finding("dmarc", "pass", f"{name}: p={policy}{reports}"))
    if tags.get("pct", "100") != "100":
        findings.append(Finding("dmarc", "warn", f"pct={tags['pct']}: policy applies to part"))
    findings.append(_alignment(domain, tags, dkim_domain, envelope_domains))
    return findings


def _alignment(
    domain: str, tags: dict[str, str], dkim_domain: str | None, envelope_domains: list[str]
) -> Finding:
    adkim, aspf = tags.get("adkim", "r"), tags.get("aspf", "r")
    dkim_ok = dkim_domain is not None and aligned(dkim_domain, domain, adkim)
    spf_bad = [d for d in envelope_domains if not aligned(d, domain, aspf)]
    if dkim_ok and not spf_bad:
        return Finding("dmarc", "pass", f"From aligns with DKIM d={dkim_domain} and the envelope")
    if dkim_ok:
        return Finding(
            "dmarc",
            "pass",
            f"From aligns with DKIM d={dkim_domain}; envelope {', '.join(spf_bad)} does not "
            f"(aspf={aspf}), so DMARC rests on DKIM alone",
        )
    if envelope_domains and not spf_bad:
        return Finding(
            "dmarc",
            "warn",
            "From aligns with the envelope only: no aligned DKIM signature "
            "(forwarding will break DMARC)",
        )
    return Finding(
        "dmarc",
        "fail",
        f"From {domain} aligns with neither a DKIM signature nor the envelope "
        f"({', '.join(envelope_domains) or 'none'}): DMARC fails",
    )
