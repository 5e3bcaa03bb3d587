"""Takedown notices: draft per case, approve, send, record the platform's answer; removal figures.

Platform partners see only the notices addressed to their platform (``users.partner`` = the platform key
in the takedown directory), and only once they were sent: drafts and approved notices waiting to go out
(or withdrawn before) are "not found" to them, like anything else.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.api.deps import DB, Forbidden, Principal, User, audit, require
from jikimi.api.roles import Perm
from jikimi.errors import NotFoundError
from jikimi.store.schema.takedown import ReuploadAlert, TakedownItem, TakedownNotice
from jikimi.takedown import figures, service

router = APIRouter()
Writer = Annotated[Principal, Depends(require(Perm.TAKEDOWN_WRITE))]
Reporter = Annotated[Principal, Depends(require(Perm.REPORT_READ))]


def setup(app: object) -> None:
    """Expose the takedown figures on /metrics."""
    state = app.state  # type: ignore[attr-defined]
    state.metrics.register(figures.TakedownCollector(state.store))


def _can_read(principal: Principal) -> None:
    if not (principal.can(Perm.TAKEDOWN_READ) or principal.can(Perm.NOTICE_OWN)):
        raise Forbidden(Perm.TAKEDOWN_READ.value)


PARTNER_STATUSES = ("sent", "closed")
"""The notice statuses a platform partner may see: the notice reached the platform."""


def _visible(principal: Principal, notice: TakedownNotice) -> bool:
    if principal.can(Perm.TAKEDOWN_READ):
        return True
    return bool(
        principal.can(Perm.NOTICE_OWN)
        and principal.partner
        and notice.platform == principal.partner
        and notice.status in PARTNER_STATUSES
        and notice.sent_at is not None
    )


def _notice(s: Session, principal: Principal, notice_id: int) -> TakedownNotice:
    _can_read(principal)
    n = service.get_notice(s, notice_id)
    if not _visible(principal, n):
        raise NotFoundError(
            "no takedown notice {id}",
            "see the list of notices",
            code="takedown.notice_not_found",
            cli_hint="list them with `jikimi takedown list`",
            id=notice_id,
        )
    return n


class ItemOut(BaseModel):
    id: int
    case_id: str
    url: str
    platform: str
    state: str
    found_at: datetime
    removed_at: datetime | None


class NoticeOut(BaseModel):
    id: int
    reference: str
    case_id: str
    platform: str
    lang: str
    channel: str
    recipient: str | None
    form_url: str | None
    status: str
    subject: str
    body: str
    content_sha256: str
    created_at: datetime
    created_by: str
    approved_at: datetime | None
    approved_by: str | None
    sent_at: datetime | None
    message_id: str | None
    send_attempts: int
    last_error: str | None
    note: str | None
    items: list[ItemOut]


def _item_out(i: TakedownItem) -> ItemOut:
    return ItemOut.model_validate(service.item_to_dict(i))


def _out(n: TakedownNotice) -> NoticeOut:
    return NoticeOut.model_validate(service.notice_to_dict(n))


def _list(s: Session, principal: Principal, status: str | None, case_id: str | None) -> list[TakedownNotice]:
    _can_read(principal)
    if principal.can(Perm.TAKEDOWN_READ):
        return service.list_notices(s, status=status, case_id=case_id)
    notices = service.list_notices(
        s, status=status, case_id=case_id, platform=principal.partner or "\x00none"
    )
    return [n for n in notices if _visible(principal, n)]


class DraftIn(BaseModel):
    platform: str | None = Field(default=None, max_length=64)
    lang: Literal["ko", "en", "ja"] | None = None
    recipient: str | None = Field(default=None, max_length=320)
    victim_name: str | None = Field(default=None, max_length=200)


class DraftOut(BaseModel):
    notices: list[NoticeOut]
    notes: list[str]


class SendIn(BaseModel):
    recipient: str | None = Field(default=None, max_length=320)
    submitted_ref: str | None = Field(default=None, max_length=200)


class SendOut(BaseModel):
    notice_id: int
    ok: bool
    message_id: str | None
    error: str | None
    hint: str | None
    code: str | None = Field(
        default=None, description="stable code of the error, e.g. `takedown.smtp_unreachable`"
    )


class MarkIn(BaseModel):
    outcome: Literal["acknowledged", "removed", "refused"]
    item_id: int | None = None
    note: str | None = Field(default=None, max_length=1000)


@router.get(
    "/api/v1/takedowns",
    response_model=list[NoticeOut],
    tags=["takedowns"],
    summary="Takedown notices (partners: only those addressed to their platform)",
)
def list_takedowns(
    s: DB, principal: User, status: str | None = None, case_id: str | None = None
) -> list[NoticeOut]:
    return [_out(n) for n in _list(s, principal, status, case_id)]


@router.get(
    "/api/v1/takedowns/{notice_id}",
    response_model=NoticeOut,
    tags=["takedowns"],
    summary="One notice",
    responses={404: {"description": "no such notice (or not addressed to you)"}},
)
def get_takedown(s: DB, notice_id: int, principal: User) -> NoticeOut:
    return _out(_notice(s, principal, notice_id))


@router.get(
    "/api/v1/takedowns/{notice_id}/pdf",
    tags=["takedowns"],
    summary="The notice as PDF (audited export)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 404: {}},
)
def takedown_pdf(s: DB, notice_id: int, principal: User) -> Response:
    n = _notice(s, principal, notice_id)
    data = service.notice_pdf_bytes(s, n.id)
    audit(s, principal, "takedown.pdf", f"takedown_notice:{n.id}", sha256=hashlib.sha256(data).hexdigest())
    return Response(
        data,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="notice-{n.id}.pdf"'},
    )


@router.post(
    "/api/v1/cases/{case_id}/takedowns",
    response_model=DraftOut,
    status_code=201,
    tags=["takedowns"],
    summary="Draft notices for a case's confirmed findings (one per platform)",
)
def draft(s: DB, case_id: str, body: DraftIn, principal: Writer) -> DraftOut:
    res = service.draft_case(
        s,
        case_id,
        platform=body.platform,
        lang=body.lang,
        recipient=body.recipient,
        victim_name=body.victim_name,
        actor=principal.actor,
    )
    return DraftOut(notices=[_out(n) for n in res.notices], notes=res.notes)


class ItemIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="Where the content is (post, message, file)")
    sha256: str | None = Field(default=None, max_length=200)
    md5: str | None = Field(default=None, max_length=200)
    pdq: str | None = Field(default=None, max_length=200)
    chat: str | None = Field(default=None, max_length=200)
    media_url: str | None = Field(default=None, max_length=2000)
    first_seen: datetime | None = None
    captured_at: datetime | None = None


class ItemAddOut(BaseModel):
    item: ItemOut
    created: bool


@router.post(
    "/api/v1/cases/{case_id}/takedown-items",
    response_model=ItemAddOut,
    status_code=201,
    tags=["takedowns"],
    summary="Register a URL by hand (as `jikimi takedown add`); the same URL twice is the same item",
    responses={404: {"description": "no such case"}, 422: {"description": "not a link, or a bad hash"}},
)
def add_takedown_item(s: DB, case_id: int, body: ItemIn, principal: Writer) -> ItemAddOut:
    from jikimi.cases.queries import get_case

    get_case(s, case_id)
    ref = service.FindingRef(
        case_id=str(case_id),
        url=body.url,
        sha256=body.sha256 or None,
        md5=body.md5 or None,
        pdq=body.pdq or None,
        chat=body.chat or None,
        media_url=body.media_url or None,
        first_seen=body.first_seen,
        captured_at=body.captured_at,
    )
    item, created = service.add_item(s, ref, actor=principal.actor)
    audit(
        s,
        principal,
        "takedown.item.add",
        f"takedown_item:{item.id}",
        case=str(case_id),
        url=item.url,
        created=created,
        by="api",
    )
    return ItemAddOut(item=_item_out(item), created=created)


@router.post(
    "/api/v1/takedowns/{notice_id}/approve",
    response_model=NoticeOut,
    tags=["takedowns"],
    summary="Approve a drafted notice",
    responses={404: {}, 422: {"description": "not a draft"}},
)
def approve(s: DB, notice_id: int, principal: Writer) -> NoticeOut:
    return _out(service.approve(s, notice_id, actor=principal.actor))


@router.post(
    "/api/v1/takedowns/{notice_id}/send",
    response_model=SendOut,
    tags=["takedowns"],
    summary="Send an approved notice (e-mail), or record a web-form submission",
    responses={404: {}, 422: {"description": "not approved, or no recipient"}},
)
def send(s: DB, notice_id: int, body: SendIn, principal: Writer) -> SendOut:
    if body.recipient:
        service.set_recipient(s, notice_id, body.recipient, actor=principal.actor)
    r = service.send(s, notice_id, actor=principal.actor, submitted_ref=body.submitted_ref or None)
    return SendOut(
        notice_id=r.notice_id,
        ok=r.ok,
        message_id=r.message_id,
        error=r.error,
        hint=r.hint,
        code=r.failure.code if r.failure else None,
    )


@router.get(
    "/api/v1/takedowns/{notice_id}/eml",
    tags=["takedowns"],
    summary="The notice as an e-mail file (.eml, PDF attached) to send from your own mailbox (audited)",
    responses={404: {}},
)
def notice_eml(s: DB, notice_id: int, principal: Writer) -> Response:
    n = _notice(s, principal, notice_id)
    data = service.notice_eml_bytes(s, notice_id, actor=principal.actor)
    return Response(
        data,
        media_type="message/rfc822",
        headers={
            "content-disposition": f'attachment; filename="{service.reference(n)}.eml"',
            "cache-control": "no-store",
        },
    )


class SentByHandIn(BaseModel):
    how: str = Field(min_length=1, max_length=500, description="How it was sent (own mailbox, post, fax...)")
    sent_at: datetime | None = Field(default=None, description="When (default: now); with a time zone")


@router.post(
    "/api/v1/takedowns/{notice_id}/sent-by-hand",
    response_model=NoticeOut,
    tags=["takedowns"],
    summary="Record that an approved notice was sent by a person herself (who, when, how; audited)",
    responses={404: {}, 422: {"description": "not approved, or how is missing"}},
)
def sent_by_hand(s: DB, notice_id: int, body: SentByHandIn, principal: Writer) -> NoticeOut:
    return _out(
        service.mark_sent_by_hand(s, notice_id, body.how, actor=principal.actor, sent_at=body.sent_at)
    )


class SmtpStatusOut(BaseModel):
    configured: bool
    host: str | None = None
    port: int | None = None
    tls: str | None = None
    sender: str | None = None
    login: bool | None = None
    problem: str | None = None
    hint: str | None = None
    code: str | None = Field(
        default=None, description="stable code of the problem, e.g. `takedown.smtp_missing`"
    )
    file: str | None = None


@router.get(
    "/api/v1/settings/smtp",
    response_model=SmtpStatusOut,
    tags=["takedowns"],
    summary="Whether a mail server is configured for sending notices (administrators; never the password)",
)
def smtp_settings_status(_: Annotated[Principal, Depends(require(Perm.USER_ADMIN))]) -> SmtpStatusOut:
    return SmtpStatusOut(**service.smtp_status())


@router.post(
    "/api/v1/takedowns/{notice_id}/withdraw",
    response_model=NoticeOut,
    tags=["takedowns"],
    summary="Withdraw an unsent notice",
    responses={404: {}, 422: {}},
)
def withdraw(s: DB, notice_id: int, principal: Writer) -> NoticeOut:
    return _out(service.withdraw(s, notice_id, actor=principal.actor))


@router.post(
    "/api/v1/takedowns/{notice_id}/mark",
    response_model=list[ItemOut],
    tags=["takedowns"],
    summary="Record the platform's answer: acknowledged, removed or refused",
    responses={404: {}, 422: {}},
)
def mark(s: DB, notice_id: int, body: MarkIn, principal: Writer) -> list[ItemOut]:
    items = service.mark(
        s, notice_id, body.outcome, actor=principal.actor, item_id=body.item_id, note=body.note
    )
    return [_item_out(i) for i in items]


class AlertOut(BaseModel):
    id: int
    case_id: str
    item_id: int
    new_url: str | None
    matched_by: str
    distance: int
    seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class ResolveIn(BaseModel):
    reply: str = Field(default="", max_length=5000, description="The platform's reply, as received")


def _alert_out(a: ReuploadAlert) -> AlertOut:
    return AlertOut(
        id=a.id,
        case_id=a.case_id,
        item_id=a.item_id,
        new_url=a.new_url,
        matched_by=a.matched_by,
        distance=a.distance,
        seen_at=a.seen_at,
        resolved_at=a.resolved_at,
        resolved_by=a.resolved_by,
    )


@router.get(
    "/api/v1/alerts",
    response_model=list[AlertOut],
    tags=["takedowns"],
    summary="Open re-upload alerts (content of a case seen again), optionally of one case",
)
def list_alerts(
    s: DB, principal: Annotated[Principal, Depends(require(Perm.TAKEDOWN_READ))], case_id: str | None = None
) -> list[AlertOut]:
    from jikimi.takedown import reupload

    return [_alert_out(a) for a in reupload.open_alerts(s, case_id)]


@router.post(
    "/api/v1/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    tags=["takedowns"],
    summary="Mark a re-upload alert handled, with the platform's reply (audited)",
    responses={404: {}, 422: {"description": "already resolved"}},
)
def resolve_alert(s: DB, alert_id: int, body: ResolveIn, principal: Writer) -> AlertOut:
    from jikimi.takedown import reupload

    return _alert_out(reupload.resolve_alert(s, alert_id, actor=principal.actor, reply=body.reply))


class ReportRow(BaseModel):
    group: str
    key: str
    findings: int
    notices: int
    notices_sent: int
    removed: int
    refused: int
    reappeared: int
    reupload_alerts: int
    removal_rate: float | None
    median_hours_to_removal: float | None
    p90_hours_to_removal: float | None


@router.get(
    "/api/v1/reports/takedowns",
    response_model=list[ReportRow],
    tags=["reports"],
    summary="Removal figures: total, by platform and by month",
)
def report(s: DB, _: Reporter, since: datetime | None = None) -> list[ReportRow]:
    return [ReportRow(**r.as_dict()) for r in figures.report(s, since=since)]


# --- a victim's own case ---------------------------------------------------------------------------


class MyItemOut(BaseModel):
    platform: str
    state: str
    found_at: datetime
    removed_at: datetime | None


class MySentOut(BaseModel):
    """One request sent to a platform: where, when, and where its links stand."""

    platform: str
    sent_at: datetime | None
    state: str


class MyWorkerOut(BaseModel):
    """Her case worker and how to reach the centre."""

    name: str
    organisation: str | None = None
    email: str | None = None
    phone: str | None = None


class MyCaseOut(BaseModel):
    case_id: str
    items: list[MyItemOut]
    counts: dict[str, int]
    under_review: int = 0
    """Findings of her case that a person is still reviewing (before anything is reported)."""
    sent: list[MySentOut] = []
    worker: MyWorkerOut | None = None


# Where a sent request stands, from its links' states: the least advanced one (a request is settled when every
# link is).
_SENT_ORDER = ("sent", "reappeared", "acknowledged", "refused", "removed")


def _case_worker(s: Session, principal: Principal) -> MyWorkerOut | None:
    """The worker who opened her account (from the audit log), with the organisation's contact details."""
    from jikimi.errors import ConfigError
    from jikimi.store.schema.accounts import User as UserRow
    from jikimi.store.schema.evidence import AuditEntry
    from jikimi.takedown.settings import load_organisation

    created = s.scalar(
        select(AuditEntry.actor)
        .where(AuditEntry.action == "user.create", AuditEntry.subject == f"user:{principal.user_id}")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    username = (created or "").split(":", 1)[-1]
    row = s.scalar(select(UserRow).where(UserRow.username == username)) if username else None
    try:
        org = load_organisation(required=False)
    except ConfigError:
        org = None
    if row is None and (org is None or not org.name):
        return None
    return MyWorkerOut(
        name=(row.display_name or row.username) if row is not None else "",
        organisation=(org.name or None) if org else None,
        email=org.email if org else None,
        phone=org.phone if org else None,
    )


def _under_review(s: Session, case_ref: str) -> int:
    from sqlalchemy import func

    from jikimi.store.schema.scans import Finding

    if not case_ref.isdigit():
        return 0
    return int(
        s.scalar(select(func.count()).where(Finding.case_id == int(case_ref), Finding.status == "new")) or 0
    )


def _my_case(s: Session, principal: Principal) -> MyCaseOut:
    case_id = principal.case_ref or ""
    items = service.case_items(s, case_id) if case_id else []
    counts: dict[str, int] = {}
    for it in items:
        counts[it.state] = counts.get(it.state, 0) + 1
    sent: list[MySentOut] = []
    if case_id:
        notices = s.scalars(
            select(TakedownNotice)
            .where(TakedownNotice.case_id == case_id, TakedownNotice.sent_at.is_not(None))
            .order_by(TakedownNotice.sent_at)
        )
        for n in notices:
            states = [i.state for i in n.items if i.state in _SENT_ORDER]
            state = min(states, key=_SENT_ORDER.index) if states else "sent"
            sent.append(MySentOut(platform=n.platform, sent_at=n.sent_at, state=state))
    return MyCaseOut(
        case_id=case_id,
        items=[
            MyItemOut(platform=i.platform, state=i.state, found_at=i.found_at, removed_at=i.removed_at)
            for i in items
        ],
        counts=counts,
        under_review=_under_review(s, case_id),
        sent=sent,
        worker=_case_worker(s, principal) if case_id else None,
    )


@router.get(
    "/api/v1/my-case",
    response_model=MyCaseOut,
    tags=["cases"],
    summary="A victim's own case: where each reported copy stands (no images, no links)",
)
def my_case(s: DB, principal: Annotated[Principal, Depends(require(Perm.CASE_OWN))]) -> MyCaseOut:
    return _my_case(s, principal)
