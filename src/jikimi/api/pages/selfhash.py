"""The self-hash pages: a victim (or intake staff) hashes photos on her device and adds only the hashes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jikimi.api.deps import DB, Forbidden, Principal
from jikimi.api.roles import Perm
from jikimi.api.routers.selfhash import Submitter, _case_for
from jikimi.api.ui import render
from jikimi.cases import selfhash

router = APIRouter()


def _page(request: Request, s: DB, principal: Principal, case_id: int, back: str) -> Response:
    return render(
        request,
        "self_hash.html",
        principal,
        case_id=case_id,
        back=back,
        status_info=selfhash.status(s, case_id),
    )


@router.get("/my-case/hash", include_in_schema=False)
def my_hash_page(request: Request, s: DB, principal: Submitter) -> Response:
    ref = (principal.case_ref or "").strip()
    if not principal.can(Perm.CASE_OWN) or not ref.isdigit():
        raise Forbidden(Perm.CASE_OWN.value)
    return _page(request, s, principal, _case_for(s, principal, int(ref)), "/my-case")


@router.get("/cases/{case_id}/hash", include_in_schema=False)
def case_hash_page(request: Request, s: DB, case_id: int, principal: Submitter) -> Response:
    return _page(request, s, principal, _case_for(s, principal, case_id), f"/cases/{case_id}")
