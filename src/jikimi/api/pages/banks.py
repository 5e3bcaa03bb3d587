"""The banks page: the hash banks, creating one, adding files to one and looking hashes up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from jikimi.api.deps import DB, Principal
from jikimi.api.matching import matcher
from jikimi.api.routers.banks import Reader, Writer, _entry_from_bytes, lookup_hashes
from jikimi.api.ui import render
from jikimi.api.uploads import read_uploads
from jikimi.errors import JikimiError
from jikimi.store import banks

router = APIRouter()


def _error_page(
    request: Request, s: Session, principal: Principal, exc: JikimiError, *, query: dict[str, str]
) -> Response:
    """The banks page again, with the reason a form was refused (HTTP 422)."""
    return render(
        request,
        "banks.html",
        principal,
        status=422,
        banks=banks.list_banks(s),
        matches=None,
        error=exc,
        query=query,
    )


@router.get("/banks", include_in_schema=False)
def banks_page(request: Request, s: DB, principal: Reader) -> Response:
    return render(
        request, "banks.html", principal, banks=banks.list_banks(s), matches=None, error=None, query={}
    )


@router.post("/banks", include_in_schema=False)
def banks_create_page(
    request: Request,
    s: DB,
    principal: Writer,
    name: Annotated[str, Form(max_length=100)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        banks.create_bank(s, name, description=description, actor=principal.actor)
    except JikimiError as exc:
        s.rollback()
        return _error_page(request, s, principal, exc, query={})
    return RedirectResponse("/banks", status_code=303)


@router.post("/banks/lookup", include_in_schema=False)
def banks_lookup_page(
    request: Request,
    s: DB,
    principal: Reader,
    pdq: Annotated[str, Form(max_length=64)] = "",
    md5: Annotated[str, Form(max_length=32)] = "",
    sha256: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    query = {"pdq": pdq, "md5": md5, "sha256": sha256}
    try:
        matches = lookup_hashes(request, query)
    except JikimiError as exc:
        return _error_page(request, s, principal, exc, query=query)
    return render(
        request, "banks.html", principal, banks=banks.list_banks(s), matches=matches, error=None, query=query
    )


@router.post("/banks/{name}/files", include_in_schema=False)
async def banks_files_page(
    request: Request,
    s: DB,
    name: str,
    principal: Writer,
    files: Annotated[list[UploadFile] | None, File()] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        banks.get_bank(s, name)
        uploads = await read_uploads(request, [f for f in (files or []) if f.filename])
        m = matcher(request)
        for fname, data in uploads:
            entry = await run_in_threadpool(_entry_from_bytes, data, note=note, source=f"upload:{fname}")
            await run_in_threadpool(m.add, name, entry, actor=principal.actor)
    except JikimiError as exc:
        return _error_page(request, s, principal, exc, query={})
    return RedirectResponse("/banks", status_code=303)
