"""``jikimi audit``: verify the hash-chained audit log, and show its entries."""

from __future__ import annotations

import typer

audit_app = typer.Typer(help="The append-only, hash-chained audit log: verify, log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Check every entry's hash and link; report the first edited, removed or reordered entry (exit 1)."""
    from jikimi.cli.common import console, emit_json, err_console
    from jikimi.store import audit, open_store

    store = open_store()
    try:
        with store.session() as s:
            r = audit.verify(s)
    finally:
        store.dispose()
    if json_out:
        emit_json(r.as_dict())
    elif r.ok:
        console.print(f"[green]audit log intact[/]: {r.count} entries, head {r.head_hash or '-'}")
    else:
        err_console.print(f"[bold red]audit log broken[/]: entry {r.bad_entry_id} {r.problem}: {r.detail}")
        err_console.print(
            "[yellow]next:[/] keep this database as it is (it is evidence of tampering) and restore a backup"
        )
    if not r.ok:
        raise typer.Exit(1)


@audit_app.command("log")
def log(
    subject: str = typer.Option(None, "--subject", help="Only entries about this subject (e.g. case:3)."),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest N entries."),
    json_out: bool = typer.Option(False, "--json", help="One JSON entry per line."),
) -> None:
    """Show the newest audit entries."""
    from sqlalchemy import select

    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store
    from jikimi.store.schema.evidence import AuditEntry

    store = open_store()
    try:
        with store.session() as s:
            q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if subject:
                q = q.where(AuditEntry.subject == subject)
            rows = list(reversed(s.execute(q).scalars().all()))
    finally:
        store.dispose()
    for e in rows:
        if json_out:
            emit_json(
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": e.details,
                    "hash": e.hash,
                }
            )
        else:
            console.print(
                f"{e.id:>6} {e.at:%Y-%m-%d %H:%M:%S} {e.actor} {e.action} {e.subject}", highlight=False
            )
