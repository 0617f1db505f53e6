"""A local fake of the Telegram Bot API over real HTTP.

Used by end-to-end tests (start the real bot with ``BOT_API_URL=fake.base_url``), by
benchmarks and by the offline demo.  Standard library only, so it imports without the rest
of the project.

python-telegram-bot (PTB) calls ``POST {base_url}{token}/{method}``; the body is
``application/x-www-form-urlencoded`` where *string* values are sent verbatim and every
other value (ints, bools, dicts, lists) is JSON-encoded, or ``multipart/form-data`` (same
rule for the text fields) when a file is uploaded.  Because a form value ``"123"`` may be
the text "123" or the integer 123, parameters known to be strings in the Bot API are kept
verbatim and all others are JSON-decoded when they parse (see ``_STRING_FIELDS``).

Typical use::

    with FakeBotAPI(token=TOKEN) as fake:
        ...start the bot with base_url=fake.base_url...
        fake.send_message(user_id=1, text="/start")
        reply = fake.wait_for_reply(1)
        assert "Welcome" in reply.params["text"]
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import http.client
import itertools
import json
import re
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram.request import BaseRequest, RequestData

__all__ = ["Call", "FakeBotAPI", "parse_html"]

JSONDict = dict[str, Any]
_T = TypeVar("_T")

# Bot API parameters whose type is String: never JSON-decode these form values, otherwise a
# message text "123" or "true" would turn into an int/bool.
_STRING_FIELDS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url",
        "secret_token", "ip_address", "action", "language_code", "description",
        "short_description", "name", "title", "query", "emoji", "sticker", "document",
        "photo", "audio", "video", "voice", "animation", "video_note", "thumbnail",
        "file_id", "business_connection_id", "message_effect_id", "question", "explanation",
        "explanation_parse_mode", "question_parse_mode", "payload", "currency",
        "provider_token", "start_parameter", "custom_title", "invite_link", "first_name",
        "last_name", "phone_number", "vcard", "address", "foursquare_id", "foursquare_type",
        "google_place_id", "google_place_type", "game_short_name", "result_id",
        "next_offset", "error_message", "shipping_query_id", "pre_checkout_query_id",
        "quote", "quote_parse_mode", "caption_parse_mode", "prefix", "type",
    }
)  # fmt: skip

# Parameters that hold JSON objects/arrays; a JSON body may still carry them as strings.
_JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "allowed_updates", "commands",
        "scope", "menu_button", "link_preview_options", "reply_parameters", "media",
    }
)  # fmt: skip

_REPLY_METHODS = frozenset(
    {"sendmessage", "editmessagetext", "senddocument", "editmessagecaption"}
)
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


class _ApiError(Exception):
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
class _Failure:
    code: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    generation: int
    last_error_date: int | None = None
    last_error_message: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


# --------------------------------------------------------------------------- HTML parse mode

_HTML_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "code": "code", "pre": "pre", "a": "text_link",
    "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}  # fmt: skip
_ATTR_RE = re.compile(
    r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
# Telegram decodes only these character references; anything else stays literal.
_CHARREF_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _charref(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref in _NAMED_REFS:
        return _NAMED_REFS[ref]
    try:
        return chr(int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:]))
    except (ValueError, OverflowError):
        return m.group(0)


def _utf16_len(s: str) -> int:
    # Entity offsets/lengths count UTF-16 code units; characters outside the BMP count twice.
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into (plain text, entities); raise ValueError like Telegram.

    Like TDLib, every ``<`` starts a tag, so unescaped user input such as ``a < b`` or
    ``<script>`` is rejected, which is exactly the bug this fake wants to surface.
    """
    out: list[str] = []
    pos16 = 0
    entities: list[JSONDict] = []
    # stack entries: (tag, start offset in UTF-16, attributes)
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(text)
    while i < n:
        lt = text.find("<", i)
        chunk = text[i:] if lt < 0 else text[i:lt]
        if chunk:
            plain = _CHARREF_RE.sub(_charref, chunk) if "&" in chunk else chunk
            out.append(plain)
            pos16 += _utf16_len(plain)
        if lt < 0:
            break
        byte_off = len(text[:lt].encode("utf-8"))
        gt = text.find(">", lt)
        if lt + 1 < n and text[lt + 1] == "/":
            if gt < 0:
                raise ValueError(f"Unclosed end tag at byte offset {byte_off}")
            name = text[lt + 2 : gt].strip().lower()
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {byte_off}")
            open_name, start, attrs = stack.pop()
            if name != open_name:
                raise ValueError(
                    f'Unmatched end tag at byte offset {byte_off}, expected "</{open_name}>",'
                    f' found "</{name}>"'
                )
            _close_entity(open_name, start, pos16, attrs, stack, entities)
            i = gt + 1
            continue
        j = lt + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        name = text[lt + 1 : j].lower()
        if j >= n:
            raise ValueError(f"Unclosed start tag at byte offset {byte_off}")
        if name not in _HTML_ENTITY_TYPES:
            raise ValueError(f'Unsupported start tag "{name}" at byte offset {byte_off}')
        if gt < 0:
            raise ValueError(f"Unclosed start tag at byte offset {byte_off}")
        attrs = {
            m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
            for m in _ATTR_RE.finditer(text[j:gt])
        }
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ValueError(f'Unsupported start tag "span" at byte offset {byte_off}')
        stack.append((name, pos16, attrs))
        i = gt + 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(
    name: str,
    start: int,
    end: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
    entities: list[JSONDict],
) -> None:
    kind = _HTML_ENTITY_TYPES[name]
    lang = attrs.get("class", "")
    if name == "code" and stack and stack[-1][0] == "pre" and lang.startswith("language-"):
        # <pre><code class="language-x"> is one pre entity with a language, not two.
        stack[-1][2]["language"] = lang.removeprefix("language-")
        return
    if end <= start:
        return  # Telegram drops empty entities
    entity: JSONDict = {"type": kind, "offset": start, "length": end - start}
    if name == "a":
        if not attrs.get("href"):
            return
        entity["url"] = attrs["href"]
    elif name == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    entities.append(entity)


