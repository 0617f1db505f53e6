"""The local Bot API with Telegram's sending limits enforced, for the broadcast benchmark.

A subclass, kept in bench/ so the fake itself stays as it is: at most `overall` send*
calls in any sliding second (Telegram: ~30 messages a second to different chats) and one a
second per chat; beyond that it answers 429 with retry_after=1, as Telegram does. An
optional `latency` delays every answer, like a Bot API that is not on localhost.

In a child process (`serve_in_child`) it also plays people who type `/dues` while a
broadcast runs, and reports every send and every 429 with the fake's own clock.
"""

from __future__ import annotations

import random
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


class Askers:
    """People who type `/dues` at random moments (a Poisson stream), from a thread.

    The update is handed to the bot `latency` after the person sent it (the inbound leg),
    so the recorded moment of each ask is that much earlier than the queueing.
    """

    def __init__(self, api: LimitedBotAPI) -> None:
        self.api = api
        self.asks: list[tuple[int, float]] = []
        self._thread: threading.Thread | None = None

    def start(self, users: list[int], per_second: float, seconds: float, seed: int) -> None:
        """Ask for `seconds`, `per_second` on average, each time a random one of `users`."""
        rng = random.Random(seed)

        def run() -> None:
            end = time.monotonic() + seconds
            moment = time.monotonic()
            while True:
                moment += rng.expovariate(per_second)
                if moment >= end:
                    return
                time.sleep(max(0.0, moment - time.monotonic()))
                user = rng.choice(users)
                self.api.send_message(user_id=user, text="/dues", language_code="uk")
                self.asks.append((user, time.monotonic() - self.api.latency))

        self._thread = threading.Thread(target=run, name="askers", daemon=True)
        self._thread.start()

    def wait(self) -> list[tuple[int, float]]:
        """Block until the stream has ended; every ask made."""
        if self._thread is not None:
            self._thread.join()
        asks, self.asks = self.asks, []
        return asks


def serve_in_child(conn: Any, token: str, latency: float) -> None:
    """Run a LimitedBotAPI in this (child) process, driven by commands over `conn`.

    Another process, so the server's threads never wait for the sender's GIL: arrival
    times are then as uneven as the network makes them, not as our own process does.
    Commands: ("asks", users, per_second, seconds, seed) starts askers; ("asks_done",)
    waits for them and answers [(user, moment)]; ("sends",) answers every sendMessage so
    far as (chat, arrival, ok), a 429 being not ok; "report", the last command, answers
    (sends, count of 429s) and stops the server.
    """
    api = LimitedBotAPI(token=token, latency=latency)
    api.start()
    conn.send(api.base_url)
    askers = Askers(api)
    try:
        while True:
            command = conn.recv()
            if command == "report":
                sends = [
                    (c.params.get("chat_id"), c.at, c.ok) for c in api.calls_of("sendMessage")
                ]
                conn.send((sends, api.rejected))
                return
            name, *args = command
            if name == "asks":
                askers.start(*args)
                conn.send(None)
            elif name == "asks_done":
                conn.send(askers.wait())
            elif name == "sends":
                calls = api.calls_of("sendMessage")
                conn.send([(c.params.get("chat_id"), c.at, c.ok) for c in calls])
    finally:
        api.stop()
