"""SEND_RATE and QUIET_HOURS: defaults per the contract, bad values refused by name."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SEND_RATE", "QUIET_HOURS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.send_rate == 25
    assert settings.quiet_hours == "21:00-08:00"
    assert (settings.quiet.start, settings.quiet.end) == (time(21), time(8))


@pytest.mark.parametrize(("raw", "stored"), [("7:30 - 9:00", "07:30-09:00"), ("OFF", "off")])
def test_quiet_hours_are_normalised(
    monkeypatch: pytest.MonkeyPatch, raw: str, stored: str
) -> None:
    monkeypatch.setenv("QUIET_HOURS", raw)
    assert load_settings().quiet_hours == stored


@pytest.mark.parametrize(
    ("name", "value"),
    [("SEND_RATE", "0"), ("SEND_RATE", "31"), ("SEND_RATE", "fast"), ("QUIET_HOURS", "night")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_pacing_at_telegrams_limit_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEND_RATE", "30")
    assert load_settings().send_rate == 30
