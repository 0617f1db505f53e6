"""The `amu-bot` command line: run the bot, migrate, import, invite, accrue, report.

One language per run (`--lang`, AMU_LANG or the locale) for help, output and errors alike
(bot/cliui.py). Heavy modules (SQLAlchemy, pydantic, telegram, openpyxl, rich) are imported
inside the commands that use them, so `--help`, `--version` and usage errors answer at once.

To add a command: a function here decorated with `@app.command(help=N_("cli.help.NAME"))`
(or on one of the sub-apps), its help and option texts as message ids in locales/; load the
settings with `_settings()`, open the database with `_ready()` (or `_with_db()` if the command
may create it), fail with `_fail(tr.t(...))`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer._click.exceptions import UsageError

from bot import cliui
from bot.i18n import N_, Tr

if TYPE_CHECKING:
    from decimal import Decimal

    from rich.console import Console
    from rich.table import Table

    from bot.config import Settings
    from bot.db import Database
    from bot.services.dues import DuesReport
    from bot.services.imports import ImportKind, ImportResult

T = TypeVar("T")

app = typer.Typer(
    help=N_("cli.help.app"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help=N_("cli.help.db"), no_args_is_help=True)
import_app = typer.Typer(help=N_("cli.help.import"), no_args_is_help=True)
dues_app = typer.Typer(help=N_("cli.help.dues"), no_args_is_help=True)
report_app = typer.Typer(help=N_("cli.help.report"), no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(dues_app, name="dues")
app.add_typer(report_app, name="report")


# Placeholders in help ("--rate СТАВКА"); message ids, translated when help is rendered.
RATE = N_("cli.help.metavar.rate")
AMOUNT = N_("cli.help.metavar.amount")
DATE = N_("cli.help.metavar.date")
NAME = N_("cli.help.metavar.name")
HOST = N_("cli.help.metavar.host")
SECRET = N_("cli.help.metavar.secret")
CODE = N_("cli.help.metavar.code")
FILE = N_("cli.help.metavar.file")
FOLDER = N_("cli.help.metavar.folder")
TEXT = N_("cli.help.metavar.text")
MOMENT = N_("cli.help.metavar.moment")


class Lang(StrEnum):
    """The languages of the command line."""

    UK = "uk"
    EN = "en"


class RoleChoice(StrEnum):
    """What an invite lets its user see (the values of models.Role, without importing models)."""

    OFFICIAL = "official"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


@dataclass
class _Run:
    """The one language of this run, chosen before the command line is parsed."""

    tr: Tr | None = None


_RUN = _Run()


def _tr() -> Tr:
    if _RUN.tr is None:
        _RUN.tr = cliui.make_tr(cliui.pick_language(sys.argv[1:]))
    return _RUN.tr


_CONSOLES: dict[bool, Console] = {}


def out() -> Console:
    """Standard output (rich)."""
    return _console(stderr=False)


def err() -> Console:
    """Standard error (rich)."""
    return _console(stderr=True)


def _console(*, stderr: bool) -> Console:
    console = _CONSOLES.get(stderr)
    if console is None:
        from rich.console import Console

        console = _CONSOLES[stderr] = Console(stderr=stderr)
    return console


def _fail(message: str, code: int = 1) -> typer.Exit:
    # Messages carry user input (paths, codes): never read them as rich markup.
    err().print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Settings:
    from bot.config import ConfigError, load_settings
    from bot.logs import register_token

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(cliui.config_error(exc, _tr()), 2) from None
    if settings.bot_token is not None:
        register_token(settings.bot_token.get_secret_value())
    _RUN.tr = replace(_tr(), tz=settings.tz)
    return settings


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one async job against the database, then close it."""
    import asyncio

    from bot.db import Database

    async def main() -> T:
        db = Database.from_url(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def _where(url: str) -> str:
    """The database named for people: the SQLite file, or the URL without its password."""
    from sqlalchemy.engine import make_url

    from bot.db import sqlite_file

    path = sqlite_file(url)
    if path is not None:
        return str(path.resolve())
    return make_url(url).render_as_string(hide_password=True)


def _db_failure(settings: Settings, exc: BaseException) -> typer.Exit:
    """A database that cannot be reached or used: one or two lines, no traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import StatementError

    from bot.db import NotMigratedError, SchemaError, sqlite_file

    tr = _tr()
    if isinstance(exc, NotMigratedError):
        return _fail(tr.t("cli.db_not_migrated", where=_where(settings.database_url)))
    if isinstance(exc, SchemaError):
        return _fail(tr.t("cli.schema_error", detail=str(exc)))
    path = sqlite_file(settings.database_url)
    if path is not None and not path.expanduser().resolve().parent.is_dir():
        folder = str(path.expanduser().resolve().parent)
        return _fail(tr.t("cli.db_no_folder", folder=folder, file=path.name))
    chain: list[BaseException] = [exc]
    while len(chain) < 10:
        nxt = chain[-1].__cause__ or getattr(chain[-1], "orig", None)
        if not isinstance(nxt, BaseException) or nxt in chain:
            break
        chain.append(nxt)
    names = {type(e).__name__ for e in chain}
    os_errors = [e for e in chain if isinstance(e, OSError)]
    if "InvalidCatalogNameError" in names:  # asyncpg: the database does not exist
        detail = tr.t("cli.db_no_such_database", name=make_url(settings.database_url).database)
    elif names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        detail = tr.t("cli.db_auth_failed")
    elif os_errors:
        detail = cliui.os_error(os_errors[0], tr)
    else:
        detail = (str(chain[-1]).strip().splitlines() or [type(chain[-1]).__name__])[0][:200]
        if any(isinstance(e, StatementError) for e in chain):
            # The database answered: the statement failed, the connection is fine.
            return _fail(tr.t("cli.db_error", where=_where(settings.database_url), detail=detail))
    return _fail(tr.t("cli.db_unreachable", where=_where(settings.database_url), detail=detail))


def _ready(settings: Settings) -> None:
    """Every command but `db upgrade`, `run` and `demo` needs a database amu-bot has set up."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import SchemaError, check_ready, sqlite_file

    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        # Connecting would create an empty file: a typo in the path must not look like "no data".
        raise _fail(_tr().t("cli.db_missing", file=str(path.resolve())))

    async def check(db: Database) -> None:
        await check_ready(db.engine)

    try:
        _with_db(settings, check)
    except (SchemaError, OSError, SQLAlchemyError) as exc:
        raise _db_failure(settings, exc) from None


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("amu-bot")
        except PackageNotFoundError:
            number = "?"
        typer.echo(f"amu-bot {number}")
        raise typer.Exit()


@app.callback()
def root(
    lang: Annotated[
        Lang | None, typer.Option("--lang", help=N_("cli.help.lang"), show_default=False)
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help=N_("cli.help.version"), is_eager=True, callback=_show_version
        ),
    ] = False,
) -> None:
    """The options every command shares (the language is picked before parsing, in main)."""


