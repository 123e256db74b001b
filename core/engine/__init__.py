"""The send engine (DESIGN.md "The engine"; contract in CONTRACTS.md).

engine = Engine(db_path, config)          # owns an asyncio loop's worth of work
control = LocalControl(engine)            # in its own thread; or RemoteControl(db_path)
control.launch(campaign_id, user="ana")
plan = prepare_launch(store, campaign_id, config)   # the launch gate (check first)
control.stats()["campaigns"][str(campaign_id)]["counts"]
"""

from __future__ import annotations

from core.engine.control import (
    EngineControl,
    LocalControl,
    RemoteControl,
    open_control,
    running_engine,
)
from core.engine.engine import CONTROL_COMMANDS, Engine, launch_campaign
from core.engine.launch import LaunchPlan, commit_launch, prepare_launch, schedule_campaign
from core.store import EngineBusy

__all__ = [
    "CONTROL_COMMANDS",
    "Engine",
    "EngineBusy",
    "EngineControl",
    "LaunchPlan",
    "LocalControl",
    "RemoteControl",
    "commit_launch",
    "launch_campaign",
    "open_control",
    "prepare_launch",
    "running_engine",
    "schedule_campaign",
]
