"""Tests for bot.localapi, driven mostly by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.localapi import ChatEvent, FakeBotAPI, parse_html
from bot.localapi.methods import image_size

TOKEN = "123456:TEST-token"
CHAT = 4242


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as api:
        yield api


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url) as client:
        yield client


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


def raw(fake: FakeBotAPI, method: str, body: bytes = b"", ctype: str = "", query: str = "") -> Any:
    """One raw HTTP request; returns (status, decoded JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        path = f"/bot{TOKEN}/{method}" + (f"?{query}" if query else "")
        headers = {"Content-Type": ctype} if ctype else {}
        conn.request("POST" if body else "GET", path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# ----------------------------------------------------------------------------- HTML parsing


def test_parse_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_html(
        '👍 <b>Hi</b> &lt;you&gt; <a href="https://x.org">link</a>'
        '<pre><code class="language-py">x = 1</code></pre>'
    )
    assert text == "👍 Hi <you> linkx = 1"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},  # the emoji counts as 2 UTF-16 units
        {"type": "text_link", "offset": 12, "length": 4, "url": "https://x.org"},
        {"type": "pre", "offset": 16, "length": 5, "language": "py"},
    ]


@pytest.mark.parametrize(
    ("markup", "fragment"),
    [
        ("a < b", 'Unsupported start tag ""'),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("line<br>", 'Unsupported start tag "br"'),
    ],
)
def test_parse_html_rejects_like_telegram(markup: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        parse_html(markup)


# ----------------------------------------------------------------------------- Bot client


async def test_get_me_and_send_message(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (700000001, "amu_test_bot", True)

    msg = await bot.send_message(
        CHAT, "<b>Dues</b> &amp; fees", parse_mode="HTML", reply_markup=keyboard("pay")
    )
    assert msg.text == "Dues & fees"
    assert msg.entities[0].type == "bold"
    assert msg.from_user is not None and msg.from_user.id == me.id
    assert msg.chat.id == CHAT and msg.message_id == 1
    assert msg.reply_markup == keyboard("pay")

    call = fake.calls_of("sendMessage")[-1]
    # chat_id arrives as form text "4242" and reply_markup as a JSON string: both decoded.
    assert call.params["chat_id"] == CHAT
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "PAY", "callback_data": "pay"}]]
    }
    assert call.ok and call.token == TOKEN

    # Form values of String parameters stay strings even when they look like JSON.
    second = await bot.send_message(CHAT, "123")
    assert second.text == "123" and second.message_id == 2
    assert fake.calls_of("sendMessage")[-1].params["text"] == "123"
    assert [m["text"] for m in fake.messages(CHAT)] == ["Dues & fees", "123"]