@app.command(help=N_("cli.help.run"))
def run(
    webhook_url: Annotated[
        str | None, typer.Option(help=N_("cli.help.run.webhook_url"), metavar="URL")
    ] = None,
    listen: Annotated[
        str, typer.Option(help=N_("cli.help.run.listen"), metavar=HOST)
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help=N_("cli.help.run.port"))] = 8443,
    secret_token: Annotated[
        str | None, typer.Option(help=N_("cli.help.run.secret_token"), metavar=SECRET)
    ] = None,
) -> None:
    """Run the bot: long polling, or a webhook server with --webhook-url."""
    import asyncio
    import logging
    from urllib.parse import urlsplit

    from sqlalchemy.exc import SQLAlchemyError
    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.app import build_application, build_runtime
    from bot.config import ConfigError
    from bot.db import SchemaError, prepare_for_run
    from bot.logs import setup_logging

    settings = _settings()
    tr = _tr()
    try:
        settings.token()
    except ConfigError as exc:
        raise _fail(cliui.config_error(exc, tr), 2) from None
    setup_logging(settings)
    # python-telegram-bot logs a failed start-up (getMe) with a traceback before raising it;
    # the user gets our one-line reason below instead.
    logging.getLogger("telegram.ext").addFilter(_quiet_bootstrap)

    async def prepare() -> str:
        try:
            return await prepare_for_run(runtime.db.engine)
        finally:
            await runtime.db.dispose()  # the bot's own event loop opens fresh connections

    try:
        runtime = build_runtime(settings)
        revision = asyncio.run(prepare())
    except (SchemaError, OSError, SQLAlchemyError) as exc:
        raise _db_failure(settings, exc) from None

    logging.getLogger(__name__).info("database schema at revision %s", revision)
    application = build_application(runtime)  # it disposes the database when it stops
    api = urlsplit(settings.bot_api_url).netloc
    try:
        if webhook_url:
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
    except InvalidToken:
        # The exception's own text quotes the token: never print it.
        raise _fail(tr.t("cli.run.token_rejected"), 2) from None
    except NetworkError:
        raise _fail(tr.t("cli.run.no_network", api=api)) from None
    except SQLAlchemyError as exc:
        raise _db_failure(settings, exc) from None
    except OSError as exc:
        if not webhook_url:
            raise
        # The webhook server could not listen (port taken, address not on this machine...).
        detail = cliui.os_error(exc, tr)
        message = tr.t("cli.run.cannot_listen", address=f"{listen}:{port}", detail=detail)
        raise _fail(message) from None


