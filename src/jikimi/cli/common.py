"""Helpers shared by the command modules: consoles, JSON lines, progress bars, the CLI's one error boundary.

Exit codes: 0 success; 1 the command ran but found a problem (a missing case or person, an item or photo that
failed, a notice not sent); 2 a usage or configuration error (bad input, a ``ValidationError`` or
``ConfigError``). A command raises the ``JikimiError``; :class:`ErrorBoundary` prints it and picks the code.
"""

from __future__ import annotations

import json
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

from jikimi.errors import ConfigError, JikimiError, ValidationError

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def emit_json(obj: Any) -> None:
    """Print one JSON object on one line (for ``--json`` output)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, hint: str | None = None, code: int = 1) -> typer.Exit:
    """Print an error (and what to do next) to stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    if hint:
        err_console.print(f"[yellow]next:[/] {hint}")
    return typer.Exit(code)


def exit_code(exc: JikimiError) -> int:
    """2 for a usage or configuration error, 1 for any other problem the command found."""
    return 2 if isinstance(exc, ValidationError | ConfigError) else 1


class ErrorBoundary(TyperGroup):
    """The root command group: a ``JikimiError`` from any command is printed and mapped to its exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's own Context class is private (typer._click)
        try:
            return super().invoke(ctx)
        except JikimiError as exc:
            raise fail(exc.reason, exc.hint, exit_code(exc)) from exc


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