async def test_send_message_validation(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT, "<b></b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    await bot.send_message(CHAT, "x" * 4096)
    # The classic bug: user input interpolated into HTML without escaping.
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag"):
        await bot.send_message(CHAT, "Name: <Olena>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard("d" * 65))
    assert fake.calls[-1].error == "Bad Request: BUTTON_DATA_INVALID"
    assert len(fake.messages(CHAT)) == 1


async def test_edit_and_delete(fake: FakeBotAPI, bot: Bot) -> None:
    msg = await bot.send_message(CHAT, "Pick", reply_markup=keyboard("a", "b"))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Pick", CHAT, msg.message_id, reply_markup=keyboard("a", "b"))

    # Like Telegram, editing the text without reply_markup drops the inline keyboard.
    edited = await bot.edit_message_text("<i>Picked</i>", CHAT, msg.message_id, parse_mode="HTML")
    assert isinstance(edited, type(msg)) and edited.text == "Picked"
    assert edited.edit_date is not None
    stored = fake.messages(CHAT)[0]
    assert "reply_markup" not in stored and stored["entities"][0]["type"] == "italic"

    await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=keyboard("c"))
    stored_again = fake.message(CHAT, msg.message_id)
    assert stored_again is not None
    assert stored_again["reply_markup"] == {
        "inline_keyboard": [[{"text": "C", "callback_data": "c"}]]
    }
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", CHAT, 999)

    assert await bot.delete_message(CHAT, msg.message_id) is True
    assert fake.messages(CHAT) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(CHAT, msg.message_id)


async def test_failure_injection_and_auth(
    fake: FakeBotAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 deprecates int retry_after (warns on access) unless PTB_TIMEDELTA opts in.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 3",
        retry_after=3, times=2,
    )  # fmt: skip
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(CHAT, "hi")
        assert info.value.retry_after == timedelta(seconds=3)
    await bot.send_message(CHAT, "hi")
    assert [c.ok for c in fake.calls_of("sendMessage")] == [False, False, True]
    assert fake.calls_of("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }

    fake.block_user(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    fake.unblock_user(CHAT)

    # Bot.shutdown() is a no-op for a Bot whose initialize() failed, so own the requests.
    async with HTTPXRequest() as request, HTTPXRequest() as updates_request:
        intruder = Bot(
            "999:wrong", base_url=fake.base_url, request=request,
            get_updates_request=updates_request,
        )  # fmt: skip
        with pytest.raises(InvalidToken):
            await intruder.get_me()
    assert fake.calls[-1].response == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }

    status, body = raw(fake, "sendPigeon")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


async def test_commands_menu_and_chat(fake: FakeBotAPI, bot: Bot) -> None:
    from telegram import BotCommand, BotCommandScopeChat, MenuButtonCommands

    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("dues", "My dues")])
    await bot.set_my_commands(
        [BotCommand("admin", "Admin")], scope=BotCommandScopeChat(CHAT), language_code="uk"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "dues"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(CHAT), language_code="uk")
    assert [c.command for c in scoped] == ["admin"]
    assert fake.commands(scope={"type": "chat", "chat_id": CHAT}, language_code="uk") == [
        {"command": "admin", "description": "Admin"}
    ]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])

    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert await bot.send_chat_action(CHAT, "typing")
    chat = await bot.get_chat(CHAT)
    assert chat.id == CHAT and chat.type == "private"


async def test_send_document_multipart(fake: FakeBotAPI, bot: Bot) -> None:
    content = "name;sum\nOlena;100 ₴\n".encode()
    name = 'внески "2025".csv'  # httpx percent-escapes the quotes in the multipart header
    msg = await bot.send_document(
        CHAT, document=content, filename=name, caption="<b>Report</b>", parse_mode="HTML"
    )
    assert msg.document is not None
    assert (msg.document.file_name, msg.document.file_size) == (name, len(content))
    assert msg.caption == "Report" and msg.caption_entities[0].type == "bold"
    params = fake.calls_of("sendDocument")[-1].params
    assert params["document"]["content"] == content
    assert params["document"]["filename"] == name
    assert params["chat_id"] == CHAT  # multipart text fields are decoded like form fields
    assert fake.file_content(msg.document.file_id) == content
    assert (await fake.await_reply(CHAT, since=0)).method == "sendDocument"

    again = await bot.send_document(CHAT, document=msg.document.file_id)
    assert again.document == msg.document
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(CHAT, document="no-such-file-id")


async def test_a_file_a_person_sent_can_be_sent_again_by_its_file_id(
    fake: FakeBotAPI, bot: Bot
) -> None:
    content = b"%PDF-1.4 draft law"
    document = fake.send_document(
        user_id=CHAT, content=content, filename="proekt.pdf", mime_type="application/pdf"
    )
    photo = fake.send_photo(user_id=CHAT, content=b"not an image", caption="look")
    file_update, photo_update = await bot.get_updates()
    message = file_update.message
    assert message is not None and message.document is not None
    assert message.document.file_id == document["file_id"]
    assert (message.document.file_name, message.document.file_size) == ("proekt.pdf", len(content))
    assert message.document.mime_type == "application/pdf"
    assert photo_update.message is not None and photo_update.message.caption == "look"
    assert photo_update.message.photo[0].file_id == photo["file_id"]
    sent = await bot.send_document(CHAT, document=document["file_id"], caption="<b>Проєкт</b>")
    assert sent.document is not None and sent.document.file_id == document["file_id"]
    assert fake.file_content(document["file_id"]) == content
    assert fake.calls_of("sendDocument")[-1].params["document"] == document["file_id"]
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(CHAT, document="BQACAgIAAxkBAAInever-seen")


