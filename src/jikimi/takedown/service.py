"""The takedown flow: register confirmed findings, draft notices per platform, approve, send, mark outcomes.

Every function works inside the caller's session (``with store.session() as s:``) and audits what it changes.
Entry points for other packages: ``add_items`` / ``add_item`` (from ``jikimi.takedown.items``),
``draft_case``, ``approve``, ``send``, ``send_due``, ``mark``, ``notice_pdf_bytes``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jikimi.errors import JikimiError, Message, NotFoundError, Text, ValidationError
from jikimi.store import audit
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.takedown import TakedownEvent, TakedownItem, TakedownNotice, note_json
from jikimi.takedown import tracking
from jikimi.takedown.directory import (
    Platform,
    load_directory,
    platform_or_generic,
    platform_or_generic_note,
    resolve_url,
)
from jikimi.takedown.findings import items_for_confirmed
from jikimi.takedown.items import FindingRef as FindingRef  # re-exported: registering items is step one
from jikimi.takedown.items import add_item as add_item
from jikimi.takedown.items import add_items as add_items
from jikimi.takedown.mailer import build_message, send_message
from jikimi.takedown.render import (
    LANGUAGES,
    NoticeItem,
    content_sha256,
    render_notice,
    victim_name_in,
    with_footer,
)
from jikimi.takedown.settings import Organisation, SmtpSettings, load_organisation, load_smtp

RETRY_BASE = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
REAPPEAR_CHECK = timedelta(days=7)
NOTICE_STATUSES = ("drafted", "approved", "sent", "closed", "withdrawn")


@dataclass
class DraftResult:
    notices: list[TakedownNotice] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    """What drafting noted, as catalogued messages (shown in the reader's language)."""

    @property
    def notes(self) -> list[str]:
        """The notes in English."""
        return [m.render() for m in self.messages]


NOTHING_TO_DRAFT_HINT = (
    "items are added when a finding is confirmed; notices already drafted are listed with the notices"
)
NOTHING_TO_DRAFT_CLI_HINT = (
    "items are added when a finding is confirmed (or with `jikimi takedown add`); "
    "see `jikimi takedown list` for notices already drafted"
)


@dataclass(frozen=True)
class SendResult:
    notice_id: int
    ok: bool
    message_id: str | None = None
    error: str | None = None
    """Why it was not sent (English); ``failure`` is the error itself, to show in the reader's language."""
    hint: str | None = None
    failure: JikimiError | None = None


def _actor(actor: str | None) -> str:
    return actor or audit.default_actor()


def reference(notice: TakedownNotice) -> str:
    """The reference quoted in the notice and expected in replies."""
    return f"JKM-{notice.case_id}-{notice.id}"


#: The columns of an item and of a notice that the API and ``jikimi takedown ... --json`` show, in order.
ITEM_FIELDS = ("id", "case_id", "url", "platform", "state", "found_at", "removed_at")
NOTICE_FIELDS = (
    "id", "case_id", "platform", "lang", "channel", "recipient", "form_url", "status", "subject", "body",
    "content_sha256", "created_at", "created_by", "approved_at", "approved_by", "sent_at", "message_id",
    "send_attempts", "last_error", "note",
)  # fmt: skip


def item_to_dict(item: TakedownItem) -> dict[str, Any]:
    """One item of a notice, as the API (``ItemOut``) and ``jikimi takedown ... --json`` show it."""
    return {name: getattr(item, name) for name in ITEM_FIELDS}


def notice_to_dict(notice: TakedownNotice) -> dict[str, Any]:
    """One notice with its reference and items, as the API (``NoticeOut``) and ``jikimi takedown
    show/list/draft --json`` show it."""
    return {
        "reference": reference(notice),
        **{name: getattr(notice, name) for name in NOTICE_FIELDS},
        "note": notice.note_text,  # the English (the column keeps the messages)
        "items": [item_to_dict(i) for i in notice.items],
    }


# ---------------------------------------------------------------------------------------------- items


def get_item(session: Session, item_id: int) -> TakedownItem:
    item = session.get(TakedownItem, item_id)
    if item is None:
        raise NotFoundError(
            "no takedown item {id}",
            "see the items of the notice",
            code="takedown.item_not_found",
            cli_hint="list them with `jikimi takedown show NOTICE`",
            id=item_id,
        )
    return item


def case_items(session: Session, case_id: str) -> list[TakedownItem]:
    return list(
        session.execute(
            select(TakedownItem).where(TakedownItem.case_id == str(case_id)).order_by(TakedownItem.id)
        ).scalars()
    )


# ---------------------------------------------------------------------------------------------- drafting


def _notice_item(item: TakedownItem) -> NoticeItem:
    return NoticeItem(
        url=item.url,
        chat=item.chat,
        message_link=item.message_link,
        media_url=item.media_url,
        first_seen=item.first_seen,
        last_seen=item.last_seen,
        captured_at=item.captured_at,
        sha256=item.sha256,
        md5=item.md5,
        pdq=item.pdq,
    )


_FIELD_OF = {"message_link": "message_link", "chat": "chat", "first_seen": "first_seen", "sha256": "sha256"}
_FIELD_OF.update({"captured_at": "captured_at", "media_url": "media_url"})


def _missing_fields(platform: Platform, items: list[TakedownItem]) -> list[Message]:
    notes = []
    for it in items:
        missing = [
            f for f, attr in _FIELD_OF.items() if f in platform.required_fields and not getattr(it, attr)
        ]
        if missing:
            notes.append(
                Message(
                    "item {id} lacks {fields} (required by {platform})",
                    {"id": it.id, "fields": ", ".join(missing), "platform": platform.name},
                )
            )
    return notes


def _chunks(items: list[TakedownItem], platform: Platform) -> list[list[TakedownItem]]:
    if not platform.batching:
        return [[it] for it in items]
    size = max(1, platform.max_items_per_notice)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _render_into(
    notice: TakedownNotice,
    platform: Platform,
    items: list[TakedownItem],
    org: Organisation,
    *,
    host: str | None,
    victim_name: str | None,
    now: datetime,
) -> None:
    rendered = render_notice(
        platform,
        [_notice_item(it) for it in items],
        lang=notice.lang,
        org=org,
        ref=reference(notice),
        host=host,
        victim_name=victim_name,
        now=now,
    )
    notice.subject = rendered.subject
    notice.body = rendered.body
    notice.content_sha256 = rendered.sha256


def _notes_for(p: Platform, items: list[TakedownItem], hosts: list[str], *, generic: bool) -> list[Message]:
    notes = _missing_fields(p, items)
    if p.key == "generic_host" and generic:
        notes.insert(
            0,
            Message(
                "unknown platform for {hosts}: generic hosting-provider template used; "
                "find the hosting provider's abuse contact and set it as the recipient",
                {"hosts": ", ".join(hosts)},
            ),
        )
    if p.verify_before_use:
        notes.append(
            Message(
                "the {platform} contact details are marked 'verify before use' in the directory",
                {"platform": p.name},
            )
        )
    return notes


def _on_notice(notice: TakedownNotice, note: Message) -> Message:
    return Message("notice {id}: {note}", {"id": notice.id, "note": note})


def _open_drafts(session: Session, case_id: str, platform_key: str) -> list[TakedownNotice]:
    """The case's notices to this platform that are still drafts (not approved, sent or withdrawn)."""
    q = (
        select(TakedownNotice)
        .where(
            TakedownNotice.case_id == case_id,
            TakedownNotice.platform == platform_key,
            TakedownNotice.status == "drafted",
        )
        .options(selectinload(TakedownNotice.items))
        .order_by(TakedownNotice.id)
    )
    return list(session.execute(q).scalars())


def _add_to_open_drafts(
    session: Session,
    notices: list[TakedownNotice],
    p: Platform,
    items: list[TakedownItem],
    org: Organisation,
    result: DraftResult,
    *,
    lang: str | None,
    recipient: str | None,
    victim_name: str | None,
    generic: bool,
    actor: str,
    now: datetime,
) -> list[TakedownItem]:
    """Add ``items`` to the case's open drafts to this platform (up to the platform's cap per notice), so
    that confirming findings one by one makes one notice, not one per finding. Each draft is rendered again
    with all its items (its content hash changes; it still waits for approval). Returns the items left over.

    A generic-host draft only takes items on the same host (its recipient is that host's abuse contact).
    """
    remaining = list(items)
    for notice in notices:
        if not remaining:
            break
        have = {it.id for it in notice.items}
        hosts = {resolve_url(it.url).host for it in notice.items}
        fits = [it for it in remaining if it.id not in have]
        if p.key == "generic_host":
            if len(hosts) != 1:
                continue
            fits = [it for it in fits if resolve_url(it.url).host in hosts]
        room = max(0, max(1, p.max_items_per_notice) - len(notice.items))
        take = fits[:room]
        if not take:
            continue
        taken = {it.id for it in take}
        remaining = [it for it in remaining if it.id not in taken]
        kept_name = victim_name or victim_name_in(notice.body, notice.lang)
        if lang is not None and lang != notice.lang:
            result.messages.append(
                _on_notice(
                    notice, Message("drafted again in {lang} (was {old})", {"lang": lang, "old": notice.lang})
                )
            )
            notice.lang = lang
        if recipient:
            notice.recipient = recipient
            notice.channel = "email"
        notice.items.extend(take)
        all_items = sorted(notice.items, key=lambda it: it.id)
        all_hosts = sorted({resolve_url(it.url).host for it in all_items})
        notes = _notes_for(p, all_items, all_hosts, generic=generic)
        notice.note = note_json(notes)
        session.flush()
        _render_into(
            notice,
            p,
            all_items,
            org,
            host=all_hosts[0] if len(all_hosts) == 1 else None,
            victim_name=kept_name,
            now=now,
        )
        for it in take:
            tracking.move(session, it, "drafted", actor=actor, note=f"notice {notice.id}", at=now)
        audit.append(
            session,
            actor=actor,
            action="takedown.draft",
            subject=f"takedown_notice:{notice.id}",
            details={
                "case": notice.case_id,
                "platform": p.key,
                "lang": notice.lang,
                "items": [it.id for it in all_items],
                "added": sorted(taken),
                "content_sha256": notice.content_sha256,
            },
        )
        result.notices.append(notice)
        result.messages.append(
            _on_notice(notice, Message("{n} item(s) added to the open draft", {"n": len(take)}))
        )
        result.messages.extend(_on_notice(notice, n) for n in notes)
    return remaining


def draft_case(
    session: Session,
    case_id: str,
    *,
    platform: str | None = None,
    lang: str | None = None,
    recipient: str | None = None,
    actor: str | None = None,
    victim_name: str | None = None,
    org: Organisation | None = None,
    item_ids: list[int] | None = None,
    now: datetime | None = None,
) -> DraftResult:
    """Draft notices for the case's items that still need one (found, refused, reappeared).

    The URLs of the case's confirmed findings (``jikimi.cases``) are registered first if they are not yet.

    One notice per platform (split only where the platform caps the number of items or allows no batching).
    While the case has a draft to a platform that is not approved yet, new items join that draft (it is
    rendered again) instead of starting another notice; after approval, new items start a new draft.
    With ``platform`` given, only that platform's items are drafted, except for a regulator (``scope: any``,
    e.g. the KCSC) which takes every draftable item of the case. An unknown ``platform`` key falls back to
    the generic host template, and the result's notes say so.
    """
    actor = _actor(actor)
    org = org or load_organisation()
    now = now or utcnow()
    if lang is not None and lang not in LANGUAGES:
        raise ValidationError(
            "unsupported notice language {lang!r}",
            "use one of {langs}",
            code="takedown.language_unsupported",
            lang=lang,
            langs=", ".join(LANGUAGES),
        )
    if item_ids is None:  # confirmed findings of the case not registered yet (confirmed without drafting)
        items_for_confirmed(session, str(case_id), actor=actor)
    result = DraftResult()
    if victim_name and not org.include_victim_name:
        result.messages.append(
            Message("the victim's name is left out: the organisation's include_victim_name is off")
        )
    q = select(TakedownItem).where(
        TakedownItem.case_id == str(case_id), TakedownItem.state.in_(tracking.DRAFTABLE)
    )
    if item_ids is not None:
        q = q.where(TakedownItem.id.in_(item_ids))
    items = list(session.execute(q.order_by(TakedownItem.id)).scalars())
    directory = load_directory()
    groups: dict[str, list[TakedownItem]] = defaultdict(list)
    target: Platform | None = None
    if platform is not None:
        target, note = platform_or_generic_note(platform)
        if note:
            result.messages.append(note)
        if target.scope == "any" or note:
            groups[target.key] = items
        else:
            groups[target.key] = [it for it in items if it.platform == target.key]
    else:
        for it in items:
            groups[it.platform].append(it)
    if not any(groups.values()):
        if platform:
            raise NotFoundError(
                "case {case} has no items waiting for a notice on platform {platform}",
                NOTHING_TO_DRAFT_HINT,
                code="takedown.nothing_to_draft",
                cli_hint=NOTHING_TO_DRAFT_CLI_HINT,
                case=str(case_id),
                platform=platform,
            )
        raise NotFoundError(
            "case {case} has no items waiting for a notice",
            NOTHING_TO_DRAFT_HINT,
            code="takedown.nothing_to_draft",
            cli_hint=NOTHING_TO_DRAFT_CLI_HINT,
            case=str(case_id),
        )
    for key, group in groups.items():
        if not group:
            continue
        p = target if target is not None else directory.get(key) or platform_or_generic(key)[0]
        if p.key not in directory:  # an item whose platform file was removed
            result.messages.append(
                Message("platform {key!r} is no longer in the directory: generic template used", {"key": key})
            )
        notice_lang = lang or p.default_lang
        if notice_lang not in p.languages:
            result.messages.append(
                Message(
                    "{platform} lists languages {langs}; drafted in {lang}",
                    {"platform": p.name, "langs": ", ".join(p.languages), "lang": notice_lang},
                )
            )
        open_notices = _open_drafts(session, str(case_id), p.key)
        remaining = group
        if p.batching and open_notices:
            remaining = _add_to_open_drafts(
                session,
                open_notices,
                p,
                group,
                org,
                result,
                lang=lang,
                recipient=recipient,
                victim_name=victim_name,
                generic=platform is None,
                actor=actor,
                now=now,
            )
        for chunk in _chunks(remaining, p):
            hosts = sorted({resolve_url(it.url).host for it in chunk})
            notes = _notes_for(p, chunk, hosts, generic=platform is None)
            notice = TakedownNotice(
                case_id=str(case_id),
                platform=p.key,
                lang=notice_lang,
                channel=p.channel,
                recipient=recipient or p.recipient,
                form_url=p.form_url,
                subject="",
                body="",
                content_sha256="",
                status="drafted",
                note=note_json(notes),
                created_at=now,
                created_by=actor,
                items=chunk,
            )
            if recipient and p.channel != "email":
                notice.channel = "email"  # an explicit address turns a form platform into e-mail
            session.add(notice)
            session.flush()
            _render_into(
                notice,
                p,
                chunk,
                org,
                host=hosts[0] if len(hosts) == 1 else None,
                victim_name=victim_name,
                now=now,
            )
            for it in chunk:
                tracking.move(session, it, "drafted", actor=actor, note=f"notice {notice.id}", at=now)
            audit.append(
                session,
                actor=actor,
                action="takedown.draft",
                subject=f"takedown_notice:{notice.id}",
                details={
                    "case": str(case_id),
                    "platform": p.key,
                    "lang": notice_lang,
                    "items": [it.id for it in chunk],
                    "content_sha256": notice.content_sha256,
                },
            )
            result.notices.append(notice)
            result.messages.extend(_on_notice(notice, n) for n in notes)
    return result


# ---------------------------------------------------------------------------------------------- notices


def get_notice(session: Session, notice_id: int, *, lock: bool = False) -> TakedownNotice:
    """The notice with its items; ``lock`` holds its row until the transaction ends (PostgreSQL), so two
    people sending the same notice at once cannot both send it."""
    q = (
        select(TakedownNotice)
        .where(TakedownNotice.id == notice_id)
        .options(selectinload(TakedownNotice.items))
    )
    if lock:
        q = q.with_for_update(of=TakedownNotice).execution_options(populate_existing=True)
    notice = session.execute(q).scalar_one_or_none()
    if notice is None:
        raise NotFoundError(
            "no takedown notice {id}",
            "see the list of notices",
            code="takedown.notice_not_found",
            cli_hint="list them with `jikimi takedown list`",
            id=notice_id,
        )
    return notice


def list_notices(
    session: Session, *, status: str | None = None, case_id: str | None = None, platform: str | None = None
) -> list[TakedownNotice]:
    q = select(TakedownNotice).options(selectinload(TakedownNotice.items)).order_by(TakedownNotice.id)
    if status:
        q = q.where(TakedownNotice.status == status)
    if case_id:
        q = q.where(TakedownNotice.case_id == str(case_id))
    if platform:
        q = q.where(TakedownNotice.platform == platform)
    return list(session.execute(q).scalars())


def _check_integrity(notice: TakedownNotice) -> None:
    if content_sha256(notice.subject, notice.body) != notice.content_sha256:
        raise ValidationError(
            "notice {id} was changed after it was drafted (content hash mismatch)",
            "withdraw it and draft it again",
            code="takedown.notice_changed",
            cli_hint="withdraw it and draft it again: `jikimi takedown withdraw ID` then "
            "`jikimi takedown draft CASE`",
            id=notice.id,
        )


def person(actor: str) -> str:
    """The person behind an actor string: ``web:kim``, ``api:kim`` and ``cli:kim`` are all ``kim``."""
    _channel, sep, name = actor.partition(":")
    return (name if sep else actor).strip().lower()


def drafters(session: Session, notice: TakedownNotice) -> set[str]:
    """The people who drafted the notice: who created it and who added items to it while it was a draft."""
    out = {person(notice.created_by)}
    ids = [it.id for it in notice.items]
    if ids:
        session.flush()
        q = select(TakedownEvent.actor).where(
            TakedownEvent.item_id.in_(ids),
            TakedownEvent.to_state == "drafted",
            TakedownEvent.note == f"notice {notice.id}",
        )
        out.update(person(a) for a in session.execute(q).scalars())
    return out


def _display_name(session: Session, actor: str) -> str:
    """The approver as the notice names her: the account's display name, else the person's name."""
    from jikimi.store.schema.accounts import User

    name = person(actor)
    shown = session.scalar(select(User.display_name).where(User.username == name))
    return (shown or name).strip() or name


def approve(
    session: Session, notice_id: int, *, actor: str | None = None, org: Organisation | None = None
) -> TakedownNotice:
    """A person approves a drafted notice; only approved notices are sent.

    With the organisation's ``four_eyes`` setting, the approver must be another person than the one(s) who
    drafted it (``drafters``). When a second person approves, the footer names her; otherwise it names nobody.
    The footer is part of the content, so the content hash is recorded again (both are in the audit entry).
    """
    actor = _actor(actor)
    notice = get_notice(session, notice_id)
    if notice.status != "drafted":
        raise ValidationError(
            "notice {id} is {state}, not drafted",
            "only drafts are approved",
            code="takedown.notice_state",
            id=notice_id,
            state=tracking.state_word(notice.status),
        )
    _check_integrity(notice)
    org = org or load_organisation(required=False)
    who = drafters(session, notice)
    second_person = person(actor) not in who
    if org.four_eyes and not second_person:
        raise ValidationError(
            "notice {id} was drafted by {who}; the organisation requires another person to approve it "
            "(four eyes)",
            "ask a colleague who did not draft it to approve it",
            code="takedown.four_eyes",
            id=notice_id,
            who=person(actor),
        )
    drafted_sha256 = notice.content_sha256
    notice.body = with_footer(
        notice.body, notice.lang, _display_name(session, actor) if second_person else None
    )
    notice.content_sha256 = content_sha256(notice.subject, notice.body)
    now = utcnow()
    notice.status = "approved"
    notice.approved_at = now
    notice.approved_by = actor
    for it in notice.items:
        if it.state == "drafted":
            tracking.move(session, it, "approved", actor=actor, note=f"notice {notice.id}", at=now)
    audit.append(
        session,
        actor=actor,
        action="takedown.approve",
        subject=f"takedown_notice:{notice.id}",
        details={
            "content_sha256": notice.content_sha256,
            "drafted_sha256": drafted_sha256,
            "items": [it.id for it in notice.items],
            "drafted_by": sorted(who),
            "second_person": second_person,
            "four_eyes": org.four_eyes,
        },
    )
    return notice


def set_recipient(
    session: Session, notice_id: int, recipient: str, *, actor: str | None = None
) -> TakedownNotice:
    """Set the e-mail address of a notice that is not sent yet (e.g. a host's abuse contact)."""
    notice = get_notice(session, notice_id)
    if notice.status not in ("drafted", "approved"):
        raise ValidationError(
            "notice {id} is {state}; its recipient can no longer change",
            code="takedown.notice_state",
            id=notice_id,
            state=tracking.state_word(notice.status),
        )
    if "@" not in recipient or any(c.isspace() for c in recipient.strip()):
        raise ValidationError(
            "not an e-mail address: {address!r}", code="takedown.recipient_invalid", address=recipient
        )
    notice.recipient = recipient.strip()
    notice.channel = "email"
    audit.append(
        session,
        actor=_actor(actor),
        action="takedown.recipient",
        subject=f"takedown_notice:{notice.id}",
        details={"recipient": notice.recipient},
    )
    return notice


def withdraw(session: Session, notice_id: int, *, actor: str | None = None) -> TakedownNotice:
    """Withdraw a notice that was not sent; its items can be drafted again."""
    actor = _actor(actor)
    notice = get_notice(session, notice_id)
    if notice.status not in ("drafted", "approved"):
        raise ValidationError(
            "notice {id} is {state}; only unsent notices can be withdrawn",
            code="takedown.notice_state",
            id=notice_id,
            state=tracking.state_word(notice.status),
        )
    notice.status = "withdrawn"
    for it in notice.items:
        if it.state == "approved":
            tracking.move(session, it, "drafted", actor=actor, note=f"notice {notice.id} withdrawn")
        if it.state == "drafted":
            tracking.move(session, it, "found", actor=actor, note=f"notice {notice.id} withdrawn")
    audit.append(session, actor=actor, action="takedown.withdraw", subject=f"takedown_notice:{notice.id}")
    return notice


def _mark_sent(
    session: Session, notice: TakedownNotice, *, actor: str, message_id: str, details: dict[str, Any]
) -> None:
    now = utcnow()
    notice.status = "sent"
    notice.sent_at = now
    notice.sent_by = actor
    notice.message_id = message_id
    notice.last_error = None
    notice.next_attempt_at = None
    directory = load_directory()
    for it in notice.items:
        if it.state == "approved":
            tracking.move(session, it, "sent", actor=actor, note=f"notice {notice.id}: {message_id}", at=now)
            p = directory.get(notice.platform) or directory["generic_host"]
            it.next_check_at = now + timedelta(hours=p.recheck_hours)
    audit.append(
        session,
        actor=actor,
        action="takedown.send",
        subject=f"takedown_notice:{notice.id}",
        details={
            "message_id": message_id,
            "content_sha256": notice.content_sha256,
            "platform": notice.platform,
            "channel": notice.channel,
            "recipient": notice.recipient or notice.form_url,
            "items": [it.id for it in notice.items],
            **details,
        },
    )


def _approved(session: Session, notice_id: int) -> TakedownNotice:
    """The notice, locked, if it may be sent now: approved, and unchanged since it was drafted."""
    notice = get_notice(session, notice_id, lock=True)
    if notice.status == "drafted":
        raise ValidationError(
            "notice {id} is {state}; only approved notices are sent",
            "approve it first",
            code="takedown.notice_state",
            cli_hint="approve it first: `jikimi takedown approve ID`",
            id=notice_id,
            state=tracking.state_word(notice.status),
        )
    if notice.status != "approved":
        raise ValidationError(
            "notice {id} is {state}; only approved notices are sent",
            code="takedown.notice_state",
            id=notice_id,
            state=tracking.state_word(notice.status),
        )
    _check_integrity(notice)
    return notice


def send(
    session: Session,
    notice_id: int,
    *,
    actor: str | None = None,
    smtp: SmtpSettings | None = None,
    submitted_ref: str | None = None,
) -> SendResult:
    """Send an approved notice.

    E-mail notices go over SMTP. A failure (server unreachable, login refused) leaves the notice approved,
    counts the attempt, schedules a retry with back-off (``send_due``) and is returned as the result's error.
    Web-form notices are submitted by a person (with the PDF, ``notice_pdf_bytes``); pass the form's
    confirmation number as ``submitted_ref`` to record the submission.
    """
    actor = _actor(actor)
    notice = _approved(session, notice_id)
    ref = reference(notice)
    if notice.channel != "email" or submitted_ref is not None:
        if not submitted_ref:
            raise ValidationError(
                "notice {id} goes to {platform} through a web form ({form})",
                "submit its PDF there, then record the confirmation the form gives",
                code="takedown.web_form",
                cli_hint="submit the PDF (`jikimi takedown pdf {id}`) there, then record it with "
                "`jikimi takedown send {id2} --submitted CONFIRMATION`",
                id=notice_id,
                id2=notice_id,
                platform=notice.platform,
                form=notice.form_url or Text("see the platform directory"),
            )
        _mark_sent(
            session, notice, actor=actor, message_id=f"form:{submitted_ref}", details={"reference": ref}
        )
        return SendResult(notice.id, True, notice.message_id)
    if not notice.recipient:
        raise ValidationError(
            "notice {id} has no recipient address",
            "set the platform's or host's abuse address as the recipient",
            code="takedown.no_recipient",
            cli_hint="set the platform's or host's abuse address: `jikimi takedown send {id} --to ADDRESS`",
            id=notice_id,
        )
    try:
        settings = smtp or load_smtp()
        org = load_organisation(required=False)
        msg = build_message(
            settings,
            to=notice.recipient,
            subject=notice.subject,
            body=notice.body,
            ref=ref,
            reply_to=org.email,
        )
        sent = send_message(settings, msg)
    except JikimiError as exc:
        notice.send_attempts += 1
        notice.last_error = exc.reason
        delay = min(RETRY_BASE * (2 ** (notice.send_attempts - 1)), RETRY_MAX)
        notice.next_attempt_at = utcnow() + delay
        audit.append(
            session,
            actor=actor,
            action="takedown.send_failed",
            subject=f"takedown_notice:{notice.id}",
            details={"error": exc.reason, "code": exc.code, "attempt": notice.send_attempts},
        )
        return SendResult(notice.id, False, error=exc.reason, hint=exc.hint, failure=exc)
    notice.send_attempts += 1
    _mark_sent(
        session,
        notice,
        actor=actor,
        message_id=sent.message_id,
        details={"message_sha256": sent.raw_sha256, "reference": ref},
    )
    return SendResult(notice.id, True, sent.message_id)


def send_due(
    session: Session,
    *,
    actor: str | None = None,
    smtp: SmtpSettings | None = None,
    now: datetime | None = None,
) -> list[SendResult]:
    """Send (or retry) every approved e-mail notice whose retry time has come."""
    now = now or utcnow()
    due = session.execute(
        select(TakedownNotice.id)
        .where(TakedownNotice.status == "approved", TakedownNotice.channel == "email")
        .order_by(TakedownNotice.id)
    ).scalars()
    results = []
    for nid in list(due):
        notice = get_notice(session, nid)
        if notice.next_attempt_at is not None and notice.next_attempt_at > now:
            continue
        results.append(send(session, nid, actor=actor, smtp=smtp))
    return results


MARKS = ("acknowledged", "removed", "refused")


def mark(
    session: Session,
    notice_id: int,
    outcome: str,
    *,
    actor: str | None = None,
    item_id: int | None = None,
    note: str | None = None,
) -> list[TakedownItem]:
    """Record the platform's answer for a notice's items (or one item): acknowledged, removed, refused."""
    actor = _actor(actor)
    if outcome not in MARKS:
        raise ValidationError(
            "unknown outcome {outcome!r}",
            "use one of {outcomes}",
            code="takedown.outcome_unknown",
            outcome=outcome,
            outcomes=", ".join(MARKS),
        )
    notice = get_notice(session, notice_id)
    items = [it for it in notice.items if item_id is None or it.id == item_id]
    if item_id is not None and not items:
        raise NotFoundError(
            "notice {id} has no item {item}", code="takedown.item_not_found", id=notice_id, item=item_id
        )
    changed = []
    for it in items:
        if it.state == outcome:
            continue
        if not tracking.can_move(it.state, outcome):
            if item_id is not None:
                tracking.move(session, it, outcome, actor=actor)  # raises with the allowed states
            continue
        tracking.move(session, it, outcome, actor=actor, note=note or f"notice {notice.id}")
        if outcome == "removed":
            it.next_check_at = utcnow() + REAPPEAR_CHECK
        changed.append(it)
    if not changed and items and all(it.state != outcome for it in items):
        raise ValidationError(
            "no item of notice {id} can become {state}",
            "their states: {states}",
            code="takedown.item_transition",
            id=notice_id,
            state=tracking.state_word(outcome),
            states=tracking.state_words(sorted({it.state for it in items})),
        )
    if all(it.state in ("removed", "refused") for it in notice.items) and notice.status == "sent":
        notice.status = "closed"
    if changed:
        audit.append(
            session,
            actor=actor,
            action=f"takedown.{outcome}",
            subject=f"takedown_notice:{notice.id}",
            details={"items": [it.id for it in changed], "note": note},
        )
    return changed


def notice_pdf_bytes(session: Session, notice_id: int) -> bytes:
    """The notice as PDF (for a web form or a letter)."""
    from jikimi.takedown.pdf import notice_pdf

    notice = get_notice(session, notice_id)
    return notice_pdf(
        title=notice.subject,
        body=notice.body,
        lang=notice.lang,
        reference=reference(notice),
        content_sha256=notice.content_sha256,
        created=notice.created_at,
    )


def write_pdf(session: Session, notice_id: int, out: Path | None = None, *, actor: str | None = None) -> Path:
    """Write the notice PDF (default: ``JIKIMI_HOME/takedown/notice-ID.pdf``) and audit the export."""
    from jikimi.config import get_settings

    data = notice_pdf_bytes(session, notice_id)
    path = out or get_settings().home / "takedown" / f"notice-{notice_id}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    import hashlib

    audit.append(
        session,
        actor=_actor(actor),
        action="takedown.pdf",
        subject=f"takedown_notice:{notice_id}",
        details={"path": str(path), "sha256": hashlib.sha256(data).hexdigest()},
    )
    return path


# ---------------------------------------------------------------------------------------------- without SMTP


def notice_eml_bytes(session: Session, notice_id: int, *, actor: str | None = None) -> bytes:
    """The notice as an e-mail file (``.eml``, with the PDF attached) to send from one's own mailbox when no
    mail server is configured; the export is audited. The sender is the SMTP sender if one is configured,
    else the organisation's address."""
    import hashlib

    from jikimi.takedown.settings import SmtpSettings

    notice = get_notice(session, notice_id)
    _check_integrity(notice)
    org = load_organisation(required=False)
    try:
        sender = load_smtp().sender
    except JikimiError:
        sender = org.email or "takedown@jikimi.invalid"
    ref = reference(notice)
    msg = build_message(
        SmtpSettings(host="", sender=sender),
        to=notice.recipient or "",
        subject=notice.subject,
        body=notice.body,
        ref=ref,
        reply_to=org.email,
        attachment=(f"{ref}.pdf", notice_pdf_bytes(session, notice_id)),
    )
    data = msg.as_bytes()
    audit.append(
        session,
        actor=_actor(actor),
        action="takedown.eml",
        subject=f"takedown_notice:{notice.id}",
        details={"sha256": hashlib.sha256(data).hexdigest(), "content_sha256": notice.content_sha256},
    )
    return data


def mark_sent_by_hand(
    session: Session, notice_id: int, how: str, *, actor: str | None = None, sent_at: datetime | None = None
) -> TakedownNotice:
    """Record that a person sent an approved notice herself (from her own mailbox, by post, by fax...):
    who (``actor``), when (``sent_at``, default now) and how are kept on the notice and in the audit log."""
    actor = _actor(actor)
    how = (how or "").strip()
    if not how:
        raise ValidationError(
            "say how the notice was sent",
            "e.g. from {addr} by e-mail, or by registered post",
            code="takedown.how_sent_missing",
            addr="takedown@centre.kr",
        )
    if len(how) > 500:
        raise ValidationError(
            "the description of how it was sent is over 500 characters", code="takedown.how_sent_too_long"
        )
    notice = _approved(session, notice_id)
    when = sent_at or utcnow()
    if when.tzinfo is None:
        raise ValidationError("the time it was sent needs a time zone", code="takedown.sent_at_naive")
    if when > utcnow() + timedelta(minutes=5):
        raise ValidationError("the time it was sent is in the future", code="takedown.sent_at_future")
    _mark_sent(
        session,
        notice,
        actor=actor,
        message_id=f"manual:{reference(notice)}",
        details={"by_hand": True, "how": how, "sent_at": when.isoformat(), "reference": reference(notice)},
    )
    notice.sent_at = when
    notice.note = note_json(
        [*notice.note_messages, Message("sent by hand by {who}: {how}", {"who": actor, "how": how})]
    )
    return notice


def smtp_status() -> dict[str, Any]:
    """Whether a mail server is configured, for administrators: host, port, TLS, sender and whether a login
    is set, never the password; ``problem`` says what is missing."""
    from jikimi.takedown.settings import config_path

    try:
        smtp = load_smtp()
    except JikimiError as exc:
        # ``error`` is the error itself, for the page to show in its language (the API keeps the English).
        return {
            "configured": False,
            "problem": exc.reason,
            "hint": exc.hint,
            "code": exc.code,
            "error": exc,
            "file": str(config_path()),
        }
    return {
        "configured": True,
        "host": smtp.host,
        "port": smtp.port,
        "tls": "ssl" if smtp.ssl else ("starttls" if smtp.starttls else "none"),
        "sender": smtp.sender,
        "login": bool(smtp.user),
        "file": str(config_path()),
    }
