"""API tokens for machines, and who am I. The sign-in pages and the language switch are in `pages.auth`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, User, check_password, require
from jikimi.api.roles import Perm
from jikimi.store import accounts
from jikimi.store.schema.accounts import ApiToken
from jikimi.store.schema.accounts import User as UserRow

router = APIRouter()


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
    try:
        user = check_password(request, s, body.username, body.password)
    except accounts.AuthError:
        request.app.state.metrics.logins.labels("failed").inc()
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