def test_raw_encodings(fake: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    status, body = raw(
        fake, "sendMessage", json.dumps({"chat_id": "7", "text": "json"}).encode(),
        "application/json",
    )  # fmt: skip
    assert status == 200 and body["result"]["chat"]["id"] == 7
    form = urlencode({"chat_id": 7, "text": "true", "reply_markup": json.dumps(markup)})
    status, body = raw(fake, "sendMessage", form.encode(), "application/x-www-form-urlencoded")
    assert body["result"]["text"] == "true" and body["result"]["reply_markup"] == markup
    status, body = raw(fake, "sendMessage", query="chat_id=7&text=get")
    assert status == 200 and body["result"]["message_id"] == 3
    status, body = raw(fake, "sendMessage", query="chat_id=%40channel&text=x")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    status, body = raw(fake, "sendMessage", query="text=x")
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = raw(fake, "getUpdates", query="limit=lots")
    assert status == 400 and body["description"].startswith("Bad Request: invalid parameters")
    assert [c.params.get("chat_id") for c in fake.calls][:5] == [7, 7, 7, "@channel", None]


def test_json_bodies_like_the_bot_api(fake: FakeBotAPI) -> None:
    """application/json bodies: typed values as they are, objects not re-encoded."""
    markup = {"inline_keyboard": [[{"text": "Рік", "callback_data": "dues:y:2026"}]]}
    body = {
        "chat_id": 7,
        "text": "123",  # a string stays a string in JSON, unlike a guessed form value
        "reply_markup": markup,
        "disable_notification": True,
        "link_preview_options": {"is_disabled": True},
    }
    status, answer = raw(
        fake, "sendMessage", json.dumps(body).encode(), "application/json; charset=utf-8"
    )
    assert status == 200, answer
    assert answer["result"]["text"] == "123" and answer["result"]["reply_markup"] == markup
    call = fake.calls_of("sendMessage")[-1]
    assert call.params["chat_id"] == 7 and call.params["disable_notification"] is True
    edit = {"chat_id": 7, "message_id": 1, "text": "<b>x</b>", "parse_mode": "HTML"}
    status, answer = raw(fake, "editMessageText", json.dumps(edit).encode(), "application/json")
    assert status == 200 and answer["result"]["entities"][0]["type"] == "bold"
    # A client that encodes nested objects as strings inside JSON works too.
    body = {"chat_id": 7, "text": "s", "reply_markup": json.dumps(markup)}
    status, answer = raw(fake, "sendMessage", json.dumps(body).encode(), "application/json")
    assert answer["result"]["reply_markup"] == markup
    status, answer = raw(fake, "sendMessage", b"[1, 2]", "application/json")
    assert (status, answer["description"]) == (400, "Bad Request: JSON body must be an object")
    status, answer = raw(fake, "sendMessage", b"{nope", "application/json")
    assert status == 400 and "can't parse JSON body" in answer["description"]
    assert [m["text"] for m in fake.messages(7)] == ["x", "s"]  # "123" was edited to "x"


async def test_reply_keyboard_is_kept_for_the_user_side(fake: FakeBotAPI, bot: Bot) -> None:
    menu = ReplyKeyboardMarkup([["Мої внески", "Довідка"]], resize_keyboard=True)
    msg = await bot.send_message(CHAT, "menu", reply_markup=menu)
    assert msg.reply_markup is None  # Telegram does not echo a reply keyboard
    shown = fake.reply_keyboard(CHAT)
    assert shown is not None
    assert [[b["text"] for b in row] for row in shown["keyboard"]] == [["Мої внески", "Довідка"]]
    with pytest.raises(BadRequest, match="Inline keyboard expected"):
        wrong: Any = menu  # the Bot API accepts only inline keyboards on edits
        await bot.edit_message_text(
            "x", chat_id=CHAT, message_id=msg.message_id, reply_markup=wrong
        )
    await bot.send_message(CHAT, "gone", reply_markup=ReplyKeyboardRemove())
    assert fake.reply_keyboard(CHAT) is None
    status, answer = raw(
        fake,
        "sendMessage",
        json.dumps({"chat_id": CHAT, "text": "x", "reply_markup": {"keyboard": [[""]]}}).encode(),
        "application/json",
    )
    assert (status, answer["description"]) == (400, "Bad Request: keyboard button text is empty")


async def test_commands_shown_follow_telegrams_scope_order(fake: FakeBotAPI, bot: Bot) -> None:
    def names(chat_id: int, lang: str = "") -> list[str]:
        return [c["command"] for c in fake.commands_shown(chat_id, lang)]

    assert names(CHAT) == []
    await bot.set_my_commands([BotCommand("start", "Почати")])
    await bot.set_my_commands([BotCommand("help", "Help")], language_code="en")
    assert names(CHAT) == ["start"] and names(CHAT, "en") == ["help"]
    await bot.set_my_commands([BotCommand("dues", "Dues")], scope=BotCommandScopeAllPrivateChats())
    assert names(CHAT, "en") == ["dues"]
    await bot.set_my_commands(
        [BotCommand("settings", "Settings")], scope=BotCommandScopeChat(CHAT)
    )
    assert names(CHAT, "en") == ["settings"] and names(CHAT + 1, "en") == ["dues"]


async def test_listeners_hear_every_change_in_order(fake: FakeBotAPI, bot: Bot) -> None:
    events: list[ChatEvent] = []
    fake.add_listener(events.append)
    sent = await bot.send_message(CHAT, "one", reply_markup=keyboard("a"))
    await bot.edit_message_text("two", chat_id=CHAT, message_id=sent.message_id)
    await bot.send_message(CHAT, "menu", reply_markup=ReplyKeyboardMarkup([["A"]]))
    query_id = fake.press_button(user_id=CHAT, message_id=sent.message_id, data="a", check=False)
    await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    await bot.delete_message(CHAT, sent.message_id)
    fake.remove_listener(events.append)
    await bot.send_message(CHAT, "unheard")
    mid = sent.message_id
    assert events == [
        ChatEvent("sent", CHAT, mid),
        ChatEvent("edited", CHAT, mid),
        ChatEvent("sent", CHAT, mid + 1),
        ChatEvent("keyboard", CHAT),
        ChatEvent("answer", CHAT, text="Done", show_alert=True),
        ChatEvent("deleted", CHAT, mid),
    ]


def _png(width: int, height: int) -> bytes:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0" * 4


async def test_send_photo(fake: FakeBotAPI, bot: Bot) -> None:
    content = _png(640, 480)
    msg = await bot.send_photo(CHAT, photo=content, caption="<i>Forum</i>", parse_mode="HTML")
    assert len(msg.photo) == 1
    size = msg.photo[0]
    assert (size.width, size.height, size.file_size) == (640, 480, len(content))
    assert msg.caption == "Forum" and msg.caption_entities[0].type == "italic"
    assert fake.file_content(size.file_id) == content
    assert fake.file_info(size.file_id)["width"] == 640
    assert (await fake.await_reply(CHAT, since=0)).method == "sendPhoto"
    again = await bot.send_photo(CHAT, photo=size.file_id)
    assert again.photo[0].file_id == size.file_id
    with pytest.raises(BadRequest, match="There is no photo in the request"):
        await bot.send_photo(CHAT, photo="")


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_png(3, 2), (3, 2)),
        (b"GIF89a" + (5).to_bytes(2, "little") + (7).to_bytes(2, "little"), (5, 7)),
        (
            b"\xff\xd8"
            + b"\xff\xe0\x00\x04xx"
            + b"\xff\xc0\x00\x11\x08\x00\x20\x00\x30"
            + b"\0" * 8,
            (48, 32),
        ),
        (b"not an image", (0, 0)),
    ],
)
def test_image_size(data: bytes, size: tuple[int, int]) -> None:
    assert image_size(data) == size


