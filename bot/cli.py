"""The `amu-bot` command line: run the bot, migrate, import, invite, accrue, report."""

from __future__ import annotations

import asyncio
import csv
import logging
import os
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


# --- notifications: announcements and deadlines (bodies import their modules lazily) ---

announce_app = typer.Typer(
    help="Announcements to officials: send now or at a time; `announce status ID` reports.",
    invoke_without_command=True,
    no_args_is_help=True,
)
deadline_app = typer.Typer(help="Deadlines officials are reminded of.", no_args_is_help=True)
app.add_typer(announce_app, name="announce")
app.add_typer(deadline_app, name="deadline")


def _when_option(value: str, tr: Tr, option: str, settings: Settings) -> Any:
    from bot.clock import parse_moment

    try:
        return parse_moment(value, settings.tz)
    except ValueError:
        raise _fail(tr.t("cli.bad_moment", option=option, value=value)) from None


def _audience_failure(tr: Tr, exc: Any) -> typer.Exit:
    if exc.reason == "unknown_region":
        return _fail(tr.t("cli.unknown_region", value=exc.value, known=", ".join(exc.known)))
    return _fail(tr.t("cli.bad_audience", value=exc.value, known=", ".join(exc.known)))


@announce_app.callback()
def announce(
    ctx: typer.Context,
    audience: Annotated[
        str | None, typer.Option(help="all | region:NAME | overdue (councils owing dues).")
    ] = None,
    text_file: Annotated[
        Path | None, typer.Option(help="UTF-8 text of the announcement.", dir_okay=False)
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="When to send: YYYY-MM-DD HH:MM (Kyiv if no offset).")
    ] = None,
) -> None:
    """Announce to an audience, now or --at a time; prints the announcement id."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    tr = _tr(settings)
    if audience is None or text_file is None:
        raise _fail(tr.t("cli.announce_usage"), 2)
    try:
        body = text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _fail(tr.t("cli.cannot_read", file=str(text_file), detail=detail)) from None
    clock = Clock(settings.tz)
    send_at = _when_option(at, tr, "--at", settings) if at else None
    if send_at is not None and send_at < clock.now():
        raise _fail(tr.t("cli.moment_passed", option="--at", value=at))
    _ready(settings, tr)

    from bot.services import announcements, audiences

    async def work(db: Database) -> tuple[int, int | None, Any]:
        async with db.session() as session:
            item = await announcements.create(
                session=session,
                text=body,
                audience=audience,
                now=clock.now(),
                today=clock.today(),
                send_at=send_at,
            )
            reach = item.recipients
            if reach is None:
                reach = await audiences.count(
                    session=session, audience=audiences.parse(item.audience), today=clock.today()
                )
            return item.id or 0, reach, item.send_at

    try:
        ident, reach, when = _with_db(settings, work)
    except audiences.AudienceError as exc:
        raise _audience_failure(tr, exc) from None
    except ValueError:
        raise _fail(tr.t("cli.announce_bad_text", file=str(text_file))) from None
    if send_at is None:
        out.print(tr.t("cli.announce_queued", id=ident, n=reach), highlight=False)
    else:
        out.print(
            tr.t("cli.announce_scheduled", id=ident, n=reach, at=tr.datetime(when)),
            highlight=False,
        )


@announce_app.command("status")
def announce_status(
    announcement_id: Annotated[int, typer.Argument(help="The id `announce` printed.")],
) -> None:
    """Where an announcement's messages stand: delivered, blocked, failed, waiting, pending."""
    settings = _settings()
    tr = _tr(settings)
    _ready(settings, tr)
    from bot.services import announcements

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return await announcements.status(session=session, announcement_id=announcement_id)

    try:
        item, report = _with_db(settings, work)
    except announcements.AnnouncementNotFound:
        raise _fail(tr.t("cli.announce_unknown", id=announcement_id)) from None
    if item.expanded_at is None:
        out.print(
            tr.t(
                "cli.announce_status_scheduled",
                id=item.id,
                audience=item.audience,
                at=tr.datetime(item.send_at),
            ),
            highlight=False,
        )
        return
    out.print(
        tr.t(
            "cli.announce_status",
            id=item.id,
            audience=item.audience,
            total=report.total,
            delivered=report.delivered,
            blocked=report.blocked,
            failed=report.failed,
            waiting=report.waiting,
            pending=report.pending,
            dropped=report.dropped,
        ),
        highlight=False,
        markup=False,
    )


@deadline_app.command("add")
def deadline_add(
    title_uk: Annotated[str, typer.Option(help="Title in Ukrainian.")],
    title_en: Annotated[str, typer.Option(help="Title in English.")],
    due: Annotated[str, typer.Option(help="Due time: YYYY-MM-DD HH:MM (Kyiv if no offset).")],
    audience: Annotated[str, typer.Option(help="all | region:NAME.")] = "all",
    description_uk: Annotated[str, typer.Option(help="Description in Ukrainian.")] = "",
    description_en: Annotated[str, typer.Option(help="Description in English.")] = "",
) -> None:
    """Add a deadline; officials are reminded 7 days and 1 day before."""
    settings = _settings()
    tr = _tr(settings)
    due_at = _when_option(due, tr, "--due", settings)
    clock = Clock(settings.tz)
    if due_at <= clock.now():
        raise _fail(tr.t("cli.moment_passed", option="--due", value=due))
    _ready(settings, tr)
    from bot.services import audiences, deadlines

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return await deadlines.add(
                session=session,
                title_uk=title_uk,
                title_en=title_en,
                due_at=due_at,
                now=clock.now(),
                audience=audience,
                description_uk=description_uk,
                description_en=description_en,
            )

    try:
        item = _with_db(settings, work)
    except audiences.AudienceError as exc:
        raise _audience_failure(tr, exc) from None
    except ValueError:
        raise _fail(tr.t("cli.deadline_no_title")) from None
    out.print(
        tr.t("cli.deadline_added", id=item.id, title=item.title(tr.lang), due=tr.datetime(due_at)),
        highlight=False,
        markup=False,
    )


@deadline_app.command("list")
def deadline_list() -> None:
    """The deadlines not yet passed, soonest first."""
    settings = _settings()
    tr = _tr(settings)
    _ready(settings, tr)
    from bot.services import deadlines

    clock = Clock(settings.tz)

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return await deadlines.open_deadlines(
                session=session, now=clock.now(), region=None, everything=True
            )

    items = _with_db(settings, work)
    if not items:
        out.print(tr.t("cli.deadlines_none"))
        return
    table = Table(box=None)
    table.add_column(tr.t("cli.deadline_col_id"))
    table.add_column(tr.t("cli.deadline_col_due"))
    table.add_column(tr.t("cli.deadline_col_title"))
    table.add_column(tr.t("cli.deadline_col_audience"))
    for item in items:
        table.add_row(str(item.id), tr.datetime(item.due_at), item.title(tr.lang), item.audience)
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
