"""Hash banks: list, create, enable/disable, add entries (by hash or by file), and look hashes up."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, require
from jikimi.api.matching import matcher
from jikimi.api.roles import Perm
from jikimi.api.uploads import read_uploads
from jikimi.errors import ValidationError
from jikimi.signals.pdq import MATCH_THRESHOLD
from jikimi.store import banks
from jikimi.store.schema.banks import BankEntry

router = APIRouter()
Reader = Annotated[Principal, Depends(require(Perm.BANK_READ))]
Writer = Annotated[Principal, Depends(require(Perm.BANK_WRITE))]
Lookup = Annotated[Principal, Depends(require(Perm.HASH_LOOKUP))]


class BankOut(BaseModel):
    id: int
    name: str
    description: str
    enabled: bool
    pdq_threshold: int
    entries: int
    enabled_entries: int


class BankCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    pdq_threshold: int = Field(default=MATCH_THRESHOLD, ge=0, le=128)


class BankPatch(BaseModel):
    enabled: bool | None = None
    pdq_threshold: int | None = Field(default=None, ge=0, le=128)


class EntryIn(BaseModel):
    pdq: str | None = Field(default=None, max_length=64)
    md5: str | None = Field(default=None, max_length=32)
    sha256: str | None = Field(default=None, max_length=64)
    pdq_quality: int | None = Field(default=None, ge=0, le=100)
    source: str = Field(default="", max_length=200)
    case_ref: str = Field(default="", max_length=200)
    labels: list[str] = Field(default_factory=list, max_length=50)
    note: str = Field(default="", max_length=2000)


class EntryOut(BaseModel):
    id: int
    bank_id: int
    pdq: str | None
    pdq_quality: int | None
    md5: str | None
    sha256: str | None
    source: str
    case_ref: str
    labels: list[str]
    note: str
    enabled: bool
    added_at: datetime


class AddOut(BaseModel):
    entry_id: int
    created: bool
    untrusted: bool


class LookupIn(BaseModel):
    pdq: str | None = Field(default=None, max_length=64)
    md5: str | None = Field(default=None, max_length=32)
    sha256: str | None = Field(default=None, max_length=64)


class MatchOut(BaseModel):
    bank: str
    entry_id: int
    signal: str
    distance: int | None
    threshold: int | None
    variant: str | None
    untrusted: bool
    metadata: dict[str, Any]


def _bank_out(b: banks.BankInfo) -> BankOut:
    return BankOut(**b.__dict__)


def _entry_out(e: BankEntry) -> EntryOut:
    return EntryOut(
        id=e.id,
        bank_id=e.bank_id,
        pdq=e.pdq,
        pdq_quality=e.pdq_quality,
        md5=e.md5,
        sha256=e.sha256,
        source=e.source,
        case_ref=e.case_ref,
        labels=list(e.labels or []),
        note=e.note,
        enabled=e.enabled,
        added_at=e.added_at,
    )


def _match_out(m: banks.Match) -> MatchOut:
    return MatchOut(
        bank=m.bank,
        entry_id=m.entry_id,
        signal=m.signal,
        distance=m.distance,
        threshold=m.threshold,
        variant=m.variant,
        untrusted=m.untrusted,
        metadata=m.metadata,
    )


@router.get("/api/v1/banks", response_model=list[BankOut], tags=["banks"], summary="Hash banks")
def list_banks(s: DB, _: Reader) -> list[BankOut]:
    return [_bank_out(b) for b in banks.list_banks(s)]


@router.post(
    "/api/v1/banks",
    response_model=BankOut,
    status_code=201,
    tags=["banks"],
    summary="Create a bank",
    responses={422: {"description": "invalid or taken name"}},
)
def create_bank(s: DB, body: BankCreate, principal: Writer) -> BankOut:
    banks.create_bank(
        s, body.name, threshold=body.pdq_threshold, description=body.description, actor=principal.actor
    )
    return next(_bank_out(b) for b in banks.list_banks(s) if b.name == body.name.strip())


@router.patch(
    "/api/v1/banks/{name}",
    response_model=BankOut,
    tags=["banks"],
    summary="Enable/disable a bank or change its PDQ threshold",
    responses={404: {}},
)
def patch_bank(s: DB, name: str, body: BankPatch, principal: Writer) -> BankOut:
    bank = banks.get_bank(s, name)
    if body.enabled is not None:
        banks.set_bank_enabled(s, bank.name, body.enabled, actor=principal.actor)
    if body.pdq_threshold is not None:
        banks.set_bank_threshold(s, bank.name, body.pdq_threshold, actor=principal.actor)
    return next(_bank_out(b) for b in banks.list_banks(s) if b.name == bank.name)


@router.get(
    "/api/v1/banks/{name}/entries",
    response_model=list[EntryOut],
    tags=["banks"],
    summary="A bank's entries (page with after=<id>)",
    responses={404: {}},
)
def list_entries(s: DB, name: str, _: Reader, after: int = 0, limit: int = 100) -> list[EntryOut]:
    from sqlalchemy import select

    bank = banks.get_bank(s, name)
    limit = max(1, min(limit, 1000))
    rows = s.scalars(
        select(BankEntry)
        .where(BankEntry.bank_id == bank.id, BankEntry.id > after)
        .order_by(BankEntry.id)
        .limit(limit)
    )
    return [_entry_out(e) for e in rows]


@router.post(
    "/api/v1/banks/{name}/entries",
    response_model=AddOut,
    status_code=201,
    tags=["banks"],
    summary="Add an entry by its hashes",
    responses={404: {}, 422: {"description": "malformed hash"}},
)
def add_entry(request: Request, s: DB, name: str, body: EntryIn, principal: Writer) -> AddOut:
    banks.get_bank(s, name)
    entry = banks.EntryInput(**body.model_dump())
    res = matcher(request).add(name, entry, actor=principal.actor)
    return AddOut(entry_id=res.entry_id, created=res.created, untrusted=res.untrusted)


def _entry_from_bytes(data: bytes, **meta: Any) -> banks.EntryInput:
    from jikimi.media import load
    from jikimi.signals import registry

    media = load(data, name="upload")
    names = [n for n in ("md5", "sha256", "pdq", "vpdq") if n in registry.SIGNALS]
    return banks.entry_from_signals(registry.compute(media, names), **meta)


@router.post(
    "/api/v1/banks/{name}/files",
    response_model=list[AddOut],
    status_code=201,
    tags=["banks"],
    summary="Add entries by hashing uploaded files (the files themselves are not kept)",
    responses={404: {}, 422: {"description": "a file is not an image or video"}},
)
async def add_files(
    request: Request,
    s: DB,
    name: str,
    principal: Writer,
    files: Annotated[list[UploadFile], File()],
    note: Annotated[str, Form(max_length=2000)] = "",
    case_ref: Annotated[str, Form(max_length=200)] = "",
) -> list[AddOut]:
    banks.get_bank(s, name)
    uploads = await read_uploads(request, files)
    m = matcher(request)
    out = []
    for fname, data in uploads:
        entry = await run_in_threadpool(
            _entry_from_bytes, data, note=note, case_ref=case_ref, source=f"upload:{fname}"
        )
        res = await run_in_threadpool(m.add, name, entry, actor=principal.actor)
        out.append(AddOut(entry_id=res.entry_id, created=res.created, untrusted=res.untrusted))
    return out


def lookup_hashes(
    request: Request, pdq: str | None, md5: str | None, sha256: str | None
) -> list[banks.Match]:
    if not (pdq or md5 or sha256):
        raise ValidationError("give at least one hash", "pdq (64 hex), md5 (32 hex) or sha256 (64 hex)")
    m = matcher(request)
    out: list[banks.Match] = []
    if pdq:
        out += m.match_pdq(pdq)
    if md5:
        out += m.match_md5(md5)
    if sha256:
        out += m.match_sha256(sha256)
    return out


@router.post(
    "/api/v1/hashes/lookup",
    response_model=list[MatchOut],
    tags=["banks"],
    summary="Match hashes against every enabled bank (with the entries' metadata)",
)
def lookup(request: Request, body: LookupIn, _: Reader) -> list[MatchOut]:
    return [_match_out(x) for x in lookup_hashes(request, body.pdq, body.md5, body.sha256)]
