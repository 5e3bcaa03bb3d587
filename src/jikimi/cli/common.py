"""Helpers shared by the command modules: consoles, JSON lines, progress bars, error exits."""

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

from jikimi.errors import JikimiError

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


def fail_on(exc: JikimiError, code: int = 1) -> typer.Exit:
    return fail(exc.reason, exc.hint, code)


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
