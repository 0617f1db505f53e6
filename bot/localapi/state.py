"""The state of the local Bot API: chats, messages, queued updates and the record of calls.

Everything lives in one object guarded by one lock; the Bot API methods (``methods``), the
user side (``users``) and the HTTP server (``server``) are mixins over it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSONDict = dict[str, Any]
_T = TypeVar("_T")

REPLY_METHODS = frozenset(
    {"sendmessage", "editmessagetext", "senddocument", "sendphoto", "editmessagecaption"}
)


@dataclass
class Call:
    """One HTTP request the bot made, with the decoded parameters and the JSON answer."""

    method: str
    params: dict[str, Any]
    token: str
    at: float
    response: JSONDict | None = None
    index: int = -1

    @property
    def ok(self) -> bool:
        """Whether the fake answered ``ok: true``."""
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (None for failed ones)."""
        return self.response.get("result") if self.response else None

    @property
    def error(self) -> str | None:
        """The error description of a failed call (None for successful ones)."""
        if self.response is None or self.response.get("ok"):
            return None
        return str(self.response.get("description"))

    def summary(self) -> str:
        """A one-line human description, used in timeout messages."""
        shown = {
            k: (f"<{len(v['content'])} bytes>" if isinstance(v, dict) and "content" in v else v)
            for k, v in self.params.items()
        }
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > 160:
            text = text[:157] + "..."
        outcome = "ok" if self.ok else f"{(self.response or {}).get('error_code')} {self.error}"
        return f"#{self.index} {self.method} {text} -> {outcome}"


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """The JSON answer for this error."""
        out: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


@dataclass
class Failure:
    code: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    generation: int
    last_error_date: int | None = None
    last_error_message: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ChatEvent:
    """Something the bot did in a chat, as a person's client would notice it.

    ``kind`` is ``sent``, ``edited`` or ``deleted`` (a bot message, ``message_id`` set),
    ``keyboard`` (the reply keyboard changed) or ``answer`` (a callback query was answered;
    ``text`` and ``show_alert`` as the bot gave them).
    """

    kind: str
    chat_id: int
    message_id: int | None = None
    text: str | None = None
    show_alert: bool = False


ChatListener = Callable[[ChatEvent], None]


def commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
    """Where setMyCommands keeps a command list: (scope as JSON, language code)."""
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(language_code or "")


