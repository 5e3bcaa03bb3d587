"""The sign-in and sign-out pages (web sessions) and the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from jikimi.api.deps import (
    DB,
    Principal,
    User,
    audit,
    check_password,
    client_ip,
    get_settings,
    optional_principal,
    set_session_cookie,
)
from jikimi.api.roles import Perm
from jikimi.api.settings import LANG_COOKIE, SESSION_COOKIE
from jikimi.api.ui import render, safe_next
from jikimi.store import accounts
from jikimi.store.schema.accounts import WebSession
from jikimi.web import LANGUAGES, N_

router = APIRouter()


LOGIN_CSRF_COOKIE = "jikimi_login_csrf"


def _home_for(principal: Principal) -> str:
    if principal.can(Perm.REPORT_READ):
        return "/"
    if principal.can(Perm.CASE_OWN):
        return "/my-case"
    if principal.can(Perm.NOTICE_OWN):
        return "/notices"
    return "/account"


@router.get("/login", include_in_schema=False)
def login_page(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)], next: str = "/"
) -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next, _home_for(principal)), status_code=303)
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", None, next=safe_next(next), login_csrf=token, error=None)
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_settings(request).secure_cookies,
        max_age=3600,
        path="/login",
    )
    return resp


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    s: DB,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    settings = get_settings(request)
    metrics = request.app.state.metrics
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        token = secrets.token_urlsafe(24)
        resp = render(
            request,
            "login.html",
            None,
            status=403,
            next=safe_next(next),
            login_csrf=token,
            error=N_("The form expired. Please sign in again."),
        )
        resp.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
            max_age=3600,
            path="/login",
        )
        return resp
    try:
        user = check_password(request, s, username, password)
    except accounts.LockedError as exc:
        metrics.logins.labels("locked").inc()
        return render(
            request,
            "login.html",
            None,
            status=429,
            headers={"retry-after": str(exc.retry_after)},
            next=safe_next(next),
            login_csrf=expected,
            error=N_(
                "Too many failed sign-ins. Wait a few minutes, or ask an administrator to unlock the account."
            ),
        )
    except accounts.AuthError:
        metrics.logins.labels("failed").inc()
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=safe_next(next),
            login_csrf=expected,
            error=N_("Wrong user name or password."),
        )
    ws, secret = accounts.create_session(
        s,
        user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        hours=settings.session_hours,
    )
    audit(s, f"web:{user.username}", "auth.login", f"user:{user.id}", ip=client_ip(request))
    metrics.logins.labels("ok").inc()
    principal = Principal.of(user, ws)
    target = safe_next(next, _home_for(principal)) if next != "/" else _home_for(principal)
    redirect = RedirectResponse(target, 303)
    set_session_cookie(redirect, secret, settings)
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return redirect


@router.post("/logout", include_in_schema=False)
def logout(request: Request, s: DB, principal: User) -> Response:
    if principal.session_id is not None:
        ws = s.get(WebSession, principal.session_id)
        if ws is not None:
            accounts.end_session(s, ws)
        audit(s, principal, "auth.logout", f"user:{principal.user_id}")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=get_settings(request).secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return resp


@router.get("/lang/{code}", include_in_schema=False)
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    resp = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        resp.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="lax",
            path="/",
            secure=get_settings(request).secure_cookies,
            httponly=True,
        )
    return resp
