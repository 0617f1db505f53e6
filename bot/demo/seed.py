"""The demo's database: migrated, loaded with examples/ moved to the current year, an invite."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.db import Database, upgrade
from bot.i18n import Tr, localized
from bot.services import invites
from bot.services.sample_data import (
    LivingSamples,
    living_samples,
    load_samples,
    read_samples,
)
from models import Role

KYIV = ZoneInfo("Europe/Kyiv")
DEFAULT_COUNCIL = "04057287"  # Kremenchuk: the council examples/README.md walks through


class DemoError(Exception):
    """Something the person must fix before the demo can start; the text is localised."""


def examples_folder() -> Path:
    """examples/ of the project this package runs from (the demo is run from a checkout)."""
    here = Path(__file__).resolve().parents[2] / "examples"
    for candidate in (here, Path.cwd() / "examples"):
        if (candidate / "members.csv").is_file():
            return candidate
    return here


@dataclass(frozen=True)
class Council:
    """The council the official belongs to, and the official's name from the roster."""

    code: str
    name_uk: str
    name_en: str
    official: str | None

    def name(self, lang: str) -> str:
        """The council's name in a language."""
        return localized(lang, self.name_uk, self.name_en)


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def find_council(samples: LivingSamples, code: str, tr: Tr) -> Council:
    """The council with this code in the samples, or a DemoError naming one that exists."""
    members = _csv_rows(samples.files.get("members", b""))
    row = next((m for m in members if m.get("code") == code), None)
    if row is None:
        example = members[0] if members else {"code": DEFAULT_COUNCIL, "name_uk": ""}
        raise DemoError(
            tr.t(
                "demo.error.unknown_council",
                code=code,
                example=example["code"],
                name=example.get("name_en" if tr.lang == "en" else "name_uk", ""),
            )
        )
    roster = _csv_rows(samples.files.get("officials", b""))
    official = next((o["full_name"] for o in roster if o.get("member_code") == code), None)
    return Council(code, row["name_uk"], row["name_en"], official)


def load_living_samples(folder: Path, today: date, tr: Tr) -> LivingSamples:
    """The sample files moved to this year, or a DemoError if there are none."""
    try:
        files = read_samples(folder)
    except OSError:
        files = {}
    if "members" not in files:
        raise DemoError(tr.t("demo.error.no_examples", folder=str(folder)))
    return living_samples(files, today=today)


async def seed_database(
    db: Database, samples: LivingSamples, *, today: date, now: datetime, tr: Tr
) -> None:
    """Migrate the database and import the samples (idempotent: a kept database stays right)."""
    await upgrade(db.engine)
    async with db.session() as session:
        results = await load_samples(
            session=session,
            files=samples.files,
            accrual=samples.accrual,
            today=today,
            now=now,
        )
    for result in results:
        if not result.ok:
            problem = result.problems[0]
            raise DemoError(
                tr.t(
                    "demo.error.seed_failed",
                    file=f"{result.kind.value}.csv",
                    line=problem.line,
                    reason=tr.t(problem.msgid, **problem.params),
                )
            )


async def invite_code(db: Database, council: str, now: datetime) -> str:
    """A fresh one-time invite for an official of the council, as `amu-bot invite` issues."""
    async with db.session() as session:
        issued = await invites.create_invites(
            session=session,
            member_code=council,
            role=Role.OFFICIAL,
            count=1,
            now=now,
            ttl=timedelta(days=1),
        )
    return issued[0].code
