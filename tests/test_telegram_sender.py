"""The python-telegram-bot Sender turns Bot API failures into what the dispatcher acts on."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.notifications.sender import (
    Blocked,
    OutcomeUnknown,
    OutgoingMessage,
    Rejected,
    RetryLater,
    SendError,
    Transient,
)
from bot.notifications.telegram_sender import TelegramSender
from tests.harness import TOKEN
from tests.recording import RecordingRequest


def flood(seconds: int) -> RetryAfter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return RetryAfter(seconds)


def timed_out(cause: Exception) -> TimedOut:
    try:
        raise TimedOut() from cause
    except TimedOut as exc:
        return exc


class FailingBot:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        raise self.error

    async def send_document(self, *args: Any, **kwargs: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (flood(3), RetryLater),
        (Forbidden("Forbidden: bot was blocked by the user"), Blocked),
        (Forbidden("Forbidden: user is deactivated"), Blocked),
        (BadRequest("Bad Request: chat not found"), Blocked),
        (BadRequest("Bad Request: message is too long"), Rejected),
        (timed_out(httpx.ReadTimeout("read")), OutcomeUnknown),
        (timed_out(httpx.ConnectTimeout("connect")), Transient),
        (NetworkError("httpx.ConnectError: refused"), Transient),
    ],
)
async def test_failures_become_outcomes(error: Exception, outcome: type[SendError]) -> None:
    sender = TelegramSender(FailingBot(error))  # type: ignore[arg-type]
    with pytest.raises(outcome) as info:
        await sender.send(OutgoingMessage(chat_id=1, text="x"))
    if isinstance(info.value, RetryLater):
        assert info.value.seconds == 3


async def test_messages_buttons_and_documents_are_sent_as_stored(tmp_path: Path) -> None:
    request = RecordingRequest()
    bot = Bot(TOKEN, request=request, get_updates_request=request)
    await bot.initialize()
    sender = TelegramSender(bot)
    buttons = [[{"text": "Реєстрація", "url": "https://example.org/forum"}]]
    await sender.send(OutgoingMessage(chat_id=7, text="<b>Форум</b>", buttons=buttons))
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n")
    await sender.send(
        OutgoingMessage(chat_id=7, text="Звіт", document_path=str(report), document_name="r.csv")
    )
    [message] = request.of("sendMessage")
    assert message.params["parse_mode"] == "HTML" and message.params["text"] == "<b>Форум</b>"
    assert message.params["reply_markup"]["inline_keyboard"][0][0]["url"].endswith("/forum")
    [document] = request.of("sendDocument")
    assert document.params["caption"] == "Звіт"
    report.unlink()
    with pytest.raises(Rejected):
        await sender.send(
            OutgoingMessage(chat_id=7, text="Звіт", document_path=str(report), document_name="r")
        )
    await bot.shutdown()


async def test_a_document_telegram_holds_is_sent_by_its_file_id() -> None:
    request = RecordingRequest()
    bot = Bot(TOKEN, request=request, get_updates_request=request)
    await bot.initialize()
    sender = TelegramSender(bot)
    buttons = [[{"text": "🔗 auc.org.ua", "url": "https://auc.org.ua"}]]
    caption = "Проєкт закону &amp; пояснювальна записка"
    await sender.send(OutgoingMessage(7, caption, buttons, document_file_id="BQACfile"))
    await sender.send(OutgoingMessage(7, "", document_file_id="BQACfile"))  # a text's 2nd part
    with_caption, bare = request.of("sendDocument")
    assert with_caption.params["document"] == "BQACfile" and "_files" not in with_caption.params
    assert with_caption.params["caption"] == caption
    assert with_caption.params["parse_mode"] == "HTML"
    assert with_caption.params["reply_markup"]["inline_keyboard"] == buttons
    assert bare.params["document"] == "BQACfile"
    assert "caption" not in bare.params and "reply_markup" not in bare.params
    await bot.shutdown()


async def test_a_file_id_telegram_does_not_know_is_rejected_not_retried() -> None:
    error = BadRequest("Bad Request: wrong file identifier/HTTP URL specified")
    sender = TelegramSender(FailingBot(error))  # type: ignore[arg-type]
    with pytest.raises(Rejected, match=r"(?i)wrong file identifier"):
        await sender.send(OutgoingMessage(1, "x", document_file_id="BQACnever-seen"))
