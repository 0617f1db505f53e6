"""The real `amu-bot` command line, on a fresh SQLite file per test."""

from __future__ import annotations

import csv
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from bot.cli import main
from bot.db import Database, alembic_config
from tests.conftest import EXAMPLES

VARS = ("BOT_TOKEN", "BOT_API_URL", "DATABASE_URL", "ADMIN_IDS", "TIMEZONE")
LOAD_SEQUENCE = [
    ["db", "upgrade"],
    ["import", "members", str(EXAMPLES / "members.csv")],
    ["import", "officials", str(EXAMPLES / "officials.csv")],
    ["import", "charges", str(EXAMPLES / "charges.csv")],
    ["dues", "accrue", "--year", "2025", "--rate", "1.16", "--min", "1000", "--fund-rate", "1.16"],
    ["import", "payments", str(EXAMPLES / "payments.csv")],
]
INVITE_LINK = re.compile(r"^https://t\.me/amu_bot\?start=[A-Za-z0-9_-]{16}$")


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@dataclass
class Result:
    """What one run of `amu-bot` printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Invoke = Callable[..., Result]


def run_main(args: list[str], env: dict[str, str | None]) -> Result:
    """The console-script entry point, in-process, with its output captured."""
    runner = CliRunner()
    exception: BaseException | None = None
    with runner.isolation(env=env) as (stdout, stderr, _output):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            exception = exc
        else:
            code = 0
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    return Result(code, out, err, exception)


def make_invoke(db_file: Path) -> Invoke:
    base: dict[str, str | None] = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "LANG": "en_US.UTF-8",
        "LC_ALL": None,
        "LC_MESSAGES": None,
        "AMU_LANG": None,
        "BOT_TOKEN": None,
        "COLUMNS": "80",
    }

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return run_main(list(args), {**base, **(env or {})})

    return invoke


def rows(db_file: Path, table: str) -> int:
    with sqlite3.connect(db_file) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited settings and no `.env`: each test says what it wants."""
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


