"""``jikimi takedown``: draft, approve, send and track removal requests; re-checks and re-upload alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from jikimi.cli.common import console, emit_json, err_console, fail, reason, tr
from jikimi.errors import ConfigError, Message, ValidationError

takedown_app = typer.Typer(
    help="Removal requests: draft per platform (ko/en/ja), approve, send (e-mail or PDF), track, re-check.",
    no_args_is_help=True,
)


def _store() -> Any:
    from jikimi.store import open_store

    return open_store()


def _print_notes(notes: Sequence[str | Message]) -> None:
    """Notes (text, or catalogued messages shown in the user's language)."""
    for note in notes:
        err_console.print(f"[yellow]note:[/] {escape(reason(note))}")


def _parse_when(text: str | None, what: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(
            "{what} is not a date/time: {text!r}",
            "use ISO 8601, e.g. 2026-11-01T10:00Z",
            code="cli.datetime_invalid",
            what=what,
            text=text,
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@takedown_app.command("platforms")
def platforms_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per platform."),
) -> None:
    """List the platform directory (channel, languages, contact, response time)."""
    from rich.table import Table

    from jikimi.takedown.directory import load_directory

    d = load_directory()
    if as_json:
        for p in d.values():
            emit_json(p.as_dict())
        return
    t = Table("key", "name", "channel", "languages", "contact", "hours", "verify")
    for p in d.values():
        c = p.primary_contact
        t.add_row(
            p.key,
            p.name,
            p.channel,
            ",".join(p.languages),
            (c.address or "(set with --to)") if c else "",
            str(p.expected_response_hours),
            "verify before use" if (p.verify_before_use or (c and c.verify_before_use)) else "",
        )
    console.print(t)


@takedown_app.command("resolve")
def resolve_cmd(url: str) -> None:
    """Which platform a URL (or t.me / tg:// link) is on."""
    from jikimi.takedown.directory import resolve_url

    r = resolve_url(url)
    emit_json(
        {
            "url": url,
            "platform": r.platform.key,
            "host": r.host,
            "chat": r.chat,
            "post": r.post,
            "fallback": r.fallback,
            "note": r.note,
        }
    )


@takedown_app.command("contact")
def contact_cmd(url: str) -> None:
    """Suggest the abuse address for an unknown host (RDAP: IP network, then registrar). Verify before use."""
    from jikimi.takedown.abuse import find_abuse_contacts

    contacts = find_abuse_contacts(url)
    if not contacts:
        raise fail(f"no abuse contact found for {url}", "look it up by hand (WHOIS) and use --to")
    for c in contacts:
        emit_json(
            {
                "email": c.email,
                "source": c.source,
                "holder": c.holder,
                "rdap": c.rdap_url,
                "verify_before_use": True,
            }
        )


@takedown_app.command("add")
def add_cmd(
    case: str = typer.Argument(..., help="Case id."),
    url: str = typer.Argument(..., help="Where the content is (post, message link, file URL)."),
    sha256: str = typer.Option(None, help="SHA-256 of the content."),
    md5: str = typer.Option(None, help="MD5 of the content."),
    pdq: str = typer.Option(None, help="PDQ hash (64 hex digits)."),
    chat: str = typer.Option(None, help="Chat or channel name."),
    media_url: str = typer.Option(None, "--media-url", help="Direct link to the file on the page."),
    first_seen: str = typer.Option(None, "--first-seen", help="When it was first seen (ISO 8601)."),
    captured_at: str = typer.Option(None, "--captured-at", help="When the evidence was captured (ISO 8601)."),
) -> None:
    """Register a URL of a confirmed finding by hand (scans register theirs when a finding is confirmed)."""
    from jikimi.takedown.service import FindingRef, add_item

    ref = FindingRef(
        case_id=case,
        url=url,
        sha256=sha256,
        md5=md5,
        pdq=pdq,
        chat=chat,
        media_url=media_url,
        first_seen=_parse_when(first_seen, "--first-seen"),
        captured_at=_parse_when(captured_at, "--captured-at"),
    )
    with _store().session() as s:
        item, created = add_item(s, ref)
        out = {"item": item.id, "platform": item.platform, "state": item.state, "created": created}
    emit_json(out)


@takedown_app.command("draft")
def draft_cmd(
    case: str = typer.Argument(..., help="Case id."),
    platform: str = typer.Option(None, "--platform", "-p", help="Only this platform (kcsc: every item)."),
    lang: str = typer.Option(None, "--lang", help="ko, en or ja (default: the platform's language)."),
    to: str = typer.Option(None, "--to", help="Recipient e-mail (e.g. a host's abuse address)."),
    victim_name: str = typer.Option(
        None, "--victim-name", help="Named only if the organisation set include_victim_name (default: never)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Draft notices for a case's confirmed findings (one per platform); a person approves each one."""
    from jikimi.takedown.service import draft_case, notice_to_dict

    with _store().session() as s:
        res = draft_case(s, case, platform=platform, lang=lang, recipient=to, victim_name=victim_name)
        rows = [notice_to_dict(n) for n in res.notices]
    _print_notes(res.messages)
    for r in rows:
        if as_json:
            emit_json(r)
        else:
            console.print(
                f"drafted notice [bold]{r['id']}[/] ({r['reference']}) to {r['platform']} in {r['lang']}: "
                f"{len(r['items'])} item(s); review with `jikimi takedown show {r['id']}`, then approve"
            )


@takedown_app.command("list")
def list_cmd(
    status: str = typer.Option(None, help="drafted, approved, sent, closed, withdrawn."),
    case: str = typer.Option(None, help="Only this case."),
    platform: str = typer.Option(None, help="Only this platform."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List notices."""
    from rich.table import Table

    from jikimi.takedown.service import list_notices, notice_to_dict

    with _store().session() as s:
        rows = [notice_to_dict(n) for n in list_notices(s, status=status, case_id=case, platform=platform)]
    if as_json:
        for r in rows:
            emit_json(r)
        return
    t = Table("id", "case", "platform", "lang", "status", "items", "recipient / form", "sent", "error")
    for r in rows:
        t.add_row(
            str(r["id"]),
            r["case_id"],
            r["platform"],
            r["lang"],
            r["status"],
            str(len(r["items"])),
            r["recipient"] or r["form_url"] or "(none)",
            r["sent_at"].strftime("%Y-%m-%d %H:%M") if r["sent_at"] else "",
            r["last_error"] or "",
        )
    console.print(t)


@takedown_app.command("show")
def show_cmd(notice_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a notice: its text, items and their states."""
    from jikimi.takedown.service import get_notice, notice_to_dict

    with _store().session() as s:
        notice = get_notice(s, notice_id)
        d = notice_to_dict(notice)
        notes = notice.note_messages
    if as_json:
        emit_json(d)
        return
    console.print(
        f"[bold]notice {d['id']}[/] {d['reference']} · {d['platform']} · {d['lang']} · {d['channel']} · "
        f"[bold]{d['status']}[/]"
    )
    console.print(f"to: {d['recipient'] or d['form_url'] or '(no recipient: set with send --to)'}")
    for note in notes:
        console.print(f"[yellow]{escape(reason(note))}[/]")
    if d["last_error"]:
        console.print(f"[red]last send error:[/] {d['last_error']} (attempts: {d['send_attempts']})")
    console.print(f"sha256: {d['content_sha256']}\n")
    console.print(f"Subject: {d['subject']}\n", markup=False, highlight=False)
    console.print(d["body"], markup=False, highlight=False)
    for it in d["items"]:
        console.print(f"item {it['id']}: {it['state']}  {it['url']}", markup=False, highlight=False)


@takedown_app.command("item")
def item_cmd(item_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """One item's history (every state change with time and actor) and its re-checks."""
    from sqlalchemy import select

    from jikimi.store.schema.takedown import TakedownCheck
    from jikimi.takedown.service import get_item

    with _store().session() as s:
        it = get_item(s, item_id)
        checks = s.execute(
            select(TakedownCheck).where(TakedownCheck.item_id == item_id).order_by(TakedownCheck.id)
        ).scalars()
        d: dict[str, Any] = {
            "id": it.id,
            "case": it.case_id,
            "url": it.url,
            "platform": it.platform,
            "state": it.state,
            "found_at": it.found_at,
            "removed_at": it.removed_at,
            "redirected_to": it.redirected_to,
            "next_check_at": it.next_check_at,
            "notices": [n.id for n in it.notices],
            "history": [
                {"at": e.at, "from": e.from_state, "to": e.to_state, "actor": e.actor, "note": e.note}
                for e in it.events
            ],
            "checks": [
                {"at": c.checked_at, "status": c.status_code, "outcome": c.outcome, "detail": c.detail}
                for c in checks
            ],
        }
    if as_json:
        emit_json(d)
        return
    console.print(f"[bold]item {d['id']}[/] case {d['case']} · {d['platform']} · [bold]{d['state']}[/]")
    console.print(d["url"], markup=False, highlight=False)
    for e in d["history"]:
        note = f"  ({e['note']})" if e["note"] else ""
        console.print(
            f"  {e['at']:%Y-%m-%d %H:%M:%S} {e['from'] or '-'} → {e['to']} by {e['actor']}{note}",
            markup=False,
            highlight=False,
        )
    for c in d["checks"]:
        console.print(
            f"  check {c['at']:%Y-%m-%d %H:%M:%S}: {c['outcome']} ({c['detail']})",
            markup=False,
            highlight=False,
        )


@takedown_app.command("approve")
def approve_cmd(notice_id: int) -> None:
    """Approve a drafted notice (after reading it with `takedown show`)."""
    from jikimi.takedown.service import approve

    with _store().session() as s:
        n = approve(s, notice_id)
        channel = n.channel
    nxt = (
        "send it"
        if channel == "email"
        else "export the PDF with `takedown pdf`, submit it, then `takedown send`"
    )
    console.print(f"notice {notice_id} approved; {nxt}")


@takedown_app.command("send")
def send_cmd(
    notice_id: int = typer.Argument(None, help="The notice (omit with --due)."),
    due: bool = typer.Option(False, "--due", help="Send or retry every approved e-mail notice that is due."),
    to: str = typer.Option(None, "--to", help="Set the recipient address first."),
    submitted: str = typer.Option(
        None, "--submitted", help="A web-form notice was submitted: record the form's confirmation number."
    ),
) -> None:
    """Send an approved notice by e-mail (SMTP settings: JIKIMI_SMTP_*), or record a web-form submission."""
    from jikimi.takedown.service import send, send_due, set_recipient

    if notice_id is None and not due:
        raise fail("give a notice id, or --due to send every approved notice", code=2)
    with _store().session() as s:
        if due:
            results = send_due(s)
        else:
            if to:
                set_recipient(s, notice_id, to)
            results = [send(s, notice_id, submitted_ref=submitted)]
    failed = 0
    for r in results:
        if r.ok:
            console.print(f"notice {r.notice_id} sent: {r.message_id}")
        else:
            failed += 1
            t = tr()
            why = t.message(r.failure) if r.failure else (r.error or "")
            hint = t.hint(r.failure, cli=True) if r.failure else r.hint
            err_console.print(
                f"[bold red]{t('error:')}[/] notice {r.notice_id} not sent: {escape(why)}", soft_wrap=True
            )
            if hint:
                err_console.print(f"[yellow]{t('next:')}[/] {escape(hint)}", soft_wrap=True)
    if due and not results:
        console.print("no approved e-mail notice is due")
    if failed:
        raise typer.Exit(1)


@takedown_app.command("pdf")
def pdf_cmd(
    notice_id: int, out: Path = typer.Option(None, "--out", "-o", help="Where to write the PDF.")
) -> None:
    """Write a notice as PDF (for web forms and letters; needs a Hangul font for Korean)."""
    from jikimi.takedown.service import write_pdf

    with _store().session() as s:
        path = write_pdf(s, notice_id, out)
    console.print(f"wrote {path}")


@takedown_app.command("mark")
def mark_cmd(
    notice_id: int,
    outcome: str = typer.Argument(..., help="removed, refused or acknowledged."),
    item: int = typer.Option(None, "--item", help="Only this item of the notice."),
    note: str = typer.Option(None, "--note", help="What the platform said."),
) -> None:
    """Record the platform's answer for a notice's items."""
    from jikimi.takedown.service import mark

    with _store().session() as s:
        changed = [it.id for it in mark(s, notice_id, outcome, item_id=item, note=note)]
    console.print(f"{len(changed)} item(s) of notice {notice_id} marked {outcome}")


@takedown_app.command("withdraw")
def withdraw_cmd(notice_id: int) -> None:
    """Withdraw a notice that was not sent (its items can be drafted again)."""
    from jikimi.takedown.service import withdraw

    with _store().session() as s:
        withdraw(s, notice_id)
    console.print(f"notice {notice_id} withdrawn")


@takedown_app.command("recheck")
def recheck_cmd(
    all_open: bool = typer.Option(
        False, "--all", help="Check every open or removed item, not only due ones."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The scheduled job: draft new confirmed findings, re-check URLs, raise re-upload alerts.

    Re-checks say removed (404/410/451, content gone), online or redirected (recorded, not removed).
    `jikimi serve` runs it on its own every hour (JIKIMI_RECHECK_MINUTES); without a server, run this from
    cron or a timer, e.g. hourly.
    """
    from jikimi.takedown.scheduler import run_job

    def show(r: Any) -> None:
        if as_json:
            emit_json(r.__dict__)
        else:
            console.print(f"item {r.item_id}: [bold]{r.outcome}[/] ({r.detail}) → {r.state}", highlight=False)

    result = run_job(_store(), all_open=all_open, on_result=show)
    for nid, case, platform in result.drafted:
        if as_json:
            emit_json({"drafted": nid, "case": case, "platform": platform})
        else:
            console.print(f"drafted notice {nid} for case {case} to {platform} (newly confirmed findings)")
    for reply in result.replies:
        if as_json:
            emit_json({"reply": reply.source, "outcome": reply.outcome, "notice": reply.notice_id})
        elif reply.outcome == "acknowledged":
            console.print(f"reply {reply.source}: notice {reply.notice_id} acknowledged")
    for aid, case, url, how in result.alerts:
        if as_json:
            emit_json({"alert": aid, "case": case, "url": url, "matched_by": how})
        else:
            console.print(f"[bold red]re-upload alert {aid} on case {case}: {url} (matched by {how})[/]")
    _print_notes(result.notes)
    if not as_json:
        checked, alerts = len(result.checks), len(result.alerts)
        console.print(f"{checked} URL(s) checked, {result.errors} error(s), {alerts} re-upload alert(s)")
    if result.errors:
        raise typer.Exit(1)


@takedown_app.command("replies")
def replies_cmd(
    paths: list[Path] = typer.Argument(None, help="Reply e-mails: .eml files, mbox files, Maildir folders."),
    imap: bool = typer.Option(
        False, "--imap", help="Read the new messages of the mailbox in JIKIMI_IMAP_URL (read-only)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Read platforms' replies: a reply to a sent notice marks its items acknowledged (audited).

    Matched by the notice's Message-ID (In-Reply-To / References) or the reference JKM-<case>-<notice>.
    Whether the content was removed or refused stays for a person to record (`takedown mark`).
    With JIKIMI_IMAP_URL set, `jikimi serve` reads the mailbox on its own with the hourly takedown job.
    """
    from itertools import chain

    from jikimi.store.audit import default_actor
    from jikimi.takedown.replies import apply_replies, load_imap, read_imap, read_mail

    if not paths and not imap:
        raise fail("give reply files or folders, or --imap", "e.g. jikimi takedown replies ~/Maildir", code=2)
    settings = load_imap() if imap else None
    if imap and settings is None:
        raise ConfigError(
            "JIKIMI_IMAP_URL is not set",
            cli_hint="e.g. JIKIMI_IMAP_URL=imaps://takedown@mail.example.org/INBOX",
            code="takedown.imap_url_missing",
        )
    with _store().session() as s:
        mails = chain(read_mail(paths or []), read_imap(s, settings) if settings else [])
        results = apply_replies(s, mails, actor=default_actor())
    for r in results:
        if as_json:
            emit_json({**r.__dict__, "items": list(r.items)})
            continue
        where = f"notice {r.notice_id}" if r.notice_id is not None else "no notice of ours"
        colour = {"acknowledged": "green", "error": "red"}.get(r.outcome, "yellow")
        console.print(f"{r.source}: [{colour}]{r.outcome}[/] ({where}) {r.detail}", highlight=False)
    if any(r.outcome == "error" for r in results):
        raise typer.Exit(1)


@takedown_app.command("alerts")
def alerts_cmd(case: str = typer.Option(None), as_json: bool = typer.Option(False, "--json")) -> None:
    """Open re-upload alerts (content of a case seen again)."""
    from jikimi.takedown.reupload import open_alerts

    with _store().session() as s:
        rows = [
            {
                "id": a.id,
                "case": a.case_id,
                "item": a.item_id,
                "new_url": a.new_url,
                "matched_by": a.matched_by,
                "distance": a.distance,
                "seen_at": a.seen_at,
            }
            for a in open_alerts(s, case)
        ]
    for r in rows:
        if as_json:
            emit_json(r)
        else:
            console.print(
                f"alert {r['id']} case {r['case']}: {r['new_url']} ({r['matched_by']})", highlight=False
            )


def register(app: typer.Typer) -> None:
    app.add_typer(takedown_app, name="takedown")
