"""`make bench`: run every benchmark in bench/ and collect their JSON results.

Each benchmark is a module here with a ``main(argv) -> dict``; it prints its
figures and its result is written to bench/results/NAME.json. Pass names to
run only some: ``make bench BENCH_ARGS="send_throughput"``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from bench.common import write_result

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(
        module.name
        for module in pkgutil.iter_modules([str(HERE)])
        if not module.name.startswith("_") and module.name not in ("common",)
    )


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or discover()
    if not names:
        print("no benchmarks yet")
        return 0
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        result = module.main([a for a in argv if a.startswith("-")])
        path = write_result(name, result)
        print(f"   -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
