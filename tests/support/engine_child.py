"""A sending process for the crash test: `python -m tests.support.engine_child DB CAMPAIGN`."""

from __future__ import annotations

import asyncio
import sys

from core.engine import Engine
from tests.support.engine_setup import engine_config, simple_compile


async def main(db_path: str, campaign_id: int) -> None:
    await Engine(db_path, engine_config(), compile=simple_compile).run(campaign_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
