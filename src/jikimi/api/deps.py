"""Request dependencies: the database session, the signed-in principal (session cookie or API token), CSRF,
permission checks, the language, and the audit helper.

One transaction per request: an endpoint (JSON or page) writes through ``DB``, committed when it returns, and
never commits itself (``tests/test_api_layout.py`` checks). The two writes that must not share the request's
fate go through ``own_transaction`` here, and work that must see the request's changes from another session
(the bank matcher) waits for the commit with ``after_commit``."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import event
from sqlalchemy.orm import Session

from jikimi.api.roles import Perm, allowed
from jikimi.api.settings import CSRF_FIELD, CSRF_HEADER, LANG_COOKIE, SESSION_COOKIE, ApiSettings
from jikimi.errors import JikimiError
from jikimi.store import Store, accounts
from jikimi.store.schema.accounts import User as UserRow
from jikimi.store.schema.accounts import WebSession
from jikimi.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator, negotiate, translator

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

log = logging.getLogger("jikimi.api")


class NotAuthenticated(Exception):
    """No valid session or token: 401 for the API, a redirect to the login page for pages."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this."""

    def __init__(self, perm: str) -> None:
        super().__init__(perm)
        self.perm = perm


class CsrfFailed(Exception):
    """An unsafe request with a session cookie lacked the session's CSRF token or came from another origin."""


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: str
    partner: str | None
    case_ref: str | None
    locale: str
    via: Literal["session", "token"]
    csrf: str | None = None
    session_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{'web' if self.via == 'session' else 'api'}:{self.username}"

    def can(self, perm: Perm) -> bool:
        return allowed(self.role, perm)

    @classmethod
    def of(cls, user: UserRow, session: WebSession | None = None) -> Principal:
        """The principal for a user signed in by API token (no ``session``) or by this browser session."""
        fields = (
            user.id,
            user.username,
            user.display_name,
            user.role,
            user.partner,
            user.case_ref,
            user.locale,
        )
        if session is None:
            return cls(*fields, "token")
        return cls(*fields, "session", session.csrf_token, session.id)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed when the endpoint returns (before the response is sent)."""
    with get_store(request).session() as s:
        yield s


DB = Annotated[Session, Depends(db_session, scope="function")]


@contextmanager
def own_transaction(request: Request) -> Iterator[Session]:
    """A short transaction beside the request's, committed when the block ends (rolled back if it raises).

    Only for the two writes that must not share the request's transaction (``DB``):
    - a sign-in attempt (``check_password``) must count towards the lockout although the request then fails
      and its own transaction is rolled back;
    - the last-seen time of a session or token (``optional_principal``) is committed before the endpoint runs,
      so the request holds no write lock while it runs (services that open their own sessions, the bank
      matcher and the scans, would otherwise wait on SQLite's lock).
    Everything else an endpoint changes goes in the request's transaction."""
    with get_store(request).session() as s:
        yield s


def after_commit(s: Session, work: Callable[[], object]) -> None:
    """Run ``work`` once the request's transaction ``s`` has committed, before the response is sent (not at
    all if it rolls back). For work that must see this request's changes from another session: the bank
    matcher indexing the hashes a victim just added, so that a lookup made after the answer finds them."""

    due = [True]

    def run(_session: Session) -> None:
        if not due[0]:
            return
        due[0] = False
        try:
            work()
        except Exception:  # committed already: the answer stands; the work is redone at its next refresh
            log.exception("work after the request's commit failed")

    def drop(_session: Session) -> None:  # rolled back (a page refusing a form): the work is not due
        due[0] = False

    event.listen(s, "after_commit", run, once=True)
    event.listen(s, "after_rollback", drop, once=True)


def check_password(request: Request, s: Session, username: str, password: str) -> UserRow:
    """The user with this name and password, loaded in the request's session ``s``.

    The attempt is recorded in its own transaction (``own_transaction``), committed whether it succeeds or
    not: a wrong password counts towards the lockout even though the request then fails. Raises
    ``accounts.LockedError`` or ``accounts.AuthError`` like ``accounts.authenticate``."""
    refused: accounts.AuthError | None = None
    with own_transaction(request) as own:
        try:
            user_id = accounts.authenticate(
                own, username, password, ip=client_ip(request), policy=get_settings(request).lockout
            ).id
        except accounts.AuthError as exc:
            refused = exc  # leave the block normally: the failed attempt is committed
    if refused is not None:
        raise refused
    user = s.get(UserRow, user_id)
    assert user is not None
    return user


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _same_origin(request: Request) -> bool:
    """Reject cross-site unsafe requests: Origin (or Referer) must match the Host when present."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.netloc.lower() == (request.headers.get("host") or "").lower()


async def _check_csrf(request: Request, expected: str) -> None:
    if not _same_origin(request):
        raise CsrfFailed()
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not supplied or not hmac.compare_digest(supplied, expected):
        raise CsrfFailed()


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None. A bearer token wins over a cookie; cookie requests that change things need
    the session's CSRF token. The lookup, which touches last-seen times, runs in ``own_transaction``."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    auth = request.headers.get("authorization", "")
    principal: Principal | None = None
    with own_transaction(request) as s:
        if auth.lower().startswith("bearer "):
            user = accounts.verify_token(s, auth[7:].strip())
            if user is None:
                raise NotAuthenticated()
            principal = Principal.of(user)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                ws = accounts.get_session(s, cookie, idle_minutes=get_settings(request).idle_minutes)
                if ws is not None:
                    principal = Principal.of(ws.user, ws)
                    if request.method not in SAFE_METHODS:
                        await _check_csrf(request, ws.csrf_token)
    request.state.principal = principal
    return principal


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    return principal


User = Annotated[Principal, Depends(current_principal)]


def require(perm: Perm) -> Callable[..., Any]:
    """A dependency that admits only roles holding ``perm``. The endpoint is marked for the authz matrix."""

    async def dependency(principal: User) -> Principal:
        if not principal.can(perm):
            raise Forbidden(perm.value)
        return principal

    dependency.__jikimi_perm__ = perm  # type: ignore[attr-defined]
    return dependency


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE)
    if lang in LANGUAGES:
        return str(lang)
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.locale in LANGUAGES:
        return str(principal.locale)
    return negotiate(request.headers.get("accept-language")) or DEFAULT_LANGUAGE


def tr(request: Request) -> Translator:
    return translator(language(request))


def audit(s: Session, who: Principal | str, action: str, subject: str, **details: Any) -> None:
    """Append to the hash-chained audit log in the request's transaction."""
    from jikimi.store import audit as audit_log

    actor = who.actor if isinstance(who, Principal) else who
    audit_log.append(s, actor=actor, action=action, subject=subject, details=details)


def _json_language(request: Request) -> str:
    """The language of a JSON error: English (whatever the page language), or what the client asks for
    with ``Accept-Language``."""
    return negotiate(request.headers.get("accept-language")) or "en"


def error_json(
    request: Request,
    exc: JikimiError,
    status: int,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The one JSON error shape, ``{"code", "detail", "hint", "params"}``, in the request's language."""
    body = exc.to_json(translator(_json_language(request)).gettext)
    return JSONResponse({**body, **extra}, status_code=status, headers=headers)


def set_session_cookie(response: Response, secret: str, settings: ApiSettings) -> None:
    """The browser session's cookie (after sign-in, and after a password change: a new session)."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
        max_age=int(settings.session_hours * 3600),
    )
