"""The command menu Telegram shows, per language (setMyCommands)."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import Application

from bot.i18n import N_, Tr, Translator
from locales import LANGUAGES

COMMANDS = {
    "dues": N_("command.dues"),
    "events": N_("command.events"),
    "trainings": N_("command.trainings"),
    "my": N_("command.my"),
    "deadlines": N_("command.deadlines"),
    "help": N_("command.help"),
    "settings": N_("command.settings"),
    "start": N_("command.start"),
    "cancel": N_("command.cancel"),
}


def commands_for(tr: Tr) -> list[BotCommand]:
    """The commands with their descriptions in one language."""
    return [BotCommand(name, tr.t(msgid)) for name, msgid in COMMANDS.items()]


async def publish(app: Application, translator: Translator) -> None:
    """Set the command menu: Ukrainian by default, and one list per supported language."""
    await app.bot.set_my_commands(commands_for(translator(LANGUAGES[0])))
    for lang in LANGUAGES:
        await app.bot.set_my_commands(commands_for(translator(lang)), language_code=lang)
