"""The user side of the local Bot API: what a person does in a chat with the bot.

Send a message (or edit one), a file or a photo, press an inline button, block the bot, and
read what the bot shows: its current messages (edits applied), the reply keyboard, the files
it sent, the answers to button presses.  ``add_listener`` tells a client (the demo's terminal
chat) about each change as it happens, so it never has to poll.
"""

from __future__ import annotations

import copy
import re
import time
import zlib
from typing import TYPE_CHECKING, Any

from bot.localapi.html import utf16_len
from bot.localapi.state import ChatListener, JSONDict, State, commands_key

# What Telegram clients mark as a bot_command at the start of a message: /cmd or /cmd@botname
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


class UserSide(State):
    """What people do and see; mixed into FakeBotAPI."""

    if TYPE_CHECKING:  # BotMethods, the other half of FakeBotAPI, keeps the files

        def _upload(self, value: Any, what: str, prefix: str) -> tuple[JSONDict, bytes] | None:
            """A new file from uploaded content: its Telegram description and its bytes."""

    # ------------------------------------------------------------------ acting as users

    def send_message(
        self,
        *,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Olena",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "uk",
        edited: bool = False,
        entities: list[JSONDict] | None = None,
        message_id: int | None = None,
    ) -> int:
        """Queue a user's message (or edit, with ``edited=True``) as an Update; returns update_id.

        A text starting with "/" gets a bot_command entity.  With ``edited=True`` the message
        ``message_id`` (default: the user's last message in the chat) is edited.
        """
        cid = user_id if chat_id is None else chat_id
        user = self._user_dict(user_id, first_name, last_name, username, language_code)
        now = int(time.time())
        if entities is None:
            entities = []
            command = _BOT_COMMAND_RE.match(text)
            if command:
                length = utf16_len(command.group(0))
                entities = [{"type": "bot_command", "offset": 0, "length": length}]
        with self._lock:
            chat = self._register_chat(cid, chat_type, user)
            if edited:
                store = self._user_messages.get(cid, {})
                mid = message_id if message_id is not None else max(store, default=None)
                if mid is None or mid not in store:
                    raise ValueError(f"no user message {message_id} to edit in chat {cid}")
                msg = dict(store[mid], text=text, edit_date=now)
                kind = "edited_message"
            else:
                mid = self._new_message_id(cid)
                msg = {"message_id": mid, "from": user, "chat": chat, "date": now, "text": text}
                kind = "message"
            msg.pop("entities", None)
            if entities:
                msg["entities"] = entities
            self._user_messages.setdefault(cid, {})[mid] = msg
            return self._queue_update({kind: msg}, cid)

    def send_document(
        self,
        *,
        user_id: int,
        content: bytes,
        filename: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        first_name: str = "Olena",
        language_code: str | None = "uk",
    ) -> JSONDict:
        """Queue a user's file in their private chat; returns its Document (with the file_id
        the bot may send again, as Telegram lets bots re-send any file they received)."""
        return self._user_file(
            user_id,
            "document",
            {"content": content, "filename": filename, "content_type": mime_type},
            caption,
            first_name,
            language_code,
        )

    def send_photo(
        self,
        *,
        user_id: int,
        content: bytes,
        caption: str | None = None,
        first_name: str = "Olena",
        language_code: str | None = "uk",
    ) -> JSONDict:
        """Queue a user's photo in their private chat; returns its PhotoSize."""
        return self._user_file(
            user_id, "photo", {"content": content}, caption, first_name, language_code
        )

    def _user_file(
        self,
        user_id: int,
        what: str,
        upload: JSONDict,
        caption: str | None,
        first_name: str,
        language_code: str | None,
    ) -> JSONDict:
        user = self._user_dict(user_id, first_name, None, None, language_code)
        with self._lock:
            uploaded = self._upload(upload, what, "BQAC" if what == "document" else "AgAC")
            if uploaded is None:
                raise ValueError(f"no content for the {what}")
            info = uploaded[0]
            chat = self._register_chat(user_id, "private", user)
            mid = self._new_message_id(user_id)
            msg: JSONDict = {
                "message_id": mid,
                "from": user,
                "chat": chat,
                "date": int(time.time()),
            }
            msg[what] = copy.deepcopy(info) if what == "document" else [copy.deepcopy(info)]
            if caption:
                msg["caption"] = caption
            self._user_messages.setdefault(user_id, {})[mid] = msg
            self._queue_update({"message": msg}, user_id)
            return copy.deepcopy(info)

    def press_button(
        self,
        *,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        first_name: str = "Olena",
        language_code: str | None = "uk",
        check: bool = True,
    ) -> str:
        """Queue a callback_query Update for the bot's message; returns the callback query id.

        With ``check=True`` a ValueError is raised unless the stored message has an inline
        button with this callback_data (real clients can only send existing data).
        """
        cid = user_id if chat_id is None else chat_id
        user = self._user_dict(user_id, first_name, None, None, language_code)
        with self._lock:
            stored = self._bot_messages.get(cid, {}).get(message_id)
            if check:
                if stored is None:
                    raise ValueError(f"the bot has no message {message_id} in chat {cid}")
                available = [
                    button.get("callback_data")
                    for row in (stored.get("reply_markup") or {}).get("inline_keyboard", [])
                    for button in row
                    if "callback_data" in button
                ]
                if data not in available:
                    raise ValueError(
                        f"message {message_id} in chat {cid} has no button with callback_data"
                        f" {data!r}; available: {available!r}"
                    )
            query_id = str(4_000_000_000_000_000 + self._next_callback_id)
            self._next_callback_id += 1
            self._callback_queries[query_id] = False
            self._callback_chats[query_id] = cid
            message = stored or {  # an InaccessibleMessage, as Telegram sends for gone messages
                "chat": self._chat_for(cid),
                "message_id": message_id,
                "date": 0,
            }
            query = {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": str(zlib.crc32(str(cid).encode()) * 1000 + 1),
                "data": data,
            }
            self._queue_update({"callback_query": query}, cid)
            return query_id

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw Update dict; assigns update_id if missing. Returns the update_id."""
        with self._lock:
            update = dict(update)
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            else:
                update["update_id"] = self._next_update_id
                self._next_update_id += 1
            for kind in ("message", "edited_message"):
                msg = update.get(kind)
                if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
                    cid = msg["chat"].get("id")
                    if isinstance(cid, int) and isinstance(msg.get("message_id"), int):
                        self._chats.setdefault(cid, msg["chat"])
                        self._user_messages.setdefault(cid, {})[msg["message_id"]] = msg
                        self._last_action[cid] = len(self.calls)
                        current = self._next_message_id.get(cid, 1)
                        self._next_message_id[cid] = max(current, msg["message_id"] + 1)
            self._updates.append(update)
            self._updates_cond.notify_all()
            return int(update["update_id"])

    # ------------------------------------------------------------------ what people see

    def messages(self, chat_id: int) -> list[JSONDict]:
        """The bot's current messages in the chat (edits applied, deletions removed)."""
        with self._lock:
            store = self._bot_messages.get(chat_id, {})
            return [copy.deepcopy(store[mid]) for mid in sorted(store)]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """One current bot message, or None if it does not exist (any more)."""
        with self._lock:
            msg = self._bot_messages.get(chat_id, {}).get(message_id)
            return copy.deepcopy(msg) if msg is not None else None

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a document the bot uploaded."""
        with self._lock:
            return self._files[file_id][1]

    def commands(
        self, *, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """The command list stored by setMyCommands for (scope, language_code)."""
        with self._lock:
            return copy.deepcopy(self._commands.get(commands_key(scope, language_code), []))

    def callback_answers(self) -> list[JSONDict]:
        """Parameters of every accepted answerCallbackQuery, in order."""
        with self._lock:
            return list(self._answers)

    def updates_pending(self) -> int:
        """Updates queued and not yet confirmed (getUpdates offset or webhook delivery)."""
        with self._lock:
            return len(self._updates)

    def commands_shown(self, chat_id: int, language_code: str = "") -> list[JSONDict]:
        """The command menu a client shows in a private chat, chosen as Telegram does.

        The narrowest scope with commands wins: this chat, then all private chats, then the
        default; within each, the list for the user's language before the one for everyone.
        """
        scopes: list[JSONDict] = [
            {"type": "chat", "chat_id": chat_id},
            {"type": "all_private_chats"},
            {"type": "default"},
        ]
        with self._lock:
            for scope in scopes:
                for lang in (language_code, ""):
                    found = self._commands.get(commands_key(scope, lang))
                    if found:
                        return copy.deepcopy(found)
        return []

    def reply_keyboard(self, chat_id: int) -> JSONDict | None:
        """The reply keyboard the bot last showed in the chat (None if none or removed)."""
        with self._lock:
            markup = self._reply_keyboards.get(chat_id)
            return copy.deepcopy(markup) if markup is not None else None

    def file_info(self, file_id: str) -> JSONDict:
        """The Document (or largest PhotoSize) the bot uploaded with this file_id."""
        with self._lock:
            return copy.deepcopy(self._files[file_id][0])

    def add_listener(self, listener: ChatListener) -> None:
        """Call ``listener(event)`` for every ChatEvent from now on.

        It runs on the server's thread with the state locked: it must return at once, e.g.
        by handing the event to an asyncio loop with ``call_soon_threadsafe``.
        """
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: ChatListener) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ------------------------------------------------------------------ blocking the bot

    def block_user(self, user_id: int) -> None:
        """Make send*/edit*/copy*/forward* to that chat answer 403 (bot blocked by user)."""
        with self._lock:
            self._blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        """Undo block_user."""
        with self._lock:
            self._blocked.discard(user_id)
