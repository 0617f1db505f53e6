"""`amu-bot import sections|events|trainings` through the real command line."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import EXAMPLES
from tests.test_cli import LOAD_SEQUENCE, flat, isolated, make_invoke, rows

__all__ = ["isolated"]  # the autouse fixture: no inherited settings


def test_programme_imports_load_and_name_bad_lines(tmp_path: Path) -> None:
    db_file = tmp_path / "programme.db"
    cli = make_invoke(db_file)
    for args in LOAD_SEQUENCE[:3]:
        assert cli(*args).exit_code == 0
    out = []
    for kind in ("sections", "events", "trainings"):
        result = cli("import", kind, str(EXAMPLES / f"{kind}.csv"))
        assert result.exit_code == 0, (result.stdout, result.stderr)
        out.append(flat(result.stdout))
    assert "sections.csv: 15 rows; 0 added, 0 updated, 15 unchanged." in out[0]
    assert "events.csv: 8 rows; 8 added" in out[1]
    assert "trainings.csv: 6 rows; 6 added" in out[2]
    assert rows(db_file, "event") == 14

    bad = tmp_path / "bad.csv"
    bad.write_text(
        (EXAMPLES / "events.csv").read_text("utf-8").splitlines()[0]
        + "\nX-1,forum,Т,T,2026-13-01T10:00,2026-03-01T12:00,Київ,,,,,,\n"
        + "X-2,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,,nosuch,,,\n",
        encoding="utf-8",
    )
    result = cli("import", "events", str(bad))
    assert result.exit_code == 1
    assert [int(n) for n in re.findall(r"line (\d+):", result.stderr)] == [2, 3]
    assert "nosuch" in flat(result.stderr)
    assert rows(db_file, "event") == 14
