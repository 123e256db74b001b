"""`postroom lists|suppress|segments` — subscriber lists, suppression, segments."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TextIO

from core.lists import segments, suppress
from core.lists.export import export_subscribers
from core.lists.importer import ImportCancelled, ImportFailed, Progress, import_csv
from core.lists.validate import MxChecker
from core.store import Store
from core.store.lists import IMPORT_MODES, SUPPRESSION_REASONS
from tui.cli import common
from tui.cli.common import CliError


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    lists = common.command_group(subparsers, parent, "lists", "subscriber lists")
    p = lists.add_parser("create", parents=[parent], help="create an empty list")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.set_defaults(handler=create_list)

    p = lists.add_parser(
        "import",
        parents=[parent],
        help="import a CSV into a list (created if missing)",
        description="Streaming import: delimiter, header and encoding are detected; the "
        "address column is found by name (email, e-mail, mail, ...) unless chosen. "
        "All-or-nothing: Ctrl-C or an unreadable file changes nothing.",
    )
    p.add_argument("list")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--mode",
        choices=IMPORT_MODES,
        default="add",
        help="add: create and update, join the list (default); update: only update "
        "members already on the list; replace: like add, then drop members not in the file",
    )
    p.add_argument("--email-column", help="the address column, by name or 1-based number")
    p.add_argument("--rejects", type=Path, help="where rejected rows go (default FILE.rejects.csv)")
    p.add_argument(
        "--check-mx",
        action="store_true",
        help="look up MX/A of each distinct domain; mark domains that cannot receive mail invalid",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=import_list)

    p = lists.add_parser("export", parents=[parent], help="write a list (or a segment) as CSV")
    p.add_argument("list")
    p.add_argument("--segment", help="only the subscribers in this saved segment")
    p.add_argument("--where", help="only the subscribers matching this filter")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.set_defaults(handler=export_list)

    p = lists.add_parser("show", parents=[parent], help="lists with counts, or one list's members")
    p.add_argument("list", nargs="?")
    p.add_argument("--limit", type=int, default=20, help="members to show (default 20)")
    p.add_argument("--search", default="", help="only members whose address or fields contain this")
    p.set_defaults(handler=show_lists)

    p = lists.add_parser("delete", parents=[parent], help="delete a list (subscribers stay)")
    p.add_argument("list")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=delete_list)

    sup = common.command_group(subparsers, parent, "suppress", "global suppression list")
    p = sup.add_parser("add", parents=[parent], help="never mail these addresses again")
    p.add_argument("emails", nargs="+", metavar="EMAIL")
    p.add_argument("--reason", choices=SUPPRESSION_REASONS, default="manual")
    p.add_argument("--source", default="cli")
    p.add_argument("--detail", default="")
    p.set_defaults(handler=suppress_add)
    p = sup.add_parser("remove", parents=[parent], help="take addresses off the suppression list")
    p.add_argument("emails", nargs="+", metavar="EMAIL")
    p.set_defaults(handler=suppress_remove)
    p = sup.add_parser("list", parents=[parent], help="show suppressed addresses")
    p.add_argument("--reason", choices=SUPPRESSION_REASONS)
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=suppress_list)
    p = sup.add_parser("import", parents=[parent], help="suppress every address in a CSV")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--reason", choices=SUPPRESSION_REASONS, default="manual", help="when the file has none"
    )
    p.add_argument("--email-column")
    p.set_defaults(handler=suppress_import)
    p = sup.add_parser("export", parents=[parent], help="write the suppression list as CSV")
    p.add_argument("--reason", choices=SUPPRESSION_REASONS)
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.set_defaults(handler=suppress_export)

    seg = common.command_group(subparsers, parent, "segments", "saved subscriber filters")
    p = seg.add_parser(
        "create",
        parents=[parent],
        help="save a filter",
        description='e.g. country = "DE" and plan in ("pro","team") and '
        'signed_up >= 2025-01-01 and not role and in list "news"',
    )
    p.add_argument("name")
    p.add_argument("expression")
    p.add_argument("--list", help="only members of this list")
    p.set_defaults(handler=segment_create)
    p = seg.add_parser("count", parents=[parent], help="how many subscribers a filter selects")
    p.add_argument("segment", nargs="?", help="a saved segment")
    p.add_argument("--where", help="a filter to try without saving")
    p.add_argument("--list", help="only members of this list")
    p.set_defaults(handler=segment_count)
    p = seg.add_parser("show", parents=[parent], help="saved segments, with their counts")
    p.add_argument("segment", nargs="?")
    p.set_defaults(handler=segment_show)


# -- lists -------------------------------------------------------------------------


def create_list(args: argparse.Namespace) -> int:
    common.require_writable(args, "create a list")
    store = common.open_store(args)
    store.lists.create(args.name, args.description)
    store.audit.record(common.current_user(), "lists.create", args.name)
    print(f"created list {args.name!r}")
    return 0


class ProgressBar:
    """The import's progress on stderr: a redrawn bar on a terminal, a line
    every 10% otherwise (logs of scripted runs)."""

    def __init__(self, stream: TextIO, width: int = 24) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._last_step = -1
        self._last_draw = 0.0

    def __call__(self, p: Progress) -> None:
        line = self.render(p)
        if self.tty:
            if time.monotonic() - self._last_draw >= 0.2 or p.phase != "reading":
                self._last_draw = time.monotonic()
                self.stream.write("\r\x1b[K" + line)
                self.stream.flush()
        else:
            step = int(p.fraction * 10)
            if step != self._last_step or p.phase != "reading":
                self._last_step = step
                self.stream.write(line + "\n")

    def render(self, p: Progress) -> str:
        filled = int(p.fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        eta = "" if p.eta_s is None else f"  ETA {_duration(p.eta_s)}"
        return (
            f"[{bar}] {p.fraction:4.0%}  {p.rows:,} rows  {p.rows_per_s:,.0f} rows/s{eta}"
            f"  {p.phase}"
        )

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def import_list(args: argparse.Namespace) -> int:
    common.require_writable(args, "import a list")
    store = common.open_store(args)
    bar = None if args.no_progress else ProgressBar(sys.stderr)
    check_mx = None
    if args.check_mx:
        from core.dnscheck import Resolver  # dnspython loads only when asked

        check_mx = MxChecker(Resolver.from_env())
    try:
        summary = import_csv(
            store,
            args.list,
            args.file,
            mode=args.mode,
            email_column=args.email_column,
            rejects_path=args.rejects,
            progress=bar,
            check_mx=check_mx,
        )
    except KeyboardInterrupt:
        if bar:
            bar.finish()
        print("postroom: import cancelled; nothing was changed", file=sys.stderr)
        return 130
    except (ImportFailed, ImportCancelled) as exc:
        if bar:
            bar.finish()
        raise CliError(str(exc)) from None
    if bar:
        bar.finish()
    store.audit.record(
        common.current_user(),
        "lists.import",
        args.list,
        f"{args.file} mode={args.mode} added={summary.added} updated={summary.updated}"
        f" rejected={summary.rejected_total}",
    )
    print("\n".join(summary.lines()))
    return 0


@contextlib.contextmanager
def _output(path: Path | None):  # noqa: ANN202
    if path is None:
        yield sys.stdout
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        yield handle
    tmp.replace(path)  # nothing half-written under the real name


def _filter(store: Store, args: argparse.Namespace) -> segments.Node | None:
    clauses = []
    if getattr(args, "segment", None):
        clauses.append(segments.parse(store.segments.require(args.segment)["expression"]))
    if getattr(args, "where", None):
        clauses.append(_parse(args.where))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else segments.And(tuple(clauses))


def _parse(text: str) -> segments.Node:
    try:
        return segments.parse(text)
    except segments.SegmentError as exc:
        raise CliError(f"filter {exc}") from None


def export_list(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    list_id = store.lists.require(args.list)["id"]
    where = _filter(store, args)
    with _output(args.output) as out:
        written = export_subscribers(store, out, list_id=list_id, where=where)
    print(f"exported {written:,} subscribers", file=sys.stderr)
    return 0


def show_lists(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    if not args.list:
        print(f"{'NAME':<24} {'TOTAL':>10} {'VALID':>10} {'SUPPRESSED':>10}  DESCRIPTION")
        for row in store.lists.all_with_counts():
            print(
                f"{row['name']:<24} {row['total']:>10,} {row['valid']:>10,} "
                f"{row['suppressed']:>10,}  {row['description']}"
            )
        return 0
    list_id = store.lists.require(args.list)["id"]
    total = store.subscribers.count(list_id, search=args.search)
    print(f"{args.list}: {total:,} members" + (f" matching {args.search!r}" if args.search else ""))
    for row in store.subscribers.page(list_id, limit=args.limit, search=args.search):
        flags = ",".join(
            f for f, on in (("invalid", not row["valid"]), ("role", row["role"])) if on
        )
        print(f"  {row['email']:<40} {flags:<12} {row['fields']}")
    return 0


def delete_list(args: argparse.Namespace) -> int:
    common.require_writable(args, "delete a list")
    store = common.open_store(args)
    found = store.lists.require(args.list)
    members = store.subscribers.count_in_list(found["id"])
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"deleting list {args.list!r} ({members:,} members) needs --yes")
        answer = input(f"Delete list {args.list!r} with {members:,} members? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return 1
    store.lists.delete(found["id"])
    store.audit.record(common.current_user(), "lists.delete", args.list, f"members={members}")
    print(f"deleted list {args.list!r} ({members:,} members; the subscribers themselves remain)")
    return 0


# -- suppression -----------------------------------------------------------------------


def suppress_add(args: argparse.Namespace) -> int:
    common.require_writable(args, "change the suppression list")
    store = common.open_store(args)
    for email in args.emails:
        normal = suppress.add(store, email, args.reason, args.source, args.detail)
        store.audit.record(common.current_user(), "suppress.add", normal, args.reason)
        print(f"suppressed {normal} ({args.reason})")
    return 0


def suppress_remove(args: argparse.Namespace) -> int:
    common.require_writable(args, "change the suppression list")
    store = common.open_store(args)
    missing = 0
    for email in args.emails:
        if suppress.remove(store, email):
            store.audit.record(common.current_user(), "suppress.remove", email)
            print(f"removed {email}")
        else:
            missing += 1
            print(f"{email} was not suppressed", file=sys.stderr)
    return 1 if missing else 0


def suppress_list(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    total = store.suppressions.count(args.reason)
    rows = store.suppressions.page(limit=args.limit, reason=args.reason)
    for row in rows:
        print(f"{row['email']:<40} {row['reason']:<13} {row['source']}")
    print(f"{len(rows):,} of {total:,} suppressed", file=sys.stderr)
    return 0


def suppress_import(args: argparse.Namespace) -> int:
    common.require_writable(args, "change the suppression list")
    store = common.open_store(args)
    try:
        result = suppress.import_file(
            store, args.file, reason=args.reason, email_column=args.email_column
        )
    except ImportFailed as exc:
        raise CliError(str(exc)) from None
    store.audit.record(
        common.current_user(), "suppress.import", str(args.file), f"added={result.added}"
    )
    print("\n".join(result.lines()))
    return 0


def suppress_export(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    with _output(args.output) as out:
        written = suppress.export(store, out, reason=args.reason)
    print(f"exported {written:,} suppressions", file=sys.stderr)
    return 0


# -- segments ------------------------------------------------------------------------------


def segment_create(args: argparse.Namespace) -> int:
    common.require_writable(args, "save a segment")
    store = common.open_store(args)
    _parse(args.expression)
    list_id = store.lists.require(args.list)["id"] if args.list else None
    store.segments.create(args.name, args.expression, list_id)
    store.audit.record(common.current_user(), "segments.create", args.name, args.expression)
    count = store.subscribers.count(list_id, where=segments.parse(args.expression))
    print(f"saved segment {args.name!r}: {count:,} subscribers match now")
    return 0


def segment_count(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    if not args.segment and not args.where:
        raise CliError("give a saved segment name or --where FILTER")
    list_id = store.lists.require(args.list)["id"] if args.list else None
    if args.segment:
        saved = store.segments.require(args.segment)
        list_id = list_id or saved["list_id"]
    print(f"{store.subscribers.count(list_id, where=_filter(store, args)):,}")
    return 0


def segment_show(args: argparse.Namespace) -> int:
    store = common.open_store(args)
    saved = store.segments.all()
    if args.segment:
        saved = [s for s in saved if s["name"] == args.segment]
        if not saved:
            raise CliError(f"no segment named {args.segment!r}")
    for row in saved:
        count = store.subscribers.count(row["list_id"], where=segments.parse(row["expression"]))
        scope = f"list {row['list_name']!r}" if row["list_name"] else "all subscribers"
        print(f"{row['name']:<20} {count:>10,}  ({scope})  {row['expression']}")
    return 0
