"""Pages that belong to no single area: the dashboard, my account, and the API reference."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from jikimi.api.deps import (
    DB,
    Principal,
    User,
    check_password,
    client_ip,
    get_settings,
    optional_principal,
    require,
    set_session_cookie,
)
from jikimi.api.roles import Perm
from jikimi.api.ui import render

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(
    request: Request, s: DB, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Response:
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if not principal.can(Perm.REPORT_READ):
        target = (
            "/my-case"
            if principal.can(Perm.CASE_OWN)
            else "/notices"
            if principal.can(Perm.NOTICE_OWN)
            else "/account"
        )
        return RedirectResponse(target, status_code=303)
    from jikimi.api import dashboard

    return render(request, "dashboard.html", principal, figures=dashboard.figures(s))


@router.get("/account", include_in_schema=False)
def account(request: Request, principal: User, changed: bool = False) -> Response:
    return render(request, "account.html", principal, error=None, changed=changed)


@router.post("/account/password", include_in_schema=False)
def change_password(
    request: Request,
    s: DB,
    principal: User,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    again: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """She changes her own password (the current one first). Every other session of hers ends; this browser
    gets a new session, so she stays signed in here."""
    from jikimi.errors import JikimiError
    from jikimi.store import accounts
    from jikimi.web import N_

    settings = get_settings(request)
    error: str | JikimiError | None = None
    if principal.via != "session":
        error = N_("Change your password in the browser.")
    elif new != again:
        error = N_("The two new passwords differ.")
    else:
        try:
            user = check_password(request, s, principal.username, current)
        except accounts.AuthError:
            error = N_("The current password is wrong.")
        else:
            try:
                accounts.set_password(s, user, new, actor=principal.actor)
            except JikimiError as exc:
                s.rollback()
                error = exc
    if error is not None:
        return render(request, "account.html", principal, status=422, error=error, changed=False)
    _, secret = accounts.create_session(
        s,
        user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        hours=settings.session_hours,
    )
    redirect = RedirectResponse("/account?changed=true", status_code=303)
    set_session_cookie(redirect, secret, settings)
    return redirect


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = [
                {"name": p.get("name"), "in": p.get("in"), "required": p.get("required", False)}
                for p in op.get("parameters", [])
            ]
            ops.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "tag": (op.get("tags") or ["other"])[0],
                    "params": params,
                    "body": "requestBody" in op,
                }
            )
    ops.sort(key=lambda o: (o["tag"], o["path"], o["method"]))
    return ops


@router.get("/docs", include_in_schema=False)
def api_docs(
    request: Request, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]
) -> Response:
    return render(request, "api_docs.html", principal, operations=_operations(request.app.openapi()))
