"""How updates are scheduled: different people at once, each person's in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


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
    """

    __slots__ = ("_locks", "_pending")

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this user's earlier updates, then process this one."""
        owner = _owner(update)
        if owner is None:
            await coroutine
            return
        lock = self._locks.setdefault(owner, asyncio.Lock())
        self._pending[owner] = self._pending.get(owner, 0) + 1
        try:
            async with lock:  # asyncio.Lock wakes waiters first come, first served
                await coroutine
        finally:
            self._pending[owner] -= 1
            if not self._pending[owner]:  # forget idle users: the dict stays small
                del self._pending[owner]
                del self._locks[owner]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