# ----------------------------------------------------------------------------- updates


def test_user_actions_build_real_updates(fake: FakeBotAPI) -> None:
    first = fake.send_message(user_id=CHAT, text="/start@amu_test_bot now", username="olena")
    update = Update.de_json(raw(fake, "getUpdates")[1]["result"][0], None)
    assert update.update_id == first == 1
    assert update.message is not None and update.message.text == "/start@amu_test_bot now"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start@amu_test_bot")
    assert update.effective_user is not None and update.effective_user.username == "olena"

    fake.send_message(user_id=CHAT, text="typo fixed", edited=True)
    fake.send_message(user_id=5, chat_id=-100123, chat_type="supergroup", text="hi all")
    _, body = raw(fake, "getUpdates", query="offset=2")
    edited, group = (Update.de_json(u, None) for u in body["result"])
    assert edited.edited_message is not None and edited.edited_message.message_id == 1
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert fake.updates_pending() == 2

    fake.push_update({"update_id": 50, "message_reaction": {}})
    _, body = raw(fake, "getUpdates", query="offset=-1")
    assert body["result"] == []  # message_reaction is only sent when allowed_updates asks
    fake.send_message(user_id=CHAT, text="a")
    fake.send_message(user_id=CHAT, text="b")
    _, body = raw(fake, "getUpdates", query='limit=1&allowed_updates=["message"]')
    assert [u["message"]["text"] for u in body["result"]] == ["a"]
    _, body = raw(fake, "getUpdates", query=f"offset={body['result'][0]['update_id'] + 1}")
    assert [u["message"]["text"] for u in body["result"]] == ["b"]