class State:
    """Chats, messages, updates and calls, guarded by one lock."""

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_id: int = 700000001,
        bot_username: str = "amu_test_bot",
        bot_first_name: str = "AMU test bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure the fake; ``token=None`` accepts any token."""
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.host = host
        self.port = port
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        # One lock guards all state; two conditions on it so that recording a call does not
        # wake long-pollers and queueing an update does not wake wait_for() callers.
        self._lock = threading.RLock()
        self._calls_cond = threading.Condition(self._lock)
        self._updates_cond = threading.Condition(self._lock)
        self._stopping = False

        self.calls: list[Call] = []
        self._updates: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._chats: dict[int, JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._bot_messages: dict[int, dict[int, JSONDict]] = {}
        self._user_messages: dict[int, dict[int, JSONDict]] = {}
        self._reply_keyboards: dict[int, JSONDict] = {}  # chat -> ReplyKeyboardMarkup shown
        self._last_action: dict[int, int] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._callback_chats: dict[str, int] = {}  # id -> chat of the pressed message
        self._next_callback_id = 1
        self._answers: list[JSONDict] = []
        self._files: dict[str, tuple[JSONDict, bytes]] = {}  # file_id -> (Document, bytes)
        self._next_file = 1
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}
        self._texts: dict[tuple[str, str], str] = {}  # (kind, language) -> name/description
        self._failures: dict[str, deque[Failure]] = {}
        self._blocked: set[int] = set()
        self._webhook: Webhook | None = None
        self._webhook_generation = 0
        self._webhook_threads: list[threading.Thread] = []
        self._listeners: list[ChatListener] = []

    # ------------------------------------------------------------------ chats and messages

    @staticmethod
    def _user_dict(
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _register_chat(self, chat_id: int, chat_type: str, user: JSONDict) -> JSONDict:
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
        else:
            known = self._chats.get(chat_id)
            title = known.get("title") if known else None
            chat = {"id": chat_id, "type": chat_type, "title": title or f"AMU test {chat_type}"}
        self._chats[chat_id] = chat
        return chat

    def _chat_for(self, chat_id: int) -> JSONDict:
        known = self._chats.get(chat_id)
        if known is not None:
            return known
        # Unknown chats are synthesised (lenient: the dispatcher may message users the fake
        # has never seen); negative ids are groups, -100... ids supergroups.
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        kind = "supergroup" if chat_id < -1_000_000_000_000 else "group"
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}

    def _new_message_id(self, chat_id: int) -> int:
        # One sequence per chat shared by user and bot messages, as in real private chats.
        mid = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = mid + 1
        return mid

    def _queue_update(self, body: JSONDict, chat_id: int) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, **body})
        self._last_action[chat_id] = len(self.calls)
        self._updates_cond.notify_all()
        return update_id

    def _store(self, chat_id: int, msg: JSONDict, *, edited: bool = False) -> None:
        self._bot_messages.setdefault(chat_id, {})[msg["message_id"]] = msg
        self._notify(ChatEvent("edited" if edited else "sent", chat_id, msg["message_id"]))

    def _notify(self, event: ChatEvent) -> None:
        # Called under the lock: listeners must only hand the event over (e.g. to a queue).
        for listener in list(self._listeners):
            listener(event)

    # ------------------------------------------------------------------ the record of calls

    def calls_snapshot(self) -> list[Call]:
        """A copy of the call list, taken under the lock."""
        with self._lock:
            return list(self.calls)

    def calls_of(self, method: str) -> list[Call]:
        """All calls of ``method`` (case-insensitive), in order."""
        name = method.lower()
        with self._lock:
            return [c for c in self.calls if c.method.lower() == name]

    def mark(self) -> int:
        """The current number of calls; pass it as ``since`` to wait only for later calls."""
        with self._lock:
            return len(self.calls)

    def _scan(
        self, name: str, predicate: Callable[[Call], bool] | None, start: int
    ) -> tuple[Call | None, int]:
        i = start
        while i < len(self.calls):
            call = self.calls[i]
            i += 1
            if call.method.lower() == name and (predicate is None or predicate(call)):
                return call, i
        return None, i

    def _timeout_message(self, what: str, since: int, timeout: float) -> str:
        with self._lock:
            recent = self.calls[max(since, len(self.calls) - 15) :]
            lines = [c.summary() for c in recent] or ["(none)"]
            skipped = max(0, len(self.calls) - since - len(recent))
        more = f" ({skipped} earlier not shown)" if skipped else ""
        return (
            f"no {what} at call index >= {since} within {timeout:g}s;"
            f" calls since then{more}:\n  " + "\n  ".join(lines)
        )

    def wait_for(
        self,
        method: str,
        *,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Call:
        """Block until a call of ``method`` with index >= since matches; else TimeoutError."""
        name = method.lower()
        deadline = time.monotonic() + timeout
        with self._calls_cond:
            index = since
            while True:
                found, index = self._scan(name, predicate, index)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    break
                self._calls_cond.wait(remaining)
        what = f"{method} call" + (" matching the predicate" if predicate else "")
        raise TimeoutError(self._timeout_message(what, since, timeout))

    def wait_for_calls(
        self, method: str, count: int, *, since: int = 0, timeout: float = 10.0
    ) -> list[Call]:
        """Block until ``count`` calls of ``method`` exist at index >= since; return them."""
        name = method.lower()
        deadline = time.monotonic() + timeout
        found: list[Call] = []
        with self._calls_cond:
            index = since
            while True:
                while len(found) < count:
                    call, index = self._scan(name, None, index)
                    if call is None:
                        break
                    found.append(call)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    break
                self._calls_cond.wait(remaining)
        raise TimeoutError(
            self._timeout_message(f"{count} {method} calls (got {len(found)})", since, timeout)
        )

    def _reply_predicate(self, chat_id: int) -> Callable[[Call], bool]:
        return lambda c: c.ok and c.params.get("chat_id") == chat_id

    def _reply_since(self, chat_id: int, since: int | None) -> int:
        if since is not None:
            return since
        with self._lock:
            return self._last_action.get(chat_id, 0)

    def _scan_reply(self, chat_id: int, start: int) -> tuple[Call | None, int]:
        pred = self._reply_predicate(chat_id)
        i = start
        while i < len(self.calls):
            call = self.calls[i]
            i += 1
            if call.method.lower() in REPLY_METHODS and pred(call):
                return call, i
        return None, i

    def wait_for_reply(
        self, chat_id: int, *, since: int | None = None, timeout: float = 10.0
    ) -> Call:
        """Block until a successful send (message, document, photo) or edit in chat_id.

        ``since`` defaults to the call index at the last user action in that chat.  Failed
        calls (e.g. 400 can't parse entities) do not count but show up in the TimeoutError.
        """
        start = self._reply_since(chat_id, since)
        deadline = time.monotonic() + timeout
        with self._calls_cond:
            index = start
            while True:
                found, index = self._scan_reply(chat_id, index)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    break
                self._calls_cond.wait(remaining)
        raise TimeoutError(self._timeout_message(f"reply to chat {chat_id}", start, timeout))

    # The async variants are plain functions returning a coroutine: the arguments (notably
    # await_reply's default ``since``) are captured at call time, and the coroutine polls the
    # call list with short sleeps so the event loop (and the bot under test) keeps running.

    async def _poll(
        self, probe: Callable[[], _T | None], deadline: float, describe: Callable[[], str]
    ) -> _T:
        while True:
            with self._lock:
                found = probe()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(describe())
            await asyncio.sleep(0.002)

    def await_for(
        self,
        method: str,
        *,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Coroutine[Any, Any, Call]:
        """Async wait_for (``await fake.await_for(...)``); does not block the event loop."""
        name = method.lower()
        index = since

        def probe() -> Call | None:
            nonlocal index
            found, index = self._scan(name, predicate, index)
            return found

        what = f"{method} call" + (" matching the predicate" if predicate else "")
        return self._poll(
            probe,
            time.monotonic() + timeout,
            lambda: self._timeout_message(what, since, timeout),
        )

    def await_calls(
        self, method: str, count: int, *, since: int = 0, timeout: float = 10.0
    ) -> Coroutine[Any, Any, list[Call]]:
        """Async wait_for_calls; does not block the event loop."""
        name = method.lower()
        index = since
        found: list[Call] = []

        def probe() -> list[Call] | None:
            nonlocal index
            while len(found) < count:
                call, index = self._scan(name, None, index)
                if call is None:
                    break
                found.append(call)
            return found if len(found) >= count else None

        return self._poll(
            probe,
            time.monotonic() + timeout,
            lambda: self._timeout_message(
                f"{count} {method} calls (got {len(found)})", since, timeout
            ),
        )

    def await_reply(
        self, chat_id: int, *, since: int | None = None, timeout: float = 10.0
    ) -> Coroutine[Any, Any, Call]:
        """Async wait_for_reply; ``since`` defaults to the last user action in the chat."""
        start = self._reply_since(chat_id, since)
        index = start

        def probe() -> Call | None:
            nonlocal index
            found, index = self._scan_reply(chat_id, index)
            return found

        return self._poll(
            probe,
            time.monotonic() + timeout,
            lambda: self._timeout_message(f"reply to chat {chat_id}", start, timeout),
        )

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error (FIFO per method)."""
        with self._lock:
            self._failures.setdefault(method.lower(), deque()).append(
                Failure(error_code, description, retry_after, times)
            )
