"""`amu-bot demo` driven through a pseudo-terminal, its screen read by a terminal emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
import pyte
import pytest

ROWS, COLS = 30, 80
SPACES = str.maketrans({"\xa0": " ", "\u202f": " "})  # Babel's no-break spaces


class DemoScreen:
    """The demo process and what an 80x30 terminal would show of it."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BOT_", "ADMIN_", "DATABASE_")) and k not in ("COLUMNS", "LINES")
        }
        # prompt_toolkit asks the terminal where its cursor is; the emulator here cannot answer.
        env.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", LANG="C.UTF-8")
        self.tmp = cwd / "tmp"  # where the demo keeps its temporary database
        self.tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(self.tmp)
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.output = b""
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "bot", "demo", *args],
            cwd=str(cwd),
            env=env,
            dimensions=(ROWS, COLS),
        )

    def text(self) -> str:
        """The screen as lines of text (no-break spaces as plain ones)."""
        text = "\n".join(line.rstrip() for line in self.screen.display)
        return text.translate(SPACES)

    def _pump(self, timeout: float) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            time.sleep(timeout)
            return
        self.output += data
        self.stream.feed(data)

    def wait(self, *texts: str, timeout: float = 30.0) -> str:
        """Until every text is on screen at once; the screen, or a failure showing it."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if all(t in screen for t in texts):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"not on screen: {texts!r}\n--- screen ---\n{screen}")
            self._pump(0.1)

    def bold(self, text: str) -> bool:
        """Whether `text`, where it last appears on screen, is drawn in bold."""
        lines = self.text().split("\n")
        for row in range(len(lines) - 1, -1, -1):
            col = lines[row].find(text)  # one cell per character on the lines looked at
            if col >= 0:
                cells = self.screen.buffer[row]
                return all(cells[c].bold for c in range(col, col + len(text)))
        raise AssertionError(f"{text!r} is not on screen")

    def number(self, label: str) -> str:
        """The number shown in [ ] before a button's label."""
        match = re.search(r"\[(\d+)\] " + re.escape(label), self.text())
        assert match, f"no button {label!r} on screen:\n{self.text()}"
        return match.group(1)

    def type(self, line: str) -> None:
        """Type a line and press Enter."""
        self.child.send(line + "\r")

    def press(self, label: str, *then: str) -> str:
        """Press a button by its number, then wait for texts."""
        self.type(self.number(label))
        return self.wait(*then)

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the process to end; its exit status."""
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self._pump(0.1)
        self.child.expect(pexpect.EOF, timeout=5)
        self.child.close()
        assert self.child.exitstatus is not None, "the demo did not exit"
        return self.child.exitstatus

    def kill(self) -> None:
        """Make sure the process is gone (after a failure)."""
        if self.child.isalive():
            self.child.terminate(force=True)


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_official_staff_and_stranger_through_the_terminal(tmp_path: Path) -> None:
    year = datetime.now(ZoneInfo("Europe/Kyiv")).year
    demo = DemoScreen([], tmp_path)
    try:
        # The first screen: who you are, and the menu, numbered.
        first = demo.wait("Олена Петренко", "Кременчуцька міська рада", "Меню:", "💰 Внески")
        assert "введіть номер" in first and "/as official|staff|stranger" in first
        assert "/quit або Ctrl-D" in first
        assert "Ваш обліковий запис під'єднано" in demo.wait("Готово!")

        # /dues shows the current year for the council (dues accrued at 1.16 per inhabitant).
        demo.type("/dues")
        screen = demo.wait(f"{year} рік", "Членські внески: 248 530,00 ₴", "Загальний борг")
        assert f"сплатити до 31 березня {year} р." in screen
        assert demo.bold("Кременчуцька міська рада")  # <b> in the bot's HTML
        assert not demo.bold("ЄДРПОУ 04057287")

        # A year button, pressed by its number, edits the message in place.
        screen = demo.press(f"📅 {year - 1}", f"{year - 1} рік", "(змінено)")
        assert "235 675,00 ₴" in screen and f"› [📅 {year - 1}]" in screen
        assert screen.count("Загальний борг") == 1  # updated, not repeated

        # The sample deadlines lie ahead (examples/deadlines.csv, moved like the rest).
        demo.type("/deadlines")
        demo.wait("Подання показників громади за", "Заявка на грант для навчання посадовців")

        # English through the bot's own settings.
        demo.type("/settings")
        demo.wait("Мова: Українська")
        demo.press("English", "I will speak English from now on.", "[", "💰 Dues")

        # Staff look a council up by its code.
        demo.type("/as staff")
        demo.wait("секретаріат: Ірина Мельник", "працівник секретаріату")
        demo.type("/dues 26318045")
        demo.wait("У реєстрі Асоціації немає ради з кодом ЄДРПОУ 26318045.")
        demo.type("/dues 22889304")
        demo.wait("Київська міська рада", f"{year} рік")

        # A stranger asks for access...
        demo.type("/as stranger")
        demo.wait("новий користувач: Тарас Бойко", "Отримати доступ")
        demo.press("🔑 Отримати доступ", "частину назви своєї ради")
        demo.type("Лубен")
        demo.wait("оберіть свою")
        demo.press("Лубенська міська рада", "по батькові")
        demo.type("Тарас Бойко")
        demo.wait("свою посаду")
        demo.type("секретар ради")
        demo.wait("надіслано секретаріату", "нове: /as staff")

        # ...and staff approve it with one press.
        demo.type("/as staff")
        demo.wait("Запит на доступ №1", "Погодити")
        demo.press("✅ Погодити", "погоджено", "(змінено)")
        demo.type("/as stranger")
        demo.wait("Ваш запит погоджено")

        assert children(demo.child.pid) == []  # one process: nothing spawned
        assert [p.name for p in demo.tmp.glob("amu-demo-*/*.db")] == ["demo.db"]
        demo.type("/quit")
        assert demo.finish() == 0
        assert list(demo.tmp.iterdir()) == []  # the temporary database is gone
    finally:
        demo.kill()
    tail = demo.output.decode("utf-8", "replace")
    assert "Демо завершено" in tail and "Traceback" not in tail
    assert not (tmp_path / "amu-demo-files").exists()  # the bot sent no file


def test_english_stranger_leaves_with_ctrl_d_and_keeps_the_database(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    demo = DemoScreen(["--lang", "en", "--as", "stranger", "--db", str(db)], tmp_path)
    try:
        screen = demo.wait("stranger: Taras Boiko", "not yet linked to any council", "Menu:")
        assert "To press a button, type its number." in screen
        demo.type("/as nobody")
        demo.wait("There is no such role. Try: /as official, /as staff, /as stranger.")
        demo.type("42")  # no button has this number: it goes to the bot as text
        demo.wait("› 42")
        demo.child.sendcontrol("d")
        assert demo.finish() == 0
        assert list(demo.tmp.iterdir()) == []  # nothing temporary with --db
    finally:
        demo.kill()
    tail = demo.output.decode("utf-8", "replace")
    assert "Demo closed" in tail and f"The database is kept in {db}" in tail
    assert db.stat().st_size > 0


def test_unknown_council_is_a_clear_error(tmp_path: Path) -> None:
    demo = DemoScreen(["--council", "12345678", "--lang", "en"], tmp_path)
    try:
        assert demo.finish() == 1
    finally:
        demo.kill()
    tail = demo.output.decode("utf-8", "replace")
    assert "There is no council with code 12345678 in the samples." in tail
    assert "Traceback" not in tail


def test_without_a_terminal_it_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--lang", "en"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "The demo needs a terminal" in done.stderr and "Traceback" not in done.stderr
