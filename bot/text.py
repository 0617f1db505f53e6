"""Free text from people and files: what the database and Telegram can safely take."""

from __future__ import annotations

import unicodedata


def has_control_chars(text: str) -> bool:
    """True if the text holds control characters (NUL breaks PostgreSQL text columns)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def clean_line(text: str, limit: int | None = None) -> str:
    """One line of free text: control characters dropped, white space folded, clipped."""
    kept = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    folded = " ".join(kept.split())
    return folded if limit is None else folded[:limit]


# The Ukrainian alphabet in its order; code points put є, і, ї and ґ after я.
UKRAINIAN_ALPHABET = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
_LETTER_RANK = {ch: i for i, ch in enumerate(UKRAINIAN_ALPHABET)}
_APOSTROPHES = frozenset("'\u2019\u02bc`\u2018")


def ukrainian_sort_key(text: str) -> tuple[tuple[int, int], ...]:
    """Sort key for Ukrainian alphabetical order (the way a dictionary or a registry sorts).

    Case is ignored; an apostrophe does not count (as in dictionaries); spaces and punctuation
    come before digits, digits before Ukrainian letters, and other letters (Latin) after them.
    """
    key = []
    for ch in text.casefold():
        if ch in _APOSTROPHES:
            continue
        rank = _LETTER_RANK.get(ch)
        if rank is not None:
            key.append((2, rank))
        elif ch.isdigit():
            key.append((1, ord(ch)))
        elif ch.isalpha():
            key.append((3, ord(ch)))
        else:
            key.append((0, ord(ch)))
    return tuple(key)
