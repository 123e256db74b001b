"""A sending domain set up right, on the loopback DNS server: the starting
point that DNS-check tests then break one record at a time."""

from __future__ import annotations

import dns.resolver

from core.dkim import DkimKey, generate_key
from core.store import Store
from tests.support.dns_server import DnsServer

SES_HOST = "email-smtp.eu-west-1.amazonaws.com"


def publish_good_domain(dns: DnsServer, store: Store, domain: str = "good.example") -> DkimKey:
    """SPF through amazonses.com, a matching DKIM key, DMARC with rua, MX;
    an SES account and a campaign From that domain. Returns the DKIM key."""
    account = store.accounts.create(
        name=f"ses-{domain}", host=SES_HOST, port=587, envelope_from=f"bounce@{domain}"
    )
    campaign = store.campaigns.create(name=f"news-{domain}", from_email=f"news@{domain}")
    store.campaigns.set_accounts(campaign, {account: 1})
    key = generate_key(store, domain, "s1")
    dns.txt(domain, "v=spf1 include:amazonses.com ~all")
    dns.txt("amazonses.com", "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 -all")
    dns.txt(*key.public_dns_record())
    dns.txt(f"_dmarc.{domain}", f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}")
    dns.mx(domain, 10, f"mx.{domain}")
    dns.a(f"mx.{domain}", "192.0.2.25")
    return key


def loopback_dnsfunc(server: DnsServer):
    """dkimpy's key lookup, answered by the loopback DNS server."""

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server.address]
        resolver.port = server.port
        resolver.lifetime = 2
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    return dnsfunc
