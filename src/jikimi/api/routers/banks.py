"""Hash banks: list, create, enable/disable, add entries (by hash or by file), and look hashes up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, create_model

from jikimi.api.deps import DB, Principal, require
from jikimi.api.matching import matcher
from jikimi.api.roles import Perm
from jikimi.api.uploads import read_uploads
from jikimi.errors import ValidationError
from jikimi.signals import registry
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


def _hash_fields(*, quality: bool) -> dict[str, Any]:
    """One optional field per registered single-valued hash signal (and ``<signal>_quality`` where it has a
    quality): the API's hash fields come from the registry, so a new signal appears here by itself."""
    fields: dict[str, Any] = {}
    for sig in registry.hash_signals():
        if not sig.single:
            continue
        size = sig.hex_length or 4096
        fields[sig.name] = (
            str | None,
            Field(default=None, max_length=size, description=f"{sig.display()} hash"),
        )
        if quality and sig.min_quality:
            fields[f"{sig.name}_quality"] = (int | None, Field(default=None, ge=0, le=100))
    return fields


def _hashes(body: BaseModel) -> dict[str, str]:
    """The hash fields a request filled in, ``{signal: value}``."""
    data = body.model_dump()
    return {s.name: data[s.name] for s in registry.hash_signals() if s.single and data.get(s.name)}


def _qualities(body: BaseModel) -> dict[str, int]:
    data = body.model_dump()
    return {  # 0 is a quality (the lowest, untrusted), not "unknown"
        s.name: data[f"{s.name}_quality"]
        for s in registry.hash_signals()
        if data.get(f"{s.name}_quality") is not None
    }


class _EntryMeta(BaseModel):
    source: str = Field(default="", max_length=200)
    case_ref: str = Field(default="", max_length=200)
    labels: list[str] = Field(default_factory=list, max_length=50)
    note: str = Field(default="", max_length=2000)


class _EntryOutBase(BaseModel):
    id: int
    bank_id: int
    source: str
    case_ref: str
    labels: list[str]
    note: str
    enabled: bool
    added_at: datetime


EntryIn = create_model("EntryIn", __base__=_EntryMeta, **_hash_fields(quality=True))
EntryOut = create_model("EntryOut", __base__=_EntryOutBase, **_hash_fields(quality=True))
LookupIn = create_model("LookupIn", **_hash_fields(quality=False))


class AddOut(BaseModel):
    entry_id: int
    created: bool
    untrusted: bool


class MatchOut(BaseModel):
    bank: str
    entry_id: int
    signal: str
    distance: int | float | None
    threshold: int | float | None
    variant: str | None
    untrusted: bool
    metadata: dict[str, Any]


def _bank_out(b: banks.BankInfo) -> BankOut:
    return BankOut(**b.__dict__)


def _entry_out(e: BankEntry) -> BaseModel:
    return EntryOut(
        id=e.id,
        bank_id=e.bank_id,
        source=e.source,
        case_ref=e.case_ref,
        labels=list(e.labels or []),
        note=e.note,
        enabled=e.enabled,
        added_at=e.added_at,
        **e.hashes(),
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
    response_model=list[EntryOut],  # type: ignore[valid-type]
    tags=["banks"],
    summary="A bank's entries (page with after=<id>)",
    responses={404: {}},
)
def list_entries(s: DB, name: str, _: Reader, after: int = 0, limit: int = 100) -> list[BaseModel]:
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
def add_entry(
    request: Request,
    s: DB,
    name: str,
    body: EntryIn,  # type: ignore[valid-type]
    principal: Writer,
) -> AddOut:
    banks.get_bank(s, name)
    meta = {k: getattr(body, k) for k in _EntryMeta.model_fields}
    entry = banks.EntryInput.from_hashes(_hashes(body), quality=_qualities(body), **meta)
    res = matcher(request).add(name, entry, actor=principal.actor)
    return AddOut(entry_id=res.entry_id, created=res.created, untrusted=res.untrusted)


def _entry_from_bytes(data: bytes, **meta: Any) -> banks.EntryInput:
    from jikimi.media import load

    media = load(data, name="upload")
    return banks.entry_from_signals(registry.compute(media, list(registry.HASH_SIGNALS)), **meta)


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


def lookup_hashes(request: Request, hashes: Mapping[str, str | None]) -> list[banks.Match]:
    """Matches of each given hash (``{signal: value}``; empty values are skipped)."""
    given = {k: v.strip() for k, v in hashes.items() if v and v.strip()}
    if not given:
        raise ValidationError(
            "give at least one hash", code="api.no_hash", hint="pdq (64 hex), md5 (32 hex) or sha256 (64 hex)"
        )
    m = matcher(request)
    out: list[banks.Match] = []
    for signal, value in given.items():
        out += m.match_hash(signal, value)
    return out


@router.post(
    "/api/v1/hashes/lookup",
    response_model=list[MatchOut],
    tags=["banks"],
    summary="Match hashes against every enabled bank (with the entries' metadata)",
)
def lookup(request: Request, body: LookupIn, _: Reader) -> list[MatchOut]:  # type: ignore[valid-type]
    return [_match_out(x) for x in lookup_hashes(request, _hashes(body))]
