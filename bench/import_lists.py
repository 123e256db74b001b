"""Import a generated 1,000,000-row CSV (email + 5 fields) with syntax validation.

Reports rows/s and peak RSS, and, as the limit on this machine, the time
the sqlite3 command-line shell takes to `.import` the same file into a bare
table (no parsing of addresses, no JSON, no indexes). Options:
``--rows=N`` (default 1,000,000), ``--keep`` (leave the temp dir).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import cpu_seconds, peak_rss_mb
from core.lists.importer import Progress, import_csv
from core.store import Store

DOMAINS = ["example.com", "example.org", "mail.example.net", "münchen.example", "Example.COM"]
DOMAINS += [f"company{i}.example" for i in range(200)]
COUNTRIES = ["DE", "FR", "GB", "US", "PL", "IT", "JP", "BR"]
PLANS = ["free", "pro", "team"]


def generate(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,first_name,country,plan,score,signed_up\n")
        for i in range(rows):
            out.write(
                f"user.{i}@{rng.choice(DOMAINS)},Name{i % 997},{rng.choice(COUNTRIES)},"
                f"{rng.choice(PLANS)},{rng.randint(0, 1000)},"
                f"20{rng.randint(20, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}\n"
            )


def sqlite_cli_import(csv_path: Path, workdir: Path) -> float | None:
    if shutil.which("sqlite3") is None:
        return None
    db = workdir / "bare.db"
    started = time.perf_counter()
    subprocess.run(
        ["sqlite3", str(db), ".mode csv", f".import {csv_path} bare"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main(argv: list[str]) -> dict:
    rows = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--rows=")), 1_000_000)
    workdir = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    try:
        csv_path = workdir / "list.csv"
        generate(csv_path, rows)
        size_mb = csv_path.stat().st_size / 1e6
        rss_before = peak_rss_mb()
        store = Store(workdir / "postroom.db")
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        phases: dict[str, float] = {}

        def note_phase(progress: Progress) -> None:
            phases.setdefault(progress.phase, time.perf_counter() - started)

        summary = import_csv(store, "bench", csv_path, progress=note_phase)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() - cpu0
        store.close()
        rss = peak_rss_mb()
        cli = sqlite_cli_import(csv_path, workdir)
    finally:
        if "--keep" not in argv:
            shutil.rmtree(workdir, ignore_errors=True)
    rate = summary.rows / elapsed
    result = {
        "rows": summary.rows,
        "file_mb": round(size_mb, 1),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rate),
        "cpu_seconds": round(cpu, 2),
        "read_validate_stage_seconds": round(phases.get("saving", elapsed), 2),
        "merge_seconds": round(elapsed - phases.get("saving", elapsed), 2),
        "peak_rss_mb": round(rss, 1),
        "rss_before_import_mb": round(rss_before, 1),
        "added": summary.added,
        "rejected": summary.rejected_total,
        "sqlite3_cli_import_seconds": round(cli, 2) if cli else None,
        "sqlite3_cli_rows_per_s": round(rows / cli) if cli else None,
        "ratio_to_sqlite3_cli": round(elapsed / cli, 2) if cli else None,
        "targets": {"rows_per_s": 50_000, "peak_rss_mb": 300},
        "note": "one process, one core; the machine's other core is shared with other work",
    }
    print(
        f"   {summary.rows:,} rows ({size_mb:.0f} MB) in {elapsed:.1f}s = {rate:,.0f} rows/s "
        f"(target >= 50,000), peak RSS {rss:.0f} MB (target < 300)"
    )
    if cli:
        print(
            f"   sqlite3 .import into a bare table: {cli:.1f}s = {rows / cli:,.0f} rows/s; "
            f"Postroom takes {elapsed / cli:.1f}x as long"
        )
    return result
