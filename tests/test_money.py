"""Money is exact integer kopiykas: parsing plain decimal text and per-capita rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.money import parse_amount, parse_rate, per_capita_kop, to_uah


@pytest.mark.parametrize(
    ("text", "kop"),
    [
        ("248530.00", 24_853_000),
        ("1", 100),
        ("0.5", 50),
        ("0.05", 5),
        ("0", 0),
        ("1000.1", 100_010),
        (" 12 ", 1_200),
        ("\t7.25\n", 725),
        ("999999999999.99", 99_999_999_999_999),
    ],
)
def test_parse_amount_valid(text: str, kop: int) -> None:
    assert parse_amount(text) == kop


@pytest.mark.parametrize(
    "text",
    [
        "1,5",
        "-1",
        "+1",
        "1.005",
        "",
        "   ",
        "1e3",
        "1.",
        ".5",
        "1 000",
        "12.50 UAH",
        "nan",
        "1000000000000",  # 13 digits of hryvnias: beyond any plausible amount
    ],
)
def test_parse_amount_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)


@given(st.integers(min_value=0, max_value=10**14 - 1))
@settings(max_examples=200, deadline=None)
def test_parse_amount_round_trips_every_kopiyka(k: int) -> None:
    assert parse_amount(f"{k // 100}.{k % 100:02d}") == k


@given(st.integers(min_value=0, max_value=10**14 - 1))
@settings(max_examples=200, deadline=None)
def test_to_uah_is_exact(k: int) -> None:
    assert to_uah(k) * 100 == k
    assert parse_amount(f"{to_uah(k):.2f}") == k


def test_per_capita_kremenchuk() -> None:
    assert per_capita_kop(214_250, Decimal("1.16")) == 24_853_000


@pytest.mark.parametrize(
    ("population", "rate", "kop"),
    [
        (1, Decimal("0.005"), 1),  # 0.5 kop rounds up
        (3, Decimal("0.005"), 2),  # 1.5 kop rounds up, not to even
        (5, Decimal("0.005"), 3),  # 2.5 kop rounds up, not to even (banker's would give 2)
        (1, Decimal("0.0049"), 0),  # 0.49 kop rounds down
        (840, Decimal("1.16"), 97_440),  # Kunie's fund: 974.40
        (44_421, Decimal("1.16"), 5_152_836),  # Lubny: 51,528.36
        (0, Decimal("1.16"), 0),
    ],
)
def test_per_capita_rounds_half_up(population: int, rate: Decimal, kop: int) -> None:
    assert per_capita_kop(population, rate) == kop


@pytest.mark.parametrize(("text", "rate"), [("1.16", Decimal("1.16")), (" 0.5 ", Decimal("0.5"))])
def test_parse_rate_valid(text: str, rate: Decimal) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["abc", "1,16", "-1.16", "", "1e2", "1.1234567"])
def test_parse_rate_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["１２.５０", "١٢"])
def test_parse_amount_rejects_non_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)
