"""Accounts: argon2id password hashes, hashed API tokens and web sessions, login rate limit and lockout.

Secrets are never stored: passwords as argon2id hashes, API tokens and session ids (256-bit random)
as SHA-256.
Every change to an account goes into the hash-chained audit log (``jikimi.store.audit``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.errors import JikimiError, NotFoundError, Text, ValidationError
from jikimi.store.schema.accounts import ApiToken, LoginAttempt, User, WebSession
from jikimi.store.schema.base import utcnow


class Role(StrEnum):
    """What a user may do (the API maps each role to its permissions)."""

    ADMIN = "admin"
    CASE_WORKER = "case_worker"
    INVESTIGATOR = "investigator"
    PARTNER = "partner"
    VICTIM = "victim"


#: The roles as the messages name them (English: the stored value; Korean: the label the pages show).
_ROLE_WORDS = {
    Role.ADMIN: Text("admin"),
    Role.CASE_WORKER: Text("case_worker"),
    Role.INVESTIGATOR: Text("investigator"),
    Role.PARTNER: Text("partner"),
    Role.VICTIM: Text("victim"),
}


class AuthError(JikimiError):
    """Sign-in failed: wrong name or password, or the account is disabled. Deliberately unspecific."""


class LockedError(AuthError):
    """Too many failed sign-ins for this account or from this address; try again later."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        /,
        *,
        retry_after: int,
        code: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message, hint, code=code, **params)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LockoutPolicy:
    """Account lockout after ``max_failures`` in a row; per address, ``ip_failures`` per window."""

    max_failures: int = 5
    lock_minutes: int = 15
    ip_failures: int = 20
    window_minutes: int = 15


# argon2id with the RFC 9106 "low memory" parameters (64 MiB, t=3, p=4).
_HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
# A real hash of a random password, checked when the user does not exist so timing does not reveal names.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,62}$")
MIN_PASSWORD = 12
TOKEN_PREFIX = "jk_"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _audit(s: Session, actor: str, action: str, subject: str, details: dict[str, object]) -> None:
    from jikimi.store import audit

    audit.append(s, actor=actor, action=action, subject=subject, details=details)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password_strength(password: str, username: str = "") -> None:
    """Raise ``ValidationError`` for a weak password (short, or containing the user name)."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            "the password is shorter than {n} characters",
            "use a longer passphrase, e.g. four unrelated words",
            code="accounts.password_too_short",
            n=MIN_PASSWORD,
        )
    if username and username.lower() in password.lower():
        raise ValidationError(
            "the password contains the user name",
            "choose a password without it",
            code="accounts.password_has_username",
        )


def check_role_fields(
    role: Role | str | None, *, partner: str | None = None, case_ref: str | None = None
) -> tuple[Role, str | None, str | None]:
    """The role with its platform and case, or ``ValidationError`` for an inconsistent combination.

    A victim's account needs her case and a partner's account its platform; a case number on any other
    role, or a platform on any other role, is refused rather than dropped (it means the role was mistaken:
    a victim's login must never become a staff account). Blank values count as absent.
    """
    partner = (partner or "").strip() or None
    case_ref = (case_ref or "").strip() or None
    if role is None or not str(role).strip():
        raise ValidationError(
            "no role chosen for the account", "choose the account's role", code="accounts.role_missing"
        )
    try:
        role = Role(str(role).strip())
    except ValueError as exc:
        raise ValidationError(
            "unknown role {role!r}",
            "choose one of {roles}",
            code="accounts.role_unknown",
            role=role,
            roles=", ".join(r.value for r in Role),
        ) from exc
    if role is Role.PARTNER and not partner:
        raise ValidationError(
            "a platform partner needs the platform name",
            "give the platform's name",
            code="accounts.partner_needs_platform",
            cli_hint="pass --partner NAME",
        )
    if role is Role.VICTIM and not case_ref:
        raise ValidationError(
            "a victim account needs her case",
            "give her case number",
            code="accounts.victim_needs_case",
            cli_hint="pass --case CASE_ID",
        )
    if case_ref and role is not Role.VICTIM:
        raise ValidationError(
            "a case number was given for the role {role}; only a victim account has a case",
            "choose the victim role, or leave the case empty",
            code="accounts.case_for_other_role",
            role=_ROLE_WORDS[role],
        )
    if partner and role is not Role.PARTNER:
        raise ValidationError(
            "a platform was given for the role {role}; only a platform partner account has a platform",
            "choose the platform partner role, or leave the platform empty",
            code="accounts.platform_for_other_role",
            role=_ROLE_WORDS[role],
        )
    return role, partner, case_ref


def create_user(
    s: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str = "",
    partner: str | None = None,
    case_ref: str | None = None,
    locale: str = "ko",
    actor: str = "system",
) -> User:
    """Create an account (audited). Partners need ``partner`` (platform name); victims need ``case_ref``;
    no other role takes either (``check_role_fields``)."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            "invalid user name {username!r}",
            "use 2-63 lower-case letters, digits, '.', '_', '@' or '-'",
            code="accounts.username_invalid",
            username=username,
        )
    role, partner, case_ref = check_role_fields(role, partner=partner, case_ref=case_ref)
    check_password_strength(password, username)
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationError(
            "the user {username!r} already exists",
            "choose another name",
            code="accounts.username_taken",
            username=username,
        )
    user = User(
        username=username,
        display_name=display_name or username,
        role=role.value,
        password_hash=hash_password(password),
        partner=partner,
        case_ref=case_ref,
        locale=locale if locale in ("ko", "en") else "ko",
    )
    s.add(user)
    s.flush()
    _audit(s, actor, "user.create", f"user:{user.id}", {"username": username, "role": role.value})
    return user


