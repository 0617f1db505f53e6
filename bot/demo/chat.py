"""One person's chat with the bot as the demo shows it: what was said, and the buttons to press.

Pure state, no input or output: the session feeds it what the local Bot API reports, the
terminal renders it.  Bot messages are kept by id, so an edit replaces the message where it
stands instead of adding a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSONDict = dict[str, Any]


class EntryKind(StrEnum):
    """What a line of the transcript is."""

    USER = "user"  # the person's own message
    PRESS = "press"  # the person pressed a button (Telegram shows nothing; the demo says so)
    BOT = "bot"  # a bot message, as it is now
    NOTE = "note"  # the demo speaking: who you are, a saved file, a notice from a button


class NoteStyle(StrEnum):
    """How a note looks."""

    INTRO = "intro"
    INFO = "info"
    ALERT = "alert"
    FILE = "file"
    ERROR = "error"


@dataclass
class Entry:
    """One item of the transcript."""

    kind: EntryKind
    text: str = ""
    message: JSONDict | None = None
    edited: bool = False
    style: NoteStyle = NoteStyle.INFO
    version: int = 0  # bumped on every change, so renderings can be cached


@dataclass(frozen=True)
class Button:
    """A button the person can press by its number."""

    number: int
    label: str
    message_id: int | None = None  # None: a button of the reply keyboard (the menu)
    data: str | None = None  # callback data of an inline button
    url: str | None = None  # an inline button that opens a link

    @property
    def in_menu(self) -> bool:
        """Whether it belongs to the reply keyboard."""
        return self.message_id is None


def inline_rows(message: JSONDict | None) -> list[list[JSONDict]]:
    """The rows of a message's inline keyboard (empty when it has none)."""
    markup = (message or {}).get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return [[b for b in row if isinstance(b, dict)] for row in rows if isinstance(row, list)]


def menu_rows(markup: JSONDict | None) -> list[list[str]]:
    """The labels of a reply keyboard, row by row."""
    rows = (markup or {}).get("keyboard") or []
    return [
        [b.get("text", "") if isinstance(b, dict) else str(b) for b in row]
        for row in rows
        if isinstance(row, list)
    ]


@dataclass
class Chat:
    """The transcript of one private chat, the current menu, and whether it has news."""

    user_id: int
    entries: list[Entry] = field(default_factory=list)
    menu: list[list[str]] = field(default_factory=list)
    unread: bool = False
    revision: int = 0  # bumped on every change: renderings are cached by it
    _by_message: dict[int, Entry] = field(default_factory=dict)

    def add(self, kind: EntryKind, text: str, style: NoteStyle = NoteStyle.INFO) -> Entry:
        """Append the person's message, a press, or a note."""
        entry = Entry(kind, text, style=style)
        self.entries.append(entry)
        self.revision += 1
        return entry

    def show_bot_message(self, message: JSONDict, *, edited: bool) -> Entry:
        """A new bot message is appended; a known one is updated where it stands."""
        mid = int(message["message_id"])
        entry = self._by_message.get(mid)
        if entry is None:
            entry = Entry(EntryKind.BOT, message=message, edited=edited)
            self._by_message[mid] = entry
            self.entries.append(entry)
        else:
            entry.message = message
            entry.edited = entry.edited or edited
            entry.version += 1
        self.revision += 1
        return entry

    def remove_bot_message(self, message_id: int) -> None:
        """The bot deleted a message: it disappears, as in Telegram."""
        entry = self._by_message.pop(message_id, None)
        if entry is not None:
            self.entries.remove(entry)
            self.revision += 1

    def set_menu(self, markup: JSONDict | None) -> None:
        """The reply keyboard the bot shows now (None: no menu)."""
        self.menu = [row for row in menu_rows(markup) if row]
        self.revision += 1

    def keyboard_message(self) -> Entry | None:
        """The latest bot message with inline buttons: the one whose buttons have numbers."""
        for entry in reversed(self.entries):
            if entry.kind == EntryKind.BOT and inline_rows(entry.message):
                return entry
        return None

    def buttons(self) -> list[Button]:
        """Every button that has a number: inline ones first, then the menu."""
        out: list[Button] = []
        current = self.keyboard_message()
        if current is not None and current.message is not None:
            mid = int(current.message["message_id"])
            for row in inline_rows(current.message):
                for button in row:
                    out.append(
                        Button(
                            len(out) + 1,
                            str(button.get("text", "")),
                            message_id=mid,
                            data=button.get("callback_data"),
                            url=button.get("url"),
                        )
                    )
        for labels in self.menu:
            for label in labels:
                out.append(Button(len(out) + 1, label))
        return out

    def button(self, number: int) -> Button | None:
        """The button with this number, if there is one."""
        buttons = self.buttons()
        return buttons[number - 1] if 1 <= number <= len(buttons) else None
