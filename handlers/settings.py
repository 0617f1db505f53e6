"""/settings: the language, what the bot sends (news, sections, reminders) and quiet hours."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from telegram import BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from bot.i18n import N_, Tr
from bot.quiet_hours import OFF
from bot.services import callers, subscriptions
from bot.services.subscriptions import FLAGS, QUIET_PRESETS, Preferences
from bot.text import ukrainian_sort_key
from handlers.callback_data import CHOICE, ID, LANGUAGE, Callback
from handlers.commands import commands_for
from handlers.common import LANGUAGE_NAMES, answer, caller_of, inline, menu, reply, show
from locales import LANGUAGES

CHOOSE_LANGUAGE = Callback("set:lang", (LANGUAGE,))
PAGE = Callback("set:v", (CHOICE,))  # one screen of the settings (PAGES)
FLAG = Callback("set:f", (CHOICE,))  # switch FLAGS[n] on or off
SECTION = Callback("set:s", (ID,))  # follow a section, or stop
QUIET = Callback("set:q", (CHOICE,))  # choose QUIET_PRESETS[n]

MAIN, NEWS, SECTIONS, QUIET_PAGE = range(4)
PAGES = (MAIN, NEWS, SECTIONS, QUIET_PAGE)
FLAG_NAMES = {
    "news_events": N_("settings.flag.news_events"),
    "news_trainings": N_("settings.flag.news_trainings"),
    "news_dues": N_("settings.flag.news_dues"),
    "news_deadlines": N_("settings.flag.news_deadlines"),
    "news_general": N_("settings.flag.news_general"),
    "remind_day_before": N_("settings.flag.remind_day_before"),
    "remind_hour_before": N_("settings.flag.remind_hour_before"),
}


def _language_keyboard(context: AppContext) -> list[list[tuple[str, str]]]:
    tr = context.tr
    return [
        [
            (
                ("✓ " if lang == tr.lang else "") + tr.t(LANGUAGE_NAMES[lang]),
                CHOOSE_LANGUAGE.build(lang),
            )
            for lang in LANGUAGES
        ]
    ]


def _span(value: str) -> str:
    return value.replace("-", "–")


def _quiet(tr: Tr, chosen: str | None, default: str) -> str:
    value = chosen or default
    text = tr.t("settings.quiet.off") if value == OFF else _span(value)
    return text if chosen else tr.t("settings.quiet.default", span=text)


def _overview(context: AppContext, prefs: Preferences) -> tuple[str, list[list[tuple[str, str]]]]:
    tr = context.tr
    reminders = [
        tr.t(msgid)
        for flag, msgid in (
            ("remind_day_before", N_("settings.remind.day")),
            ("remind_hour_before", N_("settings.remind.hour")),
        )
        if prefs.flags[flag]
    ]
    news = [f for f in subscriptions.NEWS_FLAGS if prefs.flags[f]]
    sections = (
        tr.t("settings.sections.count", count=prefs.followed, total=len(prefs.sections))
        if prefs.followed
        else tr.t("settings.sections.none")
    )
    text = tr.t(
        "settings.overview",
        language=tr.t(LANGUAGE_NAMES[tr.lang]),
        quiet=_quiet(tr, prefs.quiet_hours, context.runtime.settings.quiet_hours),
        reminders=", ".join(reminders) or tr.t("settings.remind.none"),
        news=len(news),
        total=len(subscriptions.NEWS_FLAGS),
        sections=sections,
    )
    rows = [
        *_language_keyboard(context),
        [(tr.t("settings.btn.news"), PAGE.build(NEWS))],
        [
            (tr.t("settings.btn.sections"), PAGE.build(SECTIONS)),
            (tr.t("settings.btn.quiet"), PAGE.build(QUIET_PAGE)),
        ],
    ]
    return text, rows


def _page(
    context: AppContext, prefs: Preferences, page: int
) -> tuple[str, list[list[tuple[str, str]]]]:
    """The text and buttons of one screen of the settings."""
    tr = context.tr
    if page == MAIN:
        return _overview(context, prefs)
    back = [(tr.t("settings.btn.back"), PAGE.build(MAIN))]
    if page == NEWS:
        rows = [
            [(("✅ " if prefs.flags[f] else "▫️ ") + tr.t(FLAG_NAMES[f]), FLAG.build(n))]
            for n, f in enumerate(FLAGS)
        ]
        return tr.t("settings.news.title"), [*rows, back]
    if page == SECTIONS:
        if not prefs.sections:
            return tr.t("settings.sections.empty"), [back]
        rows = [
            [
                (
                    ("✅ " if on else "▫️ ") + tr.name(section.name_uk, section.name_en),
                    SECTION.build(section.id),
                )
            ]
            for section, on in sorted(  # in the reader's alphabetical order
                prefs.sections,
                key=lambda p: ukrainian_sort_key(tr.name(p[0].name_uk, p[0].name_en)),
            )
        ]
        return tr.t("settings.sections.title"), [*rows, back]
    current = prefs.quiet_hours or context.runtime.settings.quiet_hours
    rows = [
        [
            (
                ("✓ " if preset == current else "")
                + (tr.t("settings.quiet.off") if preset == OFF else _span(preset)),
                QUIET.build(n),
            )
        ]
        for n, preset in enumerate(QUIET_PRESETS)
    ]
    return tr.t("settings.quiet.title"), [*rows, back]


async def _render(update: Update, context: AppContext, page: int, *, fresh: bool = False) -> None:
    caller = caller_of(context)
    async with context.db.session() as session:
        prefs = await subscriptions.preferences(session=session, telegram_id=caller.telegram_id)
    text, rows = _page(context, prefs, page)
    if fresh:
        await reply(update, text, inline(rows))
    else:
        await show(update, text, inline(rows))


def _linked(context: AppContext) -> bool:
    return caller_of(context).link is not None


async def show_settings(update: Update, context: AppContext) -> None:
    """Show the current settings with buttons to change them."""
    tr = context.tr
    if _linked(context):
        await _render(update, context, MAIN, fresh=True)
        return
    await reply(
        update,
        tr.t("settings.title", language=tr.t(LANGUAGE_NAMES[tr.lang])),
        inline(_language_keyboard(context)),
    )


async def _refuse_unlinked(update: Update, context: AppContext) -> bool:
    """A button of the linked officials' settings pressed by someone who is not one."""
    if _linked(context):
        return False
    await answer(update, context.tr.t("settings.link_first"), alert=True)
    return True


