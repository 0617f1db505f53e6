"""The clock the bot reads; tests pass a fixed one instead of patching datetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Clock:
    """Wall-clock time, aware, and the date as people in `tz` read it."""

    tz: ZoneInfo

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)

    def today(self) -> date:
        """Today's date in the people's zone (Kyiv by default)."""
        return self.now().astimezone(self.tz).date()


@dataclass(frozen=True)
class FixedClock(Clock):
    """A clock stopped at one instant."""

    at: datetime = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The fixed instant."""
        return self.at


def parse_moment(value: str, tz: ZoneInfo) -> datetime:
    """`YYYY-MM-DD HH:MM` (or ISO 8601 with T and an offset) as an aware instant in UTC.

    Without an offset the time is read in `tz` (Kyiv), as people write it.
    """
    moment = datetime.fromisoformat(value.strip())
    if len(value.strip()) <= 10:  # a bare date names no moment
        raise ValueError(f"{value!r} has no time of day")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ManualClock(Clock):
    """A clock that stands still until a test moves it on."""

    at: datetime = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current instant of this clock."""
        return self.at

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by `timedelta(**delta)`; returns the new instant."""
        object.__setattr__(self, "at", self.at + timedelta(**delta))
        return self.at

    def set(self, at: datetime) -> None:
        """Move the clock to `at` (aware)."""
        object.__setattr__(self, "at", at)
