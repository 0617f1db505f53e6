"""How the command line speaks: one language per run, for help, output and every error.

Kept light on purpose: `amu-bot --help` and usage errors import only this, Typer and Babel;
SQLAlchemy, pydantic and telegram are imported by the commands that use them.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from typer import _click  # Typer ≥ 0.29 ships its own Click; help and errors go through it
from typer._click.exceptions import (
    BadOptionUsage,
    BadParameter,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)

from bot.i18n import N_, Tr, translator_for
from locales import LANGUAGES

if TYPE_CHECKING:
    from bot.config import ConfigError

LANG_OPTION = "--lang"
PROG = "amu-bot"


def pick_language(args: Sequence[str], environ: dict[str, str] | None = None) -> str:
    """`--lang uk|en` anywhere on the line, else AMU_LANG, else the locale; else Ukrainian."""
    env = os.environ if environ is None else environ
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = None
        if arg == LANG_OPTION and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(LANG_OPTION + "="):
            value = arg.partition("=")[2]
        if value in LANGUAGES:
            return value
    wanted = env.get("AMU_LANG", "").strip().lower()
    if wanted in LANGUAGES:
        return wanted
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "uk"
    return LANGUAGES[0]


def make_tr(lang: str) -> Tr:
    """The run's translator; times in TIMEZONE (Kyiv if it is unset or not a zone)."""
    try:
        tz = ZoneInfo(os.environ.get("TIMEZONE") or "Europe/Kyiv")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("Europe/Kyiv")
    return translator_for(lang, tz)


# --- help -------------------------------------------------------------------------------------


def _width() -> int:
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, 100))


def _help_text(tr: Tr, text: str | None) -> str:
    """A help text given as a message id is translated; anything else is shown as written."""
    if not text:
        return ""
    return tr.t(text)


def _param_name(param: _click.Parameter) -> str:
    if param.param_type_name == "argument":
        return (param.name or "").upper()
    return ", ".join(param.opts)


def _param_value(param: _click.Parameter, tr: Tr) -> str:
    """What an option takes: its choices, or a placeholder; nothing for a flag."""
    if param.param_type_name == "argument" or getattr(param, "is_flag", False):
        return ""
    choices = _choices(param)
    if choices:
        return "[" + "|".join(choices) + "]"
    metavar = getattr(param, "metavar", None)
    if metavar:
        return tr.t(str(metavar))
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is int:
        return tr.t("cli.help.metavar.number")
    if "Path" in str(annotation):
        return tr.t("cli.help.metavar.file")
    return tr.t("cli.help.metavar.text")


def _choices(param: _click.Parameter) -> list[str]:
    choices = getattr(getattr(param, "type_descriptor", None), "choices", None) or ()
    return [str(getattr(c, "value", c)) for c in choices]


def _param_help(param: _click.Parameter, tr: Tr) -> str:
    text = _help_text(tr, getattr(param, "help", None))
    extra = []
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        extra.append(tr.t("cli.help.range", low=low, high=high))
    default = param.default
    if (
        param.param_type_name == "option"
        and default not in (None, False, "")
        and not getattr(param, "is_flag", False)
        and getattr(param, "show_default", True) is not False
        and param.expose_value
    ):
        shown = getattr(default, "value", default)
        extra.append(tr.t("cli.help.default", value=shown))
    if param.required:
        extra.append(tr.t("cli.help.required"))
    if extra:
        text = f"{text}  [{'; '.join(extra)}]" if text else f"[{'; '.join(extra)}]"
    return text


def usage_line(ctx: _click.Context, tr: Tr) -> str:
    """`Використання: amu-bot invite [ПАРАМЕТРИ] MEMBER_CODE` for the context's command."""
    cmd = ctx.command
    pieces = [ctx.command_path]
    if any(p.param_type_name == "option" for p in cmd.get_params(ctx)):
        pieces.append(tr.t("cli.help.options_metavar"))
    for p in cmd.params:
        if p.param_type_name == "argument":
            pieces.append(_param_name(p))
    if getattr(cmd, "commands", None):
        pieces.append(tr.t("cli.help.command_metavar"))
    prefix = tr.t("cli.help.usage")
    return f"{prefix} {' '.join(pieces)}"


def render_help(ctx: _click.Context, tr: Tr) -> str:
    """The help page of the context's command, in the run's language."""
    cmd = ctx.command
    formatter = _click.HelpFormatter(width=_width())
    formatter.write(usage_line(ctx, tr) + "\n")
    text = _help_text(tr, cmd.help)
    if text:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(text)
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [
        (_param_name(p), _param_help(p, tr)) for p in params if p.param_type_name == "argument"
    ]
    options = []
    for p in params:
        if p.param_type_name != "option":
            continue
        name = _param_name(p)
        value = _param_value(p, tr)
        help_text = tr.t("cli.help.help_option") if p.name == "help" else _param_help(p, tr)
        options.append((f"{name} {value}".strip(), help_text))
    if arguments:
        with formatter.section(tr.t("cli.help.arguments")):
            formatter.write_dl(arguments)
    if options:
        with formatter.section(tr.t("cli.help.options")):
            formatter.write_dl(options)
    commands = getattr(cmd, "commands", None) or {}
    rows = []
    for name, sub in commands.items():
        if getattr(sub, "hidden", False):
            continue
        rows.append((name, _help_text(tr, sub.help)))
    if rows:
        with formatter.section(tr.t("cli.help.commands")):
            formatter.write_dl(rows)
    return formatter.getvalue().rstrip("\n")


