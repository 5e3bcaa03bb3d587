"""``jikimi match``: match files against the enabled hash banks."""

from __future__ import annotations

from pathlib import Path

import typer

from jikimi.cli.common import console, emit_json, err_console

#: From this many PDQ hashes on, ``jikimi match`` writes the index file when it had to build from the store.
AUTO_SAVE_SIZE = 200_000


def match(
    paths: list[Path] = typer.Argument(..., help="Image or video files."),
    bank: list[str] = typer.Option([], "--bank", "-b", help="Only these banks (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per file."),
    no_dihedral: bool = typer.Option(False, "--no-dihedral", help="Do not try rotated/flipped variants."),
) -> None:
    """Print, for each file, the bank entries it matches (or none)."""
    from jikimi.config import get_settings
    from jikimi.errors import JikimiError
    from jikimi.store import open_store
    from jikimi.store.banks import BankMatcher

    store = open_store()
    index_path = get_settings().index_dir / "pdq"
    matcher = BankMatcher.load(store, index_path=index_path if index_path.exists() else None)
    if matcher.loaded_from == "store" and matcher.size >= AUTO_SAVE_SIZE:
        matcher.save(index_path)  # large banks: the next start memory-maps the file instead
    failed = 0
    for path in paths:
        try:
            found = matcher.match_file(path, banks=bank or None, dihedral=not no_dihedral)
        except JikimiError as exc:
            failed += 1
            if json_out:
                emit_json({"path": str(path), "error": str(exc)})
            else:
                err_console.print(f"[red]failed[/] {path}: {exc}")
            continue
        if json_out:
            emit_json({"path": str(path), "matches": [m.to_dict() for m in found]})
            continue
        if not found:
            console.print(f"{path}: no match", soft_wrap=True)
            continue
        console.print(f"[bold]{path}[/]: {len(found)} match(es)", soft_wrap=True)
        for m in found:
            extra = []
            if m.distance is not None:
                extra.append(f"distance {m.distance}")
            if m.variant and m.variant != "original":
                extra.append(m.variant)
            if m.frame_timestamp is not None:
                extra.append(f"frame at {m.frame_timestamp:.1f}s")
            if m.query_percent is not None:
                extra.append(f"{m.query_percent:.0f}% of frames")
            if m.untrusted:
                extra.append("low quality: review")
            labels = ",".join(m.metadata.get("labels") or [])
            console.print(
                f"  bank={m.bank} entry={m.entry_id} signal={m.signal} {' '.join(extra)}"
                + (f" labels={labels}" if labels else "")
                + (f" case={m.metadata['case_ref']}" if m.metadata.get("case_ref") else ""),
                soft_wrap=True,
            )
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("match")(match)
