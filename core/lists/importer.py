"""Streaming CSV import into a list: sniffed, validated, all-or-nothing.

The file is read once to check it (binary? UTF-8 or not?) and once to
import it, a row at a time: memory stays flat whatever its size. Rows are
staged in a TEMP table of the importing connection (see
``core.store.lists.ImportStaging``) and merged in one transaction at the
end, so a failed or cancelled import leaves the database as it was.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.lists.validate import AddressError, Validator
from core.store import Store
from core.store.lists import IMPORT_MODES, ImportStaging

# Header names taken to be the address column, compared without case,
# spaces, dashes, underscores and dots.
EMAIL_COLUMN_NAMES = (
    "email",
    "emailaddress",
    "mail",
    "mailaddress",
    "address",
    "emailadresse",
    "adresseemail",
    "courriel",
    "correo",
    "correoelectronico",
    "recipient",
)
DELIMITERS = ",;\t|"
BATCH = 5000  # rows per staging statement and per progress/cancel check
FIELD_LIMIT = 1 << 20  # a single cell over 1 MiB is a broken file, not data
_SCAN_CHUNK = 1 << 20

_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")


class ImportFailed(Exception):
    """The file cannot be imported at all; the message is one line for the operator."""


class ImportCancelled(Exception):
    """The operator cancelled; nothing was changed."""


@dataclass(frozen=True)
class Progress:
    phase: str  # "reading", "checking MX", "saving"
    rows: int
    bytes_read: int
    total_bytes: int
    elapsed: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        return min(self.bytes_read / self.total_bytes, 1.0) if self.total_bytes else 1.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left while reading, from the bytes still to read; None when unknown."""
        if self.phase != "reading" or self.bytes_read <= 0 or self.elapsed <= 0:
            return None
        return (self.total_bytes - self.bytes_read) * self.elapsed / self.bytes_read


@dataclass
class ImportSummary:
    list_name: str
    mode: str
    path: str
    encoding: str
    delimiter: str
    email_column: str
    rows: int = 0  # data rows read
    added: int = 0  # new subscribers
    updated: int = 0  # existing subscribers whose fields were merged
    merged: int = 0  # rows folded into an earlier row with the same address
    joined: int = 0  # subscribers newly put on the list
    removed: int = 0  # members taken off the list (replace)
    skipped: int = 0  # update mode: addresses not on the list
    role: int = 0  # role addresses (flagged, kept)
    suppressed: int = 0  # addresses already suppressed (kept, never mailed)
    undeliverable: int = 0  # rows whose domain cannot receive mail (kept, marked invalid)
    rejected: Counter[str] = field(default_factory=Counter)
    rejects_path: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        """The summary as the operator reads it."""
        out = [
            f"{self.path} -> list {self.list_name!r} ({self.mode}): {self.rows:,} rows in "
            f"{self.elapsed:.1f}s ({self.rows / self.elapsed if self.elapsed else 0:,.0f} rows/s)",
            f"  added {self.added:,}, updated {self.updated:,}, merged duplicates "
            f"{self.merged:,}, joined list {self.joined:,}"
            + (f", removed from list {self.removed:,}" if self.mode == "replace" else "")
            + (f", skipped (not on list) {self.skipped:,}" if self.mode == "update" else ""),
        ]
        flags = []
        if self.role:
            flags.append(f"role addresses {self.role:,}")
        if self.suppressed:
            flags.append(f"already suppressed {self.suppressed:,}")
        if self.undeliverable:
            flags.append(f"undeliverable domain {self.undeliverable:,}")
        if flags:
            out.append("  flagged: " + ", ".join(flags))
        if self.rejected:
            reasons = ", ".join(f"{why} {n:,}" for why, n in self.rejected.most_common())
            out.append(f"  rejected {self.rejected_total:,}: {reasons}")
            if self.rejects_path:
                out.append(f"  rejected rows written to {self.rejects_path}")
        out.extend(f"  note: {note}" for note in self.notes)
        return out


# -- reading the file ---------------------------------------------------------


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """The file's encoding, and a note when it is not UTF-8.

    Reads the whole file once in chunks (cheap next to the import itself):
    a file that is UTF-8 except near the end must not be half-imported.
    """
    size = path.stat().st_size
    if size == 0:
        raise ImportFailed(f"{path}: the file is empty")
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with path.open("rb") as handle:
        head = handle.read(_SCAN_CHUNK)
        if b"\0" in head:
            raise ImportFailed(f"{path}: this is a binary file, not CSV")
        chunk, offset = head, 0
        while chunk:
            if b"\0" in chunk:
                raise ImportFailed(f"{path}: binary data (NUL byte) near byte {offset:,}")
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    utf8 = False
                    bad = offset + exc.start
            offset += len(chunk)
            chunk = handle.read(_SCAN_CHUNK)
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8, bad = False, offset
    if utf8:
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), None
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_SCAN_CHUNK), b""):
                chunk.decode("cp1252")
        encoding = "cp1252"
    except UnicodeDecodeError:
        encoding = "latin-1"
    return encoding, f"not UTF-8 (first bad byte at offset {bad:,}); read as {encoding.upper()}"


