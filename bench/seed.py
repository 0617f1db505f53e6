"""A synthetic, deterministic dataset in the CSV formats of DESIGN.md.

2,000 member councils over the 24 oblasts, three years of charges (membership and Fund,
plus entrance fees for councils that joined during those years) and 100,000 payments
(~50 per council, mixed targeted and untargeted, unique references). The files go through
the real importer, so they use exactly the import formats:

    members:  code,name_uk,name_en,region,kind,population,joined_on
    charges:  member_code,year,kind,amount,due_date
    payments: member_code,amount,paid_on,reference,year,kind

Run ``python -m bench.seed --out DIR`` to write them somewhere to look at.
"""

from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from bot.money import per_capita_kop

SEED = 20_261_122
FIRST_YEAR = 2024
LAST_YEAR = 2026
# The last payment is dated a few days before the date the benchmarks treat as today.
LAST_PAID = date(2026, 11, 15)
FIRST_PAID = date(FIRST_YEAR, 1, 8)

OBLASTS = (
    "Вінницька",
    "Волинська",
    "Дніпропетровська",
    "Донецька",
    "Житомирська",
    "Закарпатська",
    "Запорізька",
    "Івано-Франківська",
    "Київська",
    "Кіровоградська",
    "Луганська",
    "Львівська",
    "Миколаївська",
    "Одеська",
    "Полтавська",
    "Рівненська",
    "Сумська",
    "Тернопільська",
    "Харківська",
    "Херсонська",
    "Хмельницька",
    "Черкаська",
    "Чернівецька",
    "Чернігівська",
)
# (Ukrainian stem, English stem) of place names; councils are named "<stem>ська міська рада".
STEMS = (
    ("Березів", "Berezivka"),
    ("Вишнів", "Vyshneve"),
    ("Городоц", "Horodok"),
    ("Дубрів", "Dubrivka"),
    ("Зеленів", "Zelenivka"),
    ("Калинів", "Kalynivka"),
    ("Кам'ян", "Kamianka"),
    ("Липов", "Lypova"),
    ("Любомир", "Liubomyrka"),
    ("Миколаїв", "Mykolaivka"),
    ("Новосел", "Novosilka"),
    ("Ольшан", "Olshanka"),
    ("Петрів", "Petrivka"),
    ("Підгаєц", "Pidhaitsi"),
    ("Розів", "Rozivka"),
    ("Соснів", "Sosnivka"),
    ("Тарасів", "Tarasivka"),
    ("Троїц", "Troitske"),
    ("Устинів", "Ustynivka"),
    ("Хорол", "Khorol"),
    ("Черешен", "Chereshenka"),
    ("Шевченків", "Shevchenkove"),
    ("Яблунів", "Yablunivka"),
    ("Ярмолинец", "Yarmolyntsi"),
)
KIND_NAMES = {
    "city": ("ська міська рада", "City Council"),
    "settlement": ("ська селищна рада", "Settlement Council"),
    "village": ("ська сільська рада", "Village Council"),
}
MEMBERSHIP_RATE = {2024: Decimal("1.10"), 2025: Decimal("1.16"), 2026: Decimal("1.22")}
FUND_RATE = {2024: Decimal("0.30"), 2025: Decimal("0.30"), 2026: Decimal("0.35")}
MEMBERSHIP_MIN_KOP = 100_000  # 1,000 UAH
ENTRANCE_KOP = 500_000  # 5,000 UAH


@dataclass(frozen=True)
class Council:
    """A generated member council."""

    code: str
    name_uk: str
    name_en: str
    region: str
    kind: str
    population: int
    joined_on: date


@dataclass(frozen=True)
class ChargeSpec:
    """A generated charge."""

    code: str
    year: int
    kind: str
    amount_kop: int
    due_date: date


@dataclass(frozen=True)
class Dataset:
    """Where the CSV files are and what they hold."""

    directory: Path
    members: Path
    charges: Path
    payments: Path
    councils: int
    charge_count: int
    payment_count: int
    targeted: int
    codes: tuple[str, ...]


def _uah(kop: int) -> str:
    return f"{kop // 100}.{kop % 100:02d}"


def _population(rng: random.Random) -> int:
    # Skewed towards villages: 500 × 6000^(u^2.2) spans 500 .. 3,000,000.
    return round(500 * 6000 ** (rng.random() ** 2.2))


def _kind(population: int) -> str:
    if population >= 20_000:
        return "city"
    if population >= 5_000:
        return "settlement"
    return "village"


def _councils(rng: random.Random, count: int) -> list[Council]:
    codes = rng.sample(range(1_000_000, 99_999_999), count)
    councils = []
    for i, code in enumerate(codes):
        population = _population(rng)
        if i == 0:
            population = 3_000_000  # the capital
        elif i == 1:
            population = 500  # the smallest hromada
        kind = _kind(population)
        stem_uk, stem_en = rng.choice(STEMS)
        suffix_uk, suffix_en = KIND_NAMES[kind]
        # ~3 % joined during the charged years: entrance fee that year, dues from the next.
        if rng.random() < 0.03:
            joined = date(FIRST_YEAR, 1, 15) + timedelta(days=rng.randrange(0, 1000))
        else:
            joined = date(1992, 1, 1) + timedelta(days=rng.randrange(0, 11_500))
        councils.append(
            Council(
                code=f"{code:08d}",
                name_uk=f"{stem_uk}{suffix_uk} №{i + 1}",
                name_en=f"{stem_en} {suffix_en} No. {i + 1}",
                region=OBLASTS[i % len(OBLASTS)] if i < 240 else rng.choice(OBLASTS),
                kind=kind,
                population=population,
                joined_on=joined,
            )
        )
    return councils


