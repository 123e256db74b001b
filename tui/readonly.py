"""`--readonly`: actions that change data or send mail are marked ``@mutating``.

A marked action is left out of the key bar and, if its key is pressed
anyway, refused with a message instead of running.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def mutating(action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(action)
    async def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.app.readonly:
            name = action.__name__.removeprefix("action_").replace("_", " ")
            self.app.notify(f"Read-only: '{name}' is not allowed", severity="warning")
            return None
        result = action(self, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    guarded.mutating = True  # type: ignore[attr-defined]
    return guarded


def is_mutating(owner: object, action: str) -> bool:
    method = getattr(owner, f"action_{action.split('(')[0]}", None)
    return bool(getattr(method, "mutating", False))
