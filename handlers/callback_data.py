"""Callback data: each kind of button is declared once, and built and parsed from that one place.

Telegram rejects callback data over 64 bytes, and whatever comes back is untrusted input: a
button's data is checked against the same declaration that built it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.context import AppContext

MAX_BYTES = 64  # Telegram's limit for callback_data


@dataclass(frozen=True)
class Part:
    """One value in callback data: the pattern it must match, and its longest legal value."""

    pattern: str
    longest: str

    def __post_init__(self) -> None:
        if not re.fullmatch(self.pattern, self.longest):
            raise ValueError(f"{self.longest!r} does not match {self.pattern!r}")


# [0-9], not \d: \d also takes other scripts' digits.
ID = Part(r"[0-9]{1,9}", "9" * 9)  # a database id
YEAR = Part(r"[0-9]{4}", "9999")
PAGE = Part(r"[0-9]{1,4}", "9999")
LANGUAGE = Part(r"uk|en", "uk")
DECISION = Part(r"ok|no", "ok")
INVITE_CODE = Part(r"[A-Za-z0-9_-]{1,32}", "x" * 32)  # invites are 16 characters today
CATALOG = Part(r"e|t", "e")  # the events (e) or the trainings (t) catalog
CHOICE = Part(r"[0-9]{1,2}", "99")  # a place in a short fixed list (an event kind); 0 for all


@dataclass(frozen=True)
class Callback:
    """A kind of button: a short prefix such as "dues:y" and the parts after it."""

    prefix: str
    parts: tuple[Part, ...] = ()
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    every: ClassVar[list[Callback]] = []  # every declared kind, for the 64-byte test

    def __post_init__(self) -> None:
        groups = "".join(f":({p.pattern})" for p in self.parts)
        # \Z, not $: $ also matches before a final newline, so "x:1\n" would pass as "x:1".
        object.__setattr__(self, "pattern", re.compile(f"^{re.escape(self.prefix)}{groups}\\Z"))
        Callback.every.append(self)

    def build(self, *values: object) -> str:
        """The data of one button; refuses values the pattern would not take back."""
        data = ":".join([self.prefix, *(str(v) for v in values)])
        if len(values) != len(self.parts) or not self.pattern.match(data):
            raise ValueError(f"bad values for {self.prefix}: {values!r}")
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    def parse(self, matches: list[re.Match[str]] | None) -> tuple[str, ...]:
        """The values of a button this kind's pattern matched (`context.matches`), as text."""
        if not matches or matches[0].re is not self.pattern:
            raise ValueError(f"not data of {self.prefix}")
        return matches[0].groups()

    def numbers(self, matches: list[re.Match[str]] | None) -> tuple[int, ...]:
        """The values as integers, for buttons that carry only numbers."""
        return tuple(int(v) for v in self.parse(matches))

    def handler(
        self, callback: Callable[[Update, AppContext], Coroutine[Any, Any, Any]]
    ) -> CallbackQueryHandler[AppContext, Any]:
        """The handler for buttons of this kind."""
        return ButtonHandler(callback, pattern=self.pattern)

    def longest(self) -> str:
        """The longest data this kind of button can carry."""
        return ":".join([self.prefix, *(p.longest for p in self.parts)])


class ButtonHandler(CallbackQueryHandler[AppContext, Any]):
    """A CallbackQueryHandler that takes only data its pattern matches: python-telegram-bot's
    own lets a query without data through to every pattern."""

    def check_update(self, update: object) -> bool | object | None:
        """The pattern's match, or None."""
        result = super().check_update(update)
        return result if isinstance(result, re.Match) else None
