"""Findings and cases: the review queue (blurred thumbnails, reasons, confirm/dismiss), a case (sightings,
evidence, notices) and the evidence package download. The review and case pages: ``api.pages.cases``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.api import thumbs
from jikimi.api.deps import DB, Forbidden, Principal, require
from jikimi.api.roles import Perm
from jikimi.cases import dismiss_finding, reopen_finding
from jikimi.cases.queries import case_detail, get_case, list_cases
from jikimi.errors import NotFoundError
from jikimi.store import vault
from jikimi.store.schema.scans import Case, Finding, MediaRecord, SightingRecord
from jikimi.takedown.confirm import confirm_finding

router = APIRouter()
FindingReader = Annotated[Principal, Depends(require(Perm.FINDING_READ))]
Reviewer = Annotated[Principal, Depends(require(Perm.FINDING_REVIEW))]
CaseReader = Annotated[Principal, Depends(require(Perm.CASE_READ))]
Exporter = Annotated[Principal, Depends(require(Perm.EVIDENCE_EXPORT))]


class FindingOut(BaseModel):
    id: int
    case_id: int
    case_title: str
    status: str
    reasons: list[str]
    scores: dict[str, Any]
    bank_matches: list[Any]
    banks: list[str]
    person_id: int | None
    people: list[dict[str, Any]] = []
    """Who was found in the media and how: ``[{"id", "name", "by": ["face"|"source_photo"], ...}]``."""
    media_sha256: str
    kind: str
    sightings: int
    enrolled_photos: list[int] = []
    """Of the enrolled faces its people entries name (``face.enrolled_face``), those whose photo was kept."""
    first_sighting: dict[str, Any] | None = None
    """Where and when it was first seen: ``{"chat_name", "link", "source_kind", "posted_at", "seen_at"}``."""
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


class ReviewIn(BaseModel):
    note: str | None = Field(default=None, max_length=1000)


class CaseOut(BaseModel):
    id: int
    title: str
    queue: str
    person_id: int | None
    minor: bool
    status: str
    priority: float
    findings: int
    new: int
    confirmed: int
    dismissed: int
    priority_factors: dict[str, Any]


def _findings(
    s: Session, *, status: str | None, case_id: int | None, limit: int, after: int = 0
) -> list[FindingOut]:
    counts = (
        select(SightingRecord.media_id, func.count().label("n")).group_by(SightingRecord.media_id).subquery()
    )
    q = (
        select(Finding, MediaRecord, Case.title, counts.c.n)
        .join(MediaRecord, MediaRecord.id == Finding.media_id)
        .join(Case, Case.id == Finding.case_id)
        .outerjoin(counts, counts.c.media_id == Finding.media_id)
        .where(Finding.id > after)
        .order_by(Case.priority.desc(), Finding.id)
        .limit(limit)
    )
    if status:
        q = q.where(Finding.status == status)
    if case_id is not None:
        q = q.where(Finding.case_id == case_id)
    rows = list(s.execute(q))
    firsts = _first_sightings(s, [m.id for _, m, _, _ in rows])
    kept = _kept_faces(s, [f for f, _, _, _ in rows])
    out = []
    for f, m, title, n in rows:
        out.append(
            FindingOut(
                id=f.id,
                case_id=f.case_id,
                case_title=title,
                status=f.status,
                reasons=f.reasons,
                scores=f.scores,
                bank_matches=list(f.bank_matches),
                banks=sorted(
                    {str(b.get("bank")) for b in f.bank_matches if isinstance(b, dict) and b.get("bank")}
                ),
                person_id=f.person_id,
                people=f.people,
                enrolled_photos=sorted(_enrolled_faces(f) & kept),
                media_sha256=m.sha256,
                kind=m.kind,
                sightings=int(n or 0),
                first_sighting=firsts.get(m.id),
                created_at=f.created_at,
                reviewed_by=f.reviewed_by,
                reviewed_at=f.reviewed_at,
                review_note=f.review_note,
            )
        )
    return out


def _first_sightings(s: Session, media_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The earliest sighting of each media item (by the time it was posted, else seen)."""
    out: dict[int, dict[str, Any]] = {}
    if not media_ids:
        return out
    q = select(SightingRecord).where(SightingRecord.media_id.in_(media_ids)).order_by(SightingRecord.id)
    for sg in s.scalars(q):
        when = sg.posted_at or sg.seen_at
        known = out.get(sg.media_id)
        if known is not None and (known["posted_at"] or known["seen_at"]) <= when:
            continue
        out[sg.media_id] = {
            "chat_name": sg.chat_name,
            "link": sg.link,
            "source_kind": sg.source_kind,
            "posted_at": sg.posted_at,
            "seen_at": sg.seen_at,
        }
    return out