def _quiet_bootstrap(record: Any) -> bool:
    return "Bootstrap Initialize" not in record.getMessage()


@db_app.command("upgrade", help=N_("cli.help.db.upgrade"))
def db_upgrade() -> None:
    """Bring the database schema up to date (the one command that creates a database)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import SchemaError, upgrade

    settings = _settings()
    tr = _tr()

    async def work(db: Database) -> tuple[str | None, str | None]:
        return await upgrade(db.engine)

    try:
        before, after = _with_db(settings, work)
    except (SchemaError, OSError, SQLAlchemyError) as exc:
        raise _db_failure(settings, exc) from None
    if before == after:
        out().print(tr.t("cli.db_current", revision=after), highlight=False)
    else:
        out().print(tr.t("cli.db_upgraded", before=before or "—", after=after), highlight=False)


def _print_import(tr: Tr, path: Path, result: ImportResult) -> None:
    if result.ok:
        out().print(
            tr.tn(
                "cli.import_done",
                "cli.import_done.plural",
                result.rows,
                file=path.name,
                created=result.created,
                updated=result.updated,
                unchanged=result.unchanged,
            ),
            highlight=False,
        )
        return
    err().print(
        tr.tn(
            "cli.import_failed", "cli.import_failed.plural", len(result.problems), file=path.name
        ),
        style="red",
        highlight=False,
        markup=False,
    )
    for problem in result.problems:
        err().print(
            tr.t(
                "cli.import_problem",
                line=problem.line,
                reason=tr.t(problem.msgid, **problem.params),
            ),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(
            _tr().t("cli.cannot_read", file=str(path), detail=cliui.os_error(exc, _tr()))
        ) from None


def _do_import(kind: ImportKind, path: Path) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from bot.clock import Clock
    from bot.services.imports import import_csv

    settings = _settings()
    tr = _tr()
    data = _read_file(path)
    _ready(settings)
    clock = Clock(settings.tz)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(
        *columns, console=err(), transient=True, disable=not err().is_terminal
    ) as progress:
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


FileArg = Annotated[Path, typer.Argument(help=N_("cli.help.import.file"), show_default=False)]


@import_app.command("members", help=N_("cli.help.import.members"))
def import_members(file: FileArg) -> None:
    """Member councils: code,name_uk,name_en,region,kind,population,joined_on."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.MEMBERS, file)


@import_app.command("officials", help=N_("cli.help.import.officials"))
def import_officials(file: FileArg) -> None:
    """The officials roster: member_code,full_name,position,phone,email."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.OFFICIALS, file)


@import_app.command("charges", help=N_("cli.help.import.charges"))
def import_charges(file: FileArg) -> None:
    """Charges: member_code,year,kind,amount,due_date."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.CHARGES, file)


@import_app.command("payments", help=N_("cli.help.import.payments"))
def import_payments(file: FileArg) -> None:
    """Payments: member_code,amount,paid_on,reference[,year,kind]."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.PAYMENTS, file)


@import_app.command("sections", help=N_("cli.help.import.sections"))
def import_sections(file: FileArg) -> None:
    """Thematic sections: code,name_uk,name_en (adds new codes, renames known ones)."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.SECTIONS, file)