@pytest.fixture
def cli(db_file: Path) -> Invoke:
    return make_invoke(db_file)


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database loaded with the examples through the CLI, built once and copied per test."""
    db_file = tmp_path_factory.mktemp("cli-template") / "examples.db"
    invoke = make_invoke(db_file)
    old = {name: os.environ.pop(name, None) for name in VARS}
    try:
        for args in LOAD_SEQUENCE:
            result = invoke(*args)
            assert result.exit_code == 0, (args, result.output, result.stderr)
    finally:
        os.environ.update({k: v for k, v in old.items() if v is not None})
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db_file


@pytest.fixture
def loaded(loaded_template: Path, db_file: Path) -> Path:
    shutil.copyfile(loaded_template, db_file)
    return db_file


def test_db_upgrade(cli: Invoke, db_file: Path) -> None:
    first = cli("db", "upgrade")
    assert first.exit_code == 0, first.output
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"Database schema upgraded: — → {head}." in flat(first.stdout)
    assert db_file.exists()
    second = cli("db", "upgrade")
    assert second.exit_code == 0
    assert f"The database schema is up to date (revision {head})." in flat(second.stdout)


def test_the_examples_load_sequence(cli: Invoke, db_file: Path) -> None:
    outputs = []
    for args in LOAD_SEQUENCE:
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        outputs.append(flat(result.stdout))
    assert "members.csv: 32 rows; 32 added, 0 updated, 0 unchanged." in outputs[1]
    assert "officials.csv: 28 rows; 28 added" in outputs[2]
    assert "charges.csv: 60 rows; 60 added" in outputs[3]
    assert "Charges for 2025: 60 created, 0 already there." in outputs[4]
    assert "04436450, 04447614" in outputs[4]  # joined during 2025: dues start next year
    assert "payments.csv: 102 rows; 102 added" in outputs[5]
    assert (rows(db_file, "member"), rows(db_file, "official")) == (32, 28)
    assert (rows(db_file, "charge"), rows(db_file, "payment")) == (120, 102)


def test_reimport_through_the_cli_changes_nothing(cli: Invoke, loaded: Path) -> None:
    result = cli("import", "payments", str(EXAMPLES / "payments.csv"))
    assert result.exit_code == 0
    assert "102 rows; 0 added, 0 updated, 102 unchanged." in flat(result.stdout)
    assert rows(loaded, "payment") == 102


def test_malformed_payments_file(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "member_code,amount,paid_on,reference,year,kind\n"
        "04057287,10.00,2025-11-01,CLI-1,,\n"
        '04057287,"12,50",2025-11-01,CLI-2,,\n'
        "99999999,10.00,2025-11-01,CLI-3,,\n"
        "04057287,10.00,2025-11-01,CLI-1,,\n"
        "04057287,10.00,2025-11-01,CLI-5,2025,\n",
        encoding="utf-8",
    )
    result = cli("import", "payments", str(bad))
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert "bad.csv: nothing was written, 4 problems found:" in errors
    found = [int(n) for n in re.findall(r"line (\d+):", result.stderr)]
    assert found == [3, 4, 5, 6]
    assert "12,50" in errors
    assert rows(loaded, "payment") == 102


def test_import_of_a_missing_file(cli: Invoke, tmp_path: Path) -> None:
    result = cli("import", "members", str(tmp_path / "absent.csv"))
    assert result.exit_code != 0
    assert "absent.csv" in flat(result.stderr + result.stdout)


def test_invite_prints_one_link_per_line(cli: Invoke, loaded: Path) -> None:
    result = cli("invite", "04057287", "--bot-username", "amu_bot", "--count", "3")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(INVITE_LINK.match(line) for line in lines), lines
    assert len(set(lines)) == 3
    assert "Issued 3 invites" in flat(result.stderr)
    assert rows(loaded, "invite") == 3


def test_invite_accepts_an_at_sign_and_a_role(cli: Invoke, loaded: Path) -> None:
    result = cli("invite", "04057287", "--bot-username", "@amu_bot", "--role", "coordinator")
    assert result.exit_code == 0, result.stderr
    assert INVITE_LINK.match(result.stdout.strip())
    with sqlite3.connect(loaded) as conn:
        assert conn.execute("SELECT role FROM invite").fetchall() == [("coordinator",)]


def test_invite_for_an_unknown_council(cli: Invoke, loaded: Path) -> None:
    result = cli("invite", "99999999", "--bot-username", "x")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "No council with code 99999999 in the registry" in flat(result.stderr)
    assert rows(loaded, "invite") == 0


def test_invite_rejects_a_bad_role_and_count(cli: Invoke, loaded: Path) -> None:
    assert cli("invite", "04057287", "--bot-username", "x", "--role", "king").exit_code == 2
    assert cli("invite", "04057287", "--bot-username", "x", "--count", "0").exit_code == 2
    assert rows(loaded, "invite") == 0


def test_dues_accrue_is_idempotent(cli: Invoke, db_file: Path) -> None:
    assert cli("db", "upgrade").exit_code == 0
    assert cli("import", "members", str(EXAMPLES / "members.csv")).exit_code == 0
    accrue = ("dues", "accrue", "--year", "2025", "--rate", "1.16", "--min", "1000")
    first = cli(*accrue)
    assert first.exit_code == 0, first.stderr
    assert "Charges for 2025: 30 created, 0 already there." in flat(first.stdout)
    with sqlite3.connect(db_file) as conn:
        before = conn.execute("SELECT * FROM charge ORDER BY id").fetchall()
    second = cli(*accrue)
    assert second.exit_code == 0
    assert "Charges for 2025: 0 created, 30 already there." in flat(second.stdout)
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT * FROM charge ORDER BY id").fetchall() == before


def test_dues_accrue_with_a_new_rate_reports_differences(cli: Invoke, loaded: Path) -> None:
    result = cli("dues", "accrue", "--year", "2025", "--rate", "1.20", "--min", "1000")
    assert result.exit_code == 0
    assert "0 created" in flat(result.stdout)
    assert "04057287 membership: UAH 248,530.00 already charged" in flat(result.stderr)
    assert "UAH 257,100.00" in flat(result.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "abc"],
        ["--rate", "1,16"],
        ["--rate", "1.16", "--min", "lots"],
        ["--rate", "1.16", "--fund-rate", "-1"],
        ["--rate", "1.16", "--due-date", "31.03.2025"],
    ],
)
def test_dues_accrue_rejects_bad_options(cli: Invoke, db_file: Path, args: list[str]) -> None:
    result = cli("dues", "accrue", "--year", "2025", *args)
    assert result.exit_code == 2
    assert args[-1] in flat(result.stderr)
    assert not db_file.exists()  # refused before touching the database


EN_HEADER = [
    "Level",
    "Region",
    "EDRPOU",
    "Council",
    "Charged, UAH",
    "Paid, UAH",
    "Balance, UAH",
    "Overdue, UAH",
    "Collected, %",
]


def test_report_dues_csv(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = cli("report", "dues", "--year", "2025", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Dues report for 2025 written to" in flat(result.stdout)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM for Cyrillic
    lines = raw.decode("utf-8-sig").splitlines()
    assert next(csv.reader(lines[:1])) == EN_HEADER  # the same words as the XLSX headers
    table = [dict(zip(EN_HEADER, row, strict=True)) for row in csv.reader(lines[1:])]
    members = [r for r in table if r["Level"] == "council"]
    (total,) = [r for r in table if r["Level"] == "Total"]
    assert len(members) == 32
    charged = sum((Decimal(r["Charged, UAH"]) for r in members), Decimal(0))
    paid = sum((Decimal(r["Paid, UAH"]) for r in members), Decimal(0))
    overdue = sum((Decimal(r["Overdue, UAH"]) for r in members), Decimal(0))
    assert Decimal(total["Charged, UAH"]) == charged
    assert Decimal(total["Paid, UAH"]) == paid
    assert Decimal(total["Balance, UAH"]) == charged - paid
    assert Decimal(total["Overdue, UAH"]) == overdue > 0  # totals carry the overdue figure
    pct = (paid * 100 / charged).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    assert Decimal(total["Collected, %"]) == pct
    kremenchuk = next(r for r in members if r["EDRPOU"] == "04057287")
    assert (kremenchuk["Charged, UAH"], kremenchuk["Paid, UAH"]) == ("497060.00", "200000.00")
    assert kremenchuk["Council"] == "Kremenchuk City Council"
    regions = [r for r in table if r["Level"] == "region"]
    assert sum(Decimal(r["Charged, UAH"]) for r in regions) == charged
    assert sum(Decimal(r["Overdue, UAH"]) for r in regions) == overdue
    for row in table:  # nothing owed is ever shown as fully collected
        owed = Decimal(row["Balance, UAH"]) > 0
        assert not (owed and Decimal(row["Collected, %"]) >= 100), row


def test_report_dues_csv_opens_in_ukrainian_excel(
    cli: Invoke, loaded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "звіт.csv"
    result = cli(
        "report", "dues", "--year", "2025", "--out", str(out), env={"LANG": "uk_UA.UTF-8"}
    )
    assert result.exit_code == 0, result.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0][:4] == ["Рівень", "Регіон", "ЄДРПОУ", "Громада"]
    kremenchuk = next(r for r in rows if r[2] == "04057287")
    assert kremenchuk[3] == "Кременчуцька міська рада"
    assert kremenchuk[4:6] == ["497060,00", "200000,00"]  # decimal commas, no thousands marks
    assert rows[-1][0] == "Усього"
    assert all(len(r) == 9 for r in rows)


def test_report_dues_xlsx(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    result = cli("report", "dues", "--year", "2025", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    workbook = load_workbook(out)
    sheet = workbook["2025"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == EN_HEADER
    kremenchuk = next(row for row in values if row[2] == "04057287")
    charged, paid, balance = kremenchuk[4:7]
    assert all(isinstance(v, int | float) for v in (charged, paid, balance))
    assert (charged, paid, balance) == (497_060, 200_000, 297_060)
    members = [row for row in values[1:] if row[2]]
    total = values[-1]
    assert total[4] == pytest.approx(sum(row[4] for row in members))
    assert total[7] == pytest.approx(sum(row[7] for row in members))  # overdue in the total
    assert all(isinstance(row[7], int | float) for row in values[1:])  # and in every region
    assert isinstance(total[8], int | float)
    # Money cells carry a number format and their columns are wide enough to show it.
    for letter in "EFGH":
        assert sheet[f"{letter}2"].number_format == "#,##0.00"
        widest = max(len(f"{row[ord(letter) - 65]:,.2f}") for row in values[1:])
        assert sheet.column_dimensions[letter].width > widest
    assert sheet["I2"].number_format == "0.0"
    assert sheet.column_dimensions["D"].width >= max(len(str(row[3] or "")) for row in values)


def test_report_dues_refuses_other_formats(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    result = cli("report", "dues", "--year", "2025", "--out", str(tmp_path / "r.pdf"))
    assert result.exit_code == 2
    assert "only as .csv or .xlsx" in flat(result.stderr)
    assert not (tmp_path / "r.pdf").exists()


def this_year() -> int:
    return datetime.now(ZoneInfo("Europe/Kyiv")).year


def test_report_dues_defaults_to_the_current_year(cli: Invoke, loaded: Path) -> None:
    result = cli("report", "dues")  # the examples have charges for 2024 and 2025 only
    assert result.exit_code == 1
    assert f"No charges to report (year: {this_year()})." in flat(result.stderr)
    assert "Years with charges: 2024, 2025" in flat(result.stderr)


def test_dues_accrue_for_a_future_year_wants_yes(cli: Invoke, loaded: Path) -> None:
    future = str(this_year() + 1)
    args = ("dues", "accrue", "--year", future, "--rate", "1.16")
    refused = cli(*args)
    assert refused.exit_code == 1
    assert f"{future} has not begun yet" in flat(refused.stderr)
    assert "--yes" in refused.stderr
    assert rows(loaded, "charge") == 120
    confirmed = cli(*args, "--yes")
    assert confirmed.exit_code == 0, confirmed.stderr
    assert rows(loaded, "charge") > 120


def test_report_dues_on_screen(cli: Invoke, loaded: Path) -> None:
    result = cli("report", "dues", "--year", "2025")
    assert result.exit_code == 0, result.stderr
    assert "Poltava Oblast" in result.stdout  # the region in the reader's language
    assert "Total" in result.stdout


def test_report_of_a_year_without_charges(cli: Invoke, loaded: Path) -> None:
    result = cli("report", "dues", "--year", "2031")
    assert result.exit_code == 1
    assert "No charges to report (year: 2031)." in flat(result.stderr)


def test_run_without_a_token(cli: Invoke) -> None:
    result = cli("run")
    assert result.exit_code == 2
    assert "BOT_TOKEN" in flat(result.stderr)


def test_run_with_a_malformed_token_does_not_print_it(cli: Invoke) -> None:
    secret = "garbage-TOKEN-value"
    result = cli("run", env={"BOT_TOKEN": secret})
    assert result.exit_code == 2
    output = result.stdout + result.stderr
    assert "BOT_TOKEN" in flat(output)
    assert secret not in output
    assert "garbage" not in output


def test_ukrainian_output(cli: Invoke, loaded: Path) -> None:
    uk = {"LANG": "uk_UA.UTF-8"}
    unknown = cli("invite", "99999999", "--bot-username", "x", env=uk)
    assert unknown.exit_code != 0
    assert "Громади з кодом 99999999 немає в реєстрі" in flat(unknown.stderr)
    rate = cli("dues", "accrue", "--year", "2025", "--rate", "abc", env=uk)
    assert rate.exit_code == 2
    assert "не ставка в гривнях на жителя" in flat(rate.stderr)
    accrued = cli("dues", "accrue", "--year", "2025", "--rate", "1.16", "--min", "1000", env=uk)
    assert "Нарахування за 2025 рік: створено 0, вже були 30." in flat(accrued.stdout)


def test_help_lists_the_commands(cli: Invoke) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "db", "import", "invite", "dues", "report"):
        assert re.search(rf"\b{command}\b", result.stdout), command


# --- bad input the CLI must survive -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["invite", "[/x]", "--bot-username", "x"], {}),
        (["db", "upgrade"], {"BOT_API_URL": "[/x]"}),
    ],
    ids=["member-code", "config-value"],
)
def test_user_input_is_not_read_as_markup(
    cli: Invoke, loaded: Path, args: list[str], env: dict[str, str]
) -> None:
    result = cli(*args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (1, 2)
    assert "[/x]" in result.stderr


def test_unusable_sqlite_path_gives_a_clear_message(tmp_path: Path) -> None:
    # A separate process: the failed aiosqlite connection's worker thread outlives the CLI's
    # event loop, and in-process its late exception would land in some other test.
    env = {k: v for k, v in os.environ.items() if k not in (*VARS, "LC_ALL", "LC_MESSAGES")}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}",
        LANG="en_US.UTF-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"There is no folder {tmp_path / 'missing-dir'} for the database file" in flat(
        done.stderr
    )
    assert "Traceback" not in done.stderr


# --- one language per run ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "args", "word"),
    [
        ({"LANG": "uk_UA.UTF-8"}, [], "Використання:"),
        ({"LANG": "en_US.UTF-8"}, [], "Usage:"),
        ({"LANG": "en_US.UTF-8", "AMU_LANG": "uk"}, [], "Використання:"),
        ({"LANG": "uk_UA.UTF-8"}, ["--lang", "en"], "Usage:"),
        ({"LANG": "en_US.UTF-8"}, ["--lang=uk"], "Використання:"),
        ({"LANG": "C"}, [], "Використання:"),  # Ukrainian unless told otherwise
    ],
)
def test_help_speaks_the_language_of_the_run(
    cli: Invoke, env: dict[str, str], args: list[str], word: str
) -> None:
    for command in ([], ["invite"], ["dues", "accrue"], ["report", "dues"]):
        result = cli(*args, *command, "--help", env=env)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(word), result.stdout


def test_ukrainian_help_has_no_english_words_of_click(cli: Invoke) -> None:
    result = cli("invite", "--help", env={"LANG": "uk_UA.UTF-8"})
    text = flat(result.stdout)
    for english in ("Usage", "Options", "Arguments", "default", "required", "Show this"):
        assert english not in text, english
    assert "Параметри" in text and "типово: 14" in text and "обов'язковий" in text
    assert "Код ЄДРПОУ громади." in text


@pytest.mark.parametrize(
    ("args", "uk", "en"),
    [
        (["bogus"], "команди «bogus» немає", "there is no command “bogus”"),
        (["invite"], "не вказано MEMBER_CODE", "MEMBER_CODE is missing"),
        (["invite", "1", "--nope"], "параметра --nope немає", "there is no option --nope"),
        (["invite", "1", "--count", "abc"], "від 1 до 500", "from 1 to 500"),
        (["invite", "1", "--count", "0"], "від 1 до 500", "from 1 to 500"),
        (["invite", "1", "--role", "king"], "одне з: official, coordinator", "one of: official"),
        (["invite", "1", "--count"], "потребує значення", "needs a value"),
        (["invite", "1", "2"], "зайві аргументи: 2", "unexpected extra arguments: 2"),
        (["dues", "accrue"], "параметр --year обов'язковий", "the option --year is required"),
        (["--lang", "de", "db"], "--lang: має бути одне з: uk, en", "--lang: must be one of"),
    ],
)
def test_usage_errors_are_localised(cli: Invoke, args: list[str], uk: str, en: str) -> None:
    for env, expected in (({"LANG": "uk_UA.UTF-8"}, uk), ({"LANG": "en_US.UTF-8"}, en)):
        result = cli(*args, env=env)
        assert result.exit_code == 2, result.output
        text = flat(result.stderr)
        assert expected in text, text
        assert "╭" not in result.stderr and "Error" not in text.replace("Error:", "")
        assert ("Помилка:" in text) == (env["LANG"].startswith("uk"))


def test_version(cli: Invoke) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"amu-bot {version('amu-bot')}"


def test_configuration_errors_are_localised(cli: Invoke) -> None:
    env = {"LANG": "uk_UA.UTF-8", "TIMEZONE": "Mars/Olympus", "ADMIN_IDS": "1,two"}
    result = cli("db", "upgrade", env=env)
    assert result.exit_code == 2
    text = flat(result.stderr)
    assert "Налаштування (змінні середовища або .env) містять помилки:" in text
    assert "TIMEZONE: невідомий часовий пояс: «Mars/Olympus»" in text
    assert "ADMIN_IDS: мають бути ідентифікатори" in text
    assert "is not" not in text and "must" not in text
    missing = cli("run", env={"LANG": "uk_UA.UTF-8"})
    assert "BOT_TOKEN: не задано" in flat(missing.stderr)


@pytest.mark.parametrize(
    ("make", "uk", "en"),
    [
        (lambda p: p / "absent.csv", "немає такого файлу чи теки", "no such file or folder"),
        (lambda p: p, "це тека, а не файл", "this is a folder, not a file"),
    ],
    ids=["missing", "folder"],
)
def test_os_errors_are_localised(
    cli: Invoke, loaded: Path, tmp_path: Path, make: Callable[[Path], Path], uk: str, en: str
) -> None:
    path = make(tmp_path)
    for lang, expected in (("uk_UA.UTF-8", uk), ("en_US.UTF-8", en)):
        result = cli("import", "members", str(path), env={"LANG": lang})
        assert result.exit_code == 1
        assert expected in flat(result.stderr), result.stderr
        assert str(path) in flat(result.stderr)


def test_unwritable_report_is_localised(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "r.csv"
    result = cli("report", "dues", "--year", "2025", "--out", str(target), env={"LANG": "uk_UA"})
    assert result.exit_code == 1
    assert "Не вдалося записати" in result.stderr
    assert "немає такого файлу чи теки" in flat(result.stderr)


# --- only db upgrade, run and demo create a database ------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["import", "members", str(EXAMPLES / "members.csv")],
        ["invite", "04057287", "--bot-username", "x"],
        ["dues", "accrue", "--year", "2025", "--rate", "1.16"],
        ["report", "dues", "--year", "2025"],
    ],
)
def test_other_commands_refuse_a_missing_database(
    cli: Invoke, db_file: Path, args: list[str]
) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    text = flat(result.stderr)
    assert f"There is no database file {db_file}" in text
    assert "amu-bot db upgrade" in text
    assert not db_file.exists()  # a typo in the path creates nothing


def test_other_commands_refuse_an_empty_database(cli: Invoke, db_file: Path) -> None:
    sqlite3.connect(db_file).close()  # an empty file, as a stray tool might leave
    result = cli("report", "dues", "--year", "2025", env={"LANG": "uk_UA.UTF-8"})
    assert result.exit_code == 1
    assert "не підготовлена для amu-bot" in flat(result.stderr)
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


# --- nothing ever prints the token --------------------------------------------------------------

SECRET_TOKEN = "123456:ABC-never-show-this-secret"


def test_an_unexpected_error_is_short_and_never_shows_the_token(
    cli: Invoke, loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.cli

    def explode(*_: object) -> None:
        raise RuntimeError(f"The token '{SECRET_TOKEN}' was rejected")

    monkeypatch.setattr(bot.cli, "dues_table", explode)
    result = cli("report", "dues", "--year", "2025", env={"BOT_TOKEN": SECRET_TOKEN})
    assert result.exit_code == 1
    assert SECRET_TOKEN not in result.output
    assert SECRET_TOKEN.split(":")[1] not in result.output
    assert "amu-bot stopped on an unexpected error: RuntimeError" in flat(result.stderr)
    assert "[REDACTED]" in result.stderr


@pytest.mark.parametrize("where", ["main-thread", "other-thread"])
def test_uncaught_tracebacks_are_scrubbed(tmp_path: Path, where: str) -> None:
    raise_it = f"raise RuntimeError('The token {SECRET_TOKEN} was rejected')"
    body = (
        raise_it
        if where == "main-thread"
        else f"import threading\ndef f():\n    {raise_it}\n"
        "t = threading.Thread(target=f); t.start(); t.join()"
    )
    code = (
        "from bot.logs import install_excepthooks, register_token\n"
        f"register_token({SECRET_TOKEN!r})\ninstall_excepthooks()\n{body}\n"
    )
    done = subprocess.run(  # noqa: S603 - our own test code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "RuntimeError: The token [REDACTED] was rejected" in done.stderr
    assert SECRET_TOKEN not in done.stderr


# --- fast help ----------------------------------------------------------------------------------


def test_importing_the_cli_loads_no_heavy_module() -> None:
    heavy = ("sqlalchemy", "telegram", "pydantic", "alembic", "openpyxl", "sqlmodel", "rich")
    code = f"import sys, bot.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(  # noqa: S603 - our own test code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_invite_before_the_bot_ever_ran_without_a_token(cli: Invoke, loaded: Path) -> None:
    result = cli("invite", "04057287", env={"LANG": "uk_UA.UTF-8"})
    assert result.exit_code == 2
    assert "Бот ще не запускався з цією базою даних" in flat(result.stderr)
    assert "--bot-username" in result.stderr
    assert rows(loaded, "invite") == 0  # no link was issued that nobody could print


async def test_the_remembered_username_is_used_and_kept_current(db_file: Path) -> None:
    from datetime import UTC, datetime

    from bot.db import Database, upgrade
    from bot.services import botstate

    database = Database.from_url(f"sqlite+aiosqlite:///{db_file}")
    try:
        await upgrade(database.engine)
        async with database.session() as session:
            assert await botstate.bot_username(session=session) is None
            now = datetime(2026, 1, 1, tzinfo=UTC)
            await botstate.remember_username(session=session, username="old_bot", now=now)
            await botstate.remember_username(session=session, username="new_bot", now=now)
            assert await botstate.bot_username(session=session) == "new_bot"
    finally:
        await database.dispose()


async def test_processes_starting_together_both_remember_the_username(db: Database) -> None:
    """Each `amu-bot run` remembers its username at start-up. Two starting on one fresh
    database write the same key at once: neither may fail on the other's row."""
    import asyncio
    from datetime import UTC, timedelta

    from sqlalchemy import text

    from bot.services import botstate
    from models import BotState

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite amu-bot runs as one process")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    other = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    try:
        async with other.engine.connect() as starting:
            # The other process has written the row, not committed yet: this one reads
            # nothing, then its write waits for the other's commit.
            await starting.execute(
                text("INSERT INTO bot_state (key, value, updated_at) VALUES (:k, :v, :at)"),
                {"k": botstate.USERNAME, "v": "amu_bot", "at": now},
            )
            async with db.session() as session:
                remembering = asyncio.create_task(
                    botstate.remember_username(session=session, username="amu_bot", now=now)
                )
                await asyncio.sleep(0.5)
                assert not remembering.done()
                await starting.commit()
                await asyncio.wait_for(remembering, timeout=10)
    finally:
        await other.dispose()
    later = now + timedelta(days=1)
    async with db.session() as session:
        await botstate.remember_username(session=session, username="amu_bot", now=later)
        state = await session.get(BotState, botstate.USERNAME)
        assert state is not None and state.updated_at == now  # the same name: not rewritten
        await botstate.remember_username(session=session, username="new_bot", now=later)
    async with db.session() as session:
        assert await botstate.bot_username(session=session) == "new_bot"
        state = await session.get(BotState, botstate.USERNAME)
        assert state is not None and state.updated_at == later