def _enrolled_faces(f: Finding) -> set[int]:
    """The enrolled faces (``PersonFace`` ids) a finding's people entries point to."""
    out = set()
    for p in f.people:
        face = p.get("face") if isinstance(p, dict) else None
        fid = face.get("enrolled_face") if isinstance(face, dict) else None
        if isinstance(fid, int) and not isinstance(fid, bool):
            out.add(fid)
    return out


def _kept_faces(s: Session, findings: list[Finding]) -> set[int]:
    """Of the enrolled faces these findings point to, those whose photo was kept (``keep_photos``)."""
    from jikimi.store.schema.people import PersonFace, PersonPhoto

    ids = set().union(*(_enrolled_faces(f) for f in findings)) if findings else set()
    if not ids:
        return set()
    q = (
        select(PersonFace.id)
        .join(
            PersonPhoto,
            (PersonPhoto.person_id == PersonFace.person_id)
            & (PersonPhoto.sha256 == PersonFace.source_sha256),
        )
        .where(PersonFace.id.in_(ids))
    )
    return set(s.scalars(q))


def _one(s: Session, finding_id: int) -> FindingOut:
    f = s.get(Finding, finding_id)
    if f is None:
        raise NotFoundError("no finding {id}", code="cases.finding_not_found", id=finding_id)
    found = _findings(s, status=None, case_id=f.case_id, limit=1, after=finding_id - 1)
    if not found or found[0].id != finding_id:
        raise NotFoundError("no finding {id}", code="cases.finding_not_found", id=finding_id)
    return found[0]


@router.get(
    "/api/v1/findings",
    response_model=list[FindingOut],
    tags=["findings"],
    summary="Findings, most urgent case first (the review queue is status=new)",
)
def list_findings(
    s: DB,
    _: FindingReader,
    status: Annotated[str | None, Query(pattern="^(new|confirmed|dismissed)$")] = None,
    case_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FindingOut]:
    return _findings(s, status=status, case_id=case_id, limit=limit)


@router.get(
    "/api/v1/findings/{finding_id}",
    response_model=FindingOut,
    tags=["findings"],
    summary="One finding",
    responses={404: {}},
)
def get_finding(s: DB, finding_id: int, _: FindingReader) -> FindingOut:
    return _one(s, finding_id)


_ACTIONS: dict[str, Callable[..., Finding]] = {
    "confirm": confirm_finding,
    "dismiss": dismiss_finding,
    "reopen": reopen_finding,
}


def _review(s: Session, principal: Principal, finding_id: int, action: str, note: str | None) -> None:
    _ACTIONS[action](s, finding_id, actor=principal.actor, note=note or None)


@router.post(
    "/api/v1/findings/{finding_id}/confirm",
    response_model=FindingOut,
    tags=["findings"],
    summary="Confirm: this is abuse material about the case (drafts the takedown notices)",
    responses={404: {}, 422: {"description": "already reviewed"}},
)
def confirm(s: DB, finding_id: int, body: ReviewIn, principal: Reviewer) -> FindingOut:
    _review(s, principal, finding_id, "confirm", body.note)
    return _one(s, finding_id)


@router.post(
    "/api/v1/findings/{finding_id}/dismiss",
    response_model=FindingOut,
    tags=["findings"],
    summary="Dismiss: not abuse material about the case",
    responses={404: {}, 422: {}},
)
def dismiss(s: DB, finding_id: int, body: ReviewIn, principal: Reviewer) -> FindingOut:
    _review(s, principal, finding_id, "dismiss", body.note)
    return _one(s, finding_id)


@router.post(
    "/api/v1/findings/{finding_id}/reopen",
    response_model=FindingOut,
    tags=["findings"],
    summary="Undo a review decision",
    responses={404: {}, 422: {}},
)
def reopen(s: DB, finding_id: int, body: ReviewIn, principal: Reviewer) -> FindingOut:
    _review(s, principal, finding_id, "reopen", body.note)
    return _one(s, finding_id)


