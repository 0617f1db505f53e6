"""CSV imports of the registry and the ledger: validated whole, written all or nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import N_
from bot.money import parse_amount
from bot.text import has_control_chars
from models import Charge, ChargeKind, Member, MemberKind, Official, Payment, search_key


class ImportKind(StrEnum):
    """What a CSV file holds."""

    MEMBERS = "members"
    OFFICIALS = "officials"
    CHARGES = "charges"
    PAYMENTS = "payments"
    SECTIONS = "sections"
    EVENTS = "events"
    TRAININGS = "trainings"
    DEADLINES = "deadlines"


# The programme (sections, events, trainings) is imported by bot.services.programme_imports.
PROGRAMME = (ImportKind.SECTIONS, ImportKind.EVENTS, ImportKind.TRAININGS)


REQUIRED: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.MEMBERS: (
        "code",
        "name_uk",
        "name_en",
        "region",
        "kind",
        "population",
        "joined_on",
    ),
    ImportKind.OFFICIALS: ("member_code", "full_name", "position", "phone", "email"),
    ImportKind.CHARGES: ("member_code", "year", "kind", "amount", "due_date"),
    ImportKind.PAYMENTS: ("member_code", "amount", "paid_on", "reference"),
    ImportKind.SECTIONS: ("code", "name_uk", "name_en"),
    ImportKind.EVENTS: (
        "code",
        "kind",
        "title_uk",
        "title_en",
        "starts_at",
        "ends_at",
        "location",
        "capacity",
        "registration_deadline",
        "section",
        "description_uk",
        "description_en",
    ),
    ImportKind.TRAININGS: (
        "code",
        "format",
        "title_uk",
        "title_en",
        "starts_at",
        "ends_at",
        "hours",
        "capacity",
        "registration_deadline",
        "description_uk",
        "description_en",
    ),
    ImportKind.DEADLINES: ("code", "title_uk", "title_en", "due_at", "audience"),
}
OPTIONAL: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.PAYMENTS: ("year", "kind"),
    ImportKind.EVENTS: ("per_council_limit",),
    ImportKind.DEADLINES: ("description_uk", "description_en"),
}

EDRPOU = re.compile(r"^[0-9]{8}$")
# Excel reads 04057287 as a number and saves 4057287: seven digits mean a lost leading zero.
LOST_ZERO = re.compile(r"^[0-9]{7}$")
DIGITS = re.compile(r"^[0-9]{1,12}$")  # str.isdigit() would accept "²", which int() rejects
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,19}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 300
MAX_REFERENCE = 100
MAX_POPULATION = 10_000_000
YEARS = range(1990, 2101)
CHUNK = 5_000
KYIV = ZoneInfo("Europe/Kyiv")

Progress = Callable[[int, int], None]  # (rows done, rows in all)


@dataclass(frozen=True)
class Problem:
    """Why one line of the file cannot be imported: a message id and its values."""

    line: int
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportResult:
    """What an import did, or, when `problems` is not empty, why it wrote nothing."""

    kind: ImportKind
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file was valid and has been written."""
        return not self.problems


class _RowError(Exception):
    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


