"""Random and malformed updates never crash the bot, and never leak a foreign council's money."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.db import Database
from bot.services import callers, invites, members
from models import Role
from tests.conftest import NOW
from tests.harness import Harness

STRANGER, POLTAVA_OFFICIAL = 222, 333
KREMENCHUK, POLTAVA = "04057287", "04050644"
# Figures that exist only in Kremenchuk's ledger (2025 dues, 2024 dues, its balance, a reference).
KREMENCHUK_SECRETS = (
    "248\xa0530",
    "248,530",
    "235\xa0675",
    "235,675",
    "297\xa0060",
    "297,060",
    "PN-2025-0062",
)

texts = st.one_of(
    st.text(max_size=60),
    st.text(min_size=4000, max_size=6000),
    st.sampled_from(
        [
            "/start",
            "/dues",
            "/help",
            "/settings",
            "/cancel",
            "/admin",
            "/events",
            f"/dues {KREMENCHUK}",
            "/dues 1",
            "/dues ' OR 1=1 --",
            "/start ' OR 1=1",
            "💰 Внески",
            "💰 Dues",
            "🔑 Отримати доступ",
            "🔑 Request access",
            "⚙️ Налаштування",
            "кременч",
            "Kremenchuk",
            "%",
            "_",
            "<b>",
            "</i>",
            "&amp;",
            "\x00",
            "/start " + "A" * 64,
        ]
    ),
    st.builds(
        lambda c, a: f"/{c} {a}",
        st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
        st.text(max_size=30),
    ),
)
# Forged ids aim at Kremenchuk ("{K}", filled in at run time), at other councils, at nothing.
member_ids = st.one_of(st.just("{K}"), st.integers(0, 40), st.integers(0, 10**9))
years = st.one_of(st.integers(2023, 2026), st.integers(1000, 9999))
record_ids = st.one_of(st.integers(-1, 60), st.integers(0, 10**10), st.text(max_size=4))
catalogs = st.sampled_from(["e", "t", "x", ""])
ID_BUTTONS = ["ev:o", "ev:r", "ev:c", "ev:i", "my:c"]
ID_BUTTONS += ["adm:l", "adm:o", "adm:x", "adm:pa", "adm:k", "adm:kk"]
callback_data = st.one_of(
    st.text(max_size=64),
    st.builds(lambda m, y: f"dues:y:{m}:{y}", member_ids, years),
    st.builds(lambda m, p: f"dues:h:{m}:{p}", member_ids, st.integers(0, 9999)),
    st.builds(lambda m: f"dues:s:{m}", member_ids),
    st.builds(lambda v, r: f"acc:{v}:{r}", st.sampled_from(["ok", "no", "m"]), st.integers(0, 50)),
    st.sampled_from(["set:lang:en", "set:lang:uk", "set:lang:xx", "acc:new", "dues:y:-1:2025"]),
    # Events, /my and /admin: real event, registration and certificate ids are small numbers.
    st.builds(
        lambda c, k, s, p: f"ev:l:{c}:{k}:{s}:{p}",
        catalogs,
        st.integers(-1, 120),
        record_ids,
        st.integers(0, 10**5),
    ),
    st.builds(
        lambda v, c, n: f"ev:{v}:{c}:{n}", st.sampled_from(["fk", "fs"]), catalogs, record_ids
    ),
    st.builds(lambda v, n: f"{v}:{n}", st.sampled_from(ID_BUTTONS), record_ids),
    st.builds(
        lambda v, n, p: f"adm:{v}:{n}:{p}", st.sampled_from(["a", "p"]), record_ids, record_ids
    ),
)
users = st.sampled_from([STRANGER, POLTAVA_OFFICIAL])
chats = st.sampled_from(["private", "private", "private", "group", "supergroup"])
langs = st.sampled_from(["uk", "en", "ru", None])
actions = st.one_of(
    st.tuples(st.just("text"), users, texts, chats, langs, st.booleans()),
    st.tuples(st.just("press"), users, callback_data, chats, langs, st.just(False)),
)


async def _prepare(db: Database, h: Harness) -> None:
    async with db.session() as session:
        link = await callers.identify(
            session=session,
            profile=callers.Profile(telegram_id=POLTAVA_OFFICIAL, first_name="P"),
            now=NOW,
            admin_ids=frozenset(),
        )
        if link.link is None:
            [inv] = await invites.create_invites(
                session=session, member_code=POLTAVA, role=Role.OFFICIAL, count=1, now=NOW
            )
            await invites.redeem_invite(
                session=session,
                code=inv.code,
                profile=callers.Profile(telegram_id=POLTAVA_OFFICIAL, first_name="P"),
                now=NOW,
            )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(actions, min_size=1, max_size=8))
async def test_random_updates_never_crash_or_leak(
    examples: Database, harness: Harness, caplog: pytest.LogCaptureFixture, batch: list[Any]
) -> None:
    await _prepare(examples, harness)
    async with examples.session() as session:
        kremenchuk = await members.member_by_code(session=session, code=KREMENCHUK)
    assert kremenchuk is not None
    harness.request.reset()
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        for kind, user, payload, chat_type, lang, edited in batch:
            chat_id = user if chat_type == "private" else -1_000_000 - user
            if kind == "text":
                await harness.send(
                    user, payload, lang=lang, chat_id=chat_id, chat_type=chat_type, edited=edited
                )
            else:
                data = payload.replace("{K}", str(kremenchuk.id))
                await harness.press(user, data, lang=lang, chat_id=chat_id, chat_type=chat_type)
    # No update reached the error handler: every one was answered on purpose.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    for call in harness.request.calls:
        text = str(call.params.get("text", ""))
        assert not any(secret in text for secret in KREMENCHUK_SECRETS), (call.method, text[:300])
        assert len(text) <= 4096
        # Nothing but the "write to me privately" notice goes to a group.
        if call.method in ("sendMessage", "editMessageText") and int(call.params["chat_id"]) < 0:
            assert "особистому чаті" in text or "private chat" in text
