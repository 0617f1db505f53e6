"""CSV imports: idempotent, all or nothing, every bad line named with its reason."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

import models
from bot.db import Database
from bot.services.imports import ImportKind, ImportResult, import_csv
from models import Charge, Member, Official, Payment
from tests.conftest import EXAMPLES, NOW, TODAY

KREMENCHUK = "04057287"
PAYMENTS_HEADER = "member_code,amount,paid_on,reference,year,kind\n"
MEMBERS_HEADER = "code,name_uk,name_en,region,kind,population,joined_on\n"
CHARGES_HEADER = "member_code,year,kind,amount,due_date\n"
OFFICIALS_HEADER = "member_code,full_name,position,phone,email\n"


async def run(
    db: Database, kind: ImportKind, data: bytes | str, *, today: date = TODAY
) -> ImportResult:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    async with db.session() as session:
        return await import_csv(session=session, kind=kind, data=raw, today=today, now=NOW)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    out = {}
    async with db.session() as session:
        for table in models.metadata.sorted_tables:
            rows = await session.execute(table.select().order_by(*table.primary_key.columns))
            out[table.name] = [tuple(row) for row in rows]
    return out


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def problems(result: ImportResult) -> list[tuple[int, str]]:
    return [(p.line, p.msgid) for p in result.problems]


def examples_file(kind: ImportKind) -> bytes:
    return (EXAMPLES / f"{kind.value}.csv").read_bytes()


# --- idempotency ------------------------------------------------------------------------------


async def test_the_sample_files_are_loaded(examples: Database) -> None:
    assert await count(examples, Member) == 32
    assert await count(examples, Official) == 28
    assert await count(examples, Payment) == 102
    assert await count(examples, Charge) == 60 + 60  # imported, then accrued for 2025


@pytest.mark.parametrize("kind", list(ImportKind))
async def test_reimport_changes_nothing(examples: Database, kind: ImportKind) -> None:
    if kind == ImportKind.DEADLINES:  # not in the loaded samples: the first import adds them
        assert (await run(examples, kind, examples_file(kind))).created == 4
    before = await snapshot(examples)
    result = await run(examples, kind, examples_file(kind))
    assert result.ok, result.problems
    assert result.created == 0
    assert result.updated == 0
    assert result.unchanged == result.rows > 0
    assert await snapshot(examples) == before


async def test_first_import_then_reimport_on_an_empty_database(db: Database) -> None:
    first = await run(db, ImportKind.MEMBERS, examples_file(ImportKind.MEMBERS))
    assert (first.rows, first.created, first.updated, first.unchanged) == (32, 32, 0, 0)
    before = await snapshot(db)
    second = await run(db, ImportKind.MEMBERS, examples_file(ImportKind.MEMBERS))
    assert (second.rows, second.created, second.updated, second.unchanged) == (32, 0, 0, 32)
    assert await snapshot(db) == before


async def test_payments_import_partly_known_file_adds_only_the_new_rows(
    examples: Database,
) -> None:
    data = PAYMENTS_HEADER + (
        f"{KREMENCHUK},50000.00,2025-09-10,PN-2025-0100,,\n"  # already there, same details
        f"{KREMENCHUK},1000.00,2025-11-01,NEW-0001,2025,fund\n"
    )
    result = await run(examples, ImportKind.PAYMENTS, data)
    assert result.ok
    assert (result.created, result.unchanged) == (1, 1)
    assert await count(examples, Payment) == 103
    again = await run(examples, ImportKind.PAYMENTS, data)
    assert (again.created, again.unchanged) == (0, 2)
    assert await count(examples, Payment) == 103


async def test_member_details_are_updated(examples: Database) -> None:
    data = MEMBERS_HEADER + (
        f"{KREMENCHUK},Кременчуцька міська рада,Kremenchuk City Council,Полтавська,city,"
        "210000,1992-10-15\n"
    )
    result = await run(examples, ImportKind.MEMBERS, data)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    async with examples.session() as session:
        population = (
            await session.execute(
                select(col(Member.population)).where(col(Member.code) == KREMENCHUK)
            )
        ).scalar_one()
    assert population == 210_000


# --- all or nothing -------------------------------------------------------------------------

GOOD_PAYMENT = f"{KREMENCHUK},10.00,2025-11-01,GOOD-1,,\n"

BAD_PAYMENTS = [
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f'{KREMENCHUK},"12,50",2025-11-01,X-1,,\n',
        [(3, "import.error.amount")],
        id="bad-amount",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},0.00,2025-11-01,X-1,,\n",
        [(3, "import.error.amount_positive")],
        id="zero-amount",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},-12.50,2025-11-01,X-1,,\n",
        [(3, "import.error.amount_positive")],
        id="negative-amount",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + "4057287,10.00,2025-11-01,X-1,,\n",
        [(3, "import.error.leading_zero")],
        id="edrpou-that-lost-its-zero",
    ),
    pytest.param(
        PAYMENTS_HEADER.replace(",", ";") + GOOD_PAYMENT.replace(",", ";"),
        [(1, "import.error.semicolons")],
        id="semicolon-separated",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + "99999999,10.00,2025-11-01,X-1,,\n",
        [(3, "import.error.unknown_member")],
        id="unknown-council",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},20.00,2025-11-02,GOOD-1,,\n",
        [(3, "import.error.duplicate")],
        id="duplicate-reference-in-file",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},1.00,2025-09-10,PN-2025-0100,,\n",
        [(3, "import.error.reference_taken")],
        id="reference-in-db-with-other-details",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,2025-11-01,X-1,2025,\n",
        [(3, "import.error.year_kind_pair")],
        id="year-without-kind",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,2025-11-01,X-1,,fund\n",
        [(3, "import.error.year_kind_pair")],
        id="kind-without-year",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,2025-11-01,X-1,2025,tax\n",
        [(3, "import.error.choice")],
        id="unknown-charge-kind",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,2025-11-21,X-1,,\n",
        [(3, "import.error.future_date")],
        id="future-paid-on",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,01.11.2025,X-1,,\n",
        [(3, "import.error.date")],
        id="bad-date",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00\n",
        [(3, "import.error.columns")],
        id="too-few-fields",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,2025-11-01,X-1,,,extra\n",
        [(3, "import.error.columns")],
        id="too-many-fields",
    ),
    pytest.param(
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},10.00,2025-11-01,{'R' * 101},,\n",
        [(3, "import.error.too_long")],
        id="reference-too-long",
    ),
    pytest.param(
        "member_code,amount,paid_on\n" + f"{KREMENCHUK},10.00,2025-11-01\n",
        [(1, "import.error.header_missing")],
        id="missing-column",
    ),
    pytest.param(
        "member_code,amount,paid_on,reference,note\n" + f"{KREMENCHUK},10.00,2025-11-01,X,n\n",
        [(1, "import.error.header_unknown")],
        id="unknown-column",
    ),
    pytest.param(
        "member_code,amount,paid_on,reference,reference\n" + GOOD_PAYMENT,
        [(1, "import.error.header_repeated")],
        id="duplicate-column",
    ),
    pytest.param(b"", [(1, "import.error.empty")], id="empty-file"),
    pytest.param(b"\xef\xbb\xbf", [(1, "import.error.empty")], id="only-a-bom"),
    pytest.param(
        (PAYMENTS_HEADER + GOOD_PAYMENT).encode()
        + f"{KREMENCHUK},10.00,2025-11-01,X".encode()
        + b"\xff\xfe,,\n",
        [(3, "import.error.encoding")],
        id="broken-utf8-on-line-3",
    ),
]


@pytest.mark.parametrize(("data", "expected"), BAD_PAYMENTS)
async def test_bad_payments_file_writes_nothing(
    examples: Database, data: str | bytes, expected: list[tuple[int, str]]
) -> None:
    before = await snapshot(examples)
    result = await run(examples, ImportKind.PAYMENTS, data)
    assert not result.ok
    assert problems(result) == expected
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert await snapshot(examples) == before


async def test_problem_details_name_the_column_and_first_line(examples: Database) -> None:
    result = await run(
        examples,
        ImportKind.PAYMENTS,
        PAYMENTS_HEADER + GOOD_PAYMENT + f"{KREMENCHUK},20.00,2025-11-02,GOOD-1,,\n",
    )
    (problem,) = result.problems
    assert problem.params == {"column": "reference", "first": 2}
    header = await run(examples, ImportKind.PAYMENTS, "member_code,amount\n")
    # Only what is missing; the optional year and kind are not asked for.
    assert [p.params for p in header.problems] == [{"columns": "paid_on, reference"}]
    both = await run(examples, ImportKind.PAYMENTS, "amount,member,member_code,paid_on,ref\n")
    assert [(p.msgid, p.params) for p in both.problems] == [
        ("import.error.header_missing", {"columns": "reference"}),
        ("import.error.header_unknown", {"columns": "member, ref"}),
    ]


async def test_columns_in_any_order_and_optional_columns_left_out(examples: Database) -> None:
    data = "reference,paid_on,amount,member_code\n" + f"ORDER-1,2025-11-01,10.00,{KREMENCHUK}\n"
    result = await run(examples, ImportKind.PAYMENTS, data)
    assert result.ok, result.problems
    assert result.created == 1


async def test_a_seven_digit_council_code_in_members_hints_at_the_lost_zero(
    db: Database,
) -> None:
    data = MEMBERS_HEADER + "4057287,Кременчуцька міська рада,Kremenchuk,Полтавська,city,,\n"
    result = await run(db, ImportKind.MEMBERS, data)
    assert [(p.msgid, p.params) for p in result.problems] == [
        ("import.error.leading_zero", {"column": "code", "value": "4057287"})
    ]


async def test_every_bad_line_is_reported(examples: Database) -> None:
    data = PAYMENTS_HEADER + (
        GOOD_PAYMENT  # 2
        + f'{KREMENCHUK},"12,50",2025-11-01,X-3,,\n'  # 3
        + "\n"  # 4: blank lines are skipped but still counted
        + "99999999,10.00,2025-11-01,X-5,,\n"  # 5
        + f"{KREMENCHUK},10.00,2025-11-01,X-6,,\n"  # 6: fine
        + f"{KREMENCHUK},10.00,2026-01-01,X-7,,\n"  # 7
        + f"{KREMENCHUK},10.00,2025-11-01,GOOD-1,,\n"  # 8
        + f"{KREMENCHUK},10.00\n"  # 9
    )
    before = await count(examples, Payment)
    result = await run(examples, ImportKind.PAYMENTS, data)
    assert problems(result) == [
        (3, "import.error.amount"),
        (5, "import.error.unknown_member"),
        (7, "import.error.future_date"),
        (8, "import.error.duplicate"),
        (9, "import.error.columns"),
    ]
    assert await count(examples, Payment) == before


async def test_cp1251_file_is_rejected_line_by_line(examples: Database) -> None:
    data = (
        MEMBERS_HEADER
        + "12345670,Тестова сільська рада,Test Village Council,Полтавська,village,1200,\n"
        + "12345671,Test,Test Council,Poltava,village,1300,\n"  # ASCII only: decodes fine
        + "12345672,Інша рада,Other Council,Київська,city,5000,\n"
    ).encode("cp1251")
    result = await run(examples, ImportKind.MEMBERS, data)
    assert [p for p in problems(result) if p[1] == "import.error.encoding"] == [
        (2, "import.error.encoding"),
        (4, "import.error.encoding"),
    ]
    assert await count(examples, Member) == 32


async def test_utf8_bom_and_crlf_are_accepted(examples: Database) -> None:
    data = b"\xef\xbb\xbf" + (PAYMENTS_HEADER + GOOD_PAYMENT).replace("\n", "\r\n").encode()
    result = await run(examples, ImportKind.PAYMENTS, data)
    assert result.ok, result.problems
    assert result.created == 1
    async with examples.session() as session:
        payment = (
            await session.execute(select(Payment).where(col(Payment.reference) == "GOOD-1"))
        ).scalar_one()
    assert payment.amount_kop == 1_000
    assert payment.paid_on == date(2025, 11, 1)


async def test_header_only_file_imports_nothing(examples: Database) -> None:
    result = await run(examples, ImportKind.PAYMENTS, PAYMENTS_HEADER)
    assert result.ok
    assert (result.rows, result.created) == (0, 0)


async def test_payments_without_the_optional_columns(examples: Database) -> None:
    data = "member_code,amount,paid_on,reference\n" + f"{KREMENCHUK},1.50,2025-11-01,OPT-1\n"
    result = await run(examples, ImportKind.PAYMENTS, data)
    assert result.ok, result.problems
    async with examples.session() as session:
        payment = (
            await session.execute(select(Payment).where(col(Payment.reference) == "OPT-1"))
        ).scalar_one()
    assert (payment.amount_kop, payment.year, payment.kind) == (150, None, None)


# --- members ----------------------------------------------------------------------------------

GOOD_MEMBER = "12345670,Тестова рада,Test Council,Полтавська,village,1200,2020-01-01\n"


@pytest.mark.parametrize(
    ("row", "msgid"),
    [
        ("123,Рада,Council,Полтавська,city,1000,\n", "import.error.edrpou"),
        ("1234567A,Рада,Council,Полтавська,city,1000,\n", "import.error.edrpou"),
        ("12345671,Рада,Council,Полтавська,metropolis,1000,\n", "import.error.choice"),
        (f"12345671,{'Д' * 5000},Council,Полтавська,city,1000,\n", "import.error.too_long"),
        ("12345671,,Council,Полтавська,city,1000,\n", "import.error.required"),
        ("12345671,Рада,Council,Полтавська,city,-5,\n", "import.error.number"),
        ("12345671,Рада,Council,Полтавська,city,many,\n", "import.error.number"),
        ("12345671,Рада,Council,Полтавська,city,1000,2030-01-01\n", "import.error.future_date"),
        ("12345671,Рада,Council,Полтавська,city,1000,2020-02-30\n", "import.error.date"),
        ("12345670,Рада,Council,Полтавська,city,1000,\n", "import.error.duplicate"),
    ],
)
async def test_bad_member_rows(examples: Database, row: str, msgid: str) -> None:
    before = await snapshot(examples)
    result = await run(examples, ImportKind.MEMBERS, MEMBERS_HEADER + GOOD_MEMBER + row)
    assert problems(result) == [(3, msgid)]
    assert await snapshot(examples) == before


async def test_member_search_name_folds_both_names(db: Database) -> None:
    result = await run(db, ImportKind.MEMBERS, MEMBERS_HEADER + GOOD_MEMBER)
    assert result.created == 1
    async with db.session() as session:
        member = (await session.execute(select(Member))).scalar_one()
    assert member.search_name == "тестова рада test council"
    assert member.population == 1200
    assert member.joined_on == date(2020, 1, 1)


async def test_non_ascii_digit_population_is_reported(examples: Database) -> None:
    row = "12345671,Рада,Council,Полтавська,city,²,\n"
    result = await run(examples, ImportKind.MEMBERS, MEMBERS_HEADER + row)
    assert problems(result) == [(2, "import.error.number")]


async def test_nul_byte_in_a_name_is_reported(examples: Database) -> None:
    row = "12345671,Ра\x00да,Council,Полтавська,city,1000,\n"
    result = await run(examples, ImportKind.MEMBERS, MEMBERS_HEADER + row)
    assert [p.line for p in result.problems] == [2]
    assert await count(examples, Member) == 32


# --- charges ----------------------------------------------------------------------------------


async def test_duplicate_charge_in_file(examples: Database) -> None:
    data = CHARGES_HEADER + (
        f"{KREMENCHUK},2026,membership,1000.00,2026-03-31\n"
        f"{KREMENCHUK},2026,fund,1000.00,2026-03-31\n"
        f"{KREMENCHUK},2026,membership,2000.00,2026-03-31\n"
    )
    before = await snapshot(examples)
    result = await run(examples, ImportKind.CHARGES, data)
    assert problems(result) == [(4, "import.error.duplicate_charge")]
    assert result.problems[0].params == {"first": 2}
    assert await snapshot(examples) == before


@pytest.mark.parametrize(
    ("row", "msgid"),
    [
        (f"{KREMENCHUK},1989,membership,1.00,1989-03-31\n", "import.error.number"),
        (f"{KREMENCHUK},2026,donation,1.00,2026-03-31\n", "import.error.choice"),
        (f"{KREMENCHUK},2026,fund,1.005,2026-03-31\n", "import.error.amount"),
        (f"{KREMENCHUK},2026,fund,1.00,\n", "import.error.required"),
        ("00000000,2026,fund,1.00,2026-03-31\n", "import.error.unknown_member"),
    ],
)
async def test_bad_charge_rows(examples: Database, row: str, msgid: str) -> None:
    before = await count(examples, Charge)
    result = await run(examples, ImportKind.CHARGES, CHARGES_HEADER + row)
    assert problems(result) == [(2, msgid)]
    assert await count(examples, Charge) == before


async def kremenchuk_membership_2025(db: Database) -> Charge:
    async with db.session() as session:
        return (
            await session.execute(
                select(Charge)
                .join(Member, col(Member.id) == col(Charge.member_id))
                .where(
                    col(Member.code) == KREMENCHUK,
                    col(Charge.year) == 2025,
                    col(Charge.kind) == "membership",
                )
            )
        ).scalar_one()


async def test_new_charge_amount_updates_and_clears_the_formula(examples: Database) -> None:
    accrued = await kremenchuk_membership_2025(examples)
    assert accrued.formula_population == 214_250
    assert accrued.formula_rate == "1.16"
    count_before = await count(examples, Charge)

    data = CHARGES_HEADER + f"{KREMENCHUK},2025,membership,250000.00,2025-03-31\n"
    result = await run(examples, ImportKind.CHARGES, data)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    charge = await kremenchuk_membership_2025(examples)
    assert charge.id == accrued.id
    assert charge.amount_kop == 25_000_000
    assert (charge.formula_population, charge.formula_rate, charge.formula_min_kop) == (
        None,
        None,
        None,
    )
    assert await count(examples, Charge) == count_before


async def test_new_due_date_alone_keeps_the_formula(examples: Database) -> None:
    data = CHARGES_HEADER + f"{KREMENCHUK},2025,membership,248530.00,2025-04-30\n"
    result = await run(examples, ImportKind.CHARGES, data)
    assert result.updated == 1
    charge = await kremenchuk_membership_2025(examples)
    assert charge.due_date == date(2025, 4, 30)
    assert charge.amount_kop == 24_853_000
    assert charge.formula_population == 214_250


# --- officials --------------------------------------------------------------------------------


async def kremenchuk_officials(db: Database) -> list[tuple[str, str, str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(
                col(Official.full_name),
                col(Official.position),
                col(Official.phone),
                col(Official.email),
            )
            .join(Member, col(Member.id) == col(Official.member_id))
            .where(col(Member.code) == KREMENCHUK)
            .order_by(col(Official.id))
        )
        return [(a, b, c, d) for a, b, c, d in rows]


async def test_officials_roster_upserts_by_name_case_insensitively(examples: Database) -> None:
    before = await kremenchuk_officials(examples)
    assert before[0] == (
        "Олена Петренко",
        "начальниця фінансового управління",
        "+380536742318",
        "finance@kremen.gov.ua",
    )
    data = OFFICIALS_HEADER + (
        f"{KREMENCHUK},ОЛЕНА  ПЕТРЕНКО,заступниця міського голови,+380536742318,"
        "finance@kremen.gov.ua\n"
        f"{KREMENCHUK},Марія Шевчук,бухгалтерка,,\n"
    )
    result = await run(examples, ImportKind.OFFICIALS, data)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    after = await kremenchuk_officials(examples)
    assert len(after) == len(before) + 1
    assert after[0][1] == "заступниця міського голови"
    assert after[0][0].casefold() == "олена петренко"  # whitespace collapsed
    assert after[-1] == ("Марія Шевчук", "бухгалтерка", "", "")
    again = await run(examples, ImportKind.OFFICIALS, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


@pytest.mark.parametrize(
    ("row", "msgid"),
    [
        (f"{KREMENCHUK},Іван Іваненко,посада,phone?,\n", "import.error.phone"),
        (f"{KREMENCHUK},Іван Іваненко,посада,,not-an-email\n", "import.error.email"),
        (f"{KREMENCHUK},,посада,,\n", "import.error.required"),
        (f"{KREMENCHUK},олена петренко,посада,,\n", "import.error.duplicate"),
    ],
)
async def test_bad_official_rows(examples: Database, row: str, msgid: str) -> None:
    first = f"{KREMENCHUK},Олена Петренко,посада,,\n"
    before = await snapshot(examples)
    result = await run(examples, ImportKind.OFFICIALS, OFFICIALS_HEADER + first + row)
    assert problems(result) == [(3, msgid)]
    assert await snapshot(examples) == before


# --- progress ---------------------------------------------------------------------------------


async def test_progress_is_reported(examples: Database) -> None:
    calls: list[tuple[int, int]] = []
    async with examples.session() as session:
        result = await import_csv(
            session=session,
            kind=ImportKind.PAYMENTS,
            data=(PAYMENTS_HEADER + GOOD_PAYMENT).encode(),
            today=TODAY,
            now=NOW,
            progress=lambda done, total: calls.append((done, total)),
        )
    assert result.created == 1
    assert calls[-1] == (1, 1)
