"""The Sender over python-telegram-bot: Bot API errors become outcomes the dispatcher acts on."""

from __future__ import annotations

import asyncio
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.notifications.sender import (
    Blocked,
    OutcomeUnknown,
    OutgoingMessage,
    Rejected,
    RetryLater,
    Transient,
)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram reports a chat that no longer exists this way; it is as final as a block.
_GONE = ("chat not found", "user is deactivated", "bot was kicked")


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds, whether PTB hands it out as int or timedelta."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int form is deprecated; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _nothing_sent(exc: TimedOut) -> bool:
    # A connect or pool timeout means the request never left; a read timeout may have landed.
    return isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout) or (
        "pool timeout" in exc.message.lower()
    )


def keyboard(
    buttons: list[list[dict[str, Any]]] | None,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """Telegram's markup for outbox buttons: inline, or the menu when no button acts by itself."""
    if not buttons:
        return None
    if any("callback_data" in b or "url" in b for row in buttons for b in row):
        return InlineKeyboardMarkup([[InlineKeyboardButton(**b) for b in row] for row in buttons])
    return ReplyKeyboardMarkup(
        [[KeyboardButton(b["text"]) for b in row] for row in buttons],
        resize_keyboard=True,
        is_persistent=True,
    )


class TelegramSender:
    """Sends outbox messages with a python-telegram-bot `Bot`, without any rate limiter."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: OutgoingMessage) -> None:
        """Deliver one message; raise the SendError that says what happened otherwise."""
        markup = keyboard(message.buttons)
        try:
            if message.has_document:
                document: InputFile | str
                if message.document_file_id is not None:
                    document = message.document_file_id  # Telegram has it: no upload
                else:
                    content = message.document
                    if content is None:
                        path = Path(message.document_path or "")
                        content = await asyncio.to_thread(path.read_bytes)
                    document = InputFile(content, filename=message.document_name)
                await self.bot.send_document(
                    message.chat_id,
                    document=document,
                    caption=message.text or None,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            else:
                await self.bot.send_message(
                    message.chat_id,
                    message.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                )
        except RetryAfter as exc:
            raise RetryLater(retry_seconds(exc)) from exc
        except Forbidden as exc:
            raise Blocked(exc.message) from exc
        except BadRequest as exc:
            if any(gone in exc.message.lower() for gone in _GONE):
                raise Blocked(exc.message) from exc
            raise Rejected(exc.message) from exc
        except TimedOut as exc:
            if _nothing_sent(exc):
                raise Transient(f"timed out before sending: {exc.message}") from exc
            raise OutcomeUnknown(f"timed out waiting for Telegram: {exc.message}") from exc
        except NetworkError as exc:
            raise Transient(exc.message) from exc
        except TelegramError as exc:
            raise Rejected(exc.message) from exc
        except OSError as exc:  # the document file is gone
            raise Rejected(f"document unreadable: {exc}") from exc
