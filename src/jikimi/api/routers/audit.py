"""The audit log: read it and verify its hash chain (administrators and investigators)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.store import audit as audit_log
from jikimi.store.schema.evidence import AuditEntry

router = APIRouter()
Auditor = Annotated[Principal, Depends(require(Perm.AUDIT_READ))]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    count: int
    head_hash: str | None
    bad_entry_id: int | None
    problem: str | None
    detail: str


def _entries(
    s: Session, *, before: int | None, limit: int, action: str | None, subject: str | None, actor: str | None
) -> list[AuditOut]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    if action:
        q = q.where(AuditEntry.action.startswith(action, autoescape=True))
    if subject:
        q = q.where(AuditEntry.subject == subject)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    out = []
    for e in s.scalars(q):
        try:
            details = json.loads(e.details_json)
        except ValueError:
            details = {"raw": e.details_json}
        out.append(
            AuditOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                subject=e.subject,
                details=details if isinstance(details, dict) else {"value": details},
                hash=e.hash,
            )
        )
    return out


@router.get(
    "/api/v1/audit",
    response_model=list[AuditOut],
    tags=["audit"],
    summary="Audit entries, newest first (page with before=<id>)",
)
def list_audit(
    s: DB,
    _: Auditor,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=100)] = None,
    subject: Annotated[str | None, Query(max_length=300)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> list[AuditOut]:
    return _entries(s, before=before, limit=limit, action=action, subject=subject, actor=actor)


@router.get("/api/v1/audit/verify", response_model=VerifyOut, tags=["audit"], summary="Verify the hash chain")
def verify_audit(s: DB, _: Auditor) -> VerifyOut:
    return VerifyOut(**audit_log.verify(s).as_dict())
