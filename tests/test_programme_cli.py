"""`amu-bot import sections|events|trainings` through the real command line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli import app
from bot.db import Database
from bot.services import certificates
from models import Event, Official, Registration
from tests.conftest import EXAMPLES, NOW
from tests.test_cli import LOAD_SEQUENCE, flat, isolated, make_invoke, rows

__all__ = ["isolated"]  # the autouse fixture: no inherited settings


def test_programme_imports_load_and_name_bad_lines(tmp_path: Path) -> None:
    db_file = tmp_path / "programme.db"
    cli = make_invoke(db_file)
    for args in LOAD_SEQUENCE[:3]:
        assert cli(*args).exit_code == 0
    out = []
    for kind in ("sections", "events", "trainings"):
        result = cli("import", kind, str(EXAMPLES / f"{kind}.csv"))
        assert result.exit_code == 0, (result.stdout, result.stderr)
        out.append(flat(result.stdout))
    assert "sections.csv: 15 rows; 0 added, 0 updated, 15 unchanged." in out[0]
    assert "events.csv: 8 rows; 8 added" in out[1]
    assert "trainings.csv: 6 rows; 6 added" in out[2]
    assert rows(db_file, "event") == 14

    bad = tmp_path / "bad.csv"
    bad.write_text(
        (EXAMPLES / "events.csv").read_text("utf-8").splitlines()[0]
        + "\nX-1,forum,Т,T,2026-13-01T10:00,2026-03-01T12:00,Київ,,,,,,\n"
        + "X-2,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,,nosuch,,,\n",
        encoding="utf-8",
    )
    result = cli("import", "events", str(bad))
    assert result.exit_code == 1
    assert [int(n) for n in re.findall(r"line (\d+):", result.stderr)] == [2, 3]
    assert "nosuch" in flat(result.stderr)
    assert rows(db_file, "event") == 14


async def test_certificate_verify(examples: Database, database_url: str) -> None:
    async with examples.session() as session:
        official = (
            await session.execute(
                select(Official).where(col(Official.full_name) == "Наталія Бондар")
            )
        ).scalar_one()
        event = (
            await session.execute(select(Event).where(col(Event.code) == "TR-GENDER-2025-10"))
        ).scalar_one()
        reg = Registration(
            event_id=event.id or 0,
            official_id=official.id or 0,
            member_id=official.member_id,
            status="attended",
            queued_at=NOW,
        )
        session.add(reg)
        await session.flush()
        cert = await certificates.issue(session=session, registration=reg, event=event, now=NOW)
        assert cert is not None
        code = cert.code
        await session.commit()
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "LANG": "en_US.UTF-8", "LC_ALL": None}
    ok = await asyncio.to_thread(
        runner.invoke, app, ["certificate", "verify", code.lower()], env=env
    )
    assert ok.exit_code == 0, (ok.stdout, ok.stderr)
    assert "is valid" in ok.stdout and official.full_name in ok.stdout
    assert "16 hours" in ok.stdout and "<" not in ok.stdout
    bad = await asyncio.to_thread(
        runner.invoke, app, ["certificate", "verify", "ZZZZZZZZZZ"], env=env
    )
    assert bad.exit_code == 1
    assert "There is no certificate" in flat(bad.stderr)
