"""Consented enrolment for face search: list, enrol (with a consent record), withdraw, re-embed kept photos
with the active face model. Face search is only ever over people enrolled here with a valid consent
(``jikimi.store.people``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.api.uploads import read_uploads
from jikimi.errors import ValidationError
from jikimi.store import people, source_photos

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
    reason: str = Field(description="why the photo could not be used (English)")
    hint: str | None = Field(default=None, description="what to do next (English)")
    code: str = Field(default="people.photo_unusable", description="stable code, e.g. `people.no_face`")

    @classmethod
    def of(cls, f: people.PhotoFailure) -> PhotoFailureOut:
        return cls(photo=f.photo, reason=f.reason, hint=f.hint, code=f.code)


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
        failures=[PhotoFailureOut.of(f) for f in r.failures],
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
            code="people.consent_not_confirmed",
        )
    if not photos:
        raise ValidationError(
            "no photo uploaded", "add one or more photos showing the person's face", code="people.no_photo"
        )


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
        failures=[PhotoFailureOut.of(f) for f in res.failures],
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
        raise ValidationError(
            "no photo uploaded",
            "add one or more of her photos (each showing her face)",
            code="people.no_photo",
        )
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
        failures=[PhotoFailureOut.of(f) for f in res.failures],
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


# Photos of an enrolment waiting for the worker to pick her face in a group photo: held in memory only (never
# written to disk), for the worker who uploaded them, for a short while.
