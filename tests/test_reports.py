"""Report files and the on-screen dues table, without a database."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from bot.cli import dues_table
from bot.i18n import Tr, Translator
from bot.money import to_uah
from bot.reports import dues_sheet, report_format, write_dues_report
from bot.services.dues import DuesReport, RegionTotal, ReportRow, collected_pct

KYIV = ZoneInfo("Europe/Kyiv")


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(KYIV)


def _report() -> DuesReport:
    """Big amounts and long region names: what does not fit in 80 columns naively."""
    rows = (
        ReportRow(
            "04057287",
            "Кременчуцька міська рада",
            "Дніпропетровська",
            280_633_696,
            128_216_696,
            152_417_000,
            152_417_000,
            "Kremenchuk City Council",
        ),
        ReportRow("04384888", "Куньєвська сільська рада", "Полтавська", 100_000, 99_999, 1, 1),
        ReportRow("22889304", "Київська міська рада", "Київ", 2_179_546_592, 2_179_546_592, 0, 0),
    )
    regions = (
        RegionTotal("Дніпропетровська", 1, 280_633_696, 128_216_696, 1, 152_417_000),
        RegionTotal("Київ", 1, 2_179_546_592, 2_179_546_592, 0, 0),
        RegionTotal("Полтавська", 1, 100_000, 99_999, 1, 1),
    )
    total = RegionTotal(None, 3, 2_460_280_288, 2_307_863_287, 2, 152_417_001)
    return DuesReport(2025, rows, regions, total)


def _render(tr: Tr, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(dues_table(_report(), tr, width))
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["uk", "en"])
@pytest.mark.parametrize("width", [120, 80, 60, 50])
def test_numbers_are_never_cut_or_wrapped(translator: Translator, lang: str, width: int) -> None:
    tr = translator(lang)
    lines = _render(tr, width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert "…" not in text
    report = _report()
    for g in (*report.regions, report.total):
        # Every amount shown is whole, on one line; charged and paid are always there.
        assert tr.number(to_uah(g.charged_kop), "#,##0.00") in text
        assert tr.number(to_uah(g.paid_kop), "#,##0.00") in text
        assert f"{tr.number(g.collected_pct, '#,##0.0')}\u00a0%" in text
    if width >= 60:  # below that, a long region name may fold; a number still never does
        assert ("Дніпропетровська обл." if lang == "uk" else "Dnipropetrovsk Oblast") in text


def test_wide_terminals_get_every_column(translator: Translator) -> None:
    tr = translator("en")
    wide = "\n".join(_render(tr, 140))
    assert "Councils" in wide
    assert "Debtors" in wide
    narrow = "\n".join(_render(tr, 80))
    assert "Debtors" not in narrow  # dropped before any number is squeezed
    assert "Overdue" in narrow  # what staff chase stays longer than the counts


@pytest.mark.parametrize(
    ("charged", "paid", "shown"),
    [(100_000, 99_999, "99.9"), (100_000, 100_000, "100.0"), (300, 200, "66.6"), (0, 0, "0.0")],
)
def test_percentages_round_down(charged: int, paid: int, shown: str) -> None:
    assert collected_pct(charged, paid) == Decimal(shown)


def test_nothing_owed_is_never_100_percent(translator: Translator) -> None:
    sheet = dues_sheet(_report(), translator("en"))
    for row in sheet.rows:
        balance, pct = row[6], row[8]
        assert not (balance > 0 and pct >= 100), row


def test_csv_to_a_binary_stream_in_both_languages(translator: Translator) -> None:
    for lang, delimiter, amount in (("uk", ";", "2806336,96"), ("en", ",", "2806336.96")):
        stream = io.BytesIO()
        write_dues_report(stream, _report(), "csv", translator(lang))
        raw = stream.getvalue()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=delimiter))
        assert all(len(r) == 9 for r in rows)
        assert rows[1][4] == amount


def test_xlsx_to_a_binary_stream(translator: Translator) -> None:
    from openpyxl import load_workbook

    stream = io.BytesIO()
    write_dues_report(stream, _report(), "xlsx", translator("uk"))
    stream.seek(0)
    sheet = load_workbook(stream)["2025"]
    assert sheet["A1"].value == "Рівень"
    assert sheet["E2"].value == pytest.approx(2_806_336.96)
    assert sheet["E2"].number_format == "#,##0.00"


def test_report_format_from_the_suffix() -> None:
    assert report_format("a.CSV") == "csv"
    assert report_format("dir/b.xlsx") == "xlsx"
    assert report_format("c.pdf") is None
    assert report_format("noext") is None
