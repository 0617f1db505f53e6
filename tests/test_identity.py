"""Who is calling: users, invites, access requests, search and rights, on a real database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.db import Database
from bot.services import access_requests, callers, invites, members, staff
from bot.services.access_requests import DecisionOutcome, RequestOutcome
from bot.services.callers import Caller, Link, Profile
from bot.services.invites import InviteOutcome
from models import AccessRequest, Invite, Member, Official, Role, TelegramUser
from tests.conftest import NOW

KREMENCHUK = "04057287"
POLTAVA = "04050644"
ALICE = Profile(telegram_id=1001, first_name="Олена", last_name="Петренко", language_code="uk")
BOB = Profile(telegram_id=1002, first_name="Bob", language_code="en-US")
NO_ADMINS: frozenset[int] = frozenset()


async def member(db: Database, code: str) -> Member:
    async with db.session() as session:
        found = await members.member_by_code(session=session, code=code)
    assert found is not None and found.id is not None
    return found


async def identify(
    db: Database, profile: Profile, *, admin_ids: frozenset[int] = NO_ADMINS, now: datetime = NOW
) -> Caller:
    async with db.session() as session:
        return await callers.identify(
            session=session, profile=profile, now=now, admin_ids=admin_ids
        )


async def invite(db: Database, code: str = KREMENCHUK, role: Role = Role.OFFICIAL) -> str:
    async with db.session() as session:
        (created,) = await invites.create_invites(
            session=session, member_code=code, role=role, count=1, now=NOW
        )
    return created.code


async def redeem(
    db: Database, code: str, profile: Profile, *, now: datetime = NOW, switch: bool = False
) -> invites.Redeemed:
    await identify(db, profile, now=now)  # a /start always passes the access gate first
    async with db.session() as session:
        return await invites.redeem_invite(
            session=session, code=code, profile=profile, now=now, switch=switch
        )


async def officials_named(db: Database, member_id: int) -> list[tuple[str, int | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(col(Official.full_name), col(Official.telegram_id))
            .where(col(Official.member_id) == member_id)
            .order_by(col(Official.id))
        )
        return [(name, tid) for name, tid in rows]


# --- invites ----------------------------------------------------------------------------------


async def test_create_invites(examples: Database) -> None:
    async with examples.session() as session:
        issued = await invites.create_invites(
            session=session, member_code=KREMENCHUK, role=Role.COORDINATOR, count=3, now=NOW
        )
    codes = [i.code for i in issued]
    assert len(set(codes)) == 3
    assert all(len(c) == 16 and c.replace("-", "").replace("_", "").isalnum() for c in codes)
    assert all(i.expires_at == NOW + invites.INVITE_TTL for i in issued)
    assert all(i.role == Role.COORDINATOR for i in issued)
    async with examples.session() as session:
        stored = (await session.execute(select(func.count()).select_from(Invite))).scalar_one()
    assert stored == 3


async def test_create_invites_for_an_unknown_council(examples: Database) -> None:
    async with examples.session() as session:
        with pytest.raises(LookupError):
            await invites.create_invites(
                session=session, member_code="99999999", role=Role.OFFICIAL, count=1, now=NOW
            )


async def test_redeem_links_then_reports_already_linked_then_used(examples: Database) -> None:
    code = await invite(examples)
    linked = await redeem(examples, code, ALICE)
    assert linked.outcome == InviteOutcome.LINKED
    assert linked.member_name_en == "Kremenchuk City Council"
    assert linked.role == Role.OFFICIAL
    caller = await identify(examples, ALICE)
    assert caller.link is not None
    assert caller.link.member_code == KREMENCHUK
    assert caller.link.role == Role.OFFICIAL

    again = await redeem(examples, code, ALICE)
    assert again.outcome == InviteOutcome.ALREADY_LINKED
    assert again.member_name_uk == "Кременчуцька міська рада"

    other = await redeem(examples, code, BOB)
    assert other.outcome == InviteOutcome.USED
    assert other.member_name_uk == ""  # a used code reveals nothing
    assert (await identify(examples, BOB)).link is None


async def test_redeem_expired_and_unknown(examples: Database) -> None:
    code = await invite(examples)
    late = NOW + invites.INVITE_TTL
    expired = await redeem(examples, code, BOB, now=late)
    assert expired.outcome == InviteOutcome.EXPIRED
    assert (await identify(examples, BOB, now=late)).link is None
    just_in_time = await redeem(examples, code, BOB, now=late - timedelta(seconds=1))
    assert just_in_time.outcome == InviteOutcome.LINKED

    unknown = await redeem(examples, "no-such-code-000", ALICE)
    assert unknown.outcome == InviteOutcome.UNKNOWN


async def test_redeem_reuses_the_roster_entry_with_the_same_name(examples: Database) -> None:
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    before = await officials_named(examples, kremenchuk.id)
    assert ("Олена Петренко", None) in before

    profile = Profile(telegram_id=2001, first_name="ОЛЕНА", last_name="петренко")
    assert (await redeem(examples, await invite(examples), profile)).outcome == "linked"
    after = await officials_named(examples, kremenchuk.id)
    assert len(after) == len(before)
    assert ("Олена Петренко", 2001) in after


async def test_redeem_without_a_roster_match_adds_an_official(examples: Database) -> None:
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    before = await officials_named(examples, kremenchuk.id)
    assert (await redeem(examples, await invite(examples), BOB)).outcome == "linked"
    after = await officials_named(examples, kremenchuk.id)
    assert after == [*before, ("Bob", BOB.telegram_id)]


async def test_a_second_invite_moves_the_link_once_confirmed(examples: Database) -> None:
    await redeem(examples, await invite(examples, KREMENCHUK), ALICE)
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    roster = await officials_named(examples, kremenchuk.id)
    code = await invite(examples, POLTAVA, Role.COORDINATOR)
    asked = await redeem(examples, code, ALICE)
    assert asked.outcome == InviteOutcome.CONFIRM_SWITCH
    assert asked.current is not None and asked.current.member_code == KREMENCHUK
    assert (await identify(examples, ALICE)).link.member_code == KREMENCHUK  # type: ignore[union-attr]
    result = await redeem(examples, code, ALICE, switch=True)
    assert result.outcome == InviteOutcome.LINKED
    # Kremenchuk's roster keeps the entry Alice had, no longer linked to her.
    [alice] = [n for n, t in roster if t == ALICE.telegram_id]
    assert (alice, None) in await officials_named(examples, kremenchuk.id)
    caller = await identify(examples, ALICE)
    assert caller.link is not None
    assert caller.link.member_code == POLTAVA
    assert caller.link.role == Role.COORDINATOR
    async with examples.session() as session:
        linked = (
            await session.execute(
                select(func.count())
                .select_from(Official)
                .where(col(Official.telegram_id) == ALICE.telegram_id)
            )
        ).scalar_one()
    assert linked == 1


# --- identify ---------------------------------------------------------------------------------


async def test_identify_creates_the_user_once(db: Database) -> None:
    first = await identify(db, BOB)
    second = await identify(db, BOB, now=NOW + timedelta(minutes=5))
    assert first == second
    assert first.telegram_id == BOB.telegram_id
    assert first.link is None
    assert not first.is_staff
    async with db.session() as session:
        users = (await session.execute(select(TelegramUser))).scalars().all()
    assert [(u.id, u.first_name, u.language_code) for u in users] == [(1002, "Bob", "en-US")]
    # Within the hour and with nothing changed, the visit is not written.
    assert users[0].last_seen_at == NOW


async def test_identify_updates_a_changed_profile(db: Database) -> None:
    await identify(db, BOB)
    renamed = Profile(telegram_id=BOB.telegram_id, first_name="Robert", username="rob")
    later = NOW + timedelta(minutes=5)
    await identify(db, renamed, now=later)
    async with db.session() as session:
        user = await session.get(TelegramUser, BOB.telegram_id)
    assert user is not None
    assert (user.first_name, user.username, user.last_seen_at) == ("Robert", "rob", later)


async def test_admin_ids_make_staff(db: Database) -> None:
    assert (await identify(db, BOB, admin_ids=frozenset({BOB.telegram_id}))).is_staff
    assert not (await identify(db, BOB, admin_ids=frozenset({42}))).is_staff


async def test_linked_admin_role_makes_staff(examples: Database) -> None:
    await redeem(examples, await invite(examples, role=Role.ADMIN), BOB)
    caller = await identify(examples, BOB)
    assert caller.is_staff
    assert caller.link is not None and caller.link.role == Role.ADMIN


@pytest.mark.parametrize(
    ("language_code", "language"),
    [("en-US", "en"), ("en", "en"), ("EN-gb", "en"), ("ru", "uk"), ("uk", "uk"), (None, "uk")],
)
async def test_language_follows_telegram(
    db: Database, language_code: str | None, language: str
) -> None:
    profile = Profile(telegram_id=3001, first_name="X", language_code=language_code)
    assert (await identify(db, profile)).language == language


async def test_chosen_language_wins(db: Database) -> None:
    await identify(db, BOB)
    async with db.session() as session:
        await callers.set_language(session=session, telegram_id=BOB.telegram_id, language="uk")
    assert (await identify(db, BOB)).language == "uk"
    ukrainian = Profile(telegram_id=3002, first_name="Y", language_code="uk")
    await identify(db, ukrainian)
    async with db.session() as session:
        await callers.set_language(session=session, telegram_id=3002, language="en")
        with pytest.raises(ValueError, match="unsupported"):
            await callers.set_language(session=session, telegram_id=3002, language="de")
    assert (await identify(db, ukrainian)).language == "en"


def test_pick_language() -> None:
    assert callers.pick_language(None, "en-US") == "en"
    assert callers.pick_language("uk", "en-US") == "uk"
    assert callers.pick_language("fr", "en") == "en"  # an unsupported choice is ignored
    assert callers.pick_language(None, "") == "uk"


# --- rights -----------------------------------------------------------------------------------


def caller(role: str | None, *, member_id: int = 1, region: str = "Полтавська") -> Caller:
    link = (
        Link(
            official_id=1,
            member_id=member_id,
            member_code="04057287",
            member_name_uk="Кременчуцька міська рада",
            member_name_en="Kremenchuk City Council",
            region=region,
            role=role,
            full_name="Олена Петренко",
        )
        if role
        else None
    )
    return Caller(telegram_id=1, language="uk", link=link, is_staff=role == Role.ADMIN)


@pytest.mark.parametrize(
    ("role", "member_id", "region", "allowed"),
    [
        (Role.OFFICIAL, 1, "Полтавська", True),
        (Role.OFFICIAL, 2, "Полтавська", False),  # a neighbour in the same region
        (Role.COORDINATOR, 2, "Полтавська", True),
        (Role.COORDINATOR, 3, "Київська", False),
        (Role.ADMIN, 3, "Київська", True),
        (None, 1, "Полтавська", False),
    ],
)
def test_may_view_member(role: str | None, member_id: int, region: str, allowed: bool) -> None:
    assert callers.may_view_member(caller(role), member_id=member_id, region=region) is allowed


def test_admin_ids_staff_without_link_may_view_everything() -> None:
    staff = Caller(telegram_id=9, language="uk", link=None, is_staff=True)
    assert callers.may_view_member(staff, member_id=77, region="Одеська")
    assert staff.link is None


# --- search -----------------------------------------------------------------------------------


async def names(db: Database, query: str) -> list[str]:
    async with db.session() as session:
        found = await members.find_members(session=session, query=query)
        return [m.name_en for m in found.matches]


async def test_find_members_case_insensitive_cyrillic(examples: Database) -> None:
    assert await names(examples, "кременч") == ["Kremenchuk City Council"]
    assert await names(examples, "КРЕМЕНЧ") == ["Kremenchuk City Council"]
    assert await names(examples, "KREMEN") == ["Kremenchuk City Council"]
    assert await names(examples, "  kremenchuk   city ") == ["Kremenchuk City Council"]


async def test_find_members_limits_and_orders(examples: Database) -> None:
    async with examples.session() as session:
        found = await members.find_members(session=session, query="міська", limit=3)
        everything = await members.find_members(session=session, query="міська", limit=100)
    assert len(found.matches) == 3 and found.total == 20 and found.cut
    assert found.matches == everything.matches[:3]  # the first three of the sorted list
    assert len(everything.matches) == everything.total == 20  # the twenty city councils
    assert not everything.cut
    assert all("міська" in m.name_uk for m in everything.matches)


async def test_find_members_sorts_in_ukrainian_alphabetical_order(examples: Database) -> None:
    async with examples.session() as session:
        every = await members.find_members(session=session, query="рада", limit=100)
        first = await members.find_members(session=session, query="рада")
    assert every.total == first.total == 32 and len(first.matches) == 8 and first.cut
    ordered = [m.name_uk.split()[0] for m in every.matches]
    # і after и, ї after і (code points put them after я); the apostrophe does not count.
    assert ordered.index("Білоцерківська") < ordered.index("Бородянська")
    assert ordered.index("Кам'янська") < ordered.index("Київська") < ordered.index("Киїнська")
    assert ordered.index("Київська") < ordered.index("Козельщинська")
    assert ordered[:3] == ["Агрономічна", "Баранинська", "Білоцерківська"]
    assert ordered[-1] == "Щербанівська"
    assert [m.name_uk for m in first.matches] == [m.name_uk for m in every.matches[:8]]


async def test_find_members_in_english_sort_by_the_english_name(examples: Database) -> None:
    async with examples.session() as session:
        found = await members.find_members(session=session, query="рада", lang="en", limit=100)
    english = [m.name_en for m in found.matches]
    assert english == sorted(english, key=str.casefold)


async def test_find_members_too_short_or_too_long(examples: Database) -> None:
    assert await names(examples, "кр") == []
    assert await names(examples, "   к  ") == []
    assert await names(examples, "к" * (members.MAX_QUERY + 1)) == []


async def test_find_members_wildcards_are_literal(db: Database) -> None:
    async with db.session() as session:
        for code, name in [
            ("10000001", "Рада 100% тест"),
            ("10000002", "Рада 1000 тест"),
            ("10000003", "Рада a_b тест"),
            ("10000004", "Рада axb тест"),
        ]:
            session.add(
                Member(
                    code=code,
                    name_uk=name,
                    name_en=name,
                    search_name=name.casefold(),
                    region="R",
                    kind="city",
                    created_at=NOW,
                )
            )
        await session.commit()
    assert await names(db, "100%") == ["Рада 100% тест"]
    assert await names(db, "a_b") == ["Рада a_b тест"]
    assert await names(db, "%%%") == []
    assert await names(db, "___") == []
    assert len(await names(db, "рада")) == 4


# --- access requests --------------------------------------------------------------------------


async def request(db: Database, telegram_id: int, member_id: int) -> access_requests.RequestResult:
    async with db.session() as session:
        return await access_requests.request_access(
            session=session,
            telegram_id=telegram_id,
            member_id=member_id,
            full_name="  Іван Коваль  ",
            position="секретар",
            now=NOW,
        )


async def decide(db: Database, request_id: int, *, approve: bool) -> access_requests.Decision:
    async with db.session() as session:
        return await access_requests.decide_access_request(
            session=session, request_id=request_id, approve=approve, staff_id=1, now=NOW
        )


async def test_request_access(examples: Database) -> None:
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    await identify(examples, BOB)
    created = await request(examples, BOB.telegram_id, kremenchuk.id)
    assert created.outcome == RequestOutcome.CREATED
    assert created.request_id > 0
    assert created.region == "Полтавська"
    assert created.member_name_en == "Kremenchuk City Council"

    pending = await request(examples, BOB.telegram_id, kremenchuk.id)
    assert pending.outcome == RequestOutcome.ALREADY_PENDING
    assert pending.request_id == created.request_id

    missing = await request(examples, BOB.telegram_id, 999_999)
    assert missing.outcome == RequestOutcome.NO_MEMBER


async def test_approve_links_the_requester(examples: Database) -> None:
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    await identify(examples, BOB)
    created = await request(examples, BOB.telegram_id, kremenchuk.id)
    decision = await decide(examples, created.request_id, approve=True)
    assert decision.outcome == DecisionOutcome.APPROVED
    assert decision.requester_id == BOB.telegram_id
    assert decision.full_name == "Іван Коваль"
    assert decision.requester_language == "en"
    caller = await identify(examples, BOB)
    assert caller.link is not None
    assert caller.link.member_id == kremenchuk.id
    assert caller.link.role == Role.OFFICIAL
    assert caller.link.full_name == "Іван Коваль"

    twice = await decide(examples, created.request_id, approve=False)
    assert twice.outcome == DecisionOutcome.ALREADY_DECIDED
    assert twice.status == "approved"
    assert (await identify(examples, BOB)).link is not None  # the late deny changed nothing

    linked = await request(examples, BOB.telegram_id, kremenchuk.id)
    assert linked.outcome == RequestOutcome.ALREADY_LINKED


async def test_approve_for_someone_never_seen(examples: Database) -> None:
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    created = await request(examples, 4242, kremenchuk.id)
    assert (await decide(examples, created.request_id, approve=True)).outcome == "approved"
    profile = Profile(telegram_id=4242, first_name="Іван")
    assert (await identify(examples, profile)).link is not None


async def test_deny_leaves_them_unlinked(examples: Database) -> None:
    kremenchuk = await member(examples, KREMENCHUK)
    assert kremenchuk.id is not None
    await identify(examples, BOB)
    created = await request(examples, BOB.telegram_id, kremenchuk.id)
    decision = await decide(examples, created.request_id, approve=False)
    assert decision.outcome == DecisionOutcome.DENIED
    assert (await identify(examples, BOB)).link is None
    assert (await decide(examples, created.request_id, approve=True)).outcome == (
        DecisionOutcome.ALREADY_DECIDED
    )
    assert (await identify(examples, BOB)).link is None
    # A new request is possible after a denial.
    assert (await request(examples, BOB.telegram_id, kremenchuk.id)).outcome == "created"


async def test_decide_unknown_request(examples: Database) -> None:
    assert (await decide(examples, 999_999, approve=True)).outcome == DecisionOutcome.NOT_FOUND


async def test_staff_contacts(examples: Database) -> None:
    await identify(examples, BOB)  # en-US
    await redeem(examples, await invite(examples, role=Role.ADMIN), BOB)
    official = Profile(telegram_id=5005, first_name="Not", last_name="Staff")
    await redeem(examples, await invite(examples, role=Role.OFFICIAL), official)
    async with examples.session() as session:
        contacts = await staff.staff_contacts(session=session, admin_ids=frozenset({7, 3}))
    assert contacts == [
        staff.StaffContact(3, "uk"),  # in ADMIN_IDS, never wrote to the bot
        staff.StaffContact(7, "uk"),
        staff.StaffContact(BOB.telegram_id, "en"),
    ]


async def test_one_person_cannot_flood_staff_with_requests(examples: Database) -> None:
    from bot.services.access_requests import MAX_PENDING_REQUESTS, RequestOutcome, request_access

    async with examples.session() as session:
        ids = [
            i
            for i in (
                await session.execute(select(col(Member.id)).order_by(col(Member.id)))
            ).scalars()
            if i is not None
        ]
        outcomes = [
            (
                await request_access(
                    session=session,
                    telegram_id=4242,
                    member_id=member_id,
                    full_name="Spam Spammer",
                    position="none",
                    now=NOW,
                )
            ).outcome
            for member_id in ids[: MAX_PENDING_REQUESTS + 2]
        ]
        pending = (
            await session.execute(
                select(func.count())
                .select_from(AccessRequest)
                .where(col(AccessRequest.telegram_id) == 4242)
            )
        ).scalar_one()
    assert (
        outcomes == [RequestOutcome.CREATED] * MAX_PENDING_REQUESTS + [RequestOutcome.TOO_MANY] * 2
    )
    assert pending == MAX_PENDING_REQUESTS
