"""The sample data in examples/, moved to a living year and loaded into a database.

The files are written for a base year (charges up to 2025, payments dated 2025).  Opened in a
later year they would show "no charges this year"; so every date is moved by whole years, the
same number for every file, until the newest year of charges is the current one.  29 February
becomes 28 February in a common year.  What would then lie in the future, though it lies in
the past in the files, is put back into the present: a payment is not shown before it is made,
and a council joins no later than today (the importers refuse both, rightly).  A deadline that
would lie in the past moves on by whole years until it lies ahead: it is the next one of its
kind (the import refuses a new deadline already due, and the demo's /deadlines has them all).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import dues
from bot.services.imports import ImportKind, ImportResult, import_csv

# Columns that hold a date or an ISO 8601 datetime (which starts with the date), by name, so
# files added later (events, trainings, deadlines) move with the rest.
DATE_COLUMNS = frozenset(
    {
        "joined_on",
        "due_date",
        "paid_on",
        "starts_at",
        "ends_at",
        "registration_deadline",
        "due",
        "due_at",
    }
)
YEAR_COLUMNS = frozenset({"year"})
# Bank references carry the year of the payment: ПД-2025-000071, PN-2025-0030.
REFERENCE_YEAR = re.compile(r"^(\D*-)(\d{4})(-.*)$")
LEADING_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
# Titles and descriptions speak of their own years ("budgets of 2025", "Forum 2026"): those
# years move too, so a moved programme still reads true. Codes keep theirs: they are ids.
TEXT_COLUMNS = frozenset({"title_uk", "title_en", "description_uk", "description_en"})
YEAR_IN_TEXT = re.compile(r"(?<!\d)(19|20)(\d{2})(?!\d)")


@dataclass(frozen=True)
class Accrual:
    """How the samples' newest year of dues is accrued (examples/README.md, "Loading order")."""

    year: int
    rate: Decimal = Decimal("1.16")
    minimum_kop: int = 100_000
    fund_rate: Decimal = Decimal("1.16")

    @property
    def due_date(self) -> date:
        """Dues are due on 31 March of their year."""
        return date(self.year, 3, 31)


# The accrual the sample files are written for.
BASE_ACCRUAL = Accrual(year=2025)


def shift_date(value: date, years: int) -> date:
    """The same day `years` later (or earlier); 29 February becomes 28 February if it must."""
    try:
        return value.replace(year=value.year + years)
    except ValueError:
        return value.replace(year=value.year + years, day=28)


def _shift_cell(column: str, value: str, years: int) -> str:
    if not value.strip():
        return value
    if column in YEAR_COLUMNS and value.strip().isdigit():
        return str(int(value) + years)
    if column in DATE_COLUMNS:
        match = LEADING_DATE.match(value)
        if match is None:
            return value  # not a date: the importer will say so, with the line number
        try:
            moved = shift_date(date(*map(int, match.groups())), years)
        except ValueError:
            return value
        return moved.isoformat() + value[match.end() :]
    if column in TEXT_COLUMNS:
        return YEAR_IN_TEXT.sub(lambda m: str(int(m.group(0)) + years), value)
    if column == "reference":
        ref = REFERENCE_YEAR.match(value)
        if ref is not None:
            return f"{ref.group(1)}{int(ref.group(2)) + years}{ref.group(3)}"
    return value


