"""The centre's settings (administrators only): the organisation named in every notice, the SMTP server that
sends them and the IMAP mailbox the platforms answer to.

Stored in ``JIKIMI_HOME/takedown.yaml``, the file ``jikimi takedown …`` reads too, so the command line and the
server draft and send with the same settings. Passwords are write-only: never shown, returned or logged.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, audit, require
from jikimi.api.roles import Perm
from jikimi.errors import ValidationError
from jikimi.takedown import settings as ts

router = APIRouter()
Admin = Annotated[Principal, Depends(require(Perm.USER_ADMIN))]


class OrganisationIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=400)
    website: str | None = Field(default=None, max_length=400)
    include_victim_name: bool | None = None
    four_eyes: bool | None = None


class SmtpIn(BaseModel):
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1000, description="write-only; empty keeps it")
    clear_password: bool = False
    starttls: bool | None = None
    ssl: bool | None = None
    sender: str | None = Field(default=None, max_length=320, alias="from")
    cafile: str | None = Field(default=None, max_length=1000)
    timeout: float | None = Field(default=None, gt=0, le=600)

    model_config = {"populate_by_name": True}


class ImapIn(BaseModel):
    url: str | None = Field(default=None, max_length=1000, description="imaps://user@host/INBOX")
    password: str | None = Field(default=None, max_length=1000, description="write-only; empty keeps it")
    clear_password: bool = False
    cafile: str | None = Field(default=None, max_length=1000)


class SettingsIn(BaseModel):
    organisation: OrganisationIn | None = None
    smtp: SmtpIn | None = None
    imap: ImapIn | None = None


class SettingsOut(BaseModel):
    organisation: dict[str, Any]
    smtp: dict[str, Any]
    """``password_set`` says whether a password is stored; the password itself is never returned."""
    imap: dict[str, Any]
    overridden_by_environment: list[str]
    path: str


def _out() -> SettingsOut:
    stored = ts.stored_settings()
    return SettingsOut(
        organisation=stored["organisation"],
        smtp=stored["smtp"],
        imap=stored["imap"],
        overridden_by_environment=ts.env_overrides(),
        path=ts.CONFIG_NAME,
    )


def _check(changes: dict[str, dict[str, Any]]) -> None:
    url = (changes.get("imap") or {}).get("url")
    if url and not str(url).startswith(("imap://", "imaps://")):
        raise ValidationError(
            "the mailbox address must look like imaps://user@host/INBOX",
            "imaps:// for TLS from the start (port 993), imap:// for STARTTLS (port 143)",
            code="settings.imap_url_invalid",
        )
    if url and urlsplit(str(url)).password:
        raise ValidationError(
            "put the mailbox password in its own field, not in the address",
            "the password field is write-only; the address is shown on the page",
            code="settings.imap_password_in_url",
        )


def _save(s: Any, principal: Principal, changes: dict[str, dict[str, Any]]) -> list[str]:
    _check(changes)
    changed = ts.save_settings(changes)
    if changed:
        # Names of the changed settings only: a password's value never reaches the audit log.
        audit(s, principal, "settings.update", "settings:takedown", changed=changed)
    return changed


@router.get(
    "/api/v1/settings/takedown",
    response_model=SettingsOut,
    tags=["settings"],
    summary="The organisation, SMTP and IMAP settings (passwords are never returned)",
)
def get_settings_api(_: Admin) -> SettingsOut:
    return _out()


@router.put(
    "/api/v1/settings/takedown",
    response_model=SettingsOut,
    tags=["settings"],
    summary="Change the organisation, SMTP and IMAP settings (an empty password keeps the stored one)",
    responses={422: {"description": "invalid value"}},
)
def put_settings_api(s: DB, body: SettingsIn, principal: Admin) -> SettingsOut:
    changes: dict[str, dict[str, Any]] = {}
    if body.organisation is not None:
        changes["organisation"] = body.organisation.model_dump(exclude_unset=True)
    if body.smtp is not None:
        smtp = body.smtp.model_dump(exclude_unset=True)
        if "sender" in smtp:
            smtp["from"] = smtp.pop("sender")
        changes["smtp"] = smtp
    if body.imap is not None:
        changes["imap"] = body.imap.model_dump(exclude_unset=True)
    _save(s, principal, changes)
    return _out()
