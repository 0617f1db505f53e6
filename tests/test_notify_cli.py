"""`amu-bot announce`, `announce status`, `deadline add` and `deadline list` on a SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.test_cli import Invoke, flat, isolated, make_invoke

__all__ = ["isolated"]  # the autouse fixture: no inherited settings, no .env


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "notify.db"


@pytest.fixture
def cli(db_file: Path, tmp_path: Path) -> Invoke:
    invoke = make_invoke(db_file)
    assert invoke("db", "upgrade").exit_code == 0
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "INSERT INTO member"
            " (id, code, name_uk, name_en, search_name, region, kind, created_at)"
            " VALUES (1, '04057287', 'Кременчуцька', 'Kremenchuk', '', 'Полтавська', 'city',"
            " '2026-01-01 00:00:00')"
        )
        for tg in (101, 102):
            conn.execute(
                "INSERT INTO tg_user (id, first_name, created_at, last_seen_at)"
                " VALUES (?, 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                (tg,),
            )
            conn.execute(
                "INSERT INTO official (member_id, full_name, position, phone, email, role,"
                " telegram_id, active, created_at)"
                " VALUES (1, 'x', '', '', '', 'official', ?, 1, '2026-01-01 00:00:00')",
                (tg,),
            )
    return invoke


def outbox(db_file: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db_file) as conn:
        return list(conn.execute("SELECT recipient, status, text FROM outbox ORDER BY recipient"))


def test_announce_now_queues_one_message_per_official(
    cli: Invoke, db_file: Path, tmp_path: Path
) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text("Форум громад — 12 березня.\n", encoding="utf-8")
    result = cli("announce", "--audience", "region:Полтавська", "--text-file", str(notice))
    assert result.exit_code == 0, result.output
    assert "Announcement 1 is queued for sending; recipients: 2." in flat(result.stdout)
    assert outbox(db_file) == [
        (101, "pending", "Форум громад — 12 березня."),
        (102, "pending", "Форум громад — 12 березня."),
    ]
    status = cli("announce", "status", "1")
    assert status.exit_code == 0
    assert "messages: 2" in status.stdout and "pending:                2" in status.stdout


def test_announce_at_a_time_waits_for_the_planner(
    cli: Invoke, db_file: Path, tmp_path: Path
) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text("Завтра вебінар.", encoding="utf-8")
    result = cli(
        "announce", "--audience", "all", "--text-file", str(notice), "--at", "2099-01-01 09:00"
    )
    assert result.exit_code == 0, result.output
    assert "will be sent 1 January 2099, 09:00; recipients now: 2" in flat(result.stdout)
    assert outbox(db_file) == []
    assert "scheduled for 1 January 2099, 09:00" in flat(cli("announce", "status", "1").stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "everyone"], "Unknown audience 'everyone'"),
        (["--audience", "region:Марс"], "There is no region 'Марс'. Known regions: Полтавська"),
        (["--audience", "section:NOPE"], "There is no section 'NOPE'. Known sections: "),
        (["--audience", "event:NOPE"], "There is no event with the code 'NOPE'."),
        (["--audience", "all", "--at", "tomorrow"], "is not a date and time"),
        (["--audience", "all", "--at", "2001-01-01 10:00"], "has already passed"),
    ],
)
def test_announce_refuses_bad_input(
    cli: Invoke, db_file: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text("x", encoding="utf-8")
    result = cli("announce", *args, "--text-file", str(notice))
    assert result.exit_code != 0
    assert message in flat(result.stderr)
    assert outbox(db_file) == []


def test_announce_refuses_missing_or_empty_text(cli: Invoke, tmp_path: Path) -> None:
    missing = cli("announce", "--audience", "all", "--text-file", str(tmp_path / "none.txt"))
    assert missing.exit_code == 1 and "Cannot read" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    result = cli("announce", "--audience", "all", "--text-file", str(empty))
    assert result.exit_code == 1 and "empty or longer than 4096" in result.stderr
    usage = cli("announce", "--audience", "all")
    assert usage.exit_code == 2 and "--text-file" in usage.stderr
    unknown = cli("announce", "status", "42")
    assert unknown.exit_code == 1 and "There is no announcement 42" in unknown.stderr


def test_deadline_add_and_list(cli: Invoke) -> None:
    added = cli(
        "deadline",
        "add",
        "--title-uk",
        "Показники до АСМС",
        "--title-en",
        "ASMS indicators",
        "--due",
        "2099-03-01 18:00",
        "--audience",
        "region:Полтавська",
    )
    assert added.exit_code == 0, added.output
    assert "Deadline 1 'ASMS indicators' added: due by 1 March 2099, 18:00." in flat(added.stdout)
    listed = cli("deadline", "list")
    assert listed.exit_code == 0
    assert "ASMS indicators" in listed.stdout and "region:Полтавська" in listed.stdout
    uk = cli("deadline", "list", env={"LANG": "uk_UA.UTF-8"})
    assert "Показники до АСМС" in uk.stdout


def test_deadline_add_refuses_bad_input(cli: Invoke) -> None:
    base = ["deadline", "add", "--title-uk", "Т", "--title-en", "T"]
    past = cli(*base, "--due", "2001-01-01 10:00")
    assert past.exit_code == 1 and "has already passed" in past.stderr
    audience = cli(*base, "--due", "2099-01-01 10:00", "--audience", "overdue")
    assert audience.exit_code == 1 and "Unknown audience 'overdue'" in flat(audience.stderr)
    blank = cli(
        "deadline", "add", "--title-uk", " ", "--title-en", "T", "--due", "2099-01-01 10:00"
    )
    assert blank.exit_code == 1 and "needs a Ukrainian and an English title" in blank.stderr
    assert "There are no open deadlines." in cli("deadline", "list").stdout