async def on_page(update: Update, context: AppContext) -> None:
    """Open one screen of the settings."""
    (page,) = PAGE.numbers(context.matches)
    if await _refuse_unlinked(update, context):
        return
    await answer(update)
    await _render(update, context, page if page in PAGES else MAIN)


async def on_flag(update: Update, context: AppContext) -> None:
    """Switch one kind of news or reminder on or off."""
    (n,) = FLAG.numbers(context.matches)
    if await _refuse_unlinked(update, context):
        return
    if n >= len(FLAGS):
        await answer(update)
        await _render(update, context, NEWS)
        return
    async with context.db.session() as session:
        await subscriptions.toggle_flag(
            session=session, telegram_id=caller_of(context).telegram_id, flag=FLAGS[n]
        )
    await answer(update, context.tr.t("settings.saved"))
    await _render(update, context, NEWS)


async def on_section(update: Update, context: AppContext) -> None:
    """Follow a section, or stop following it."""
    (section_id,) = SECTION.numbers(context.matches)
    if await _refuse_unlinked(update, context):
        return
    try:
        async with context.db.session() as session:
            await subscriptions.toggle_section(
                session=session, telegram_id=caller_of(context).telegram_id, section_id=section_id
            )
    except LookupError:
        await answer(update, context.tr.t("settings.gone"), alert=True)
    else:
        await answer(update, context.tr.t("settings.saved"))
    await _render(update, context, SECTIONS)


async def on_quiet(update: Update, context: AppContext) -> None:
    """Choose the quiet hours."""
    (n,) = QUIET.numbers(context.matches)
    if await _refuse_unlinked(update, context):
        return
    if n < len(QUIET_PRESETS):
        async with context.db.session() as session:
            await subscriptions.set_quiet_hours(
                session=session, telegram_id=caller_of(context).telegram_id, value=QUIET_PRESETS[n]
            )
        await answer(update, context.tr.t("settings.saved"))
    else:
        await answer(update)
    await _render(update, context, QUIET_PAGE)


async def on_language(update: Update, context: AppContext) -> None:
    """Switch the language, and the menu and command list with it."""
    (lang,) = CHOOSE_LANGUAGE.parse(context.matches)
    caller = caller_of(context)
    async with context.db.session() as session:
        await callers.set_language(session=session, telegram_id=caller.telegram_id, language=lang)
    context.caller = dataclasses.replace(caller, language=lang)
    tr = context.tr
    await answer(update, tr.t("settings.saved"))
    if context.caller.link is not None:
        await _render(update, context, MAIN)
    else:
        await show(
            update,
            tr.t("settings.title", language=tr.t(LANGUAGE_NAMES[lang])),
            inline(_language_keyboard(context)),
        )
    # A reply keyboard cannot be edited, only replaced by a new message.
    await reply(update, tr.t("settings.language_set"), menu(tr, context.caller))
    # The menu of commands is a convenience; the answer above already went out.
    with contextlib.suppress(TelegramError):
        await context.bot.set_my_commands(
            commands_for(tr), scope=BotCommandScopeChat(caller.telegram_id)
        )


def handlers(menu_label: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [
        CommandHandler("settings", show_settings, filters=filters.UpdateType.MESSAGE),
        MessageHandler(filters.UpdateType.MESSAGE & menu_label, show_settings),
        CHOOSE_LANGUAGE.handler(on_language),
        PAGE.handler(on_page),
        FLAG.handler(on_flag),
        SECTION.handler(on_section),
        QUIET.handler(on_quiet),
    ]
