"""When to try a deferred message again ([engine] retry_* settings)."""

from __future__ import annotations

import random

from core.config import Config


def retry_delay(
    attempts: int, config: Config, named_wait: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 = first failure).

    Exponential from retry_initial_seconds by retry_multiplier, capped at
    retry_max_seconds, spread by ±retry_jitter; never shorter than a wait
    the server named.
    """
    initial = float(config.get("engine", "retry_initial_seconds"))
    multiplier = float(config.get("engine", "retry_multiplier"))
    ceiling = float(config.get("engine", "retry_max_seconds"))
    jitter = float(config.get("engine", "retry_jitter"))
    base = min(ceiling, initial * multiplier ** max(0, attempts - 1))
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    delay = max(0.0, base * (1.0 + spread))
    if named_wait is not None:
        delay = max(delay, named_wait)
    return delay


def gives_up(first_attempt_at: float | None, at: float, config: Config) -> bool:
    """True once a message has been failing for longer than give_up_after_seconds."""
    if first_attempt_at is None:
        return False
    return at - first_attempt_at >= float(config.get("engine", "give_up_after_seconds"))
