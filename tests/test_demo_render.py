"""The demo's chat: entities drawn with rich, buttons numbered, edits in place, the menu after."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.style import Style

from bot.demo.chat import Chat, EntryKind, NoteStyle
from bot.demo.render import (
    Line,
    chat_lines,
    entities_to_text,
    menu_text,
    message_body,
    pt_style,
    to_lines,
)
from bot.i18n import Tr, Translator
from bot.localapi import parse_html

USER = 42


@pytest.fixture(scope="module")
def en() -> Tr:
    return Translator(ZoneInfo("Europe/Kyiv"))("en")


def bot_message(mid: int, html: str, buttons: list[list[tuple[str, str]]] | None = None) -> Any:
    """A bot message as the local Bot API stores it, from the HTML the bot would send."""
    text, entities = parse_html(html)
    message: dict[str, Any] = {"message_id": mid, "text": text, "entities": entities}
    if buttons:
        message["reply_markup"] = {
            "inline_keyboard": [
                [{"text": label, "callback_data": data} for label, data in row] for row in buttons
            ]
        }
    return message


def plain(lines: list[Line]) -> list[str]:
    return ["".join(text for _style, text in line) for line in lines]


def styles_of(lines: list[Line], word: str) -> str:
    """The prompt_toolkit style of the fragment holding `word`."""
    for line in lines:
        for style, text in line:
            if word in text:
                return style
    raise AssertionError(f"{word!r} not drawn")


def test_entities_become_styles_with_utf16_offsets() -> None:
    text, entities = parse_html(
        '💰 <b>Dues</b> for <i>2026</i>: <code>04057287</code>, <a href="https://amu.org.ua">AMU</a>'
    )
    drawn = entities_to_text(text, entities)
    assert drawn.plain == "💰 Dues for 2026: 04057287, AMU (https://amu.org.ua)"
    spans = {drawn.plain[s.start : s.end]: str(s.style) for s in drawn.spans}
    assert spans["Dues"] == "bold"  # after the emoji, which is two UTF-16 units
    assert spans["2026"] == "italic"
    assert spans["04057287"] == "cyan"
    assert spans["AMU"] == "underline bright_blue"
    lines = to_lines(drawn, 80)
    assert "bold" in styles_of(lines, "Dues") and "italic" in styles_of(lines, "2026")
    assert styles_of(lines, "AMU").split() == ["underline", "fg:ansibrightblue"]


def test_a_link_whose_text_is_its_address_is_not_written_twice() -> None:
    text, entities = parse_html('<a href="https://amu.org.ua">https://amu.org.ua</a>')
    assert entities_to_text(text, entities).plain == "https://amu.org.ua"


def test_money_is_never_split_across_lines() -> None:
    text = "Total for the year: charged 497\xa0060,00\xa0₴, paid 200\xa0000,00\xa0₴"
    lines = plain(to_lines(entities_to_text(text, []), 36))
    assert "497\xa0060,00\xa0₴," in "\n".join(lines)
    assert all("497" not in line or "060,00" in line for line in lines)


def test_emoji_variation_selectors_are_dropped_so_widths_agree() -> None:
    lines = plain(to_lines(entities_to_text("⚙️ Settings ▪️ x", []), 40))
    assert lines == ["⚙ Settings ▪ x"]


def test_pt_style() -> None:
    assert pt_style(Style(bold=True, color="cyan")) == "bold fg:ansicyan"
    assert pt_style(Style(italic=True, color="#ff8800", bgcolor="bright_black")) == (
        "italic fg:#ff8800 bg:ansibrightblack"
    )
    assert pt_style(None) == ""


def test_buttons_of_the_latest_keyboard_are_numbered_then_the_menu(en: Tr) -> None:
    chat = Chat(USER)
    chat.show_bot_message(bot_message(1, "old", [[("2024", "y:2024")]]), edited=False)
    chat.show_bot_message(
        bot_message(2, "<b>Statement</b>", [[("2025", "y:2025"), ("2026", "y:2026")]]),
        edited=False,
    )
    chat.set_menu({"keyboard": [[{"text": "💰 Dues"}], [{"text": "Help"}, {"text": "Settings"}]]})
    buttons = chat.buttons()
    assert [(b.number, b.label, b.message_id, b.data) for b in buttons] == [
        (1, "2025", 2, "y:2025"),
        (2, "2026", 2, "y:2026"),
        (3, "💰 Dues", None, None),
        (4, "Help", None, None),
        (5, "Settings", None, None),
    ]
    drawn = "\n".join(plain(chat_lines(chat, en, 80)))
    assert "[2024]" in drawn and "[1]" not in drawn.split("Statement")[0]  # old: no number
    assert "[1] 2025  [2] 2026" in drawn
    menu = menu_text(chat, en)
    assert menu is not None and menu.plain == "Menu: [3] 💰 Dues  [4] Help  [5] Settings"
    assert chat.button(6) is None and chat.button(0) is None


def test_an_edit_replaces_the_message_where_it_stands(en: Tr) -> None:
    chat = Chat(USER)
    chat.add(EntryKind.USER, "/dues")
    chat.show_bot_message(bot_message(5, "2026: <b>owed</b>", [[("2025", "y")]]), edited=False)
    chat.add(EntryKind.NOTE, "a note after it")
    before = chat.revision
    chat.show_bot_message(bot_message(5, "2025: <b>paid</b>", [[("2026", "z")]]), edited=True)
    assert chat.revision > before
    assert [e.kind for e in chat.entries] == [EntryKind.USER, EntryKind.BOT, EntryKind.NOTE]
    lines = plain(chat_lines(chat, en, 80))
    assert lines == [
        "› /dues",
        "",
        "│ 2025: paid  (edited)",
        "│ [1] 2026",
        "",
        "  a note after it",
    ]
    chat.remove_bot_message(5)
    assert plain(chat_lines(chat, en, 80)) == ["› /dues", "", "  a note after it"]


def test_intro_notes_stay_together_and_long_lines_wrap_under_the_gutter(en: Tr) -> None:
    chat = Chat(USER)
    chat.add(EntryKind.NOTE, "You are Olena.", NoteStyle.INTRO)
    chat.add(EntryKind.NOTE, "Type a number to press a button.", NoteStyle.INTRO)
    chat.show_bot_message(bot_message(1, "word " * 30), edited=False)
    lines = plain(chat_lines(chat, en, 40))
    assert lines[:3] == ["  You are Olena.", "  Type a number to press a button.", ""]
    assert all(line.startswith("│ ") and len(line) <= 40 for line in lines[3:])
    assert len(lines) > 5


def test_documents_and_photos_are_named(en: Tr) -> None:
    doc = {
        "message_id": 1,
        "document": {"file_id": "f", "file_name": "dues-2026.xlsx"},
        "caption": "Report",
        "caption_entities": [{"type": "bold", "offset": 0, "length": 6}],
    }
    assert message_body(doc, en).plain == "Document: dues-2026.xlsx\nReport"
    photo = {"message_id": 2, "photo": [{"file_id": "p", "width": 640, "height": 480}]}
    assert message_body(photo, en).plain == "Photo 640×480"
