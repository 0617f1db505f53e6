"""Every message id the code uses resolves in uk and en; plurals, money and dates look right."""

from __future__ import annotations

import string
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import BABEL_LOCALES, Tr, Translator
from locales import LANGUAGES, catalog_file

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "handlers")
KEYWORDS = {"t": None, "tn": (1, 2), "N_": None}
KYIV = ZoneInfo("Europe/Kyiv")


def _extract() -> tuple[dict[str, list[str]], dict[tuple[str, str], list[str]]]:
    singular: dict[str, list[str]] = defaultdict(list)
    plural: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source in SOURCES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / source, keywords=KEYWORDS, comment_tags=()
        ):
            where = f"{source}/{filename}:{lineno}"
            if isinstance(message, tuple):
                one, many = message[0], message[1]
                if one and many:
                    plural[(one, many)].append(where)
            elif message:
                singular[message].append(where)
    return dict(singular), dict(plural)


USED_SINGULAR, USED_PLURAL = _extract()


def _catalog(lang: str) -> Catalog:
    with catalog_file(lang).open("rb") as fh:
        return read_po(fh, locale=BABEL_LOCALES[lang])


CATALOGS = {lang: _catalog(lang) for lang in LANGUAGES}


def _key(msgid: str | tuple[str, ...] | list[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _forms(string: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if string is None:
        return []
    return [string] if isinstance(string, str) else list(string)


def _entries(catalog: Catalog) -> dict[str, object]:
    """Catalog id (the singular id for plural entries) -> msgid as stored."""
    return {_key(m.id): m.id for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    names = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(KYIV)


def test_extraction_found_the_code() -> None:
    # Guards the rest: an extractor that finds nothing would make every check pass.
    assert len(USED_SINGULAR) > 50
    assert ("history.count", "history.count.plural") in USED_PLURAL
    assert "import.error.amount" in USED_SINGULAR  # marked with N_ in bot/services/imports.py


def test_both_languages_have_catalogs_with_the_right_plural_rules() -> None:
    assert set(LANGUAGES) == {"uk", "en"}
    assert LANGUAGES[0] == "uk"
    assert CATALOGS["uk"].num_plurals == 3
    assert CATALOGS["en"].num_plurals == 2


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_singular_id_is_translated(lang: str) -> None:
    catalog = CATALOGS[lang]
    missing, empty, plural_misused = [], [], []
    for msgid, places in sorted(USED_SINGULAR.items()):
        message = catalog.get(msgid)
        if message is None:
            missing.append(f"{msgid} ({places[0]})")
        elif isinstance(message.id, tuple):
            plural_misused.append(f"{msgid} ({places[0]}): plural entry used with t()/N_()")
        elif not isinstance(message.string, str) or not message.string.strip():
            empty.append(msgid)
    assert missing == []
    assert empty == []
    assert plural_misused == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_plural_id_is_a_translated_plural_entry(lang: str) -> None:
    catalog = CATALOGS[lang]
    problems = []
    for (one, many), places in sorted(USED_PLURAL.items()):
        message = catalog.get(one)
        if message is None:
            problems.append(f"{one}: missing ({places[0]})")
            continue
        if message.id != (one, many):
            problems.append(f"{one}: catalog has {message.id!r}, code uses {(one, many)!r}")
            continue
        forms = message.string
        if not isinstance(forms, tuple) or len(forms) != catalog.num_plurals:
            problems.append(f"{one}: {forms!r} is not {catalog.num_plurals} plural forms")
        elif not all(form.strip() for form in forms):
            problems.append(f"{one}: an empty plural form")
    assert problems == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_orphan_ids(lang: str) -> None:
    used = set(USED_SINGULAR) | {one for one, _many in USED_PLURAL}
    orphans = sorted(set(_entries(CATALOGS[lang])) - used)
    assert orphans == []


def test_catalogs_hold_the_same_ids() -> None:
    assert _entries(CATALOGS["uk"]) == _entries(CATALOGS["en"])


def test_placeholders_match_between_languages() -> None:
    uk, en = CATALOGS["uk"], CATALOGS["en"]
    mismatches = []
    for msgid in sorted(_entries(en)):
        en_message, uk_message = en.get(msgid), uk.get(msgid)
        assert en_message is not None and uk_message is not None, msgid
        en_forms, uk_forms = _forms(en_message.string), _forms(uk_message.string)
        assert len(en_forms) == (2 if isinstance(en_message.id, tuple) else 1), msgid
        en_sets = [_fields(form) for form in en_forms]
        if any(s != en_sets[0] for s in en_sets):
            mismatches.append(f"{msgid}: en forms disagree {en_sets}")
            continue
        for i, form in enumerate(uk_forms):
            if _fields(form) != en_sets[0]:
                mismatches.append(f"{msgid}[{i}]: uk {_fields(form)} != en {en_sets[0]}")
    assert mismatches == []


def test_placeholder_extraction_is_not_vacuous() -> None:
    en = CATALOGS["en"]
    message = en.get("history.count")
    assert message is not None
    assert _fields(_forms(message.string)[1]) == {"n", "amount"}
    assert _fields("{a} and {b.c} but not {{d}}") == {"a", "b"}


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "платіж"),
        (2, "платежі"),
        (5, "платежів"),
        (11, "платежів"),
        (21, "платіж"),
        (22, "платежі"),
        (25, "платежів"),
        (111, "платежів"),
        (0, "платежів"),
        (104, "платежі"),
        (112, "платежів"),
    ],
)
def test_ukrainian_plural_forms(translator: Translator, n: int, word: str) -> None:
    text = translator("uk").tn("history.count", "history.count.plural", n, amount="x")
    assert text.split()[1] == word
    assert text.endswith("x")


@pytest.mark.parametrize(("n", "word"), [(1, "payment"), (2, "payments"), (21, "payments")])
def test_english_plural_forms(translator: Translator, n: int, word: str) -> None:
    text = translator("en").tn("history.count", "history.count.plural", n, amount="x")
    assert text.split()[1] == word


def test_large_counts_are_grouped(translator: Translator) -> None:
    text = translator("uk").tn("history.count", "history.count.plural", 1000, amount="x")
    assert text.replace("\u202f", " ").replace("\xa0", " ").startswith("1 000 платежів")


def _spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_money_in_ukrainian(translator: Translator) -> None:
    text = translator("uk").money(24_853_000)
    assert _spaces(text) == "248 530,00 ₴"
    # The separators must be non-breaking, so a line never splits inside an amount.
    assert " " not in text
    assert text == "248\xa0530,00\xa0₴" or text == "248\u202f530,00\xa0₴"


def test_money_in_english(translator: Translator) -> None:
    text = translator("en").money(24_853_000)
    assert _spaces(text) == "UAH 248,530.00"


@pytest.mark.parametrize(
    ("kop", "uk", "en"),
    [
        (5, "0,05 ₴", "UAH 0.05"),
        (100_000, "1 000,00 ₴", "UAH 1,000.00"),
        (0, "0,00 ₴", "UAH 0.00"),
    ],
)
def test_small_amounts(translator: Translator, kop: int, uk: str, en: str) -> None:
    assert _spaces(translator("uk").money(kop)) == uk
    assert _spaces(translator("en").money(kop)) == en


def test_dates(translator: Translator) -> None:
    assert "31 березня 2025" in translator("uk").date(date(2025, 3, 31))
    assert translator("en").date(date(2025, 3, 31)) == "31 March 2025"


def test_datetimes_are_shown_in_kyiv(translator: Translator) -> None:
    # 21:30 UTC on 31 March 2025 is already 1 April in Kyiv (UTC+3 in summer time).
    instant = datetime(2025, 3, 31, 21, 30, tzinfo=UTC)
    assert translator("uk").datetime(instant) == "1 квітня 2025, 00:30"
    assert translator("en").datetime(instant) == "1 April 2025, 00:30"


def test_unknown_language_falls_back_to_ukrainian(translator: Translator) -> None:
    tr = translator("de")
    assert isinstance(tr, Tr)
    assert tr.lang == "uk"


def test_translation_interpolates_after_translating(translator: Translator) -> None:
    en = translator("en")
    message = en.t("cli.report_written", file="r.csv", year=2025)
    assert message == "Dues report for 2025 written to r.csv."
    assert translator("uk").t("cli.report_written", file="r.csv", year=2025) != message
