"""`postroom run` (the headless engine) and `postroom campaigns launch/status/resolve`,
`pause/resume/cancel/retry` (through a running engine when there is one)."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from core.engine import Engine, RemoteControl, running_engine
from core.engine.control import new_event_loop
from core.engine.engine import resolve_unknown, retry_deliveries, set_campaign_state
from core.engine.launch import commit_launch, parse_start, prepare_launch
from core.store import DELIVERY_STATES, Store
from core.store.ledger import RETRYABLE
from tui.cli import common
from tui.cli.common import CliError


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    run = subparsers.add_parser(
        "run",
        parents=[parent],
        help="run the send engine headless until the running campaigns are done",
        description="Send every running campaign (or only --campaign) and exit when done: "
        "no campaign running, paused or scheduled (or never, with --serve). "
        "Ctrl-C or SIGTERM stops cleanly: in-flight messages finish, nothing is left "
        "`sending`. Consoles opened meanwhile attach to this engine.",
    )
    run.add_argument("--campaign", metavar="NAME", help="only wait for this campaign")
    run.add_argument(
        "--serve",
        action="store_true",
        help="keep running when there is nothing to send (for a systemd unit): "
        "campaigns launched from consoles start here",
    )
    run.set_defaults(handler=run_engine)

    group = common.command_group(
        subparsers, parent, "campaigns", "create, check and send campaigns"
    )
    launch = group.add_parser(
        "launch",
        parents=[parent],
        help="check a draft campaign, then queue it for sending (now or --at a time)",
        description="Run the pre-launch check (as `campaigns check`), show its summary and "
        "the ETA, and refuse when anything blocks. After confirmation, materialise one "
        "delivery per recipient (minus suppressed addresses) and mark the campaign running: "
        "a running engine starts sending at once, otherwise `postroom run` does. With --at "
        "(or a start time in the campaign) the campaign is scheduled instead, and a running "
        "engine launches it at that time.",
    )
    launch.add_argument("name")
    when = launch.add_mutually_exclusive_group()
    when.add_argument(
        "--at",
        metavar="TIME",
        help="start time: '2026-12-05 09:00' (local) or ISO 8601 with a zone",
    )
    when.add_argument(
        "--now", action="store_true", help="ignore the campaign's own start time; send now"
    )
    launch.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    launch.set_defaults(handler=launch_cmd)

    status = group.add_parser("status", parents=[parent], help="a campaign's delivery counts")
    status.add_argument("name")
    status.set_defaults(handler=status_cmd)

    resolve = group.add_parser(
        "resolve",
        parents=[parent],
        help="decide about deliveries whose outcome a crash left unknown",
    )
    resolve.add_argument("name")
    resolve.add_argument("--unknown", required=True, choices=("resend", "mark-sent"))
    resolve.set_defaults(handler=resolve_cmd)

    for verb, text in (
        ("pause", "stop starting new messages of a running campaign (in-flight ones finish)"),
        ("resume", "send a paused campaign again"),
        ("cancel", "withdraw every delivery not yet sent (asks first unless --yes)"),
    ):
        action = group.add_parser(verb, parents=[parent], help=text, description=text)
        action.add_argument("name")
        if verb == "cancel":
            action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        action.set_defaults(handler=campaign_state_cmd, verb=verb)

    retry = group.add_parser(
        "retry",
        parents=[parent],
        help="queue failed, deferred or unknown deliveries again, due now",
    )
    retry.add_argument("name")
    retry.add_argument(
        "--states",
        default=",".join(RETRYABLE),
        metavar="LIST",
        help=f"comma-separated, from {', '.join(RETRYABLE)} (default: all three)",
    )
    retry.set_defaults(handler=retry_cmd)


def run_engine(args: argparse.Namespace) -> int:
    common.require_writable(args, "send mail")
    config = common.config(args)
    db = common.db_path(args)
    campaign_id = None
    if args.campaign:
        store = common.open_store(args)
        try:
            campaign_id = store.campaigns.require(args.campaign)["id"]
        finally:
            store.close()
    engine = Engine(db, config, user=common.current_user())
    loop = new_event_loop()
    try:
        loop.run_until_complete(engine.start())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, engine.request_stop)
        for cid, n in engine.recovered.items():
            print(
                f"postroom: {n} deliveries of campaign {cid} have an unknown outcome (the last "
                "engine stopped mid-send); decide with `postroom campaigns resolve`",
                file=sys.stderr,
            )
        running = [c.name for c in engine.campaigns.values() if c.running]
        print(f"engine {engine.run_id[:8]} sending: {', '.join(running) or 'nothing to send'}")
        loop.run_until_complete(engine.run(campaign_id, serve=args.serve))
        for run in engine.campaigns.values():
            print(f"{run.name}: {run.state}; {_counts_line(run.counts)}")
    finally:
        loop.close()
    return 0


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {counts[state]:,}" for state in DELIVERY_STATES if counts.get(state))


def _confirm(question: str, what: str = "sending mail") -> bool:
    if not sys.stdin.isatty():
        raise CliError(f"{what} needs confirmation: pass --yes")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def launch_cmd(args: argparse.Namespace) -> int:
    common.require_writable(args, "launch a campaign")
    store = common.open_store(args)
    try:
        campaign = store.campaigns.require(args.name)
        start_at = parse_start(args.at, time.time()) if args.at else (0.0 if args.now else None)
        plan = prepare_launch(store, campaign["id"], common.config(args), start_at=start_at)
        for line in plan.summary_lines():
            print(line)
        if plan.blocking:
            raise CliError(plan.refusal())
        if not args.yes and not _confirm(plan.question()):
            print("not launched")
            return 1
        remote = None
        if plan.start_at is None and running_engine(store.path) is not None:
            remote = RemoteControl(store.path)
        try:
            message = commit_launch(store, plan, common.current_user(), control=remote)
        finally:
            if remote is not None:
                remote.close()
    finally:
        store.close()
    print(message)
    return 0


def status_cmd(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    try:
        campaign = store.campaigns.require(args.name)
        counts = store.ledger.counts(campaign["id"])
        snapshot = store.engine_state.read_stats() if running_engine(store.path) else None
    finally:
        store.close()
    total = sum(counts.values())
    print(f"{args.name}: {campaign['state']}, {total:,} recipients")
    for state in DELIVERY_STATES:
        if counts.get(state):
            print(f"  {state:<10} {counts[state]:>10,}")
    live = (snapshot or {}).get("campaigns", {}).get(str(campaign["id"]))
    if live:
        eta = live.get("eta_seconds")
        print(
            f"  rate {live['rate_10s']:.1f}/s (10 s), {live['rate_60s']:.1f}/s (60 s);"
            f" in flight {live['in_flight']}" + (f"; done in ~{eta // 60:.0f} min" if eta else "")
        )
        for key in ("waiting_reason", "alert", "last_error"):
            if live.get(key):
                print(f"  {key.replace('_', ' ')}: {live[key]}")
    if counts.get("unknown"):
        print(
            f"  {counts['unknown']:,} unknown: resolve with"
            f" `postroom campaigns resolve {args.name} --unknown resend|mark-sent`"
        )
    return 0


def resolve_cmd(args: argparse.Namespace) -> int:
    common.require_writable(args, "resolve unknown deliveries")
    action = args.unknown.replace("-", "_")
    store = common.open_store(args)
    try:
        campaign = store.campaigns.require(args.name)
        if running_engine(store.path) is not None:
            remote = RemoteControl(store.path)
            try:
                n = remote.resolve_unknown(campaign["id"], action, user=common.current_user())
            finally:
                remote.close()
        else:
            n = resolve_unknown(store, campaign["id"], action, common.current_user(), time.time())
    finally:
        store.close()
    done = "queued to send again" if action == "resend" else "marked sent"
    print(f"{args.name}: {n:,} unknown deliveries {done}")
    return 0


def _through_engine(store: Store, command: str, **kwargs: object) -> tuple[bool, object]:
    """(True, result) of ``command`` applied by the running engine; (False, None) if none runs."""
    if running_engine(store.path) is None:
        return False, None
    remote = RemoteControl(store.path)
    try:
        return True, getattr(remote, command)(user=common.current_user(), **kwargs)
    finally:
        remote.close()


STATE_OF_VERB = {"pause": "paused", "resume": "running", "cancel": "cancelled"}
PENDING = ("queued", "deferred")


def campaign_state_cmd(args: argparse.Namespace) -> int:
    common.require_writable(args, f"{args.verb} a campaign")
    state = STATE_OF_VERB[args.verb]
    store = common.open_store(args)
    try:
        campaign = store.campaigns.require(args.name)
        if args.verb == "cancel" and not args.yes:
            left = sum(n for s, n in store.ledger.counts(campaign["id"]).items() if s in PENDING)
            question = f"cancel {args.name!r} and withdraw its {left:,} unsent deliveries?"
            if not _confirm(question, "cancelling a campaign"):
                print("not cancelled")
                return 1
        applied, result = _through_engine(
            store, f"{args.verb}_campaign", campaign_id=campaign["id"]
        )
        if not applied:
            result = set_campaign_state(
                store, campaign["id"], state, common.current_user(), time.time()
            )
    finally:
        store.close()
    done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[args.verb]
    extra = f"; {result:,} deliveries withdrawn" if args.verb == "cancel" and result else ""
    print(f"campaign {args.name}: {done}{extra}")
    return 0


def retry_cmd(args: argparse.Namespace) -> int:
    common.require_writable(args, "retry deliveries")
    states = tuple(s.strip() for s in args.states.split(",") if s.strip())
    bad = sorted(set(states) - set(RETRYABLE))
    if bad or not states:
        raise CliError(f"--states takes {', '.join(RETRYABLE)}; not {', '.join(bad) or 'nothing'}")
    store = common.open_store(args)
    try:
        campaign = store.campaigns.require(args.name)
        applied, n = _through_engine(store, "retry", campaign_id=campaign["id"], states=states)
        if not applied:
            n = retry_deliveries(store, campaign["id"], states, common.current_user(), time.time())
    finally:
        store.close()
    print(f"campaign {args.name}: {n:,} deliveries queued again ({', '.join(states)})")
    return 0
