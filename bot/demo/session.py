"""The demo's moving parts in one process: local Bot API, the real bot, and three people.

The bot is the Application `amu-bot run` builds, polling the local Bot API with a made-up
token; its database is SQLite loaded with the living samples.  Each role is a person with a
Telegram account of their own, so each keeps its own chat: the official (linked by a real
invite, sent as `/start <code>`), a member of staff (in ADMIN_IDS) and a stranger.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import AppType, build_application, build_runtime
from bot.config import ConfigError, load_settings
from bot.context import Runtime
from bot.demo.chat import Chat, EntryKind, NoteStyle
from bot.demo.seed import (
    Council,
    DemoError,
    examples_folder,
    find_council,
    invite_code,
    load_living_samples,
    seed_database,
)
from bot.i18n import N_, Tr, Translator
from bot.localapi import ChatEvent, FakeBotAPI

JSONDict = dict[str, Any]
BOT_ID = 700000001
# Never leaves this process: the local Bot API checks it, Telegram never sees it.
TOKEN = f"{BOT_ID}:amu-demo-local-token"
BOT_USERNAME = "amu_demo_bot"
SAFE_NAME = re.compile(r"[^\w.() -]+")


class Role(StrEnum):
    """Who the person at the terminal plays."""

    OFFICIAL = "official"
    STAFF = "staff"
    STRANGER = "stranger"


ROLE_NAMES = {
    Role.OFFICIAL: N_("demo.role.official"),
    Role.STAFF: N_("demo.role.staff"),
    Role.STRANGER: N_("demo.role.stranger"),
}
# Telegram user ids of the three people; the staff one goes into ADMIN_IDS.
USER_IDS = {Role.OFFICIAL: 5_100_000_001, Role.STAFF: 5_100_000_002, Role.STRANGER: 5_100_000_003}


@dataclass(frozen=True)
class DemoOptions:
    """What the `demo` command was asked for."""

    council: str
    lang: str
    role: Role
    db: Path | None
    files: Path


@dataclass
class Persona:
    """One person in the demo: their Telegram profile and their chat with the bot."""

    role: Role
    first_name: str
    last_name: str | None
    chat: Chat
    greeted: bool = False  # the bot's first answer (to /start) is no news

    @property
    def user_id(self) -> int:
        """Their Telegram user id (and private chat id)."""
        return self.chat.user_id

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


class BotErrors(logging.Handler):
    """Shows errors the bot logs as a line in the current chat, instead of on the screen."""

    def __init__(self, report: Callable[[str], None]) -> None:
        super().__init__(logging.ERROR)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        """Hand the first line of the message over (any thread)."""
        try:
            self._report(record.getMessage().splitlines()[0][:200])
        except Exception:  # a log handler must never raise
            self.handleError(record)


@dataclass
class DemoSession:
    """Starts everything, turns typed lines into Telegram updates, and stops everything."""

    options: DemoOptions
    translator: Translator
    personas: dict[Role, Persona] = field(default_factory=dict)
    current: Role = Role.OFFICIAL
    on_change: Callable[[], None] = lambda: None
    council: Council | None = None
    saved: list[Path] = field(default_factory=list)
    _fake: FakeBotAPI | None = None
    _app: AppType | None = None
    _runtime: Runtime | None = None
    _workdir: Path | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _log_handler: BotErrors | None = None

    @property
    def tr(self) -> Tr:
        """The demo's own words, in the language it was started with."""
        return self.translator(self.options.lang)

    @property
    def persona(self) -> Persona:
        """The person being played now."""
        return self.personas[self.current]

    @property
    def fake(self) -> FakeBotAPI:
        """The local Bot API (once started)."""
        if self._fake is None:
            raise RuntimeError("the demo is not started")
        return self._fake

    # ------------------------------------------------------------------ start and stop

    async def start(self) -> None:
        """Seed the database, start the local Bot API and the bot, and say hello as everyone."""
        tr = self.tr
        if self.options.db is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="amu-demo-"))
            db_path = self._workdir / "demo.db"
        else:
            db_path = self.options.db.resolve()
        self._capture_logs()
        self._fake = FakeBotAPI(
            token=TOKEN, bot_id=BOT_ID, bot_username=BOT_USERNAME, bot_first_name="AMU"
        ).start()
        try:
            # A .env beside the demo belongs to a real deployment: none of it applies here.
            settings = load_settings(
                _env_file=None,
                bot_token=TOKEN,
                bot_api_url=self._fake.base_url,
                database_url=f"sqlite+aiosqlite:///{db_path}",
                admin_ids=frozenset({USER_IDS[Role.STAFF]}),
            )
        except ConfigError as exc:
            raise DemoError(str(exc)) from None
        self._runtime = runtime = build_runtime(settings)
        now, today = runtime.clock.now(), runtime.clock.today()
        samples = load_living_samples(examples_folder(), today, tr)
        council = find_council(samples, self.options.council, tr)
        await seed_database(runtime.db, samples, today=today, now=now, tr=tr)
        code = await invite_code(runtime.db, council.code, now)
        self.follow(self._fake, council)

        self._app = app = build_application(runtime)
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)  # what run_polling does: publish the command menus
        assert app.updater is not None  # noqa: S101 - built with the default updater
        await app.updater.start_polling(
            poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES
        )
        await app.start()

        self.current = self.options.role
        # Everyone opens the bot, so staff are known before a request reaches them.
        self.say(f"/start {code}", Role.OFFICIAL)
        self.say("/start", Role.STAFF)
        self.say("/start", Role.STRANGER)

    def follow(self, fake: FakeBotAPI, council: Council) -> None:
        """Give the three people their chats and keep them up to date with the local Bot API.

        Call it from the event loop that should apply the changes.
        """
        self._loop = asyncio.get_running_loop()
        self._fake = fake
        self.council = council
        self._make_personas()
        fake.add_listener(self._from_api_thread)

    def _capture_logs(self) -> None:
        handler = BotErrors(self._report_error)
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        logging.captureWarnings(True)  # a warning printed on the chat screen would garble it
        self._log_handler = handler

    async def stop(self) -> None:
        """Stop the bot, the local Bot API, and remove the temporary database."""
        app, self._app = self._app, None
        try:
            if app is not None:
                if app.updater is not None and app.updater.running:
                    await app.updater.stop()
                if app.running:
                    await app.stop()
                await app.shutdown()
        finally:
            if self._runtime is not None:
                await self._runtime.db.dispose()
            if self._fake is not None:
                self._fake.remove_listener(self._from_api_thread)
                self._fake.stop()
            if self._log_handler is not None:
                logging.getLogger().removeHandler(self._log_handler)
                logging.captureWarnings(False)
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)

    # ------------------------------------------------------------------ people

    def _make_personas(self) -> None:
        tr = self.tr
        assert self.council is not None  # noqa: S101 - set by start()
        official = self.council.official or tr.t("demo.persona.official")
        names = {
            Role.OFFICIAL: official,
            Role.STAFF: tr.t("demo.persona.staff"),
            Role.STRANGER: tr.t("demo.persona.stranger"),
        }
        for role, name in names.items():
            first, _, last = name.partition(" ")
            persona = Persona(role, first, last or None, Chat(USER_IDS[role]))
            self.personas[role] = persona
            for line in self.intro(persona):
                persona.chat.add(EntryKind.NOTE, line, NoteStyle.INTRO)

    def intro(self, persona: Persona) -> list[str]:
        """The first screen: who you are, how to press buttons, switch roles and leave."""
        tr = self.tr
        assert self.council is not None  # noqa: S101 - set by start()
        who = {
            Role.OFFICIAL: tr.t(
                "demo.intro.official",
                name=persona.full_name,
                council=self.council.name(self.options.lang),
            ),
            Role.STAFF: tr.t("demo.intro.staff", name=persona.full_name),
            Role.STRANGER: tr.t("demo.intro.stranger", name=persona.full_name),
        }[persona.role]
        return [who, tr.t("demo.intro.keys"), tr.t("demo.intro.roles")]

    def role_name(self, role: Role) -> str:
        """A role's name in the demo's language."""
        return self.tr.t(ROLE_NAMES[role])

    def switch(self, role: Role) -> None:
        """Play another role; its chat is where it was left."""
        self.current = role
        self.persona.chat.unread = False
        self.on_change()

    def commands(self) -> list[tuple[str, str]]:
        """(command, description) the current person can type: the bot's menu, then the demo's."""
        tr = self.tr
        shown = self.fake.commands_shown(self.persona.user_id, self.options.lang)
        bots = [(f"/{c['command']}", str(c.get("description", ""))) for c in shown]
        own = [(f"/as {role.value}", self.role_name(role)) for role in Role]
        return [*bots, *own, ("/quit", tr.t("demo.command.quit"))]

    def unread_roles(self) -> list[Role]:
        """Roles whose chats got messages while someone else was played."""
        return [r for r, p in self.personas.items() if p.chat.unread and r != self.current]

    # ------------------------------------------------------------------ what the person types

    def handle(self, line: str) -> bool:
        """Act on one typed line; False when the person wants to leave."""
        text = line.strip()
        if not text:
            return True
        command, _, rest = text.partition(" ")
        if command in ("/quit", "/exit"):
            return False
        chat = self.persona.chat
        if command == "/as":
            wanted = rest.strip().lower()
            if wanted in tuple(Role):
                self.switch(Role(wanted))
            else:
                roles = ", ".join(f"/as {r.value}" for r in Role)
                chat.add(EntryKind.NOTE, self.tr.t("demo.unknown_role", roles=roles))
                self.on_change()
            return True
        if text.isascii() and text.isdigit():
            button = chat.button(int(text))
            if button is not None:
                self.press(button.number)
                return True
        self.say(text)
        return True

    def say(self, text: str, role: Role | None = None) -> None:
        """Send a message to the bot as the current person (or as `role`)."""
        persona = self.personas[role or self.current]
        persona.chat.add(EntryKind.USER, text)
        self.fake.send_message(
            user_id=persona.user_id,
            text=text,
            first_name=persona.first_name,
            last_name=persona.last_name,
            language_code=self.options.lang,
        )
        self.on_change()

    def press(self, number: int) -> None:
        """Press the button with this number: an inline one, or one of the menu."""
        persona = self.persona
        chat = persona.chat
        button = chat.button(number)
        if button is None:
            chat.add(EntryKind.NOTE, self.tr.t("demo.no_button", n=number), NoteStyle.ERROR)
            self.on_change()
            return
        if button.in_menu:
            self.say(button.label)  # a reply keyboard button sends its label as a message
            return
        chat.add(EntryKind.PRESS, f"[{button.label}]")
        if button.url:
            chat.add(EntryKind.NOTE, self.tr.t("demo.link", url=button.url))
        elif button.data is not None and button.message_id is not None:
            try:
                self.fake.press_button(
                    user_id=persona.user_id,
                    message_id=button.message_id,
                    data=button.data,
                    first_name=persona.first_name,
                    language_code=self.options.lang,
                )
            except ValueError:  # the message is gone or changed meanwhile
                chat.add(EntryKind.NOTE, self.tr.t("demo.no_button", n=number), NoteStyle.ERROR)
        self.on_change()

    # ------------------------------------------------------------------ what the bot does

    def _from_api_thread(self, event: ChatEvent) -> None:
        # Runs on a server thread with the local Bot API locked: only hand the event over.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.apply, event)

    def _report_error(self, text: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._note_error, text)

    def _note_error(self, text: str) -> None:
        if self.personas:
            self.persona.chat.add(
                EntryKind.NOTE, self.tr.t("demo.bot_error", detail=text), NoteStyle.ERROR
            )
            self.on_change()

    def apply(self, event: ChatEvent) -> None:
        """Show what the bot did in a chat: a message, an edit, a deletion, a menu, a notice."""
        persona = next((p for p in self.personas.values() if p.user_id == event.chat_id), None)
        if persona is None or self._fake is None:
            return
        chat = persona.chat
        if event.kind in ("sent", "edited") and event.message_id is not None:
            message = self._fake.message(event.chat_id, event.message_id)
            if message is None:
                return
            chat.show_bot_message(message, edited=event.kind == "edited")
            if event.kind == "sent":
                self._save_files(chat, message)
        elif event.kind == "deleted" and event.message_id is not None:
            chat.remove_bot_message(event.message_id)
        elif event.kind == "keyboard":
            chat.set_menu(self._fake.reply_keyboard(event.chat_id))
        elif event.kind == "answer" and event.text:
            chat.add(
                EntryKind.NOTE,
                event.text,
                NoteStyle.ALERT if event.show_alert else NoteStyle.INFO,
            )
        news = event.kind in ("sent", "edited", "answer")
        if news and persona.greeted and persona.role != self.current:
            chat.unread = True
        if event.kind == "sent":
            persona.greeted = True
        self.on_change()

    def _save_files(self, chat: Chat, message: JSONDict) -> None:
        document, photo = message.get("document"), message.get("photo")
        if isinstance(document, dict):
            file_id, name = document["file_id"], str(document.get("file_name") or "document")
        elif isinstance(photo, list) and photo:
            file_id = photo[-1]["file_id"]
            name = f"photo-{message['message_id']}{_image_suffix(self.fake, file_id)}"
        else:
            return
        try:
            content = self.fake.file_content(file_id)
        except KeyError:
            return  # sent by URL: there are no bytes to save
        try:
            path = _free_path(self.options.files, SAFE_NAME.sub("_", Path(name).name) or "file")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        except OSError as exc:
            chat.add(
                EntryKind.NOTE,
                self.tr.t("demo.save_failed", name=name, detail=exc.strerror or str(exc)),
                NoteStyle.ERROR,
            )
            return
        self.saved.append(path)
        chat.add(EntryKind.NOTE, self.tr.t("demo.saved", path=_shown(path)), NoteStyle.FILE)


def _image_suffix(fake: FakeBotAPI, file_id: str) -> str:
    head = fake.file_content(file_id)[:8]
    if head.startswith(b"\x89PNG"):
        return ".png"
    if head.startswith(b"GIF8"):
        return ".gif"
    return ".jpg"


def _free_path(folder: Path, name: str) -> Path:
    """folder/name, or folder/name-2, -3... so an earlier file is never overwritten."""
    path = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}{suffix}"
        number += 1
    return path


def _shown(path: Path) -> str:
    """A path relative to the working folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
