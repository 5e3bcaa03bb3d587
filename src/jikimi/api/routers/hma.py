"""HMA-compatible hashing and matching, so platforms already on Meta's Hasher-Matcher-Actioner can query us.

Same paths and shapes as HMA's OpenMediaMatch: ``POST /h/hash`` (multipart, the field named ``photo`` or
``video``) returns ``{signal_type: hash}``; ``GET /m/lookup?signal_type=pdq&signal=HEX`` returns the names
of the banks holding a match. Unlike HMA, every call needs an API token (platform partner or staff).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from jikimi.api.deps import Principal, require
from jikimi.api.roles import Perm
from jikimi.errors import JikimiError
from jikimi.store.banks import Match

router = APIRouter(tags=["hma"])
Lookup = Annotated[Principal, Depends(require(Perm.HASH_LOOKUP))]

# HMA content type -> the signal types it computes for it (HMA names: "pdq", "video_md5", "vpdq").
CONTENT_SIGNALS = {"photo": ("pdq", "md5"), "video": ("vpdq", "md5")}
HMA_NAMES = {"md5": "md5", "pdq": "pdq", "vpdq": "vpdq"}


async def _one_upload(request: Request) -> tuple[str, bytes]:
    form = await request.form()
    files = [(k, v) for k, v in form.multi_items() if not isinstance(v, str)]
    if not files:
        raise HTTPException(400, "Missing multipart/form-data file upload")
    if len(files) > 1:
        raise HTTPException(400, "Only one file allowed per request")
    field, upload = files[0]
    if field not in CONTENT_SIGNALS:
        raise HTTPException(400, f"no such content_type: '{field}' (use 'photo' or 'video')")
    assert isinstance(upload, UploadFile)
    limit = request.app.state.settings.max_file_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, "the file is too large")
    return field, data


def hash_bytes(content_type: str, data: bytes, types: list[str] | None = None) -> dict[str, str]:
    """Hash uploaded bytes with the signals HMA computes for ``content_type`` (the type is read from the
    bytes, never from the client)."""
    from jikimi.media import load
    from jikimi.signals import registry

    media = load(data, name="upload")
    wanted = [t for t in CONTENT_SIGNALS[content_type] if types is None or t in types]
    out: dict[str, str] = {}
    for name in wanted:
        sig = registry.get(name)
        if not sig.applies_to(media):
            continue
        value = sig.extract(media)
        if isinstance(value, dict):
            value = value.get("hash", value.get("value", ""))
        if isinstance(value, list):
            value = ",".join(str(v.get("hash", v)) if isinstance(v, dict) else str(v) for v in value)
        out[HMA_NAMES[name]] = str(value)
    return out


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"photo": {"type": "string", "format": "binary"}},
                    "required": ["photo"],
                }
            }
        },
    }
}


@router.post(
    "/h/hash",
    summary="Hash an uploaded photo or video (HMA-compatible: multipart field 'photo' or 'video')",
    response_model=dict[str, str],
    openapi_extra=_UPLOAD_BODY,
    responses={400: {"description": "no file, several files, or not an image/video"}},
)
async def hash_upload(request: Request, _: Lookup, types: str | None = None) -> JSONResponse:
    field, data = await _one_upload(request)
    try:
        result = hash_bytes(
            field, data, [t.strip() for t in types.split(",") if t.strip()] if types else None
        )
    except JikimiError as exc:
        return JSONResponse({"detail": exc.reason, "hint": exc.hint}, status_code=400)
    return JSONResponse(result)


# HMA signal type names -> ours.
SIGNAL_ALIASES = {"pdq": "pdq", "md5": "md5", "video_md5": "md5", "sha256": "sha256"}


def _match(
    request: Request, signal_type: str, signal: str, *, unknown_hint: str = ""
) -> tuple[str, list[Match]]:
    """Our name for an HMA signal type and the bank matches of ``signal``; HTTP 400 when either is bad."""
    from jikimi.api.matching import matcher

    ours = SIGNAL_ALIASES.get(signal_type)
    if ours is None:
        raise HTTPException(400, f"No such SignalType '{signal_type}'{unknown_hint}")
    m = matcher(request)
    try:
        if ours == "pdq":
            found = m.match_pdq(signal)
        elif ours == "md5":
            found = m.match_md5(signal)
        else:
            found = m.match_sha256(signal)
    except JikimiError as exc:
        raise HTTPException(400, f"invalid signal: {exc.reason}") from exc
    return ours, found


def _lookup_banks(request: Request, signal_type: str, signal: str) -> list[str]:
    ours, found = _match(request, signal_type, signal, unknown_hint=" (use pdq, md5, video_md5 or sha256)")
    names = sorted({x.bank for x in found})
    request.app.state.metrics.hash_lookups.labels(ours, "yes" if names else "no").inc()
    return names


@router.get(
    "/m/lookup",
    response_model=list[str],
    summary="Look a hash up (HMA-compatible): the names of the banks holding a match",
    responses={400: {"description": "unknown signal type or malformed hash"}},
)
def lookup_get(
    request: Request,
    _: Lookup,
    signal_type: Annotated[str, Query(max_length=32)],
    signal: Annotated[str, Query(max_length=200)],
) -> list[str]:
    return _lookup_banks(request, signal_type, signal)


@router.post(
    "/m/lookup",
    response_model=dict[str, list[str]],
    summary="Hash an uploaded photo or video and look it up (HMA-compatible): {signal_type: [banks]}",
    openapi_extra=_UPLOAD_BODY,
    responses={400: {"description": "no file, several files, or not an image/video"}},
)
async def lookup_post(request: Request, _: Lookup) -> JSONResponse:
    field, data = await _one_upload(request)
    try:
        hashes = hash_bytes(field, data)
    except JikimiError as exc:
        return JSONResponse({"detail": exc.reason, "hint": exc.hint}, status_code=400)
    out = {st: _lookup_banks(request, st, value) for st, value in hashes.items() if st in SIGNAL_ALIASES}
    return JSONResponse(out)


@router.get(
    "/m/raw_lookup",
    summary="Look a hash up (HMA-compatible): matching entry ids, optionally with distances",
    responses={400: {"description": "unknown signal type or malformed hash"}},
)
def raw_lookup(
    request: Request,
    _: Annotated[Principal, Depends(require(Perm.BANK_READ))],
    signal_type: Annotated[str, Query(max_length=32)],
    signal: Annotated[str, Query(max_length=200)],
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    found = _match(request, signal_type, signal)[1]
    if include_distance:
        return {"matches": [{"content_id": x.entry_id, "distance": str(x.distance)} for x in found]}
    return {"matches": [x.entry_id for x in found]}
