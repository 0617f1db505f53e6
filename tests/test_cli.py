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
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.conftest import EXAMPLES

Invoke = Callable[..., Result]
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


def make_invoke(db_file: Path) -> Invoke:
    runner = CliRunner()
    base: dict[str, str | None] = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "LANG": "en_US.UTF-8",
        "LC_ALL": None,
        "LC_MESSAGES": None,
        "BOT_TOKEN": None,
    }

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return runner.invoke(app, list(args), env={**base, **(env or {})})

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
    assert "Database schema upgraded: — → 0004." in flat(first.stdout)
    assert db_file.exists()
    second = cli("db", "upgrade")
    assert second.exit_code == 0
    assert "The database schema is up to date (revision 0004)." in flat(second.stdout)


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
    assert "04057287 membership: 248,530.00 UAH already charged" in flat(result.stderr)
    assert "257,100.00 UAH" in flat(result.stderr)


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


def test_report_dues_csv(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = cli("report", "dues", "--year", "2025", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Dues report for 2025 written to" in flat(result.stdout)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM for Cyrillic
    table = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(table[0]) == [
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
    members = [r for r in table if r["level"] == "member"]
    (total,) = [r for r in table if r["level"] == "total"]
    assert len(members) == 32
    charged = sum((Decimal(r["charged"]) for r in members), Decimal(0))
    paid = sum((Decimal(r["paid"]) for r in members), Decimal(0))
    assert Decimal(total["charged"]) == charged
    assert Decimal(total["paid"]) == paid
    assert Decimal(total["balance"]) == charged - paid
    assert Decimal(total["collected_pct"]) == (paid * 100 / charged).quantize(Decimal("0.1"))
    kremenchuk = next(r for r in members if r["code"] == "04057287")
    assert (kremenchuk["charged"], kremenchuk["paid"]) == ("497060.00", "200000.00")
    assert kremenchuk["name"] == "Кременчуцька міська рада"
    regions = [r for r in table if r["level"] == "region"]
    assert sum(Decimal(r["charged"]) for r in regions) == charged


def test_report_dues_xlsx(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    result = cli("report", "dues", "--year", "2025", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    workbook = load_workbook(out)
    sheet = workbook["2025"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("Level", "Region", "EDRPOU")
    kremenchuk = next(row for row in values if row[2] == "04057287")
    charged, paid, balance = kremenchuk[4:7]
    assert all(isinstance(v, int | float) for v in (charged, paid, balance))
    assert (charged, paid, balance) == (497_060, 200_000, 297_060)
    members = [row for row in values[1:] if row[2]]
    total = values[-1]
    assert total[4] == pytest.approx(sum(row[4] for row in members))
    assert isinstance(total[8], int | float)


def test_report_dues_refuses_other_formats(cli: Invoke, loaded: Path, tmp_path: Path) -> None:
    result = cli("report", "dues", "--year", "2025", "--out", str(tmp_path / "r.pdf"))
    assert result.exit_code == 2
    assert "only as .csv or .xlsx" in flat(result.stderr)
    assert not (tmp_path / "r.pdf").exists()


def test_report_dues_on_screen(cli: Invoke, loaded: Path) -> None:
    result = cli("report", "dues")  # the latest year with charges
    assert result.exit_code == 0, result.stderr
    assert "Полтавська" in result.stdout
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
    assert "Cannot reach the database" in flat(done.stderr)
    assert "Traceback" not in done.stderr