def test_a_missing_postgresql_database_is_named(cli: Invoke) -> None:
    from sqlalchemy.engine import make_url

    base = os.environ.get("AMU_TEST_DATABASE_URL")
    if not base:
        pytest.skip("needs a PostgreSQL server")
    url = make_url(base).set(database="amu_no_such_db").render_as_string(hide_password=False)
    result = cli("db", "upgrade", env={"DATABASE_URL": url, "LANG": "uk_UA.UTF-8"})
    assert result.exit_code == 1
    assert "на сервері немає бази даних «amu_no_such_db»" in flat(result.stderr)


def test_a_failed_statement_is_not_called_an_unreachable_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database answered with an error: it is reachable, and saying otherwise sends
    staff hunting for a network problem."""
    import typer
    from sqlalchemy.exc import IntegrityError, OperationalError

    from bot import cli
    from bot.config import load_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://amu@127.0.0.1:5432/amu")
    settings = load_settings()
    duplicate = IntegrityError(
        "INSERT INTO bot_state ...", {}, Exception('duplicate key value "pk_bot_state"')
    )
    refused = OperationalError("connect", {}, ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(cli._db_failure(settings, duplicate), typer.Exit)
    assert isinstance(cli._db_failure(settings, refused), typer.Exit)
    said = " ".join(capsys.readouterr().err.split())
    assert said.count("Помилка бази даних") + said.count("Database error") == 1
    assert 'duplicate key value "pk_bot_state"' in said
    assert said.count("Немає зв'язку з базою даних") + said.count("Cannot reach the database") == 1
