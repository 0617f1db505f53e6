"""The typed callback context: settings, database, translator and clock travel here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.i18n import Tr, Translator
from bot.services.callers import DEFAULT_LANGUAGE, Caller


@dataclass
class AccessDraft:
    """An access request being filled in: the council chosen, then the person's name."""

    member_id: int
    full_name: str | None = None


class UserData:
    """What the bot keeps about one person between their updates (python-telegram-bot's
    `context.user_data`, typed through ContextTypes)."""

    __slots__ = ("access_draft",)

    def __init__(self) -> None:
        self.access_draft: AccessDraft | None = None


@dataclass
class Runtime:
    """What the bot needs at run time, built once at start-up (tests build their own)."""

    settings: Settings
    db: Database
    translator: Translator
    clock: Clock


class AppContext(CallbackContext[ExtBot[None], UserData, dict[Any, Any], dict[Any, Any]]):
    """Callback context with the runtime and the caller that the access gate identified."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.caller: Caller | None = None

    @property
    def data(self) -> UserData:
        """What the bot keeps about the caller between updates (every private update has it)."""
        if self.user_data is None:
            raise RuntimeError("an update without a user has no user data")
        return self.user_data

    @property
    def runtime(self) -> Runtime:
        """The process-wide runtime."""
        runtime: Runtime = self.application.bot_data["runtime"]
        return runtime

    @property
    def db(self) -> Database:
        """The database; open a session with `async with context.db.session() as s`."""
        return self.runtime.db

    @property
    def clock(self) -> Clock:
        """The clock (fixed in tests)."""
        return self.runtime.clock

    @property
    def lang(self) -> str:
        """The caller's language."""
        return self.caller.language if self.caller else DEFAULT_LANGUAGE

    @property
    def tr(self) -> Tr:
        """Translations, money and dates in the caller's language."""
        return self.runtime.translator(self.lang)
