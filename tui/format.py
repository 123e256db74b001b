"""Short, fixed-width renderings of numbers and times for tables."""

from __future__ import annotations

import time


def rate(per_second: float | None) -> str:
    if per_second is None:
        return "—"
    if per_second < 1:
        return f"{per_second * 60:.3g}/min"
    return f"{per_second:.3g}/s"


def limit(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def count(value: int | None) -> str:
    return f"{value or 0:,}"


def stamp(epoch: float | None) -> str:
    if not epoch:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"
