"""Dues: charges, payments allocated to them, statements, yearly accrual and the dues report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import bindparam, cast, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.db import Query
from bot.money import per_capita_kop
from models import KIND_ORDER, Charge, ChargeKind, Member, Payment


def _untyped(row: Any) -> Any:
    """A result row for a dataclass; SQLModel types primary keys `int | None` even when read."""
    return row


class MemberNotFound(LookupError):
    """No council with that id or code."""


@dataclass(frozen=True)
class ChargeRow:
    """The columns of a charge that allocation and statements need."""

    id: int
    year: int
    kind: str
    amount_kop: int
    due_date: date
    formula_population: int | None = None
    formula_rate: str | None = None
    formula_min_kop: int | None = None


@dataclass(frozen=True)
class PaymentRow:
    """The columns of a payment that allocation needs."""

    id: int
    amount_kop: int
    paid_on: date
    reference: str
    year: int | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Applied:
    """Part of one payment applied to one charge."""

    payment_id: int
    charge_id: int
    amount_kop: int


@dataclass
class Allocation:
    """Where every kopiyka of a council's payments went; `credit_kop` is kept, never lost."""

    applied: list[Applied] = field(default_factory=list)
    credit_kop: int = 0
    # Money a payer earmarked for a charge that does not exist (yet): part of the credit.
    earmarked_kop: int = 0

    def paid_for(self, charge_id: int) -> int:
        """How much has been applied to a charge."""
        return sum(a.amount_kop for a in self.applied if a.charge_id == charge_id)


def _charge_order(c: ChargeRow) -> tuple[date, int, int, int]:
    return (c.due_date, c.year, KIND_ORDER.get(ChargeKind(c.kind), 9), c.id)


def allocate(charges: Sequence[ChargeRow], payments: Sequence[PaymentRow]) -> Allocation:
    """Apply payments: a named year and kind goes there, the rest to the oldest unpaid charge."""
    ordered = sorted(charges, key=_charge_order)
    by_target = {(c.year, c.kind): c for c in ordered}
    remaining = {c.id: c.amount_kop for c in ordered}
    result = Allocation()
    left: dict[int, int] = {}
    chronological = sorted(payments, key=lambda p: (p.paid_on, p.id))

    for p in chronological:
        left[p.id] = p.amount_kop
        if p.year is None or p.kind is None:
            continue
        target = by_target.get((p.year, p.kind))
        if target is None:
            # The payer named a charge not issued yet: hold the money for it.
            result.earmarked_kop += p.amount_kop
            left[p.id] = 0
            continue
        amount = min(remaining[target.id], p.amount_kop)
        if amount:
            remaining[target.id] -= amount
            left[p.id] -= amount
            result.applied.append(Applied(p.id, target.id, amount))

    cursor = 0
    for p in chronological:
        while left[p.id] and cursor < len(ordered):
            charge = ordered[cursor]
            if not remaining[charge.id]:
                cursor += 1
                continue
            amount = min(remaining[charge.id], left[p.id])
            remaining[charge.id] -= amount
            left[p.id] -= amount
            result.applied.append(Applied(p.id, charge.id, amount))

    result.credit_kop = sum(left.values()) + result.earmarked_kop
    return result


@dataclass(frozen=True)
class Formula:
    """How a per-capita charge was computed: population × rate, or the minimum."""

    population: int
    rate: Decimal
    minimum_kop: int | None
    minimum_applied: bool


@dataclass(frozen=True)
class PaidPart:
    """A payment as it settles one charge."""

    paid_on: date
    reference: str
    amount_kop: int


@dataclass(frozen=True)
class ChargeLine:
    """One charge with what was paid on it."""

    charge_id: int
    year: int
    kind: str
    amount_kop: int
    due_date: date
    paid_kop: int
    balance_kop: int
    overdue: bool
    payments: tuple[PaidPart, ...]
    formula: Formula | None


@dataclass(frozen=True)
class YearStatement:
    """A council's charges for one year."""

    year: int
    lines: tuple[ChargeLine, ...]

    @property
    def charged_kop(self) -> int:
        """Everything charged for the year."""
        return sum(line.amount_kop for line in self.lines)

    @property
    def paid_kop(self) -> int:
        """Everything applied to the year's charges."""
        return sum(line.paid_kop for line in self.lines)

    @property
    def balance_kop(self) -> int:
        """What is still owed for the year."""
        return sum(line.balance_kop for line in self.lines)

    @property
    def overdue_kop(self) -> int:
        """What is owed past its due date."""
        return sum(line.balance_kop for line in self.lines if line.overdue)