def get_user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFoundError(
            "no user {username!r}",
            "see the list of users",
            code="accounts.user_not_found",
            cli_hint="list users with `jikimi user list`",
            username=username,
        )
    return user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.username)))


def set_password(s: Session, user: User, password: str, *, actor: str) -> None:
    check_password_strength(password, user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    # A new password ends every session of the account.
    for ws in s.scalars(
        select(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
    ):
        ws.revoked_at = utcnow()
    _audit(s, actor, "user.password", f"user:{user.id}", {"username": user.username})


def set_active(s: Session, user: User, active: bool, *, actor: str) -> None:
    user.active = active
    if not active:
        for ws in s.scalars(select(WebSession).where(WebSession.user_id == user.id)):
            ws.revoked_at = ws.revoked_at or utcnow()
        for tok in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
            tok.revoked_at = tok.revoked_at or utcnow()
    _audit(
        s, actor, "user.enable" if active else "user.disable", f"user:{user.id}", {"username": user.username}
    )


def unlock(s: Session, user: User, *, actor: str) -> None:
    user.failed_logins = 0
    user.locked_until = None
    _audit(s, actor, "user.unlock", f"user:{user.id}", {"username": user.username})


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds()) + 1)


def authenticate(
    s: Session, username: str, password: str, *, ip: str = "", policy: LockoutPolicy | None = None
) -> User:
    """Check a password. Records the attempt; locks the account after repeated failures.

    Raises ``LockedError`` (with ``retry_after`` seconds) when the account or the address is locked out,
    ``AuthError`` otherwise. The caller must commit the session even on failure (the attempt is recorded).
    """
    policy = policy or LockoutPolicy()
    now = utcnow()
    username = username.strip().lower()[:64]
    window_start = now - timedelta(minutes=policy.window_minutes)
    ip_failures = s.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at >= window_start
        )
    )
    if ip and (ip_failures or 0) >= policy.ip_failures:
        oldest = s.scalar(
            select(func.min(LoginAttempt.at)).where(
                LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at >= window_start
            )
        )
        until = (oldest or now) + timedelta(minutes=policy.window_minutes)
        s.add(LoginAttempt(username=username, ip=ip, success=False, at=now))
        raise LockedError(
            "too many failed sign-ins from this address",
            "wait and try again",
            code="auth.locked_address",
            retry_after=_retry_after(until, now),
        )
    user = s.scalar(select(User).where(User.username == username))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        s.add(LoginAttempt(username=username, ip=ip, success=False, at=now))
        raise LockedError(
            "this account is locked after too many failed sign-ins",
            "wait {minutes} minutes or ask an administrator to unlock it",
            code="auth.locked_account",
            retry_after=_retry_after(user.locked_until, now),
            minutes=policy.lock_minutes,
        )
    ok = False
    try:
        ok = _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    s.add(LoginAttempt(username=username, ip=ip, success=ok and bool(user and user.active), at=now))
    if user is None or not ok or not user.active:
        if user is not None and not ok:
            user.failed_logins += 1
            if user.failed_logins >= policy.max_failures:
                user.locked_until = now + timedelta(minutes=policy.lock_minutes)
                user.failed_logins = 0
                _audit(s, "system", "user.locked", f"user:{user.id}", {"username": user.username, "ip": ip})
        raise AuthError("wrong user name or password", "check both and try again", code="auth.failed")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# --- API tokens -------------------------------------------------------------------------------------------