def test_long_poll_wakes_up_when_an_update_is_queued(fake: FakeBotAPI) -> None:
    results: list[Any] = []
    poller = threading.Thread(
        target=lambda: results.append(raw(fake, "getUpdates", query="timeout=5"))
    )
    poller.start()
    time.sleep(0.1)  # let the poll start waiting
    fake.send_message(user_id=CHAT, text="wake up")
    poller.join(timeout=4)  # well below the poll timeout: only a wake-up can finish it
    assert not poller.is_alive()
    assert results[0][1]["result"][0]["message"]["text"] == "wake up"


def test_second_poller_terminates_the_first(fake: FakeBotAPI) -> None:
    results: list[Any] = []
    poller = threading.Thread(
        target=lambda: results.append(raw(fake, "getUpdates", query="timeout=5"))
    )
    poller.start()
    time.sleep(0.1)  # let the first poll start waiting
    assert raw(fake, "getUpdates")[1]["result"] == []
    poller.join(timeout=4)
    assert (
        results[0][0] == 409 and "terminated by other getUpdates" in results[0][1]["description"]
    )


def test_wait_for_timeout_lists_recent_calls(fake: FakeBotAPI) -> None:
    raw(fake, "sendMessage", query="chat_id=1&parse_mode=HTML&text=%3Cb%3E")
    with pytest.raises(TimeoutError) as info:
        fake.wait_for_reply(1, since=0, timeout=0.05)
    # A failed reply does not count as a reply, but the error names what went wrong.
    assert "sendMessage" in str(info.value) and "can't parse entities" in str(info.value)
    assert fake.wait_for("sendMessage", predicate=lambda c: not c.ok).index == 0
    assert fake.mark() == 1


