"""The chat screen: prompt_toolkit for the full-screen layout and keys, rich for the messages.

┌ title: who you play now, and which other roles have news
│ the chat, newest at the bottom (PgUp/PgDn scroll)
│ the menu (the bot's reply keyboard), numbered after the message buttons
│ hints
└ › what you type
"""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import Float, FloatContainer, HSplit, Layout, VSplit, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.dimension import Dimension
from prompt_toolkit.layout.menus import CompletionsMenu
from prompt_toolkit.styles import Style

from bot.demo.render import Line, chat_lines, menu_text, to_lines
from bot.demo.session import DemoSession

STYLE = Style.from_dict(
    {
        "title": "reverse bold",
        "title.news": "reverse bold fg:ansiyellow",
        "menu": "bg:#303030",
        "hints": "fg:ansibrightblack",
        "prompt": "fg:ansicyan bold",
    }
)
FIXED_ROWS = 3  # title, hints, input


class Commands(Completer):
    """Completes what starts with "/" from the bot's command menu and the demo's commands."""

    def __init__(self, session: DemoSession) -> None:
        """Complete for this session's current person."""
        self.session = session

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        """Commands that start with what was typed."""
        typed = document.text_before_cursor
        if not typed.startswith("/"):
            return
        for command, description in self.session.commands():
            if command.startswith(typed) and command != typed:
                yield Completion(command, -len(typed), display_meta=description)


class Terminal:
    """The full-screen chat for one DemoSession."""

    def __init__(self, session: DemoSession) -> None:
        """Lay out the screen and bind the keys."""
        self.session = session
        self.scroll = 0  # lines scrolled back from the newest
        self._cache: dict[tuple[int, int, int], list[Line]] = {}
        self.input = Buffer(
            multiline=False,
            accept_handler=self._accept,
            completer=Commands(session),
            complete_while_typing=True,
        )
        keys = KeyBindings()
        keys.add("c-d")(self._ctrl_d)
        keys.add("c-c")(self._ctrl_c)
        keys.add("pageup")(lambda event: self._scroll_by(+1))
        keys.add("pagedown")(lambda event: self._scroll_by(-1))
        screen = HSplit(
            [
                Window(FormattedTextControl(self._title), height=1, style="class:title"),
                Window(FormattedTextControl(self._chat), wrap_lines=False),
                Window(
                    FormattedTextControl(self._menu),
                    height=lambda: Dimension.exact(len(self._menu_lines())),
                    style="class:menu",
                ),
                Window(FormattedTextControl(self._hints), height=1, style="class:hints"),
                VSplit(
                    [
                        Window(
                            FormattedTextControl([("class:prompt", "› ")]),
                            width=2,
                            dont_extend_width=True,
                        ),
                        Window(BufferControl(self.input), height=1),
                    ]
                ),
            ]
        )
        body = FloatContainer(
            screen,
            floats=[Float(xcursor=True, ycursor=True, content=CompletionsMenu(max_height=8))],
        )
        self.app: Application[None] = Application(
            layout=Layout(body, focused_element=self.input),
            key_bindings=keys,
            style=STYLE,
            full_screen=True,
            mouse_support=False,
        )
        session.on_change = self.app.invalidate

    async def run(self) -> None:
        """Until /quit or Ctrl-D."""
        await self.app.run_async()

    # ------------------------------------------------------------------ keys and input

    def _accept(self, buffer: Buffer) -> bool:
        self.scroll = 0
        if not self.session.handle(buffer.text):
            self.app.exit()
        return False  # clear the line

    def _ctrl_d(self, event: KeyPressEvent) -> None:
        if self.input.text:
            self.input.delete()
        else:
            event.app.exit()

    def _ctrl_c(self, event: KeyPressEvent) -> None:
        if self.input.text:
            self.input.reset()
        else:
            event.app.exit()

    def _scroll_by(self, pages: int) -> None:
        step = max(self._chat_height() - 2, 1)
        self.scroll = max(0, self.scroll + pages * step)
        self.app.invalidate()

    # ------------------------------------------------------------------ drawing

    def _size(self) -> tuple[int, int]:
        size = self.app.output.get_size()
        return size.columns, size.rows

    def _lines(self) -> list[Line]:
        width, _ = self._size()
        chat = self.session.persona.chat
        key = (chat.user_id, chat.revision, width)
        lines = self._cache.get(key)
        if lines is None:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != chat.user_id}
            lines = self._cache[key] = chat_lines(chat, self.session.tr, width)
        return lines

    def _menu_lines(self) -> list[Line]:
        width, _ = self._size()
        text = menu_text(self.session.persona.chat, self.session.tr)
        return to_lines(text, width) if text is not None else []

    def _chat_height(self) -> int:
        _, rows = self._size()
        return max(rows - FIXED_ROWS - len(self._menu_lines()), 1)

    def _chat(self) -> StyleAndTextTuples:
        lines = self._lines()
        height = self._chat_height()
        self.scroll = min(self.scroll, max(len(lines) - height, 0))
        end = len(lines) - self.scroll
        shown = lines[max(end - height, 0) : end]
        return _join(shown)

    def _menu(self) -> StyleAndTextTuples:
        return _join(self._menu_lines())

    def _title(self) -> StyleAndTextTuples:
        session = self.session
        tr = session.tr
        persona = session.persona
        out: StyleAndTextTuples = [
            (
                "class:title",
                " "
                + tr.t("demo.title", role=session.role_name(persona.role), name=persona.full_name),
            )
        ]
        news = session.unread_roles()
        if news:
            roles = ", ".join(f"/as {r.value}" for r in news)
            out.append(("class:title.news", "  " + tr.t("demo.news", roles=roles)))
        return out

    def _hints(self) -> StyleAndTextTuples:
        tr = self.session.tr
        hint = tr.t("demo.hints.scrolled") if self.scroll else tr.t("demo.hints")
        return [("class:hints", " " + hint)]


def _join(lines: list[Line]) -> StyleAndTextTuples:
    out: StyleAndTextTuples = []
    for index, line in enumerate(lines):
        if index:
            out.append(("", "\n"))
        out.extend(line)
    return out