def _rows(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def _csv(header: list[str], rows: Iterable[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def shift_csv(data: bytes, years: int) -> bytes:
    """A CSV file with every date, datetime, year and bank reference year moved by `years`."""
    header, rows = _rows(data)
    shifted = [{k: _shift_cell(k, v or "", years) for k, v in row.items()} for row in rows]
    return _csv(header, shifted)


def newest_charge_year(charges: bytes) -> int | None:
    """The latest year in a charges file (None when it has none)."""
    years = [int(r["year"]) for r in _rows(charges)[1] if (r.get("year") or "").isdigit()]
    return max(years, default=None)


@dataclass
class LivingSamples:
    """The sample files moved to the current year, and what was changed to get there."""

    files: dict[str, bytes]
    years: int
    accrual: Accrual
    payments_ahead: int = 0  # payments dropped: after the move they would be made after today
    joins_ahead: list[str] = field(default_factory=list)  # councils whose joining moved to today
    deadlines_rolled: list[str] = field(default_factory=list)  # codes moved to a later year


def _not_after(data: bytes, column: str, today: date) -> tuple[bytes, list[dict[str, str]]]:
    """Rows dated after today, split off (the file without them, and them)."""
    header, rows = _rows(data)
    kept: list[dict[str, str]] = []
    ahead: list[dict[str, str]] = []
    for row in rows:
        match = LEADING_DATE.match(row.get(column) or "")
        when = date(*map(int, match.groups())) if match else None
        (ahead if when is not None and when > today else kept).append(row)
    return _csv(header, kept), ahead


def _leading_date(value: str) -> date | None:
    match = LEADING_DATE.match(value)
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:
        return None


def _years_ahead(day: date, today: date) -> int:
    """How many whole years move `day` past `today` (0 if it already lies ahead)."""
    if day > today:
        return 0
    years = today.year - day.year
    return years if shift_date(day, years) > today else years + 1


def living_samples(
    files: dict[str, bytes], *, today: date, accrual: Accrual = BASE_ACCRUAL
) -> LivingSamples:
    """Move the sample files (name -> content) so the newest charges year is today's year."""
    in_file = newest_charge_year(files["charges"]) if "charges" in files else None
    years = today.year - max(accrual.year, in_file or accrual.year)
    moved = {name: shift_csv(data, years) for name, data in files.items()}
    living = LivingSamples(moved, years, dataclasses.replace(accrual, year=accrual.year + years))
    if "payments" in moved:
        moved["payments"], ahead = _not_after(moved["payments"], "paid_on", today)
        living.payments_ahead = len(ahead)
    if "members" in moved:
        header, rows = _rows(moved["members"])
        for row in rows:
            match = LEADING_DATE.match(row.get("joined_on") or "")
            if match and date(*map(int, match.groups())) > today:
                row["joined_on"] = today.isoformat()
                living.joins_ahead.append(row["code"])
        moved["members"] = _csv(header, rows)
    if "deadlines" in moved:
        header, rows = _rows(moved["deadlines"])
        for i, row in enumerate(rows):
            due = _leading_date(row.get("due_at") or "")
            later = _years_ahead(due, today) if due is not None else 0
            if later:
                rows[i] = {k: _shift_cell(k, v or "", later) for k, v in row.items()}
                living.deadlines_rolled.append(row.get("code") or "")
        moved["deadlines"] = _csv(header, rows)
    return living


def read_samples(folder: Path) -> dict[str, bytes]:
    """Every CSV file of a samples folder, by name without the extension."""
    return {path.stem: path.read_bytes() for path in sorted(folder.glob("*.csv"))}


def write_samples(files: dict[str, bytes], folder: Path) -> None:
    """Write sample files (name -> content) into a folder as NAME.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.csv").write_bytes(data)


async def load_samples(
    *,
    session: AsyncSession,
    files: dict[str, bytes],
    accrual: Accrual,
    today: date,
    now: datetime,
) -> list[ImportResult]:
    """Import every known kind of file, accrue the dues year, then import the payments.

    Payments come last so that those without a purpose settle the accrued charges too.  Stops
    at the first file that does not import (nothing of that file is written).
    """
    results: list[ImportResult] = []

    async def load(kind: ImportKind) -> bool:
        if kind.value not in files:
            return True
        result = await import_csv(
            session=session, kind=kind, data=files[kind.value], today=today, now=now
        )
        results.append(result)
        return result.ok

    for kind in ImportKind:
        if kind != ImportKind.PAYMENTS and not await load(kind):
            return results
    await dues.accrue(
        session=session,
        year=accrual.year,
        rate=accrual.rate,
        due_date=accrual.due_date,
        minimum_kop=accrual.minimum_kop,
        fund_rate=accrual.fund_rate,
    )
    await load(ImportKind.PAYMENTS)
    if "registrations" in files:  # who has signed up already, so the programme is not empty
        from bot.services.programme_seed import seed_registrations

        await seed_registrations(session=session, data=files["registrations"], now=now)
    return results
