"""Talking to the Bot API cheaply: JSON request bodies, and replies sent without parsing them."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, ReplyKeyboardMarkup
from telegram._utils.defaultvalue import DefaultValue
from telegram.constants import ParseMode
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.db import release_update_connection
from bot.notifications.sender import PROACTIVE, SendWatcher

log = logging.getLogger(__name__)
# A reply Telegram holds back longer than this fails as it would have: the person is told
# something went wrong by the error handler, which tries once itself.
MAX_REPLY_WAIT = 5.0

# What python-telegram-bot's ApplicationBuilder gives the bot's two requests by default.
POOL_SIZE = 256
UPDATES_POOL_SIZE = 1
_HEADERS = {"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"}
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class JsonRequest(HTTPXRequest):
    """HTTPXRequest that sends a call's parameters as one JSON body instead of a form.

    python-telegram-bot sends a form in which every value is JSON-encoded again and then
    percent-encoded: a Ukrainian letter becomes `\\u0443` and then `%5Cu0443`, 9 bytes
    where UTF-8 needs 2, and httpx encodes the whole form in Python. The Bot API takes JSON
    bodies as well; encoding one is a single `json.dumps`. Calls that upload files keep the
    multipart form.

    Replies share Telegram's ~30 messages a second with the outbox dispatcher: each one asks
    the watchers (the dispatcher's pacer) for a slot, waiting a few milliseconds at most
    when it would be the 31st send within a second, and the broadcast leaves it room. A reply that
    still meets flood control waits the `retry_after` Telegram asks for, up to
    MAX_REPLY_WAIT, and goes once more, so the person gets their answer a second late
    rather than never; the dispatcher pauses for the same time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchers: list[SendWatcher] = []

    def watch(self, watcher: SendWatcher) -> None:
        """Tell `watcher` about every reply and every 429 a reply meets."""
        self._watchers.append(watcher)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send the call; a JSON body unless it uploads files."""
        await release_update_connection()  # no database connection is held while we wait
        timeouts = {
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            "connect_timeout": connect_timeout,
            "pool_timeout": pool_timeout,
        }
        if PROACTIVE.get() or not self._watchers or not _is_message(url):
            return await self._send(url, method, request_data, **timeouts)
        chat_id = request_data.parameters.get("chat_id") if request_data else None
        for watcher in self._watchers:
            await watcher.reply_slot(chat_id if isinstance(chat_id, int) else None)
        status, body = await self._send(url, method, request_data, **timeouts)
        seconds = _retry_after(body) if status == 429 else None
        if seconds is None:
            return status, body
        for watcher in self._watchers:
            watcher.flood_wait(seconds)
        if seconds > MAX_REPLY_WAIT:
            return status, body
        log.warning("a reply waits %g s for Telegram's flood control", seconds)
        await asyncio.sleep(seconds)
        return await self._send(url, method, request_data, **timeouts)

    async def _send(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        *,
        read_timeout: Any,
        write_timeout: Any,
        connect_timeout: Any,
        pool_timeout: Any,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files:
            return await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        client = self._client
        if client.is_closed:
            raise RuntimeError("This JsonRequest is not initialized!")
        defaults = client.timeout
        timeout = httpx.Timeout(
            connect=defaults.connect if _unset(connect_timeout) else connect_timeout,
            read=defaults.read if _unset(read_timeout) else read_timeout,
            write=defaults.write if _unset(write_timeout) else write_timeout,
            pool=defaults.pool if _unset(pool_timeout) else pool_timeout,
        )
        body = json.dumps(request_data.parameters, ensure_ascii=False, separators=(",", ":"))
        try:
            response = await client.request(
                method="POST", url=url, headers=_HEADERS, timeout=timeout, content=body.encode()
            )
        except httpx.TimeoutException as err:
            if isinstance(err, httpx.PoolTimeout):
                raise TimedOut(
                    message="Pool timeout: all connections are busy; the request was not sent"
                ) from err
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return response.status_code, response.content


def _retry_after(body: bytes) -> float | None:
    """The seconds a 429 answer asks to wait, if it says."""
    try:
        value = json.loads(body).get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _is_message(url: str) -> bool:
    """Whether the call puts a message in a chat (what Telegram's flood control counts)."""
    method = url.rsplit("/", 1)[-1].lower()
    return method.startswith(("send", "edit", "copy", "forward")) and method != "sendchataction"


def _unset(value: Any) -> bool:
    return isinstance(value, DefaultValue)  # as HTTPXRequest tells "not given" apart


def requests() -> tuple[JsonRequest, JsonRequest]:
    """The bot's requests: for its calls, and for getUpdates (the builder's pool sizes)."""
    return JsonRequest(connection_pool_size=POOL_SIZE), JsonRequest(
        connection_pool_size=UPDATES_POOL_SIZE
    )


Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


async def send_html(bot: Bot, chat_id: int, text: str, markup: Markup = None) -> None:
    """sendMessage in HTML without link previews, for a reply nobody reads back.

    `Bot.send_message` builds a full Message from Telegram's answer (the chat, the bot's user,
    an entity per bold word, the keyboard again); a reply does not look at it. Code that needs
    the sent message (its id, say) calls `bot.send_message` instead.
    """
    await bot._post(
        "sendMessage",
        {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": ParseMode.HTML,
            "link_preview_options": _NO_PREVIEW,
            "reply_markup": markup,
        },
    )


async def edit_html(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """editMessageText in HTML without link previews, without parsing the edited message."""
    await bot._post(
        "editMessageText",
        {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": ParseMode.HTML,
            "link_preview_options": _NO_PREVIEW,
            "reply_markup": markup,
        },
    )
