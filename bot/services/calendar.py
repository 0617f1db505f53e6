"""An event as an iCalendar (.ics) file: stable UID, rising SEQUENCE, Kyiv times, an alarm."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Timezone
from icalendar import Event as VEvent

from models import Event, EventStatus

PRODID = "-//amu-bot//events//UK"
UID_DOMAIN = "amu-bot"
ALARM_BEFORE = timedelta(hours=24)


def event_uid(event: Event) -> str:
    """The same for every version of the event, so calendar apps update their entry."""
    return f"{event.code}@{UID_DOMAIN}"


def event_ics(event: Event, *, lang: str, tz: ZoneInfo, now: datetime, reminder: str) -> bytes:
    """The .ics for one event in the reader's language; `reminder` is the alarm's text."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    start = event.starts_at.astimezone(tz)
    end = event.ends_at.astimezone(tz)
    # Whole years, so the zone carries both its winter and summer rules.
    first, last = start.date().replace(month=1, day=1), end.date().replace(month=12, day=31)
    cal.add_component(Timezone.from_tzid(str(tz), first_date=first, last_date=last))
    item = VEvent()
    item.add("uid", event_uid(event))
    item.add("sequence", event.sequence)
    item.add("dtstamp", now)
    item.add("dtstart", start)
    item.add("dtend", end)
    item.add("summary", event.title(lang))
    if event.location:
        item.add("location", event.location)
    description = event.description(lang)
    if description:
        item.add("description", description)
    if event.status == EventStatus.CANCELLED:
        item.add("status", "CANCELLED")
    else:
        item.add("status", "CONFIRMED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", reminder)
    alarm.add("trigger", -ALARM_BEFORE)
    item.add_component(alarm)
    cal.add_component(item)
    return cal.to_ical()
