"""The centre's settings page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jikimi.api.deps import DB, Principal
from jikimi.api.routers.centre import Admin, _out, _save
from jikimi.api.ui import render
from jikimi.errors import JikimiError, ValidationError

router = APIRouter()


def _page(
    request: Request,
    principal: Principal,
    *,
    error: JikimiError | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "settings.html",
        principal,
        status=status,
        settings=_out(),
        error=error,
        saved=saved,
    )


@router.get("/settings", include_in_schema=False)
def settings_page(request: Request, principal: Admin, saved: bool = False) -> Response:
    return _page(request, principal, saved=saved)


@router.post("/settings", include_in_schema=False)
def settings_save(
    request: Request,
    s: DB,
    principal: Admin,
    org_name: Annotated[str, Form(max_length=200)] = "",
    org_email: Annotated[str, Form(max_length=320)] = "",
    org_phone: Annotated[str, Form(max_length=64)] = "",
    org_address: Annotated[str, Form(max_length=400)] = "",
    org_website: Annotated[str, Form(max_length=400)] = "",
    smtp_host: Annotated[str, Form(max_length=255)] = "",
    smtp_port: Annotated[str, Form(max_length=8)] = "",
    smtp_user: Annotated[str, Form(max_length=320)] = "",
    smtp_password: Annotated[str, Form(max_length=1000)] = "",
    smtp_clear_password: Annotated[bool, Form()] = False,
    smtp_security: Annotated[str, Form(max_length=10)] = "starttls",
    smtp_from: Annotated[str, Form(max_length=320)] = "",
    imap_url: Annotated[str, Form(max_length=1000)] = "",
    imap_password: Annotated[str, Form(max_length=1000)] = "",
    imap_clear_password: Annotated[bool, Form()] = False,
) -> Response:
    try:
        port: int | None = None
        if smtp_port.strip():
            if not smtp_port.strip().isdigit() or not 1 <= int(smtp_port) <= 65535:
                raise ValidationError(
                    "the SMTP port must be a number from 1 to 65535, not {port!r}",
                    code="settings.smtp_port_invalid",
                    port=smtp_port,
                )
            port = int(smtp_port)
        changes: dict[str, dict[str, Any]] = {
            "organisation": {
                "name": org_name,
                "email": org_email,
                "phone": org_phone,
                "address": org_address,
                "website": org_website,
            },
            "smtp": {
                "host": smtp_host,
                "port": port,
                "user": smtp_user,
                "password": smtp_password,
                "clear_password": smtp_clear_password,
                "starttls": smtp_security == "starttls",
                "ssl": smtp_security == "ssl",
                "from": smtp_from,
            },
            "imap": {"url": imap_url, "password": imap_password, "clear_password": imap_clear_password},
        }
        _save(s, principal, changes)
    except JikimiError as exc:
        s.rollback()
        return _page(request, principal, error=exc, status=422)
    return RedirectResponse("/settings?saved=true", status_code=303)