@dataclass(frozen=True)
class MemberInfo:
    """The council a statement is about."""

    id: int
    code: str
    name_uk: str
    name_en: str
    region: str


@dataclass(frozen=True)
class DuesStatement:
    """What a council owes: the years shown, credit, and the years one can page to."""

    member: MemberInfo
    today: date
    years: tuple[YearStatement, ...]
    all_years: tuple[int, ...]
    credit_kop: int
    total_balance_kop: int
    total_overdue_kop: int
    payments_count: int


def _formula(c: ChargeRow) -> Formula | None:
    if c.formula_population is None or c.formula_rate is None:
        return None
    rate = Decimal(c.formula_rate)
    computed = per_capita_kop(c.formula_population, rate)
    return Formula(
        population=c.formula_population,
        rate=rate,
        minimum_kop=c.formula_min_kop,
        minimum_applied=c.formula_min_kop is not None and computed < c.formula_min_kop,
    )


# The columns behind ChargeRow and PaymentRow, in their field order.
CHARGE_COLUMNS = (
    col(Charge.id),
    col(Charge.year),
    col(Charge.kind),
    col(Charge.amount_kop),
    col(Charge.due_date),
    col(Charge.formula_population),
    col(Charge.formula_rate),
    col(Charge.formula_min_kop),
)
PAYMENT_COLUMNS = (
    col(Payment.id),
    col(Payment.amount_kop),
    col(Payment.paid_on),
    col(Payment.reference),
    col(Payment.year),
    col(Payment.kind),
)


MEMBER_COLUMNS = (
    col(Member.id),
    col(Member.code),
    col(Member.name_uk),
    col(Member.name_en),
    col(Member.region),
)


def _nulls(columns: Iterable[Any]) -> list[Any]:
    """Typed NULLs in place of `columns`, for the other half of a UNION."""
    return [cast(null(), c.type) for c in columns]


# A council, its charges and its payments in one query, built once: every statement reads
# them. Charge rows carry no payment, payment rows no council or charge.
_LEDGER = Query(
    union_all(
        select(*MEMBER_COLUMNS, *CHARGE_COLUMNS, *_nulls(PAYMENT_COLUMNS))
        .select_from(Member)
        .outerjoin(Charge, col(Charge.member_id) == col(Member.id))
        .where(col(Member.id) == bindparam("member_id")),
        select(*_nulls(MEMBER_COLUMNS), *_nulls(CHARGE_COLUMNS), *PAYMENT_COLUMNS).where(
            col(Payment.member_id) == bindparam("member_id")
        ),
    )
)
_CHARGES_AT = len(MEMBER_COLUMNS)
_PAYMENTS_AT = _CHARGES_AT + len(CHARGE_COLUMNS)


async def _ledger(
    session: AsyncSession, member_id: int
) -> tuple[MemberInfo, list[ChargeRow], list[PaymentRow]]:
    """One council with its charges and its payments, in one round trip."""
    member: MemberInfo | None = None
    charges: list[ChargeRow] = []
    payments: list[PaymentRow] = []
    for row in await _LEDGER.all(session, member_id=member_id):
        if row[_PAYMENTS_AT] is not None:
            payments.append(PaymentRow(*row[_PAYMENTS_AT:]))
            continue
        member = member or MemberInfo(*row[:_CHARGES_AT])
        if row[_CHARGES_AT] is not None:
            charges.append(ChargeRow(*row[_CHARGES_AT:_PAYMENTS_AT]))
    if member is None:
        raise MemberNotFound(member_id)
    return member, charges, payments


def _lines(
    charges: Iterable[ChargeRow],
    payments: dict[int, PaymentRow],
    allocation: Allocation,
    today: date,
) -> dict[int, list[ChargeLine]]:
    parts: dict[int, list[PaidPart]] = defaultdict(list)
    for a in allocation.applied:
        p = payments[a.payment_id]
        parts[a.charge_id].append(PaidPart(p.paid_on, p.reference, a.amount_kop))
    by_year: dict[int, list[ChargeLine]] = defaultdict(list)
    for c in sorted(charges, key=_charge_order):
        paid = sum(part.amount_kop for part in parts[c.id])
        balance = c.amount_kop - paid
        by_year[c.year].append(
            ChargeLine(
                charge_id=c.id,
                year=c.year,
                kind=c.kind,
                amount_kop=c.amount_kop,
                due_date=c.due_date,
                paid_kop=paid,
                balance_kop=balance,
                overdue=balance > 0 and c.due_date < today,
                payments=tuple(sorted(parts[c.id], key=lambda part: part.paid_on)),
                formula=_formula(c),
            )
        )
    return by_year


