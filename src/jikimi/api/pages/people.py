"""The people pages: enrolment with her consent, photos and sources, withdrawing consent, re-embedding."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from jikimi.api.deps import DB, Principal
from jikimi.api.routers.people import Reader, Writer, _add_sources, _check_form, _enrol
from jikimi.api.ui import confirm_page, render
from jikimi.api.uploads import read_uploads
from jikimi.errors import JikimiError, Message, ValidationError
from jikimi.store import people, source_photos
from jikimi.web import N_

router = APIRouter()


def _sources_of(s: Any, everyone: list[people.PersonInfo]) -> dict[int, list[source_photos.SourceInfo]]:
    return {p.id: source_photos.list_sources(s, p.id) for p in everyone if p.sources}


def _people_page(
    request: Request,
    s: Any,
    principal: Principal,
    *,
    status: int = 200,
    result: Any = None,
    error: JikimiError | ValueError | None = None,
    form: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    """The enrolment page with everyone enrolled (withdrawn included) and their source photos."""
    everyone = people.list_people(s, include_withdrawn=True)
    return render(
        request,
        "people.html",
        principal,
        status=status,
        people=everyone,
        sources=_sources_of(s, everyone),
        result=result,
        error=error,
        form=form or {},
        **extra,
    )


@router.get("/people", include_in_schema=False)
def people_page(request: Request, s: DB, principal: Reader) -> Response:
    return _people_page(request, s, principal)


PENDING_SECONDS = 30 * 60


PENDING_MAX = 50


@dataclass
class _Pending:
    actor: str
    created: float
    photos: list[tuple[str, bytes]]


def _pending(request: Request) -> dict[str, _Pending]:
    held: dict[str, _Pending] | None = getattr(request.app.state, "pending_enrolments", None)
    if held is None:
        held = request.app.state.pending_enrolments = {}
    now = time.monotonic()
    for token in [t for t, p in held.items() if now - p.created > PENDING_SECONDS]:
        del held[token]
    return held


def _group_photos(photos: list[tuple[str, bytes]], chosen: dict[int, int]) -> list[dict[str, Any]]:
    """Photos with several faces and no face chosen yet, each with its faces cropped and numbered."""
    groups = []
    for i, (name, data) in enumerate(photos):
        if i in chosen:
            continue
        try:
            crops = people.photo_faces(data)
        except JikimiError:
            continue  # enrolment reports what is wrong with this photo
        if len(crops) > 1:
            groups.append(
                {
                    "index": i,
                    "name": name or f"photo #{i + 1}",
                    "reason": Message("this photo shows {n} faces; choose hers below", {"n": len(crops)}),
                    "faces": [
                        {
                            "number": c.number,
                            "src": "data:image/jpeg;base64," + base64.b64encode(c.jpeg).decode(),
                        }
                        for c in crops
                    ],
                }
            )
    return groups


@router.post("/people", include_in_schema=False)
async def people_enrol_page(
    request: Request,
    s: DB,
    principal: Writer,
    name: Annotated[str, Form(max_length=200)] = "",
    consent_by: Annotated[str, Form(max_length=200)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
    consent_confirmed: Annotated[bool, Form()] = False,
    consent_scope: Annotated[str, Form(max_length=200)] = people.DEFAULT_SCOPE,
    minor: Annotated[bool, Form()] = False,
    expires: Annotated[str, Form(max_length=20)] = "",
    pending: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Enrol from the consent form. When a photo shows several faces, the form comes back with those faces
    cropped and numbered (the photos held in memory), and enrolment goes on with the face she chose."""
    form = {
        "name": name,
        "consent_by": consent_by,
        "consent_scope": consent_scope,
        "minor": minor,
        "expires": expires,
    }
    held = _pending(request)
    try:
        waiting = held.get(pending) if pending else None
        if pending and (waiting is None or waiting.actor != principal.actor):
            raise ValidationError(
                "the photos of this enrolment are no longer held",
                "choose the photos again and enrol",
                code="people.pending_expired",
            )
        if waiting is not None:
            files = waiting.photos
        else:
            files = await read_uploads(request, [p for p in (photos or []) if p.filename])
        until = date.fromisoformat(expires) if expires else None
        _check_form(consent_confirmed, files)
        submitted = await request.form()
        chosen: dict[int, int] = {}
        for i in range(len(files)):
            value = str(submitted.get(f"face_{i}") or "")
            if value.isdigit():
                chosen[i] = int(value)
        groups = _group_photos(files, chosen)
        if groups:
            token = pending or secrets.token_urlsafe(16)
            if token not in held and len(held) >= PENDING_MAX:
                held.pop(next(iter(held)))
            held[token] = _Pending(principal.actor, time.monotonic(), files)
            return _people_page(
                request,
                s,
                principal,
                form={**form, "consent_confirmed": True},
                choose=groups,
                chosen=chosen,
                pending=token,
            )
        res = _enrol(
            s,
            principal,
            name=name,
            consent_by=consent_by,
            consent_scope=consent_scope,
            minor=minor,
            expires=until,
            consent_confirmed=consent_confirmed,
            photos=files,
            faces=[chosen.get(i) for i in range(len(files))],
        )
    except (JikimiError, ValueError) as exc:
        s.rollback()
        failures = getattr(exc, "failures", [])
        return _people_page(request, s, principal, status=422, error=exc, failures=failures, form=form)
    if pending:
        held.pop(pending, None)
    return _people_page(request, s, principal, status=201, result=res)


@router.post("/people/reembed", include_in_schema=False)
def people_reembed_page(request: Request, s: DB, principal: Writer) -> Response:
    results = people.reembed_all(s, actor=principal.actor)
    return _people_page(request, s, principal, reembedded=results)


@router.post("/people/{person_id}/withdraw", include_in_schema=False)
def people_withdraw_page(
    request: Request,
    s: DB,
    person_id: int,
    principal: Writer,
    reason: Annotated[str, Form(max_length=500)] = "",
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if confirmed != "yes":
        people.get_person(s, person_id)  # an unknown person is a 404 before anything is asked
        return confirm_page(
            request,
            principal,
            question=N_(
                "Withdraw her consent? Her face data (the templates made from her photos) is deleted now and "
                "cannot be recovered; face search stops finding her."
            ),
            back="/people",
            fields={"reason": reason},
        )
    people.withdraw(s, person_id, actor=principal.actor, reason=reason)
    return RedirectResponse("/people", status_code=303)


@router.post("/people/{person_id}/sources", include_in_schema=False)
async def people_sources_page(
    request: Request,
    s: DB,
    person_id: int,
    principal: Writer,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    error: JikimiError | None = None
    failures: list[Any] = []
    added = None
    try:
        files = await read_uploads(request, [p for p in (photos or []) if p.filename])
        added = _add_sources(s, principal, person_id, files)
        failures = list(added.failures)
    except JikimiError as exc:
        s.rollback()
        error = exc
    return _people_page(
        request,
        s,
        principal,
        status=422 if error else (201 if added and added.added else 200),
        sources_added=added,
        error=error,
        failures=failures,
    )


@router.post("/people/{person_id}/sources/{source_id}/remove", include_in_schema=False)
def people_source_remove_page(s: DB, person_id: int, source_id: int, principal: Writer) -> Response:
    source_photos.remove_source(s, person_id, source_id, actor=principal.actor)
    return RedirectResponse("/people", status_code=303)
