"""Hashing photos and videos in the browser (StopNCII's model): the route that takes the hashes (the page is
``jikimi.api.pages.selfhash``).

The page hashes on the device (``static/pdq.js``, ``static/selfhash.js``; MD5 by spark-md5) and sends only
JSON hashes with the consent; ``jikimi.cases.selfhash`` records the consent and fills the case's bank.
A victim hashes for her own case only; a case worker at intake for any case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from jikimi.api.deps import DB, Forbidden, Principal, after_commit, require
from jikimi.api.matching import matcher
from jikimi.api.roles import Perm
from jikimi.cases import selfhash
from jikimi.cases.queries import get_case
from jikimi.signals.pdq import DIHEDRAL_ALIASES

router = APIRouter()
Submitter = Annotated[Principal, Depends(require(Perm.HASH_SUBMIT))]

Hex64 = Annotated[str, Field(min_length=64, max_length=64)]


class HashedFileIn(BaseModel):
    kind: Literal["image", "video"]
    md5: str = Field(min_length=32, max_length=32)
    pdq: str | None = Field(default=None, min_length=64, max_length=64)
    pdq_quality: int | None = Field(default=None, ge=0, le=100)
    dihedral: dict[Literal[selfhash.DIHEDRAL], Hex64] = Field(default_factory=dict)  # type: ignore[valid-type]

    @field_validator("dihedral", mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        """``flip_plus1``/``flip_minus1`` (the names before they followed pytx's) are still accepted."""
        if isinstance(value, dict):
            return {DIHEDRAL_ALIASES.get(k, k): v for k, v in value.items()}
        return value


class SelfHashIn(BaseModel):
    consent: bool = Field(description="the victim (or the case worker with her) agreed to send these hashes")
    files: list[HashedFileIn] = Field(min_length=1, max_length=selfhash.MAX_FILES)


class SelfHashEntryOut(BaseModel):
    entry_id: int
    created: bool
    untrusted: bool


class SelfHashOut(BaseModel):
    case_id: int
    bank: str
    consent_at: datetime
    created: int
    entries: list[SelfHashEntryOut]


def _case_for(s: Session, principal: Principal, case_id: int) -> int:
    """The case, if this principal may add hashes to it: staff any case, a victim only her own."""
    if principal.can(Perm.CASE_READ):
        return get_case(s, case_id).id
    if principal.can(Perm.CASE_OWN) and (principal.case_ref or "").strip() == str(case_id):
        return get_case(s, case_id).id
    raise Forbidden(Perm.CASE_READ.value)


@router.post(
    "/api/v1/cases/{case_id}/self-hashes",
    response_model=SelfHashOut,
    status_code=201,
    tags=["cases"],
    summary="Add hashes made on the victim's device to her case's bank (with her consent; no files)",
    responses={403: {}, 404: {}, 422: {"description": "no consent, or a malformed hash"}},
)
def submit(request: Request, s: DB, case_id: int, body: SelfHashIn, principal: Submitter) -> SelfHashOut:
    cid = _case_for(s, principal, case_id)
    files = [
        selfhash.HashedFile(
            kind=f.kind, md5=f.md5, pdq=f.pdq, pdq_quality=f.pdq_quality, dihedral=dict(f.dihedral)
        )
        for f in body.files
    ]
    via: Literal["victim", "intake"] = "intake" if principal.can(Perm.CASE_READ) else "victim"
    res = selfhash.submit_hashes(s, cid, files, consent=body.consent, actor=principal.actor, via=via)
    after_commit(s, lambda: matcher(request).refresh(force=True))  # a lookup after the answer finds them
    return SelfHashOut(
        case_id=cid,
        bank=res.bank,
        consent_at=res.consent_at,
        created=res.created,
        entries=[SelfHashEntryOut(**e.__dict__) for e in res.entries],
    )
