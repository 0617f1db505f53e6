"""Drawing a chat for a terminal with rich: formatted bot messages, numbered buttons, notes.

The bot speaks Telegram HTML; the local Bot API turns it into text and entities exactly as
Telegram does, and this module turns those entities into rich styles.  The result is a list of
screen lines, each a list of (prompt_toolkit style, text) fragments, cut to the terminal width.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from rich.color import Color, ColorType
from rich.console import Console, RenderableType
from rich.style import Style
from rich.text import Text

from bot.demo.chat import Button, Chat, Entry, EntryKind, NoteStyle, inline_rows
from bot.i18n import Tr

JSONDict = dict[str, Any]
Fragment = tuple[str, str]
Line = list[Fragment]

# Telegram entity type -> rich style.  Links also get their address written after them.
ENTITY_STYLES = {
    "bold": "bold",
    "italic": "italic",
    "underline": "underline",
    "strikethrough": "strike",
    "spoiler": "reverse",
    "code": "cyan",
    "pre": "cyan",
    "blockquote": "italic",
    "expandable_blockquote": "italic",
    "text_link": "underline bright_blue",
    "url": "underline bright_blue",
    "email": "underline bright_blue",
    "mention": "bright_blue",
    "hashtag": "bright_blue",
    "cashtag": "bright_blue",
    "bot_command": "bright_blue",
    "phone_number": "bright_blue",
}
NOTE_STYLES = {
    NoteStyle.INTRO: "bright_black",
    NoteStyle.INFO: "italic bright_black",
    NoteStyle.ALERT: "bold yellow",
    NoteStyle.FILE: "green",
    NoteStyle.ERROR: "bold red",
}
BUTTON_NUMBER = "bold yellow"
OLD_BUTTON = "bright_black"
USER_STYLE = "bold cyan"
GUTTER = ("fg:ansigreen", "│ ")
# ANSI colour numbers 0-15 as prompt_toolkit names them.
ANSI_NAMES = (
    "ansiblack", "ansired", "ansigreen", "ansiyellow", "ansiblue", "ansimagenta", "ansicyan",
    "ansigray", "ansibrightblack", "ansibrightred", "ansibrightgreen", "ansibrightyellow",
    "ansibrightblue", "ansibrightmagenta", "ansibrightcyan", "ansiwhite",
)  # fmt: skip


# rich wraps lines at any Unicode space, even a no-break one; money (248 530,00 ₴) must stay
# whole, so no-break spaces travel through the layout as private-use characters.
NO_BREAK = str.maketrans({"\u00a0": "\ue000", "\u202f": "\ue001", "\u2007": "\ue002"})
# Variation selector 16 asks for an emoji picture ("⚙️"), which some terminals draw two cells
# wide and others one: without it the sign is drawn as text, one cell everywhere.
RESTORE = str.maketrans(
    {"\ue000": "\u00a0", "\ue001": "\u202f", "\ue002": "\u2007", "\ufe0f": None}
)


def _utf16_to_index(text: str) -> dict[int, int]:
    """Entity offsets count UTF-16 code units; map each one that starts a character."""
    positions: dict[int, int] = {}
    unit = 0
    for index, char in enumerate(text):
        positions[unit] = index
        unit += 2 if ord(char) > 0xFFFF else 1
    positions[unit] = len(text)
    return positions


def entities_to_text(text: str, entities: Iterable[JSONDict]) -> Text:
    """Telegram text with entities as a rich Text; a link's address follows its words."""
    out = Text(text.translate(NO_BREAK))  # one code unit for one: offsets stay right
    where = _utf16_to_index(text)
    links: list[tuple[int, str]] = []
    for entity in entities:
        style = ENTITY_STYLES.get(str(entity.get("type")))
        offset, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        start, end = where.get(offset), where.get(offset + length)
        if style is None or start is None or end is None or end <= start:
            continue
        out.stylize(style, start, end)
        url = entity.get("url")
        if entity.get("type") == "text_link" and url and url != text[start:end]:
            links.append((end, str(url)))
    if not links:
        return out
    links.sort()
    joined = Text()
    for index, part in enumerate(out.divide(end for end, _ in links)):
        joined.append_text(part)
        if index < len(links):
            joined.append(f" ({links[index][1]})", "bright_black")
    return joined


def message_body(message: JSONDict, tr: Tr) -> Text:
    """What a bot message shows: its text, or the file it carries and its caption."""
    body = Text()
    document = message.get("document")
    photo = message.get("photo")
    if isinstance(document, dict):
        body.append(tr.t("demo.document", name=document.get("file_name") or "?"), "bold")
    elif isinstance(photo, list) and photo:
        size = photo[-1]
        body.append(
            tr.t("demo.photo", width=size.get("width", 0), height=size.get("height", 0)), "bold"
        )
    if "text" in message:
        body.append_text(entities_to_text(message["text"], message.get("entities") or []))
    elif message.get("caption"):
        body.append("\n")
        body.append_text(
            entities_to_text(message["caption"], message.get("caption_entities") or [])
        )
    return body


