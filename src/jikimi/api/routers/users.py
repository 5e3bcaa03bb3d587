"""Accounts administration (administrators only): list, create, disable, unlock, reset passwords."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.store import accounts
from jikimi.store.accounts import Role
from jikimi.store.schema.accounts import User as UserRow

router = APIRouter()
Admin = Annotated[Principal, Depends(require(Perm.USER_ADMIN))]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    partner: str | None
    case_ref: str | None
    active: bool
    locked: bool
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9._@-]{1,62}$")
    password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=1000)
    role: Role
    display_name: str = Field(default="", max_length=200)
    partner: str | None = Field(default=None, max_length=200)
    case_ref: str | None = Field(default=None, max_length=64)
    locale: str = Field(default="ko", pattern="^(ko|en)$")


class UserPatch(BaseModel):
    active: bool | None = None
    password: str | None = Field(default=None, min_length=accounts.MIN_PASSWORD, max_length=1000)
    unlock: bool = False


def _out(u: UserRow) -> UserOut:
    from jikimi.store.schema.base import utcnow

    return UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=Role(u.role),
        partner=u.partner,
        case_ref=u.case_ref,
        active=u.active,
        locked=bool(u.locked_until and u.locked_until > utcnow()),
        created_at=u.created_at,
        last_login_at=u.last_login_at,
    )


@router.get("/api/v1/users", response_model=list[UserOut], tags=["users"], summary="List accounts")
def list_users(s: DB, _: Admin) -> list[UserOut]:
    return [_out(u) for u in accounts.list_users(s)]


@router.post(
    "/api/v1/users",
    response_model=UserOut,
    status_code=201,
    tags=["users"],
    summary="Create an account",
    responses={422: {"description": "invalid or duplicate"}},
)
def create_user(s: DB, body: UserCreate, principal: Admin) -> UserOut:
    # A case number only on a victim's account, a platform only on a partner's: refused, never dropped.
    accounts.check_role_fields(body.role, partner=body.partner, case_ref=body.case_ref)
    u = accounts.create_user(
        s,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        partner=body.partner,
        case_ref=body.case_ref,
        locale=body.locale,
        actor=principal.actor,
    )
    return _out(u)


@router.patch(
    "/api/v1/users/{username}",
    response_model=UserOut,
    tags=["users"],
    summary="Disable/enable, unlock, or set a new password",
    responses={404: {"description": "no user"}},
)
def patch_user(s: DB, username: str, body: UserPatch, principal: Admin) -> UserOut:
    u = accounts.get_user(s, username)
    if body.active is not None and body.active != u.active:
        accounts.set_active(s, u, body.active, actor=principal.actor)
    if body.password is not None:
        accounts.set_password(s, u, body.password, actor=principal.actor)
    if body.unlock:
        accounts.unlock(s, u, actor=principal.actor)
    return _out(u)
