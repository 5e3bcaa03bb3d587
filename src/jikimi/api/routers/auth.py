"""Sign-in and sign-out (web sessions), the language switch, and API tokens for machines."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, User, audit, client_ip, get_settings, optional_principal, require
from jikimi.api.roles import Perm
from jikimi.api.settings import LANG_COOKIE, SESSION_COOKIE
from jikimi.api.ui import render, safe_next
from jikimi.store import accounts
from jikimi.store.schema.accounts import ApiToken, WebSession
from jikimi.store.schema.accounts import User as UserRow
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
        user = accounts.authenticate(s, username, password, ip=client_ip(request), policy=settings.lockout)
    except accounts.LockedError as exc:
        metrics.logins.labels("locked").inc()
        s.commit()
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
        s.commit()
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
    redirect.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
        max_age=int(settings.session_hours * 3600),
    )
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


# --- API ------------------------------------------------------------------------------------------


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    partner: str | None
    case_ref: str | None
    permissions: list[str]


@router.get("/api/v1/me", response_model=Me, tags=["auth"], summary="Who am I, and what may I do")
def me(principal: User) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        partner=principal.partner,
        case_ref=principal.case_ref,
        permissions=sorted(p.value for p in Perm if principal.can(p)),
    )


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field(default="api", min_length=1, max_length=200)
    expires_days: int | None = Field(default=90, ge=1, le=3650)


class TokenCreate(BaseModel):
    name: str = Field(default="api", min_length=1, max_length=200)
    expires_days: int | None = Field(default=90, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="The secret, shown once: send it as 'Authorization: Bearer <token>'")


def _token_out(t: ApiToken) -> dict[str, object]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    }


@router.post(
    "/api/v1/auth/token",
    response_model=NewToken,
    status_code=201,
    tags=["auth"],
    summary="Exchange a user name and password for an API token (rate limited, locks out)",
    responses={401: {"description": "wrong credentials"}, 429: {"description": "locked out"}},
)
def token_login(request: Request, s: DB, body: TokenRequest) -> NewToken:
    settings = get_settings(request)
    try:
        user = accounts.authenticate(
            s, body.username, body.password, ip=client_ip(request), policy=settings.lockout
        )
    except accounts.AuthError:
        request.app.state.metrics.logins.labels("failed").inc()
        s.commit()
        raise
    tok, secret = accounts.create_token(
        s, user, body.name, expires_days=body.expires_days, actor=f"api:{user.username}"
    )
    request.app.state.metrics.logins.labels("ok").inc()
    return NewToken(token=secret, **_token_out(tok))  # type: ignore[arg-type]


@router.get("/api/v1/auth/tokens", response_model=list[TokenOut], tags=["auth"], summary="My API tokens")
def my_tokens(s: DB, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]) -> list[TokenOut]:
    user = s.get(UserRow, principal.user_id)
    assert user is not None
    return [TokenOut(**_token_out(t)) for t in sorted(user.tokens, key=lambda t: t.id)]  # type: ignore[arg-type]


@router.post(
    "/api/v1/auth/tokens",
    response_model=NewToken,
    status_code=201,
    tags=["auth"],
    summary="Create another API token for myself",
)
def new_token(
    s: DB, body: TokenCreate, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]
) -> NewToken:
    user = s.get(UserRow, principal.user_id)
    assert user is not None
    tok, secret = accounts.create_token(
        s, user, body.name, expires_days=body.expires_days, actor=principal.actor
    )
    return NewToken(token=secret, **_token_out(tok))  # type: ignore[arg-type]


@router.delete(
    "/api/v1/auth/tokens/{token_id}",
    status_code=204,
    tags=["auth"],
    summary="Revoke one of my tokens",
    responses={404: {"description": "no such token of mine"}},
)
def revoke_my_token(
    s: DB, token_id: int, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]
) -> Response:
    user = s.get(UserRow, principal.user_id)
    accounts.revoke_token(s, token_id, actor=principal.actor, user=user)
    return Response(status_code=204)
