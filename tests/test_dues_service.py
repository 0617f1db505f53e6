"""The dues service on a real database: statements, payment history, accrual and the report."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.db import Database
from bot.services import dues, members
from models import Charge, Member
from tests.conftest import NOW, TODAY

KREMENCHUK = "04057287"
LUBNY = "04058953"
HORISHNI_PLAVNI = "25546450"
KUNIE = "04384888"
POLTAVA = "04050644"
ROHAN = "04436450"


async def member_id(session: AsyncSession, code: str) -> int:
    member = await members.member_by_code(session=session, code=code)
    assert member is not None and member.id is not None, code
    return member.id


async def statement_of(
    db: Database, code: str, *, today: date = TODAY, year: int | None = None
) -> dues.DuesStatement:
    async with db.session() as session:
        mid = await member_id(session, code)
        return await dues.statement(session=session, member_id=mid, today=today, year=year)


def lines_by_kind(year: dues.YearStatement) -> dict[str, dues.ChargeLine]:
    return {line.kind: line for line in year.lines}


# --- statement ----------------------------------------------------------------------------


async def test_overview_hides_settled_earlier_years(examples: Database) -> None:
    st = await statement_of(examples, KREMENCHUK)
    assert st.member.code == KREMENCHUK
    assert st.member.name_en == "Kremenchuk City Council"
    assert st.member.name_uk == "Кременчуцька міська рада"
    assert [y.year for y in st.years] == [2025]
    assert st.all_years == (2024, 2025)
    lines = lines_by_kind(st.years[0])
    assert lines["membership"].paid_kop == 20_000_000
    assert lines["membership"].balance_kop == 4_853_000
    assert lines["fund"].paid_kop == 0
    assert st.years[0].charged_kop == 49_706_000
    assert st.years[0].paid_kop == 20_000_000
    assert st.total_balance_kop == 29_706_000
    assert st.total_overdue_kop == 29_706_000
    assert st.credit_kop == 0
    assert st.payments_count == 4


async def test_overview_shows_earlier_years_with_a_balance_newest_first(
    examples: Database,
) -> None:
    st = await statement_of(examples, HORISHNI_PLAVNI)
    assert [y.year for y in st.years] == [2025, 2024]
    y2024 = lines_by_kind(st.years[1])
    assert y2024["membership"].balance_kop == 0
    assert y2024["fund"].balance_kop == 2_384_060  # 23,840.60
    assert y2024["fund"].overdue
    y2025 = lines_by_kind(st.years[0])
    assert y2025["membership"].balance_kop == y2025["fund"].balance_kop == 5_677_736
    assert st.total_balance_kop == 2_384_060 + 2 * 5_677_736


async def test_a_named_year_shows_only_that_year(examples: Database) -> None:
    st = await statement_of(examples, HORISHNI_PLAVNI, year=2024)
    assert [y.year for y in st.years] == [2024]
    assert st.years[0].balance_kop == 2_384_060
    # The totals still cover every year.
    assert st.total_balance_kop == 2_384_060 + 2 * 5_677_736

    paid_up = await statement_of(examples, KREMENCHUK, year=2024)
    assert [y.year for y in paid_up.years] == [2024]
    assert paid_up.years[0].balance_kop == 0
    assert paid_up.years[0].charged_kop == 2 * 23_567_500
    # Named payments settle their own charges; parts list the bank reference.
    by_kind = lines_by_kind(paid_up.years[0])
    assert [p.reference for p in by_kind["membership"].payments] == ["PN-2024-0064"]
    assert [p.reference for p in by_kind["fund"].payments] == ["PN-2024-0101"]


async def test_a_year_without_charges_is_empty(examples: Database) -> None:
    st = await statement_of(examples, KREMENCHUK, year=2019)
    assert len(st.years) == 1
    assert st.years[0].year == 2019
    assert st.years[0].lines == ()
    assert st.years[0].balance_kop == 0
    assert st.all_years == (2024, 2025)


async def test_credit_from_overpayment(examples: Database) -> None:
    st = await statement_of(examples, LUBNY)
    assert st.credit_kop == 294_328
    assert [y.year for y in st.years] == [2025]
    assert st.years[0].balance_kop == 0
    assert st.total_balance_kop == 0


async def test_formula_with_the_minimum_applied(examples: Database) -> None:
    st = await statement_of(examples, KUNIE, year=2025)
    lines = lines_by_kind(st.years[0])
    membership = lines["membership"]
    assert membership.amount_kop == 100_000
    assert membership.formula == dues.Formula(
        population=840, rate=Decimal("1.16"), minimum_kop=100_000, minimum_applied=True
    )
    fund = lines["fund"]
    assert fund.amount_kop == 97_440
    assert fund.formula == dues.Formula(
        population=840, rate=Decimal("1.16"), minimum_kop=None, minimum_applied=False
    )
    # 2024 was imported as plain amounts: no formula to explain.
    old = await statement_of(examples, KUNIE, year=2024)
    assert all(line.formula is None for line in old.years[0].lines)


async def test_formula_without_the_minimum_applied(examples: Database) -> None:
    st = await statement_of(examples, KREMENCHUK)
    formula = lines_by_kind(st.years[0])["membership"].formula
    assert formula is not None
    assert formula.population == 214_250
    assert formula.minimum_kop == 100_000
    assert not formula.minimum_applied


@pytest.mark.parametrize(
    ("today", "overdue"),
    [(date(2025, 3, 30), False), (date(2025, 3, 31), False), (date(2025, 4, 1), True)],
)
async def test_overdue_is_relative_to_today(
    examples: Database, today: date, overdue: bool
) -> None:
    st = await statement_of(examples, KREMENCHUK, today=today)
    lines = lines_by_kind(st.years[0])
    assert lines["fund"].overdue is overdue
    assert lines["membership"].overdue is overdue  # still partly unpaid
    expected = 4_853_000 + 24_853_000 if overdue else 0
    assert st.years[0].overdue_kop == expected
    assert st.total_overdue_kop == expected


async def test_paid_charges_are_never_overdue(examples: Database) -> None:
    st = await statement_of(examples, POLTAVA, today=date(2030, 1, 1), year=2025)
    assert all(not line.overdue for line in st.years[0].lines)
    assert st.total_overdue_kop == 0


async def test_member_without_charges_gets_an_empty_current_year(db: Database) -> None:
    async with db.session() as session:
        member = Member(
            code="12345678",
            name_uk="Тестова сільська рада",
            name_en="Test Village Council",
            region="Полтавська",
            kind="village",
            created_at=NOW,
        )
        session.add(member)
        await session.commit()
        assert member.id is not None
        st = await dues.statement(session=session, member_id=member.id, today=TODAY)
    assert st.years == (dues.YearStatement(2025, ()),)
    assert st.all_years == (2025,)
    assert st.credit_kop == st.total_balance_kop == st.total_overdue_kop == 0
    assert st.payments_count == 0


async def test_unknown_member(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(dues.MemberNotFound):
            await dues.statement(session=session, member_id=999_999, today=TODAY)
        with pytest.raises(dues.MemberNotFound):
            await dues.payment_history(session=session, member_id=999_999)


# --- payment history --------------------------------------------------------------------------


async def history(db: Database, code: str, **kwargs: int) -> dues.PaymentPage:
    async with db.session() as session:
        mid = await member_id(session, code)
        return await dues.payment_history(session=session, member_id=mid, **kwargs)


async def test_payment_history_pages_newest_first(examples: Database) -> None:
    pages = [await history(examples, KREMENCHUK, page=n, per_page=3) for n in range(2)]
    assert [p.pages for p in pages] == [2, 2]
    assert [p.page for p in pages] == [0, 1]
    assert [len(p.items) for p in pages] == [3, 1]
    assert all(p.total == 4 for p in pages)
    items = [item for p in pages for item in p.items]
    assert [i.reference for i in items] == [
        "PN-2025-0100",
        "PN-2025-0062",
        "PN-2024-0101",
        "PN-2024-0064",
    ]
    assert pages[0].total_paid_kop == sum(i.amount_kop for i in items) == 67_135_000
    newest = items[0]
    assert newest.paid_on == date(2025, 9, 10)
    assert newest.amount_kop == 5_000_000
    assert newest.year is None and newest.kind is None
    # Unnamed money goes to the oldest open charge: 2025 membership before fund.
    assert newest.settled == ((2025, "membership", 5_000_000),)
    assert newest.unapplied_kop == 0
    named = items[1]
    assert (named.year, named.kind) == (2025, "membership")
    assert named.settled == ((2025, "membership", 15_000_000),)


async def test_payment_history_page_is_clamped(examples: Database) -> None:
    last = await history(examples, KREMENCHUK, page=99, per_page=3)
    assert last.page == 1
    assert last.pages == 2
    assert [i.reference for i in last.items] == ["PN-2024-0064"]
    first = await history(examples, KREMENCHUK, page=-5, per_page=3)
    assert first.page == 0
    assert first.items[0].paid_on == date(2025, 9, 10)


async def test_payment_history_settled_parts_add_up(examples: Database) -> None:
    page = await history(examples, LUBNY, per_page=50)
    assert page.pages == 1
    assert page.total == len(page.items) == 4
    for item in page.items:
        assert sum(part[2] for part in item.settled) + item.unapplied_kop == item.amount_kop
    # The overpayment shows as the unapplied part of the newest, last-used payment.
    assert page.items[0].paid_on == date(2025, 6, 17)
    assert page.items[0].unapplied_kop == 294_328
    assert sum(i.unapplied_kop for i in page.items) == 294_328


async def test_payment_history_of_a_council_without_payments(examples: Database) -> None:
    page = await history(examples, ROHAN)
    assert page.items == ()
    assert page.pages == 1
    assert page.page == 0
    assert page.total == page.total_paid_kop == 0


# --- accrual ------------------------------------------------------------------------------


async def add_members(db: Database) -> None:
    rows = [
        ("10000001", 214_250, date(1992, 10, 15)),  # charged
        ("10000002", None, date(1992, 10, 15)),  # no population
        ("10000003", 10_870, date(2025, 6, 5)),  # joined mid-year
        ("10000004", 840, date(2025, 1, 1)),  # joined on 1 January: charged, minimum applies
        ("10000005", 1_000, None),  # join date unknown: charged
    ]
    async with db.session() as session:
        for code, population, joined in rows:
            session.add(
                Member(
                    code=code,
                    name_uk=f"Рада {code}",
                    name_en=f"Council {code}",
                    region="Тестова",
                    kind="city",
                    population=population,
                    joined_on=joined,
                    created_at=NOW,
                )
            )
        await session.commit()


async def accrue(
    db: Database, rate: str = "1.16", *, fund: str | None = "1.16", minimum: int | None = 100_000
) -> dues.AccrualResult:
    async with db.session() as session:
        return await dues.accrue(
            session=session,
            year=2025,
            rate=Decimal(rate),
            due_date=date(2025, 3, 31),
            minimum_kop=minimum,
            fund_rate=Decimal(fund) if fund else None,
        )


async def charges(
    db: Database,
) -> list[tuple[str, str, int, date, int | None, str | None, int | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(
                col(Member.code),
                col(Charge.kind),
                col(Charge.amount_kop),
                col(Charge.due_date),
                col(Charge.formula_population),
                col(Charge.formula_rate),
                col(Charge.formula_min_kop),
            )
            .join(Member, col(Member.id) == col(Charge.member_id))
            .where(col(Charge.year) == 2025)
            .order_by(col(Member.code), col(Charge.kind))
        )
        return [(a, b, c, d, e, f, g) for a, b, c, d, e, f, g in rows]


async def test_accrue_creates_membership_and_fund_with_formula(db: Database) -> None:
    await add_members(db)
    result = await accrue(db)
    assert result.created == 6
    assert result.unchanged == 0
    assert result.differing == []
    assert result.no_population == ["10000002"]
    assert result.not_yet_members == ["10000003"]
    due = date(2025, 3, 31)
    assert await charges(db) == [
        ("10000001", "fund", 24_853_000, due, 214_250, "1.16", None),
        ("10000001", "membership", 24_853_000, due, 214_250, "1.16", 100_000),
        ("10000004", "fund", 97_440, due, 840, "1.16", None),
        ("10000004", "membership", 100_000, due, 840, "1.16", 100_000),
        ("10000005", "fund", 116_000, due, 1_000, "1.16", None),
        ("10000005", "membership", 116_000, due, 1_000, "1.16", 100_000),
    ]


async def test_accrue_is_idempotent(db: Database) -> None:
    await add_members(db)
    await accrue(db)
    before = await charges(db)
    again = await accrue(db)
    assert again.created == 0
    assert again.unchanged == 6
    assert again.differing == []
    assert await charges(db) == before


async def test_accrue_reports_a_changed_rate_without_changing_charges(db: Database) -> None:
    await add_members(db)
    await accrue(db)
    before = await charges(db)
    changed = await accrue(db, "1.20", fund="1.16")
    assert changed.created == 0
    assert changed.unchanged == 3  # the fund charges
    assert sorted(changed.differing) == [
        ("10000001", "membership", 24_853_000, 25_710_000),
        ("10000004", "membership", 100_000, 100_800),
        ("10000005", "membership", 116_000, 120_000),
    ]
    assert await charges(db) == before


async def test_accrue_without_fund_rate_creates_membership_only(db: Database) -> None:
    await add_members(db)
    result = await accrue(db, fund=None, minimum=None)
    assert result.created == 3
    rows = await charges(db)
    assert {row[1] for row in rows} == {"membership"}
    assert ("10000004", "membership", 97_440, date(2025, 3, 31), 840, "1.16", None) in rows


async def test_accrue_on_examples_is_idempotent(examples: Database) -> None:
    result = await accrue(examples)
    assert result.created == 0
    assert result.unchanged == 60
    assert sorted(result.not_yet_members) == ["04436450", "04447614"]


# --- report -------------------------------------------------------------------------------


async def report(db: Database, year: int = 2025) -> dues.DuesReport:
    async with db.session() as session:
        return await dues.dues_report(session=session, year=year, today=TODAY)


def pct(paid: int, charged: int) -> Decimal:
    return (Decimal(paid) * 100 / charged).quantize(Decimal("0.1"), rounding=ROUND_DOWN)


async def test_report_totals_are_the_sum_of_rows(examples: Database) -> None:
    rep = await report(examples)
    assert rep.year == 2025
    assert len(rep.rows) == 32  # 30 councils with dues, two with only an entrance fee
    assert rep.total.region is None
    assert rep.total.members == len(rep.rows)
    assert rep.total.charged_kop == sum(r.charged_kop for r in rep.rows)
    assert rep.total.paid_kop == sum(r.paid_kop for r in rep.rows)
    assert rep.total.debtors == sum(1 for r in rep.rows if r.balance_kop > 0)
    assert all(r.balance_kop == r.charged_kop - r.paid_kop for r in rep.rows)
    assert sum(g.charged_kop for g in rep.regions) == rep.total.charged_kop
    assert sum(g.members for g in rep.regions) == rep.total.members
    assert rep.total.collected_pct == pct(rep.total.paid_kop, rep.total.charged_kop)


async def test_report_per_region(examples: Database) -> None:
    rep = await report(examples)
    regions = [g.region or "" for g in rep.regions]
    assert regions == sorted(regions)
    assert all(regions)
    assert "Полтавська" in regions
    for g in rep.regions:
        rows = [r for r in rep.rows if r.region == g.region]
        assert g.members == len(rows)
        assert g.charged_kop == sum(r.charged_kop for r in rows)
        assert g.paid_kop == sum(r.paid_kop for r in rows)
        assert g.collected_pct == pct(g.paid_kop, g.charged_kop)
        assert g.collected_pct.as_tuple().exponent == -1


async def test_report_rows(examples: Database) -> None:
    rows = {r.code: r for r in (await report(examples)).rows}
    assert rows[POLTAVA].balance_kop == 0
    assert rows[POLTAVA].overdue_kop == 0
    assert rows[POLTAVA].paid_kop == rows[POLTAVA].charged_kop == 2 * 32_432_788
    kremenchuk = rows[KREMENCHUK]
    assert (kremenchuk.charged_kop, kremenchuk.paid_kop) == (49_706_000, 20_000_000)
    assert kremenchuk.overdue_kop == kremenchuk.balance_kop == 29_706_000
    assert kremenchuk.region == "Полтавська"
    # Rohan joined in 2025: only its unpaid entrance fee, overdue since 2025-08-04.
    assert (rows[ROHAN].charged_kop, rows[ROHAN].paid_kop, rows[ROHAN].overdue_kop) == (
        500_000,
        0,
        500_000,
    )
    # Lubny's credit does not inflate what it paid for the year.
    assert rows[LUBNY].paid_kop == rows[LUBNY].charged_kop


async def test_report_for_an_earlier_year(examples: Database) -> None:
    rep = await report(examples, 2024)
    rows = {r.code: r for r in rep.rows}
    assert rows[HORISHNI_PLAVNI].balance_kop == 2_384_060
    assert rows[KREMENCHUK].balance_kop == 0
    assert rep.total.debtors == 3  # Horishni Plavni, Maiaky and Kunie
    async with examples.session() as session:
        assert await dues.charge_years(session=session) == [2024, 2025]


async def test_report_of_an_empty_year(examples: Database) -> None:
    rep = await report(examples, 2030)
    assert rep.rows == ()
    assert rep.regions == ()
    assert rep.total.charged_kop == 0
    assert rep.total.collected_pct == Decimal("0.0")
