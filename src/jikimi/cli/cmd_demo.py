"""``jikimi demo``: the whole loop on generated and shared sample data (what ``make demo`` runs)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from jikimi.cli.common import console, err_console

if TYPE_CHECKING:
    from jikimi.store import Store


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    reset: bool = typer.Option(
        False,
        help="Replace an earlier demo's data (only in a JIKIMI_HOME the demo made, as `make demo` does).",
    ),
    serve: bool = typer.Option(True, help="Finish by starting the web app with the demo data."),
    host: str = typer.Option("127.0.0.1", help="Address for the web app."),
    port: int = typer.Option(8000, help="Port for the web app."),
    workers: int = typer.Option(0, help="Scan worker processes (0 = all cores)."),
) -> None:
    """Run the whole loop on sample data: enrol, bank, scan, cases, takedown, re-upload alert, web app."""
    from rich.table import Table

    from jikimi.cases.queries import list_cases
    from jikimi.cases.runner import run_scan
    from jikimi.cli.common import progress
    from jikimi.cli.demo import DEMO_BANK, DEMO_PASSWORD, DEMO_PERSON, DEMO_USER, make_demo_data
    from jikimi.config import get_settings
    from jikimi.store import audit, open_store
    from jikimi.store.accounts import create_user
    from jikimi.store.banks import add_entry, create_bank, entry_from_file
    from jikimi.store.people import enroll
    from jikimi.store.schema.scans import Finding
    from jikimi.takedown.confirm import confirm_finding
    from jikimi.takedown.service import list_notices

    settings = get_settings()
    marker = settings.home / ".jikimi-demo-home"
    # The demo creates an administrator with a published password: it only ever runs on its own database.
    if not settings.database_url.startswith("sqlite"):
        raise typer.BadParameter(
            "the demo runs only on the embedded SQLite database; unset JIKIMI_DATABASE_URL "
            "and point JIKIMI_HOME to an empty folder"
        )
    if (settings.home / "jikimi.db").exists():
        if not marker.exists():
            raise typer.BadParameter(
                f"{settings.home} holds a database the demo did not create; not touching it. "
                "Run the demo with JIKIMI_HOME pointing to an empty folder."
            )
        if not reset:
            raise typer.BadParameter(f"{settings.home} holds an earlier demo: run again with --reset")
    if reset:
        for name in ("jikimi.db", "jikimi.db-wal", "jikimi.db-shm"):
            (settings.home / name).unlink(missing_ok=True)
        for sub in ("vault", "index", "faces"):
            shutil.rmtree(settings.home / sub, ignore_errors=True)
    marker.touch()
    _demo_settings()
    console.rule("[bold]Jikimi demo (지킴이 데모)")
    console.print(f"data directory: {settings.home}")
    data = make_demo_data(settings.home / "demo-data")
    store = open_store()

    with store.session() as s:
        if data.has_faces:
            res = enroll(
                s,
                DEMO_PERSON,
                list(data.enrol_photos),
                consent_by="the person herself (demo consent form)",
                consent_scope="search for takedown",
                actor="demo",
            )
            pid = res.person.id
            console.print(f"1. enrolled [bold]{DEMO_PERSON}[/] with recorded consent (person id {pid})")
        else:
            console.print("1. ../shared/faces not found: skipping face enrolment (hash matching still runs)")
        create_bank(s, DEMO_BANK, exist_ok=True, description="demo: a confirmed fake (stand-in picture)")
        assert data.known_image is not None
        add_entry(s, DEMO_BANK, entry_from_file(data.known_image, note="demo known item"), actor="demo")
        console.print(f"2. bank [bold]{DEMO_BANK}[/]: 1 known item (PDQ, MD5, SHA-256)")

    sources = [str(p) for p in (data.folder, data.export) if p is not None]
    console.print(f"3. scanning {len(sources)} sources: a downloads folder and a Telegram Desktop export")
    report = run_scan(
        store,
        sources,
        workers=workers or None,
        actor="demo",
        progress=lambda items, total: progress(items, total, "scan"),
    )
    console.print(
        f"   {report.items} items, {len(report.findings)} findings "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(report.by_reason.items())) or 'none'}), "
        f"{report.failed} failed, {report.unresolved} unresolved sightings"
    )
    for err in report.errors:
        console.print(f"   [yellow]{err.status}[/] {err.location}: {err.reason}")

    with store.session() as s:
        table = Table(title="Cases (사건), highest priority first")
        for col in ("id", "title", "queue", "priority", "findings", "new"):
            table.add_column(col)
        cases = list_cases(s)
        for c in cases:
            table.add_row(str(c.id), c.title, c.queue, f"{c.priority:.2f}", str(c.findings), str(c.new))
        console.print(table)

        # The officer confirms the copy of the known fake (a bank match) after looking at it.
        known = [f for f in s.query(Finding).order_by(Finding.id) if "bank_match" in f.reasons_json]
        if known:
            confirm_finding(s, known[0].id, actor="demo-officer", note="confirmed in the demo")
            console.print(f"4. confirmed finding {known[0].id}: its hashes joined the confirmed bank")
    with store.session() as s:
        notices = list_notices(s)
        for n in notices:
            console.print(f"   drafted notice {n.id} to [bold]{n.platform}[/] ({n.lang}), awaiting approval")
        if not notices:
            console.print("   (no link-bearing sighting to notify about in this sample)")
    if notices:
        _takedown_loop(store, notices[0].id, data.root)
    with store.session() as s:
        create_user(s, username=DEMO_USER, password=DEMO_PASSWORD, role="admin", actor="demo", locale="ko")
    with store.session() as s:
        result = audit.verify(s)
        console.print(f"7. audit chain: {'intact' if result.ok else 'BROKEN'} ({result.count} entries)")

    if not serve:
        return
    from jikimi.api.app import serve as run_server
    from jikimi.api.settings import ApiSettings

    console.rule("[bold]web app")
    console.print(f"open http://{host}:{port}/  — login [bold]{DEMO_USER}[/] / [bold]{DEMO_PASSWORD}[/]")
    err_console.print("(Ctrl-C stops the server)")
    # The demo's URLs are made up: no scheduled re-checks (`jikimi serve` runs them hourly on real data).
    # "보내기" (send) works in the demo: notices go to a local SMTP server that writes them as .eml files to
    # the outbox folder; it stops with the web app.
    from jikimi.cli.demo import demo_outbox
    from jikimi.takedown.settings import save_settings

    outbox = settings.home / "outbox"
    with demo_outbox(outbox) as (smtp_port, _):
        save_settings({"smtp": dict(DEMO_SMTP, port=smtp_port)})
        console.print(f"notices sent from the web app are written to {outbox} (a local demo mail server)")
        run_server(host, port, database_url=store.url, settings=ApiSettings(recheck_minutes=0))


DEMO_ORGANISATION = {
    "name": "Jikimi demo support centre (지킴이 데모 상담소)",
    "email": "takedown@example.org",
}
DEMO_SMTP = {"host": "127.0.0.1", "starttls": False, "ssl": False, "from": "takedown@example.org"}


def _demo_settings() -> None:
    """The demo centre's organisation in ``takedown.yaml``, read by the server and by ``jikimi takedown …``
    alike (an environment variable still wins); kept when an administrator already changed it."""
    from jikimi.takedown.settings import save_settings, stored_settings

    if not (stored_settings()["organisation"].get("name") or "").strip():
        save_settings({"organisation": dict(DEMO_ORGANISATION)})


def _takedown_loop(store: Store, notice_id: int, root: Path) -> None:
    """Approve and send the notice (to a local demo outbox over SMTP), read the platform's reply (the notice
    becomes acknowledged), record the removal, then show that a later scan of a re-upload raises an alert on
    the original case."""
    from jikimi.cases.runner import run_scan
    from jikimi.cli.demo import demo_outbox, make_reupload, platform_reply
    from jikimi.takedown import reupload
    from jikimi.takedown.replies import apply_replies, read_mail
    from jikimi.takedown.service import approve, mark, send
    from jikimi.takedown.settings import SmtpSettings

    with store.session() as s:
        approve(s, notice_id, actor="demo-officer")
    with demo_outbox() as (port, outbox):
        smtp = SmtpSettings(host="127.0.0.1", port=port, starttls=False, sender="takedown@example.org")
        with store.session() as s:
            sent = send(s, notice_id, actor="demo-officer", smtp=smtp)
    if not sent.ok:
        console.print(f"   [red]sending failed:[/] {sent.error}")
        return
    reply = platform_reply(root, outbox[-1]) if outbox else None
    with store.session() as s:
        answered = apply_replies(s, read_mail([reply]), actor="demo-officer") if reply else []
    acknowledged = any(r.outcome == "acknowledged" for r in answered)
    console.print(
        f"5. an officer approved notice {notice_id}; sent as e-mail {sent.message_id} "
        f"(demo outbox: {len(outbox)} message); the platform's reply "
        f"{'marked it acknowledged' if acknowledged else 'was not matched'}; its removal is recorded"
    )
    with store.session() as s:
        mark(s, notice_id, "removed", actor="demo-officer", note="platform confirmed removal (demo)")
    later = make_reupload(root)
    run_scan(store, [str(later)], workers=1, actor="demo")
    with store.session() as s:
        found = reupload.scan_new_sightings(s, actor="demo")
        for a in found.alerts:
            console.print(
                f"6. [bold red]re-upload alert[/] on case {a.case_id}: the removed item was posted again "
                f"(matched by {a.matched_by}, distance {a.distance})"
            )
        if not found.alerts:
            console.print("6. a later scan found no re-upload")