def sniff_delimiter(first_line: str) -> str:
    """The candidate delimiter seen most often outside quotes in the header line."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def find_email_column(header: list[str], chosen: str | None) -> int:
    """Index of the address column: the chosen name/1-based number, else by name."""
    if chosen:
        if chosen.isdigit() and 1 <= int(chosen) <= len(header):
            return int(chosen) - 1
        for i, name in enumerate(header):
            if name.strip().lower() == chosen.strip().lower():
                return i
        raise ImportFailed(f"no column named {chosen!r} (columns: {', '.join(header)})")
    keys = [re.sub(r"[\s_.\-]", "", name.lower()) for name in header]
    for wanted in EMAIL_COLUMN_NAMES:
        if wanted in keys:
            return keys.index(wanted)
    raise ImportFailed(
        f"no email column (looked for {', '.join(EMAIL_COLUMN_NAMES[:4])}, ...; "
        f"columns: {', '.join(header)[:200]}); choose one with --email-column"
    )


def field_names(header: list[str], email_index: int) -> list[str]:
    """Custom field names: the header, made unique and non-empty."""
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        name = raw.strip() or f"column_{i + 1}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        names.append(name)
    names[email_index] = ""  # not a custom field
    return names


def typed(value: str) -> Any:
    """Ints and floats as numbers (so segments compare them as numbers);
    everything else, ISO dates included, as the string given (ISO dates
    compare correctly as strings). Leading zeros stay strings: zip codes."""
    if value[0] in "-0123456789":
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            return float(value)
    return value


def _looks_like_address(cell: str) -> bool:
    local, at, domain = cell.strip().rpartition("@")
    return bool(at and local and "." in domain and " " not in cell.strip())


# -- the import ------------------------------------------------------------------


class _RejectsFile:
    """Rejected rows, written to a temporary file beside the target and
    renamed into place only when the import commits."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.count = 0
        self._handle: Any = None
        self._writer: Any = None
        self._tmp: str | None = None

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self.count += 1
        if self.target is None:
            return
        if self._writer is None:
            fd, self._tmp = tempfile.mkstemp(
                prefix=".rejects-", suffix=".csv", dir=self.target.parent
            )
            self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "reason", "row"])
        self._writer.writerow([line, reason, *cells])

    def commit(self) -> str | None:
        if self._handle is None:
            return None
        self._handle.close()
        os.replace(self._tmp, self.target)
        return str(self.target)

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            os.unlink(self._tmp)
            self._handle = None


MxCheck = Callable[[Iterable[str]], set[str]]  # distinct domains -> the undeliverable ones