# ----------------------------------------------------------------------------- Application


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(
        f"echo: {update.effective_message.text}", do_quote=True
    )


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Choose", reply_markup=keyboard("yes", "no"))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("noted")
    await query.edit_message_text(f"You chose {query.data}")


@pytest.fixture
async def app(fake: FakeBotAPI) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = ApplicationBuilder().token(TOKEN).base_url(fake.base_url).build()
    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.add_handler(CallbackQueryHandler(on_button))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    # A 5 s long poll: replies arriving in well under 5 s prove the poll wakes up at once.
    await application.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=5))
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def test_application_echo_and_buttons(
    fake: FakeBotAPI, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    fake.send_message(user_id=CHAT, text="hello <world>")
    reply = await fake.await_reply(CHAT, timeout=3)
    assert reply.params["text"] == "echo: hello <world>"
    assert reply.result["reply_to_message"]["text"] == "hello <world>"

    fake.send_message(user_id=CHAT, text="/menu")
    choose = await fake.await_reply(CHAT, timeout=3)
    message_id = choose.result["message_id"]
    with pytest.raises(ValueError, match="no button with callback_data 'maybe'"):
        fake.press_button(user_id=CHAT, message_id=message_id, data="maybe")

    query_id = fake.press_button(user_id=CHAT, message_id=message_id, data="yes")
    answer = await fake.await_for("answerCallbackQuery", since=choose.index, timeout=3)
    assert answer.params == {"callback_query_id": query_id, "text": "noted"}
    edit = await fake.await_reply(CHAT, timeout=3)
    assert edit.method == "editMessageText" and edit.params["text"] == "You chose yes"
    assert fake.messages(CHAT)[-1]["text"] == "You chose yes"
    assert "reply_markup" not in fake.messages(CHAT)[-1]

    # Forged data for a message without buttons: the bot's answer is still accepted once.
    fake.press_button(user_id=CHAT, message_id=message_id, data="forged", check=False)
    await fake.await_calls("answerCallbackQuery", 2, timeout=3)
    assert [a["text"] for a in fake.callback_answers()] == ["noted", "noted"]
    await fake.await_calls("editMessageText", 2, timeout=3)
    assert fake.messages(CHAT)[-1]["text"] == "You chose forged"


async def test_answer_callback_query_validates_ids(fake: FakeBotAPI, bot: Bot) -> None:
    msg = await bot.send_message(CHAT, "Choose", reply_markup=keyboard("a"))
    query_id = fake.press_button(user_id=CHAT, message_id=msg.message_id, data="a")
    assert await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)  # answered twice
    with pytest.raises(BadRequest, match="query id is invalid"):
        await bot.answer_callback_query("12345")


# ----------------------------------------------------------------------------- webhook


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: ClassVar[list[tuple[str | None, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            (self.headers.get("X-Telegram-Bot-Api-Secret-Token"), json.loads(body))
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str | None, dict[str, Any]]]]]:
    received: list[tuple[str | None, dict[str, Any]]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_webhook_delivery(
    fake: FakeBotAPI,
    bot: Bot,
    receiver: tuple[str, list[tuple[str | None, dict[str, Any]]]],
) -> None:
    url, received = receiver
    fake.send_message(user_id=CHAT, text="queued before")
    assert await bot.set_webhook(url, secret_token="s3cret")
    fake.send_message(user_id=CHAT, text="queued after")
    for _ in range(300):
        if len(received) == 2:
            break
        await asyncio.sleep(0.01)
    assert [(s, u["message"]["text"]) for s, u in received] == [
        ("s3cret", "queued before"),
        ("s3cret", "queued after"),
    ]
    assert fake.updates_pending() == 0
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()

    assert await bot.delete_webhook()
    fake.send_message(user_id=CHAT, text="polled")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["polled"]
    assert len(received) == 2
