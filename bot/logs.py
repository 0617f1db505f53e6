"""Logging set-up; the bot token is scrubbed from every line, whoever logs it."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is heavy; the command line imports this module before it needs it
    from bot.config import Settings

# Every secret this process knows; whatever is written through scrub() has them blanked out.
_SECRETS: set[str] = set()


def register_token(token: str | None) -> None:
    """Remember the bot token (and its secret half) so that no output ever shows it."""
    if not token:
        return
    _SECRETS.add(token)
    secret = token.partition(":")[2]
    if len(secret) >= 8:  # a short tail could blank out innocent words
        _SECRETS.add(secret)


def scrub(text: str, extra: list[str] | None = None) -> str:
    """`text` with every known secret (and `extra`) replaced by [REDACTED]."""
    for secret in sorted(_SECRETS.union(s for s in extra or [] if s), key=len, reverse=True):
        text = text.replace(secret, "[REDACTED]")
    return text


class RedactingFormatter(logging.Formatter):
    """Replaces secrets in the fully formatted line, tracebacks included."""

    def __init__(self, fmt: str, secrets: list[str] | None = None) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets or [] if s]

    def format(self, record: logging.LogRecord) -> str:
        """Format, then blank out every secret."""
        return scrub(super().format(record), self._secrets)


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(scrub("".join(traceback.format_exception(kind, value, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(scrub(f"Exception in thread {name}:\n{text}"))


def install_excepthooks() -> None:
    """Tracebacks that escape everything else (main thread, other threads) are scrubbed too."""
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def setup_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to stderr with the token scrubbed; keep the HTTP client's per-request lines quiet."""
    secrets = []
    if settings.bot_token is not None:
        token = settings.bot_token.get_secret_value()
        register_token(token)
        secrets = [token, token.partition(":")[2]]
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and the URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def ensure_logging() -> None:
    """A scrubbing handler on the root logger if nobody set one up (commands other than run)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
