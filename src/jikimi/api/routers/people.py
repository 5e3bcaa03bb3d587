"""Consented enrolment for face search: list, enrol (with a consent record), withdraw, re-embed kept photos
with the active face model. Face search is only ever over people enrolled here with a valid consent
(``jikimi.store.people``)."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.api.ui import confirm_page, render
from jikimi.api.uploads import read_uploads
from jikimi.errors import JikimiError, ValidationError
from jikimi.store import people, source_photos
from jikimi.web import N_

router = APIRouter()
Reader = Annotated[Principal, Depends(require(Perm.PEOPLE_READ))]
Writer = Annotated[Principal, Depends(require(Perm.PEOPLE_WRITE))]


class ConsentOut(BaseModel):
    given_by: str
    scope: str
    recorded_at: str
    recorded_by: str
    expires_at: str | None
    revoked_at: str | None


class PersonOut(BaseModel):
    id: int
    name: str
    minor: bool
    status: str
    searchable: bool
    faces: int
    photos: int
    sources: int = 0
    created_at: str
    withdrawn_at: str | None
    consent: ConsentOut | None
    outdated_faces: int = 0
    face_status: str = Field(
        default="",
        description="current | reembed (faces of another face model, photos kept) | "
        "needs_photos (faces of another face model, no kept photo) | '' (withdrawn)",
    )


class PhotoFailureOut(BaseModel):
    photo: str
    reason: str
    hint: str | None


class EnrolOut(BaseModel):
    person: PersonOut
    enrolled: list[str]
    failures: list[PhotoFailureOut]


class ReembedOut(BaseModel):
    person_id: int
    model: str
    reembedded: int
    failures: list[PhotoFailureOut]
    needs_photos: bool


def _reembed_out(r: people.ReembedResult) -> ReembedOut:
    return ReembedOut(
        person_id=r.person_id,
        model=r.model,
        reembedded=r.reembedded,
        failures=[PhotoFailureOut(photo=f.photo, reason=f.reason, hint=f.hint) for f in r.failures],
        needs_photos=r.needs_photos,
    )


class WithdrawIn(BaseModel):
    reason: str = Field(default="", max_length=500)


def _person(info: people.PersonInfo) -> PersonOut:
    return PersonOut(**info.to_dict())


@router.get("/api/v1/people", response_model=list[PersonOut], tags=["people"], summary="Enrolled people")
def list_people(s: DB, _: Reader, include_withdrawn: bool = False) -> list[PersonOut]:
    return [_person(p) for p in people.list_people(s, include_withdrawn=include_withdrawn)]


@router.get(
    "/api/v1/people/{person_id}",
    response_model=PersonOut,
    tags=["people"],
    summary="One enrolled person",
    responses={404: {"description": "no such person"}},
)
def get_person(s: DB, person_id: int, _: Reader) -> PersonOut:
    return _person(people.get_person(s, person_id))


def _enrol(
    s: Any,
    principal: Principal,
    *,
    name: str,
    consent_by: str,
    consent_scope: str,
    minor: bool,
    expires: date | None,
    consent_confirmed: bool,
    photos: list[tuple[str, bytes]],
    faces: list[int | None] | None = None,
) -> people.EnrolResult:
    _check_form(consent_confirmed, photos)
    return people.enroll(
        s,
        name,
        [data for _, data in photos],
        consent_by=consent_by,
        consent_scope=consent_scope or people.DEFAULT_SCOPE,
        minor=minor,
        expires=expires,
        actor=principal.actor,
        face=faces,
        names=[label or f"photo #{i}" for i, (label, _) in enumerate(photos, 1)],
    )


def _check_form(consent_confirmed: bool, photos: list[tuple[str, bytes]]) -> None:
    if not consent_confirmed:
        raise ValidationError(
            "enrolment refused: the consent form was not confirmed",
            "tick the box confirming the person (or a guardian) consented to face search",
        )
    if not photos:
        raise ValidationError("no photo uploaded", "add one or more photos showing the person's face")


@router.post(
    "/api/v1/people",
    response_model=EnrolOut,
    status_code=201,
    tags=["people"],
    summary="Enrol a person for face search (needs a recorded consent and photos of her face)",
    responses={422: {"description": "no consent, no usable face, or invalid input"}},
)
async def enrol(
    request: Request,
    s: DB,
    principal: Writer,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    consent_by: Annotated[str, Form(min_length=1, max_length=200)],
    photos: Annotated[list[UploadFile], File(description="Photos of the person's face")],
    consent_confirmed: Annotated[bool, Form()] = False,
    consent_scope: Annotated[str, Form(max_length=200)] = people.DEFAULT_SCOPE,
    minor: Annotated[bool, Form()] = False,
    expires: Annotated[date | None, Form()] = None,
) -> EnrolOut:
    files = await read_uploads(request, photos)
    res = _enrol(
        s,
        principal,
        name=name,
        consent_by=consent_by,
        consent_scope=consent_scope,
        minor=minor,
        expires=expires,
        consent_confirmed=consent_confirmed,
        photos=files,
    )
    return EnrolOut(
        person=_person(res.person),
        enrolled=res.enrolled,
        failures=[PhotoFailureOut(photo=f.photo, reason=f.reason, hint=f.hint) for f in res.failures],
    )


@router.post(
    "/api/v1/people/{person_id}/withdraw",
    response_model=PersonOut,
    tags=["people"],
    summary="Withdraw consent: delete the face data and stop every search now",
    responses={404: {"description": "no such person"}, 422: {"description": "already withdrawn"}},
)
def withdraw(s: DB, person_id: int, body: WithdrawIn, principal: Writer) -> PersonOut:
    return _person(people.withdraw(s, person_id, actor=principal.actor, reason=body.reason))


@router.post(
    "/api/v1/people/reembed",
    response_model=list[ReembedOut],
    tags=["people"],
    summary="Re-embed everyone's kept photos with the active face model (after a model change)",
    responses={400: {"description": "the configured face model cannot be used"}},
)
def reembed_all(s: DB, principal: Writer) -> list[ReembedOut]:
    return [_reembed_out(r) for r in people.reembed_all(s, actor=principal.actor)]


@router.post(
    "/api/v1/people/{person_id}/reembed",
    response_model=ReembedOut,
    tags=["people"],
    summary="Re-embed one person's kept photos with the active face model",
    responses={
        404: {"description": "no such person"},
        422: {"description": "withdrawn"},
        400: {"description": "the configured face model cannot be used"},
    },
)
def reembed(s: DB, person_id: int, principal: Writer) -> ReembedOut:
    return _reembed_out(people.reembed(s, person_id, actor=principal.actor))


class SourceOut(BaseModel):
    id: int
    person_id: int
    name: str
    sha256: str
    size: int
    width: int
    height: int
    face_box: list[int]
    created_at: str


class SourcesAddOut(BaseModel):
    added: list[SourceOut]
    already: list[str]
    failures: list[PhotoFailureOut]


def _add_sources(
    s: Any, principal: Principal, person_id: int, photos: list[tuple[str, bytes]]
) -> source_photos.AddResult:
    if not photos:
        raise ValidationError("no photo uploaded", "add one or more of her photos (each showing her face)")
    return source_photos.add_sources(
        s, person_id, [data for _, data in photos], names=[name for name, _ in photos], actor=principal.actor
    )


@router.get(
    "/api/v1/people/{person_id}/sources",
    response_model=list[SourceOut],
    tags=["people"],
    summary="Her source photos (public photos she fears were taken; derivatives of them are found)",
    responses={404: {"description": "no such person"}},
)
def list_sources(s: DB, person_id: int, _: Reader) -> list[SourceOut]:
    return [SourceOut(**r.to_dict()) for r in source_photos.list_sources(s, person_id)]


@router.post(
    "/api/v1/people/{person_id}/sources",
    response_model=SourcesAddOut,
    status_code=201,
    tags=["people"],
    summary="Add her source photos under her existing consent (a bad photo fails alone, with its reason)",
    responses={
        404: {"description": "no such person"},
        422: {"description": "withdrawn, no valid consent, or no photo"},
    },
)
async def add_sources(
    request: Request,
    s: DB,
    person_id: int,
    principal: Writer,
    photos: Annotated[list[UploadFile], File(description="Her photos, each showing her face")],
) -> SourcesAddOut:
    files = await read_uploads(request, photos)
    res = _add_sources(s, principal, person_id, files)
    return SourcesAddOut(
        added=[SourceOut(**a.to_dict()) for a in res.added],
        already=res.already,
        failures=[PhotoFailureOut(photo=f.photo, reason=f.reason, hint=f.hint) for f in res.failures],
    )


@router.delete(
    "/api/v1/people/{person_id}/sources/{source_id}",
    response_model=SourceOut,
    tags=["people"],
    summary="Delete one of her source photos",
    responses={404: {"description": "no such source photo of this person"}},
)
def remove_source(s: DB, person_id: int, source_id: int, principal: Writer) -> SourceOut:
    return SourceOut(**source_photos.remove_source(s, person_id, source_id, actor=principal.actor).to_dict())


# --- pages ----------------------------------------------------------------------------------------


def _sources_of(s: Any, everyone: list[people.PersonInfo]) -> dict[int, list[source_photos.SourceInfo]]:
    return {p.id: source_photos.list_sources(s, p.id) for p in everyone if p.sources}


def _people_page(
    request: Request,
    s: Any,
    principal: Principal,
    *,
    status: int = 200,
    result: Any = None,
    error: str | None = None,
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


# Photos of an enrolment waiting for the worker to pick her face in a group photo: held in memory only (never
# written to disk), for the worker who uploaded them, for a short while.
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
                    "reason": f"this photo shows {len(crops)} faces; choose hers below",
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
                "the photos of this enrolment are no longer held", "choose the photos again and enrol"
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
        reason = exc.reason if isinstance(exc, JikimiError) else str(exc)
        failures = getattr(exc, "failures", [])
        return _people_page(request, s, principal, status=422, error=reason, failures=failures, form=form)
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
    error: str | None = None
    failures: list[Any] = []
    added = None
    try:
        files = await read_uploads(request, [p for p in (photos or []) if p.filename])
        added = _add_sources(s, principal, person_id, files)
        failures = list(added.failures)
    except JikimiError as exc:
        s.rollback()
        error = exc.reason
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
