"""The Bot API methods of the local Bot API: what the bot can ask of Telegram.

``dispatch`` answers one decoded call like Telegram would (including its error texts), against
the shared state: getMe, getUpdates and webhooks, commands and menu button, sending, editing
and deleting messages, documents and photos, callback answers.  Markdown parse modes are passed
through unparsed; HTML is parsed and checked like Telegram does.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bot.localapi.html import parse_html
from bot.localapi.state import ApiError, ChatEvent, JSONDict, State, Webhook, commands_key

# Methods that address a chat and fail with 403 when the user blocked the bot.
_BLOCKABLE_PREFIXES = ("send", "edit", "copy", "forward")
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
# Telegram only sends these update types when they are listed in allowed_updates.
_UPDATE_TYPES_DEFAULT_EXCLUDED = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
# What Telegram clients mark as a bot_command at the start of a message: /cmd or /cmd@botname
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

_ERR_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
_ERR_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active;"
    " use deleteWebhook to delete the webhook first"
)
_ERR_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request;"
    " make sure that only one bot instance is running"
)
# Long polls are capped like real Telegram's (50 s) so a stuck client cannot pin a thread.
_MAX_POLL_TIMEOUT = 50.0


class BotMethods(State):
    """The Bot API methods over the state; mixed into FakeBotAPI."""

    def __init__(self, **options: Any) -> None:
        """The state, and the table of methods by lower-case name."""
        super().__init__(**options)
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._m_get_me,
            "logout": lambda p: True,
            "close": lambda p: True,
            "getupdates": self._m_get_updates,
            "setwebhook": self._m_set_webhook,
            "deletewebhook": self._m_delete_webhook,
            "getwebhookinfo": self._m_get_webhook_info,
            "setmycommands": self._m_set_my_commands,
            "getmycommands": self._m_get_my_commands,
            "deletemycommands": self._m_delete_my_commands,
            "setchatmenubutton": self._m_set_chat_menu_button,
            "getchatmenubutton": self._m_get_chat_menu_button,
            "setmyname": lambda p: self._m_set_text("name", p),
            "getmyname": lambda p: {"name": self._get_text("name", p)},
            "setmydescription": lambda p: self._m_set_text("description", p),
            "getmydescription": lambda p: {"description": self._get_text("description", p)},
            "setmyshortdescription": lambda p: self._m_set_text("short_description", p),
            "getmyshortdescription": lambda p: {
                "short_description": self._get_text("short_description", p)
            },
            "sendchataction": self._m_send_chat_action,
            "answercallbackquery": self._m_answer_callback_query,
            "sendmessage": self._m_send_message,
            "editmessagetext": self._m_edit_message_text,
            "editmessagecaption": self._m_edit_message_caption,
            "editmessagereplymarkup": self._m_edit_message_reply_markup,
            "deletemessage": self._m_delete_message,
            "senddocument": self._m_send_document,
            "sendphoto": self._m_send_photo,
            "getchat": self._m_get_chat,
        }

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, token: str, method: str, params: dict[str, Any]) -> JSONDict:
        """The JSON answer to one call of ``method`` with decoded ``params``."""
        name = method.lower()
        with self._lock:
            try:
                if self.token is not None and token != self.token:
                    raise ApiError(401, "Unauthorized")
                self._check_injected_failure(name)
                handler = self._methods.get(name)
                if handler is None:
                    raise ApiError(404, "Not Found: method not found")
                if name.startswith(_BLOCKABLE_PREFIXES) and params.get("chat_id") in self._blocked:
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                return {"ok": True, "result": handler(params)}
            except ApiError as err:
                return err.payload()
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # Mistyped parameters (e.g. limit="abc"); Telegram answers 400 for these.
                return ApiError(400, f"Bad Request: invalid parameters: {exc!r}").payload()

    def _check_injected_failure(self, name: str) -> None:
        queue = self._failures.get(name)
        if not queue:
            return
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        parameters = {"retry_after": failure.retry_after} if failure.retry_after else None
        raise ApiError(failure.code, failure.description, parameters)

    # ------------------------------------------------------------------ methods: bot/meta

    def _m_get_me(self, params: dict[str, Any]) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: parameter "commands" can\'t be parsed')
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        cleaned = []
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_RE.fullmatch(str(cmd.get("command"))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(cmd.get("description") or "")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": cmd["command"], "description": description})
        key = commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = cleaned
        return True

    def _m_get_my_commands(self, params: dict[str, Any]) -> list[JSONDict]:
        key = commands_key(params.get("scope"), params.get("language_code"))
        return list(self._commands.get(key, []))

    def _m_delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _m_set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
        self._menu_buttons[params.get("chat_id")] = button
        return True

    def _m_get_chat_menu_button(self, params: dict[str, Any]) -> JSONDict:
        button = self._menu_buttons.get(params.get("chat_id")) or self._menu_buttons.get(None)
        if button is None or button.get("type") == "default":
            return {"type": "commands"}
        return button

    def _m_set_text(self, kind: str, params: dict[str, Any]) -> bool:
        self._texts[(kind, str(params.get("language_code") or ""))] = str(params.get(kind) or "")
        return True

    def _get_text(self, kind: str, params: dict[str, Any]) -> str:
        lang = str(params.get("language_code") or "")
        if kind == "name":
            return self._texts.get((kind, lang)) or self.bot_first_name
        return self._texts.get((kind, lang), "")

    def _m_get_chat(self, params: dict[str, Any]) -> JSONDict:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        return {
            **self._chat_for(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _m_send_chat_action(self, params: dict[str, Any]) -> bool:
        self._require_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # ------------------------------------------------------------------ methods: updates

    def _m_get_updates(self, params: dict[str, Any]) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(409, _ERR_WEBHOOK_ACTIVE)
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), _MAX_POLL_TIMEOUT)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            # Like Telegram, the filter persists until the next call that passes it.
            self._allowed_updates = [str(a) for a in allowed] or None
        if isinstance(offset, int):
            self._confirm(offset)
        # A newer getUpdates terminates an older long poll with 409, as in Telegram; this
        # flags two bot instances polling the same token.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_cond.notify_all()  # wake the older poll so it can answer 409
        deadline = time.monotonic() + timeout
        while True:
            batch = self._deliverable(limit)
            if batch or self._stopping:
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._updates_cond.wait(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, _ERR_POLL_CONFLICT)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
            return
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()

    def _is_allowed(self, update: JSONDict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in _UPDATE_TYPES_DEFAULT_EXCLUDED
        return kind in self._allowed_updates

    def _deliverable(self, limit: int) -> list[JSONDict]:
        # Updates the bot did not subscribe to are dropped for good, as Telegram does.
        if not all(self._is_allowed(u) for u in self._updates):
            self._updates = deque(u for u in self._updates if self._is_allowed(u))
        return [self._updates[i] for i in range(min(limit, len(self._updates)))]

    # ------------------------------------------------------------------ methods: webhook

    def _m_set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._m_delete_webhook(params)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        self._webhook_generation += 1
        hook = Webhook(
            url=url,
            secret_token=str(secret) if secret is not None else None,
            max_connections=int(params.get("max_connections") or 40),
            generation=self._webhook_generation,
        )
        self._webhook = hook
        thread = threading.Thread(
            target=self._webhook_loop, args=(hook,), name="FakeBotAPI-webhook", daemon=True
        )
        hook.thread = thread
        self._webhook_threads = [t for t in self._webhook_threads if t.is_alive()]
        self._webhook_threads.append(thread)
        thread.start()
        self._updates_cond.notify_all()
        return True

    def _m_delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        self._updates_cond.notify_all()
        return True

    def _m_get_webhook_info(self, params: dict[str, Any]) -> JSONDict:
        hook = self._webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates is not None:
                info["allowed_updates"] = list(self._allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    def _webhook_loop(self, hook: Webhook) -> None:
        """Deliver queued updates to the webhook one at a time until it is replaced/removed."""
        conn: http.client.HTTPConnection | None = None
        parts = urlsplit(hook.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            while True:
                with self._lock:
                    while (
                        not self._stopping and self._webhook is hook and not self._deliverable(1)
                    ):
                        self._updates_cond.wait(1.0)
                    if self._stopping or self._webhook is not hook:
                        return
                    update = self._deliverable(1)[0]
                body = json.dumps(update, ensure_ascii=False).encode()
                headers = {"Content-Type": "application/json"}
                if hook.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
                error: str | None = None
                try:
                    if conn is None:
                        conn_cls = (
                            http.client.HTTPSConnection
                            if parts.scheme == "https"
                            else http.client.HTTPConnection
                        )
                        conn = conn_cls(parts.hostname or "", parts.port, timeout=10)
                    conn.request("POST", target, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    if not 200 <= response.status < 300:
                        error = f"Wrong response from the webhook: {response.status}"
                    if response.will_close:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as exc:
                    error = f"Connection error: {exc}"
                    if conn is not None:
                        conn.close()
                        conn = None
                with self._lock:
                    if error is None:
                        if self._updates and self._updates[0] is update:
                            self._updates.popleft()
                        self._updates_cond.notify_all()
                    else:
                        hook.last_error_date = int(time.time())
                        hook.last_error_message = error
                        # Back off briefly; real Telegram retries with growing delays.
                        self._updates_cond.wait(0.2)
        finally:
            if conn is not None:
                conn.close()

    # ------------------------------------------------------------------ methods: callbacks

    def _m_answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        # A second answer to the same query is rejected by Telegram too.
        if self._callback_queries.get(query_id, True):
            raise ApiError(400, _ERR_QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self._answers.append(dict(params))
        chat_id = self._callback_chats.pop(query_id, None)
        if chat_id is not None:
            self._notify(
                ChatEvent(
                    "answer",
                    chat_id,
                    text=None if text is None else str(text),
                    show_alert=bool(params.get("show_alert")),
                )
            )
        return True

    # ------------------------------------------------------------------ methods: messages

    def _require_chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _require_message_id(params: dict[str, Any]) -> int:
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        return message_id

    @staticmethod
    def _parse_text(
        text: Any, parse_mode: Any, explicit_entities: Any
    ) -> tuple[str, list[JSONDict]]:
        text = "" if text is None else str(text)
        if isinstance(parse_mode, str) and parse_mode.lower() == "html":
            try:
                return parse_html(text)
            except ValueError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        # Markdown modes are passed through unparsed (the project uses HTML).
        return text, list(explicit_entities) if isinstance(explicit_entities, list) else []

    @staticmethod
    def _checked_markup(params: dict[str, Any]) -> JSONDict | None:
        markup = params.get("reply_markup")
        if isinstance(markup, str) and markup:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if not isinstance(markup, dict):
            return None
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise ApiError(400, "Bad Request: keyboard button text is empty")
            return markup
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise ApiError(400, "Bad Request: can't parse inline keyboard button")
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            return markup
        # Removing the keyboard and force_reply are not echoed in the returned Message.
        return None

    def _new_bot_message(self, chat_id: int, params: dict[str, Any]) -> JSONDict:
        msg: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat_for(chat_id),
            "date": int(time.time()),
        }
        reply_to = params.get("reply_to_message_id")
        reply_params = params.get("reply_parameters")
        if isinstance(reply_params, dict):
            reply_to = reply_params.get("message_id")
        if isinstance(reply_to, int):
            original = self._bot_messages.get(chat_id, {}).get(reply_to)
            if original is None:
                original = self._user_messages.get(chat_id, {}).get(reply_to)
            if original is not None:
                # Telegram does not nest reply_to_message more than one level.
                msg["reply_to_message"] = {
                    k: v for k, v in original.items() if k != "reply_to_message"
                }
        return msg

    def _send(self, chat_id: int, params: dict[str, Any], content: JSONDict) -> JSONDict:
        """A new bot message with `content`, the request's inline keyboard, stored in the chat.

        A reply keyboard (or its removal) is not part of the returned Message, as in Telegram;
        the chat remembers it for the user side.
        """
        markup = self._checked_markup(params)  # validated before a message id is spent
        msg = self._new_bot_message(chat_id, params)
        msg.update(content)
        if markup is not None and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        self._store(chat_id, msg)
        if markup is not None and "keyboard" in markup:
            self._reply_keyboards[chat_id] = markup
            self._notify(ChatEvent("keyboard", chat_id))
        raw = params.get("reply_markup")
        if isinstance(raw, dict) and raw.get("remove_keyboard"):
            self._reply_keyboards.pop(chat_id, None)
            self._notify(ChatEvent("keyboard", chat_id))
        return msg

    def _m_send_message(self, params: dict[str, Any]) -> JSONDict:
        chat_id = self._require_chat(params)
        text, entities = self._parse_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(chat_id, params, content)

    def _find_to_edit(self, params: dict[str, Any]) -> tuple[int, JSONDict] | None:
        if params.get("inline_message_id"):
            return None  # inline messages are not tracked; Telegram answers True for them
        chat_id = self._require_chat(params)
        msg = self._bot_messages.get(chat_id, {}).get(self._require_message_id(params))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat_id, msg

    def _apply_edit(self, chat_id: int, old: JSONDict, changes: JSONDict) -> JSONDict:
        current = {k: v for k, v in old.items() if k != "edit_date"}
        new = {k: v for k, v in current.items() if k not in changes}
        new.update({k: v for k, v in changes.items() if v not in (None, [])})
        if new == current:
            raise ApiError(400, _ERR_NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._store(chat_id, new, edited=True)
        return new

    def _m_edit_message_text(self, params: dict[str, Any]) -> JSONDict | bool:
        text, entities = self._parse_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._edit_markup(params)
        found = self._find_to_edit(params)
        if found is None:
            return True
        chat_id, old = found
        if "text" not in old:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        # An edit without reply_markup removes the inline keyboard, exactly like Telegram.
        return self._apply_edit(
            chat_id, old, {"text": text, "entities": entities, "reply_markup": markup}
        )

    def _m_edit_message_caption(self, params: dict[str, Any]) -> JSONDict | bool:
        caption, entities = self._parse_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._edit_markup(params)
        found = self._find_to_edit(params)
        if found is None:
            return True
        chat_id, old = found
        if "text" in old:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(
            chat_id,
            old,
            {"caption": caption or None, "caption_entities": entities, "reply_markup": markup},
        )

    def _m_edit_message_reply_markup(self, params: dict[str, Any]) -> JSONDict | bool:
        markup = self._edit_markup(params)
        found = self._find_to_edit(params)
        if found is None:
            return True
        chat_id, old = found
        return self._apply_edit(chat_id, old, {"reply_markup": markup})

    def _edit_markup(self, params: dict[str, Any]) -> JSONDict | None:
        markup = self._checked_markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            # Telegram edits accept only inline keyboards.
            raise ApiError(400, "Bad Request: inline keyboard expected")
        return markup

    def _m_delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = self._require_chat(params)
        store = self._bot_messages.get(chat_id, {})
        message_id = self._require_message_id(params)
        if store.pop(message_id, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._notify(ChatEvent("deleted", chat_id, message_id))
        return True

    def _upload(self, value: Any, what: str, prefix: str) -> tuple[JSONDict, bytes] | None:
        """A new file from an uploaded part: (its Telegram description, its bytes)."""
        if not (isinstance(value, dict) and "content" in value):
            return None
        content: bytes = value["content"]
        info: JSONDict = {
            "file_id": f"{prefix}AgIAAxkBAAI{self._next_file:08d}",
            "file_unique_id": f"AgAD{self._next_file:08d}",
            "file_size": len(content),
        }
        if what == "document":
            info["file_name"] = value.get("filename") or "document"
            info["mime_type"] = value.get("content_type") or "application/octet-stream"
        else:
            width, height = image_size(content)
            info["width"], info["height"] = width, height
        self._next_file += 1
        self._files[info["file_id"]] = (info, content)
        return info, content

    def _file_param(self, params: dict[str, Any], what: str, prefix: str) -> JSONDict:
        value = params.get(what)
        uploaded = self._upload(value, what, prefix)
        if uploaded is not None:
            return uploaded[0]
        if isinstance(value, str) and value in self._files:
            return self._files[value][0]  # re-sent by file_id: the same file
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
            # Telegram would download the URL; the fake only makes up the file.
            crc = zlib.crc32(value.encode())
            info: JSONDict = {
                "file_id": f"{prefix}AgIAAxkBAAU{crc:010d}",
                "file_unique_id": f"AgAU{crc:010d}",
            }
            if what == "document":
                info["file_name"] = urlsplit(value).path.rsplit("/", 1)[-1] or "document"
            else:
                info["width"], info["height"] = 0, 0
            return info
        if isinstance(value, str) and value:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise ApiError(400, f"Bad Request: there is no {what} in the request")

    def _send_file(self, params: dict[str, Any], content: JSONDict) -> JSONDict:
        chat_id = self._require_chat(params)
        caption, entities = self._parse_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._send(chat_id, params, content)

    def _m_send_document(self, params: dict[str, Any]) -> JSONDict:
        self._require_chat(params)
        return self._send_file(params, {"document": self._file_param(params, "document", "BQAC")})

    def _m_send_photo(self, params: dict[str, Any]) -> JSONDict:
        self._require_chat(params)
        # Telegram answers with several sizes; the fake keeps only the original one.
        return self._send_file(params, {"photo": [self._file_param(params, "photo", "AgAC")]})


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, GIF or JPEG image; (0, 0) when it is none of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[i + 5 : i + 7], "big")
                return int.from_bytes(data[i + 7 : i + 9], "big"), height
            i += 2 + length
    return 0, 0
