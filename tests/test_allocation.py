"""Allocation of payments to charges: a pure function, so no database here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.dues import Allocation, Applied, ChargeRow, PaymentRow, allocate

DUE_2024 = date(2024, 3, 31)
DUE_2025 = date(2025, 3, 31)


def charge(cid: int, year: int, kind: str, amount: int, due: date | None = None) -> ChargeRow:
    return ChargeRow(cid, year, kind, amount, due or date(year, 3, 31))


def payment(
    pid: int,
    amount: int,
    paid_on: date,
    year: int | None = None,
    kind: str | None = None,
) -> PaymentRow:
    return PaymentRow(pid, amount, paid_on, f"REF-{pid}", year, kind)


def paid(allocation: Allocation) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for a in allocation.applied:
        out[a.charge_id] += a.amount_kop
    return dict(out)


def test_nothing_to_allocate() -> None:
    result = allocate([], [])
    assert result.applied == []
    assert result.credit_kop == 0
    assert result.earmarked_kop == 0


def test_targeted_payment_goes_to_its_charge_even_when_an_older_one_is_unpaid() -> None:
    charges = [charge(1, 2024, "membership", 10_000), charge(2, 2025, "membership", 20_000)]
    result = allocate(charges, [payment(7, 15_000, date(2025, 4, 1), 2025, "membership")])
    assert result.applied == [Applied(7, 2, 15_000)]
    assert result.paid_for(1) == 0
    assert result.paid_for(2) == 15_000
    assert result.credit_kop == 0


def test_untargeted_payment_goes_to_the_earliest_due_date_first() -> None:
    charges = [
        charge(1, 2025, "membership", 5_000, DUE_2025),
        charge(2, 2024, "fund", 3_000, DUE_2024),
    ]
    result = allocate(charges, [payment(1, 4_000, date(2025, 5, 1))])
    assert result.applied == [Applied(1, 2, 3_000), Applied(1, 1, 1_000)]
    assert result.credit_kop == 0


def test_same_due_date_earlier_year_first() -> None:
    same_day = date(2025, 3, 31)
    charges = [
        charge(1, 2025, "entrance", 1_000, same_day),
        charge(2, 2024, "fund", 1_000, same_day),
    ]
    result = allocate(charges, [payment(1, 1_000, date(2025, 5, 1))])
    assert result.applied == [Applied(1, 2, 1_000)]


def test_same_due_date_and_year_entrance_then_membership_then_fund() -> None:
    # Listed (and numbered) in the wrong order on purpose.
    charges = [
        charge(1, 2025, "fund", 300),
        charge(2, 2025, "membership", 200),
        charge(3, 2025, "entrance", 100),
    ]
    result = allocate(
        charges, [payment(1, 250, date(2025, 5, 1)), payment(2, 350, date(2025, 6, 1))]
    )
    assert result.applied == [
        Applied(1, 3, 100),
        Applied(1, 2, 150),
        Applied(2, 2, 50),
        Applied(2, 1, 300),
    ]
    assert result.credit_kop == 0


def test_untargeted_payments_are_used_in_date_order() -> None:
    charges = [charge(1, 2024, "membership", 100), charge(2, 2025, "membership", 100)]
    # The later payment has the lower id: the date, not the id, decides.
    payments = [payment(1, 100, date(2025, 6, 1)), payment(2, 100, date(2024, 6, 1))]
    result = allocate(charges, payments)
    assert result.applied == [Applied(2, 1, 100), Applied(1, 2, 100)]


def test_excess_of_a_targeted_payment_flows_to_the_oldest_unpaid() -> None:
    charges = [
        charge(1, 2024, "membership", 1_000),
        charge(2, 2024, "fund", 1_000),
        charge(3, 2025, "fund", 500),
    ]
    result = allocate(charges, [payment(1, 1_200, date(2025, 4, 1), 2025, "fund")])
    assert paid(result) == {3: 500, 1: 700}
    assert result.applied[0] == Applied(1, 3, 500)
    assert result.credit_kop == 0


def test_overpayment_becomes_credit() -> None:
    charges = [charge(1, 2025, "membership", 5_152_836), charge(2, 2025, "fund", 5_152_836)]
    payments = [payment(1, 5_300_000, date(2025, 2, 26)), payment(2, 5_300_000, date(2025, 6, 17))]
    result = allocate(charges, payments)
    assert paid(result) == {1: 5_152_836, 2: 5_152_836}
    assert result.credit_kop == 294_328  # Lubny's 2,943.28
    assert result.earmarked_kop == 0


def test_targeted_overpayment_on_a_paid_charge_becomes_credit() -> None:
    charges = [charge(1, 2025, "membership", 1_000)]
    payments = [
        payment(1, 1_000, date(2025, 1, 10), 2025, "membership"),
        payment(2, 400, date(2025, 2, 10), 2025, "membership"),
    ]
    result = allocate(charges, payments)
    assert result.applied == [Applied(1, 1, 1_000)]
    assert result.credit_kop == 400


def test_payment_earmarked_for_a_missing_charge_is_held_not_spent() -> None:
    charges = [charge(1, 2024, "membership", 1_000)]
    earmarked = payment(1, 2_500, date(2025, 1, 15), 2025, "membership")
    result = allocate(charges, [earmarked])
    assert result.applied == []  # not applied to the unpaid 2024 charge
    assert result.paid_for(1) == 0
    assert result.earmarked_kop == 2_500
    assert result.credit_kop == 2_500

    # Once the 2025 charge is issued, the same payment settles it.
    charges.append(charge(2, 2025, "membership", 2_000))
    result = allocate(charges, [earmarked])
    assert result.applied[0] == Applied(1, 2, 2_000)
    assert paid(result) == {2: 2_000, 1: 500}
    assert result.earmarked_kop == 0
    assert result.credit_kop == 0


def test_a_year_without_kind_is_treated_as_untargeted() -> None:
    charges = [charge(1, 2024, "membership", 100), charge(2, 2025, "fund", 100)]
    result = allocate(charges, [payment(1, 100, date(2025, 4, 1), 2025, None)])
    assert result.applied == [Applied(1, 1, 100)]


def test_allocation_does_not_depend_on_input_order() -> None:
    charges = [
        charge(1, 2024, "membership", 700),
        charge(2, 2024, "fund", 700),
        charge(3, 2025, "entrance", 300, date(2025, 2, 1)),
    ]
    payments = [
        payment(1, 500, date(2024, 2, 1)),
        payment(2, 600, date(2024, 9, 1), 2024, "fund"),
        payment(3, 900, date(2025, 3, 1)),
    ]
    forward = allocate(charges, payments)
    backward = allocate(charges[::-1], payments[::-1])
    assert forward.applied == backward.applied
    assert forward.credit_kop == backward.credit_kop == 300
    assert paid(forward) == {2: 700, 1: 700, 3: 300}


KINDS = ("entrance", "membership", "fund")


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[list[ChargeRow], list[PaymentRow]]:
    keys = draw(
        st.lists(
            st.tuples(st.integers(2020, 2026), st.sampled_from(KINDS)),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    charges = [
        ChargeRow(
            id=i + 1,
            year=year,
            kind=kind,
            amount_kop=draw(st.integers(0, 200_000)),
            due_date=date(year, 1, 1) + timedelta(days=draw(st.integers(0, 500))),
        )
        for i, (year, kind) in enumerate(keys)
    ]
    missing = [(y, k) for y in range(2020, 2027) for k in KINDS if (y, k) not in keys]
    payments = []
    for i in range(draw(st.integers(0, 15))):
        target = draw(
            st.one_of(
                st.none(),
                st.sampled_from(keys),
                st.sampled_from(missing) if missing else st.none(),
            )
        )
        payments.append(
            PaymentRow(
                id=i + 1,
                amount_kop=draw(st.integers(1, 300_000)),
                paid_on=date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 2500))),
                reference=f"R{i}",
                year=target[0] if target else None,
                kind=target[1] if target else None,
            )
        )
    return charges, payments


@given(ledgers())
@settings(max_examples=200, deadline=None)
def test_allocation_invariants(ledger: tuple[list[ChargeRow], list[PaymentRow]]) -> None:
    charges, payments = ledger
    result = allocate(charges, payments)
    by_id = {c.id: c for c in charges}
    payment_ids = {p.id for p in payments}
    applied = paid(result)

    # Conservation: every kopiyka is applied or kept as credit.
    assert sum(applied.values()) + result.credit_kop == sum(p.amount_kop for p in payments)
    # Applications are positive, real, and never overpay a charge.
    assert all(a.amount_kop > 0 for a in result.applied)
    assert all(a.charge_id in by_id and a.payment_id in payment_ids for a in result.applied)
    assert all(applied.get(cid, 0) <= c.amount_kop for cid, c in by_id.items())
    # No payment gives away more than it carried.
    given_away: dict[int, int] = defaultdict(int)
    for a in result.applied:
        given_away[a.payment_id] += a.amount_kop
    assert all(given_away[p.id] <= p.amount_kop for p in payments)
    # Earmarked money is exactly the payments naming a charge that does not exist.
    keys = {(c.year, c.kind) for c in charges}
    orphaned = [p for p in payments if p.year is not None and (p.year, p.kind) not in keys]
    assert result.earmarked_kop == sum(p.amount_kop for p in orphaned)
    assert all(given_away[p.id] == 0 for p in orphaned)
    assert 0 <= result.earmarked_kop <= result.credit_kop
    # Free credit exists only once every charge is settled.
    if result.credit_kop - result.earmarked_kop > 0:
        assert all(applied.get(cid, 0) == c.amount_kop for cid, c in by_id.items())
