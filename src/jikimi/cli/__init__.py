"""The ``jikimi`` command line (Typer + Rich). Each command group lives in its own ``cmd_*`` module."""

from __future__ import annotations

import importlib
import os

import typer

from jikimi.cli.common import ErrorBoundary

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

app = typer.Typer(
    name="jikimi",
    cls=ErrorBoundary,  # the one place a JikimiError becomes a message and an exit code
    help="Jikimi (지킴이): find deepfake abuse images and videos, prove what they are, get them removed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Jikimi (지킴이): find deepfake abuse images and videos, prove what they are, get them removed."""


# One line per command module; each module defines ``register(app)`` and imports heavy libraries lazily.
COMMAND_MODULES: list[str] = [
    "hash",
    "bank",
    "match",
    "person",
    "analyze",
    "scan",
    "case",
    "evidence",
    "audit",
    "takedown",
    "report",
    "serve",
    "user",
    "demo",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"jikimi.cli.cmd_{_name}").register(app)


@app.command()
def version() -> None:
    """Print the Jikimi version."""
    from jikimi import __version__

    typer.echo(__version__)


def main() -> None:
    app()