def localise(command: _click.Command, tr: Tr) -> None:
    """Make every context of the command tree render its help through `render_help`."""

    class LocalContext(_click.Context):
        def get_help(self) -> str:
            return render_help(self, tr)

    def walk(cmd: _click.Command) -> None:
        cmd.context_class = LocalContext
        for sub in (getattr(cmd, "commands", None) or {}).values():
            walk(sub)

    walk(command)


# --- usage errors -----------------------------------------------------------------------------


def _hint(param: Any) -> str:
    if param is None:
        return ""
    return _param_name(param)


def usage_error(exc: UsageError, tr: Tr) -> str:
    """A Click/Typer usage error as the lines we print: usage, the problem, where to get help."""
    message = _usage_problem(exc, tr)
    lines = []
    if exc.ctx is not None:
        lines.append(usage_line(exc.ctx, tr))
        lines.append(tr.t("cli.usage.try_help", command=f"{exc.ctx.command_path} --help"))
    lines.append(tr.t("cli.usage.error", message=message))
    return "\n".join(lines)


def _usage_problem(exc: UsageError, tr: Tr) -> str:
    if isinstance(exc, NoSuchOption):
        text = tr.t("cli.usage.no_such_option", option=exc.option_name)
        if exc.possibilities:
            text += " " + tr.t("cli.usage.did_you_mean", options=", ".join(exc.possibilities))
        return text
    if isinstance(exc, MissingParameter):
        name = _hint(exc.param)
        if exc.param is not None and exc.param.param_type_name == "argument":
            return tr.t("cli.usage.missing_argument", name=name)
        return tr.t("cli.usage.missing_option", name=name)
    if isinstance(exc, BadParameter):
        return tr.t("cli.usage.bad_value", name=_hint(exc.param), expected=_expected(exc, tr))
    if isinstance(exc, BadOptionUsage):
        if "requires" in exc.message:
            return tr.t("cli.usage.option_needs_value", option=exc.option_name)
        return tr.t("cli.usage.option_takes_no_value", option=exc.option_name)
    text = exc.message
    if text.startswith("No such command"):
        name = text.partition("'")[2].rpartition("'")[0]
        return tr.t("cli.usage.no_such_command", name=name)
    if text.startswith("Missing command"):
        return tr.t("cli.usage.missing_command")
    if text.startswith("Got unexpected extra argument"):
        extra = text.rpartition("(")[2].rpartition(")")[0]
        return tr.t("cli.usage.extra_arguments", arguments=extra)
    return text


def _expected(exc: BadParameter, tr: Tr) -> str:
    """What the parameter wants, from its declaration (Typer's own wording is English)."""
    param = exc.param
    choices = _choices(param) if param is not None else []
    if choices:
        return tr.t("cli.usage.expected_choice", choices=", ".join(choices))
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return tr.t("cli.usage.expected_range", low=low, high=high)
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is int or "int" in str(annotation):
        return tr.t("cli.usage.expected_integer")
    return exc.message


# --- errors of the world ----------------------------------------------------------------------

OS_ERRORS = {
    errno.ENOENT: N_("cli.os.not_found"),
    errno.EACCES: N_("cli.os.permission"),
    errno.EPERM: N_("cli.os.permission"),
    errno.EISDIR: N_("cli.os.is_directory"),
    errno.ENOTDIR: N_("cli.os.not_directory"),
    errno.ENOSPC: N_("cli.os.no_space"),
    errno.EROFS: N_("cli.os.read_only"),
    errno.ECONNREFUSED: N_("cli.os.connection_refused"),
    errno.EADDRINUSE: N_("cli.os.address_in_use"),
    errno.EADDRNOTAVAIL: N_("cli.os.address_not_available"),
    errno.ETIMEDOUT: N_("cli.os.timed_out"),
    errno.EHOSTUNREACH: N_("cli.os.unreachable"),
    errno.ENETUNREACH: N_("cli.os.unreachable"),
}


def os_error(exc: OSError, tr: Tr) -> str:
    """Why an operating-system call failed, in the run's language."""
    msgid = OS_ERRORS.get(exc.errno or 0)
    if msgid is None:
        import socket

        if isinstance(exc, socket.gaierror):
            return tr.t("cli.os.unknown_host")
        if isinstance(exc, TimeoutError):
            return tr.t("cli.os.timed_out")
        if isinstance(exc, ConnectionRefusedError):
            return tr.t("cli.os.connection_refused")
        return exc.strerror or str(exc) or type(exc).__name__
    return tr.t(msgid)


def config_error(exc: ConfigError, tr: Tr) -> str:
    """A configuration error: one line per wrong variable, in the run's language."""
    if not exc.problems:
        return str(exc)
    lines = [
        f"{p.variable}: {tr.t(p.msgid, **p.params) if p.msgid else p.english}"
        for p in exc.problems
    ]
    if len(lines) == 1 and exc.problems[0].msgid == "config.token_missing":
        return lines[0]
    return tr.t("cli.config_invalid") + "\n  " + "\n  ".join(lines)


def handle_usage_error(exc: UsageError, tr: Tr) -> int:
    """Print a usage error (or the help page Typer raises as one); the exit code."""
    if isinstance(exc, NoArgsIsHelpError):
        _click.echo(render_help(exc.ctx, tr))
        return 0
    _click.echo(usage_error(exc, tr), err=True)
    return exc.exit_code
