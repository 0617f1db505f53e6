"""How long someone waits behind one busy person's queue of updates (issue 6, item 22).

    .venv/bin/python -m bench.bench_busy_person

One person sends `--busy` updates that each take `--ms` milliseconds; then someone else
sends one. With the per-person order taken after python-telegram-bot's limit of updates
in flight, the busy person's queued updates held every slot and the other person waited;
now they should not wait at all.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from telegram import Update

from bot.app import CONCURRENT_UPDATES
from bot.updates import PerUserUpdateProcessor


def _update(update_id: int, user_id: int) -> Update:
    data: dict[str, Any] = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            "text": "/dues",
        },
    }
    return Update.de_json(data, None)


async def run(args: argparse.Namespace) -> float:
    """The other person's wait, in milliseconds."""
    processor = PerUserUpdateProcessor(CONCURRENT_UPDATES)
    answered: list[float] = []

    async def slow() -> None:
        await asyncio.sleep(args.ms / 1000)

    async def quick() -> None:
        answered.append(time.perf_counter())

    busy = [
        asyncio.create_task(processor.process_update(_update(i, 1), slow()))
        for i in range(args.busy)
    ]
    await asyncio.sleep(0)  # the busy person's updates are all in
    started = time.perf_counter()
    await processor.process_update(_update(10_000, 2), quick())
    await asyncio.gather(*busy)
    return (answered[0] - started) * 1000


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description="the wait behind one busy person")
    parser.add_argument("--busy", type=int, default=40, help="the busy person's updates")
    parser.add_argument("--ms", type=float, default=12.0, help="how long each one takes")
    args = parser.parse_args()
    waited = asyncio.run(run(args))
    print(
        f"{args.busy} updates of one person, {args.ms:g} ms each, {CONCURRENT_UPDATES} in "
        f"flight: another person waited {waited:.1f} ms"
    )


if __name__ == "__main__":
    main()
