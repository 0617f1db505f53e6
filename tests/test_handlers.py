"""Handler tests: the real Application, fed updates, its Bot API calls recorded."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from telegram.error import NetworkError

from bot.db import Database
from bot.services import invites, members
from models import Role
from tests.conftest import NOW
from tests.harness import ADMIN_ID, Harness

OLENA, STRANGER, POLTAVA_OFFICIAL, COORDINATOR = 111, 222, 333, 444
KREMENCHUK, POLTAVA, KYIV = "04057287", "04050644", "22889304"
NBSP = "\xa0"


async def invite(db: Database, code: str, role: Role = Role.OFFICIAL, **kw: object) -> str:
    async with db.session() as session:
        issued = await invites.create_invites(
            session=session,
            member_code=code,
            role=role,
            count=1,
            now=NOW,
            **kw,  # type: ignore[arg-type]
        )
    return issued[0].code


async def member_id(db: Database, code: str) -> int:
    async with db.session() as session:
        member = await members.member_by_code(session=session, code=code)
    assert member is not None and member.id is not None
    return member.id


async def link(
    h: Harness, db: Database, user: int, code: str, role: Role = Role.OFFICIAL, lang: str = "uk"
) -> None:
    await h.send(user, f"/start {await invite(db, code, role)}", lang=lang)


def reply_keyboard(call_params: dict[str, object]) -> list[str]:
    markup = call_params.get("reply_markup")
    data = json.loads(markup) if isinstance(markup, str) else markup
    assert isinstance(data, dict)
    return [b["text"] for row in data.get("keyboard", []) for b in row]


async def test_stranger_start_gets_welcome_and_access_menu(harness: Harness) -> None:
    await harness.send(STRANGER, "/start")
    [call] = harness.request.of("sendMessage")
    assert "Асоціації міст України" in call.params["text"]
    assert "🔑 Отримати доступ" in reply_keyboard(call.params)
    assert "💰 Внески" not in reply_keyboard(call.params)


async def test_english_client_is_answered_in_english(harness: Harness) -> None:
    await harness.send(STRANGER, "/start", lang="en-GB")
    assert "Association of Ukrainian Cities" in harness.request.texts()[-1]
    await harness.send(STRANGER + 1, "/start", lang="de")
    assert "Асоціації" in harness.request.texts()[-1]  # anything else: Ukrainian


async def test_invite_links_and_dues_show_the_statement(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    linked = harness.request.of("sendMessage")[-1]
    assert "Кременчуцька міська рада" in linked.params["text"]
    assert "💰 Внески" in reply_keyboard(linked.params)

    harness.request.reset()
    await harness.send(OLENA, "💰 Внески")  # the menu button
    text = harness.request.texts()[-1]
    assert f"248{NBSP}530,00{NBSP}₴" in text
    assert "Членські внески" in text and "Цільовий внесок до Фонду" in text
    assert "214\xa0250 жит. × 1,16\xa0₴" in text  # the formula
    assert f"⚠️ прострочено: 48{NBSP}530,00{NBSP}₴" in text
    assert f"Загальний борг: 297{NBSP}060,00{NBSP}₴" in text
    mid = await member_id(examples, KREMENCHUK)
    assert harness.request.buttons() == [
        f"dues:y:{mid}:2024",
        f"dues:y:{mid}:2025",
        f"dues:h:{mid}:0",
    ]


async def test_year_paging_and_history(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    mid = await member_id(examples, KREMENCHUK)
    harness.request.reset()
    await harness.press(OLENA, f"dues:y:{mid}:2024")
    [edit] = harness.request.of("editMessageText")
    assert "<b>2024 рік</b>" in edit.params["text"]
    assert "✅ сплачено повністю" in edit.params["text"]
    assert f"dues:y:{mid}:2025" in harness.request.buttons(edit)
    assert f"dues:s:{mid}" in harness.request.buttons(edit)

    harness.request.reset()
    await harness.press(OLENA, f"dues:h:{mid}:0")
    text = harness.request.texts()[-1]
    assert "Історія платежів" in text
    assert "4 платежі" in text
    assert "PN-2025-0062" in text
    assert harness.request.answers() == [None]  # the spinner is stopped


async def test_same_in_english(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK, lang="en")
    assert "Kremenchuk City Council" in harness.request.texts()[-1]
    await harness.send(OLENA, "/dues", lang="en")
    text = harness.request.texts()[-1]
    assert f"UAH{NBSP}248,530.00" in text
    assert "Contribution to the Fund" in text
    assert "overdue" in text


async def test_language_switch_changes_menu_and_commands(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.send(OLENA, "/settings")
    assert harness.request.buttons()[:2] == ["set:lang:uk", "set:lang:en"]
    harness.request.reset()
    await harness.press(OLENA, "set:lang:en")
    assert harness.request.answers() == ["Saved"]
    menu_call = harness.request.of("sendMessage")[-1]
    assert "💰 Dues" in reply_keyboard(menu_call.params)
    [commands] = harness.request.of("setMyCommands")
    assert "My council's dues" in str(commands.params["commands"])
    # The choice sticks although the Telegram client still says Ukrainian.
    await harness.send(OLENA, "💰 Внески", lang="uk")  # an old keyboard still works
    assert "Membership dues" in harness.request.texts()[-1]


async def test_stranger_never_sees_figures(examples: Database, harness: Harness) -> None:
    mid = await member_id(examples, KREMENCHUK)
    await harness.send(STRANGER, "/dues")
    await harness.send(STRANGER, f"/dues {KREMENCHUK}")
    for data in (f"dues:y:{mid}:2025", f"dues:h:{mid}:0", f"dues:s:{mid}"):
        await harness.press(STRANGER, data)
    everything = " ".join(harness.request.texts()) + " ".join(
        a or "" for a in harness.request.answers()
    )
    assert "530" not in everything and "Кременчуцька" not in everything
    assert harness.request.answers() == ["Ці дані вам недоступні."] * 3
    assert not harness.request.of("editMessageText")


async def test_other_council_cannot_see_kremenchuk(examples: Database, harness: Harness) -> None:
    await link(harness, examples, POLTAVA_OFFICIAL, POLTAVA)
    mid = await member_id(examples, KREMENCHUK)
    harness.request.reset()
    await harness.send(POLTAVA_OFFICIAL, f"/dues {KREMENCHUK}")  # officials cannot name a council
    assert "лише своєї ради" in harness.request.texts()[-1]  # item 11: told so, not ignored
    for data in (f"dues:y:{mid}:2025", f"dues:h:{mid}:0", f"dues:s:{mid}"):
        await harness.press(POLTAVA_OFFICIAL, data)
    everything = " ".join(harness.request.texts())
    assert "Кременчуцька" not in everything and "248" not in everything


async def test_coordinator_sees_region_only_and_staff_sees_all(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, COORDINATOR, POLTAVA, Role.COORDINATOR)
    await harness.send(COORDINATOR, f"/dues {KREMENCHUK}")  # same oblast
    assert "Кременчуцька міська рада" in harness.request.texts()[-1]
    await harness.send(COORDINATOR, f"/dues {KYIV}")  # another region
    assert harness.request.texts()[-1] == "Ці дані вам недоступні."
    await harness.send(ADMIN_ID, f"/dues {KYIV}")
    assert "Київська міська рада" in harness.request.texts()[-1]
    await harness.send(ADMIN_ID, "/dues 12345678")
    assert "12345678" in harness.request.texts()[-1] and "немає" in harness.request.texts()[-1]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("nosuchcode", "Такого запрошення немає"),
        ("bad!code", "Такого запрошення немає"),
        ("x" * 65, "Такого запрошення немає"),
    ],
)
async def test_bad_invite_codes(
    examples: Database, harness: Harness, code: str, expected: str
) -> None:
    await harness.send(STRANGER, f"/start {code}")
    assert expected in harness.request.texts()[-1]
    await harness.send(STRANGER, "/dues")
    assert "лише посадові особи" in harness.request.texts()[-1]


async def test_used_and_expired_invites(examples: Database, harness: Harness) -> None:
    code = await invite(examples, KREMENCHUK)
    await harness.send(OLENA, f"/start {code}")
    await harness.send(STRANGER, f"/start {code}")
    assert "вже використано" in harness.request.texts()[-1]
    await harness.send(OLENA, f"/start {code}")
    assert "вже під'єднані" in harness.request.texts()[-1]
    expired = await invite(examples, KREMENCHUK, ttl=timedelta(seconds=-1))
    await harness.send(STRANGER, f"/start {expired}")
    assert "Термін дії" in harness.request.texts()[-1]


async def test_access_request_approved_with_one_tap(examples: Database, harness: Harness) -> None:
    await harness.send(STRANGER, "🔑 Отримати доступ")
    assert "частину назви" in harness.request.texts()[-1]
    await harness.send(STRANGER, "кр")  # too short
    assert "щонайменше 3" in harness.request.texts()[-1]
    await harness.send(STRANGER, "кременч")
    [choice] = harness.request.buttons()
    await harness.press(STRANGER, "acc:m:999999")  # forged: no such council
    assert harness.request.answers()[-1] == "Ця кнопка вже не діє. Відкрийте розділ знову з меню."
    await harness.press(STRANGER, choice)
    await harness.send(STRANGER, "x" * 5000)  # too long a name
    assert "від 2 до 200" in harness.request.texts()[-1]
    await harness.send(STRANGER, "Іван <Іваненко>")
    await harness.send(STRANGER, "бухгалтер")
    assert "надіслано секретаріату" in harness.request.texts(STRANGER)[-1]
    assert harness.request.texts(ADMIN_ID) == []  # staff hear of it from the outbox
    assert await harness.dispatch() == 1
    staff_call = [c for c in harness.request.of("sendMessage") if c.params["chat_id"] == ADMIN_ID][
        -1
    ]
    assert "Іван &lt;Іваненко&gt;" in staff_call.params["text"]  # user input is escaped
    approve, deny = harness.request.buttons(staff_call)

    await harness.press(STRANGER, approve)  # not staff: refused
    assert harness.request.answers()[-1] == "Рішення щодо запитів ухвалює секретаріат."
    await harness.press(ADMIN_ID, approve)
    assert "погоджено" not in harness.request.texts(STRANGER)[-1]
    assert await harness.dispatch() == 1
    assert "погоджено" in harness.request.texts(STRANGER)[-1]
    menu_call = harness.request.of("sendMessage")[-1]
    assert "Внески" in str(menu_call.params["reply_markup"])  # the menu now offers dues
    await harness.press(ADMIN_ID, deny)  # a second tap changes nothing
    assert harness.request.answers()[-1] == "Щодо цього запиту рішення вже ухвалено."
    await harness.send(STRANGER, "/dues")
    assert f"248{NBSP}530,00{NBSP}₴" in harness.request.texts()[-1]


async def test_access_request_denied_and_cancel(examples: Database, harness: Harness) -> None:
    await harness.send(STRANGER, "🔑 Отримати доступ")
    await harness.send(STRANGER, "/cancel")
    assert harness.request.texts()[-1] == "Скасовано."
    await harness.send(STRANGER, "Полтав")  # no conversation now: the fallback answers
    assert "не зрозумів" in harness.request.texts()[-1]
    await harness.send(STRANGER, "🔑 Отримати доступ")
    await harness.send(STRANGER, "Полтавська")
    await harness.press(STRANGER, harness.request.buttons()[0])
    await harness.send(STRANGER, "Марія Коваль")
    await harness.send(STRANGER, "секретар")
    await harness.dispatch()
    staff_call = [c for c in harness.request.of("sendMessage") if c.params["chat_id"] == ADMIN_ID][
        -1
    ]
    await harness.press(ADMIN_ID, harness.request.buttons(staff_call)[1])
    await harness.dispatch()
    assert "відхилено" in harness.request.texts(STRANGER)[-1]
    await harness.send(STRANGER, "/dues")
    assert "лише посадові особи" in harness.request.texts()[-1]


async def test_group_chats_never_get_member_data(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    harness.request.reset()
    await harness.send(OLENA, "/dues", chat_id=-100123, chat_type="supergroup")
    await harness.send(OLENA, "/dues@other_bot", chat_id=-100123, chat_type="supergroup")
    await harness.send(OLENA, "just chatting", chat_id=-100123, chat_type="supergroup")
    mid = await member_id(examples, KREMENCHUK)
    await harness.press(OLENA, f"dues:y:{mid}:2025", chat_id=-100123, chat_type="supergroup")
    texts = harness.request.texts()
    assert texts == ["Дані громад я показую лише в особистому чаті. Напишіть мені напряму."]
    assert not harness.request.of("editMessageText")


async def test_edited_messages_are_ignored(examples: Database, harness: Harness) -> None:
    await harness.send(OLENA, "/dues", edited=True)
    assert harness.request.texts() == []


async def test_unknown_input_gets_a_localised_hint(harness: Harness) -> None:
    await harness.send(STRANGER, "/frobnicate")
    assert "Такої команди немає" in harness.request.texts()[-1]
    await harness.send(STRANGER, "<b>" * 2000)
    assert "не зрозумів" in harness.request.texts()[-1]
    await harness.press(STRANGER, "dues:y:1:99999")
    await harness.press(STRANGER, "⚠️" * 30)
    assert (
        harness.request.answers() == ["Ця кнопка вже не діє. Відкрийте розділ знову з меню."] * 2
    )
    await harness.send(STRANGER, "/cancel")
    assert harness.request.texts()[-1] == "Немає чого скасовувати."
    await harness.send(STRANGER, "/help", lang="en")
    assert "Request access" in harness.request.texts()[-1]


async def test_a_failing_update_is_apologised_for_and_the_bot_goes_on(
    examples: Database, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    harness.request.fail["sendMessage"] = NetworkError("connection reset")
    await harness.send(OLENA, "/dues")
    assert "update" in caplog.text and "connection reset" in caplog.text
    assert harness.request.texts()[-1].startswith("😔 Щось пішло не так")
    await harness.send(OLENA, "/dues")  # the next update is served normally
    assert f"248{NBSP}530,00{NBSP}₴" in harness.request.texts()[-1]


async def test_a_database_failure_is_apologised_for(
    examples: Database, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services import dues

    async def broken(**_: object) -> None:
        raise RuntimeError("database went away")

    await link(harness, examples, OLENA, KREMENCHUK)
    monkeypatch.setattr(dues, "statement", broken)
    await harness.send(OLENA, "/dues")
    assert harness.request.texts()[-1].startswith("😔")


async def test_staff_without_a_council_get_a_staff_welcome(
    examples: Database, harness: Harness
) -> None:
    await harness.send(ADMIN_ID, "/start")
    call = harness.request.of("sendMessage")[-1]
    assert "працівник секретаріату" in call.params["text"]
    assert "💰 Внески" in reply_keyboard(call.params)
    await harness.send(ADMIN_ID, "💰 Внески")
    assert harness.request.texts()[-1] == "Вкажіть код ЄДРПОУ громади, наприклад: /dues 04057287"
