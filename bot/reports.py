"""Report files (CSV and XLSX) for staff: written to a path or a binary stream.

Used by the command line and, later, by the staff desk in Telegram; no terminal code here.
CSV follows the reader's spreadsheet: Ukrainian Excel expects `;` between fields and `,` in
decimals, English Excel `,` and `.`; both get a BOM, which Excel needs to read Cyrillic.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from bot.i18n import N_, Tr
from bot.money import to_uah
from bot.regions import region_name
from bot.services.dues import DuesReport, collected_pct

ReportFormat = Literal["csv", "xlsx"]
FORMATS: tuple[ReportFormat, ...] = ("csv", "xlsx")

DUES_COLUMNS = {
    "level": N_("report.col.level"),
    "region": N_("report.col.region"),
    "code": N_("report.col.code"),
    "name": N_("report.col.name"),
    "members": N_("report.col.members"),
    "charged": N_("report.col.charged"),
    "paid": N_("report.col.paid"),
    "balance": N_("report.col.balance"),
    "overdue": N_("report.col.overdue"),
    "collected_pct": N_("report.col.collected_pct"),
    "debtors": N_("report.col.debtors"),
}
DUES_LEVELS = {
    "member": N_("report.level.member"),
    "region": N_("report.level.region"),
    "total": N_("report.level.total"),
}
FILE_COLUMNS = (
    "level",
    "region",
    "code",
    "name",
    "charged",
    "paid",
    "balance",
    "overdue",
    "collected_pct",
)
MONEY = frozenset({"charged", "paid", "balance", "overdue"})
PERCENT = frozenset({"collected_pct"})


def report_format(path: Path | str) -> ReportFormat | None:
    """The format a file name asks for, from its suffix; None if it is neither."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


@dataclass(frozen=True)
class Sheet:
    """A report as a table: translated headers, raw values (kopiykas, Decimal percent)."""

    title: str
    columns: tuple[str, ...]
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def dues_sheet(report: DuesReport, tr: Tr) -> Sheet:
    """Every council, then every region, then the total; money in kopiykas."""
    rows: list[tuple[Any, ...]] = []
    level = {k: tr.t(v) for k, v in DUES_LEVELS.items()}
    for r in report.rows:
        rows.append(
            (
                level["member"],
                region_name(tr, r.region),
                r.code,
                tr.name(r.name_uk, r.name_en),
                r.charged_kop,
                r.paid_kop,
                r.balance_kop,
                r.overdue_kop,
                collected_pct(r.charged_kop, r.paid_kop),
            )
        )
    for g in (*report.regions, report.total):
        rows.append(
            (
                level["region"] if g.region else level["total"],
                region_name(tr, g.region) if g.region else "",
                "",
                "",
                g.charged_kop,
                g.paid_kop,
                g.charged_kop - g.paid_kop,
                g.overdue_kop,
                g.collected_pct,
            )
        )
    return Sheet(
        title=str(report.year),
        columns=FILE_COLUMNS,
        headers=tuple(tr.t(DUES_COLUMNS[c]) for c in FILE_COLUMNS),
        rows=tuple(rows),
    )


def write_sheet(target: Path | IO[bytes], sheet: Sheet, fmt: ReportFormat, tr: Tr) -> None:
    """Write the sheet as CSV or XLSX to a path or an open binary stream."""
    if fmt == "csv":
        _write_csv(target, sheet, tr)
    else:
        _write_xlsx(target, sheet)


def write_dues_report(
    target: Path | IO[bytes], report: DuesReport, fmt: ReportFormat, tr: Tr
) -> None:
    """The dues report as CSV or XLSX, headers and levels in the reader's language."""
    write_sheet(target, dues_sheet(report, tr), fmt, tr)


def _csv_cell(column: str, value: Any, decimal_comma: bool) -> str:
    if value == "" or value is None:
        return ""
    if column in MONEY:
        text = f"{to_uah(value):.2f}"
    elif column in PERCENT:
        text = f"{Decimal(value):.1f}"
    else:
        return str(value)
    return text.replace(".", ",") if decimal_comma else text


def _write_csv(target: Path | IO[bytes], sheet: Sheet, tr: Tr) -> None:
    # Ukrainian Excel splits on ";" and reads "," as the decimal mark; English Excel the usual.
    ukrainian = tr.lang == "uk"
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";" if ukrainian else ",")
    writer.writerow(sheet.headers)
    for row in sheet.rows:
        writer.writerow(
            [_csv_cell(c, v, ukrainian) for c, v in zip(sheet.columns, row, strict=True)]
        )
    # utf-8-sig: Excel opens Cyrillic correctly only with the BOM.
    data = buffer.getvalue().encode("utf-8-sig")
    if isinstance(target, Path):
        target.write_bytes(data)
    else:
        target.write(data)


def _width(values: Sequence[Any]) -> float:
    return min(60, max(len(str(v)) for v in values) + 2)


def _write_xlsx(target: Path | IO[bytes], sheet: Sheet) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101 - a new workbook has a sheet
    ws.title = sheet.title
    ws.append(list(sheet.headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        ws.append(
            [
                to_uah(v) if c in MONEY and v != "" else v
                for c, v in zip(sheet.columns, row, strict=True)
            ]
        )
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        if column in MONEY:
            shown = [f"{to_uah(r[index - 1]):,.2f}" for r in sheet.rows if r[index - 1] != ""]
            fmt = "#,##0.00"
        elif column in PERCENT:
            shown = [f"{r[index - 1]:.1f}" for r in sheet.rows]
            fmt = "0.0"
        else:
            shown = [str(r[index - 1]) for r in sheet.rows]
            fmt = None
        if fmt:
            for cell in ws[letter][1:]:
                cell.number_format = fmt
        # Sized for the longest value (a little more for Excel's thousands spacing) and header.
        ws.column_dimensions[letter].width = _width([sheet.headers[index - 1], *shown]) + 1
    ws.freeze_panes = "A2"
    wb.save(target)