def import_csv(
    store: Store,
    list_name: str,
    path: str | Path,
    *,
    mode: str = "add",
    email_column: str | None = None,
    rejects_path: str | Path | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    check_mx: MxCheck | None = None,
    create_list: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> ImportSummary:
    """Import ``path`` into ``list_name``; see the module docstring.

    ``store`` should be a connection of its own (the TEMP staging table
    lives on it). ``rejects_path`` defaults to ``FILE.rejects.csv`` beside
    the input and is written only when rows were rejected. Raises
    ``ImportFailed`` (one line) or ``ImportCancelled``; either way nothing
    was changed.
    """
    if mode not in IMPORT_MODES:
        raise ImportFailed(f"mode must be one of {', '.join(IMPORT_MODES)}, not {mode!r}")
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    if not create_list and store.lists.by_name(list_name) is None:
        raise ImportFailed(f"no list named {list_name!r}")
    started = clock()
    encoding, note = detect_encoding(path)
    total_bytes = path.stat().st_size
    rejects = _RejectsFile(
        Path(rejects_path) if rejects_path else path.with_name(path.name + ".rejects.csv")
    )
    staging = ImportStaging(store.db)
    csv.field_size_limit(FIELD_LIMIT)
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        first = text.readline(FIELD_LIMIT)
        if not first.strip():
            raise ImportFailed(f"{path}: the first line is empty; expected a header or a row")
        delimiter = sniff_delimiter(first)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise ImportFailed(f"{path}: line 1: {exc}") from None
        if any(_looks_like_address(cell) for cell in header) and email_column is None:
            # No header: the first row is data; the column holding an address
            # is the email column.
            email_index = next(i for i, c in enumerate(header) if _looks_like_address(c))
            names = field_names([f"column_{i + 1}" for i in range(len(header))], email_index)
            pending: list[str] | None = header
            email_label = f"column {email_index + 1} (no header)"
        else:
            email_index = find_email_column(header, email_column)
            names = field_names(header, email_index)
            pending = None
            email_label = header[email_index]
        summary = ImportSummary(
            list_name=list_name,
            mode=mode,
            path=str(path),
            encoding=encoding,
            delimiter=delimiter,
            email_column=email_label,
        )
        if note:
            summary.notes.append(note)
        staging.begin()
        try:
            _read_rows(
                reader, pending, names, email_index, staging, rejects, summary,
                progress=progress, cancel=cancel, clock=clock, started=started,
                binary=binary, total_bytes=total_bytes,
            )  # fmt: skip
            distinct = staging.distinct()
            if distinct == 0 and not summary.rejected:
                raise ImportFailed(f"{path}: no data rows after the header")
            summary.merged = summary.rows - summary.rejected_total - distinct
            if check_mx is not None:
                _report(progress, "checking MX", summary, binary, total_bytes, clock, started)
                bad = check_mx(staging.domains())
                summary.undeliverable = staging.mark_undeliverable(sorted(bad))
                if failed := getattr(check_mx, "failed", None):
                    summary.notes.append(
                        f"MX not checked for {len(failed)} domain(s), DNS did not answer: "
                        + ", ".join(failed[:5])
                        + (" ..." if len(failed) > 5 else "")
                    )
            if cancel is not None and cancel.is_set():
                raise ImportCancelled("import cancelled; nothing was changed")
            summary.suppressed = staging.suppressed()
            _report(progress, "saving", summary, binary, total_bytes, clock, started)
            counts = staging.merge(list_name, mode, create_list=create_list)
        except BaseException:
            rejects.discard()
            raise
        finally:
            staging.drop()
    for key, value in counts.items():
        setattr(summary, key, value)
    summary.rejects_path = rejects.commit()
    summary.elapsed = clock() - started
    return summary


def _read_rows(
    reader: Any,
    pending: list[str] | None,
    names: list[str],
    email_index: int,
    staging: ImportStaging,
    rejects: _RejectsFile,
    summary: ImportSummary,
    *,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    clock: Callable[[], float],
    started: float,
    binary: Any,
    total_bytes: int,
) -> None:
    """Parse, validate and stage every data row (the hot loop)."""
    check = Validator().check
    width = len(names)
    columns = [(i, name) for i, name in enumerate(names) if name]
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    batch: list[tuple[str, str, str, int, int]] = []
    rejected = summary.rejected
    rows = role = 0
    # The first data row may be the one already read (a file with no header).
    source = itertools.chain([pending], reader) if pending is not None else iter(reader)
    first = pending is not None
    while True:
        start = 1 if first else reader.line_num + 1  # where this record begins
        first = False
        try:
            cells = next(source)
        except StopIteration:
            break
        except csv.Error as exc:
            rows += 1
            rejected["unreadable row"] += 1
            rejects.add(start, f"CSV error: {exc}", [])
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        rows += 1
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            rejected["too many columns"] += 1
            rejects.add(start, f"{len(cells)} columns, the header has {width}", cells)
            continue
        raw = cells[email_index] if email_index < len(cells) else ""
        if not raw.strip():
            rejected["no address"] += 1
            rejects.add(start, "no address", cells)
            continue
        try:
            address = check(raw)
        except AddressError as exc:
            rejected["invalid address"] += 1
            rejects.add(start, f"invalid address: {exc}", cells)
            continue
        fields = {name: typed(cells[i]) for i, name in columns if i < len(cells) and cells[i]}
        role += address.role
        batch.append((address.email, address.domain, dumps(fields), address.role, start))
        if len(batch) >= BATCH:
            staging.add(batch)
            batch.clear()
            if cancel is not None and cancel.is_set():
                raise ImportCancelled("import cancelled; nothing was changed")
            summary.rows = rows
            _report(progress, "reading", summary, binary, total_bytes, clock, started)
    if batch:
        staging.add(batch)
    summary.rows = rows
    summary.role = role
    _report(progress, "reading", summary, binary, total_bytes, clock, started)


def _report(
    progress: Callable[[Progress], None] | None,
    phase: str,
    summary: ImportSummary,
    binary: Any,
    total_bytes: int,
    clock: Callable[[], float],
    started: float,
) -> None:
    if progress is not None:
        done = binary.tell() if phase == "reading" else total_bytes
        progress(Progress(phase, summary.rows, done, total_bytes, clock() - started))