@import_app.command("events", help=N_("cli.help.import.events"))
def import_events(file: FileArg) -> None:
    """Events: code,kind,title_uk,title_en,starts_at,ends_at,location,capacity,..."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.EVENTS, file)


@import_app.command("trainings", help=N_("cli.help.import.trainings"))
def import_trainings(file: FileArg) -> None:
    """Trainings: code,format,title_uk,title_en,starts_at,ends_at,hours,capacity,..."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.TRAININGS, file)


@import_app.command("deadlines", help=N_("cli.help.import.deadlines"))
def import_deadlines(file: FileArg) -> None:
    """Deadlines: code,title_uk,title_en,due_at,audience[,description_uk,description_en]."""
    from bot.services.imports import ImportKind

    _do_import(ImportKind.DEADLINES, file)


@app.command(help=N_("cli.help.invite"))
def invite(
    member_code: Annotated[
        str, typer.Argument(help=N_("cli.help.invite.member_code"), show_default=False)
    ],
    role: Annotated[
        RoleChoice, typer.Option(help=N_("cli.help.invite.role"))
    ] = RoleChoice.OFFICIAL,
    count: Annotated[int, typer.Option(min=1, max=500, help=N_("cli.help.invite.count"))] = 1,
    ttl_days: Annotated[
        int, typer.Option(min=1, max=365, help=N_("cli.help.invite.ttl_days"))
    ] = 14,
    bot_username: Annotated[
        str | None, typer.Option(help=N_("cli.help.invite.bot_username"), metavar=NAME)
    ] = None,
) -> None:
    """Print one-time deep links that link a Telegram account to a council, one per line."""
    from bot.clock import Clock
    from bot.services import botstate, invites
    from models import Role

    settings = _settings()
    tr = _tr()
    _ready(settings)
    clock = Clock(settings.tz)
    username = bot_username.lstrip("@") if bot_username else None
    if username is None:

        async def stored(db: Database) -> str | None:
            async with db.session() as session:
                return await botstate.bot_username(session=session)

        username = _with_db(settings, stored) or _ask_bot_username(settings, tr)

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            issued = await invites.create_invites(
                session=session,
                member_code=member_code,
                role=Role(role.value),
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
    err().print(
        tr.tn(
            "cli.invites_issued", "cli.invites_issued.plural", count, expires=tr.datetime(expires)
        ),
        highlight=False,
    )


def _ask_bot_username(settings: Settings, tr: Tr) -> str:
    """getMe, for a bot that never ran against this database; remembered for next time."""
    import asyncio
    from urllib.parse import urlsplit

    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from bot.clock import Clock
    from bot.config import ConfigError
    from bot.db import Database
    from bot.services import botstate

    try:
        token = settings.token()
    except ConfigError:
        raise _fail(tr.t("cli.invite_no_username"), 2) from None

    async def ask() -> str:
        async with Bot(token, base_url=settings.bot_api_url) as bot:
            username = bot.username
        db = Database.from_url(settings.database_url)
        try:
            async with db.session() as session:
                now = Clock(settings.tz).now()
                await botstate.remember_username(session=session, username=username, now=now)
        finally:
            await db.dispose()
        return username

    try:
        return asyncio.run(ask())
    except InvalidToken:
        raise _fail(tr.t("cli.run.token_rejected") + "\n" + tr.t("cli.or_bot_username")) from None
    except NetworkError:
        api = urlsplit(settings.bot_api_url).netloc
        raise _fail(
            tr.t("cli.run.no_network", api=api) + "\n" + tr.t("cli.or_bot_username")
        ) from None
    except TelegramError as exc:
        from bot.logs import scrub

        raise _fail(tr.t("cli.get_me_failed", detail=scrub(str(exc), [token]))) from None


def _amount_option(value: str | None, tr: Tr, name: str) -> int | None:
    from bot.money import parse_amount

    if value is None:
        return None
    try:
        return parse_amount(value)
    except ValueError:
        raise _fail(tr.t("cli.bad_amount", option=name, value=value), 2) from None


def _rate_option(value: str | None, tr: Tr, name: str) -> Decimal | None:
    from bot.money import parse_rate

    if value is None:
        return None
    try:
        return parse_rate(value)
    except ValueError:
        raise _fail(tr.t("cli.bad_rate", option=name, value=value), 2) from None


@dues_app.command("accrue", help=N_("cli.help.dues.accrue"))
def dues_accrue(
    year: Annotated[
        int, typer.Option(min=1990, max=2100, help=N_("cli.help.dues.year"), show_default=False)
    ],
    rate: Annotated[
        str, typer.Option(help=N_("cli.help.dues.rate"), metavar=RATE, show_default=False)
    ],
    min_amount: Annotated[
        str | None, typer.Option("--min", help=N_("cli.help.dues.min"), metavar=AMOUNT)
    ] = None,
    fund_rate: Annotated[
        str | None, typer.Option(help=N_("cli.help.dues.fund_rate"), metavar=RATE)
    ] = None,
    due_date: Annotated[
        str | None, typer.Option(help=N_("cli.help.dues.due_date"), metavar=DATE)
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help=N_("cli.help.dues.yes"))] = False,
) -> None:
    """Create the year's charges from each council's population (re-running changes nothing)."""
    from bot.clock import Clock
    from bot.services import dues

    settings = _settings()
    tr = _tr()
    rate_value = _rate_option(rate, tr, "--rate")
    assert rate_value is not None  # noqa: S101 - required option
    fund_value = _rate_option(fund_rate, tr, "--fund-rate")
    minimum = _amount_option(min_amount, tr, "--min")
    try:
        due = date.fromisoformat(due_date) if due_date else date(year, 3, 31)
    except ValueError:
        raise _fail(tr.t("cli.bad_date", option="--due-date", value=due_date), 2) from None
    this_year = Clock(settings.tz).today().year
    if year > this_year and not yes:
        # A typo here charges every council for a year that has not begun.
        raise _fail(tr.t("cli.accrue_future", year=year, current=this_year))
    _ready(settings)

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
    out().print(
        tr.t("cli.accrued", year=year, created=result.created, unchanged=result.unchanged),
        highlight=False,
    )
    for code, kind, old, new in result.differing:
        err().print(
            tr.t("cli.accrue_differs", code=code, kind=kind, old=tr.money(old), new=tr.money(new)),
            highlight=False,
        )
    if result.no_population:
        err().print(
            tr.t("cli.accrue_no_population", codes=", ".join(result.no_population)),
            highlight=False,
        )
    if result.not_yet_members:
        out().print(
            tr.t("cli.accrue_not_members", codes=", ".join(result.not_yet_members)),
            highlight=False,
        )


