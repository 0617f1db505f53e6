"""The demo session without a terminal: typed lines become updates, bot actions become chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
)

from bot.demo.chat import EntryKind, NoteStyle
from bot.demo.seed import (
    Council,
    DemoError,
    examples_folder,
    find_council,
    load_living_samples,
)
from bot.demo.session import TOKEN, USER_IDS, BotErrors, DemoOptions, DemoSession, Role
from bot.demo.terminal import Commands
from bot.i18n import Translator
from bot.localapi import FakeBotAPI

OFFICIAL, STAFF = USER_IDS[Role.OFFICIAL], USER_IDS[Role.STAFF]


@dataclass
class Rig:
    """A session whose chats follow a local Bot API; the test plays the bot."""

    session: DemoSession
    fake: FakeBotAPI
    bot: Bot

    async def flush(self) -> None:
        """Let the loop apply what the local Bot API reported (it is handed over at once)."""
        for _ in range(5):
            await asyncio.sleep(0)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    options = DemoOptions("04057287", "en", Role.OFFICIAL, None, tmp_path / "files")
    session = DemoSession(options, Translator(ZoneInfo("Europe/Kyiv")))
    with FakeBotAPI(token=TOKEN) as fake:
        # What start() does, minus the database and the bot (the test plays the bot).
        council = Council("04057287", "Кременчуцька", "Kremenchuk", "Олена Петренко")
        session.follow(fake, council)
        async with Bot(TOKEN, base_url=fake.base_url) as bot:
            yield Rig(session, fake, bot)


def texts(session: DemoSession, role: Role, kind: EntryKind) -> list[str]:
    entries = session.personas[role].chat.entries
    return [
        e.text if e.message is None else e.message.get("text", "")
        for e in entries
        if e.kind == kind
    ]


async def test_intro_names_the_person_council_and_keys(
    rig: Rig,
) -> None:
    session = rig.session
    assert texts(session, Role.OFFICIAL, EntryKind.NOTE) == [
        "You are Олена Петренко, an official of Kremenchuk.",
        "Type text and commands (/help, /dues). To press a button, type its number.",
        "Switch role: /as official|staff|stranger. Leave: /quit or Ctrl-D.",
    ]
    staff = session.personas[Role.STAFF]
    assert (staff.first_name, staff.last_name, staff.user_id) == ("Iryna", "Melnyk", STAFF)


async def test_typed_lines_become_messages_presses_and_role_switches(
    rig: Rig,
) -> None:
    session, bot = rig.session, rig.bot
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("2025", callback_data="dues:y:1:2025")]]
    )
    sent = await bot.send_message(OFFICIAL, "Statement", reply_markup=keyboard)
    await bot.send_message(OFFICIAL, "Menu", reply_markup=ReplyKeyboardMarkup([["💰 Dues"]]))
    await rig.flush()

    assert session.handle("1")  # the inline button
    assert session.handle("2")  # the menu button: its label goes as a message
    assert session.handle("04057287")  # no button has this number: sent as text
    updates = await bot.get_updates(timeout=0)  # what the bot would get, in order
    query = updates[0].callback_query
    assert query is not None and query.data == "dues:y:1:2025"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert [u.message.text for u in updates[1:] if u.message] == ["💰 Dues", "04057287"]
    assert {u.effective_user.id for u in updates if u.effective_user} == {OFFICIAL}
    assert texts(session, Role.OFFICIAL, EntryKind.PRESS) == ["[2025]"]
    assert texts(session, Role.OFFICIAL, EntryKind.USER) == ["💰 Dues", "04057287"]

    assert session.handle("/as staff") and session.current == Role.STAFF
    session.say("/start")
    last = (await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0))[-1]
    assert last.effective_user is not None and last.effective_user.id == STAFF
    assert session.handle("/as boss") and session.current == Role.STAFF
    assert texts(session, Role.STAFF, EntryKind.NOTE)[-1].startswith("There is no such role.")
    assert session.handle("   ")
    assert not session.handle("/quit")


async def test_news_in_another_chat_is_flagged_but_not_the_greeting(
    rig: Rig,
) -> None:
    session, bot = rig.session, rig.bot
    await bot.send_message(STAFF, "Welcome, staff", reply_markup=ReplyKeyboardMarkup([["Help"]]))
    await rig.flush()
    assert session.unread_roles() == []
    await bot.send_message(STAFF, "Access request #1")
    await rig.flush()
    assert session.unread_roles() == [Role.STAFF]
    session.switch(Role.STAFF)
    assert session.unread_roles() == []


async def test_files_from_the_bot_are_saved_without_overwriting(rig: Rig, tmp_path: Path) -> None:
    session, bot = rig.session, rig.bot
    await bot.send_document(OFFICIAL, document=b"a;b\n", filename="dues 2026.csv")
    await bot.send_document(OFFICIAL, document=b"c;d\n", filename="dues 2026.csv")
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (2).to_bytes(4, "big") * 2 + b"\0" * 9
    photo = await bot.send_photo(OFFICIAL, photo=png, caption="Forum")
    await rig.flush()
    files = tmp_path / "files"
    assert (files / "dues 2026.csv").read_bytes() == b"a;b\n"
    assert (files / "dues 2026-2.csv").read_bytes() == b"c;d\n"
    assert (files / f"photo-{photo.message_id}.png").read_bytes() == png
    notes = [
        e.text for e in session.personas[Role.OFFICIAL].chat.entries if e.style == NoteStyle.FILE
    ]
    assert len(notes) == 3 and all(n.startswith("File saved: ") for n in notes)
    assert notes[1].endswith("dues 2026-2.csv")
    assert session.saved == [
        files / "dues 2026.csv",
        files / "dues 2026-2.csv",
        files / f"photo-{photo.message_id}.png",
    ]


async def test_edits_deletions_and_button_notices_reach_the_chat(
    rig: Rig,
) -> None:
    session, bot = rig.session, rig.bot
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Save", callback_data="s")]])
    first = await bot.send_message(OFFICIAL, "Draft", reply_markup=keyboard)
    await rig.flush()
    session.handle("1")
    query = (await bot.get_updates(timeout=0))[-1].callback_query
    assert query is not None
    query_id = query.id
    await bot.answer_callback_query(query_id, text="Saved", show_alert=True)
    await bot.edit_message_text("Final", chat_id=OFFICIAL, message_id=first.message_id)
    gone = await bot.send_message(OFFICIAL, "temporary")
    await bot.delete_message(OFFICIAL, gone.message_id)
    await rig.flush()
    chat = session.personas[Role.OFFICIAL].chat
    bots: list[Any] = [e for e in chat.entries if e.kind == EntryKind.BOT]
    assert [(e.message["text"], e.edited) for e in bots] == [("Final", True)]
    alerts = [e.text for e in chat.entries if e.style == NoteStyle.ALERT]
    assert alerts == ["Saved"]
    assert chat.buttons() == []  # the edit took the keyboard away


async def test_commands_complete_from_the_bots_menu_and_the_demos(rig: Rig) -> None:
    session, bot = rig.session, rig.bot
    await bot.set_my_commands([BotCommand("dues", "Внески")])
    await bot.set_my_commands(
        [BotCommand("dues", "Dues"), BotCommand("settings", "Settings")], language_code="en"
    )

    def complete(typed: str) -> list[tuple[str, str]]:
        found = Commands(session).get_completions(Document(typed), CompleteEvent())
        return [(c.text, c.display_meta_text) for c in found]

    assert complete("/s") == [("/settings", "Settings")]
    assert complete("/as s") == [("/as staff", "staff"), ("/as stranger", "stranger")]
    assert complete("/q") == [("/quit", "leave the demo")]
    assert complete("/dues") == [] and complete("dues") == []


def test_bot_errors_are_reported_by_their_first_line() -> None:
    reported: list[str] = []
    handler = BotErrors(reported.append)
    logger = logging.getLogger("tests.demo.bot_errors")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("not shown: below ERROR")
        logger.error("update %s failed\nTraceback (most recent call last): ...", 7)
    finally:
        logger.removeHandler(handler)
    assert reported == ["update 7 failed"]


def test_the_council_and_its_official_come_from_the_samples() -> None:
    tr = Translator(ZoneInfo("Europe/Kyiv"))("en")
    samples = load_living_samples(examples_folder(), date(2026, 12, 1), tr)
    kremenchuk = find_council(samples, "04057287", tr)
    assert (kremenchuk.name("en"), kremenchuk.name("uk"), kremenchuk.official) == (
        "Kremenchuk City Council",
        "Кременчуцька міська рада",
        "Олена Петренко",
    )
    assert find_council(samples, "04053051", tr).official is None  # Drohobych: no roster
    with pytest.raises(DemoError, match="no council with code 99999999 in the samples"):
        find_council(samples, "99999999", tr)
    with pytest.raises(DemoError, match="No sample files"):
        load_living_samples(Path("/nonexistent"), date(2026, 12, 1), tr)