# --------------------------------------------------------------------------- request decoding


def _decode_form_value(key: str, value: str) -> Any:
    if key in _STRING_FIELDS or not value:
        return value
    first = value[0]
    if first in "{[-0123456789" or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _normalize(params: dict[str, Any]) -> dict[str, Any]:
    """Make JSON-body and form-body params look the same (chat_id int, JSON fields decoded)."""
    for key in ("chat_id", "user_id", "from_chat_id"):
        val = params.get(key)
        if isinstance(val, str) and val.lstrip("-").isdigit():
            params[key] = int(val)
    for key in _JSON_FIELDS:
        val = params.get(key)
        if isinstance(val, str) and val[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(val)
    return params


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _ApiError(400, "Bad Request: multipart boundary is missing")
    delimiter = b"--" + match.group(1).encode("latin-1")
    params: dict[str, Any] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, sep, v = line.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        disposition = headers.get("content-disposition", "")
        name_m = re.search(r'\bname="([^"]*)"', disposition)
        if not name_m:
            continue
        name = name_m.group(1)
        file_m = re.search(r'\bfilename="([^"]*)"', disposition)
        if file_m is not None:
            params[name] = {
                "filename": _unescape_filename(file_m.group(1)),
                "content": content,
                "content_type": headers.get("content-type", "application/octet-stream"),
            }
        else:
            params[name] = _decode_form_value(name, content.decode("utf-8"))
    return params


def _unescape_filename(name: str) -> str:
    # httpx (like browsers, per WHATWG) percent-escapes only '"', CR and LF in filename="...".
    return name.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def _decode_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {
        k: _decode_form_value(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
    }
    ctype = content_type.split(";", 1)[0].strip().lower()
    if body:
        if ctype == "application/json":
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise _ApiError(400, f"Bad Request: can't parse JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise _ApiError(400, "Bad Request: JSON body must be an object")
            params.update(data)
        elif ctype == "multipart/form-data":
            params.update(_parse_multipart(body, content_type))
        else:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            params.update({k: _decode_form_value(k, v) for k, v in form})
    return _normalize(params)


# --------------------------------------------------------------------------- HTTP plumbing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: PTB's httpx pool reuses connections
    disable_nagle_algorithm = True  # headers and body are two writes; avoid 40 ms stalls
    server: _Server

    def setup(self) -> None:
        """Register the connection so stop() can close idle keep-alive connections."""
        super().setup()
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.fake._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr logging."""

    def do_POST(self) -> None:
        """Serve a Bot API call sent as POST."""
        self._serve(self._read_body())

    def do_GET(self) -> None:
        """Serve a Bot API call sent as GET with a query string."""
        self._serve(b"")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # skip trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, body: bytes) -> None:
        status, payload = self.server.fake._handle_http(
            self.path, self.headers.get("Content-Type", ""), body
        )
        try:
            # send_response_only: no Server/Date headers, less work per request.
            self.send_response_only(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            # The client gave up (e.g. PTB cancelled a long poll on shutdown).
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], fake: FakeBotAPI) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's socket.getfqdn() reverse DNS lookup (can be slow)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects; print anything else (a bug in the fake) as usual."""
        if not isinstance(sys.exception(), OSError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------- the fake


class FakeBotAPI:
    """In-process fake Telegram Bot API server; see the module docstring."""

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
        """Configure the fake; ``token=None`` accepts any token. Call start() to listen."""
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

        self.calls: list[Call] = []
        self._updates: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._chats: dict[int, JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._bot_messages: dict[int, dict[int, JSONDict]] = {}
        self._user_messages: dict[int, dict[int, JSONDict]] = {}
        self._last_action: dict[int, int] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._next_callback_id = 1
        self._answers: list[JSONDict] = []
        self._files: dict[str, tuple[JSONDict, bytes]] = {}  # file_id -> (Document, bytes)
        self._next_file = 1
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}
        self._texts: dict[tuple[str, str], str] = {}  # (kind, language) -> name/description
        self._failures: dict[str, deque[_Failure]] = {}
        self._blocked: set[int] = set()
        self._webhook: _Webhook | None = None
        self._webhook_generation = 0
        self._webhook_threads: list[threading.Thread] = []

        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._stopping = False

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
            "getchat": self._m_get_chat,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBotAPI:
        """Bind the port and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        self._stopping = False
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_port
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeBotAPI:{self.port}",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake long polls, close every connection and join the threads."""
        server = self._server
        if server is None:
            return
        with self._lock:
            self._stopping = True
            self._webhook = None
            self._calls_cond.notify_all()
            self._updates_cond.notify_all()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections.items())
            webhook_threads, self._webhook_threads = self._webhook_threads, []
        for sock, _thread in connections:
            # Keep-alive handler threads block reading the next request; this wakes them.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _sock, thread in connections:
            thread.join(timeout=2.0)
        for thread in webhook_threads:
            thread.join(timeout=12.0)
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=2.0)
        self._server = None
        self._serve_thread = None

    def __enter__(self) -> FakeBotAPI:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()

    @property
    def base_url(self) -> str:
        """The BOT_API_URL value: ``http://host:port/bot`` (PTB appends token and method)."""
        if self._server is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://{self.host}:{self.port}/bot"

    @property
    def url(self) -> str:
        """The server root, ``http://host:port``."""
        if self._server is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://{self.host}:{self.port}"

    def _track_connection(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections[sock] = threading.current_thread()
            else:
                self._connections.pop(sock, None)

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
                length = _utf16_len(command.group(0))
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

    def _queue_update(self, body: JSONDict, chat_id: int) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, **body})
        self._last_action[chat_id] = len(self.calls)
        self._updates_cond.notify_all()
        return update_id

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

    # ------------------------------------------------------------------ observing

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
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    def callback_answers(self) -> list[JSONDict]:
        """Parameters of every accepted answerCallbackQuery, in order."""
        with self._lock:
            return list(self._answers)

    def updates_pending(self) -> int:
        """Updates queued and not yet confirmed (getUpdates offset or webhook delivery)."""
        with self._lock:
            return len(self._updates)

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
            if call.method.lower() in _REPLY_METHODS and pred(call):
                return call, i
        return None, i

    def wait_for_reply(
        self, chat_id: int, *, since: int | None = None, timeout: float = 10.0
    ) -> Call:
        """Block until a successful sendMessage/editMessageText/sendDocument to chat_id.

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
                _Failure(error_code, description, retry_after, times)
            )

    def block_user(self, user_id: int) -> None:
        """Make send*/edit*/copy*/forward* to that chat answer 403 (bot blocked by user)."""
        with self._lock:
            self._blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        """Undo block_user."""
        with self._lock:
            self._blocked.discard(user_id)

    # ------------------------------------------------------------------ request handling

    def _handle_http(self, raw_path: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        at = time.monotonic()
        path, _, query = raw_path.partition("?")
        if not path.startswith("/bot") or "/" not in path[4:]:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        token, _, method = path[4:].partition("/")
        token, method = unquote(token), unquote(method)
        try:
            params = _decode_params(query, content_type, body)
        except (_ApiError, UnicodeDecodeError) as exc:
            err = exc if isinstance(exc, _ApiError) else _ApiError(400, f"Bad Request: {exc}")
            params, response = {}, err.payload()
        else:
            response = self._dispatch(token, method, params)
        with self._lock:
            call = Call(method, params, token, at, response, len(self.calls))
            self.calls.append(call)
            self._calls_cond.notify_all()
        # Serialise outside the lock: stored messages are replaced, never mutated in place.
        payload = json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode()
        status = 200 if response.get("ok") else int(response.get("error_code", 500))
        return status, payload

    def _dispatch(self, token: str, method: str, params: dict[str, Any]) -> JSONDict:
        name = method.lower()
        with self._lock:
            try:
                if self.token is not None and token != self.token:
                    raise _ApiError(401, "Unauthorized")
                self._check_injected_failure(name)
                handler = self._methods.get(name)
                if handler is None:
                    raise _ApiError(404, "Not Found: method not found")
                if name.startswith(_BLOCKABLE_PREFIXES) and params.get("chat_id") in self._blocked:
                    raise _ApiError(403, "Forbidden: bot was blocked by the user")
                return {"ok": True, "result": handler(params)}
            except _ApiError as err:
                return err.payload()
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # Mistyped parameters (e.g. limit="abc"); Telegram answers 400 for these.
                return _ApiError(400, f"Bad Request: invalid parameters: {exc!r}").payload()

    def _check_injected_failure(self, name: str) -> None:
        queue = self._failures.get(name)
        if not queue:
            return
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        parameters = {"retry_after": failure.retry_after} if failure.retry_after else None
        raise _ApiError(failure.code, failure.description, parameters)

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

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _m_set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, 'Bad Request: parameter "commands" can\'t be parsed')
        if len(commands) > 100:
            raise _ApiError(400, "Bad Request: too many commands")
        cleaned = []
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_RE.fullmatch(str(cmd.get("command"))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(cmd.get("description") or "")
            if not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": cmd["command"], "description": description})
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = cleaned
        return True

    def _m_get_my_commands(self, params: dict[str, Any]) -> list[JSONDict]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return list(self._commands.get(key, []))

    def _m_delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _m_set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
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
            raise _ApiError(400, "Bad Request: chat not found")
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
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # ------------------------------------------------------------------ methods: updates

    def _m_get_updates(self, params: dict[str, Any]) -> list[JSONDict]:
        if self._webhook is not None:
            raise _ApiError(409, _ERR_WEBHOOK_ACTIVE)
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
                raise _ApiError(409, _ERR_POLL_CONFLICT)

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
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        self._webhook_generation += 1
        hook = _Webhook(
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

    def _webhook_loop(self, hook: _Webhook) -> None:
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
            raise _ApiError(400, _ERR_QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self._answers.append(dict(params))
        return True

    # ------------------------------------------------------------------ methods: messages

    def _require_chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise _ApiError(400, "Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _require_message_id(params: dict[str, Any]) -> int:
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
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
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        # Markdown modes are passed through unparsed (the project uses HTML).
        return text, list(explicit_entities) if isinstance(explicit_entities, list) else []

    @staticmethod
    def _inline_markup(params: dict[str, Any]) -> JSONDict | None:
        markup = params.get("reply_markup")
        if isinstance(markup, str) and markup:
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if not isinstance(markup, dict):
            return None
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _ApiError(400, "Bad Request: can't parse inline keyboard button")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _ApiError(400, "Bad Request: can't parse inline keyboard button")
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            return markup
        # Reply keyboards / remove / force_reply are not echoed in the returned Message.
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

    def _store(self, chat_id: int, msg: JSONDict) -> None:
        self._bot_messages.setdefault(chat_id, {})[msg["message_id"]] = msg

    def _send(self, chat_id: int, params: dict[str, Any], content: JSONDict) -> JSONDict:
        """A new bot message with `content`, the request's inline keyboard, stored in the chat."""
        markup = self._inline_markup(params)  # validated before a message id is spent
        msg = self._new_bot_message(chat_id, params)
        msg.update(content)
        if markup is not None:
            msg["reply_markup"] = markup
        self._store(chat_id, msg)
        return msg

    def _m_send_message(self, params: dict[str, Any]) -> JSONDict:
        chat_id = self._require_chat(params)
        text, entities = self._parse_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
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
            raise _ApiError(400, "Bad Request: message to edit not found")
        return chat_id, msg

    def _apply_edit(self, chat_id: int, old: JSONDict, changes: JSONDict) -> JSONDict:
        current = {k: v for k, v in old.items() if k != "edit_date"}
        new = {k: v for k, v in current.items() if k not in changes}
        new.update({k: v for k, v in changes.items() if v not in (None, [])})
        if new == current:
            raise _ApiError(400, _ERR_NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._store(chat_id, new)
        return new

    def _m_edit_message_text(self, params: dict[str, Any]) -> JSONDict | bool:
        text, entities = self._parse_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._inline_markup(params)
        found = self._find_to_edit(params)
        if found is None:
            return True
        chat_id, old = found
        if "text" not in old:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        # An edit without reply_markup removes the inline keyboard, exactly like Telegram.
        return self._apply_edit(
            chat_id, old, {"text": text, "entities": entities, "reply_markup": markup}
        )

    def _m_edit_message_caption(self, params: dict[str, Any]) -> JSONDict | bool:
        caption, entities = self._parse_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        markup = self._inline_markup(params)
        found = self._find_to_edit(params)
        if found is None:
            return True
        chat_id, old = found
        if "text" in old:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(
            chat_id,
            old,
            {"caption": caption or None, "caption_entities": entities, "reply_markup": markup},
        )

    def _m_edit_message_reply_markup(self, params: dict[str, Any]) -> JSONDict | bool:
        markup = self._inline_markup(params)
        found = self._find_to_edit(params)
        if found is None:
            return True
        chat_id, old = found
        return self._apply_edit(chat_id, old, {"reply_markup": markup})

    def _m_delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = self._require_chat(params)
        store = self._bot_messages.get(chat_id, {})
        if store.pop(self._require_message_id(params), None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    def _m_send_document(self, params: dict[str, Any]) -> JSONDict:
        chat_id = self._require_chat(params)
        doc = params.get("document")
        if isinstance(doc, dict) and "content" in doc:
            file_id = f"BQACAgIAAxkBAAI{self._next_file:08d}"
            document: JSONDict = {
                "file_id": file_id,
                "file_unique_id": f"AgAD{self._next_file:08d}",
                "file_name": doc.get("filename") or "document",
                "mime_type": doc.get("content_type") or "application/octet-stream",
                "file_size": len(doc["content"]),
            }
            self._next_file += 1
            self._files[file_id] = (document, doc["content"])
        elif isinstance(doc, str) and doc in self._files:
            document = self._files[doc][0]  # re-sent by file_id: the same Document
        elif isinstance(doc, str) and urlsplit(doc).scheme in ("http", "https"):
            # Telegram would download the URL; the fake only makes up the Document.
            document = {
                "file_id": f"BQACAgIAAxkBAAU{zlib.crc32(doc.encode()):010d}",
                "file_unique_id": f"AgAU{zlib.crc32(doc.encode()):010d}",
                "file_name": urlsplit(doc).path.rsplit("/", 1)[-1] or "document",
            }
        elif isinstance(doc, str) and doc:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        else:
            raise _ApiError(400, "Bad Request: there is no document in the request")
        caption, entities = self._parse_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        content: JSONDict = {"document": document}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._send(chat_id, params, content)


# ---------------------------------------------------------------- in-process, without HTTP


@dataclass
class RecordedCall:
    """One Bot API call an in-process application made."""

    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    """The fake Bot API in-process: a python-telegram-bot request that answers every call
    like Telegram would and remembers it (handler tests and benchmarks use it)."""

    BOT_ID = 700000001
    BOT_USERNAME = "amu_test_bot"

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._message_ids = itertools.count(1000)
        self.fail: dict[str, Exception] = {}

    @property
    def read_timeout(self) -> float:
        """How long a call may take (irrelevant offline)."""
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(  # type: ignore[override]
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        """Record the call and answer with a plausible result."""
        api = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = {}
        for key, value in (request_data.parameters if request_data else {}).items():
            params[key] = value
        if request_data is not None and request_data.contains_files:
            # Uploaded files: {field: (file name, bytes, MIME type)}.
            params["_files"] = dict(request_data.multipart_data)
        self.calls.append(RecordedCall(api, params))
        if api in self.fail:
            raise self.fail.pop(api)
        return 200, json.dumps({"ok": True, "result": self._result(api, params)}).encode()

    def _result(self, api: str, params: dict[str, Any]) -> Any:
        if api == "getMe":
            return {
                "id": self.BOT_ID,
                "is_bot": True,
                "first_name": "AMU",
                "username": self.BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if api == "sendDocument":
            chat_id = int(params.get("chat_id", 0))
            name, content, mime = next(iter(params.get("_files", {}).values()))
            return {
                "message_id": next(self._message_ids),
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": self.BOT_ID, "is_bot": True, "first_name": "AMU"},
                "document": {
                    "file_id": f"doc{len(self.calls)}",
                    "file_unique_id": f"u{len(self.calls)}",
                    "file_name": name,
                    "mime_type": mime,
                    "file_size": len(content),
                },
            }
        if api in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            return {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": self.BOT_ID, "is_bot": True, "first_name": "AMU"},
                "text": params.get("text", ""),
            }
        return True

    # What tests look at
    def of(self, method: str) -> list[RecordedCall]:
        """Calls of one Bot API method."""
        return [c for c in self.calls if c.method == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts sent or edited, in order (optionally to one chat)."""
        return [
            c.params["text"]
            for c in self.calls
            if c.method in ("sendMessage", "editMessageText")
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]

    def answers(self) -> list[str | None]:
        """Texts of answerCallbackQuery calls."""
        return [c.params.get("text") for c in self.of("answerCallbackQuery")]

    def buttons(self, call: RecordedCall | None = None) -> list[str]:
        """Callback data of the inline buttons on a call (default: the last message sent)."""
        if call is None:
            sent = [c for c in self.calls if c.method in ("sendMessage", "editMessageText")]
            call = sent[-1]
        markup = call.params.get("reply_markup")
        if not markup:
            return []
        data = json.loads(markup) if isinstance(markup, str) else markup
        return [
            b["callback_data"]
            for row in data.get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]

    def reset(self) -> None:
        """Forget what was recorded."""
        self.calls.clear()
