"""End to end, events and trainings: the real `amu-bot run` against the local Bot API, uk and en.

Browse, register, full, waitlist, a cancellation promotes the first in line (who is told),
refusals after the deadline and over the council's limit, staff mark attendance of a
training, the certificate PDF arrives, and its verification deep link confirms it.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from bot.localapi import Call, FakeBotAPI
from tests.test_e2e import ADMIN, _amu_bot, _buttons, _env, _invite, bot_process, fake

__all__ = ["bot_process", "fake"]  # fixtures

OLENA, TARAS, STRANGER = 111, 112, 222
KYIV = ZoneInfo("Europe/Kyiv")
EVENTS_HEADER = (
    "code,kind,title_uk,title_en,starts_at,ends_at,location,capacity,registration_deadline,"
    "section,description_uk,description_en,per_council_limit"
)
TRAININGS_HEADER = (
    "code,format,title_uk,title_en,starts_at,ends_at,hours,capacity,registration_deadline,"
    "description_uk,description_en"
)


def _at(delta: timedelta) -> str:
    """A Kyiv wall-clock time, ISO 8601 without an offset, as staff write them."""
    return (datetime.now(UTC) + delta).astimezone(KYIV).strftime("%Y-%m-%dT%H:%M")


async def _cli(fake: FakeBotAPI, database_url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *_amu_bot(),
        *args,
        env=_env(fake, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


def _training_csv(path: Path, start: timedelta) -> None:
    path.write_text(
        TRAININGS_HEADER
        + "\n"
        + f"E2E-TR,seminar,Семінар з енергоаудиту,Energy audit seminar,{_at(start)},"
        + f"{_at(start + timedelta(hours=6))},8,10,,Практичний семінар.,A hands-on seminar.\n",
        encoding="utf-8",
    )


async def _press(fake: FakeBotAPI, user: int, message: Call, data: str, lang: str) -> str | None:
    """Press a button and return the text of the answer to it."""
    mid = message.result["message_id"]
    qid = fake.press_button(
        user_id=user, message_id=mid, data=data, language_code=lang, check=False
    )
    answer = await fake.await_for(
        "answerCallbackQuery",
        predicate=lambda c: c.params.get("callback_query_id") == qid,
        timeout=20,
    )
    text = answer.params.get("text")
    return str(text) if text is not None else None


def _to(user: int, needle: str = "") -> Callable[[Call], bool]:
    """A call to `user` whose parameters mention `needle`."""
    return lambda c: c.params.get("chat_id") == user and needle in str(c.params)


def _button(message: Call, prefix: str) -> str:
    found = [b for b in _buttons(message.params) if b.startswith(prefix)]
    assert found, (prefix, _buttons(message.params))
    return found[0]


async def _open(fake: FakeBotAPI, user: int, lang: str, title: str) -> Call:
    """/events, then the card of the event whose button shows `title`."""
    since = fake.mark()
    fake.send_message(user_id=user, text="/events", language_code=lang)
    catalog = await fake.await_reply(user, timeout=20)
    markup = catalog.params["reply_markup"]["inline_keyboard"]
    [data] = [b["callback_data"] for row in markup for b in row if title in b["text"]]
    await _press(fake, user, catalog, data, lang)
    return await fake.await_for(
        "editMessageText",
        predicate=lambda c: c.params.get("chat_id") == user and title in c.params["text"],
        since=since,
        timeout=20,
    )


async def test_events_and_certificates_end_to_end(
    bot_process: tuple[subprocess.Popen[bytes], Path],
    fake: FakeBotAPI,
    database_url: str,
    tmp_path: Path,
) -> None:
    proc, log_path = bot_process
    events_csv = tmp_path / "events.csv"
    events_csv.write_text(
        EVENTS_HEADER
        + "\n"
        + "E2E-SMALL,round_table,Круглий стіл про ЦНАП,Round table on service centres,"
        + f"{_at(timedelta(days=7))},{_at(timedelta(days=7, hours=2))},Полтава,1,,,,,\n"
        + "E2E-LATE,hearing,Слухання щодо тарифів,Hearing on tariffs,"
        + f"{_at(timedelta(days=3))},{_at(timedelta(days=3, hours=2))},Київ,50,"
        + f"{_at(-timedelta(hours=1))},,,,\n"
        + "E2E-LIMIT,forum,Форум громад,Forum of communities,"
        + f"{_at(timedelta(days=9))},{_at(timedelta(days=10))},Київ,400,,,,,1\n",
        encoding="utf-8",
    )
    assert "3 added" in await _cli(fake, database_url, "import", "events", str(events_csv))
    training_csv = tmp_path / "trainings.csv"
    _training_csv(training_csv, timedelta(days=2))
    assert "1 added" in await _cli(fake, database_url, "import", "trainings", str(training_csv))

    for user, lang, name in ((OLENA, "uk", "Olena"), (TARAS, "en", "Taras")):
        code = await _invite(fake, database_url)
        fake.send_message(user_id=user, text=f"/start {code}", language_code=lang, first_name=name)
        await fake.await_reply(user, timeout=20)

    # Olena (uk) browses and takes the only seat.
    card = await _open(fake, OLENA, "uk", "Круглий стіл про ЦНАП")
    assert "Вільне 1 місце з 1" in card.params["text"]
    assert await _press(fake, OLENA, card, _button(card, "ev:r:"), "uk") == "✅ Вас зареєстровано."

    # Taras (en) finds it full and joins the waitlist.
    card = await _open(fake, TARAS, "en", "Round table on service centres")
    assert "No seats left" in card.params["text"]
    answer = await _press(fake, TARAS, card, _button(card, "ev:r:"), "en")
    assert answer is not None and "waitlist, number 1" in answer

    # Olena cancels: Taras is promoted and told, in English.
    mark = fake.mark()
    card = await _open(fake, OLENA, "uk", "Круглий стіл про ЦНАП")
    assert await _press(fake, OLENA, card, _button(card, "ev:c:"), "uk") == "Реєстрацію скасовано."
    told = await fake.await_for(
        "sendMessage",
        predicate=lambda c: (
            c.params.get("chat_id") == TARAS and "seat has freed up" in c.params["text"]
        ),
        since=mark,
        timeout=20,
    )
    assert "Round table on service centres" in told.params["text"]

    # After the deadline: no button, and a forged one is refused.
    card = await _open(fake, OLENA, "uk", "Слухання щодо тарифів")
    assert "Реєстрацію закрито" in card.params["text"]
    event_id = _button(card, "ev:i:").rsplit(":", 1)[1]
    answer = await _press(fake, OLENA, card, f"ev:r:{event_id}", "uk")
    assert answer is not None and "реєстрацію вже закрито" in answer

    # Over the council's limit (one per council): Olena goes, Taras is refused.
    card = await _open(fake, OLENA, "uk", "Форум громад")
    assert await _press(fake, OLENA, card, _button(card, "ev:r:"), "uk") == "✅ Вас зареєстровано."
    card = await _open(fake, TARAS, "en", "Forum of communities")
    assert "already has 1 participant registered" in card.params["text"]
    event_id = _button(card, "ev:i:").rsplit(":", 1)[1]
    answer = await _press(fake, TARAS, card, f"ev:r:{event_id}", "en")
    assert answer is not None and "limit for this event" in answer

    # Both register for the training; it is moved to today (re-import), staff mark attendance.
    for user, lang in ((OLENA, "uk"), (TARAS, "en")):
        since = fake.mark()
        fake.send_message(user_id=user, text="/trainings", language_code=lang)
        catalog = await fake.await_reply(user, timeout=20)
        markup = catalog.params["reply_markup"]["inline_keyboard"]
        [data] = [
            b["callback_data"]
            for row in markup
            for b in row
            if "енергоаудит" in b["text"] or "Energy audit" in b["text"]
        ]
        await _press(fake, user, catalog, data, lang)
        card = await fake.await_for(
            "editMessageText",
            predicate=_to(user, "ev:r:"),
            since=since,
            timeout=20,
        )
        assert await _press(fake, user, card, _button(card, "ev:r:"), lang) in (
            "✅ Вас зареєстровано.",
            "✅ You are registered.",
        )
    training_id = _button(card, "ev:i:").rsplit(":", 1)[1]

    # Moved to another day: the planner tells both, each with a fresh calendar entry.
    mark = fake.mark()
    _training_csv(training_csv, timedelta(days=3))
    assert "1 updated" in await _cli(fake, database_url, "import", "trainings", str(training_csv))
    for user, needle in ((OLENA, "Змінено час або місце"), (TARAS, "Time or place changed")):
        moved = await fake.await_for(
            "sendDocument", predicate=_to(user, needle), since=mark, timeout=45
        )
        ics = fake.file_content(moved.result["document"]["file_id"])
        assert b"SEQUENCE:1" in ics and b"E2E-TR" in moved.result["document"]["file_name"].encode()

    _training_csv(training_csv, -timedelta(hours=1))
    assert "1 updated" in await _cli(fake, database_url, "import", "trainings", str(training_csv))

    fake.send_message(user_id=ADMIN, text="/admin", language_code="uk")
    staff = await fake.await_reply(ADMIN, timeout=20)
    await _press(fake, ADMIN, staff, f"adm:o:{training_id}", "uk")
    await _press(fake, ADMIN, staff, f"adm:a:{training_id}:0", "uk")
    mark = fake.mark()
    answer = await _press(fake, ADMIN, staff, f"adm:pa:{training_id}", "uk")
    assert answer is not None and "Сертифікатів видано: 2, надсилаємо: 2" in answer
    texts = {}
    for user in (OLENA, TARAS):
        doc = await fake.await_for("sendDocument", predicate=_to(user), since=mark)
        content = fake.file_content(doc.result["document"]["file_id"])
        texts[user] = " ".join(PdfReader(io.BytesIO(content)).pages[0].extract_text().split())
    assert "СЕРТИФІКАТ" in texts[OLENA] and "Olena" in texts[OLENA] and "8 годин" in texts[OLENA]
    assert "CERTIFICATE" in texts[TARAS] and "Taras" in texts[TARAS] and "8 hours" in texts[TARAS]
    link = re.search(r"amu_e2e_bot\?start=(verify-[A-Z0-9]{10})", texts[OLENA].replace(" ", ""))
    assert link is not None

    # Anyone who scans the QR code is told the certificate is genuine.
    fake.send_message(user_id=STRANGER, text=f"/start {link.group(1)}", language_code="uk")
    verified = (await fake.await_reply(STRANGER, timeout=20)).params["text"]
    assert "дійсний" in verified and "Olena" in verified and "8 годин" in verified

    assert proc.poll() is None
    assert "Traceback" not in log_path.read_bytes().decode()
