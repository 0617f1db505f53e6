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


async def test_a_busy_person_does_not_hold_the_slots_of_everyone_else() -> None:
    # 40 updates of one person, the first of them slow, and then one from someone else: the
    # others' update must run at once, not after the busy person's queue (the limit is 32).
    processor = PerUserUpdateProcessor(32)
    release = asyncio.Event()
    other_done = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async def quick() -> None:
        other_done.set()

    busy = [
        asyncio.create_task(processor.process_update(_update(i, 10), slow())) for i in range(1, 41)
    ]
    await asyncio.sleep(0)
    other = asyncio.create_task(processor.process_update(_update(99, 20), quick()))
    try:
        await asyncio.wait_for(other_done.wait(), timeout=2)
        assert processor.current_concurrent_updates == 1  # only the busy person's first
    finally:
        release.set()
        await asyncio.wait_for(asyncio.gather(*busy, other), timeout=5)
    assert processor.current_concurrent_updates == 0
    assert not processor._locks


async def test_the_limit_still_holds_for_different_people() -> None:
    processor = PerUserUpdateProcessor(3)
    release = asyncio.Event()
    running = 0
    most = 0

    async def work() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    tasks = [
        asyncio.create_task(processor.process_update(_update(i, 100 + i), work()))
        for i in range(10)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    assert running == 3
    assert processor.max_concurrent_updates == 3
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert most == 3
