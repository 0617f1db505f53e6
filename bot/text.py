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
