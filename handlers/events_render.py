"""Texts of the catalog, event cards and /my; every word comes from locales/."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import N_, Tr
from bot.services.events import (
    PAGE_SIZE,
    CatalogPage,
    Category,
    Event,
    EventCard,
    EventKind,
    EventStatus,
    MyOverview,
    RegistrationStatus,
    TrainingFormat,
    deadline_of,
    is_open,
)
from handlers.common import esc

KINDS: dict[str, list[str]] = {
    "e": [k.value for k in EventKind],
    "t": [f.value for f in TrainingFormat],
}
KIND_NAMES = {
    "forum": N_("event.kind.forum"),
    "section_meeting": N_("event.kind.section_meeting"),
    "round_table": N_("event.kind.round_table"),
    "hearing": N_("event.kind.hearing"),
    "conference": N_("event.kind.conference"),
    "webinar": N_("event.kind.webinar"),
    "seminar": N_("training.format.seminar"),
    "internship": N_("training.format.internship"),
    "distance_course": N_("training.format.distance_course"),
}
CATEGORY = {"e": Category.EVENT, "t": Category.TRAINING}
WHEN = "EEEE, d MMMM y, HH:mm"


def kind_name(tr: Tr, kind: str) -> str:
    """The name of an event kind or training format."""
    return tr.t(KIND_NAMES.get(kind, kind))


def when(tr: Tr, starts: datetime, ends: datetime) -> str:
    """ "середа, 4 грудня 2025, 11:00–15:00", or both ends in full over several days."""
    first = tr.datetime(starts, WHEN)
    if starts.astimezone(tr.tz).date() == ends.astimezone(tr.tz).date():
        return f"{first}–{tr.datetime(ends, 'HH:mm')}"
    return f"{first} – {tr.datetime(ends, WHEN)}"


def catalog(tr: Tr, cat: str, page: CatalogPage, kind: str | None, section: str | None) -> str:
    """The header, the filter in force and one line per item."""
    out = [tr.t("events.header") if cat == "e" else tr.t("trainings.header")]
    filters = []
    if kind:
        filters.append(kind_name(tr, kind))
    if section:
        filters.append(esc(section))
    if filters:
        out.append(tr.t("events.filter", filters=", ".join(filters)))
    if not page.items:
        return "\n".join([*out, "", tr.t("events.empty")])
    out.append("")
    for n, item in enumerate(page.items, start=page.page * PAGE_SIZE + 1):
        out.append(
            tr.t(
                "events.item",
                n=n,
                date=tr.datetime(item.starts_at, "EEE, d MMM, HH:mm"),
                title=esc(item.title(tr.lang)),
                kind=kind_name(tr, item.kind),
            )
        )
    if page.pages > 1:
        out += ["", tr.t("events.page", page=page.page + 1, pages=page.pages)]
    return "\n".join(out)


def seats(tr: Tr, card: EventCard) -> str:
    """Free seats, or the waitlist, or unlimited."""
    left = card.seats_left
    if left is None:
        return tr.t("card.unlimited")
    if left > 0:
        return tr.tn(
            "card.seats_left", "card.seats_left.plural", left, capacity=card.event.capacity
        )
    return tr.tn("card.full", "card.full.plural", card.waitlisted)


def card(tr: Tr, c: EventCard, now: datetime, *, linked: bool, staff: bool = False) -> str:
    """An event's card: when, where, seats, deadline, my status, colleagues."""
    e = c.event
    head = kind_name(tr, e.kind)
    if c.section is not None:
        head += " · " + esc(tr.name(c.section.name_uk, c.section.name_en))
    out = [f"<b>{esc(e.title(tr.lang))}</b>", head, ""]
    if e.status == EventStatus.CANCELLED:
        out += [tr.t("card.cancelled"), ""]
    out.append(tr.t("card.when", when=when(tr, e.starts_at, e.ends_at)))
    if e.location:
        out.append(tr.t("card.where", where=esc(e.location)))
    if e.hours:
        out.append(tr.tn("card.hours", "card.hours.plural", e.hours))
    if e.changed_at is not None:
        out.append(tr.t("card.changed", date=tr.date(e.changed_at.astimezone(tr.tz).date())))
    out.append(seats(tr, c))
    if e.per_council_limit:
        limit = e.per_council_limit
        out.append(tr.tn("card.council_limit", "card.council_limit.plural", limit))
    if is_open(e, now):
        out.append(tr.t("card.deadline", date=tr.datetime(deadline_of(e), WHEN)))
    elif e.status == EventStatus.PUBLISHED and now < e.starts_at:
        out.append(tr.t("card.closed"))
    description = e.description(tr.lang)
    if description:
        out += ["", esc(description)]
    if c.colleagues:
        out += ["", tr.t("card.colleagues", names=esc(", ".join(c.colleagues)))]
    out.append("")
    out.append(status_line(tr, c, now, linked=linked, staff=staff))
    return "\n".join(out)


def status_line(tr: Tr, c: EventCard, now: datetime, *, linked: bool, staff: bool = False) -> str:
    """Where the caller stands and what they can do."""
    e = c.event
    if c.mine is not None:
        if c.mine.status == RegistrationStatus.WAITLISTED:
            return tr.t("card.me_waitlisted", position=c.mine.position)
        if c.mine.status == RegistrationStatus.ATTENDED:
            return tr.t("card.me_attended")
        return tr.t("card.me_registered")
    if e.status == EventStatus.CANCELLED or not is_open(e, now):
        return tr.t("card.me_cannot")
    if not linked and staff:
        return tr.t("card.staff_view")
    if not linked:
        return tr.t("card.link_first")
    if e.per_council_limit and c.council_active >= e.per_council_limit:
        return tr.tn("card.council_full", "card.council_full.plural", e.per_council_limit)
    if c.seats_left == 0:
        return tr.t("card.me_can_wait")
    return tr.t("card.me_can_register")


def promoted(tr: Tr, event: Event) -> str:
    """The message to someone who got a seat from the waitlist."""
    return tr.t(
        "events.promoted",
        title=esc(event.title(tr.lang)),
        when=when(tr, event.starts_at, event.ends_at),
        where=esc(event.location) or "—",
    )


def my(tr: Tr, o: MyOverview) -> str:
    """/my: upcoming registrations, this year's trainings and hours, certificates."""
    out = [tr.t("my.header"), ""]
    if o.upcoming:
        out.append(tr.t("my.upcoming"))
        for item in o.upcoming:
            date = tr.datetime(item.starts_at, "EEE, d MMM y, HH:mm")
            title = esc(item.title(tr.lang))
            if item.event_status == EventStatus.CANCELLED:
                out.append(tr.t("my.item_cancelled", date=date, title=title))
            elif item.status == RegistrationStatus.WAITLISTED:
                out.append(
                    tr.t("my.item_waitlisted", date=date, title=title, position=item.position)
                )
            else:
                out.append(tr.t("my.item_registered", date=date, title=title))
    else:
        out.append(tr.t("my.no_upcoming"))
    out.append("")
    if o.completed:
        out.append(tr.tn("my.hours", "my.hours.plural", o.hours))
        for t in o.completed:
            out.append(
                tr.tn(
                    "my.completed",
                    "my.completed.plural",
                    t.hours,
                    date=tr.date(t.starts_at.astimezone(tr.tz).date(), "medium"),
                    title=esc(t.title(tr.lang)),
                )
            )
    else:
        out.append(tr.t("my.no_trainings"))
    if o.certificates:
        out += ["", tr.t("my.certificates")]
    return "\n".join(out)
