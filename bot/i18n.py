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
# English uses CLDR's standard currency pattern (¤#,##0.00), with the space that CLDR's
# currency spacing puts between a code and digits and Babel leaves out ("UAH248,530.00").
# Ukrainian uses its standard pattern unchanged: "248 530,00 ₴".
MONEY_PATTERNS = {"en": "\u00a4\u00a0#,##0.00"}


LOCALES = {lang: Locale.parse(tag) for lang, tag in BABEL_LOCALES.items()}


# Babel re-parses its number and date patterns on every call; statements repeat the same
# amounts and dates, so the formatted strings are worth keeping.
@lru_cache(maxsize=16384)
def _money(lang: str, kop: int) -> str:
    return format_currency(
        to_uah(kop), "UAH", format=MONEY_PATTERNS.get(lang), locale=LOCALES[lang]
    )


@lru_cache(maxsize=256)
def _money_rate(lang: str, value: Decimal) -> str:
    # Same pattern as any amount, but a rate keeps all its digits: 1.1625 stays 1.1625.
    return format_currency(
        value,
        "UAH",
        format=MONEY_PATTERNS.get(lang),
        locale=LOCALES[lang],
        decimal_quantization=False,
    )


@lru_cache(maxsize=4096)
def _date(lang: str, value: date, fmt: str) -> str:
    return format_date(value, format=fmt, locale=LOCALES[lang])


@lru_cache(maxsize=4096)
def _decimal(lang: str, value: int | Decimal, fmt: str | None) -> str:
    return format_decimal(value, format=fmt, locale=LOCALES[lang])


def localized(lang: str, uk: str, en: str) -> str:
    """The one place that picks a council's (or any bilingual) name for a reader."""
    return en if lang == "en" and en else uk


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

    def money_rate(self, value: Decimal) -> str:
        """A rate in hryvnias (per inhabitant) in the same format as any amount: 1,16 ₴."""
        return _money_rate(self.lang, value)

    def name(self, uk: str, en: str) -> str:
        """A name kept in both languages, in the reader's (Ukrainian where English is missing)."""
        return localized(self.lang, uk, en)

    def number(self, value: int | Decimal, fmt: str | None = None) -> str:
        """A number with the locale's grouping (and an optional CLDR pattern)."""
        return _decimal(self.lang, value, fmt)

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