def create_token(
    s: Session, user: User, name: str, *, expires_days: int | None = 365, actor: str
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the secret, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok = ApiToken(
        user_id=user.id,
        name=name[:200] or "token",
        prefix=secret[:10],
        token_hash=_sha256(secret),
        expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
    )
    s.add(tok)
    s.flush()
    _audit(s, actor, "token.create", f"user:{user.id}", {"token_id": tok.id, "name": tok.name})
    return tok, secret


def verify_token(s: Session, secret: str) -> User | None:
    """The active user owning this token, or None (unknown, revoked, expired, or the user is disabled)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    digest = _sha256(secret)
    tok = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if tok is None or not hmac.compare_digest(tok.token_hash, digest):
        return None
    now = utcnow()
    if tok.revoked_at is not None or (tok.expires_at is not None and tok.expires_at <= now):
        return None
    if not tok.user.active:
        return None
    if tok.last_used_at is None or (now - tok.last_used_at) > timedelta(minutes=1):
        tok.last_used_at = now
    return tok.user


def revoke_token(s: Session, token_id: int, *, actor: str, user: User | None = None) -> None:
    tok = s.get(ApiToken, token_id)
    if tok is None or (user is not None and tok.user_id != user.id):
        raise NotFoundError("no token {token_id}", code="accounts.token_not_found", token_id=token_id)
    tok.revoked_at = tok.revoked_at or utcnow()
    _audit(s, actor, "token.revoke", f"user:{tok.user_id}", {"token_id": tok.id})


# --- web sessions -----------------------------------------------------------------------------------------


def create_session(
    s: Session, user: User, *, ip: str = "", user_agent: str = "", hours: float = 12
) -> tuple[WebSession, str]:
    """Start a browser session; returns the row and the cookie value (only its hash is stored)."""
    secret = secrets.token_urlsafe(32)
    ws = WebSession(
        user_id=user.id,
        session_hash=_sha256(secret),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=hours),
        ip=ip[:64],
        user_agent=user_agent[:300],
    )
    s.add(ws)
    s.flush()
    return ws, secret


def get_session(s: Session, secret: str, *, idle_minutes: float = 60) -> WebSession | None:
    """The live session for this cookie value, or None. Sessions end after ``idle_minutes`` without use."""
    if not secret or len(secret) > 100:
        return None
    ws = s.scalar(select(WebSession).where(WebSession.session_hash == _sha256(secret)))
    if ws is None or ws.revoked_at is not None:
        return None
    now = utcnow()
    if (
        ws.expires_at <= now
        or (now - ws.last_seen_at) > timedelta(minutes=idle_minutes)
        or not ws.user.active
    ):
        return None
    if (now - ws.last_seen_at) > timedelta(seconds=30):
        ws.last_seen_at = now
    return ws


def end_session(s: Session, ws: WebSession) -> None:
    ws.revoked_at = ws.revoked_at or utcnow()
