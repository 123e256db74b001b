"""`postroom accounts` — add, list, show, test, pause, resume, export, import."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from pathlib import Path

from core.accounts.connect import ConnectError
from core.accounts.health import account_health
from core.accounts.presets import LIMIT_FIELDS, PRESETS, PresetError, limit_sources, preset_values
from core.accounts.probe import SendError, probe, send_test_message
from core.accounts.secrets import describe, loose_secret_file_warning
from core.accounts.transfer import TransferError, export_accounts, import_accounts, parse_accounts
from core.accounts.validation import AccountValueError, check_account
from core.store.db import create_private_file
from tui.cli import common
from tui.format import limit, rate, stamp

# Flags of `accounts add` that set a column directly (flag name -> column).
_VALUE_FLAGS = {
    "host": "host",
    "port": "port",
    "tls": "tls",
    "auth": "auth",
    "username": "username",
    "oauth_token_cmd": "oauth_token_cmd",
    "envelope_from": "envelope_from",
    "rate": "rate",
    "max_connections": "max_connections",
    "max_messages_per_connection": "max_messages_per_connection",
    "max_per_hour": "max_per_hour",
    "max_per_day": "max_per_day",
    "max_message_bytes": "max_message_bytes",
    "warmup": "warmup",
}


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    actions = common.command_group(subparsers, parent, "accounts", "sending accounts")

    add = actions.add_parser(
        "add",
        parents=[parent],
        help="add an account from a preset",
        description="Presets: "
        + "; ".join(f"{p.key} ({p.label})" for p in PRESETS.values())
        + ". Without --secret the password is asked for (not echoed) and kept in the database.",
    )
    add.add_argument("name")
    add.add_argument("--preset", default="custom", choices=list(PRESETS))
    add.add_argument("--region", help="SES region, e.g. eu-west-1")
    add.add_argument("--sandbox", action="store_true", help="SES sandbox limits")
    add.add_argument("--secret", metavar="REF", help="env:NAME or file:PATH (resolved when used)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    for flag in _VALUE_FLAGS:
        add.add_argument(f"--{flag.replace('_', '-')}", dest=flag)
    add.add_argument("--allow-plaintext-auth", action="store_true", help="loopback only")
    add.add_argument(
        "--no-verify-tls", action="store_true", help="do not check the server's certificate"
    )
    add.set_defaults(handler=add_account)

    listing = actions.add_parser("list", parents=[parent], help="accounts and their health")
    listing.set_defaults(handler=list_accounts)

    show = actions.add_parser("show", parents=[parent], help="one account in full")
    show.add_argument("name")
    show.set_defaults(handler=show_account)

    test = actions.add_parser(
        "test", parents=[parent], help="test the connection (sends no mail unless --send-to)"
    )
    test.add_argument("name")
    test.add_argument("--send-to", metavar="ADDRESS", help="also send a test message here")
    test.add_argument("--timeout", type=float, default=15.0, help="seconds (default 15)")
    test.set_defaults(handler=test_account)

    for verb, text in (("pause", "stop sending through an account"), ("resume", "send again")):
        action = actions.add_parser(verb, parents=[parent], help=text)
        action.add_argument("name")
        action.set_defaults(handler=pause_account if verb == "pause" else resume_account)

    export = actions.add_parser("export", parents=[parent], help="write accounts as TOML")
    export.add_argument("names", nargs="*", help="accounts to export (default: all)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    export.set_defaults(handler=export_cmd)

    imp = actions.add_parser("import", parents=[parent], help="read accounts from TOML")
    imp.add_argument("file", type=Path)
    imp.add_argument("--replace", action="store_true", help="update accounts that exist")
    imp.set_defaults(handler=import_cmd)


def _store(args: argparse.Namespace) -> contextlib.closing:
    return contextlib.closing(common.open_store(args))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise common.CliError("no password on standard input")
        return line
    if not sys.stdin.isatty():
        raise common.CliError(
            "no terminal to ask for the password: use --secret env:NAME, --secret file:PATH "
            "or --password-stdin"
        )
    typed = getpass.getpass(f"Password for {args.name} (kept in the database): ")
    if not typed:
        raise common.CliError("no password given")
    return typed


def add_account(args: argparse.Namespace) -> int:
    common.require_writable(args, "add an account")
    try:
        values = {
            "name": args.name,
            **preset_values(args.preset, region=args.region, sandbox=args.sandbox),
        }
    except PresetError as exc:
        raise common.CliError(str(exc)) from None
    given = {column: getattr(args, flag) for flag, column in _VALUE_FLAGS.items()}
    values.update({column: value for column, value in given.items() if value is not None})
    values["allow_plaintext_auth"] = int(args.allow_plaintext_auth)
    values["verify_tls"] = int(not args.no_verify_tls)
    if not values["host"]:
        raise common.CliError("--host is required for a custom account")
    if args.secret and args.secret.startswith("db:"):
        raise common.CliError("--secret takes env:NAME or file:PATH; a password is asked for")
    if args.secret:
        values["secret"] = args.secret
    try:
        clean = check_account(values, has_secret=True)
    except AccountValueError as exc:
        raise common.CliError(str(exc)) from None
    if clean.get("auth") == "password" and not clean.get("secret"):
        clean["secret"] = "db:" + _password(args)
    # Limits given on the command line are the operator's, not the preset's.
    sources = limit_sources(values)
    for name in LIMIT_FIELDS:
        if given.get(name) is not None:
            sources[name] = "operator"
    clean["limits_source"] = json.dumps(sources)
    with _store(args) as store:
        store.accounts.create(**clean)
        store.audit.record(common.current_user(), "account.add", clean["name"], args.preset)
    print(f"added account {clean['name']} ({clean['host']}:{clean['port']}, {clean['tls']})")
    if warning := loose_secret_file_warning(clean.get("secret")):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def list_accounts(args: argparse.Namespace) -> int:
    with _store(args) as store:
        accounts = store.accounts.all()
        if not accounts:
            print("no accounts yet: postroom accounts add NAME --preset ...")
            return 0
        rows = [("NAME", "PROVIDER", "HOST", "TLS", "AUTH", "STATE", "RATE", "HOUR", "DAY")]
        for account in accounts:
            health = account_health(store, account)
            rows.append(
                (
                    account["name"],
                    account["provider"],
                    f"{account['host']}:{account['port']}",
                    account["tls"],
                    account["auth"],
                    account["state"],
                    rate(account["rate"]),
                    f"{health.sent_hour}/{limit(health.max_per_hour)}",
                    f"{health.sent_day}/{limit(health.day_cap)}",
                )
            )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    return 0


def show_account(args: argparse.Namespace) -> int:
    with _store(args) as store:
        account = store.accounts.require(args.name)
        health = account_health(store, account)
    sources = limit_sources(account)
    print(f"{account['name']}  ({PRESETS.get(account['provider'], PRESETS['custom']).label})")
    print(
        f"  server        {account['host']}:{account['port']}  tls={account['tls']}"
        + ("" if account["verify_tls"] else "  (certificate NOT verified)")
    )
    print(f"  auth          {account['auth']}  user={account['username'] or '—'}")
    if account["auth"] == "password":
        print(f"  secret        {describe(account['secret'])}")
    if account["auth"] == "xoauth2":
        print(f"  token command {account['oauth_token_cmd'] or '—'}")
    print(f"  bounces to    {account['envelope_from'] or '(campaign From)'}")
    print(f"  state         {health.state_label}")
    print(f"  sent          {health.sent_hour} in the last hour, {health.sent_day} in 24 h")
    if health.warmup_day:
        print(f"  warm-up       day {health.warmup_day}, cap {health.warmup_cap:,} today")
    if health.last_error:
        print(f"  last error    {stamp(health.last_error_at)}  {health.last_error}")
    print("  limits")
    shown = {
        "rate": rate(account["rate"]),
        "max_connections": str(account["max_connections"]),
        "max_messages_per_connection": str(account["max_messages_per_connection"]),
        "max_per_hour": limit(account["max_per_hour"]),
        "max_per_day": limit(account["max_per_day"]),
        "max_message_bytes": limit(account["max_message_bytes"]),
    }
    for name in LIMIT_FIELDS:
        print(f"    {name:<28} {shown[name]:>10}  ({sources[name]})")
    return 0


def test_account(args: argparse.Namespace) -> int:
    with _store(args) as store:
        account = store.accounts.require(args.name)
        try:
            result = asyncio.run(probe(account, timeout=args.timeout))
        except ConnectError as exc:
            store.accounts.record_error(account["id"], str(exc))
            print(f"FAILED ({exc.stage}): {exc}", file=sys.stderr)
            return 1
        for line in result.lines():
            print(line)
        if args.send_to:
            common.require_writable(args, "send a test message")
            try:
                reply = asyncio.run(send_test_message(account, args.send_to, timeout=args.timeout))
            except (ConnectError, SendError) as exc:
                print(f"test message FAILED: {exc}", file=sys.stderr)
                return 1
            store.audit.record(
                common.current_user(), "account.test_message", account["name"], args.send_to
            )
            print(f"test message to {args.send_to}: accepted ({reply})")
    return 0


def _set_state(args: argparse.Namespace, state: str) -> int:
    verb = "pause" if state == "paused" else "resume"
    common.require_writable(args, f"{verb} an account")
    with _store(args) as store:
        account = store.accounts.require(args.name)
        reason = f"by {common.current_user()}" if state == "paused" else None
        store.accounts.set_state(account["id"], state, reason)
        store.audit.record(common.current_user(), f"account.{verb}", account["name"])
    print(f"account {args.name}: {state}")
    return 0


def pause_account(args: argparse.Namespace) -> int:
    return _set_state(args, "paused")


def resume_account(args: argparse.Namespace) -> int:
    return _set_state(args, "active")


def export_cmd(args: argparse.Namespace) -> int:
    with _store(args) as store:
        accounts = [store.accounts.require(n) for n in args.names] or store.accounts.all()
    text = export_accounts(accounts)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    create_private_file(args.output)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(accounts)} account(s) to {args.output}")
    return 0


def import_cmd(args: argparse.Namespace) -> int:
    common.require_writable(args, "import accounts")
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise common.CliError(f"{args.file}: {exc.strerror}") from None
    try:
        accounts = parse_accounts(text, args.file)
        with _store(args) as store:
            result = import_accounts(
                store, accounts, replace=args.replace, user=common.current_user()
            )
    except TransferError as exc:
        raise common.CliError(str(exc)) from None
    print(f"imported {args.file}: {len(result.created)} created, {len(result.updated)} updated")
    for name in result.without_secret:
        print(f"warning: account {name} has no secret yet (auth = password)", file=sys.stderr)
    return 0
