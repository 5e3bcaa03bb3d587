"""HMA-compatible hashing, matching and read-only curation, so platforms already on Meta's Hasher-Matcher-
Actioner (HMA 1.1, OpenMediaMatch) can point their tools at us.

The same paths, parameters, status codes and JSON as HMA 1.1's ``hashing``, ``matching`` and ``curation``
blueprints for what is implemented (docs/web.md lists the differences):

- ``POST /h/hash`` (multipart field ``photo`` or ``video``) -> ``{signal_type: hash}``;
- ``GET /m/lookup?signal_type=pdq&signal=HEX[&banks=A,B]`` -> ``{bank: [{"bank_content_id", "distance"}]}``;
  ``GET /m/lookup?url=...`` and ``POST /m/lookup`` (upload) -> ``{signal_type: {bank: [...]}}``;
- ``GET /m/raw_lookup`` -> ``{"matches": [id, ...]}`` or, with ``include_distance=true``,
  ``{"matches": [{"bank_content_id", "distance"}]}``;
- ``POST /m/compare`` ``{signal_type: [a, b]}`` -> ``{signal_type: [matches, {"distance": d}]}``;
- ``GET /m/index/status`` -> ``{signal_type: {"present", "built_to", "size"}}``;
- ``GET /c/banks``, ``GET /c/bank/<name>``, ``GET /c/bank/<name>/content/<id>`` (read-only, staff).

Errors are HMA's ``{"message": ...}`` with its status codes (HMA's own English words, which HMA clients
read), and carry this API's one error shape beside it (``code``, ``detail``, ``hint``, ``params``). Unlike
HMA, every call needs an API token (platform partner or staff); a partner's lookups search only the banks
shared with its platform, and partners never see bank contents (``/m/raw_lookup`` and ``/c/`` are staff).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.datastructures import UploadFile

from jikimi.api.deps import Principal, error_json, require
from jikimi.api.roles import Perm
from jikimi.errors import JikimiError
from jikimi.signals.base import HashSignal
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
    try:
        field, data = await _one_upload(request)
    except HTTPException as exc:
        return _hma_error(exc.status_code, str(exc.detail))
    try:
        result = hash_bytes(
            field, data, [t.strip() for t in types.split(",") if t.strip()] if types else None
        )
    except JikimiError as exc:
        return error_json(request, exc, 400)
    return JSONResponse(result)


def _hma_signal(name: str) -> HashSignal | None:
    """The hash signal an HMA signal type names (python-threatexchange's name, ours or an alias): single
    hashes only (HMA looks up one hash at a time)."""
    from jikimi.signals import registry

    sig = registry.hash_signal_named(str(name))
    return sig if sig is not None and sig.single else None


BankRead = Annotated[Principal, Depends(require(Perm.BANK_READ))]


_HMA_CODES = {400: "hma.bad_request", 401: "hma.unauthorised", 404: "hma.not_found", 413: "hma.too_large"}


def _hma_error(
    status: int, message: str, exc: JikimiError | None = None, code: str | None = None
) -> JSONResponse:
    """HMA's error body (``flask_utils.api_error_handler``), ``{"message": ...}``, with the fields of this
    API's error shape too: an error of ours keeps its code, params and hint; HMA's own refusals get an
    ``hma.`` code."""
    shape = (
        exc.to_json()
        if exc is not None
        else {
            "code": code or _HMA_CODES.get(status, "hma.error"),
            "detail": message,
            "hint": None,
            "params": {},
        }
    )
    return JSONResponse({"message": message, **shape}, status_code=status)


class _HmaError(Exception):
    def __init__(
        self, status: int, message: str, error: JikimiError | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.code = code

    def response(self) -> JSONResponse:
        return _hma_error(self.status, self.message, self.error, self.code)


def _banks_param(request: Request, principal: Principal, banks: str | None) -> list[str] | None:
    """The banks to search: HMA's ``banks=A,B`` restriction (None: every bank), and for a platform partner
    only the banks shared with its platform (bank visibility per partner; HMA has none)."""
    wanted = [b for b in banks.split(",") if b] if banks else None
    if principal.role != "partner":
        return wanted
    from jikimi.store.feed import shared_bank_names

    with request.app.state.store.session() as s:
        visible = shared_bank_names(s, principal.partner or "") if principal.partner else []
    return visible if wanted is None else [b for b in wanted if b in set(visible)]


def _match(
    request: Request, signal_type: str, signal: str, banks: list[str] | None = None
) -> tuple[str, list[Match]]:
    """Our name for an HMA signal type and the matches of ``signal`` (enabled entries of enabled banks)."""
    from jikimi.api.matching import matcher

    sig = _hma_signal(signal_type)
    if sig is None:
        raise _HmaError(400, f"No such SignalType '{signal_type}'", code="hma.unknown_signal_type")
    ours = sig.name
    if banks is not None and not banks:
        return ours, []  # nothing visible (or nothing asked for that is): no match, and no bank named
    m = matcher(request)
    try:
        found = m.match_hash(ours, signal, banks=banks)
    except JikimiError as exc:
        raise _HmaError(400, f"invalid signal: {exc.reason}", exc) from exc
    return ours, found


def _distance(m: Match) -> str:
    """HMA's ``similarity_info.pretty_str()``: the distance as a string (0 for exact hashes)."""
    return str(m.distance if m.distance is not None else 0)


def _by_bank(request: Request, signal_type: str, signal: str, banks: list[str] | None) -> dict[str, Any]:
    """HMA 1.1's lookup result for one signal: ``{bank: [{"bank_content_id", "distance"}, ...]}``."""
    ours, found = _match(request, signal_type, signal, banks)
    out: dict[str, list[dict[str, Any]]] = {}
    for m in found:
        out.setdefault(m.bank, []).append({"bank_content_id": m.entry_id, "distance": _distance(m)})
    request.app.state.metrics.hash_lookups.labels(ours, "yes" if out else "no").inc()
    return out


def _fetch_url(request: Request, url: str) -> tuple[str, bytes]:
    """Fetch ``url`` for hashing, through the SSRF-guarded fetcher (public addresses only)."""
    from jikimi.sources.urls import safe_fetch

    limit = request.app.state.settings.max_file_bytes
    got = safe_fetch(url, max_bytes=limit, allow_hosts=getattr(request.app.state, "fetch_allow_hosts", None))
    if not got.ok or got.content is None:
        raise _HmaError(
            400, f"could not fetch the url: {got.error or f'HTTP {got.status}'}", code="hma.fetch_failed"
        )
    kind = "video" if (got.sniffed_type or got.content_type or "").startswith("video") else "photo"
    return kind, got.content


@router.get(
    "/m/lookup",
    summary="Look content up by hash or by url (HMA 1.1): {bank: [{bank_content_id, distance}]}",
    responses={400: {"description": "unknown signal type, malformed hash, or neither hash nor url"}},
)
def lookup_get(
    request: Request,
    principal: Lookup,
    signal_type: Annotated[str | None, Query(max_length=32)] = None,
    signal: Annotated[str | None, Query(max_length=4096)] = None,
    url: Annotated[str | None, Query(max_length=2000)] = None,
    content_type: Annotated[str | None, Query(max_length=16)] = None,
    banks: Annotated[str | None, Query(max_length=2000)] = None,
    seed: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    wanted = _banks_param(request, principal, banks)
    try:
        if url:
            kind, data = _fetch_url(request, url)
            if content_type in CONTENT_SIGNALS:
                kind = content_type
            try:
                hashes = hash_bytes(kind, data)
            except JikimiError as exc:
                raise _HmaError(400, exc.reason, exc) from exc
            resp = {st: _by_bank(request, st, v, wanted) for st, v in hashes.items() if _hma_signal(st)}
            if signal_type is not None:
                return JSONResponse(resp.get(signal_type, {}))
            return JSONResponse(resp)
        if not signal or not signal_type:
            raise _HmaError(
                400, "Either url or both signal and signal_type are required", code="hma.no_input"
            )
        return JSONResponse(_by_bank(request, signal_type, signal, wanted))
    except _HmaError as exc:
        return exc.response()


@router.post(
    "/m/lookup",
    summary="Hash an uploaded photo or video and look it up (HMA 1.1): {signal_type: {bank: [...]}}",
    openapi_extra=_UPLOAD_BODY,
    responses={400: {"description": "no file, several files, or not an image/video"}},
)
async def lookup_post(request: Request, principal: Lookup, banks: str | None = None) -> JSONResponse:
    try:
        field, data = await _one_upload(request)
    except HTTPException as exc:
        return _hma_error(exc.status_code, str(exc.detail))
    try:
        hashes = hash_bytes(field, data)
    except JikimiError as exc:
        return _hma_error(400, exc.reason, exc)
    wanted = _banks_param(request, principal, banks)
    try:
        out = {st: _by_bank(request, st, v, wanted) for st, v in hashes.items() if _hma_signal(st)}
    except _HmaError as exc:
        return exc.response()
    return JSONResponse(out)


@router.get(
    "/m/raw_lookup",
    summary="Look a hash up (HMA 1.1): matching bank content ids, optionally with distances",
    responses={400: {"description": "unknown signal type or malformed hash"}},
)
def raw_lookup(
    request: Request,
    principal: BankRead,
    signal_type: Annotated[str, Query(max_length=32)],
    signal: Annotated[str, Query(max_length=4096)],
    include_distance: bool = False,
    banks: Annotated[str | None, Query(max_length=2000)] = None,
) -> JSONResponse:
    try:
        found = _match(request, signal_type, signal, _banks_param(request, principal, banks))[1]
    except _HmaError as exc:
        return exc.response()
    if include_distance:
        return JSONResponse(
            {"matches": [{"bank_content_id": x.entry_id, "distance": _distance(x)} for x in found]}
        )
    return JSONResponse({"matches": [x.entry_id for x in found]})


@router.post(
    "/m/compare",
    summary="Compare pairs of hashes (HMA 1.1): {signal_type: [a, b]} -> {signal_type: [match, {distance}]}",
    responses={400: {"description": "not a JSON object, not a pair, unknown type or malformed hash"}},
)
async def compare(request: Request, _: Lookup) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return _hma_error(400, "Request input was not a dict", code="hma.bad_compare")
    if not isinstance(body, dict):
        return _hma_error(400, "Request input was not a dict", code="hma.bad_compare")
    out: dict[str, Any] = {}
    for st, pair in body.items():
        if not isinstance(pair, list):
            return _hma_error(400, f"Comparison hashes for {st} was not a list", code="hma.bad_compare")
        if len(pair) != 2:
            return _hma_error(400, "Comparison hash list length must be exactly 2", code="hma.bad_compare")
        sig = _hma_signal(str(st))
        if sig is None:
            return _hma_error(400, f"No such SignalType '{st}'", code="hma.unknown_signal_type")
        try:
            left, right = (sig.validate(str(v)) for v in pair)
            distance = sig.distance(left, right)
            matched = bool(sig.matches(left, right))
        except (JikimiError, ValueError, TypeError) as exc:
            if isinstance(exc, JikimiError):
                return _hma_error(400, f"Invalid {st} hash: {exc.reason}", exc)
            return _hma_error(400, f"Invalid {st} hash: {exc}", code="hma.invalid_hash")
        out[str(st)] = [matched, {"distance": distance}]
    return JSONResponse(out)


@router.get(
    "/m/index/status",
    summary="Status of the matching indexes (HMA 1.1): {signal_type: {present, built_to, size}}",
    responses={400: {"description": "unknown signal type"}},
)
def index_status(request: Request, _: Lookup, signal_type: str | None = None) -> JSONResponse:
    """``built_to``: when the newest indexed hash of that type was banked (Unix seconds), -1 when none."""
    from sqlalchemy import func

    from jikimi.api.matching import matcher
    from jikimi.signals import registry
    from jikimi.store.schema.banks import BankEntry, BankSignal

    types = {n: sig for sig in registry.hash_signals() if sig.single for n in (sig.name, sig.exchange_name())}
    if signal_type is not None and signal_type not in types:
        return _hma_error(400, f"No such signal type '{signal_type}'", code="hma.unknown_signal_type")
    m = matcher(request)
    m.refresh()
    out: dict[str, dict[str, Any]] = {}
    with request.app.state.store.session() as s:
        for name in types if signal_type is None else (signal_type,):
            sig = types[name]
            size, newest = s.execute(
                select(func.count(func.distinct(BankSignal.entry_id)), func.max(BankEntry.added_at))
                .join(BankEntry, BankEntry.id == BankSignal.entry_id)
                .where(BankSignal.signal == sig.name)
            ).one()
            if sig.name in m.indexes:
                size = len(m.indexes[sig.name])
            built_to = int(newest.timestamp()) if newest is not None and size else -1
            out[name] = {"present": bool(size), "built_to": built_to, "size": int(size or 0)}
    return JSONResponse(out)


def _bank_config(bank: Any) -> dict[str, Any]:
    """HMA's ``BankConfig``: a disabled bank matches nothing (ratio 0), an enabled one everything (1)."""
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


@router.get("/c/banks", summary="List banks (HMA 1.1 curation, read-only)")
def hma_banks(request: Request, _: BankRead) -> list[dict[str, Any]]:
    from jikimi.store.schema.banks import Bank

    with request.app.state.store.session() as s:
        return [_bank_config(b) for b in s.scalars(select(Bank).order_by(Bank.name))]


@router.get(
    "/c/bank/{bank_name}",
    summary="One bank (HMA 1.1 curation, read-only)",
    responses={404: {"description": "no such bank"}},
)
def hma_bank(request: Request, bank_name: str, _: BankRead) -> JSONResponse:
    from jikimi.store.schema.banks import Bank

    with request.app.state.store.session() as s:
        bank = s.scalar(select(Bank).where(Bank.name == bank_name))
        if bank is None:
            return _hma_error(404, f"bank '{bank_name}' not found", code="hma.bank_not_found")
        return JSONResponse(_bank_config(bank))


@router.get(
    "/c/bank/{bank_name}/content/{content_id}",
    summary="One banked content item (HMA 1.1 curation, read-only)",
    responses={404: {"description": "no such bank or content"}},
)
def hma_bank_content(
    request: Request, bank_name: str, content_id: int, _: BankRead, include_signals: bool = False
) -> JSONResponse:
    from jikimi.store.schema.banks import Bank, BankEntry

    with request.app.state.store.session() as s:
        bank = s.scalar(select(Bank).where(Bank.name == bank_name))
        if bank is None:
            return _hma_error(404, f"bank '{bank_name}' not found", code="hma.bank_not_found")
        entry = s.get(BankEntry, content_id)
        if entry is None or entry.bank_id != bank.id:
            return _hma_error(404, f"content '{content_id}' not found", code="hma.content_not_found")
        collab = {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in entry.exchange_ids.items()
        }
        out: dict[str, Any] = {
            "id": entry.id,
            "disable_until_ts": 1 if entry.enabled else 0,
            "collab_metadata": collab,
            "original_media_uri": entry.content_uri or None,
            "bank": _bank_config(bank),
        }
        if include_signals:
            from jikimi.signals import registry

            kind = "video" if entry.is_video() else "image"
            out["signals"] = {
                (sig.exchange_name() if sig.exchanged_for(kind) else sig.name): values[0].value
                for sig, values in ((registry.hash_signal(n), vs) for n, vs in entry.values().items())
                if sig.single
            }
        return JSONResponse(out)