def dues_table(report: DuesReport, tr: Tr, width: int) -> Table:
    """Per region and in total, fitted to `width` columns: numbers are never cut or wrapped;
    less important columns are dropped, and at the narrowest charged and paid share one."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table

    from bot.money import to_uah
    from bot.regions import region_name
    from bot.reports import DUES_COLUMNS

    def money(kop: int) -> str:
        # The headers name the currency ("Нараховано, ₴"); the cells need only the number.
        return tr.number(to_uah(kop), "#,##0.00")

    groups = (*report.regions, report.total)
    cells = {
        "region": [
            region_name(tr, g.region) if g.region else tr.t("report.level.total") for g in groups
        ],
        "members": [tr.number(g.members) for g in groups],
        "charged": [money(g.charged_kop) for g in groups],
        "paid": [money(g.paid_kop) for g in groups],
        "overdue": [money(g.overdue_kop) for g in groups],
        "collected_pct": [f"{tr.number(g.collected_pct, '#,##0.0')}\u00a0%" for g in groups],
        "debtors": [tr.number(g.debtors) for g in groups],
    }
    headers = {c: tr.t(DUES_COLUMNS[c]) for c in cells}
    combined = f"{headers['charged']} /\n{headers['paid']}"

    def need(column: str) -> int:
        return max(len(v) for v in cells[column])

    def build(columns: list[str]) -> Table:
        table = Table(
            title=tr.t("report.title", year=report.year),
            box=box.SIMPLE_HEAD,
            show_edge=False,
            padding=(0, 1),
            collapse_padding=True,
        )
        for column in columns:
            if column == "charged+paid":
                table.add_column(
                    combined, justify="right", no_wrap=True, min_width=need("charged")
                )
                continue
            if column == "region":  # the one column that may fold, at a space
                longest_word = max(len(w) for v in cells["region"] for w in v.split())
                table.add_column(headers[column], min_width=longest_word)
                continue
            table.add_column(
                headers[column], justify="right", no_wrap=True, min_width=need(column)
            )
        for i, g in enumerate(groups):
            row = [
                f"{cells['charged'][i]}\n{cells['paid'][i]}"
                if c == "charged+paid"
                else cells[c][i]
                for c in columns
            ]
            table.add_row(*row, style="bold" if g.region is None else None)
        return table

    # From the fullest layout to the narrowest; the first whose natural width fits is used.
    layouts = [
        ["region", "members", "charged", "paid", "overdue", "collected_pct", "debtors"],
        ["region", "charged", "paid", "overdue", "collected_pct", "debtors"],
        ["region", "charged", "paid", "overdue", "collected_pct"],
        ["region", "charged+paid", "overdue", "collected_pct"],
        ["region", "charged", "paid", "collected_pct"],
        ["region", "charged+paid", "collected_pct"],
    ]
    measure = Console(width=10_000, file=io.StringIO())
    for columns in layouts:
        table = build(columns)
        if measure.measure(table).maximum <= width:
            return table
    return table


@report_app.command("dues", help=N_("cli.help.report.dues"))
def report_dues(
    year: Annotated[
        int | None,
        typer.Option(min=1990, max=2100, help=N_("cli.help.report.year"), show_default=False),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help=N_("cli.help.report.out"), show_default=False)
    ] = None,
) -> None:
    """Dues collected per council, per region and overall, in percent of what was charged."""
    from bot.clock import Clock
    from bot.reports import report_format, write_dues_report
    from bot.services import dues

    settings = _settings()
    tr = _tr()
    fmt = report_format(out_file) if out_file is not None else None
    if out_file is not None and fmt is None:
        raise _fail(tr.t("cli.report_format", file=str(out_file)), 2)
    _ready(settings)
    clock = Clock(settings.tz)
    chosen = year or clock.today().year

    async def work(db: Database) -> tuple[dues.DuesReport, list[int]]:
        async with db.session() as session:
            report = await dues.dues_report(session=session, year=chosen, today=clock.today())
            years = [] if report.rows else await dues.charge_years(session=session)
            return report, years

    report, years = _with_db(settings, work)
    if not report.rows:
        message = tr.t("cli.report_empty", year=chosen)
        if years:
            message += " " + tr.t("cli.report_years", years=", ".join(map(str, years)))
        raise _fail(message)
    if out_file is not None and fmt is not None:
        try:
            write_dues_report(out_file, report, fmt, tr)
        except OSError as exc:
            raise _fail(
                tr.t("cli.cannot_write", file=str(out_file), detail=cliui.os_error(exc, tr))
            ) from None
        out().print(
            tr.t("cli.report_written", file=str(out_file), year=report.year), highlight=False
        )
        return
    console = out()
    console.print(dues_table(report, tr, console.width))


class DemoRole(StrEnum):
    """Whom the person at the terminal plays first in the demo."""

    OFFICIAL = "official"
    STAFF = "staff"
    STRANGER = "stranger"


@app.command(help=N_("cli.help.demo"))
def demo(
    council: Annotated[
        str, typer.Option(help=N_("cli.help.demo.council"), metavar=CODE)
    ] = "04057287",
    lang: Annotated[
        Lang | None, typer.Option("--lang", help=N_("cli.help.lang"), show_default=False)
    ] = None,
    as_role: Annotated[
        DemoRole, typer.Option("--as", help=N_("cli.help.demo.as"))
    ] = DemoRole.OFFICIAL,
    db: Annotated[
        Path | None,
        typer.Option(help=N_("cli.help.demo.db"), metavar=FILE, show_default=False),
    ] = None,
    files: Annotated[Path, typer.Option(help=N_("cli.help.demo.files"), metavar=FOLDER)] = Path(
        "amu-demo-files"
    ),
) -> None:
    """Try the bot in this terminal on sample data: no token, no network."""
    from bot.demo import DemoOptions, Role, run

    language = lang.value if lang is not None else _tr().lang
    options = DemoOptions(
        council=council, lang=language, role=Role(as_role.value), db=db, files=files
    )
    raise typer.Exit(run(options))


certificate_app = typer.Typer(help=N_("cli.help.certificate"), no_args_is_help=True)
app.add_typer(certificate_app, name="certificate")


@certificate_app.command("verify", help=N_("cli.help.certificate.verify"))
def certificate_verify(
    code: Annotated[
        str,
        typer.Argument(help=N_("cli.help.certificate.code"), metavar=CODE, show_default=False),
    ],
) -> None:
    """Check a certificate by its verification code; exits 1 if there is no such certificate."""
    import html

    from bot.services import certificates
    from handlers.certificates import verification

    settings = _settings()
    tr = _tr()
    _ready(settings)

    async def work(db: Database) -> certificates.CertificateView | None:
        async with db.session() as session:
            return await certificates.by_code(session=session, code=code)

    view = _with_db(settings, work)
    text = html.unescape(re.sub(r"<[^>]+>", "", verification(tr, view, code)))  # plain text
    if view is None:
        raise _fail(text)
    out().print(text, highlight=False, markup=False)


# --- notifications: announcements and deadlines (bodies import their modules lazily) ---

announce_app = typer.Typer(
    help=N_("cli.help.announce"),
    invoke_without_command=True,
    no_args_is_help=True,
)
deadline_app = typer.Typer(help=N_("cli.help.deadline"), no_args_is_help=True)
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
    if exc.reason == "unknown_section":
        return _fail(tr.t("cli.unknown_section", value=exc.value, known=", ".join(exc.known)))
    if exc.reason == "unknown_event":
        return _fail(tr.t("cli.unknown_event", value=exc.value))
    return _fail(tr.t("cli.bad_audience", value=exc.value, known=", ".join(exc.known)))


@announce_app.callback()
def announce(
    ctx: typer.Context,
    audience: Annotated[
        str | None, typer.Option(help=N_("cli.help.announce.audience"), show_default=False)
    ] = None,
    text_file: Annotated[
        Path | None,
        typer.Option(
            help=N_("cli.help.announce.text_file"),
            dir_okay=False,
            metavar=FILE,
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help=N_("cli.help.announce.at"), metavar=MOMENT, show_default=False),
    ] = None,
) -> None:
    """Announce to an audience, now or --at a time; prints the announcement id."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    tr = _tr()
    if audience is None or text_file is None:
        raise _fail(tr.t("cli.announce_usage"), 2)
    try:
        body = text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = cliui.os_error(exc, tr) if isinstance(exc, OSError) else str(exc)
        raise _fail(tr.t("cli.cannot_read", file=str(text_file), detail=detail)) from None
    from bot.clock import Clock

    clock = Clock(settings.tz)
    send_at = _when_option(at, tr, "--at", settings) if at else None
    if send_at is not None and send_at < clock.now():
        raise _fail(tr.t("cli.moment_passed", option="--at", value=at))
    _ready(settings)

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
        out().print(tr.t("cli.announce_queued", id=ident, n=reach), highlight=False)
    else:
        out().print(
            tr.t("cli.announce_scheduled", id=ident, n=reach, at=tr.datetime(when)),
            highlight=False,
        )