def _charges(council: Council) -> list[ChargeSpec]:
    out = []
    if council.joined_on.year >= FIRST_YEAR:
        out.append(
            ChargeSpec(
                council.code,
                council.joined_on.year,
                "entrance",
                ENTRANCE_KOP,
                council.joined_on + timedelta(days=30),
            )
        )
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        if council.joined_on > date(year, 1, 1):
            continue  # not yet a member on 1 January
        membership = max(
            per_capita_kop(council.population, MEMBERSHIP_RATE[year]), MEMBERSHIP_MIN_KOP
        )
        fund = per_capita_kop(council.population, FUND_RATE[year])
        due = date(year, 3, 31)
        out.append(ChargeSpec(council.code, year, "membership", membership, due))
        out.append(ChargeSpec(council.code, year, "fund", fund, due))
    return out


def _payment_counts(rng: random.Random, councils: int, total: int) -> list[int]:
    """~total/councils each (between about 20 and 80), summing exactly to `total`."""
    base, extra = divmod(total, councils)
    counts = [base + (1 if i < extra else 0) for i in range(councils)]
    order = list(range(councils))
    rng.shuffle(order)
    for a, b in zip(order[::2], order[1::2], strict=False):
        shift = rng.randint(-(base * 3) // 5, (base * 3) // 5)
        shift = max(-(counts[a] - 1), min(shift, counts[b] - 1))
        counts[a] += shift
        counts[b] -= shift
    return counts


def _split(rng: random.Random, total_kop: int, parts: int) -> list[int]:
    """`total_kop` in `parts` random positive amounts (at least 1 UAH each)."""
    floor = 100
    total_kop = max(total_kop, floor * parts)
    weights = [rng.expovariate(1.0) for _ in range(parts)]
    scale = (total_kop - floor * parts) / sum(weights)
    amounts = [floor + int(w * scale) for w in weights]
    amounts[rng.randrange(parts)] += total_kop - sum(amounts)
    return amounts


def generate(
    directory: Path, *, councils: int = 2_000, payments: int = 100_000, seed: int = SEED
) -> Dataset:
    """Write members.csv, charges.csv and payments.csv into `directory` (same seed, same files)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    people = _councils(rng, councils)
    charges = {c.code: _charges(c) for c in people}
    counts = _payment_counts(rng, councils, payments)

    members_path = directory / "members.csv"
    with members_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name_uk", "name_en", "region", "kind", "population", "joined_on"])
        for c in people:
            w.writerow(
                [
                    c.code,
                    c.name_uk,
                    c.name_en,
                    c.region,
                    c.kind,
                    c.population,
                    c.joined_on.isoformat(),
                ]
            )

    charges_path = directory / "charges.csv"
    charge_count = 0
    with charges_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["member_code", "year", "kind", "amount", "due_date"])
        for c in people:
            for ch in charges[c.code]:
                w.writerow([ch.code, ch.year, ch.kind, _uah(ch.amount_kop), ch.due_date])
                charge_count += 1

    rows: list[tuple[date, str, int, int | None, str | None]] = []
    for c, count in zip(people, counts, strict=True):
        owed = sum(ch.amount_kop for ch in charges[c.code])
        roll = rng.random()
        if roll < 0.70:
            coverage = rng.uniform(0.95, 1.10)  # pays in full, sometimes a little ahead
        elif roll < 0.90:
            coverage = rng.uniform(0.5, 0.95)  # behind
        else:
            coverage = rng.uniform(0.05, 0.5)  # a debtor
        first = max(FIRST_PAID, c.joined_on)
        span = (LAST_PAID - first).days
        targets = [(ch.year, ch.kind) for ch in charges[c.code]]
        for amount in _split(rng, int(owed * coverage), count):
            paid_on = first + timedelta(days=rng.randrange(span + 1))
            year: int | None = None
            kind: str | None = None
            roll = rng.random()
            eligible = [t for t in targets if t[0] <= paid_on.year]
            if roll < 0.01:
                year, kind = paid_on.year + 1, "membership"  # paid ahead: held as credit
            elif roll < 0.40 and eligible:
                year, kind = rng.choice(eligible)
            rows.append((paid_on, c.code, amount, year, kind))
    rows.sort(key=lambda r: (r[0], r[1]))

    payments_path = directory / "payments.csv"
    targeted = 0
    with payments_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["member_code", "amount", "paid_on", "reference", "year", "kind"])
        for seq, (paid_on, code, amount, year, kind) in enumerate(rows, start=1):
            prefix = "ПД" if seq % 3 else "PN"  # Cyrillic and Latin bank document numbers
            reference = f"{prefix}-{paid_on.year}-{seq:07d}"
            targeted += year is not None
            w.writerow(
                [
                    code,
                    _uah(amount),
                    paid_on.isoformat(),
                    reference,
                    "" if year is None else year,
                    kind or "",
                ]
            )

    return Dataset(
        directory=directory,
        members=members_path,
        charges=charges_path,
        payments=payments_path,
        councils=len(people),
        charge_count=charge_count,
        payment_count=len(rows),
        targeted=targeted,
        codes=tuple(c.code for c in people),
    )


def main() -> None:
    """Write the dataset and say what is in it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="directory for the CSV files")
    parser.add_argument("--councils", type=int, default=2_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    ds = generate(args.out, councils=args.councils, payments=args.payments, seed=args.seed)
    print(
        f"{ds.councils} councils, {ds.charge_count} charges, {ds.payment_count} payments "
        f"({ds.targeted} targeted) in {ds.directory}"
    )
    for path in (ds.members, ds.charges, ds.payments):
        print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
