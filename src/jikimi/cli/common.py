"""Helpers shared by the command modules: consoles, JSON lines, progress bars, the CLI's one error boundary.

Errors are printed in the user's language: ``JIKIMI_LANG`` (``ko`` or ``en``), else the locale's
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``ko_KR.UTF-8`` gives Korean), else English.

Exit codes: 0 success; 1 the command ran but found a problem (a missing case or person, an item or photo that
failed, a notice not sent); 2 a usage or configuration error (bad input, a ``ValidationError`` or
``ConfigError``). A command raises the ``JikimiError``; :class:`ErrorBoundary` prints it and picks the code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer.core import TyperGroup

from jikimi.errors import ConfigError, JikimiError, Message, ValidationError
from jikimi.web.i18n import LANGUAGES, Translator, translator

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def emit_json(obj: Any) -> None:
    """Print one JSON object on one line (for ``--json`` output)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, hint: str | None = None, code: int = 1) -> typer.Exit:
    """Print an error (and what to do next) to stderr and return the exit to raise."""
    t = tr()
    err_console.print(f"[bold red]{t('error:')}[/] {message}", soft_wrap=True)
    if hint:
        err_console.print(f"[yellow]{t('next:')}[/] {hint}", soft_wrap=True)
    return typer.Exit(code)


def user_language() -> str:
    """``JIKIMI_LANG``, else the language of the POSIX locale when we have it, else English."""
    chosen = os.environ.get("JIKIMI_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            code = value.split("_")[0].split(".")[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


def tr() -> Translator:
    """The user's language (see :func:`user_language`)."""
    return translator(user_language())


def reason(value: JikimiError | Message | dict[str, Any] | str | None) -> str:
    """A lower layer's reason in the user's language."""
    return tr().message(value)


def error_text(exc: JikimiError) -> str:
    """An error and what to do next (written for the command line), in the user's language."""
    t = tr()
    hint = t.hint(exc, cli=True)
    return t.message(exc) + (f" ({hint})" if hint else "")


def exit_code(exc: JikimiError) -> int:
    """2 for a usage or configuration error, 1 for any other problem the command found."""
    return 2 if isinstance(exc, ValidationError | ConfigError) else 1


class ErrorBoundary(TyperGroup):
    """The root command group: a ``JikimiError`` from any command is printed and mapped to its exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's own Context class is private (typer._click)
        try:
            return super().invoke(ctx)
        except JikimiError as exc:
            t = tr()
            raise fail(t.message(exc), t.hint(exc, cli=True), exit_code(exc)) from exc


def progress(items: Iterable[T], total: int | None, label: str, *, enabled: bool = True) -> Iterator[T]:
    """Wrap an iterable in a Rich progress bar (items/s and ETA) on stderr."""
    if not enabled:
        yield from items
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False, redirect_stdout=False) as bar:
        task = bar.add_task(label, total=total, rate="")
        for item in items:
            yield item
            t = bar.tasks[0]
            rate = f"{t.speed:.1f}/s" if t.speed else ""
            bar.update(task, advance=1, rate=rate)
