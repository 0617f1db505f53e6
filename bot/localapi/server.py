"""The HTTP side of the local Bot API: the server, request decoding, and FakeBotAPI itself.

python-telegram-bot (PTB) calls ``POST {base_url}{token}/{method}``.  The body is either
``application/json`` (as the Bot API documents and as PTB sends when told to), or
``application/x-www-form-urlencoded`` where *string* values are sent verbatim and every other
value (ints, bools, dicts, lists) is JSON-encoded, or ``multipart/form-data`` (same rule for
the text fields) when a file is uploaded.  Because a form value ``"123"`` may be the text
"123" or the integer 123, parameters known to be strings in the Bot API are kept verbatim and
all others are JSON-decoded when they parse (see ``_STRING_FIELDS``).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from bot.localapi.methods import BotMethods
from bot.localapi.state import ApiError, Call
from bot.localapi.users import UserSide

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
        raise ApiError(400, "Bad Request: multipart boundary is missing")
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
                raise ApiError(400, f"Bad Request: can't parse JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: JSON body must be an object")
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


class FakeBotAPI(UserSide, BotMethods):
    """The local Bot API: state, methods and user side, served over HTTP on 127.0.0.1."""

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
        super().__init__(
            token=token,
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            host=host,
            port=port,
        )
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}

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

    # ------------------------------------------------------------------ HTTP requests

    def _handle_http(self, raw_path: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        at = time.monotonic()
        path, _, query = raw_path.partition("?")
        if not path.startswith("/bot") or "/" not in path[4:]:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        token, _, method = path[4:].partition("/")
        token, method = unquote(token), unquote(method)
        try:
            params = _decode_params(query, content_type, body)
        except (ApiError, UnicodeDecodeError) as exc:
            err = exc if isinstance(exc, ApiError) else ApiError(400, f"Bad Request: {exc}")
            params, response = {}, err.payload()
        else:
            response = self.dispatch(token, method, params)
        with self._lock:
            call = Call(method, params, token, at, response, len(self.calls))
            self.calls.append(call)
            self._calls_cond.notify_all()
        # Serialise outside the lock: stored messages are replaced, never mutated in place.
        payload = json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode()
        status = 200 if response.get("ok") else int(response.get("error_code", 500))
        return status, payload
