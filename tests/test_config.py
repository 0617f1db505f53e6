"""Settings come from the environment and `.env`, and bad values fail with a readable error."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    DEFAULT_API_URL,
    DEFAULT_DATABASE_URL,
    ConfigError,
    Settings,
    load_settings,
)

VARS = ("BOT_TOKEN", "BOT_API_URL", "DATABASE_URL", "ADMIN_IDS", "TIMEZONE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No inherited variables, and a working directory without a `.env`."""
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_follow_the_contract() -> None:
    settings = load_settings()
    assert settings.bot_token is None
    assert settings.bot_api_url == DEFAULT_API_URL == "https://api.telegram.org/bot"
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///amu_bot.db"
    assert settings.admin_ids == frozenset()
    assert settings.timezone == "Europe/Kyiv"
    assert settings.tz.key == "Europe/Kyiv"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1, 2,3", {1, 2, 3}),
        ("42", {42}),
        ("", set()),
        (" 7 ,, 8 ,", {7, 8}),
    ],
)
def test_admin_ids_are_parsed(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: set[int]
) -> None:
    monkeypatch.setenv("ADMIN_IDS", raw)
    assert load_settings().admin_ids == frozenset(expected)


def test_admin_ids_reject_a_non_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, two, 3")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "ADMIN_IDS" in message
    assert "'two'" in message


def test_bot_token_shape_error_does_not_echo_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-VALUE-without-colon"
    monkeypatch.setenv("BOT_TOKEN", secret)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "BOT_TOKEN" in message
    assert "<digits>:<secret>" in message
    assert secret not in message
    assert "s3cr3t" not in repr(info.value)
    # The chained pydantic error (which would show the input) is suppressed.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("token", ["abc:def", "123:", ":secret", "123456"])
def test_bot_token_shapes_that_are_rejected(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("BOT_TOKEN", token)
    with pytest.raises(ConfigError, match="BOT_TOKEN"):
        load_settings()


def test_a_well_formed_token_is_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123456:AAE-secret_part")
    settings = load_settings()
    assert isinstance(settings.bot_token, SecretStr)
    assert settings.token() == "123456:AAE-secret_part"
    assert "AAE-secret_part" not in repr(settings)


@pytest.mark.parametrize("url", ["ftp://example.org/bot", "not a url", "https://"])
def test_bad_bot_api_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("BOT_API_URL", url)
    with pytest.raises(ConfigError, match="BOT_API_URL: must be an http"):
        load_settings()


def test_local_bot_api_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_API_URL", "http://127.0.0.1:8081/bot")
    assert load_settings().bot_api_url == "http://127.0.0.1:8081/bot"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///amu.db", "postgresql://u@localhost/amu", "postgresql+psycopg2://u@localhost/amu"],
)
def test_non_async_database_driver_is_rejected(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match="DATABASE_URL: needs an async driver"):
        load_settings()


def test_unsupported_database_and_garbage_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql+aiomysql://u@localhost/amu")
    with pytest.raises(ConfigError, match="only SQLite and PostgreSQL"):
        load_settings()
    monkeypatch.setenv("DATABASE_URL", "not a url at all")
    with pytest.raises(ConfigError, match="DATABASE_URL: is not a SQLAlchemy URL"):
        load_settings()


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite:///x.db", "postgresql+asyncpg://u:p@db.example:5432/amu"]
)
def test_async_database_urls_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_settings().database_url == url


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Kiev/../../etc", ""])
def test_bad_timezone(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TIMEZONE", zone)
    with pytest.raises(ConfigError, match="TIMEZONE"):
        load_settings()


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEZONE", "Nowhere/Land")
    monkeypatch.setenv("ADMIN_IDS", "x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid configuration:")
    assert "TIMEZONE" in message
    assert "ADMIN_IDS" in message


def test_dotenv_file_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "BOT_TOKEN=987654:from-dotenv\n"
        "ADMIN_IDS=5, 6\n"
        "TIMEZONE=UTC\n"
        "DATABASE_URL=sqlite+aiosqlite:///dotenv.db\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.token() == "987654:from-dotenv"
    assert settings.admin_ids == frozenset({5, 6})
    assert settings.timezone == "UTC"
    assert settings.database_url == "sqlite+aiosqlite:///dotenv.db"


def test_environment_wins_over_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("TIMEZONE=UTC\nADMIN_IDS=5\n", encoding="utf-8")
    monkeypatch.setenv("TIMEZONE", "Europe/Kyiv")
    settings = load_settings()
    assert settings.timezone == "Europe/Kyiv"
    assert settings.admin_ids == frozenset({5})


def test_bad_value_in_dotenv_is_reported(clean_env: Path) -> None:
    (clean_env / ".env").write_text("BOT_API_URL=telegram\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="BOT_API_URL"):
        load_settings()


def test_token_raises_config_error_when_unset() -> None:
    settings = load_settings()
    with pytest.raises(ConfigError, match="BOT_TOKEN is not set"):
        settings.token()


def test_blank_token_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "   ")
    settings = load_settings()
    assert settings.bot_token is None
    with pytest.raises(ConfigError, match="BOT_TOKEN"):
        settings.token()


def test_overrides_are_validated_too() -> None:
    assert load_settings(admin_ids="9,10").admin_ids == frozenset({9, 10})
    with pytest.raises(ConfigError, match="TIMEZONE"):
        load_settings(timezone="Atlantis/Capital")
    assert isinstance(load_settings(), Settings)
