"""Settings from the environment (and `.env`), per the contract in DESIGN.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.i18n import N_
from bot.quiet_hours import QuietHours

DEFAULT_API_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///amu_bot.db"
# Telegram answers 429 above ~30 messages a second to different chats.
MAX_SEND_RATE = 30.0


@dataclass(frozen=True)
class ConfigProblem:
    """One variable that is wrong: a message id with its values, and the English for logs."""

    variable: str
    msgid: str | None
    params: dict[str, Any] = field(default_factory=dict)
    english: str = ""


class ConfigError(Exception):
    """The environment does not describe a usable configuration."""

    def __init__(self, message: str, problems: list[ConfigProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _invalid(msgid: str, english: str, **params: Any) -> PydanticCustomError:
    """A validation error that the command line can show in the operator's language."""
    return PydanticCustomError(msgid, english, params)


class Settings(BaseSettings):
    """Everything the process reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    bot_api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    timezone: str = "Europe/Kyiv"
    send_rate: float = 25.0
    quiet_hours: str = "21:00-08:00"

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        bot_id, sep, secret = value.get_secret_value().partition(":")
        if not (sep and bot_id.isdigit() and secret):
            # Never echo the value: it is a secret even when malformed.
            raise _invalid(
                N_("config.token_shape"),
                "must look like <digits>:<secret>, as BotFather issues it",
            )
        return value

    @field_validator("bot_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _invalid(
                N_("config.api_url"), "must be an http(s) URL, got '{value}'", value=value
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise _invalid(
                N_("config.database_url"), "is not a SQLAlchemy URL: '{value}'", value=value
            ) from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise _invalid(N_("config.database_kind"), "only SQLite and PostgreSQL are supported")
        if url.get_driver_name() not in ("aiosqlite", "asyncpg"):
            raise _invalid(
                N_("config.database_driver"),
                "needs an async driver: sqlite+aiosqlite:///FILE or postgresql+asyncpg://…",
            )
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            ids = set()
            for part in value.replace(";", ",").split(","):
                part = part.strip()
                if not part:
                    continue
                if not part.lstrip("-").isdigit():
                    raise _invalid(
                        N_("config.admin_ids"),
                        "must be comma-separated Telegram user ids, got '{value}'",
                        value=part,
                    )
                ids.add(int(part))
            return frozenset(ids)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _invalid(
                N_("config.timezone"), "is not a known time zone: '{value}'", value=value
            ) from exc
        return value

    @field_validator("send_rate")
    @classmethod
    def _send_rate(cls, value: float) -> float:
        if not 0 < value <= MAX_SEND_RATE:
            raise ValueError(
                f"must be above 0 and at most {MAX_SEND_RATE:g} messages a second, got {value:g}"
            )
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        return str(QuietHours.parse(value))

    @property
    def quiet(self) -> QuietHours:
        """The default quiet hours, read in `tz`."""
        return QuietHours.parse(self.quiet_hours)

    @property
    def tz(self) -> ZoneInfo:
        """The zone in which people read times."""
        return ZoneInfo(self.timezone)

    def token(self) -> str:
        """The bot token, or a ConfigError saying how to set it."""
        if self.bot_token is None:
            english = "is not set: put the token from @BotFather in the environment or .env"
            raise ConfigError(
                f"BOT_TOKEN {english}",
                [ConfigProblem("BOT_TOKEN", N_("config.token_missing"), {}, english)],
            )
        return self.bot_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            ours = err["type"].startswith("config.")
            problems.append(
                ConfigProblem(
                    name,
                    err["type"] if ours else None,
                    dict(err.get("ctx") or {}) if ours else {},
                    err["msg"].removeprefix("Value error, "),
                )
            )
        lines = [f"{p.variable}: {p.english}" for p in problems]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines), problems) from None
