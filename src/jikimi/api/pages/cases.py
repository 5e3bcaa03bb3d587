"""The review and case pages: findings to review, the cases, a case's timeline, adding a place it was seen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.api.routers.cases import _ACTIONS, CaseReader, FindingReader, Reviewer, _findings, _one, _review
from jikimi.api.ui import render
from jikimi.cases.queries import case_detail, get_case, list_cases
from jikimi.errors import JikimiError, NotFoundError, Text
from jikimi.store import audit

router = APIRouter()


@router.get("/review", include_in_schema=False)
def review_page(request: Request, s: DB, principal: FindingReader, case_id: int | None = None) -> Response:
    items = _findings(s, status="new", case_id=case_id, limit=60)
    return render(request, "review.html", principal, findings=items, case_id=case_id)


@router.post("/review/{finding_id}/{action}", include_in_schema=False)
def review_action(
    request: Request,
    s: DB,
    finding_id: int,
    action: str,
    principal: Reviewer,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if action not in _ACTIONS:
        raise NotFoundError("no review action {action!r}", code="cases.review_action_unknown", action=action)
    error: JikimiError | None = None
    try:
        _review(s, principal, finding_id, action, note)
    except JikimiError as exc:
        s.rollback()
        error = exc
    f = _one(s, finding_id)
    if request.headers.get("hx-request"):
        return render(request, "finding_card.html", principal, f=f, error=error, reviewed=error is None)
    return RedirectResponse(f"/review?case_id={f.case_id}", status_code=303)


@router.get("/cases", include_in_schema=False)
def cases_page(request: Request, s: DB, principal: CaseReader) -> Response:
    return render(request, "cases.html", principal, cases=list_cases(s))


def _timeline(detail: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    for f in detail.get("findings_detail", []):
        for sg in f.get("sightings", []):
            events.append({**sg, "finding_id": f["finding_id"], "status": f["status"]})
    return sorted(events, key=lambda e: (e.get("date") or "9999", e.get("location") or ""))


def _case_page(
    request: Request, s: Session, case_id: int, principal: Principal, *, status: int = 200, **extra: Any
) -> Response:
    from jikimi.takedown import reupload, service

    detail = case_detail(s, case_id, mask=True)
    notices = service.list_notices(s, case_id=str(case_id))
    ctx: dict[str, Any] = {"add_error": None, "add_form": {}, **extra}
    return render(
        request,
        "case.html",
        principal,
        status=status,
        case=detail,
        timeline=_timeline(detail),
        notices=notices,
        reference=service.reference,
        findings=_findings(s, status=None, case_id=case_id, limit=500),
        takedown_items=service.case_items(s, str(case_id)),
        alerts=reupload.open_alerts(s, case_id=str(case_id)),
        **ctx,
    )


@router.get("/cases/{case_id}", include_in_schema=False)
def case_page(request: Request, s: DB, case_id: int, principal: CaseReader) -> Response:
    return _case_page(request, s, case_id, principal)


@router.post("/cases/{case_id}/takedown-items", include_in_schema=False)
def case_add_url_page(
    request: Request,
    s: DB,
    case_id: int,
    principal: Annotated[Principal, Depends(require(Perm.TAKEDOWN_WRITE))],
    url: Annotated[str, Form(max_length=2000)] = "",
    chat: Annotated[str, Form(max_length=200)] = "",
    sha256: Annotated[str, Form(max_length=200)] = "",
    md5: Annotated[str, Form(max_length=200)] = "",
    pdq: Annotated[str, Form(max_length=200)] = "",
    media_url: Annotated[str, Form(max_length=2000)] = "",
    first_seen: Annotated[str, Form(max_length=40)] = "",
    captured_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Register a URL by hand (``jikimi takedown add`` in the browser); errors keep what was typed."""
    from jikimi.takedown.service import FindingRef, add_item

    get_case(s, case_id)
    form = {
        "url": url,
        "chat": chat,
        "sha256": sha256,
        "md5": md5,
        "pdq": pdq,
        "media_url": media_url,
        "first_seen": first_seen,
        "captured_at": captured_at,
    }
    try:
        ref = FindingRef(
            case_id=str(case_id),
            url=url,
            sha256=sha256.strip() or None,
            md5=md5.strip() or None,
            pdq=pdq.strip() or None,
            chat=chat.strip() or None,
            media_url=media_url.strip() or None,
            first_seen=parse_local_time(first_seen, "first seen"),
            captured_at=parse_local_time(captured_at, "captured at"),
        )
        item, created = add_item(s, ref, actor=principal.actor)
        audit.append(
            s,
            actor=principal.actor,
            action="takedown.item.add",
            subject=f"takedown_item:{item.id}",
            details={"case": str(case_id), "url": item.url, "created": created, "by": "web"},
        )
    except JikimiError as exc:
        s.rollback()
        return _case_page(request, s, case_id, principal, status=422, add_error=exc, add_form=form)
    return RedirectResponse(f"/cases/{case_id}#takedown-items", status_code=303)


#: The date/time fields of the form, as an error names them (catalogued words).
_TIME_FIELDS = {"first seen": Text("first seen"), "captured at": Text("captured at")}


def parse_local_time(text: str, what: str) -> datetime | None:
    """A date/time typed in a form: ISO 8601 or the browser's ``datetime-local``; without an offset it is
    the organisation's local time (Asia/Seoul by default)."""
    from zoneinfo import ZoneInfo

    from jikimi.config import org_timezone
    from jikimi.errors import ValidationError

    text = text.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(
            "{what} is not a date/time: {text!r}",
            "use the date picker, e.g. {eg}",
            code="cases.datetime_invalid",
            what=_TIME_FIELDS.get(what, what),
            text=text[:40],
            eg="2026-02-01 10:00",
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(org_timezone()))
