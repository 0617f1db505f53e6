"""How updates are scheduled: different people at once, each person's in order."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor
from telegram.ext._utils.asyncio import TrackedBoundedSemaphore  # the type the base class holds


def _owner(update: object) -> int | None:
    """Whose updates must stay in order: the sender's (or the chat's, for channel posts)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Runs different users' updates concurrently and one user's strictly one after another.

    A conversation (an access request, say) reads its state from the previous update, so a
    person's updates must not overtake each other; other people need not wait for them.

    The limit of updates in flight is applied *after* the person's turn has come. The base
    class's own limit wraps `do_process_update`, so with it an update would hold a slot while
    it waits behind the same person's earlier ones, and 32 queued updates of one busy person
    would stall everyone else. So the base class's limit is lifted, and ours counts only
    updates that are being processed.
    """

    __slots__ = ("_active", "_limit", "_locks", "_pending", "_slots")

    def __init__(self, max_concurrent_updates: int) -> None:
        if max_concurrent_updates < 1:
            raise ValueError("`max_concurrent_updates` must be a positive integer!")
        self._limit = max_concurrent_updates
        super().__init__(max_concurrent_updates)
        # The base class's semaphore (taken by its final `process_update`) must never make an
        # update wait: updates waiting for their turn are cheap (a task each), and `_slots`
        # limits the ones running. tests/test_updates.py fails if this stops working.
        self._semaphore = TrackedBoundedSemaphore(sys.maxsize)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._active = 0
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, int] = {}

    @property
    def max_concurrent_updates(self) -> int:
        """The most updates processed at once (updates waiting for their turn not counted)."""
        return self._limit

    @property
    def current_concurrent_updates(self) -> int:
        """How many updates are being processed right now."""
        return self._active

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this user's earlier updates, then for a free slot, then process this one."""
        owner = _owner(update)
        if owner is None:
            await self._run(coroutine)
            return
        lock = self._locks.setdefault(owner, asyncio.Lock())
        self._pending[owner] = self._pending.get(owner, 0) + 1
        try:
            async with lock:  # asyncio.Lock wakes waiters first come, first served
                await self._run(coroutine)
        finally:
            self._pending[owner] -= 1
            if not self._pending[owner]:  # forget idle users: the dict stays small
                del self._pending[owner]
                del self._locks[owner]

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        async with self._slots:
            self._active += 1
            try:
                await coroutine
            finally:
                self._active -= 1

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
