"""The local Bot API with Telegram's sending limits enforced, for the broadcast benchmark.

A subclass, kept in bench/ so the fake itself stays as it is: at most `overall` send*
calls in any sliding second (Telegram: ~30 messages a second to different chats) and one a
second per chat; beyond that it answers 429 with retry_after=1, as Telegram does. An
optional `latency` delays every answer, like a Bot API that is not on localhost.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from bot.localapi import FakeBotAPI

JSONDict = dict[str, Any]


class LimitedBotAPI(FakeBotAPI):
    """FakeBotAPI that answers 429 above `overall` sends a second, or 1 a second per chat."""

    def __init__(
        self, *, overall: int = 30, per_chat: float = 1.0, latency: float = 0.0, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.overall = overall
        self.per_chat = per_chat
        self.latency = latency
        self.rejected = 0
        self._window: deque[float] = deque()
        self._chat_last: dict[Any, float] = {}
        self._limits = threading.Lock()

    def dispatch(self, token: str, method: str, params: dict[str, Any]) -> JSONDict:
        if self.latency:
            time.sleep(self.latency)  # the HTTP server runs each request in its own thread
        name = method.lower()
        if name.startswith("send") and name != "sendchataction":
            chat = params.get("chat_id")
            now = time.monotonic()
            with self._limits:
                while self._window and now - self._window[0] >= 1.0:
                    self._window.popleft()
                last = self._chat_last.get(chat)
                if len(self._window) >= self.overall or (
                    last is not None and now - last < self.per_chat
                ):
                    self.rejected += 1
                    return {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1},
                    }
                self._window.append(now)
                self._chat_last[chat] = now
        return super().dispatch(token, method, params)


def serve_in_child(conn: Any, token: str, latency: float) -> None:
    """Run a LimitedBotAPI in this (child) process until asked for its record.

    Another process, so the server's threads never wait for the sender's GIL: arrival
    times are then as uneven as the network makes them, not as our own process does.
    """
    api = LimitedBotAPI(token=token, latency=latency)
    api.start()
    conn.send(api.base_url)
    conn.recv()  # "report"
    sends = [(c.params.get("chat_id"), c.at, c.ok) for c in api.calls_of("sendMessage")]
    conn.send((sends, api.rejected))
    api.stop()
