"""The `amu-bot` command line: run the bot, migrate, import, invite, accrue, report."""

from __future__ import annotations

import asyncio
import csv
import html
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.config import ConfigError, Settings, load_settings
from bot.db import Database, SchemaError, prepare_for_run, upgrade
from bot.i18n import N_, Tr, Translator
from bot.money import parse_amount, parse_rate, to_uah
from bot.services import dues, invites
from bot.services.imports import ImportKind, ImportResult, import_csv
from models import Role

T = TypeVar("T")

app = typer.Typer(
    help="amu-bot: the Telegram service desk of a municipal association.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import CSV files (UTF-8, header row; all or nothing).", no_args_is_help=True
)
dues_app = typer.Typer(help="Membership dues.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for staff.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(dues_app, name="dues")
app.add_typer(report_app, name="report")

out = Console()
err = Console(stderr=True)


def cli_language() -> str:
    """The operator's language from the locale environment; Ukrainian unless it says English."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "uk"
    return "uk"


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None


def _tr(settings: Settings) -> Tr:
    return Translator(settings.tz)(cli_language())


def _fail(message: str, code: int = 1) -> typer.Exit:
    # Messages carry user input (paths, codes): never read them as rich markup.
    err.print(message, style="red", highlight=False, markup=False)
    return typer.Exit(code)


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one async job against the database, then close it."""

    async def main() -> T:
        db = Database.from_url(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def _ready(settings: Settings, tr: Tr) -> None:
    """Every command but `run` expects a migrated database; say so clearly if it is not."""

    async def check(db: Database) -> None:
        await prepare_for_run(db.engine)

    try:
        _with_db(settings, check)
    except SchemaError as exc:
        raise _fail(tr.t("cli.schema_error", detail=str(exc))) from None
    except (OSError, SQLAlchemyError) as exc:
        raise _fail(tr.t("cli.db_unreachable", detail=str(exc))) from None


@app.command()
def run(
    webhook_url: Annotated[
        str | None, typer.Option(help="Public HTTPS URL for webhook mode.")
    ] = None,
    listen: Annotated[
        str, typer.Option(help="Address the webhook server binds to.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the webhook server.")
    ] = 8443,
    secret_token: Annotated[
        str | None, typer.Option(help="Secret Telegram sends with each webhook call.")
    ] = None,
) -> None:
    """Run the bot: long polling, or a webhook server with --webhook-url."""
    from telegram import Update

    from bot.app import build_application, build_runtime
    from bot.logs import setup_logging

    settings = _settings()
    tr = _tr(settings)
    try:
        settings.token()
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    setup_logging(settings)

    async def prepare() -> str:
        try:
            return await prepare_for_run(runtime.db.engine)
        finally:
            await runtime.db.dispose()  # the bot's own event loop opens fresh connections

    try:
        runtime = build_runtime(settings)
        revision = asyncio.run(prepare())
    except SchemaError as exc:
        raise _fail(tr.t("cli.schema_error", detail=str(exc))) from None
    except (OSError, SQLAlchemyError) as exc:
        raise _fail(tr.t("cli.db_unreachable", detail=str(exc))) from None

    logging.getLogger(__name__).info("database schema at revision %s", revision)
    application = build_application(runtime)

    async def close_db(_: Any) -> None:
        await runtime.db.dispose()

    application.post_shutdown = close_db
    if webhook_url:
        from urllib.parse import urlsplit

        application.run_webhook(
            listen=listen,
            port=port,
            url_path=urlsplit(webhook_url).path.lstrip("/"),
            secret_token=secret_token,
            webhook_url=webhook_url,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    tr = _tr(settings)

    async def work(db: Database) -> tuple[str | None, str | None]:
        return await upgrade(db.engine)

    try:
        before, after = _with_db(settings, work)
    except SchemaError as exc:
        raise _fail(tr.t("cli.schema_error", detail=str(exc))) from None
    except (OSError, SQLAlchemyError) as exc:
        raise _fail(tr.t("cli.db_unreachable", detail=str(exc))) from None
    if before == after:
        out.print(tr.t("cli.db_current", revision=after))
    else:
        out.print(tr.t("cli.db_upgraded", before=before or "—", after=after))


def _print_import(tr: Tr, path: Path, result: ImportResult) -> None:
    if result.ok:
        out.print(
            tr.t(
                "cli.import_done",
                file=path.name,
                rows=result.rows,
                created=result.created,
                updated=result.updated,
                unchanged=result.unchanged,
            ),
            highlight=False,
        )
        return
    err.print(
        tr.tn(
            "cli.import_failed", "cli.import_failed.plural", len(result.problems), file=path.name
        ),
        style="red",
        highlight=False,
    )
    for problem in result.problems:
        err.print(
            tr.t(
                "cli.import_problem",
                line=problem.line,
                reason=tr.t(problem.msgid, **problem.params),
            ),
            highlight=False,
            markup=False,
        )


def _do_import(kind: ImportKind, path: Path) -> None:
    settings = _settings()
    tr = _tr(settings)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(
            tr.t("cli.cannot_read", file=str(path), detail=exc.strerror or str(exc))
        ) from None
    _ready(settings, tr)
    clock = Clock(settings.tz)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(path.name, total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        async def work(db: Database) -> ImportResult:
            async with db.session() as session:
                return await import_csv(
                    session=session,
                    kind=kind,
                    data=data,
                    today=clock.today(),
                    now=clock.now(),
                    progress=step,
                    tz=settings.tz,
                )

        result = _with_db(settings, work)
    _print_import(tr, path, result)
    if not result.ok:
        raise typer.Exit(1)


FileArg = Annotated[Path, typer.Argument(help="CSV file (UTF-8, header row).", dir_okay=False)]


@import_app.command("members")
def import_members(file: FileArg) -> None:
    """Member councils: code,name_uk,name_en,region,kind,population,joined_on."""
    _do_import(ImportKind.MEMBERS, file)


@import_app.command("officials")
def import_officials(file: FileArg) -> None:
    """The officials roster: member_code,full_name,position,phone,email."""
    _do_import(ImportKind.OFFICIALS, file)


@import_app.command("charges")
def import_charges(file: FileArg) -> None:
    """Charges: member_code,year,kind,amount,due_date."""
    _do_import(ImportKind.CHARGES, file)


@import_app.command("payments")
def import_payments(file: FileArg) -> None:
    """Payments: member_code,amount,paid_on,reference[,year,kind]."""
    _do_import(ImportKind.PAYMENTS, file)


@import_app.command("sections")
def import_sections(file: FileArg) -> None:
    """Thematic sections: code,name_uk,name_en (adds new codes, renames known ones)."""
    _do_import(ImportKind.SECTIONS, file)


@import_app.command("events")
def import_events(file: FileArg) -> None:
    """Events: code,kind,title_uk,title_en,starts_at,ends_at,location,capacity,..."""
    _do_import(ImportKind.EVENTS, file)


@import_app.command("trainings")
def import_trainings(file: FileArg) -> None:
    """Trainings: code,format,title_uk,title_en,starts_at,ends_at,hours,capacity,..."""
    _do_import(ImportKind.TRAININGS, file)


@app.command()
def invite(
    member_code: Annotated[str, typer.Argument(help="The council's EDRPOU code.")],
    role: Annotated[Role, typer.Option(help="What the link lets its user see.")] = Role.OFFICIAL,
    count: Annotated[int, typer.Option(min=1, max=500, help="How many links.")] = 1,
    ttl_days: Annotated[int, typer.Option(min=1, max=365, help="Days until a link expires.")] = 14,
    bot_username: Annotated[
        str | None, typer.Option(help="Skip asking Telegram (getMe) for the bot's username.")
    ] = None,
) -> None:
    """Print one-time deep links that link a Telegram account to a council, one per line."""
    settings = _settings()
    tr = _tr(settings)
    _ready(settings, tr)
    username = bot_username.lstrip("@") if bot_username else _bot_username(settings, tr)
    clock = Clock(settings.tz)

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            issued = await invites.create_invites(
                session=session,
                member_code=member_code,
                role=role,
                count=count,
                now=clock.now(),
                ttl=timedelta(days=ttl_days),
            )
            return [i.code for i in issued]

    try:
        codes = _with_db(settings, work)
    except LookupError:
        raise _fail(tr.t("cli.unknown_member", code=member_code)) from None
    for code in codes:
        print(f"https://t.me/{username}?start={code}", flush=True)
    expires = (clock.now() + timedelta(days=ttl_days)).astimezone(settings.tz)
    err.print(
        tr.tn(
            "cli.invites_issued", "cli.invites_issued.plural", count, expires=tr.datetime(expires)
        ),
        highlight=False,
    )


def _bot_username(settings: Settings, tr: Tr) -> str:
    from telegram import Bot
    from telegram.error import TelegramError

    try:
        token = settings.token()
    except ConfigError as exc:
        raise _fail(str(exc) + "\n" + tr.t("cli.or_bot_username"), 2) from None

    async def ask() -> str:
        async with Bot(token, base_url=settings.bot_api_url) as bot:
            return bot.username

    try:
        return asyncio.run(ask())
    except (TelegramError, OSError) as exc:
        raise _fail(
            tr.t("cli.get_me_failed", detail=str(exc).replace(token, "[REDACTED]"))
        ) from None


def _amount_option(value: str | None, tr: Tr, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_amount(value)
    except ValueError:
        raise _fail(tr.t("cli.bad_amount", option=name, value=value), 2) from None


def _rate_option(value: str | None, tr: Tr, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_rate(value)
    except ValueError:
        raise _fail(tr.t("cli.bad_rate", option=name, value=value), 2) from None


@dues_app.command("accrue")
def dues_accrue(
    year: Annotated[int, typer.Option(min=1990, max=2100, help="The year to charge.")],
    rate: Annotated[str, typer.Option(help="Membership dues in UAH per inhabitant, e.g. 1.16.")],
    min_amount: Annotated[
        str | None, typer.Option("--min", help="Minimum membership dues in UAH, e.g. 1000.")
    ] = None,
    fund_rate: Annotated[
        str | None, typer.Option(help="Fund contribution in UAH per inhabitant, e.g. 1.16.")
    ] = None,
    due_date: Annotated[
        str | None, typer.Option(help="Due date, YYYY-MM-DD (default: 31 March of the year).")
    ] = None,
) -> None:
    """Create the year's charges from each council's population (re-running changes nothing)."""
    settings = _settings()
    tr = _tr(settings)
    rate_value = _rate_option(rate, tr, "--rate")
    assert rate_value is not None  # noqa: S101 - required option
    fund_value = _rate_option(fund_rate, tr, "--fund-rate")
    minimum = _amount_option(min_amount, tr, "--min")
    try:
        due = date.fromisoformat(due_date) if due_date else date(year, 3, 31)
    except ValueError:
        raise _fail(tr.t("cli.bad_date", option="--due-date", value=due_date), 2) from None
    _ready(settings, tr)

    async def work(db: Database) -> dues.AccrualResult:
        async with db.session() as session:
            return await dues.accrue(
                session=session,
                year=year,
                rate=rate_value,
                due_date=due,
                minimum_kop=minimum,
                fund_rate=fund_value,
            )

    result = _with_db(settings, work)
    out.print(
        tr.t("cli.accrued", year=year, created=result.created, unchanged=result.unchanged),
        highlight=False,
    )
    for code, kind, old, new in result.differing:
        err.print(
            tr.t("cli.accrue_differs", code=code, kind=kind, old=tr.money(old), new=tr.money(new)),
            highlight=False,
        )
    if result.no_population:
        err.print(
            tr.t("cli.accrue_no_population", codes=", ".join(result.no_population)),
            highlight=False,
        )
    if result.not_yet_members:
        out.print(
            tr.t("cli.accrue_not_members", codes=", ".join(result.not_yet_members)),
            highlight=False,
        )


REPORT_COLUMNS = {
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
REPORT_LEVELS = {
    "member": N_("report.level.member"),
    "region": N_("report.level.region"),
    "total": N_("report.level.total"),
}


def _write_report(path: Path, report: dues.DuesReport, tr: Tr) -> None:
    def pct(charged: int, paid: int) -> str:
        return str((Decimal(paid) * 100 / charged).quantize(Decimal("0.1"))) if charged else "0.0"

    rows: list[list[Any]] = []
    for r in report.rows:
        rows.append(
            [
                "member",
                r.region,
                r.code,
                r.name_uk,
                r.charged_kop,
                r.paid_kop,
                r.balance_kop,
                r.overdue_kop,
                pct(r.charged_kop, r.paid_kop),
            ]
        )
    for g in (*report.regions, report.total):
        rows.append(
            [
                "region" if g.region else "total",
                g.region or "",
                "",
                "",
                g.charged_kop,
                g.paid_kop,
                g.charged_kop - g.paid_kop,
                "",
                str(g.collected_pct),
            ]
        )
    header = [
        "level",
        "region",
        "code",
        "name",
        "charged",
        "paid",
        "balance",
        "overdue",
        "collected_pct",
    ]
    money_cols = (4, 5, 6, 7)
    if path.suffix.lower() == ".csv":
        # utf-8-sig: Excel opens Cyrillic correctly only with the BOM.
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row in rows:
                writer.writerow(
                    [
                        f"{to_uah(v):.2f}" if i in money_cols and v != "" else v
                        for i, v in enumerate(row)
                    ]
                )
        return
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101 - a new workbook has a sheet
    ws.title = str(report.year)
    ws.append([tr.t(REPORT_COLUMNS[h]) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        values = [to_uah(v) if i in money_cols and v != "" else v for i, v in enumerate(row)]
        values[8] = Decimal(values[8])
        values[0] = tr.t(REPORT_LEVELS[str(row[0])])
        ws.append(values)
    for col in "EFGH":
        for cell in ws[col][1:]:
            cell.number_format = "#,##0.00"
    ws.freeze_panes = "A2"
    wb.save(path)


@report_app.command("dues")
def report_dues(
    year: Annotated[
        int | None, typer.Option(min=1990, max=2100, help="Default: the latest year with charges.")
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write to FILE.csv or FILE.xlsx instead of the screen."),
    ] = None,
) -> None:
    """Dues collected per council, per region and overall, in percent of what was charged."""
    settings = _settings()
    tr = _tr(settings)
    if out_file is not None and out_file.suffix.lower() not in (".csv", ".xlsx"):
        raise _fail(tr.t("cli.report_format", file=str(out_file)), 2)
    _ready(settings, tr)
    clock = Clock(settings.tz)

    async def work(db: Database) -> dues.DuesReport | None:
        async with db.session() as session:
            chosen = year
            if chosen is None:
                years = await dues.charge_years(session=session)
                if not years:
                    return None
                chosen = years[-1]
            return await dues.dues_report(session=session, year=chosen, today=clock.today())

    report = _with_db(settings, work)
    if report is None or not report.rows:
        raise _fail(tr.t("cli.report_empty", year=year or "—"))
    if out_file is not None:
        try:
            _write_report(out_file, report, tr)
        except OSError as exc:
            raise _fail(
                tr.t("cli.cannot_write", file=str(out_file), detail=exc.strerror or str(exc))
            ) from None
        out.print(
            tr.t("cli.report_written", file=str(out_file), year=report.year), highlight=False
        )
        return
    table = Table(title=tr.t("report.title", year=report.year))
    for h in ("region", "members", "charged", "paid", "collected_pct", "debtors"):
        table.add_column(
            tr.t(REPORT_COLUMNS[h]), justify="left" if h == "region" else "right", no_wrap=True
        )
    for g in (*report.regions, report.total):
        table.add_row(
            g.region or tr.t("report.level.total"),
            str(g.members),
            tr.money(g.charged_kop),
            tr.money(g.paid_kop),
            f"{tr.number(g.collected_pct, '#,##0.0')} %",
            str(g.debtors),
            style="bold" if g.region is None else None,
        )
    out.print(table)


certificate_app = typer.Typer(help="Training certificates.", no_args_is_help=True)
app.add_typer(certificate_app, name="certificate")


@certificate_app.command("verify")
def certificate_verify(
    code: Annotated[str, typer.Argument(help="The verification code printed on the certificate.")],
) -> None:
    """Check a certificate by its verification code; exits 1 if there is no such certificate."""
    from bot.services import certificates
    from handlers.certificates import verification

    settings = _settings()
    tr = _tr(settings)
    _ready(settings, tr)

    async def work(db: Database) -> certificates.CertificateView | None:
        async with db.session() as session:
            return await certificates.by_code(session=session, code=code)

    view = _with_db(settings, work)
    text = html.unescape(re.sub(r"<[^>]+>", "", verification(tr, view, code)))  # plain text
    if view is None:
        raise _fail(text)
    out.print(text, highlight=False, markup=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