@router.get(
    "/api/v1/findings/{finding_id}/thumbnail",
    tags=["findings"],
    summary="The finding's thumbnail: blurred on the server unless reveal=true (audited; original:view)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def thumbnail(
    request: Request,
    s: DB,
    finding_id: int,
    principal: FindingReader,
    reveal: bool = False,
    grey: bool = False,
) -> Response:
    f = s.get(Finding, finding_id)
    m = s.get(MediaRecord, f.media_id) if f is not None else None
    if f is None or m is None:
        raise NotFoundError("no finding {id}", code="cases.finding_not_found", id=finding_id)
    if not m.in_vault:
        raise NotFoundError(
            "the original of finding {id} is not in the vault", code="cases.original_not_kept", id=finding_id
        )
    if reveal:
        if not principal.can(Perm.ORIGINAL_VIEW):
            raise Forbidden(Perm.ORIGINAL_VIEW.value)
        data = vault.get(s, m.sha256, actor=principal.actor, purpose=f"review of finding {finding_id}")
        request.app.state.metrics.reveals.inc()
        body = thumbs.render(data, blurred=False, grey=grey)
    else:
        sha = m.sha256
        body = thumbs.blurred_thumbnail(sha, lambda: vault.default_vault().read(sha), grey=grey)
    return Response(body, media_type="image/jpeg", headers={"cache-control": "no-store, private"})


@router.get(
    "/api/v1/findings/{finding_id}/enrolled-face/{face_id}",
    tags=["findings"],
    summary="Her enrolled photo's face beside a finding: blurred unless reveal=true (original:view); "
    "the kept photo is decrypted under an audit entry",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no such face, or not kept"}},
)
def enrolled_face(
    request: Request,
    s: DB,
    finding_id: int,
    face_id: int,
    principal: FindingReader,
    reveal: bool = False,
    grey: bool = False,
) -> Response:
    from jikimi.store import people
    from jikimi.store.schema.people import PersonFace, PersonPhoto

    f = s.get(Finding, finding_id)
    if f is None or face_id not in _enrolled_faces(f):
        raise NotFoundError(
            "finding {id} has no enrolled face {face}",
            code="cases.face_not_found",
            id=finding_id,
            face=face_id,
        )
    face = s.get(PersonFace, face_id)
    row = (
        s.scalars(
            select(PersonPhoto).where(
                PersonPhoto.person_id == face.person_id, PersonPhoto.sha256 == face.source_sha256
            )
        ).first()
        if face is not None
        else None
    )
    if face is None or row is None:
        raise NotFoundError(
            "her enrolment photo was not kept",
            "photos are kept only when the enrolment asked to keep them",
            code="people.photo_not_found",
            cli_hint="photos are kept only with --keep-photos",
        )
    if reveal and not principal.can(Perm.ORIGINAL_VIEW):
        raise Forbidden(Perm.ORIGINAL_VIEW.value)
    box = (face.box_left, face.box_top, face.box_right, face.box_bottom)
    photo_id = row.id

    def load(purpose: str) -> tuple[bytes, tuple[int, int, int, int]]:
        _, data = people.photo(s, photo_id, actor=principal.actor, purpose=purpose)
        return data, box

    if reveal:
        data, _ = load(f"review of finding {finding_id}")
        request.app.state.metrics.reveals.inc()
        body = thumbs.render(data, blurred=False, grey=grey, box=box)
    else:
        body = thumbs.blurred_face(face_id, lambda: load(f"blurred preview, finding {finding_id}"), grey=grey)
    return Response(body, media_type="image/jpeg", headers={"cache-control": "no-store, private"})


@router.get(
    "/api/v1/cases", response_model=list[CaseOut], tags=["cases"], summary="Cases, highest priority first"
)
def cases(s: DB, _: CaseReader, status: Annotated[str | None, Query(max_length=20)] = None) -> list[CaseOut]:
    return [CaseOut(**c.to_dict()) for c in list_cases(s, status=status)]


@router.get(
    "/api/v1/cases/{case_id}",
    tags=["cases"],
    summary="One case: findings, reasons, sightings (masked)",
    response_model=dict[str, Any],
    responses={404: {}},
)
def case(s: DB, case_id: int, _: CaseReader) -> dict[str, Any]:
    return case_detail(s, case_id, mask=True)


@router.get(
    "/api/v1/cases/{case_id}/export",
    tags=["cases"],
    summary="The case's evidence package (zip with originals, manifest, chain of custody; audited)",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, 404: {}},
)
def export(s: DB, case_id: int, principal: Exporter, include_dismissed: bool = False) -> Response:
    from jikimi.cases.export import export_case

    get_case(s, case_id)
    with tempfile.TemporaryDirectory(prefix="jikimi-export-") as tmp:
        out = Path(tmp) / f"jikimi-case-{case_id}.zip"
        export_case(s, case_id, out, actor=principal.actor, include_dismissed=include_dismissed)
        data = out.read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="jikimi-case-{case_id}.zip"'},
    )


ADD_FIELDS = ("url", "chat", "sha256", "md5", "pdq", "media_url", "first_seen", "captured_at")
