"""``jikimi evidence``: export a case's evidence package, verify one offline, rotate the vault key."""

from __future__ import annotations

from pathlib import Path

import typer

evidence_app = typer.Typer(
    help="Evidence packages and the encrypted vault: export, verify, rotate-key.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")


@evidence_app.command("export")
def export(
    case_id: int = typer.Argument(..., help="The case (see jikimi case list)."),
    out: Path = typer.Option(..., "--out", "-o", help="The zip file to write."),
    include_dismissed: bool = typer.Option(False, "--include-dismissed", help="Also dismissed findings."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write CASE's originals, manifest (hashes, sightings) and chain-of-custody log to a zip."""
    from jikimi.cases.export import export_case
    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store
    from jikimi.store.audit import default_actor

    with open_store() as store, store.session() as s:
        r = export_case(s, case_id, out, actor=default_actor(), include_dismissed=include_dismissed)
    if json_out:
        emit_json(
            {
                "path": str(r.path),
                "sha256": r.sha256,
                "findings": r.findings,
                "originals": r.originals,
                "missing_originals": r.missing_originals,
                "custody_entries": r.custody_entries,
            }
        )
    else:
        console.print(
            f"wrote {r.path}: {r.findings} findings, {r.originals} originals, "
            f"{r.custody_entries} custody entries; SHA-256 {r.sha256}"
        )
        console.print(f"check it with: jikimi evidence verify {r.path}")
    if r.missing_originals:
        raise typer.Exit(1)


@evidence_app.command("verify")
def verify(
    package: Path = typer.Argument(..., help="An evidence zip written by jikimi evidence export."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check an evidence package offline: every hash, the originals' names, the custody chain."""
    from jikimi.cases.export import verify_export
    from jikimi.cli.common import console, emit_json, err_console

    r = verify_export(package)
    if json_out:
        emit_json(r.to_dict())
    elif r.ok:
        console.print(
            f"[green]intact[/]: {r.files} files, {r.originals} originals, {r.custody_entries} custody entries"
        )
    else:
        for p in r.problems:
            err_console.print(f"[red]{p}[/]", highlight=False)
    if not r.ok:
        raise typer.Exit(1)


@evidence_app.command("rotate-key")
def rotate_key(
    retire: bool = typer.Option(False, "--retire", help="Remove the old keys once all is re-encrypted."),
    resume: bool = typer.Option(False, "--resume", help="Finish an interrupted rotation."),
) -> None:
    """Re-encrypt the vault under a fresh key (see docs/evidence.md before using --retire)."""
    from jikimi.cli.common import console
    from jikimi.store import open_store, vault
    from jikimi.store.audit import default_actor

    with open_store() as store, store.session() as s:
        r = vault.rotate_key(s, actor=default_actor(), resume=resume, retire=retire)
    console.print(
        f"new key {r.new_key_id}: {r.reencrypted} originals re-encrypted, {r.sealed_values} sealed "
        f"values; retired {', '.join(r.retired_key_ids) or 'none'}"
    )
