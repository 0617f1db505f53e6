"""Quiet hours: the part of the night when non-urgent messages wait for the morning."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
OFF = "off"


@dataclass(frozen=True)
class QuietHours:
    """A daily span in local time, e.g. 21:00-08:00 (it may cross midnight); empty if off."""

    start: time
    end: time

    @classmethod
    def parse(cls, value: str) -> QuietHours:
        """`HH:MM-HH:MM`, or `off` for none; ValueError on anything else."""
        if value.strip().lower() == OFF:
            return cls(time(0), time(0))
        m = _SPAN.match(value)
        if m is None:
            raise ValueError(f"must be HH:MM-HH:MM or {OFF!r}, got {value!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"not a time of day in {value!r}")
        return cls(time(h1, m1), time(h2, m2))

    @property
    def off(self) -> bool:
        """No quiet hours at all."""
        return self.start == self.end

    def __str__(self) -> str:
        return OFF if self.off else f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: datetime, tz: ZoneInfo) -> bool:
        """Whether `moment` falls in the quiet span as read in `tz`."""
        if self.off:
            return False
        t = moment.astimezone(tz).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def ends_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first end of the quiet span after `moment` (an aware instant)."""
        local = moment.astimezone(tz)
        end = datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=tz)
        return end
