"""The audit log page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from jikimi.api.deps import DB
from jikimi.api.routers.audit import Auditor, _entries
from jikimi.api.ui import render
from jikimi.store import audit as audit_log

router = APIRouter()


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request,
    s: DB,
    principal: Auditor,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    rows = _entries(s, before=before, limit=100, action=action or None, subject=None, actor=None)
    template = "audit_rows.html" if request.headers.get("hx-request") and before else "audit.html"
    return render(
        request,
        template,
        principal,
        rows=rows,
        action=action or "",
        verification=audit_log.verify(s) if template == "audit.html" else None,
    )