def _decode(data: bytes, problems: list[Problem]) -> str:
    """UTF-8 (a BOM is fine); every line that is not valid UTF-8 is named."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = []
    # A newline byte never occurs inside a UTF-8 sequence, so lines can be checked one by one.
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(Problem(number, N_("import.error.encoding")))
            lines.append(raw.decode("utf-8", errors="replace"))
    return "\n".join(lines)


def _rows(
    kind: ImportKind, text: str, problems: list[Problem]
) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(1, N_("import.error.empty")))
        return
    except csv.Error as exc:
        problems.append(Problem(1, N_("import.error.csv"), {"detail": str(exc)}))
        return
    names = [h.strip() for h in header]
    required, optional = REQUIRED[kind], OPTIONAL.get(kind, ())
    if len(names) == 1 and ";" in names[0]:
        # Excel in a Ukrainian locale saves "CSV" with semicolons.
        problems.append(Problem(1, N_("import.error.semicolons")))
        return
    missing = [c for c in required if c not in names]
    unknown = [c for c in names if c not in required and c not in optional]
    repeated = sorted({c for c in names if names.count(c) > 1})
    for msgid, columns in (
        (N_("import.error.header_missing"), missing),
        (N_("import.error.header_unknown"), unknown),
        (N_("import.error.header_repeated"), repeated),
    ):
        if columns:
            problems.append(Problem(1, msgid, {"columns": ", ".join(columns)}))
    if missing or unknown or repeated:
        return
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(reader.line_num, N_("import.error.csv"), {"detail": str(exc)}))
            return
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) != len(names):
            problems.append(
                Problem(
                    reader.line_num,
                    N_("import.error.columns"),
                    {"expected": len(names), "got": len(values)},
                )
            )
            continue
        yield reader.line_num, {n: v.strip() for n, v in zip(names, values, strict=True)}


def _text(row: dict[str, str], name: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = " ".join(row.get(name, "").split())
    if has_control_chars(value):
        raise _RowError(N_("import.error.control_char"), column=name)
    if required and not value:
        raise _RowError(N_("import.error.required"), column=name)
    if len(value) > limit:
        raise _RowError(N_("import.error.too_long"), column=name, limit=limit)
    return value


def _date(row: dict[str, str], name: str, *, required: bool = True) -> date | None:
    value = row.get(name, "")
    if not value:
        if required:
            raise _RowError(N_("import.error.required"), column=name)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _RowError(N_("import.error.date"), column=name, value=value[:40]) from None


def _int(row: dict[str, str], name: str, valid: range, *, required: bool = True) -> int | None:
    value = row.get(name, "")
    if not value:
        if required:
            raise _RowError(N_("import.error.required"), column=name)
        return None
    if not DIGITS.match(value) or int(value) not in valid:
        raise _RowError(
            N_("import.error.number"),
            column=name,
            value=value[:40],
            low=valid.start,
            high=valid[-1],
        )
    return int(value)


def _amount(row: dict[str, str], name: str) -> int:
    value = row.get(name, "")
    try:
        kop = parse_amount(value.removeprefix("-"))
    except ValueError:
        raise _RowError(N_("import.error.amount"), column=name, value=value[:40]) from None
    if value.startswith("-"):
        kop = -kop
    if kop <= 0:
        raise _RowError(N_("import.error.amount_positive"), column=name)
    return kop


def _choice(row: dict[str, str], name: str, allowed: list[str]) -> str:
    value = row.get(name, "")
    if value not in allowed:
        raise _RowError(
            N_("import.error.choice"), column=name, value=value[:40], allowed=", ".join(allowed)
        )
    return value


async def _member_ids(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(col(Member.code), col(Member.id)))
    return {code: mid for code, mid in rows if mid is not None}


def _member(row: dict[str, str], members: dict[str, int]) -> int:
    code = row.get("member_code", "")
    if code not in members:
        if LOST_ZERO.match(code):
            raise _RowError(N_("import.error.leading_zero"), column="member_code", value=code)
        raise _RowError(N_("import.error.unknown_member"), code=code[:40])
    return members[code]


async def import_csv(
    *,
    session: AsyncSession,
    kind: ImportKind,
    data: bytes,
    today: date,
    now: datetime,
    progress: Progress | None = None,
    tz: ZoneInfo = KYIV,
) -> ImportResult:
    """Validate every row; write all of them in one transaction, or nothing if any is bad.

    `tz` is the zone of programme and deadline times written without an offset.
    """
    result = ImportResult(kind)
    text = _decode(data, result.problems)
    rows = list(_rows(kind, text, result.problems))
    result.rows = len(rows)
    if kind in PROGRAMME:
        from bot.services import programme_imports

        await programme_imports.IMPORTERS[kind](session, rows, result, now=now, tz=tz)
    elif kind == ImportKind.DEADLINES:
        from bot.services import deadline_imports

        await deadline_imports.import_deadlines(session, rows, result, now=now, tz=tz)
    else:
        importer = _IMPORTERS[kind]
        await importer(session, rows, result, today, now, progress)
    if result.problems:
        await session.rollback()
        result.created = result.updated = result.unchanged = 0
    else:
        await session.commit()
    result.problems.sort(key=lambda p: p.line)
    return result


async def _import_members(
    session: AsyncSession,
    rows: list[tuple[int, dict[str, str]]],
    result: ImportResult,
    today: date,
    now: datetime,
    progress: Progress | None,
) -> None:
    existing = {m.code: m for m in (await session.execute(select(Member))).scalars()}
    seen: dict[str, int] = {}
    valid = []
    for line, row in rows:
        try:
            code = row["code"]
            if LOST_ZERO.match(code):
                raise _RowError(N_("import.error.leading_zero"), column="code", value=code)
            if not EDRPOU.match(code):
                raise _RowError(N_("import.error.edrpou"), value=code[:40])
            if code in seen:
                raise _RowError(N_("import.error.duplicate"), column="code", first=seen[code])
            seen[code] = line
            joined = _date(row, "joined_on", required=False)
            if joined is not None and joined > today:
                raise _RowError(N_("import.error.future_date"), column="joined_on")
            fields: dict[str, Any] = {
                "name_uk": _text(row, "name_uk"),
                "name_en": _text(row, "name_en"),
                "region": _text(row, "region", limit=100),
                "kind": _choice(row, "kind", [k.value for k in MemberKind]),
                "population": _int(row, "population", range(MAX_POPULATION + 1), required=False),
                "joined_on": joined,
            }
            valid.append((code, fields))
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for done, (code, fields) in enumerate(valid, start=1):
        fields["search_name"] = search_key(f"{fields['name_uk']} {fields['name_en']}")
        member = existing.get(code)
        if member is None:
            session.add(Member(code=code, created_at=now, **fields))
            result.created += 1
        elif any(getattr(member, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(member, k, v)
            result.updated += 1
        else:
            result.unchanged += 1
        if progress and done % CHUNK == 0:
            progress(done, len(valid))
    if progress:
        progress(len(valid), len(valid))


async def _import_officials(
    session: AsyncSession,
    rows: list[tuple[int, dict[str, str]]],
    result: ImportResult,
    today: date,
    now: datetime,
    progress: Progress | None,
) -> None:
    members = await _member_ids(session)
    existing = {
        (o.member_id, search_key(o.full_name)): o
        for o in (await session.execute(select(Official))).scalars()
    }
    seen: dict[tuple[int, str], int] = {}
    valid = []
    for line, row in rows:
        try:
            member_id = _member(row, members)
            full_name = _text(row, "full_name")
            key = (member_id, search_key(full_name))
            if key in seen:
                raise _RowError(N_("import.error.duplicate"), column="full_name", first=seen[key])
            seen[key] = line
            phone = _text(row, "phone", required=False, limit=50)
            if phone and not PHONE.match(phone):
                raise _RowError(N_("import.error.phone"), value=phone)
            email = _text(row, "email", required=False, limit=200)
            if email and not EMAIL.match(email):
                raise _RowError(N_("import.error.email"), value=email)
            fields: dict[str, Any] = {
                "full_name": full_name,
                "position": _text(row, "position", required=False),
                "phone": phone,
                "email": email,
            }
            valid.append((key, member_id, fields))
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for key, member_id, fields in valid:
        official = existing.get(key)
        if official is None:
            session.add(Official(member_id=member_id, created_at=now, **fields))
            result.created += 1
        elif any(getattr(official, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(official, k, v)
            result.updated += 1
        else:
            result.unchanged += 1
    if progress:
        progress(len(valid), len(valid))


async def _import_charges(
    session: AsyncSession,
    rows: list[tuple[int, dict[str, str]]],
    result: ImportResult,
    today: date,
    now: datetime,
    progress: Progress | None,
) -> None:
    members = await _member_ids(session)
    existing = {
        (c.member_id, c.year, c.kind): c for c in (await session.execute(select(Charge))).scalars()
    }
    seen: dict[tuple[int, int, str], int] = {}
    valid = []
    for line, row in rows:
        try:
            member_id = _member(row, members)
            year = _int(row, "year", YEARS)
            kind = _choice(row, "kind", [k.value for k in ChargeKind])
            key = (member_id, year or 0, kind)
            if key in seen:
                raise _RowError(N_("import.error.duplicate_charge"), first=seen[key])
            seen[key] = line
            valid.append((key, _amount(row, "amount"), _date(row, "due_date")))
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for (member_id, year, kind), amount, due in valid:
        charge = existing.get((member_id, year, kind))
        if charge is None:
            session.add(
                Charge(
                    member_id=member_id,
                    year=year,
                    kind=kind,
                    amount_kop=amount,
                    due_date=due,  # type: ignore[arg-type]
                    created_at=now,
                )
            )
            result.created += 1
        elif charge.amount_kop != amount or charge.due_date != due:
            if charge.amount_kop != amount:
                # The amount no longer comes from population × rate.
                charge.formula_population = charge.formula_rate = charge.formula_min_kop = None
            charge.amount_kop = amount
            charge.due_date = due  # type: ignore[assignment]
            result.updated += 1
        else:
            result.unchanged += 1
    if progress:
        progress(len(valid), len(valid))


async def _import_payments(
    session: AsyncSession,
    rows: list[tuple[int, dict[str, str]]],
    result: ImportResult,
    today: date,
    now: datetime,
    progress: Progress | None,
) -> None:
    members = await _member_ids(session)
    existing = {
        ref: (member_id, amount, paid_on, year, kind)
        for ref, member_id, amount, paid_on, year, kind in await session.execute(
            select(
                col(Payment.reference),
                col(Payment.member_id),
                col(Payment.amount_kop),
                col(Payment.paid_on),
                col(Payment.year),
                col(Payment.kind),
            )
        )
    }
    seen: dict[str, int] = {}
    new: list[dict[str, Any]] = []
    kinds = [k.value for k in ChargeKind]
    for line, row in rows:
        try:
            member_id = _member(row, members)
            amount = _amount(row, "amount")
            paid_on = _date(row, "paid_on")
            assert paid_on is not None  # noqa: S101 - required
            if paid_on > today:
                raise _RowError(N_("import.error.future_date"), column="paid_on")
            reference = _text(row, "reference", limit=MAX_REFERENCE)
            year = _int(row, "year", YEARS, required=False)
            kind = row.get("kind") or None
            if (year is None) != (kind is None):
                raise _RowError(N_("import.error.year_kind_pair"))
            if kind is not None:
                kind = _choice(row, "kind", kinds)
            if reference in seen:
                raise _RowError(
                    N_("import.error.duplicate"), column="reference", first=seen[reference]
                )
            seen[reference] = line
            record = (member_id, amount, paid_on, year, kind)
            if reference in existing:
                if existing[reference] != record:
                    raise _RowError(N_("import.error.reference_taken"), reference=reference)
                result.unchanged += 1
                continue
            new.append(
                {
                    "member_id": member_id,
                    "amount_kop": amount,
                    "paid_on": paid_on,
                    "reference": reference,
                    "year": year,
                    "kind": kind,
                    "created_at": now,
                }
            )
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for start in range(0, len(new), CHUNK):
        # render_nulls: rows with and without year/kind batch together (otherwise SQLAlchemy
        # splits them by which keys are None: ~48,000 INSERTs for 100,000 rows instead of 20).
        await session.execute(
            insert(Payment).execution_options(render_nulls=True), new[start : start + CHUNK]
        )
        if progress:
            progress(min(start + CHUNK, len(new)), len(new))
    result.created = len(new)
    if progress and not new:
        progress(0, 0)


_IMPORTERS = {
    ImportKind.MEMBERS: _import_members,
    ImportKind.OFFICIALS: _import_officials,
    ImportKind.CHARGES: _import_charges,
    ImportKind.PAYMENTS: _import_payments,
}