async def statement(
    *, session: AsyncSession, member_id: int, today: date, year: int | None = None
) -> DuesStatement:
    """A council's statement: `year`, or this year plus every earlier year with a balance."""
    member, charges, payments = await _ledger(session, member_id)
    allocation = allocate(charges, payments)
    by_year = _lines(charges, {p.id: p for p in payments}, allocation, today)
    years = {y: YearStatement(y, tuple(lines)) for y, lines in by_year.items()}

    if year is None:
        shown = [years.get(today.year, YearStatement(today.year, ()))]
        shown += [
            years[y]
            for y in sorted(years, reverse=True)
            if y < today.year and years[y].balance_kop
        ]
    else:
        shown = [years.get(year, YearStatement(year, ()))]
    all_years = tuple(sorted(set(years) | {today.year}))
    return DuesStatement(
        member=member,
        today=today,
        years=tuple(shown),
        all_years=all_years,
        credit_kop=allocation.credit_kop,
        total_balance_kop=sum(y.balance_kop for y in years.values()),
        total_overdue_kop=sum(y.overdue_kop for y in years.values()),
        payments_count=len(payments),
    )


@dataclass(frozen=True)
class PaymentLine:
    """A payment and what it settled."""

    paid_on: date
    amount_kop: int
    reference: str
    year: int | None
    kind: str | None
    settled: tuple[tuple[int, str, int], ...]  # (year, kind, amount) per charge
    unapplied_kop: int


@dataclass(frozen=True)
class PaymentPage:
    """One page of a council's payments, newest first."""

    member: MemberInfo
    items: tuple[PaymentLine, ...]
    page: int
    pages: int
    total: int
    total_paid_kop: int


