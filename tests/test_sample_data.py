"""The living year: examples/ moved by whole years so the newest charges are this year's."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.db import Database
from bot.demo import samples
from bot.services import deadlines, dues, members
from bot.services.sample_data import (
    BASE_ACCRUAL,
    living_samples,
    load_samples,
    newest_charge_year,
    read_samples,
    shift_csv,
    shift_date,
)
from models import Event, Registration

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


@pytest.mark.parametrize(
    ("day", "years", "moved"),
    [
        (date(2025, 3, 31), 1, date(2026, 3, 31)),
        (date(2024, 2, 29), 1, date(2025, 2, 28)),  # no 29 February in 2025
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2025, 11, 14), -2, date(2023, 11, 14)),
        (date(2025, 1, 1), 0, date(2025, 1, 1)),
    ],
)
def test_shift_date(day: date, years: int, moved: date) -> None:
    assert shift_date(day, years) == moved


def test_shift_csv_moves_dates_years_datetimes_and_references() -> None:
    data = (
        "member_code,amount,paid_on,reference,year,kind,starts_at,ends_at,note\n"
        "04057287,1.00,2024-02-29,ПД-2024-000071,2024,fund,2025-05-20T10:00+03:00,,2024-01-01\n"
        "04057287,2.00,2025-11-14,PN-2025-0030,,,2025-05-20 09:30,2025-05-21T18:00:00Z,x\n"
    ).encode()
    shifted = rows(shift_csv(data, 2))
    assert shifted[0] == {
        "member_code": "04057287",
        "amount": "1.00",
        "paid_on": "2026-02-28",
        "reference": "ПД-2026-000071",
        "year": "2026",
        "kind": "fund",
        "starts_at": "2027-05-20T10:00+03:00",  # the time and offset are kept as written
        "ends_at": "",
        "note": "2024-01-01",  # not a date column: text is left alone
    }
    assert shifted[1]["starts_at"] == "2027-05-20 09:30"
    assert shifted[1]["ends_at"] == "2027-05-21T18:00:00Z"
    assert shifted[1]["year"] == "" and shifted[1]["reference"] == "PN-2027-0030"
    assert shift_csv(data, 2).decode().splitlines()[0] == data.decode().splitlines()[0]


def test_years_named_in_titles_and_descriptions_move_but_codes_keep_theirs() -> None:
    data = (
        "code,title_uk,description_en,location\n"
        "FORUM-2026,Форум 2026,Budgets of 2025 and the tax in 2026; 12025 stays,Київ 2025\n"
    ).encode()
    (row,) = rows(shift_csv(data, 1))
    assert row == {
        "code": "FORUM-2026",
        "title_uk": "Форум 2027",
        "description_en": "Budgets of 2026 and the tax in 2027; 12025 stays",
        "location": "Київ 2025",
    }


def test_a_cell_that_is_not_a_date_is_left_for_the_importer_to_report() -> None:
    data = b"code,joined_on\n1,soon\n2,2025-13-45\n"
    assert rows(shift_csv(data, 3)) == [
        {"code": "1", "joined_on": "soon"},
        {"code": "2", "joined_on": "2025-13-45"},
    ]


def test_the_samples_as_written_need_no_move_in_their_own_year() -> None:
    files = read_samples(EXAMPLES)
    living = living_samples(files, today=date(2025, 11, 20))
    assert living.years == 0 and living.accrual == BASE_ACCRUAL
    assert living.payments_ahead == 0 and living.joins_ahead == []
    for name, data in files.items():
        assert rows(living.files[name]) == rows(data), name


def test_the_newest_charges_year_becomes_this_year() -> None:
    files = read_samples(EXAMPLES)
    assert newest_charge_year(files["charges"]) == 2025  # the entrance fees of 2025
    living = living_samples(files, today=date(2028, 12, 1))
    assert living.years == 3 and living.accrual.year == 2028
    assert living.accrual.due_date == date(2028, 3, 31)
    assert newest_charge_year(living.files["charges"]) == 2028
    charges = rows(living.files["charges"])
    assert {c["year"] for c in charges} == {"2027", "2028"}
    assert all(c["due_date"].startswith(c["year"]) for c in charges)
    payments = rows(living.files["payments"])
    assert len(payments) == len(rows(files["payments"]))  # all lie before 1 December
    assert min(p["paid_on"] for p in payments) == "2027-01-22"
    assert all(p["reference"][3:7] in ("2027", "2028") for p in payments)
    joined = {m["code"]: m["joined_on"] for m in rows(living.files["members"])}
    assert joined["04057287"] == "1995-10-15"  # founding members move too; harmless
    assert joined["04436450"] == "2028-06-05"


def test_what_would_lie_in_the_future_is_brought_to_today() -> None:
    files = read_samples(EXAMPLES)
    today = date(2026, 4, 1)  # early in the year: part of the base year is still ahead
    living = living_samples(files, today=today)
    payments = rows(living.files["payments"])
    ahead = [p for p in rows(files["payments"]) if p["paid_on"] > "2025-04-01"]
    assert living.payments_ahead == len(ahead) > 0
    assert len(payments) == len(rows(files["payments"])) - len(ahead)
    assert max(p["paid_on"] for p in payments) <= today.isoformat()
    joined = {m["code"]: m["joined_on"] for m in rows(living.files["members"])}
    assert living.joins_ahead == ["04436450"]  # Rohan joined on 5 June of the base year
    assert joined["04436450"] == today.isoformat()


def test_a_deadline_that_would_have_passed_is_next_years() -> None:
    files = read_samples(EXAMPLES)
    as_written = {d["code"]: d for d in rows(files["deadlines"])}
    assert len(as_written) == 4
    living = living_samples(files, today=date(2026, 12, 20))  # moved by a year, late December
    assert living.years == 1
    moved = {d["code"]: d for d in rows(living.files["deadlines"])}
    # 12 and 19 December would lie behind today: they are next December's.
    assert sorted(living.deadlines_rolled) == ["DL-GRANT-2025-12", "DL-LAW-2025-12"]
    assert moved["DL-LAW-2025-12"]["due_at"] == "2027-12-12T18:00"
    assert moved["DL-GRANT-2025-12"]["due_at"] == "2027-12-19T17:00"
    assert moved["DL-REPORT-2025"]["due_at"] == "2027-01-30T18:00"
    assert moved["DL-REPORT-2025"]["title_uk"].endswith("за 2026 рік")
    assert moved["DL-ASMS-2025"]["due_at"] == "2027-02-27T18:00"
    # On the samples' own day nothing moves.
    assert living_samples(files, today=date(2025, 11, 20)).deadlines_rolled == []


async def test_loading_the_moved_samples_shows_this_years_dues(db: Database) -> None:
    today = date(2027, 12, 1)
    living = living_samples(read_samples(EXAMPLES), today=today)
    async with db.session() as session:
        results = await load_samples(
            session=session,
            files=living.files,
            accrual=living.accrual,
            today=today,
            now=datetime(2027, 12, 1, 9, 0, tzinfo=UTC),
        )
        kinds = [r.kind.value for r in results]
        programme = ["sections", "events", "trainings"]
        assert kinds == ["members", "officials", "charges", *programme, "deadlines", "payments"]
        assert all(r.ok for r in results), [r.problems for r in results]
        kremenchuk = await members.member_by_code(session=session, code="04057287")
        assert kremenchuk is not None and kremenchuk.id is not None
        st = await dues.statement(session=session, member_id=kremenchuk.id, today=today)
    assert st.all_years == (2026, 2027)
    this_year = st.years[0]
    assert this_year.year == 2027
    # As examples/README.md says of 2025: 248,530.00 each, 200,000.00 paid on membership.
    assert [line.amount_kop for line in this_year.lines] == [24_853_000, 24_853_000]
    assert this_year.paid_kop == 20_000_000
    # The programme moved with the dues: what lay ahead of the samples' day lies ahead of today.
    async with db.session() as session:
        starts = (await session.execute(select(col(Event.starts_at)))).scalars().all()
        seated = (await session.execute(select(func.count()).select_from(Registration))).scalar()
    assert min(starts).year == 2027 and sum(s.date() > today for s in starts) >= 10
    assert seated  # the sample registrations were seeded too
    # Every sample deadline lies ahead, so /deadlines shows them all to Kremenchuk (Poltava).
    async with db.session() as session:
        shown = await deadlines.open_deadlines(
            session=session, now=datetime(2027, 12, 1, 9, 0, tzinfo=UTC), region="Полтавська"
        )
    assert len(shown) == 4
    assert "Local Self-Government" in shown[0].title_en  # 12 December comes first


def test_seed_command_writes_the_moved_files_for_run_with_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert samples.main([str(tmp_path / "out"), "--examples", str(EXAMPLES)]) == 0
    year = int(capsys.readouterr().out.strip())
    assert year == datetime.now(UTC).year or year == datetime.now(UTC).year + 1  # Kyiv is ahead
    written = sorted(p.name for p in (tmp_path / "out").glob("*.csv"))
    assert written == sorted(p.name for p in EXAMPLES.glob("*.csv"))
    assert newest_charge_year((tmp_path / "out" / "charges.csv").read_bytes()) == year


def test_seed_command_without_samples_fails(tmp_path: Path) -> None:
    assert samples.main([str(tmp_path / "out"), "--examples", str(tmp_path)]) == 1