def _button_label(button: JSONDict) -> str:
    label = str(button.get("text", ""))
    if button.get("url"):
        label += f" ({button['url']})"
    return label


def keyboard_text(rows: list[list[JSONDict]], numbers: list[Button] | None) -> Text:
    """Inline buttons, one keyboard row per line; numbered when they are the current ones."""
    out = Text()
    index = 0
    for row_no, row in enumerate(rows):
        if row_no:
            out.append("\n")
        for col, button in enumerate(row):
            if col:
                out.append("  ")
            if numbers is not None:
                out.append(f"[{numbers[index].number}]", BUTTON_NUMBER)
                out.append(" " + _button_label(button))
            else:
                out.append(f"[{_button_label(button)}]", OLD_BUTTON)
            index += 1
    return out


def entry_renderable(entry: Entry, tr: Tr, numbers: list[Button] | None) -> Text:
    """One transcript entry as rich Text (without its gutter)."""
    if entry.kind == EntryKind.USER:
        return Text(entry.text, USER_STYLE)
    if entry.kind == EntryKind.PRESS:
        return Text(entry.text, "cyan")
    if entry.kind == EntryKind.NOTE:
        return Text(entry.text, NOTE_STYLES[entry.style])
    message = entry.message or {}
    out = message_body(message, tr)
    if entry.edited:
        out.append("  " + tr.t("demo.edited"), "italic bright_black")
    rows = inline_rows(message)
    if rows:
        out.append("\n")
        out.append_text(keyboard_text(rows, numbers))
    return out


def menu_text(chat: Chat, tr: Tr) -> Text | None:
    """The reply keyboard with the numbers that follow the inline buttons' (None: no menu)."""
    menu = [b for b in chat.buttons() if b.in_menu]
    if not menu:
        return None
    out = Text(tr.t("demo.menu") + " ", "bold")
    for index, button in enumerate(menu):
        if index:
            out.append("  ")
        out.append(f"[{button.number}]", BUTTON_NUMBER)
        out.append(" " + button.label)
    return out


def _color(color: Color) -> str:
    if color.type == ColorType.STANDARD and color.number is not None:
        return ANSI_NAMES[color.number]
    return color.get_truecolor().hex


def pt_style(style: Style | None) -> str:
    """A rich Style as a prompt_toolkit style string."""
    if style is None:
        return ""
    parts = [
        name
        for name, on in (
            ("bold", style.bold),
            ("italic", style.italic),
            ("underline", style.underline),
            ("strike", style.strike),
            ("reverse", style.reverse),
        )
        if on
    ]
    if style.color is not None and not style.color.is_default:
        parts.append("fg:" + _color(style.color))
    if style.bgcolor is not None and not style.bgcolor.is_default:
        parts.append("bg:" + _color(style.bgcolor))
    return " ".join(parts)


def to_lines(renderable: RenderableType, width: int) -> list[Line]:
    """Lay a renderable out at `width` columns and return its screen lines."""
    console = Console(
        file=io.StringIO(),
        width=max(width, 10),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        emoji=False,
        highlight=False,
    )
    lines = console.render_lines(renderable, console.options, pad=False, new_lines=False)
    return [
        [
            (pt_style(seg.style), seg.text.translate(RESTORE))
            for seg in line
            if seg.text and not seg.control
        ]
        for line in lines
    ]


def entry_lines(entry: Entry, tr: Tr, width: int, numbers: list[Button] | None) -> list[Line]:
    """One entry's screen lines, with the gutter that says who speaks."""
    body = entry_renderable(entry, tr, numbers)
    lines = to_lines(body, width - 2)
    if entry.kind == EntryKind.BOT:
        return [[GUTTER, *line] for line in lines]
    if entry.kind in (EntryKind.USER, EntryKind.PRESS):
        marks = [("fg:ansicyan bold", "› " if i == 0 else "  ") for i in range(len(lines))]
        return [[mark, *line] for mark, line in zip(marks, lines, strict=True)]
    return [[("", "  "), *line] for line in lines]


def chat_lines(chat: Chat, tr: Tr, width: int) -> list[Line]:
    """The whole transcript as screen lines, a blank line between entries."""
    current = chat.keyboard_message()
    numbered = [b for b in chat.buttons() if not b.in_menu]
    out: list[Line] = []
    previous: Entry | None = None
    for entry in chat.entries:
        # Notes in a row (the first screen's lines) stay together; anything else gets air.
        if previous is not None and not (
            previous.kind == entry.kind == EntryKind.NOTE and previous.style == entry.style
        ):
            out.append([])
        previous = entry
        out.extend(entry_lines(entry, tr, width, numbered if entry is current else None))
    return out
