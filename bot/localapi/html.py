"""Telegram-flavoured HTML (``parse_mode=HTML``) to plain text and message entities."""

from __future__ import annotations

import re
from typing import Any

JSONDict = dict[str, Any]

_HTML_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "code": "code", "pre": "pre", "a": "text_link",
    "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}  # fmt: skip
_ATTR_RE = re.compile(
    r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
# Telegram decodes only these character references; anything else stays literal.
_CHARREF_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _charref(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref in _NAMED_REFS:
        return _NAMED_REFS[ref]
    try:
        return chr(int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:]))
    except (ValueError, OverflowError):
        return m.group(0)


def utf16_len(s: str) -> int:
    # Entity offsets/lengths count UTF-16 code units; characters outside the BMP count twice.
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into (plain text, entities); raise ValueError like Telegram.

    Like TDLib, every ``<`` starts a tag, so unescaped user input such as ``a < b`` or
    ``<script>`` is rejected, which is exactly the bug this fake wants to surface.
    """
    out: list[str] = []
    pos16 = 0
    entities: list[JSONDict] = []
    # stack entries: (tag, start offset in UTF-16, attributes)
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(text)
    while i < n:
        lt = text.find("<", i)
        chunk = text[i:] if lt < 0 else text[i:lt]
        if chunk:
            plain = _CHARREF_RE.sub(_charref, chunk) if "&" in chunk else chunk
            out.append(plain)
            pos16 += utf16_len(plain)
        if lt < 0:
            break
        byte_off = len(text[:lt].encode("utf-8"))
        gt = text.find(">", lt)
        if lt + 1 < n and text[lt + 1] == "/":
            if gt < 0:
                raise ValueError(f"Unclosed end tag at byte offset {byte_off}")
            name = text[lt + 2 : gt].strip().lower()
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {byte_off}")
            open_name, start, attrs = stack.pop()
            if name != open_name:
                raise ValueError(
                    f'Unmatched end tag at byte offset {byte_off}, expected "</{open_name}>",'
                    f' found "</{name}>"'
                )
            _close_entity(open_name, start, pos16, attrs, stack, entities)
            i = gt + 1
            continue
        j = lt + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        name = text[lt + 1 : j].lower()
        if j >= n:
            raise ValueError(f"Unclosed start tag at byte offset {byte_off}")
        if name not in _HTML_ENTITY_TYPES:
            raise ValueError(f'Unsupported start tag "{name}" at byte offset {byte_off}')
        if gt < 0:
            raise ValueError(f"Unclosed start tag at byte offset {byte_off}")
        attrs = {
            m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
            for m in _ATTR_RE.finditer(text[j:gt])
        }
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ValueError(f'Unsupported start tag "span" at byte offset {byte_off}')
        stack.append((name, pos16, attrs))
        i = gt + 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(
    name: str,
    start: int,
    end: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
    entities: list[JSONDict],
) -> None:
    kind = _HTML_ENTITY_TYPES[name]
    lang = attrs.get("class", "")
    if name == "code" and stack and stack[-1][0] == "pre" and lang.startswith("language-"):
        # <pre><code class="language-x"> is one pre entity with a language, not two.
        stack[-1][2]["language"] = lang.removeprefix("language-")
        return
    if end <= start:
        return  # Telegram drops empty entities
    entity: JSONDict = {"type": kind, "offset": start, "length": end - start}
    if name == "a":
        if not attrs.get("href"):
            return
        entity["url"] = attrs["href"]
    elif name == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    entities.append(entity)