@announce_app.command("status", help=N_("cli.help.announce.status"))
def announce_status(
    announcement_id: Annotated[
        int, typer.Argument(help=N_("cli.help.announce.id"), show_default=False)
    ],
) -> None:
    """Where an announcement's messages stand: delivered, blocked, failed, waiting, pending."""
    settings = _settings()
    tr = _tr()
    _ready(settings)
    from bot.services import announcements

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return await announcements.status(session=session, announcement_id=announcement_id)

    try:
        item, report = _with_db(settings, work)
    except announcements.AnnouncementNotFound:
        raise _fail(tr.t("cli.announce_unknown", id=announcement_id)) from None
    document = (
        ""
        if item.document_name is None
        else "\n" + tr.t("cli.announce_status_document", name=item.document_name)
    )
    if item.expanded_at is None:
        out().print(
            tr.t(
                "cli.announce_status_scheduled",
                id=item.id,
                audience=item.audience,
                at=tr.datetime(item.send_at),
            )
            + document,
            highlight=False,
            markup=False,
        )
        return
    out().print(
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
        )
        + document,
        highlight=False,
        markup=False,
    )


@deadline_app.command("add", help=N_("cli.help.deadline.add"))
def deadline_add(
    title_uk: Annotated[
        str, typer.Option(help=N_("cli.help.deadline.title_uk"), metavar=TEXT, show_default=False)
    ],
    title_en: Annotated[
        str, typer.Option(help=N_("cli.help.deadline.title_en"), metavar=TEXT, show_default=False)
    ],
    due: Annotated[
        str, typer.Option(help=N_("cli.help.deadline.due"), metavar=MOMENT, show_default=False)
    ],
    audience: Annotated[str, typer.Option(help=N_("cli.help.deadline.audience"))] = "all",
    description_uk: Annotated[
        str, typer.Option(help=N_("cli.help.deadline.description_uk"), metavar=TEXT)
    ] = "",
    description_en: Annotated[
        str, typer.Option(help=N_("cli.help.deadline.description_en"), metavar=TEXT)
    ] = "",
) -> None:
    """Add a deadline; officials are reminded 7 days and 1 day before."""
    settings = _settings()
    tr = _tr()
    from bot.clock import Clock

    due_at = _when_option(due, tr, "--due", settings)
    clock = Clock(settings.tz)
    if due_at <= clock.now():
        raise _fail(tr.t("cli.moment_passed", option="--due", value=due))
    _ready(settings)
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
    out().print(
        tr.t("cli.deadline_added", id=item.id, title=item.title(tr.lang), due=tr.datetime(due_at)),
        highlight=False,
        markup=False,
    )


