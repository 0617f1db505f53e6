"""The update processor: people in parallel, each person in order."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.updates import PerUserUpdateProcessor


def _update(update_id: int, user_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_700_000_000,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                "text": "hi",
            },
        },
        None,
    )


async def test_one_users_updates_run_in_order_and_others_overlap() -> None:
    processor = PerUserUpdateProcessor(8)
    log: list[tuple[str, int, int]] = []
    release = asyncio.Event()

    async def work(update: Update, wait: bool) -> None:
        assert update.effective_user is not None
        log.append(("start", update.effective_user.id, update.update_id))
        if wait:
            await release.wait()
        log.append(("end", update.effective_user.id, update.update_id))

    first = asyncio.create_task(
        processor.process_update(_update(1, 10), work(_update(1, 10), True))
    )
    second = asyncio.create_task(
        processor.process_update(_update(2, 10), work(_update(2, 10), False))
    )
    other = asyncio.create_task(
        processor.process_update(_update(3, 20), work(_update(3, 20), False))
    )
    await asyncio.wait_for(other, timeout=5)  # user 20 does not wait for user 10
    assert ("end", 20, 3) in log
    assert ("start", 10, 2) not in log  # user 10's second update waits for the first
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=5)
    mine = [entry for entry in log if entry[1] == 10]
    assert mine == [("start", 10, 1), ("end", 10, 1), ("start", 10, 2), ("end", 10, 2)]
    assert not processor._locks  # idle users are forgotten


async def test_updates_without_a_sender_are_not_serialised() -> None:
    processor = PerUserUpdateProcessor(2)
    done = asyncio.Event()

    async def work() -> None:
        done.set()

    await processor.process_update(Update(update_id=1), work())
    assert done.is_set()
