"""How the console and the CLI drive an engine.

* ``LocalControl(engine)`` runs the Engine in its own thread and event loop
  (uvloop when installed) so a full-speed send never delays keystrokes;
  every method is thread-safe.
* ``RemoteControl(db_path)`` talks to an engine in another process
  (``postroom run``): commands go into ``engine_commands`` (applied within a
  second), stats come from the ``engine_stats`` row.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from core.engine.engine import Engine
from core.store import Store, StoreError

CALL_TIMEOUT = 30.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class EngineControl(Protocol):
    mode: str

    def launch(self, campaign_id: int, user: str) -> Any: ...
    def pause_campaign(self, campaign_id: int, user: str) -> Any: ...
    def resume_campaign(self, campaign_id: int, user: str) -> Any: ...
    def cancel_campaign(self, campaign_id: int, user: str) -> Any: ...
    def retry(self, campaign_id: int, user: str, states: tuple[str, ...] = ...) -> Any: ...
    def resolve_unknown(self, campaign_id: int, action: str, user: str) -> Any: ...
    def pause_account(self, account_id: int, user: str) -> Any: ...
    def resume_account(self, account_id: int, user: str) -> Any: ...
    def drain_account(self, account_id: int, user: str) -> Any: ...
    def set_rate(self, kind: str, target_id: int, rate: float, user: str) -> Any: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class LocalControl:
    """The engine in a dedicated thread with its own loop; thread-safe facade."""

    mode = "in-process"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.loop = new_event_loop()
        self._stopped = threading.Event()
        started: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name="postroom-engine", daemon=True
        )
        self._thread.start()
        started.result(timeout=CALL_TIMEOUT)  # raises EngineBusy etc. here

    def _main(self, started: concurrent.futures.Future) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve(started))
        finally:
            self.loop.close()
            self._stopped.set()

    async def _serve(self, started: concurrent.futures.Future) -> None:
        try:
            await self.engine.start()
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        self._stop = asyncio.Event()
        await self._stop.wait()
        await self.engine.stop()

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._thread.is_alive():
            raise StoreError("the engine has stopped")

        async def invoke() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self.engine.refresh_snapshot()  # the caller sees its own change at once

        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(CALL_TIMEOUT)

    def launch(self, campaign_id: int, user: str) -> Any:
        return self._call(self.engine.launch, campaign_id, user=user)

    def pause_campaign(self, campaign_id: int, user: str) -> Any:
        return self._call(self.engine.pause_campaign, campaign_id, user=user)

    def resume_campaign(self, campaign_id: int, user: str) -> Any:
        return self._call(self.engine.resume_campaign, campaign_id, user=user)

    def cancel_campaign(self, campaign_id: int, user: str) -> Any:
        return self._call(self.engine.cancel_campaign, campaign_id, user=user)

    def retry(
        self,
        campaign_id: int,
        user: str,
        states: tuple[str, ...] = ("failed", "deferred", "unknown"),
    ) -> Any:
        return self._call(self.engine.retry, campaign_id, tuple(states), user=user)

    def resolve_unknown(self, campaign_id: int, action: str, user: str) -> Any:
        return self._call(self.engine.resolve_unknown, campaign_id, action, user=user)

    def pause_account(self, account_id: int, user: str) -> Any:
        return self._call(self.engine.pause_account, account_id, user=user)

    def resume_account(self, account_id: int, user: str) -> Any:
        return self._call(self.engine.resume_account, account_id, user=user)

    def drain_account(self, account_id: int, user: str) -> Any:
        return self._call(self.engine.drain_account, account_id, user=user)

    def set_rate(self, kind: str, target_id: int, rate: float, user: str) -> Any:
        return self._call(self.engine.set_rate, kind, target_id, rate, user=user)

    def stats(self) -> dict[str, Any]:
        """The engine's latest snapshot (refreshed 10x/s in its thread); no locking needed."""
        return self.engine.snapshot

    def close(self) -> None:
        """Stop cleanly: in-flight transactions finish, nothing is left ``sending``."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()


class RemoteControl:
    """Drive the engine of another process through the database."""

    mode = "attached"

    def __init__(self, db_path: str | Path, *, wait: float = 5.0) -> None:
        self.db_path = Path(db_path)
        self.wait = wait
        self.store = Store(self.db_path, create=False)

    def _submit(self, command: str, user: str, **args: Any) -> Any:
        state = self.store.engine_state
        command_id = state.submit(user, command, args, time.time())
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            row = state.command(command_id)
            if row and row["applied_at"] is not None:
                result = json.loads(row["result"])
                if not result["ok"]:
                    raise StoreError(result["error"])
                return result["result"]
            time.sleep(0.05)
        raise StoreError(
            f"the engine has not applied {command!r} yet (it is queued and will apply when it does)"
        )

    def launch(self, campaign_id: int, user: str) -> Any:
        return self._submit("launch", user, campaign_id=campaign_id)

    def pause_campaign(self, campaign_id: int, user: str) -> Any:
        return self._submit("pause_campaign", user, campaign_id=campaign_id)

    def resume_campaign(self, campaign_id: int, user: str) -> Any:
        return self._submit("resume_campaign", user, campaign_id=campaign_id)

    def cancel_campaign(self, campaign_id: int, user: str) -> Any:
        return self._submit("cancel_campaign", user, campaign_id=campaign_id)

    def retry(
        self,
        campaign_id: int,
        user: str,
        states: tuple[str, ...] = ("failed", "deferred", "unknown"),
    ) -> Any:
        return self._submit("retry", user, campaign_id=campaign_id, states=list(states))

    def resolve_unknown(self, campaign_id: int, action: str, user: str) -> Any:
        return self._submit("resolve_unknown", user, campaign_id=campaign_id, action=action)

    def pause_account(self, account_id: int, user: str) -> Any:
        return self._submit("pause_account", user, account_id=account_id)

    def resume_account(self, account_id: int, user: str) -> Any:
        return self._submit("resume_account", user, account_id=account_id)

    def drain_account(self, account_id: int, user: str) -> Any:
        return self._submit("drain_account", user, account_id=account_id)

    def set_rate(self, kind: str, target_id: int, rate: float, user: str) -> Any:
        return self._submit("set_rate", user, kind=kind, target_id=target_id, rate=rate)

    def stats(self) -> dict[str, Any]:
        return self.store.engine_state.read_stats() or {}

    def close(self) -> None:
        self.store.close()


def running_engine(db_path: str | Path) -> dict[str, Any] | None:
    """The engine lock's holder when it is alive (fresh heartbeat), else None."""
    path = Path(db_path)
    if not path.exists():
        return None
    store = Store(path, create=False)
    try:
        holder = store.engine_state.holder()
        if holder is None or not store.engine_state.holder_alive(holder, time.time()):
            return None
        return holder
    finally:
        store.close()


def open_control(db_path: str | Path, engine_factory: Callable[[], Engine]) -> EngineControl:
    """Attach to a running engine if there is one, else start one in this process."""
    if running_engine(db_path) is not None:
        return RemoteControl(db_path)
    return LocalControl(engine_factory())
