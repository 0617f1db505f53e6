"""End to end: broadcasts through the real `amu-bot` process and the local Bot API over HTTP.

SIGKILL mid-broadcast loses nothing and repeats at most the messages in flight; 429 and 403
injected by the local Bot API are handled; sends stay within the per-chat limit.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.db import Database
from bot.localapi import Call, FakeBotAPI
from bot.services import announcements
from models import Outbox, OutboxStatus, TelegramUser
from tests.notify_support import add_member, add_person
from tests.test_e2e import ADMIN, TOKEN, _amu_bot, _env, stop_bot

FIRST = 5000


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN, bot_username="amu_e2e_bot") as api:
        yield api


@contextmanager
def bot(fake: FakeBotAPI, database_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`amu-bot run` with quiet hours off (the test may run at night) and fast pacing."""
    env = _env(fake, database_url, QUIET_HOURS="off", SEND_RATE="25")
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [*_amu_bot(), "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        stop_bot(proc)


async def officials(db: Database, n: int) -> list[int]:
    ids = list(range(FIRST, FIRST + n))
    async with db.session() as session:
        member = await add_member(session, "04057287", region="Полтавська")
        for tg in ids:
            await add_person(session, tg, member, lang="uk" if tg % 2 else "en")
        await session.commit()
    return ids


async def announce(fake: FakeBotAPI, database_url: str, tmp_path: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *_amu_bot(),
        "announce",
        *args,
        env=_env(fake, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def ident(said: str) -> str:
    found = re.search(r"Announcement (\d+)", said)
    assert found, said
    return found.group(1)


def delivered(fake: FakeBotAPI) -> list[Call]:
    return [
        c
        for c in fake.calls_of("sendMessage")
        if c.ok and isinstance(c.params.get("chat_id"), int) and c.params["chat_id"] >= FIRST
    ]


async def until(predicate: object, seconds: float, what: str) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not predicate():
        if loop.time() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def statuses(db: Database) -> Counter[str]:
    async with db.session() as session:
        return Counter((await session.execute(select(col(Outbox.status)))).scalars())


async def test_sigkill_mid_broadcast_loses_nothing_and_repeats_only_in_flight(
    db: Database, fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    n = 300
    ids = await officials(db, n)
    text = tmp_path / "notice.txt"
    text.write_text("Форум громад відбудеться 12 березня <у Києві>.", encoding="utf-8")
    log = tmp_path / "bot.log"

    with bot(fake, database_url, log) as proc:
        said = await announce(
            fake, database_url, tmp_path, "--audience", "all", "--text-file", str(text)
        )
        assert f"recipients: {n}" in said
        await until(lambda: len(delivered(fake)) >= 60, 60, "the broadcast did not start")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before_restart = len(delivered(fake))
    assert before_restart < n, "the broadcast finished before the kill; raise n"
    state = await statuses(db)
    in_flight = state[OutboxStatus.SENDING]
    assert state[OutboxStatus.SENT] + in_flight + state[OutboxStatus.PENDING] == n

    with bot(fake, database_url, log):
        await until(
            lambda: {c.params["chat_id"] for c in delivered(fake)} >= set(ids),
            90,
            "not every official got the announcement after the restart",
        )
        report = await announce(fake, database_url, tmp_path, "status", ident(said))

    counts = Counter(c.params["chat_id"] for c in delivered(fake))
    repeated = sum(k - 1 for k in counts.values())
    assert set(counts) == set(ids)  # no loss
    assert repeated <= in_flight  # at most the messages in flight at the kill
    assert fake.messages(ids[0])[-1]["text"].endswith("<у Києві>.")  # shown as written
    assert re.search(rf"delivered: +{n}\n", report), report
    assert (await statuses(db))[OutboxStatus.SENT] == n
    assert "Traceback" not in log.read_text(encoding="utf-8")


async def test_429_and_403_from_the_bot_api(
    db: Database, fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    ids = await officials(db, 12)
    blocked = ids[3]
    fake.block_user(blocked)
    fake.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 2",
        retry_after=2,
    )
    text = tmp_path / "notice.txt"
    text.write_text("Засідання секції фінансів — завтра о 10:00.", encoding="utf-8")
    with bot(fake, database_url, tmp_path / "bot.log"):
        said = await announce(
            fake,
            database_url,
            tmp_path,
            "--audience",
            "region:Полтавська",
            "--text-file",
            str(text),
        )
        await until(
            lambda: {c.params["chat_id"] for c in delivered(fake)} >= set(ids) - {blocked},
            60,
            "the announcement was not delivered",
        )
        await until(
            lambda: (
                len(
                    [c for c in fake.calls_of("sendMessage") if c.params.get("chat_id") == blocked]
                )
                == 1
            ),
            10,
            "the blocked person was not tried exactly once",
        )
        report = await announce(fake, database_url, tmp_path, "status", ident(said))
    sends = fake.calls_of("sendMessage")
    rejected = [c for c in sends if not c.ok]
    assert sorted(c.response["error_code"] for c in rejected if c.response) == [403, 429]
    # After the 429 nothing new started before retry_after had passed: only sends already on
    # their way when the 429 came back may arrive (unpaced, all ten others would).
    flood = next(c for c in sends if c.response and c.response.get("error_code") == 429)
    early = [c for c in sends if c.index > flood.index and c.at - flood.at < 1.9]
    assert len(early) <= 4, [round(c.at - flood.at, 3) for c in early]
    assert len([c for c in sends if c.index > flood.index]) >= 10
    assert Counter(c.params["chat_id"] for c in delivered(fake)).most_common(1)[0][1] == 1
    assert re.search(r"blocked the bot: +1\n", report), report
    async with db.session() as session:
        person = await session.get(TelegramUser, blocked)
        assert person is not None and person.blocked_at is not None
    state = await statuses(db)
    assert (state[OutboxStatus.SENT], state[OutboxStatus.BLOCKED]) == (11, 1)


async def test_a_scheduled_announcement_goes_out_after_a_restart(
    db: Database, fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    """Planned while the bot was down: the start-up planner pass sends it, once."""
    ids = await officials(db, 3)
    text = tmp_path / "notice.txt"
    text.write_text("Нагадуємо про вебінар о 14:00.", encoding="utf-8")
    when = datetime.now(ZoneInfo("Europe/Kyiv")) + timedelta(seconds=3)
    said = await announce(
        fake,
        database_url,
        tmp_path,
        "--audience",
        "all",
        "--text-file",
        str(text),
        "--at",
        when.isoformat(timespec="seconds"),
    )
    assert "recipients now: 3" in said
    await asyncio.sleep(4)  # its time passes while no bot runs
    with bot(fake, database_url, tmp_path / "bot.log"):
        await until(
            lambda: {c.params["chat_id"] for c in delivered(fake)} == set(ids),
            20,  # the periodic pass comes only after 30 s: this needs the start-up pass
            "the scheduled announcement was not sent after start-up",
        )
        await asyncio.sleep(1.5)  # a second dispatcher round finds nothing more to send
    assert sorted(c.params["chat_id"] for c in delivered(fake)) == ids


async def test_staff_attach_a_document_and_every_official_gets_it_by_file_id(
    db: Database, fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    """Composed in Telegram with a PDF: the preview and every delivery re-send Telegram's
    file_id; a file_id Telegram does not know fails once and is never retried."""
    ids = await officials(db, 3)
    log = tmp_path / "bot.log"
    text = "Проєкт закону про місцеве самоврядування: просимо відгуки до п’ятниці."
    with bot(fake, database_url, log):
        fake.send_message(user_id=ADMIN, text="/announce")
        assert "Нове оголошення" in (await fake.await_reply(ADMIN, timeout=20)).params["text"]
        fake.send_message(user_id=ADMIN, text=text)
        await fake.await_reply(ADMIN)
        pdf = fake.send_document(user_id=ADMIN, content=b"%PDF-1.4 proekt", filename="proekt.pdf")
        added = await fake.await_reply(ADMIN)
        assert "«proekt.pdf» додано" in added.params["text"]
        for data in ("ann:nolink", "ann:a:0", "ann:now"):
            message_id = added.result["message_id"]
            fake.press_button(user_id=ADMIN, message_id=message_id, data=data)
            added = await fake.await_reply(ADMIN)
        preview = added
        assert preview.method == "sendDocument" and preview.params["document"] == pdf["file_id"]
        assert preview.params["caption"] == text
        summary = await fake.await_for(
            "sendMessage",
            predicate=lambda c: c.params.get("chat_id") == ADMIN,
            since=preview.index + 1,
        )
        fake.press_button(user_id=ADMIN, message_id=summary.result["message_id"], data="ann:ok")
        report = await fake.await_reply(ADMIN)
        assert "📎 Файл: proekt.pdf" in report.params["text"]

        def documents(file_id: str) -> list[Call]:
            return [
                c
                for c in fake.calls_of("sendDocument")
                if c.params.get("document") == file_id and c.params.get("chat_id") in ids
            ]

        await until(lambda: len(documents(pdf["file_id"])) == 3, 20, "not delivered")
        assert all(c.ok and c.params["caption"] == text for c in documents(pdf["file_id"]))
        assert all(
            c.result["document"]["file_name"] == "proekt.pdf" for c in documents(pdf["file_id"])
        )

        # A file_id Telegram never gave this bot: 400 Bad Request, failed, not retried.
        async with db.session() as session:
            item = await announcements.create(
                session=session,
                text="Із файлом, якого немає",
                audience="all",
                now=datetime.now(UTC),
                today=datetime.now(UTC).date(),
                document_file_id="BQACAgIAAxkBAAInever-seen",
                document_name="lost.pdf",
            )
        await until(lambda: len(documents("BQACAgIAAxkBAAInever-seen")) == 3, 20, "not tried")
        await asyncio.sleep(2.5)  # a few dispatcher rounds: nothing is tried again
        assert len(documents("BQACAgIAAxkBAAInever-seen")) == 3
        status = await announce(fake, database_url, tmp_path, "status", str(item.id))
    assert re.search(r"failed: +3\n", status) and "file:" in status and "lost.pdf" in status
    async with db.session() as session:
        rows = (
            (await session.execute(select(Outbox).where(col(Outbox.announcement_id) == item.id)))
            .scalars()
            .all()
        )
    assert {(r.status, r.attempts) for r in rows} == {(OutboxStatus.FAILED, 1)}
    assert all("wrong file identifier" in (r.last_error or "").lower() for r in rows)
    assert "Traceback" not in log.read_text(encoding="utf-8")
