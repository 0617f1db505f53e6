"""What the dispatcher needs from a way of sending: one call, and outcomes it can act on."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.services.outbox import fits_caption


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one chat, as the outbox holds it (text is HTML, the caption when there
    is a document; an empty text with a document: no caption)."""

    chat_id: int
    text: str
    buttons: list[list[dict[str, Any]]] | None = None
    document: bytes | None = None
    document_path: str | None = None
    document_name: str | None = None
    document_file_id: str | None = None  # a file Telegram holds, sent again by its id

    @property
    def has_document(self) -> bool:
        """Whether a file goes with the text."""
        return (
            self.document is not None
            or self.document_path is not None
            or self.document_file_id is not None
        )

    def parts(self) -> tuple[OutgoingMessage, ...]:
        """The Telegram messages this one takes: itself, or, when the text is too long for a
        caption (1024 characters), the text with its buttons and then the document alone.

        Text first: it is what the recipient must read, and the document under it is what
        the text introduces. The dispatcher sends the parts in this order and never sends
        the first one twice (see `Dispatcher._send_one`).
        """
        if not self.has_document or fits_caption(self.text):
            return (self,)
        text_only = OutgoingMessage(self.chat_id, self.text, self.buttons)
        return text_only, replace(self, text="", buttons=None)


class SendError(Exception):
    """A message was not (known to be) delivered; the subclass says what to do about it."""


class RetryLater(SendError):
    """429: flood control; nothing was sent, wait `seconds` and try again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"flood control: retry in {seconds:g} s")
        self.seconds = seconds


class Blocked(SendError):
    """403: the person blocked the bot or deleted the account; never retry."""


class Transient(SendError):
    """Nothing was sent (connection refused or reset before the request): retry with backoff."""


class OutcomeUnknown(SendError):
    """The request may have reached Telegram (read timeout): do not send it again."""


class Rejected(SendError):
    """Telegram refused this message (400 and the like): retrying cannot help."""


class Sender(Protocol):
    """Sends one message; raises a SendError subclass when it was not delivered."""

    async def send(self, message: OutgoingMessage) -> None:
        """Deliver `message` or raise."""
        ...


# Set while the dispatcher sends: such a send is already paced, and its 429 is the
# dispatcher's to handle. Every other send is a reply to someone talking to the bot.
PROACTIVE: ContextVar[bool] = ContextVar("proactive_send", default=False)


class SendWatcher(Protocol):
    """Told about the bot's other sends, so proactive ones leave room for them."""

    async def reply_slot(self, chat_id: int | None) -> None:
        """A reply (or edit) to `chat_id` is about to go out: wait for room, take a slot."""

    def flood_wait(self, seconds: float) -> None:
        """Telegram answered a reply with a 429: the whole bot waits `seconds`."""
