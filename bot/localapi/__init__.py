"""A local Telegram Bot API over real HTTP: the end-to-end tests, the benchmarks and the demo.

Start it, point python-telegram-bot at ``base_url`` (``BOT_API_URL``), then act as people in
chats with the bot and see what it answers.  Standard library only: it imports nothing from
the rest of the project nor from python-telegram-bot, so it can serve any Bot API client.

Modules, by concern:
- ``server``: the HTTP server, request decoding (JSON, form and multipart bodies) and
  ``FakeBotAPI``, which puts the other parts together;
- ``state``: chats, messages, queued updates, the record of calls and waiting on it;
- ``methods``: the Bot API methods, with Telegram's checks and error texts;
- ``users``: the user side: send a message, press a button, read the bot's messages, be told
  of changes as they happen;
- ``html``: Telegram-flavoured HTML to text and entities, with Telegram's strictness.

Typical use::

    with FakeBotAPI(token=TOKEN) as fake:
        ...start the bot with base_url=fake.base_url...
        fake.send_message(user_id=1, text="/start")
        reply = fake.wait_for_reply(1)
        assert "Welcome" in reply.params["text"]
"""

from bot.localapi.html import parse_html
from bot.localapi.server import FakeBotAPI
from bot.localapi.state import Call, ChatEvent

__all__ = ["Call", "ChatEvent", "FakeBotAPI", "parse_html"]
