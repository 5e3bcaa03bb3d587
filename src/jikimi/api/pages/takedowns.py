"""The takedown pages: notices, drafting, approving and sending them, re-upload alerts, a victim's case."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from jikimi.api.deps import DB, Principal, User, require
from jikimi.api.roles import Perm
from jikimi.api.routers.takedowns import Writer, _list, _my_case, _notice
from jikimi.api.ui import confirm_page, render
from jikimi.errors import JikimiError
from jikimi.takedown import service
from jikimi.web import N_

router = APIRouter()


@router.post("/alerts/{alert_id}/resolve", include_in_schema=False)
def resolve_alert_page(
    s: DB, alert_id: int, principal: Writer, reply: Annotated[str, Form(max_length=5000)] = ""
) -> Response:
    from jikimi.takedown import reupload

    alert = reupload.resolve_alert(s, alert_id, actor=principal.actor, reply=reply)
    return RedirectResponse(f"/cases/{alert.case_id}#alerts", status_code=303)


@router.get("/notices", include_in_schema=False)
@router.get("/takedowns", include_in_schema=False)
def takedowns_page(request: Request, s: DB, principal: User, status: str | None = None) -> Response:
    return render(
        request,
        "takedowns.html",
        principal,
        notices=_list(s, principal, status or None, None),
        filter_status=status or "",
        reference=service.reference,
    )


@router.get("/takedowns/{notice_id}", include_in_schema=False)
def takedown_page(
    request: Request, s: DB, notice_id: int, principal: User, error: str | None = None
) -> Response:
    n = _notice(s, principal, notice_id)
    return render(
        request,
        "takedown.html",
        principal,
        n=n,
        reference=service.reference(n),
        error=error,
        result=None,
        smtp=_smtp(principal),
    )


def _smtp(principal: Principal) -> dict[str, object] | None:
    return service.smtp_status() if principal.can(Perm.USER_ADMIN) else None


@router.post("/takedowns/draft", include_in_schema=False)
def takedowns_draft_page(
    request: Request,
    s: DB,
    principal: Writer,
    case_id: Annotated[str, Form(min_length=1, max_length=64)],
    lang: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    try:
        res = service.draft_case(
            s, case_id.strip(), lang=lang if lang in ("ko", "en", "ja") else None, actor=principal.actor
        )
    except JikimiError as exc:
        s.rollback()
        return render(
            request,
            "takedowns.html",
            principal,
            status=422,
            notices=_list(s, principal, None, None),
            filter_status="",
            reference=service.reference,
            error=exc,
        )
    if len(res.notices) == 1:
        return RedirectResponse(f"/takedowns/{res.notices[0].id}", status_code=303)
    return render(
        request,
        "takedowns.html",
        principal,
        notices=_list(s, principal, None, case_id.strip()),
        filter_status="",
        reference=service.reference,
        notes=res.messages,
        error=None,
    )


CONFIRM_FIRST = {
    "withdraw": N_("Withdraw this notice? It will not be sent, and a new notice has to be drafted."),
    "removed": N_("Mark every link of this notice as removed? Do it only when the platform confirmed it."),
}


@router.post("/takedowns/{notice_id}/{action}", include_in_schema=False)
def takedown_action(
    request: Request,
    s: DB,
    notice_id: int,
    action: Literal["approve", "send", "withdraw", "removed", "refused", "acknowledged", "sent-by-hand"],
    principal: Writer,
    recipient: Annotated[str, Form(max_length=320)] = "",
    submitted_ref: Annotated[str, Form(max_length=200)] = "",
    how: Annotated[str, Form(max_length=2000)] = "",
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if action in CONFIRM_FIRST and confirmed != "yes":
        _notice(s, principal, notice_id)
        return confirm_page(
            request, principal, question=CONFIRM_FIRST[action], back=f"/takedowns/{notice_id}"
        )
    result = None
    try:
        if action == "approve":
            service.approve(s, notice_id, actor=principal.actor)
        elif action == "withdraw":
            service.withdraw(s, notice_id, actor=principal.actor)
        elif action == "send":
            if recipient:
                service.set_recipient(s, notice_id, recipient, actor=principal.actor)
            result = service.send(s, notice_id, actor=principal.actor, submitted_ref=submitted_ref or None)
        elif action == "sent-by-hand":
            service.mark_sent_by_hand(s, notice_id, how, actor=principal.actor)
        else:
            service.mark(s, notice_id, action, actor=principal.actor)
    except JikimiError as exc:
        s.rollback()
        return _notice_page(request, s, principal, notice_id, 422, exc, None)
    if result is not None and not result.ok:
        return _notice_page(request, s, principal, notice_id, 200, result.failure or result.error, result)
    return RedirectResponse(f"/takedowns/{notice_id}", status_code=303)


def _notice_page(
    request: Request,
    s: Session,
    principal: Principal,
    notice_id: int,
    status: int,
    error: object,
    result: service.SendResult | None,
) -> Response:
    """The notice's page again, with why the action did not go through."""
    n = _notice(s, principal, notice_id)
    return render(
        request,
        "takedown.html",
        principal,
        smtp=_smtp(principal),
        status=status,
        n=n,
        reference=service.reference(n),
        error=error,
        result=result,
    )


@router.get("/my-case", include_in_schema=False)
def my_case_page(
    request: Request, s: DB, principal: Annotated[Principal, Depends(require(Perm.CASE_OWN))]
) -> Response:
    from jikimi.cases import selfhash

    ref = (principal.case_ref or "").strip()
    hashes = selfhash.status(s, int(ref)) if ref.isdigit() else None
    return render(request, "my_case.html", principal, case=_my_case(s, principal), self_hash=hashes)
