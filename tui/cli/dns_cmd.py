"""`postroom dns check` and `postroom dkim generate|show|import`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from core.dkim import DkimError, generate_key, import_key, keys_for
from core.dnscheck import CHECKS, Resolver, check_domain, context_for, zone_txt
from tui.cli import common
from tui.cli.common import CliError


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    dns = common.command_group(subparsers, parent, "dns", "check a sending domain's DNS")
    check = dns.add_parser(
        "check",
        parents=[parent],
        help="SPF, DKIM, DMARC and MX findings for a From domain",
        description="Exit status 1 when a check fails or the DNS does not answer.",
    )
    check.add_argument("domain")
    check.add_argument("--selector", help="DKIM selector (default: the key Postroom signs with)")
    check.add_argument(
        "--nameserver",
        help="ask this server (HOST or HOST:PORT) instead of the system resolver "
        "(default: $POSTROOM_NAMESERVER)",
    )
    check.add_argument("--timeout", type=float, default=5.0, help="seconds per lookup")
    check.set_defaults(handler=run_check)

    dkim = common.command_group(subparsers, parent, "dkim", "DKIM signing keys")
    generate = dkim.add_parser(
        "generate", parents=[parent], help="make a 2048-bit RSA key and show its DNS record"
    )
    generate.add_argument("domain")
    generate.add_argument("selector")
    generate.set_defaults(handler=run_generate)
    show = dkim.add_parser("show", parents=[parent], help="a domain's keys and records")
    show.add_argument("domain")
    show.set_defaults(handler=run_show)
    imported = dkim.add_parser(
        "import", parents=[parent], help="use an existing unencrypted PEM RSA key"
    )
    imported.add_argument("domain")
    imported.add_argument("selector")
    imported.add_argument("file", type=Path)
    imported.set_defaults(handler=run_import)


def _resolver(args: argparse.Namespace) -> Resolver:
    if not args.nameserver:
        return Resolver.from_env(timeout=args.timeout)
    host, sep, port = args.nameserver.rpartition(":")
    if not sep or ":" in host:  # no port, or a bare IPv6 address
        return Resolver(args.nameserver, timeout=args.timeout)
    if not port.isdigit():
        raise CliError(f"--nameserver {args.nameserver}: port must be a number")
    return Resolver(host, int(port), args.timeout)


def run_check(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    try:
        context = context_for(store, args.domain, args.selector)
    finally:
        store.close()
    report = asyncio.run(check_domain(context, _resolver(args)))
    print(report.domain)
    for check in CHECKS:
        for finding in report.by_check(check):
            print(f"  {check.upper():<6} {finding.status:<5}  {finding.reason}")
            if finding.record:
                print(f"  {'':<6} {'':<5}  publish: {finding.record}")
    bad = {report.status(check) for check in CHECKS} & {"fail", "error"}
    return 1 if bad else 0


def _print_key(name: str, value: str, selector: str, newest: bool) -> None:
    signs = "  (signs outgoing mail)" if newest else ""
    print(f"selector {selector}{signs}")
    print(f"  {zone_txt(name, value)}")


def run_generate(args: argparse.Namespace) -> int:
    common.require_writable(args, "generate a DKIM key")
    store = common.open_store(args)
    try:
        key = generate_key(store, args.domain, args.selector)
        store.audit.record(common.current_user(), "dkim.generate", key.dns_name)
        print(f"key written to {key.path} (mode 600); publish this record:")
        _print_key(*key.public_dns_record(), key.selector, newest=True)
    except DkimError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    return 0


def run_import(args: argparse.Namespace) -> int:
    common.require_writable(args, "import a DKIM key")
    store = common.open_store(args)
    try:
        key = import_key(store, args.domain, args.selector, args.file)
        store.audit.record(common.current_user(), "dkim.import", key.dns_name, str(args.file))
        print(f"key copied to {key.path} (mode 600); its record:")
        _print_key(*key.public_dns_record(), key.selector, newest=True)
    except DkimError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    try:
        keys = keys_for(store, args.domain)
        if not keys:
            raise CliError(
                f"no DKIM key for {args.domain}; run: postroom dkim generate {args.domain} SELECTOR"
            )
        for index, key in enumerate(keys):
            _print_key(*key.public_dns_record(), key.selector, newest=index == 0)
    except DkimError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    return 0