@deadline_app.command("list", help=N_("cli.help.deadline.list"))
def deadline_list() -> None:
    """The deadlines not yet passed, soonest first."""
    settings = _settings()
    tr = _tr()
    _ready(settings)
    from rich.table import Table

    from bot.clock import Clock
    from bot.services import deadlines

    clock = Clock(settings.tz)

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return await deadlines.open_deadlines(
                session=session, now=clock.now(), region=None, everything=True
            )

    items = _with_db(settings, work)
    if not items:
        out().print(tr.t("cli.deadlines_none"))
        return
    table = Table(box=None)
    table.add_column(tr.t("cli.deadline_col_id"))
    table.add_column(tr.t("cli.deadline_col_code"))
    table.add_column(tr.t("cli.deadline_col_due"))
    table.add_column(tr.t("cli.deadline_col_title"))
    table.add_column(tr.t("cli.deadline_col_audience"))
    for item in items:
        table.add_row(
            str(item.id),
            item.code or "—",
            tr.datetime(item.due_at),
            item.title(tr.lang),
            item.audience,
        )
    out().print(table)


def _unexpected(exc: BaseException, tr: Tr) -> int:
    """An error nobody foresaw: the traceback to the log, a short line to the user; both are
    scrubbed before any handler sees them, so no logging set-up can leak the token."""
    import logging
    import traceback

    from bot.logs import ensure_logging, scrub

    ensure_logging()
    logging.getLogger("amu_bot").error(
        "unexpected error\n%s", scrub("".join(traceback.format_exception(exc)))
    )
    detail = scrub(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]
    sys.stderr.write(tr.t("cli.unexpected", detail=detail) + "\n")
    sys.stderr.flush()
    return 1


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one language for the run, no error ever shows the token."""
    from bot.logs import ensure_logging, install_excepthooks, register_token

    install_excepthooks()
    ensure_logging()  # so that no library's warning reaches stderr unscrubbed
    register_token(os.environ.get("BOT_TOKEN"))
    args = sys.argv[1:] if argv is None else list(argv)
    tr = _RUN.tr = cliui.make_tr(cliui.pick_language(args))
    code: int = 0
    try:
        command = typer.main.get_command(app)
        cliui.localise(command, tr)
        try:
            result = command.main(args=args, prog_name=cliui.PROG, standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except UsageError as exc:
            code = cliui.handle_usage_error(exc, _RUN.tr or tr)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = 1
    except KeyboardInterrupt:
        code = 130
    except SystemExit:
        raise
    except BaseException as exc:  # the guard: whatever it is, it reaches the user scrubbed
        code = _unexpected(exc, _RUN.tr or tr)
    finally:
        _CONSOLES.clear()
    sys.exit(code)
