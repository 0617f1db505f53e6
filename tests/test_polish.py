"""What a new user and a code review found (issue 6): each fixed, each tested here."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import col
from telegram.constants import ParseMode
from telegram.error import Forbidden
from telegram.request import RequestData

import handlers
from bot.app import build_application
from bot.db import Database
from bot.i18n import Translator
from bot.regions import REGIONS, canonical, region_name
from bot.services import access_requests, members
from handlers.callback_data import MAX_BYTES, Callback
from locales import LANGUAGES
from models import AccessRequest, Role, TelegramUser
from tests.conftest import NOW
from tests.harness import ADMIN_ID, Harness
from tests.test_handlers import (
    COORDINATOR,
    KREMENCHUK,
    KYIV,
    NBSP,
    OLENA,
    POLTAVA,
    STRANGER,
    invite,
    link,
    member_id,
    reply_keyboard,
)

ROOT = Path(__file__).resolve().parent.parent
TRANSLATOR = Translator(ZoneInfo("Europe/Kyiv"))
LUBNY = "04058953"
NOT_UNDERSTOOD = "не зрозумів"


def inline_labels(call_params: dict[str, Any]) -> list[str]:
    markup = call_params.get("reply_markup")
    data = json.loads(markup) if isinstance(markup, str) else markup
    assert isinstance(data, dict)
    return [b["text"] for row in data.get("inline_keyboard", []) for b in row]


def staff_calls(h: Harness) -> list[Any]:
    return [c for c in h.request.of("sendMessage") if int(c.params["chat_id"]) == ADMIN_ID]


async def send_as(
    h: Harness,
    user_id: int,
    text: str,
    *,
    first_name: str,
    last_name: str | None = None,
    username: str | None = None,
    lang: str = "uk",
) -> None:
    """A message from a person with a full Telegram profile (name, @username)."""
    user: dict[str, Any] = {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": lang,
    }
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    message: dict[str, Any] = {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": user_id, "type": "private"},
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    await h.feed({"message": message})


async def start_request(h: Harness, user: int, query: str, *, lang: str = "uk") -> None:
    """Open the access request and pick the first council found for `query`."""
    await h.send(user, "🔑 Отримати доступ" if lang == "uk" else "🔑 Request access", lang=lang)
    await h.send(user, query, lang=lang)
    await h.press(user, h.request.buttons()[0], lang=lang)


# --- 1. menu taps and commands are never answers -------------------------------------------


async def test_menu_taps_and_commands_leave_the_request(
    examples: Database, harness: Harness
) -> None:
    h = harness
    await h.send(STRANGER, "🔑 Отримати доступ")
    await h.send(STRANGER, "❓ Допомога")  # while asked for the council
    assert "Службовий бот Асоціації" in h.request.texts()[-1]  # /help answered it
    await h.send(STRANGER, "кременч")  # the request is over: a name is not an answer any more
    assert NOT_UNDERSTOOD in h.request.texts()[-1]

    await start_request(h, STRANGER, "кременч")  # now asked for the name
    await h.send(STRANGER, "⚙️ Налаштування")
    assert "Налаштування" in h.request.texts()[-1]
    await h.send(STRANGER, "Іван Іваненко")
    assert NOT_UNDERSTOOD in h.request.texts()[-1]

    await start_request(h, STRANGER, "кременч")
    await h.send(STRANGER, "Іван Іваненко")  # now asked for the position
    await h.send(STRANGER, "/dues")
    assert "лише посадові особи" in h.request.texts()[-1]
    await h.send(STRANGER, "бухгалтер")
    assert NOT_UNDERSTOOD in h.request.texts()[-1]

    await start_request(h, STRANGER, "кременч")
    await h.send(STRANGER, "❓ Help", lang="uk")  # a label of the other language, too
    assert "Службовий бот Асоціації" in h.request.texts()[-1]

    assert staff_calls(h) == []  # nothing was filed
    async with examples.session() as session:
        filed = (await session.execute(select(AccessRequest))).scalars().all()
    assert filed == []


async def test_a_command_during_the_request_is_handled_as_outside_it(
    examples: Database, harness: Harness
) -> None:
    code = await invite(examples, KREMENCHUK)
    await start_request(harness, STRANGER, "полтав")
    await harness.send(STRANGER, f"/start {code}")  # the invite arrived meanwhile
    assert "Кременчуцька міська рада" in harness.request.texts()[-1]
    await harness.send(STRANGER, "/dues")
    assert f"248{NBSP}530,00{NBSP}₴" in harness.request.texts()[-1]


# --- 2. the limit of pending requests is checked first --------------------------------------


async def test_too_many_pending_requests_are_refused_at_the_start(
    examples: Database, harness: Harness
) -> None:
    await harness.send(STRANGER, "/start")
    async with examples.session() as session:
        for code in (POLTAVA, KYIV, LUBNY):
            member = await members.member_by_code(session=session, code=code)
            assert member is not None and member.id is not None
            result = await access_requests.request_access(
                session=session,
                telegram_id=STRANGER,
                member_id=member.id,
                full_name="Іван Іваненко",
                position="секретар",
                now=NOW,
            )
            assert result.outcome == access_requests.RequestOutcome.CREATED
    harness.request.reset()
    await harness.send(STRANGER, "🔑 Отримати доступ")
    assert harness.request.texts() == [
        "У вас уже 3 запити на розгляді. Дочекайтеся рішення секретаріату, перш ніж "
        "надсилати новий."
    ]
    await harness.send(STRANGER, "кременч")  # no conversation was opened
    assert NOT_UNDERSTOOD in harness.request.texts()[-1]


# --- 3. council search: how many, cut, Ukrainian order ---------------------------------------


async def test_search_says_how_many_match_and_lists_in_ukrainian_order(
    examples: Database, harness: Harness
) -> None:
    await harness.send(STRANGER, "🔑 Отримати доступ")
    await harness.send(STRANGER, "рада")
    call = harness.request.of("sendMessage")[-1]
    assert call.params["text"] == (
        "Знайдено 32 ради; ось перші 8 за абеткою. Якщо вашої серед них немає, напишіть "
        "більше літер назви."
    )
    labels = inline_labels(call.params)
    assert len(labels) == 8
    assert [label.split()[0] for label in labels[:4]] == [
        "Агрономічна",
        "Баранинська",
        "Білоцерківська",  # і comes before о in the Ukrainian alphabet
        "Бородянська",
    ]
    await harness.send(STRANGER, "полтавськ")
    assert harness.request.texts()[-1] == "Знайдено 1 раду — оберіть свою:"


# --- 4. help says what each role can do --------------------------------------------------


async def test_help_for_each_role(examples: Database, harness: Harness) -> None:
    h = harness

    async def help_for(user: int) -> str:
        await h.send(user, "/help")
        return h.request.texts()[-1]

    stranger = await help_for(STRANGER)
    assert "Отримати доступ" in stranger and "/dues КОД" not in stranger

    await link(h, examples, OLENA, KREMENCHUK)
    official = await help_for(OLENA)
    assert "Кременчуцька міська рада" in official and "інших рад вам недоступні" in official
    assert "/dues КОД" not in official and "Отримати доступ" not in official

    await link(h, examples, COORDINATOR, POLTAVA, Role.COORDINATOR)
    coordinator = await help_for(COORDINATOR)
    assert "координатор регіону: Полтавська обл." in coordinator
    assert "/dues КОД" in coordinator and "Полтавська міська рада" in coordinator

    staff = await help_for(ADMIN_ID)  # in ADMIN_IDS, not linked to a council
    assert "бачите дані всіх громад" in staff and "/dues КОД" in staff
    assert "не під'єднані" not in staff and "Отримати доступ" not in staff
    assert "Погодити" in staff  # access requests come to them

    await link(h, examples, ADMIN_ID, KYIV)
    linked_staff = await help_for(ADMIN_ID)
    assert "бачите дані всіх громад" in linked_staff
    assert "Київська міська рада" in linked_staff

    await h.send(COORDINATOR, "/help", lang="en")
    assert "regional coordinator: Poltava Oblast" in h.request.texts()[-1]


# --- 5. invites opened by someone linked already ------------------------------------------


async def test_a_linked_official_does_not_use_up_a_colleagues_invite(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    colleague = await invite(examples, KREMENCHUK)
    await harness.send(OLENA, f"/start {colleague}")
    assert "Ви вже під'єднані до цієї ради" in harness.request.texts()[-1]
    assert "не використано" in harness.request.texts()[-1]
    await harness.send(STRANGER, f"/start {colleague}")  # the invite still works for them
    assert "✅ Готово!" in harness.request.texts()[-1]


async def test_an_invite_of_another_council_asks_before_switching(
    examples: Database, harness: Harness
) -> None:
    h = harness
    await link(h, examples, OLENA, KREMENCHUK)
    poltava = await invite(examples, POLTAVA)
    h.request.reset()
    await h.send(OLENA, f"/start {poltava}")
    [question] = h.request.of("sendMessage")
    assert "Кременчуцька міська рада" in question.params["text"]
    assert "Полтавська міська рада" in question.params["text"]
    switch, keep = h.request.buttons(question)
    assert switch == f"inv:sw:{poltava}" and keep == "inv:keep"

    await h.press(OLENA, keep)
    assert "нічого не змінено" in h.request.texts()[-1]
    await h.press(OLENA, "inv:sw:forged-code-123")  # forged: nothing changes
    assert h.request.answers()[-1] == "Ця кнопка вже не діє. Відкрийте розділ знову з меню."
    expired = await invite(examples, LUBNY, ttl=timedelta(seconds=-1))
    await h.press(OLENA, f"inv:sw:{expired}")
    assert "Термін дії" in (h.request.answers()[-1] or "")
    await h.send(OLENA, "/dues")
    assert "Кременчуцька міська рада" in h.request.texts()[-1]  # still her council

    await h.press(OLENA, switch)
    assert "✅ Готово!" in h.request.texts()[-2]
    assert "💰 Внески" in reply_keyboard(h.request.of("sendMessage")[-1].params)
    await h.send(OLENA, "/dues")
    assert "Полтавська міська рада" in h.request.texts()[-1]
    await h.press(OLENA, switch)  # twice: the invite is hers now, nothing more happens
    assert "за цим запрошенням" in h.request.texts()[-1]


# --- 6 and 7. staff see who asks; regions in the reader's language ---------------------------


async def test_staff_see_the_requesters_name_username_and_a_chat_link(
    examples: Database, harness: Harness
) -> None:
    h = harness
    await h.send(ADMIN_ID, "/start", lang="en")  # staff read English
    await send_as(
        h, 500, "🔑 Отримати доступ", first_name="Олена", last_name="К", username="olena_k"
    )
    await send_as(h, 500, "кременч", first_name="Олена", last_name="К", username="olena_k")
    await h.press(500, h.request.buttons()[0])
    await send_as(h, 500, "Олена Коваль", first_name="Олена", last_name="К", username="olena_k")
    await send_as(h, 500, "секретар", first_name="Олена", last_name="К", username="olena_k")
    await h.dispatch()
    [staff] = staff_calls(h)[-1:]
    text = staff.params["text"]
    assert 'Telegram: <a href="tg://user?id=500">Олена К</a> @olena_k' in text
    assert "Telegram: 500" not in text
    assert "Council: Kremenchuk City Council (Poltava Oblast)" in text


async def test_english_search_names_regions_in_english(
    examples: Database, harness: Harness
) -> None:
    await harness.send(STRANGER, "🔑 Request access", lang="en")
    await harness.send(STRANGER, "kremen", lang="en")
    call = harness.request.of("sendMessage")[-1]
    assert inline_labels(call.params) == ["Kremenchuk City Council (Poltava Oblast)"]
    await harness.send(STRANGER + 1, "🔑 Отримати доступ")
    await harness.send(STRANGER + 1, "кременч")
    uk = harness.request.of("sendMessage")[-1]
    assert inline_labels(uk.params) == ["Кременчуцька міська рада (Полтавська обл.)"]


def test_every_region_has_a_name_in_both_languages() -> None:
    assert len(REGIONS) == 27  # 24 oblasts, Kyiv, Crimea and Sevastopol
    for region in REGIONS:
        uk, en = (region_name(TRANSLATOR(lang), region) for lang in LANGUAGES)
        assert not uk.isascii() and en.isascii(), region
    assert len({region_name(TRANSLATOR("en"), r) for r in REGIONS}) == 27
    assert canonical("Полтавська область") == canonical(" Полтавська  обл.") == "Полтавська"
    assert canonical("м. Київ") == "Київ" and canonical("Нарнія") is None
    assert region_name(TRANSLATOR("en"), "Нарнія") == "Нарнія"  # shown as it is


# --- 8. one money format per language -----------------------------------------------------


async def test_english_money_has_one_format_even_in_the_formula(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, "04058953", lang="en")  # Lubny: the minimum applies
    await harness.send(OLENA, "/dues", lang="en")
    text = harness.request.texts()[-1]
    assert f"× UAH{NBSP}1.16" in text
    assert f"minimum of UAH{NBSP}" in text or "minimum" not in text
    assert not re.search(r"\d[\s\xa0]?UAH", text), text  # never "1,000.00 UAH"
    assert f"UAH{NBSP}" in text


# --- 9. wording -----------------------------------------------------------------------------


def test_ukrainian_never_puts_a_council_name_after_a_noun_it_does_not_agree_with() -> None:
    from babel.messages.pofile import read_po

    from bot.i18n import BABEL_LOCALES
    from locales import catalog_file

    with catalog_file("uk").open("rb") as fh:
        catalog = read_po(fh, locale=BABEL_LOCALES["uk"])
    wrong = re.compile(r"(громад[иуі]|рад[иуі])\s+(<b>)?\{(name|member|current)\}")
    bad = [m.id for m in catalog if m.id and wrong.search(str(m.string))]
    assert bad == []
    uk = TRANSLATOR("uk")
    counts = {"file": "f", "created": 0, "updated": 0, "unchanged": 0}
    rows = uk.tn("cli.import_done", "cli.import_done.plural", 32, **counts)
    assert "32 рядки" in rows
    rows = uk.tn("cli.import_done", "cli.import_done.plural", 21, **counts)
    assert "21 рядок" in rows


async def test_a_too_long_search_is_called_too_long(harness: Harness) -> None:
    await harness.send(STRANGER, "🔑 Отримати доступ")
    await harness.send(STRANGER, "к" * 101)
    assert harness.request.texts()[-1] == "Назва надто довга: напишіть не більше 100 символів."


async def test_linked_text_names_the_council_in_the_nominative(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    text = harness.request.texts()[-1]
    assert "Рада: <b>Кременчуцька міська рада</b>" in text
    assert "до громади" not in text


# --- 10. the welcome promises only what exists --------------------------------------------


@pytest.mark.parametrize(
    ("lang", "features", "not_yet"),
    [
        ("uk", ("внеск", "заход", "навчан"), ("нагадуван", "оголошен")),
        ("en", ("dues", "event", "training"), ("reminder", "announcement")),
    ],
)
async def test_the_welcome_promises_only_what_the_bot_does(
    harness: Harness, lang: str, features: tuple[str, ...], not_yet: tuple[str, ...]
) -> None:
    """Dues and the programme of events and trainings exist; reminders and announcements
    come with the notification engine, and the welcome must not promise them before."""
    await harness.send(STRANGER, "/start", lang=lang)
    text = harness.request.texts()[-1].lower()
    assert [word for word in features if word in text] == list(features)
    assert not [word for word in not_yet if word in text]


# --- 11. /dues with a code ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["abc", "1234567", "123456789", "０４０５７２８７"])
async def test_staff_are_told_a_code_is_not_an_edrpou(
    examples: Database, harness: Harness, code: str
) -> None:
    await harness.send(ADMIN_ID, f"/dues {code}")
    assert "не код ЄДРПОУ" in harness.request.texts()[-1]


async def test_an_official_naming_another_council_is_told_they_see_only_their_own(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.send(OLENA, f"/dues {LUBNY}")
    assert harness.request.texts()[-1] == (
        "Ви можете переглядати внески лише своєї ради. Натисніть «💰 Внески» або надішліть "
        "/dues без коду."
    )
    await harness.send(OLENA, f"/dues {KREMENCHUK}")  # their own code is fine
    assert f"248{NBSP}530,00{NBSP}₴" in harness.request.texts()[-1]


# --- 12. payment history states the purpose once ------------------------------------------


async def test_payment_history_states_the_purpose_once(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.press(OLENA, f"dues:h:{await member_id(examples, KREMENCHUK)}:0")
    text = harness.request.texts()[-1]
    assert "→ Членські внески, 2025:" in text
    for payment in text.split("\n\n")[1:]:
        lines = [line.strip() for line in payment.split("\n")]
        purposes = {line.split(": ", 1)[1] for line in lines if line.startswith("призначення")}
        settled = {line.removeprefix("→ ").rsplit(":", 1)[0] for line in lines}
        assert not purposes & settled, payment


# --- 21. the error handler speaks the caller's language -----------------------------------


async def test_errors_are_apologised_for_in_the_callers_language(
    examples: Database, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services import dues

    async def broken(**_: object) -> None:
        raise RuntimeError("database went away")

    await link(harness, examples, OLENA, KREMENCHUK, lang="en")
    await link(harness, examples, OLENA + 1, KREMENCHUK, lang="uk")
    await harness.press(OLENA + 1, "set:lang:en")  # chose English in a Ukrainian client
    monkeypatch.setattr(dues, "statement", broken)
    apology = "😔 Something went wrong, and we have been told. Please try again in a minute."
    await harness.send(OLENA, "/dues", lang="en")
    assert harness.request.texts()[-1] == apology
    await harness.send(OLENA + 1, "/dues", lang="uk")
    assert harness.request.texts()[-1] == apology


async def test_a_failing_gate_gets_one_apology_in_telegrams_language(
    examples: Database, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services import callers

    async def broken(**_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(callers, "identify", broken)
    monkeypatch.setattr(callers, "language_of", broken)
    await harness.send(STRANGER, "/help", lang="en")
    assert harness.request.texts() == [
        "😔 Something went wrong, and we have been told. Please try again in a minute."
    ]


# --- 23. HTML and no link previews by default; the database closed at shutdown ------------


async def test_html_without_previews_is_the_default_and_shutdown_disposes_the_db(
    examples: Database, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = harness.app.bot.defaults
    assert defaults is not None and defaults.parse_mode == ParseMode.HTML
    assert defaults.link_preview_options is not None
    assert defaults.link_preview_options.is_disabled
    await harness.send(STRANGER, "/help")
    [call] = harness.request.of("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    for path in (ROOT / "handlers").glob("*.py"):
        source = path.read_text()
        assert '"HTML"' not in source and "ParseMode.HTML" not in source, path.name

    disposed: list[bool] = []

    async def dispose() -> None:
        disposed.append(True)

    app = build_application(harness.runtime, request=harness.request, publish_commands=False)
    monkeypatch.setattr(harness.runtime.db, "dispose", dispose)
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    assert disposed


# --- 25. one place for names, roles, callback data; typed user data ----------------------


def test_every_callback_data_fits_telegrams_limit() -> None:
    # Importing `handlers` imported every feature module, so every kind is declared.
    prefixes = {cb.prefix for cb in Callback.every}
    assert {"dues:y", "dues:h", "dues:s", "acc:m", "acc", "acc:new", "set:lang", "inv:sw"} <= (
        prefixes
    )
    events = {"ev:l", "ev:fk", "ev:fs", "ev:o", "ev:r", "ev:c", "ev:i", "my:c"}
    staff = {"adm:l", "adm:o", "adm:x", "adm:a", "adm:p", "adm:pa", "adm:k", "adm:kk"}
    assert events | staff <= prefixes
    for cb in Callback.every:
        longest = cb.longest()
        assert len(longest.encode()) <= MAX_BYTES, longest
        assert cb.pattern.match(longest)
    # Each prefix is declared once, and no kind's data is taken by another kind's pattern.
    assert len(prefixes) == len(Callback.every)
    for cb in Callback.every:
        others = [
            o.prefix for o in Callback.every if o is not cb and o.pattern.match(cb.longest())
        ]
        assert others == [], cb.prefix


def test_callback_data_is_checked_when_built() -> None:
    cb = Callback("test:x", (handlers.callback_data.ID,))
    Callback.every.remove(cb)
    assert cb.build(42) == "test:x:42"
    for bad in ("4 2", "-1", "1" * 10, "٣", "42\n"):
        with pytest.raises(ValueError, match="bad values"):
            cb.build(bad)
    with pytest.raises(ValueError, match="bad values"):
        cb.build(1, 2)


def _handler_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in (ROOT / "handlers").glob("*.py")}


def test_handlers_hold_no_role_rules_name_picks_or_untyped_user_data() -> None:
    for name, source in _handler_sources().items():
        assert not re.search(r"\.role\s*(==|!=|in\b)", source), name  # services decide
        assert "name_en if" not in source, name  # Tr.name picks a council's name
        assert "# type: ignore" not in source, name
        assert "user_data[" not in source and "user_data.pop" not in source, name
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name != "i18n.py":
            assert "name_en if" not in path.read_text(), path


def test_handlers_build_callback_data_only_through_their_declarations() -> None:
    for name, source in _handler_sources().items():
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "pattern":
                assert isinstance(node.value, ast.Attribute), name  # X.pattern, not a literal
            if isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
                first = str(node.values[0].value)
                assert not re.match(r"^[a-z]+:[a-z]+:", first), (name, first)


# --- 26. a person who blocked the bot is remembered ---------------------------------------


def _fail_sends_to(h: Harness, chat_id: int, error: Exception, monkeypatch: Any) -> None:
    original = h.request.do_request

    async def do_request(
        url: str, method: str, request_data: RequestData | None = None, **kw: Any
    ) -> tuple[int, bytes]:
        params = request_data.parameters if request_data else {}
        if url.endswith("/sendMessage") and str(params.get("chat_id")) == str(chat_id):
            raise error
        return await original(url, method, request_data, **kw)

    monkeypatch.setattr(h.request, "do_request", do_request)


async def blocked_at(db: Database, telegram_id: int) -> object:
    async with db.session() as session:
        return (
            await session.execute(
                select(col(TelegramUser.blocked_at)).where(col(TelegramUser.id) == telegram_id)
            )
        ).scalar_one()


async def test_staff_who_blocked_the_bot_are_marked_and_the_request_still_goes_out(
    examples: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await Harness.start(examples, admin_ids=frozenset({ADMIN_ID, ADMIN_ID + 1}))
    try:
        await h.send(ADMIN_ID, "/start")
        await h.send(ADMIN_ID + 1, "/start")
        _fail_sends_to(
            h, ADMIN_ID, Forbidden("Forbidden: bot was blocked by the user"), monkeypatch
        )
        await start_request(h, STRANGER, "кременч")
        await h.send(STRANGER, "Іван Іваненко")
        await h.send(STRANGER, "бухгалтер")
        assert "надіслано секретаріату" in h.request.texts(STRANGER)[-1]
        await h.dispatch()  # staff hear of it from the outbox
        assert h.request.texts(ADMIN_ID + 1)  # the other staff member heard of it
        assert await blocked_at(examples, ADMIN_ID) is not None
        assert await blocked_at(examples, ADMIN_ID + 1) is None
        monkeypatch.undo()
        await h.send(ADMIN_ID, "/help")  # writing again means they unblocked us
        assert await blocked_at(examples, ADMIN_ID) is None
    finally:
        await h.stop()


@pytest.mark.parametrize(
    ("message", "marked"),
    [
        ("Forbidden: user is deactivated", True),
        ("Forbidden: bot was blocked by the user", True),
        # The outbox treats every 403 as final: until they write to the bot again.
        ("Forbidden: bot can't initiate conversation with a user", True),
    ],
)
async def test_a_requester_who_is_gone_is_marked_when_told_the_decision(
    examples: Database,
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    message: str,
    marked: bool,
) -> None:
    h = harness
    await start_request(h, STRANGER, "кременч")
    await h.send(STRANGER, "Іван Іваненко")
    await h.send(STRANGER, "бухгалтер")
    await h.dispatch()
    approve = h.request.buttons(staff_calls(h)[-1])[0]
    _fail_sends_to(h, STRANGER, Forbidden(message), monkeypatch)
    await h.press(ADMIN_ID, approve)
    assert "погоджено" in h.request.texts(ADMIN_ID)[-1]  # staff saw the decision all the same
    await h.dispatch()
    assert (await blocked_at(examples, STRANGER) is not None) is marked


# --- 27. the import contracts are checked, and hold ---------------------------------------


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(  # noqa: S603 - our own tool, no shell
        [str(lint)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_ukrainian_sort_key_follows_the_alphabet() -> None:
    from bot.text import UKRAINIAN_ALPHABET, ukrainian_sort_key

    words = ["Яготин", "Ґалаґан", "гадяч", "Євпаторія", "Ірпінь", "Їжакевич", "Жашків", "Иване"]
    assert sorted(words, key=ukrainian_sort_key) == [
        "гадяч",
        "Ґалаґан",
        "Євпаторія",
        "Жашків",
        "Иване",
        "Ірпінь",
        "Їжакевич",
        "Яготин",
    ]
    assert sorted(UKRAINIAN_ALPHABET[::-1], key=ukrainian_sort_key) == list(UKRAINIAN_ALPHABET)
    # The apostrophe does not count, capitals sort with small letters, spaces before letters.
    assert ukrainian_sort_key("Кам'янка") == ukrainian_sort_key("камʼянка")
    assert sorted(["Нова Одеса", "Новаки"], key=ukrainian_sort_key) == ["Нова Одеса", "Новаки"]
    assert sorted(["Lviv", "Львів", "2-га"], key=ukrainian_sort_key) == ["2-га", "Львів", "Lviv"]
