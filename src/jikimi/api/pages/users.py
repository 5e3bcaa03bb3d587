"""The accounts pages: the list of accounts, creating one, and changing or disabling one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jikimi.api.deps import DB, Principal
from jikimi.api.routers.users import Admin, _out
from jikimi.api.ui import confirm_page, render
from jikimi.errors import JikimiError
from jikimi.store import accounts
from jikimi.store.accounts import Role
from jikimi.web import N_

router = APIRouter()


def _users_page(
    request: Request,
    s: DB,
    principal: Principal,
    *,
    error: str | JikimiError | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "users.html",
        principal,
        status=status,
        users=[_out(u) for u in accounts.list_users(s)],
        roles=list(Role),
        error=error,
        form=form or {},
    )


@router.get("/users", include_in_schema=False)
def users_page(request: Request, s: DB, principal: Admin, error: str | None = None) -> Response:
    return _users_page(request, s, principal, error=error)


@router.post("/users", include_in_schema=False)
def users_create(
    request: Request,
    s: DB,
    principal: Admin,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1000)],
    role: Annotated[str, Form(max_length=32)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    partner: Annotated[str, Form(max_length=200)] = "",
    case_ref: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create an account from the form. The role has no default; on any refusal the form comes back with
    what was typed (except the password) and the reason."""
    try:
        # Checked first, so a role mistake is named even when the password is also refused.
        accounts.check_role_fields(role, partner=partner, case_ref=case_ref)
        accounts.create_user(
            s,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            partner=partner or None,
            case_ref=case_ref or None,
            actor=principal.actor,
        )
    except JikimiError as exc:
        s.rollback()
        form = {
            "username": username,
            "display_name": display_name,
            "role": role,
            "partner": partner,
            "case_ref": case_ref,
        }
        return _users_page(
            request,
            s,
            principal,
            status=422,
            error=exc,
            form=form,
        )
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}/{action}", include_in_schema=False)
def users_action(
    request: Request,
    s: DB,
    username: str,
    action: Literal["disable", "enable", "unlock"],
    principal: Admin,
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    u = accounts.get_user(s, username)
    if action == "disable" and confirmed != "yes" and u.id != principal.user_id:
        return confirm_page(
            request,
            principal,
            question=N_(
                "Disable this account? The person is signed out and cannot sign in until it is enabled."
            ),
            back="/users",
        )
    if action == "unlock":
        accounts.unlock(s, u, actor=principal.actor)
    elif u.id != principal.user_id:  # an administrator cannot lock herself out
        accounts.set_active(s, u, action == "enable", actor=principal.actor)
    return RedirectResponse("/users", status_code=303)
