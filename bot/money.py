"""Money as integer kopiykas: parsing exact decimal text, never through float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
_RATE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,6})?$")


def parse_amount(text: str) -> int:
    """'248530.00' -> 24853000 kopiykas; raises ValueError for anything but a plain amount."""
    text = text.strip()
    if not _AMOUNT.match(text):
        raise ValueError(f"not an amount in UAH with '.' decimals: {text!r}")
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def parse_rate(text: str) -> Decimal:
    """A rate in UAH per inhabitant, such as '1.16'; exact, non-negative."""
    text = text.strip()
    if not _RATE.match(text):
        raise ValueError(f"not a rate in UAH with '.' decimals: {text!r}")
    return Decimal(text)


def per_capita_kop(population: int, rate: Decimal) -> int:
    """population × rate, rounded half up to the kopiyka."""
    return int((Decimal(population) * rate * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_uah(kop: int) -> Decimal:
    """Kopiykas as an exact Decimal of hryvnias, for Babel and for reports."""
    return Decimal(kop).scaleb(-2)
