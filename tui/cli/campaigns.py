"""`postroom campaigns create|export|check|preview|test|list`.

The engine's module adds `launch`, `status` and `resolve` to the same group.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from core.content import ContentError, compile_campaign
from core.content.campaign_file import create_from_file, export_campaign
from core.content.preview import pick_subscriber, preview_message, preview_text, recipient_of
from core.store import Store
from tui.cli import common
from tui.cli.common import CliError


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    group = common.command_group(
        subparsers, parent, "campaigns", "create, check and send campaigns"
    )

    create = group.add_parser(
        "create",
        parents=[parent],
        help="create a campaign from a TOML file",
        description="Create a campaign from FILE.toml (see sample_data/welcome.toml). "
        "The file is checked completely before anything is written.",
    )
    create.add_argument("file", type=Path, metavar="FILE.toml")
    create.add_argument(
        "--replace", action="store_true", help="update the draft campaign of the same name"
    )
    create.set_defaults(handler=run_create)

    export = group.add_parser(
        "export", parents=[parent], help="write a campaign as a TOML file (bodies inline)"
    )
    export.add_argument("name")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    export.set_defaults(handler=run_export)

    check = group.add_parser(
        "check",
        parents=[parent],
        help="the pre-launch check: templates, authentication, content, audience, quota",
        description="Exit status 0 when nothing blocks the launch, 1 when something does.",
    )
    check.add_argument("name")
    check.set_defaults(handler=run_check)

    preview = group.add_parser(
        "preview", parents=[parent], help="show one subscriber's message exactly as it will be sent"
    )
    preview.add_argument("name")
    preview.add_argument("--email", help="the subscriber (default: the first of the list)")
    preview.add_argument("--eml", type=Path, help="also save the raw message to this .eml file")
    preview.set_defaults(handler=run_preview)

    test = group.add_parser(
        "test",
        parents=[parent],
        help="send one test message through the campaign's first account",
    )
    test.add_argument("name")
    test.add_argument("--to", required=True, help="address to send the test to")
    test.add_argument("--as", dest="as_email", help="render with this subscriber's fields")
    test.set_defaults(handler=run_test)

    listing = group.add_parser("list", parents=[parent], help="list campaigns")
    listing.set_defaults(handler=run_list)


def _compile(store: Store, args: argparse.Namespace, name: str):  # noqa: ANN202
    campaign = store.campaigns.require(name)
    try:
        return campaign, compile_campaign(store, campaign["id"], common.config(args))
    except ContentError as exc:
        raise CliError(str(exc)) from None


def run_create(args: argparse.Namespace) -> int:
    common.require_writable(args, "create a campaign")
    store = common.open_store(args)
    try:
        campaign_id = create_from_file(store, args.file, replace=args.replace)
    except ContentError as exc:
        raise CliError(str(exc)) from None
    name = store.campaigns.get(campaign_id)["name"]
    store.audit.record(common.current_user(), "campaign.create", name, str(args.file))
    print(f"campaign {name!r} saved (draft); check it with: postroom campaigns check {name}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    text = export_campaign(common.open_store(args), args.name)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from core.content.check import run_check as check_campaign

    store = common.open_store(args)
    campaign = store.campaigns.require(args.name)
    report = check_campaign(store, campaign["id"], common.config(args))
    sys.stdout.write(report.as_text())
    return 1 if report.blocking else 0


def run_preview(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    campaign, compiled = _compile(store, args, args.name)
    try:
        row = pick_subscriber(store, compiled.list_id, email=args.email)
    except ContentError as exc:
        raise CliError(str(exc)) from None
    preview = preview_message(compiled, row)
    sys.stdout.write(preview_text(preview))
    if preview.error:
        return 1
    if args.eml:
        args.eml.write_bytes(preview.data)
        print(f"wrote {args.eml}", file=sys.stderr)
    return 0


def run_test(args: argparse.Namespace) -> int:
    common.require_writable(args, "send a test message")
    store = common.open_store(args)
    campaign, compiled = _compile(store, args, args.name)
    pool = store.campaigns.accounts(campaign["id"])
    if not pool:
        raise CliError(f"campaign {args.name!r} has no accounts")
    account = pool[0]
    try:
        row = pick_subscriber(store, compiled.list_id, email=args.as_email)
        rendered = compiled.render({**recipient_of(row, compiled.list_id), "email": args.to})
        rcpt = compiled.envelope_recipient(args.to)
    except ContentError as exc:
        raise CliError(str(exc)) from None
    sender = account["envelope_from"] or compiled.envelope_from
    asyncio.run(_send_one(account, sender, rcpt, rendered.data))
    store.audit.record(common.current_user(), "campaign.test", args.name, args.to)
    print(
        f"sent a test of {args.name!r} to {args.to} via {account['name']} ({rendered.message_id})"
    )
    return 0


async def _send_one(account: dict, sender: str, rcpt: str, data: bytes) -> None:
    # ACCOUNTS HOOK: core.accounts.connect (accounts helper) opens the session:
    # TLS verified, AUTH only over TLS, secrets resolved without being shown.
    try:
        from core.accounts.connect import ConnectError, open_session
    except ImportError:
        raise CliError("sending needs core.accounts.connect, not in this build yet") from None
    import aiosmtplib

    try:
        smtp = await open_session(account)
    except ConnectError as exc:
        raise CliError(f"account {account['name']!r}: {exc.stage}: {exc}") from None
    try:
        errors, reply = await smtp.sendmail(sender, [rcpt], data)
    except aiosmtplib.SMTPException as exc:
        raise CliError(f"account {account['name']!r}: {exc}") from None
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await smtp.quit()
    if errors:
        code, message = next(iter(errors.values()))
        raise CliError(f"{rcpt} refused: {code} {message}")


def run_list(args: argparse.Namespace) -> int:
    campaigns = common.open_store(args).campaigns.all()
    if not campaigns:
        print("no campaigns; create one with: postroom campaigns create FILE.toml")
        return 0
    print(f"{'NAME':<20} {'STATE':<10} {'AUDIENCE':<16} {'SENT':>8}  SUBJECT")
    for c in campaigns:
        audience = c["segment_name"] or c["list_name"] or "-"
        print(f"{c['name']:<20} {c['state']:<10} {audience:<16} {c['sent']:>8}  {c['subject']}")
    return 0
