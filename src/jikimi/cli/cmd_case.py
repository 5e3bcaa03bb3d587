"""``jikimi case``: list cases by priority, show one, confirm / dismiss / reopen findings."""

from __future__ import annotations

import typer

case_app = typer.Typer(
    help="Cases (one per enrolled person, plus unidentified): list, show, review.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(case_app, name="case")


@case_app.command("list")
def list_(json_out: bool = typer.Option(False, "--json", help="One JSON case per line.")) -> None:
    """Every case, highest priority first."""
    from rich.table import Table

    from jikimi.cases.queries import list_cases
    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store

    store = open_store()
    try:
        with store.session() as s:
            cases = list_cases(s)
    finally:
        store.dispose()
    if json_out:
        for c in cases:
            emit_json(c.to_dict())
        return
    if not cases:
        console.print("no cases yet (run: jikimi scan FOLDER)")
        return
    t = Table("id", "case", "priority", "findings", "new", "confirmed", "dismissed", "minor")
    for c in cases:
        t.add_row(
            str(c.id),
            c.title,
            f"{c.priority:.1f}",
            str(c.findings),
            str(c.new),
            str(c.confirmed),
            str(c.dismissed),
            "yes" if c.minor else "",
        )
    console.print(t)


@case_app.command("show")
def show(
    case_id: int = typer.Argument(..., help="The case id (see jikimi case list)."),
    json_out: bool = typer.Option(False, "--json", help="Print the case as JSON."),
) -> None:
    """A case's priority, findings (reasons, scores, status) and where each was seen."""
    from jikimi.cases.queries import case_detail
    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store

    with open_store() as store, store.session() as s:
        d = case_detail(s, case_id)
    if json_out:
        emit_json(d)
        return
    f = d["priority_factors"]
    console.print(f"[bold]case {d['id']}: {d['title']}[/] ({d['queue']}{', minor' if d['minor'] else ''})")
    console.print(
        f"priority {d['priority']:.1f}  (sightings {f.get('sightings_n', 0)}, chats {f.get('chats_n', 0)}, "
        f"members {f.get('members_n', 0)}, newest {f.get('newest') or '-'})",
        highlight=False,
    )
    for x in d["findings_detail"]:
        console.print(
            f"\n[bold]finding {x['finding_id']}[/] \\[{x['status']}] {', '.join(x['reasons'])}  "
            f"{x['media_sha256']}",
            highlight=False,
        )
        scores = ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in x["scores"].items()
        )
        console.print(f"  scores: {scores}", highlight=False)
        for b in x["bank_matches"]:
            console.print(
                f"  bank {b.get('bank')} entry {b.get('entry_id')} via {b.get('signal')} "
                f"(distance {b.get('distance')})",
                highlight=False,
            )
        for sg in x["sightings"]:
            where = sg["chat_name"] or sg["container"] or ""
            console.print(
                f"  seen: {sg['location']} {where} {sg['date'] or ''} {sg['sender'] or ''}".rstrip(),
                highlight=False,
            )
        for p in x["personal_data"]:
            console.print(f"  personal data ({p['type']}): {p['masked']}", highlight=False)


def _review(kind: str, finding_id: int, note: str | None) -> None:
    from jikimi.cases import review
    from jikimi.cli.common import console
    from jikimi.store import open_store
    from jikimi.store.audit import default_actor
    from jikimi.takedown.confirm import confirm_finding

    fn = {
        "confirm": confirm_finding,  # a confirmed finding gets its takedown notices drafted
        "dismiss": review.dismiss_finding,
        "reopen": review.reopen_finding,
    }
    with open_store() as store, store.session() as s:
        f = fn[kind](s, finding_id, actor=default_actor(), note=note)
        status = f.status
    console.print(f"finding {finding_id}: {status}")


@case_app.command("confirm")
def confirm(
    finding_id: int = typer.Argument(..., help="The finding id (see jikimi case show)."),
    note: str = typer.Option(None, "--note", help="Why (kept in the audit log)."),
) -> None:
    """Confirm a finding (new → confirmed)."""
    _review("confirm", finding_id, note)


@case_app.command("dismiss")
def dismiss(
    finding_id: int = typer.Argument(..., help="The finding id (see jikimi case show)."),
    note: str = typer.Option(None, "--note", help="Why (kept in the audit log)."),
) -> None:
    """Dismiss a finding (new → dismissed)."""
    _review("dismiss", finding_id, note)


@case_app.command("reopen")
def reopen(
    finding_id: int = typer.Argument(..., help="The finding id."),
    note: str = typer.Option(None, "--note", help="Why (kept in the audit log)."),
) -> None:
    """Undo a review decision (confirmed | dismissed → new)."""
    _review("reopen", finding_id, note)
