"""`amu-bot demo`: the real bot on sample data, in a terminal chat, with no token and no network.

One process runs the project's local Bot API (bot.localapi), the Application that `amu-bot run`
builds (polling the local API with a made-up token), SQLite loaded from examples/ moved to the
current year, and a full-screen chat.  Modules:

- ``seed``: the database, the living samples, the invite;
- ``session``: starting and stopping everything, the three people, typed lines to updates;
- ``chat``: one chat's transcript and its numbered buttons;
- ``render``: messages, entities and buttons drawn with rich;
- ``terminal``: the prompt_toolkit screen and keys.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from zoneinfo import ZoneInfo

from rich.console import Console

from bot.demo.seed import DemoError
from bot.demo.session import DemoOptions, DemoSession, Role
from bot.i18n import Translator

__all__ = ["DemoOptions", "Role", "run"]


def run(options: DemoOptions) -> int:
    """Run the demo until the person leaves; the exit code."""
    code = asyncio.run(_main(options))
    # Leaving must stop everything it started: say so if a thread is still running.
    left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if left:
        tr = Translator(ZoneInfo("Europe/Kyiv"))(options.lang)
        print(tr.t("demo.threads_left", names=", ".join(left)), file=sys.stderr)
        return code or 3
    return code


async def _main(options: DemoOptions) -> int:
    from bot.demo.terminal import Terminal

    translator = Translator(ZoneInfo("Europe/Kyiv"))
    tr = translator(options.lang)
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        err.print(tr.t("demo.error.no_terminal"), style="red", markup=False, soft_wrap=True)
        return 2
    session = DemoSession(options, translator)
    out.print(tr.t("demo.starting"), style="bright_black", markup=False, soft_wrap=True)
    try:
        try:
            await session.start()
        except DemoError as exc:
            err.print(str(exc), style="red", markup=False, soft_wrap=True)
            return 1
        await Terminal(session).run()
    finally:
        await session.stop()
    out.print(tr.t("demo.goodbye"), markup=False, soft_wrap=True)
    if options.db is not None:
        out.print(tr.t("demo.db_kept", path=str(options.db)), markup=False, soft_wrap=True)
    if session.saved:
        folder = session.saved[0].parent
        saved = tr.tn(
            "demo.files_kept", "demo.files_kept.plural", len(session.saved), folder=str(folder)
        )
        out.print(saved, markup=False, soft_wrap=True)
    return 0
