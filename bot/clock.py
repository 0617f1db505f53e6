"""The clock the bot reads; tests pass a fixed one instead of patching datetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
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
