"""Translations (gettext catalogs read with Babel) and locale-aware money and dates."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

from bot.money import to_uah
from locales import LANGUAGES, catalog_file

BABEL_LOCALES = {"uk": "uk_UA", "en": "en_GB"}
# English locales write "UAH248,530.00"; "248,530.00 UAH" reads better beside Ukrainian names.
MONEY_PATTERNS = {"en": "#,##0.00\u00a0\u00a4\u00a4"}


LOCALES = {lang: Locale.parse(tag) for lang, tag in BABEL_LOCALES.items()}


# Babel re-parses its number and date patterns on every call; statements repeat the same
# amounts and dates, so the formatted strings are worth keeping.
@lru_cache(maxsize=16384)
def _money(lang: str, kop: int) -> str:
    return format_currency(
        to_uah(kop), "UAH", format=MONEY_PATTERNS.get(lang), locale=LOCALES[lang]
    )


@lru_cache(maxsize=4096)
def _date(lang: str, value: date, fmt: str) -> str:
    return format_date(value, format=fmt, locale=LOCALES[lang])


@lru_cache(maxsize=4096)
def _decimal(lang: str, value: int | Decimal, fmt: str | None) -> str:
    return format_decimal(value, format=fmt, locale=LOCALES[lang])


def N_(msgid: str) -> str:
    """Mark a message id for extraction without translating it here."""
    return msgid


def load_catalogs(languages: tuple[str, ...] = LANGUAGES) -> dict[str, Translations]:
    """Compile each .po in memory, so a stale .mo can never be served."""
    out = {}
    for lang in languages:
        with catalog_file(lang).open("rb") as fh:
            catalog = read_po(fh, locale=BABEL_LOCALES[lang])
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        out[lang] = Translations(buf)
    return out


@dataclass(frozen=True)
class Tr:
    """Everything needed to speak to one person: their language and zone."""

    lang: str
    translations: Translations
    tz: ZoneInfo

    @property
    def locale(self) -> Locale:
        """The Babel locale of the language."""
        return LOCALES[self.lang]

    def t(self, msgid: str, /, **values: Any) -> str:
        """The translated message, with values interpolated after translating."""
        text = self.translations.gettext(msgid)
        return text.format(**values) if values else text

    def tn(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        """A message with a number in it, in the right plural form ({n} is filled in)."""
        text = self.translations.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    def money(self, kop: int) -> str:
        """248530,00 ₴ the way the reader's locale writes it."""
        return _money(self.lang, kop)

    def number(self, value: int | Decimal, fmt: str | None = None) -> str:
        """A number with the locale's grouping (and an optional CLDR pattern)."""
        return _decimal(self.lang, value, fmt)

    def rate(self, value: Decimal) -> str:
        """A rate with at least two decimals, e.g. 1,16."""
        return _decimal(self.lang, value, "#,##0.00####")

    def date(self, value: date, fmt: str = "long") -> str:
        """A date in words in the reader's language (long format: day, month name, year)."""
        return _date(self.lang, value, fmt)

    def datetime(self, value: datetime, fmt: str = "d MMMM y, HH:mm") -> str:
        """An instant shown in the reader's zone."""
        return format_datetime(value, format=fmt, tzinfo=self.tz, locale=self.locale)


class Translator:
    """All catalogs, loaded once; hands out a `Tr` per language."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._catalogs = load_catalogs()
        self._tz = tz
        self._cache: dict[str, Tr] = {}

    def __call__(self, lang: str) -> Tr:
        """The `Tr` for a language (Ukrainian for anything unknown)."""
        if lang not in self._catalogs:
            lang = LANGUAGES[0]
        tr = self._cache.get(lang)
        if tr is None:
            tr = self._cache[lang] = Tr(lang, self._catalogs[lang], self._tz)
        return tr


def translator_for(lang: str, tz: ZoneInfo) -> Tr:
    """One language's `Tr`, loading only its catalog (the command line speaks one per run)."""
    if lang not in LANGUAGES:
        lang = LANGUAGES[0]
    return Tr(lang, load_catalogs((lang,))[lang], tz)
