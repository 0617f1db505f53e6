"""End to end: the real `amu-bot run` process against the local fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.db import Database
from bot.localapi import FakeBotAPI

TOKEN = "700000001:e2e-SECRET-token-value"
ADMIN = 900
OLENA, TARAS, STRANGER = 111, 112, 222
NBSP = "\xa0"


def _amu_bot() -> list[str]:
    exe = shutil.which("amu-bot", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "bot"]


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN, bot_username="amu_e2e_bot") as api:
        yield api


def stop_bot(proc: subprocess.Popen[bytes]) -> None:
    """Stop a running `amu-bot` as Ctrl-C would; kill it if it has not ended in 20 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _env(fake: FakeBotAPI, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ADMIN_", "DATABASE_"))
    }
    env.update(
        BOT_TOKEN=TOKEN,
        BOT_API_URL=fake.base_url,
        DATABASE_URL=database_url,
        ADMIN_IDS=str(ADMIN),
        LANG="en_US.UTF-8",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@contextmanager
def running_bot(
    fake: FakeBotAPI, database_url: str, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`amu-bot run` as a child process, polling the fake; SIGINT (then kill) on the way out."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [*_amu_bot(), "run"],
            # Messages to others come from the outbox: none may wait for the morning here.
            env=_env(fake, database_url, QUIET_HOURS="off"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        fake.wait_for("deleteWebhook", timeout=30)  # polling starts right after it
        yield proc
    finally:
        stop_bot(proc)


@pytest.fixture
def bot_process(
    examples: Database, fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The bot running on the session database loaded with the sample data."""
    log_path = tmp_path / "bot.log"
    with running_bot(fake, database_url, log_path) as proc:
        yield proc, log_path


async def _invite(fake: FakeBotAPI, database_url: str, code: str = "04057287") -> str:
    """Issue an invite through the CLI (the bot, already running, has stored its username)."""
    proc = await asyncio.create_subprocess_exec(
        *_amu_bot(),
        "invite",
        code,
        env=_env(fake, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    link = out.decode().strip()
    assert link.startswith("https://t.me/amu_e2e_bot?start="), link
    return link.rsplit("=", 1)[1]


def _buttons(call_params: dict[str, object]) -> list[str]:
    markup = call_params.get("reply_markup") or {}
    assert isinstance(markup, dict)
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_invite_to_dues_statement_in_both_languages(
    bot_process: tuple[subprocess.Popen[bytes], Path], fake: FakeBotAPI, database_url: str
) -> None:
    proc, log_path = bot_process

    # The command menu is published per language.
    await fake.await_for(
        "setMyCommands", predicate=lambda c: c.params.get("language_code") == "en"
    )
    uk_commands = fake.commands(language_code="uk")
    assert any(c["command"] == "dues" and "Внески" in c["description"] for c in uk_commands)

    # Olena opens her invite link: Ukrainian welcome, linked, menu.
    code = await _invite(fake, database_url)
    fake.send_message(user_id=OLENA, text=f"/start {code}", language_code="uk")
    linked = await fake.await_reply(OLENA, timeout=20)
    assert "Кременчуцька міська рада" in linked.params["text"]

    fake.send_message(user_id=OLENA, text="💰 Внески", language_code="uk")
    statement = await fake.await_reply(OLENA)
    text = statement.params["text"]
    assert f"248{NBSP}530,00{NBSP}₴" in text
    assert "прострочено" in text

    # Page to the payment history and back.
    history = next(b for b in _buttons(statement.params) if b.startswith("dues:h:"))
    fake.press_button(user_id=OLENA, message_id=statement.result["message_id"], data=history)
    page = await fake.await_reply(OLENA)
    assert page.method == "editMessageText"
    assert "Історія платежів" in page.params["text"]

    # Her colleague reads English.
    code = await _invite(fake, database_url)
    fake.send_message(user_id=TARAS, text=f"/start {code}", language_code="en", first_name="Taras")
    assert "Kremenchuk City Council" in (await fake.await_reply(TARAS)).params["text"]
    fake.send_message(user_id=TARAS, text="/dues", language_code="en", first_name="Taras")
    english = (await fake.await_reply(TARAS)).params["text"]
    assert f"UAH{NBSP}248,530.00" in english

    # A stranger sees no figures, whatever they send.
    fake.send_message(user_id=STRANGER, text="/dues", language_code="uk")
    assert "лише посадові особи" in (await fake.await_reply(STRANGER)).params["text"]
    fake.send_message(user_id=STRANGER, text="/start " + code, language_code="uk")
    assert "вже використано" in (await fake.await_reply(STRANGER)).params["text"]

    # The process is healthy, stops cleanly on SIGINT, and never logged the token.
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    log = log_path.read_bytes().decode()
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert "Traceback" not in log


async def test_run_refuses_an_unknown_schema(fake: FakeBotAPI, tmp_path: Path) -> None:
    import sqlite3

    path = f"{tmp_path}/foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    proc = await asyncio.create_subprocess_exec(
        *_amu_bot(),
        "run",
        env=_env(fake, f"sqlite+aiosqlite:///{path}"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert "9999_from_the_future" in err.decode()
    assert not fake.calls_of("getUpdates")


async def test_run_brings_an_empty_database_up_to_date(fake: FakeBotAPI, tmp_path: Path) -> None:
    with running_bot(fake, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path / "log"):
        fake.send_message(user_id=STRANGER, text="/start", language_code="en")
        assert (
            "Association of Ukrainian Cities" in (await fake.await_reply(STRANGER)).params["text"]
        )


async def test_access_request_conversation_through_the_running_bot(
    bot_process: tuple[subprocess.Popen[bytes], Path], fake: FakeBotAPI
) -> None:
    """The conversation keeps its order under the real (concurrent) update scheduling."""
    # Queue the whole conversation at once: the bot must still take it step by step.
    for text in ("🔑 Отримати доступ", "кременч"):
        fake.send_message(user_id=STRANGER, text=text, language_code="uk")
    for other in range(300, 310):  # other people keep the bot busy meanwhile
        fake.send_message(user_id=other, text="/help", language_code="en")
    found = await fake.await_for(
        "sendMessage",
        predicate=lambda c: (
            c.params.get("chat_id") == STRANGER
            and "Знайдено" in c.params["text"]
            and bool(c.params.get("reply_markup", {}).get("inline_keyboard"))
        ),
        timeout=20,
    )
    [choice] = _buttons(found.params)
    fake.press_button(user_id=STRANGER, message_id=found.result["message_id"], data=choice)
    fake.send_message(user_id=STRANGER, text="Іван Іваненко", language_code="uk")
    fake.send_message(user_id=STRANGER, text="бухгалтер", language_code="uk")
    staff = await fake.await_for(
        "sendMessage", predicate=lambda c: c.params.get("chat_id") == ADMIN, timeout=20
    )
    assert "Іван Іваненко, бухгалтер" in staff.params["text"]
    approve = _buttons(staff.params)[0]
    fake.press_button(user_id=ADMIN, message_id=staff.result["message_id"], data=approve)
    told = await fake.await_for(
        "sendMessage",
        predicate=lambda c: (
            c.params.get("chat_id") == STRANGER and "погоджено" in c.params["text"]
        ),
        timeout=20,
    )
    assert "Кременчуцька міська рада" in told.params["text"]
    fake.send_message(user_id=STRANGER, text="💰 Внески", language_code="uk")
    assert f"248{NBSP}530,00{NBSP}₴" in (await fake.await_reply(STRANGER)).params["text"]


# --- invite offline, and `run` failing like a product -------------------------------------------


def _closed_port() -> int:
    """A local port nobody listens on (connections are refused at once)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_once(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [*_amu_bot(), *args], env=env, capture_output=True, text=True, timeout=90, check=False
    )


def _assert_product_failure(done: subprocess.CompletedProcess[str], message: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert message in " ".join(output.split()), output
    assert "Traceback" not in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert len(output.strip().splitlines()) <= 3, output


async def test_invite_works_offline_after_the_bot_has_run(
    examples: Database, fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    with running_bot(fake, database_url, tmp_path / "bot.log"):
        pass  # polling has started: the bot knows its username by now
    offline = _env(fake, database_url)
    offline["BOT_API_URL"] = f"http://127.0.0.1:{_closed_port()}/bot"
    del offline["BOT_TOKEN"]
    done = _run_once(offline, "invite", "04057287")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith("https://t.me/amu_e2e_bot?start="), link
    # The link works: the bot, running again, links the person who opens it.
    with running_bot(fake, database_url, tmp_path / "bot2.log"):
        fake.send_message(user_id=OLENA, text=f"/start {link.rsplit('=', 1)[1]}")
        assert "Кременчуцька міська рада" in (await fake.await_reply(OLENA)).params["text"]
    # --bot-username still wins over what the bot remembered.
    named = _run_once(offline, "invite", "04057287", "--bot-username", "@other_bot")
    assert named.stdout.startswith("https://t.me/other_bot?start="), named.stderr


def test_run_with_a_rejected_token(fake: FakeBotAPI, tmp_path: Path) -> None:
    env = _env(fake, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    env["BOT_TOKEN"] = TOKEN.replace("e2e", "old")  # right shape, but Telegram says 401
    rejected = TOKEN.replace("e2e", "old")
    done = _run_once(env, "run")
    _assert_product_failure(done, "Telegram rejected the bot token (BOT_TOKEN)")
    assert rejected not in done.stdout + done.stderr
    assert rejected.split(":")[1] not in done.stdout + done.stderr
    uk = _run_once({**env, "LANG": "uk_UA.UTF-8"}, "run")
    assert "Telegram не прийняв токен бота" in uk.stderr


def test_run_without_network(fake: FakeBotAPI, tmp_path: Path) -> None:
    env = _env(fake, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    env["BOT_API_URL"] = f"http://127.0.0.1:{_closed_port()}/bot"
    _assert_product_failure(_run_once(env, "run"), "Cannot reach the Telegram Bot API")
    uk = _run_once({**env, "LANG": "uk_UA.UTF-8"}, "run")
    _assert_product_failure(uk, "Немає зв'язку з Telegram Bot API")


@pytest.mark.parametrize("where", ["postgresql", "sqlite-missing-folder"])
def test_run_with_an_unreachable_database(fake: FakeBotAPI, tmp_path: Path, where: str) -> None:
    url = (
        f"postgresql+asyncpg://amu:secret-pw@127.0.0.1:{_closed_port()}/amu"
        if where == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'a.db'}"
    )
    en_message, uk_message = (
        ("Cannot reach the database", "Немає зв'язку з базою даних")
        if where == "postgresql"
        else ("There is no folder", "Немає теки")
    )
    done = _run_once(_env(fake, url), "run")
    _assert_product_failure(done, en_message)
    assert "secret-pw" not in done.stderr
    assert not fake.calls_of("getUpdates")
    uk = _run_once({**_env(fake, url), "LANG": "uk_UA.UTF-8"}, "run")
    _assert_product_failure(uk, uk_message)


def test_run_webhook_on_a_taken_port(fake: FakeBotAPI, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = _env(fake, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        args = ("run", "--webhook-url", "https://bot.example.org/hook", "--port", port)
        done = _run_once(env, *args)
        _assert_product_failure(done, f"The webhook server cannot listen on 127.0.0.1:{port}")
        assert "already in use" in done.stderr
        uk = _run_once({**env, "LANG": "uk_UA.UTF-8"}, *args)
        _assert_product_failure(uk, "адреса вже зайнята")


def test_invite_asks_telegram_only_when_the_bot_never_ran(
    examples: Database, fake: FakeBotAPI, database_url: str
) -> None:
    env = _env(fake, database_url)
    first = _run_once(env, "invite", "04057287")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("https://t.me/amu_e2e_bot?start=")
    assert len(fake.calls_of("getMe")) == 1
    # Remembered: the next invite needs neither Telegram nor the token.
    offline = {**env, "BOT_API_URL": f"http://127.0.0.1:{_closed_port()}/bot"}
    del offline["BOT_TOKEN"]
    second = _run_once(offline, "invite", "04057287")
    assert second.stdout.startswith("https://t.me/amu_e2e_bot?start="), second.stderr
    assert len(fake.calls_of("getMe")) == 1
