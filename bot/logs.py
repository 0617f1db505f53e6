"""Logging set-up; the bot token is scrubbed from every line, whoever logs it."""

from __future__ import annotations

import logging

from bot.config import Settings


class RedactingFormatter(logging.Formatter):
    """Replaces secrets in the fully formatted line, tracebacks included."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        """Format, then blank out every secret."""
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text


def setup_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to stderr with the token scrubbed; keep the HTTP client's per-request lines quiet."""
    secrets = []
    if settings.bot_token is not None:
        token = settings.bot_token.get_secret_value()
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