async def payment_history(
    *, session: AsyncSession, member_id: int, page: int = 0, per_page: int = 8
) -> PaymentPage:
    """A page of payments, newest first, each with the charges it settled."""
    member, charges, payments = await _ledger(session, member_id)
    allocation = allocate(charges, payments)
    charge_by_id = {c.id: c for c in charges}
    settled: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for a in allocation.applied:
        c = charge_by_id[a.charge_id]
        settled[a.payment_id].append((c.year, c.kind, a.amount_kop))
    newest = sorted(payments, key=lambda p: (p.paid_on, p.id), reverse=True)
    pages = max(1, -(-len(newest) // per_page))
    page = min(max(page, 0), pages - 1)
    items = tuple(
        PaymentLine(
            paid_on=p.paid_on,
            amount_kop=p.amount_kop,
            reference=p.reference,
            year=p.year,
            kind=p.kind,
            settled=tuple(settled[p.id]),
            unapplied_kop=p.amount_kop - sum(s[2] for s in settled[p.id]),
        )
        for p in newest[page * per_page : (page + 1) * per_page]
    )
    return PaymentPage(
        member=member,
        items=items,
        page=page,
        pages=pages,
        total=len(payments),
        total_paid_kop=sum(p.amount_kop for p in payments),
    )


@dataclass
class AccrualResult:
    """What `dues accrue` did."""

    created: int = 0
    unchanged: int = 0
    differing: list[tuple[str, str, int, int]] = field(
        default_factory=list
    )  # code, kind, old, new
    no_population: list[str] = field(default_factory=list)
    not_yet_members: list[str] = field(default_factory=list)


async def accrue(
    *,
    session: AsyncSession,
    year: int,
    rate: Decimal,
    due_date: date,
    minimum_kop: int | None = None,
    fund_rate: Decimal | None = None,
) -> AccrualResult:
    """Create the year's membership (and Fund) charges from population; re-running is a no-op."""
    result = AccrualResult()
    members = (await session.execute(select(Member).order_by(col(Member.code)))).scalars().all()
    existing = {
        (c.member_id, c.kind): c
        for c in (await session.execute(select(Charge).where(col(Charge.year) == year))).scalars()
    }
    plan: list[tuple[str, Decimal, int | None]] = [(ChargeKind.MEMBERSHIP, rate, minimum_kop)]
    if fund_rate is not None:
        plan.append((ChargeKind.FUND, fund_rate, None))
    for m in members:
        # A council joining mid-year pays its entrance fee that year and dues from the next.
        if m.joined_on is not None and m.joined_on > date(year, 1, 1):
            result.not_yet_members.append(m.code)
            continue
        if not m.population:
            result.no_population.append(m.code)
            continue
        for kind, kind_rate, minimum in plan:
            amount = per_capita_kop(m.population, kind_rate)
            if minimum is not None:
                amount = max(amount, minimum)
            old = existing.get((m.id, kind))  # type: ignore[arg-type]
            if old is not None:
                if old.amount_kop == amount:
                    result.unchanged += 1
                else:
                    result.differing.append((m.code, kind, old.amount_kop, amount))
                continue
            session.add(
                Charge(
                    member_id=m.id,  # type: ignore[arg-type]
                    year=year,
                    kind=kind,
                    amount_kop=amount,
                    due_date=due_date,
                    formula_population=m.population,
                    formula_rate=str(kind_rate),
                    formula_min_kop=minimum,
                )
            )
            result.created += 1
    await session.commit()
    return result


@dataclass(frozen=True)
class ReportRow:
    """One council's figures for the report year."""

    code: str
    name_uk: str
    region: str
    charged_kop: int
    paid_kop: int
    balance_kop: int
    overdue_kop: int
    name_en: str = ""


def collected_pct(charged_kop: int, paid_kop: int) -> Decimal:
    """Share of `charged_kop` paid, in percent with one decimal, rounded down: a council that
    owes anything never shows 100.0 %."""
    if not charged_kop:
        return Decimal("0.0")
    return (Decimal(paid_kop) * 100 / charged_kop).quantize(Decimal("0.1"), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class RegionTotal:
    """Totals for a region (or, with region None, for everyone)."""

    region: str | None
    members: int
    charged_kop: int
    paid_kop: int
    debtors: int
    overdue_kop: int = 0

    @property
    def collected_pct(self) -> Decimal:
        """Share of the charged amount collected, in percent with one decimal, rounded down."""
        return collected_pct(self.charged_kop, self.paid_kop)


@dataclass(frozen=True)
class DuesReport:
    """Collection of one year's dues: per council, per region and overall."""

    year: int
    rows: tuple[ReportRow, ...]
    regions: tuple[RegionTotal, ...]
    total: RegionTotal


async def charge_years(*, session: AsyncSession) -> list[int]:
    """Every year that has charges, ascending."""
    return list(
        (
            await session.execute(select(col(Charge.year)).distinct().order_by(col(Charge.year)))
        ).scalars()
    )


async def dues_report(*, session: AsyncSession, year: int, today: date) -> DuesReport:
    """How much of the year's dues each council, each region and the association collected."""
    members = (
        await session.execute(select(Member).order_by(col(Member.region), col(Member.code)))
    ).scalars()
    charges: dict[int, list[ChargeRow]] = defaultdict(list)
    for charge in await session.execute(select(col(Charge.member_id), *CHARGE_COLUMNS)):
        charges[charge[0]].append(ChargeRow(*_untyped(charge[1:])))
    payments: dict[int, list[PaymentRow]] = defaultdict(list)
    for payment in await session.execute(select(col(Payment.member_id), *PAYMENT_COLUMNS)):
        payments[payment[0]].append(PaymentRow(*_untyped(payment[1:])))

    rows = []
    for m in members:
        year_charges = [c for c in charges.get(m.id or 0, []) if c.year == year]
        if not year_charges:
            continue
        allocation = allocate(charges[m.id or 0], payments.get(m.id or 0, []))
        ids = {c.id for c in year_charges}
        paid = {cid: 0 for cid in ids}
        for a in allocation.applied:
            if a.charge_id in ids:
                paid[a.charge_id] += a.amount_kop
        charged = sum(c.amount_kop for c in year_charges)
        paid_total = sum(paid.values())
        overdue = sum(c.amount_kop - paid[c.id] for c in year_charges if c.due_date < today)
        rows.append(
            ReportRow(
                m.code,
                m.name_uk,
                m.region,
                charged,
                paid_total,
                charged - paid_total,
                overdue,
                m.name_en,
            )
        )

    def total(region: str | None, group: list[ReportRow]) -> RegionTotal:
        return RegionTotal(
            region=region,
            members=len(group),
            charged_kop=sum(r.charged_kop for r in group),
            paid_kop=sum(r.paid_kop for r in group),
            debtors=sum(1 for r in group if r.balance_kop > 0),
            overdue_kop=sum(r.overdue_kop for r in group),
        )

    by_region: dict[str, list[ReportRow]] = defaultdict(list)
    for r in rows:
        by_region[r.region].append(r)
    return DuesReport(
        year=year,
        rows=tuple(rows),
        regions=tuple(total(region, by_region[region]) for region in sorted(by_region)),
        total=total(None, rows),
    )
