"""``jikimi hash``: MD5, SHA-256 and PDQ (images) or vPDQ (videos) of files and folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer


def _short(h: str, n: int = 16) -> str:
    return h[:n] + "…"


def register(app: typer.Typer) -> None:
    @app.command("hash")
    def hash_cmd(
        paths: list[Path] = typer.Argument(..., help="Files or folders to hash.", show_default=False),
        recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object per line per file."),
        workers: int = typer.Option(0, "--workers", "-j", min=0, help="Processes (0 = all cores)."),
        exact: bool = typer.Option(
            False,
            "--exact",
            help="PDQ on the reference decode (bit-exact with python-threatexchange; slower).",
        ),
        every: float = typer.Option(
            1.0, "--every", min=0.0, help="Video: seconds between hashed frames (0 = all)."
        ),
        dihedral: bool = typer.Option(False, "--dihedral", help="Add the 8 rotated/flipped PDQ variants."),
    ) -> None:
        """Hash images and videos: md5, sha256, and PDQ (images) or vPDQ (videos)."""
        from jikimi.cli.common import console, err_console, progress
        from jikimi.signals.batch import HashOptions, hash_items, iter_items

        options = HashOptions(decode="reference" if exact else "fast", every_seconds=every, dihedral=dihedral)
        items = list(iter_items(paths, recursive=recursive))
        if not items:
            err_console.print("[yellow]no files found[/]")
            raise typer.Exit(0)
        records: list[dict[str, Any]] = []
        failed = 0
        # Taken before the progress bar starts: Rich's live display redirects sys.stdout to its console
        # (stderr), and the JSON lines must stay on stdout.
        out = sys.stdout
        stream = hash_items(items, options, workers=workers or None)
        # A bar on the terminal; not when the JSON lines go to that same terminal.
        show = err_console.is_terminal and len(items) > 1 and not (json_out and out.isatty())
        for rec in progress(stream, len(items), "hashing", enabled=show):
            failed += "error" in rec
            if json_out:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                out.flush()
            else:
                records.append(rec)
        if not json_out:
            _table(records, console)
            if failed:
                err_console.print(f"[bold red]{failed} of {len(items)} file(s) failed[/]")
        raise typer.Exit(1 if failed else 0)


def _table(records: list[dict[str, Any]], console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from jikimi.cli.common import reason
    from jikimi.signals.vpdq import VPDQSignal

    table = Table(show_lines=False)
    table.add_column("path", overflow="fold")
    table.add_column("kind")
    table.add_column("md5")
    table.add_column("perceptual hash")
    table.add_column("quality", justify="right")
    for rec in records:
        path = rec["path"]
        if "error" in rec:
            why = reason(rec.get("message") or rec["error"])
            table.add_row(path, "[red]error[/]", "", f"[red]{escape(why)}[/]", "")
        elif rec["kind"] == "image":
            table.add_row(path, "image", _short(rec["md5"]), rec["pdq"]["hash"], str(rec["pdq"]["quality"]))
        else:
            frames = rec["vpdq"]
            good = sum(1 for f in frames if VPDQSignal.trusted(f["quality"]))
            table.add_row(
                path,
                "video",
                _short(rec["md5"]),
                f"vPDQ: {len(frames)} frames over {rec['duration']:.1f} s",
                f"{good} ≥{VPDQSignal.min_quality}",
            )
    console.print(table)
