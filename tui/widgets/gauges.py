"""Text gauges for live numbers: progress bars, sparklines, durations.

Plain characters only (block elements), so they read the same without
colour (NO_COLOR) and over a slow link.
"""

from __future__ import annotations

from collections.abc import Sequence

SPARKS = " ▁▂▃▄▅▆▇█"


def progress_bar(done: int, total: int, width: int = 10) -> str:
    """``█████░░░░░ 50%``: ``width`` cells of bar, then the percentage."""
    share = done / total if total else 0.0
    filled = min(width, int(share * width))
    return "█" * filled + "░" * (width - filled) + f"{int(share * 100):>4}%"


def sparkline(values: Sequence[float], width: int) -> str:
    """The last values as block heights, scaled to the largest one shown.

    More values than cells: neighbouring values are summed so every cell
    covers the same time; fewer: the line is left-padded with blanks.
    """
    values = list(values)
    if width <= 0:
        return ""
    per_cell = max(1, -(-len(values) // width))  # ceil
    cells = [sum(values[i : i + per_cell]) for i in range(0, len(values), per_cell)][-width:]
    top = max(cells, default=0)
    line = "".join(
        SPARKS[0 if not top or v <= 0 else max(1, round(v / top * (len(SPARKS) - 1)))]
        for v in cells
    )
    return line.rjust(width)


def duration(seconds: float | None) -> str:
    """An ETA: ``45s``, ``12m``, ``3h05m``, ``2d04h``; ``—`` when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def per_second(value: float | None) -> str:
    """A send rate, short: ``0``, ``0.5/s``, ``12/s``, ``1.2k/s``."""
    if not value:
        return "0"
    if value >= 1000:
        return f"{value / 1000:.1f}".removesuffix(".0") + "k/s"
    if value >= 10:
        return f"{value:.0f}/s"
    return f"{value:.1f}/s"


def short_count(value: int | None) -> str:
    """A count in at most 6 cells: ``999``, ``12,345``, ``123k``, ``1.2M``."""
    value = value or 0
    if value < 100_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value // 1000}k"
    return f"{value / 1_000_000:.1f}M"
