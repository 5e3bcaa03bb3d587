"""Consented enrolment for face search: enrol, withdraw, list, show, and search faces against enrolled people.

The only way to search faces in Jikimi. ``enroll`` refuses a person without a consent record (who consented,
for what, optionally until when) and stores one embedding per photo (the photo itself only with
``keep_photos``, AES-256-GCM encrypted with the vault key). ``withdraw`` deletes the embeddings, photos and
cached indexes and revokes consent; ``gallery`` builds a :class:`~jikimi.index.faces.FaceGallery` over people
who are active with valid, unexpired consent, and every search re-checks that in the database, so withdrawal
and expiry apply at once. Enrolment, withdrawal and photo views are written to the audit log.

Other packages call: ``gallery(store)`` once per run, then ``gallery.search_many(embeddings)`` (fast, in
memory) or ``search_faces(store, faces, gallery=g)`` for results with names and the minor flag.

Every face is stored with its face model's name (``PersonFace.model``); only the active model's faces
(``jikimi.signals.face_models.current_embedder()``) are searched. When the model changes, ``reembed``
measures the kept photos again with the active model; people whose photos were not kept need new photos
(``PersonInfo.face_status == "needs_photos"``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, or_, select, true
from sqlalchemy.orm import Session

from jikimi.config import get_settings
from jikimi.errors import Explained, Gettext, JikimiError, Message, NotFoundError, ValidationError
from jikimi.index.faces import (
    _GALLERY_SEAL,
    HNSW_MIN_FACES,
    FaceGallery,
    FaceMatch,
    build_index,
    calibration,
)
from jikimi.signals.face import DETECTORS, Detector, Face, FaceBox, faces_in_media
from jikimi.signals.face_models import current_embedder
from jikimi.store import audit
from jikimi.store.db import Store
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.people import Consent, Person, PersonFace, PersonPhoto, PersonSource

__all__ = [
    "DEFAULT_SCOPE",
    "ConsentInfo",
    "EnrolResult",
    "EnrolmentError",
    "PersonInfo",
    "PersonMatch",
    "PhotoFailure",
    "ReembedResult",
    "active_people",
    "enroll",
    "gallery",
    "get_person",
    "list_people",
    "outdated_people",
    "photo",
    "record_consent",
    "reembed",
    "reembed_all",
    "search_faces",
    "search_photo",
    "withdraw",
]

DEFAULT_SCOPE = "face-search"
ACTIVE = "active"
WITHDRAWN = "withdrawn"
PhotoSource = Path | bytes


class EnrolmentError(JikimiError):
    """Nobody was enrolled: no consent, or no usable face in any photo (``failures`` says why per photo)."""

    def __init__(
        self,
        message: str | Message,
        hint: str | Message | None = None,
        /,
        *,
        failures: Sequence[PhotoFailure] = (),
        code: str | None = None,
        cli_hint: str | Message | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message, hint, code=code, cli_hint=cli_hint, **params)
        self.failures = list(failures)


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class PhotoFailure(Explained):
    """One photo that could not be used: why (a catalogued ``Message``), what to do next (for web pages and
    the API; ``cli_hint_message`` for the command line when it differs) and a stable ``code``.
    ``reason``/``hint`` are the English."""

    photo: str
    message: Message
    hint_message: Message | None = None
    faces: int = 0
    """How many faces the photo shows when that is why it failed (several: one must be chosen)."""
    code: str = "people.photo_unusable"
    cli_hint_message: Message | None = None

    @classmethod
    def of(cls, photo: str, exc: JikimiError) -> PhotoFailure:
        """The failure of one photo from the error that made it unusable (its message, hints and code)."""
        return cls(photo, exc.message, exc.hint_message, code=exc.code, cli_hint_message=exc.cli_hint_message)

    def as_message(self, *, cli: bool = False) -> Message:
        """``photo: reason (hint)`` as one message (its parts translated where it is shown)."""
        return Message("{photo}: {reason}", {"photo": self.photo, "reason": self.with_hint(cli=cli)})

    def text(self, gettext: Gettext = _same, *, cli: bool = False) -> str:
        return self.as_message(cli=cli).render(gettext)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (command line ``--json``): the English, the code and the message to translate."""
        return {
            "photo": self.photo,
            "code": self.code,
            "reason": self.reason,
            "hint": self.hint,
            "faces": self.faces,
            "message": self.message.to_json(),
        }

    def __str__(self) -> str:
        return self.text()


def failures_message(failures: Sequence[PhotoFailure]) -> Message:
    """``photo: reason (hint); photo: ...`` for several failed photos, as one message."""
    out = failures[-1].as_message()
    for f in reversed(failures[:-1]):
        out = Message("{first}; {rest}", {"first": f.as_message(), "rest": out})
    return out


@dataclass(frozen=True)
class ConsentInfo:
    id: int
    given_by: str
    scope: str
    recorded_at: datetime
    recorded_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def valid(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class PersonInfo:
    """A person as shown by ``person list/show``; ``searchable`` = active with a valid consent now."""

    id: int
    name: str
    minor: bool
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    faces: int
    photos: int
    consents: tuple[ConsentInfo, ...]
    searchable: bool
    #: Faces measured with another face model than the active one: never searched. ``reembed`` measures the
    #: kept photos again; without kept photos she needs new photos (``face_status``).
    outdated_faces: int = 0
    #: Her own source photos (``jikimi.store.source_photos``): derivatives of them are found too.
    sources: int = 0

    @property
    def face_status(self) -> str:
        """``current`` (every face is of the active model), ``reembed`` (faces of another model, photos kept:
        ``reembed`` updates them) or ``needs_photos`` (faces of another model and no kept photo: enrol new
        photos); ``""`` for a withdrawn person."""
        if self.status != ACTIVE:
            return ""
        if not self.outdated_faces:
            return "current"
        return "reembed" if self.photos else "needs_photos"

    @property
    def consent(self) -> ConsentInfo | None:
        """The newest consent record."""
        return self.consents[-1] if self.consents else None

    def to_dict(self) -> dict[str, Any]:
        c = self.consent
        return {
            "id": self.id,
            "name": self.name,
            "minor": self.minor,
            "status": self.status,
            "searchable": self.searchable,
            "faces": self.faces,
            "outdated_faces": self.outdated_faces,
            "face_status": self.face_status,
            "photos": self.photos,
            "sources": self.sources,
            "created_at": self.created_at.isoformat(),
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
            "consent": None
            if c is None
            else {
                "given_by": c.given_by,
                "scope": c.scope,
                "recorded_at": c.recorded_at.isoformat(),
                "recorded_by": c.recorded_by,
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
            },
        }


@dataclass(frozen=True)
class EnrolResult:
    person: PersonInfo
    enrolled: list[str]
    failures: list[PhotoFailure] = field(default_factory=list)


@dataclass(frozen=True)
class PersonMatch:
    """An enrolled person matched by a face: who, how close, and the calibrated score / false-accept rate."""

    person_id: int
    name: str
    minor: bool
    face_id: int
    """Her enrolled photo most like the found face (shown beside it for review)."""
    distance: float
    score: float
    far: float
    similarity: float = 0.0
    z: float = 0.0
    photos: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "minor": self.minor,
            "face_id": self.face_id,
            "distance": round(self.distance, 4),
            "similarity": round(self.similarity, 4),
            "z": round(self.z, 3),
            "score": round(self.score, 4),
            "far": self.far,
            "photos": self.photos,
        }


# -- helpers ------------------------------------------------------------------------------------------------
def _expiry(expires: date | datetime | str | None) -> datetime | None:
    """``None``, a date (consent ends at 00:00 UTC that day), an aware datetime, or an ISO string."""
    if expires is None or expires == "":
        return None
    if isinstance(expires, str):
        try:
            expires = datetime.fromisoformat(expires.strip())
        except ValueError:
            raise ValidationError(
                "not a date: {value!r}",
                "give the consent's end as YYYY-MM-DD (or an ISO date-time)",
                code="people.expiry_invalid",
                value=expires,
            ) from None
    if isinstance(expires, datetime):
        return expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    return datetime.combine(expires, time(0), tzinfo=UTC)


def _valid_consent_clause(now: datetime) -> Any:
    return (
        select(Consent.id)
        .where(
            Consent.person_id == Person.id,
            Consent.revoked_at.is_(None),
            or_(Consent.expires_at.is_(None), Consent.expires_at > now),
        )
        .exists()
    )


def _counts(session: Session, ids: Collection[int]) -> dict[int, tuple[int, int, int]]:
    """(faces, kept photos, outdated faces) per person id, counted in the database (photos are never
    loaded). Outdated faces were measured with another embedding model (``PersonFace.model``) and are never
    searched."""
    out = {int(i): (0, 0, 0) for i in ids}
    if not out:
        return out
    model = current_embedder().name
    faces: dict[int, int] = {}
    photos: dict[int, int] = {}
    outdated: dict[int, int] = {}
    for table, condition, into in (
        (PersonFace, PersonFace.model == model, faces),
        (PersonPhoto, true(), photos),
        (PersonFace, PersonFace.model != model, outdated),
    ):
        q = select(table.person_id, func.count()).where(condition, table.person_id.in_(out))
        for pid, n in session.execute(q.group_by(table.person_id)):
            into[int(pid)] = int(n)
    return {i: (faces.get(i, 0), photos.get(i, 0), outdated.get(i, 0)) for i in out}


def _info(
    session: Session, person: Person, now: datetime | None = None, counts: tuple[int, int, int] | None = None
) -> PersonInfo:
    now = now or datetime.now(UTC)
    session.flush()
    n_faces, n_photos, n_old = counts if counts is not None else _counts(session, [person.id])[person.id]
    consents = tuple(
        ConsentInfo(c.id, c.given_by, c.scope, c.recorded_at, c.recorded_by, c.expires_at, c.revoked_at)
        for c in person.consents
    )
    return PersonInfo(
        id=person.id,
        name=person.name,
        minor=person.minor,
        status=person.status,
        created_at=person.created_at,
        withdrawn_at=person.withdrawn_at,
        faces=n_faces,
        photos=n_photos,
        consents=consents,
        searchable=person.status == ACTIVE and any(c.valid(now) for c in consents),
        outdated_faces=n_old,
        sources=int(session.scalar(select(func.count()).where(PersonSource.person_id == person.id)) or 0),
    )


def _photo_name(src: PhotoSource, i: int, names: Sequence[str] | None = None) -> str:
    if names is not None and i < len(names) and names[i]:
        return names[i]
    return src.name if isinstance(src, Path) else f"photo #{i + 1}"


@dataclass(frozen=True)
class FaceCrop:
    """One face of a photo: its number (left to right, as ``enroll(face=N)`` counts), box, and a small JPEG of
    the face alone (for choosing her face in a group photo; never stored)."""

    number: int
    box: FaceBox
    jpeg: bytes


def photo_faces(
    src: PhotoSource, *, detector: Detector = "hog", upsample: int = 1, side: int = 112
) -> list[FaceCrop]:
    """The faces in one photo, numbered as ``enroll(face=N)`` numbers them, each cropped (with a margin) to a
    ``side``-pixel JPEG. A photo that cannot be read raises a ``JikimiError``; nothing is stored."""
    import io

    from jikimi.media import load

    media = load(src, name=_photo_name(src, 0))
    if media.kind != "image":
        return []
    faces = faces_in_media(media, detector=detector, upsample=upsample, embed=False)
    upright = media.upright().convert("RGB")
    out = []
    for n, f in enumerate(faces, 1):
        b = f.box
        margin = int(0.25 * max(b.right - b.left, b.bottom - b.top))
        crop = upright.crop(
            (
                max(0, b.left - margin),
                max(0, b.top - margin),
                min(upright.width, b.right + margin),
                min(upright.height, b.bottom + margin),
            )
        )
        crop.thumbnail((side, side))
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=85)
        out.append(FaceCrop(n, b, buf.getvalue()))
    return out


@dataclass(frozen=True)
class _Prepared:
    name: str
    data: bytes
    sha256: str
    face: Face


def choose_face(name: str, faces: Sequence[Face], face: int | None) -> Face | PhotoFailure:
    """Her face among the faces found in one photo: the only one, or the ``face``-th from the left; a photo
    with none, several (and no choice) or fewer than asked becomes a ``PhotoFailure`` naming the file."""
    if not faces:
        return PhotoFailure(
            name,
            Message("no face found in this photo"),
            Message("use a clear, front-facing photo where the face is at least ~80 pixels wide"),
            code="people.no_face",
            cli_hint_message=Message(
                "use a clear, front-facing photo where the face is at least ~80 pixels wide, "
                "or try --detector cnn or --upsample 2"
            ),
        )
    if face is None and len(faces) > 1:
        where = ", ".join(f"{n}: x={f.box.left}..{f.box.right}" for n, f in enumerate(faces, 1))
        return PhotoFailure(
            name,
            Message(
                "this photo shows {n} faces ({where}, numbered left to right)",
                {"n": len(faces), "where": where},
            ),
            Message("choose the person's face, or use a photo of the person alone"),
            faces=len(faces),
            code="people.several_faces",
            cli_hint_message=Message(
                "choose the person's face with --face N, or use a photo of the person alone"
            ),
        )
    if face is not None and not 1 <= face <= len(faces):
        return PhotoFailure(
            name,
            Message(
                "face number {face} was asked for, but this photo shows {n} face(s)",
                {"face": face, "n": len(faces)},
            ),
            Message("give a number from 1 to {n} (faces are numbered left to right)", {"n": len(faces)}),
            code="people.face_number_invalid",
            cli_hint_message=Message(
                "give --face a number from 1 to {n} (faces are numbered left to right)", {"n": len(faces)}
            ),
        )
    return faces[(face or 1) - 1]


def _prepare(
    src: PhotoSource,
    i: int,
    *,
    face: int | None,
    detector: Detector,
    upsample: int,
    names: Sequence[str] | None = None,
) -> _Prepared | PhotoFailure:
    """Decode one photo and pick its face; a bad photo becomes a ``PhotoFailure`` with the reason."""
    from jikimi.media import load

    name = _photo_name(src, i, names)
    try:
        media = load(src, name=name)
        if media.kind != "image":
            return PhotoFailure(
                name,
                Message("is a video or an animation"),
                Message("enrol from still photos of the person"),
                code="people.not_a_still_photo",
            )
        faces = faces_in_media(media, detector=detector, upsample=upsample)
    except JikimiError as exc:
        return PhotoFailure.of(name, exc)
    chosen = choose_face(name, faces, face)
    if isinstance(chosen, PhotoFailure):
        return chosen
    data = media.data()
    return _Prepared(name=name, data=data, sha256=media.sha256, face=chosen)


def _faces_cache_dir() -> Path:
    return get_settings().index_dir / "faces"


def _purge_index_cache(keep: str | None = None) -> None:
    """Delete cached gallery indexes (they hold embeddings), except ``keep``."""
    folder = _faces_cache_dir()
    if not folder.is_dir():
        return
    for f in folder.glob("*.faiss"):
        if f.name != keep:
            f.unlink(missing_ok=True)


# -- enrolment ----------------------------------------------------------------------------------------------
def enroll(
    session: Session,
    name: str,
    photos: Sequence[PhotoSource],
    *,
    consent_by: str | None,
    consent_scope: str = DEFAULT_SCOPE,
    minor: bool = False,
    expires: date | datetime | str | None = None,
    keep_photos: bool = False,
    face: int | Sequence[int | None] | None = None,
    detector: Detector = "hog",
    upsample: int = 1,
    actor: str | None = None,
    names: Sequence[str] | None = None,
) -> EnrolResult:
    """Enrol ``name`` from ``photos`` with a consent record. Refused without ``consent_by``.

    Each photo must show exactly one face, or ``face`` (1-based, left to right) picks one: one number for
    every photo, or one per photo (``None``: the photo shows her alone). ``names`` names the photos in
    messages (e.g. the uploaded file names; default: the file name, or "photo #N"). Photos that fail
    are reported in ``failures`` and the others are enrolled; when none is usable nobody is enrolled
    (``EnrolmentError``). Face detection runs before anything is written.
    """
    who = (consent_by or "").strip()
    if not who:
        raise EnrolmentError(
            "enrolment refused: no consent record",
            "say who gave consent for face search (the person, or a guardian for a minor)",
            code="people.no_consent",
            cli_hint="say who gave consent for face search with --consent-by "
            "(the person, or a guardian for a minor)",
        )
    clean_name = name.strip()
    if not clean_name:
        raise ValidationError(
            "the person's name is empty", "give a name or a case pseudonym", code="people.name_empty"
        )
    if len(clean_name) > 200 or len(who) > 200 or len(consent_scope) > 200:
        raise ValidationError(
            "the name, who gave consent and the consent scope are limited to 200 characters",
            "shorten the name, who gave consent or the consent scope",
            code="people.too_long",
            cli_hint="shorten the name, --consent-by or --consent-scope",
        )
    scope = consent_scope.strip() or DEFAULT_SCOPE
    until = _expiry(expires)
    now = datetime.now(UTC)
    if until is not None and until <= now:
        raise ValidationError(
            "the consent expiry {date} is not in the future",
            "give a later end date for the consent",
            code="people.expiry_past",
            cli_hint="give a later --expires date",
            date=until.date().isoformat(),
        )
    if detector not in DETECTORS:
        raise ValidationError(
            "unknown face detector {detector!r}",
            "use one of: {detectors}",
            code="people.detector_unknown",
            detector=detector,
            detectors=", ".join(DETECTORS),
        )
    if not photos:
        raise ValidationError(
            "no photo given", "give one or more photos showing the person's face", code="people.no_photo"
        )

    prepared: list[_Prepared] = []
    failures: list[PhotoFailure] = []
    for i, src in enumerate(photos):
        pick = face if face is None or isinstance(face, int) else (face[i] if i < len(face) else None)
        got = _prepare(src, i, face=pick, detector=detector, upsample=upsample, names=names)
        (failures if isinstance(got, PhotoFailure) else prepared).append(got)  # type: ignore[arg-type]
    if not prepared:
        raise EnrolmentError(
            "nobody enrolled: no usable face ({detail})",
            failures[0].hint_message,
            code="people.no_usable_face",
            cli_hint=failures[0].cli_hint_message,
            failures=failures,
            detail=failures_message(failures),
        )

    actor = actor or audit.default_actor()
    person = Person(name=clean_name, minor=minor, status=ACTIVE, created_by=actor)
    person.consents.append(
        Consent(given_by=who, scope=scope, recorded_by=actor, expires_at=until, recorded_at=utcnow())
    )
    session.add(person)
    key = None
    if keep_photos:
        from jikimi.store.vault import load_key

        key = load_key()
    for p in prepared:
        b = p.face.box
        person.faces.append(
            PersonFace(
                embedding=np.asarray(p.face.embedding, dtype="<f4").tobytes(),
                model=p.face.model,
                source_name=p.name[:300],
                source_sha256=p.sha256,
                box_left=b.left,
                box_top=b.top,
                box_right=b.right,
                box_bottom=b.bottom,
                detector=p.face.detector,
                confidence=float(p.face.confidence),
            )
        )
        if key is not None:
            from jikimi.store.vault import encrypt

            person.photos.append(
                PersonPhoto(
                    name=p.name[:300],
                    sha256=p.sha256,
                    size=len(p.data),
                    ciphertext=encrypt(key, p.data, _photo_aad(p.sha256)),
                )
            )
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="person.enroll",
        subject=f"person:{person.id}",
        details={
            "faces": len(prepared),
            "photos_kept": len(person.photos),
            "consent_id": person.consents[0].id,
            "consent_scope": scope,
            "consent_expires_at": until.isoformat() if until else None,
            "minor": minor,
            "photos_failed": len(failures),
        },
    )
    return EnrolResult(_info(session, person, now), [p.name for p in prepared], failures)


def _photo_aad(sha256: str) -> bytes:
    return f"jikimi-person-photo:{sha256}".encode()


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError(
            "no person with id {id}",
            "see the list of enrolled people",
            code="people.not_found",
            cli_hint="see `jikimi person list`",
            id=person_id,
        )
    return person


def record_consent(
    session: Session,
    person_id: int,
    *,
    consent_by: str | None,
    consent_scope: str = DEFAULT_SCOPE,
    expires: date | datetime | str | None = None,
    actor: str | None = None,
) -> PersonInfo:
    """Record a new consent for an enrolled person (e.g. renew an expired one); audited (``person.consent``).

    A withdrawn person cannot be renewed: her face data is gone, so she is enrolled again from photos.
    """
    person = _person(session, person_id)
    if person.status != ACTIVE:
        raise ValidationError(
            "person {id} was withdrawn; her face data was deleted",
            "enrol her again from new photos if she consents again",
            code="people.withdrawn",
            cli_hint="enrol her again with `jikimi person enroll` if she consents again",
            id=person_id,
        )
    who = (consent_by or "").strip()
    if not who:
        raise ValidationError(
            "a consent record must say who gave consent",
            "say who gave consent for face search",
            code="people.no_consent",
            cli_hint="say who gave consent for face search with --consent-by",
        )
    scope = consent_scope.strip() or DEFAULT_SCOPE
    if len(who) > 200 or len(scope) > 200:
        raise ValidationError(
            "who gave consent and the consent scope are limited to 200 characters",
            "shorten who gave consent or the consent scope",
            code="people.too_long",
            cli_hint="shorten --consent-by or --consent-scope",
        )
    until = _expiry(expires)
    if until is not None and until <= datetime.now(UTC):
        raise ValidationError(
            "the consent expiry {date} is not in the future",
            "give a later end date for the consent",
            code="people.expiry_past",
            cli_hint="give a later --expires date",
            date=until.date().isoformat(),
        )
    actor = actor or audit.default_actor()
    consent = Consent(given_by=who, scope=scope, recorded_by=actor, expires_at=until, recorded_at=utcnow())
    person.consents.append(consent)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="person.consent",
        subject=f"person:{person_id}",
        details={
            "consent_id": consent.id,
            "consent_scope": scope,
            "consent_expires_at": until.isoformat() if until else None,
        },
    )
    return _info(session, person)


def withdraw(
    session: Session, person_id: int, *, actor: str | None = None, reason: str | None = None
) -> PersonInfo:
    """Withdraw consent: delete the person's embeddings, photos, source photos and cached indexes; stop every
    search now."""
    person = _person(session, person_id)
    if person.status == WITHDRAWN:
        raise ValidationError(
            "person {id} was already withdrawn on {date}",
            code="people.already_withdrawn",
            id=person_id,
            date=f"{person.withdrawn_at:%Y-%m-%d}",
        )
    now = utcnow()
    faces = session.execute(delete(PersonFace).where(PersonFace.person_id == person_id)).rowcount  # type: ignore[attr-defined]
    photos = session.execute(delete(PersonPhoto).where(PersonPhoto.person_id == person_id)).rowcount  # type: ignore[attr-defined]
    sources = session.execute(delete(PersonSource).where(PersonSource.person_id == person_id)).rowcount  # type: ignore[attr-defined]
    for c in person.consents:
        if c.revoked_at is None:
            c.revoked_at = now
    person.status = WITHDRAWN
    person.withdrawn_at = now
    session.flush()
    audit.append(
        session,
        actor=actor or audit.default_actor(),
        action="person.withdraw",
        subject=f"person:{person_id}",
        details={
            "faces_deleted": faces,
            "photos_deleted": photos,
            "sources_deleted": sources,
            "reason": (reason or "")[:500],
        },
    )
    _purge_index_cache()
    return _info(session, person)


def list_people(session: Session, *, include_withdrawn: bool = False) -> list[PersonInfo]:
    q = select(Person).order_by(Person.id)
    if not include_withdrawn:
        q = q.where(Person.status == ACTIVE)
    now = datetime.now(UTC)
    rows = list(session.scalars(q))
    counts = _counts(session, [p.id for p in rows])
    return [_info(session, p, now, counts[p.id]) for p in rows]


def get_person(session: Session, person_id: int) -> PersonInfo:
    return _info(session, _person(session, person_id))


def photo(session: Session, photo_id: int, *, actor: str, purpose: str) -> tuple[str, bytes]:
    """Decrypt a kept reference photo (audited as ``person.photo.view``): returns (name, bytes)."""
    from jikimi.store.vault import decrypt, load_keys

    row = session.get(PersonPhoto, photo_id)
    if row is None:
        raise NotFoundError(
            "no kept photo with id {id}",
            "photos are kept only when the enrolment asked to keep them",
            code="people.photo_not_found",
            cli_hint="photos are kept only with --keep-photos",
            id=photo_id,
        )
    data = decrypt(load_keys(create=False), row.ciphertext, _photo_aad(row.sha256))
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise JikimiError(
            "kept photo {id} failed its checksum",
            "the database row was altered",
            code="people.photo_checksum",
            id=photo_id,
        )
    audit.append(
        session, actor=actor, action="person.photo.view", subject=f"person:{row.person_id}",
        details={"photo_id": photo_id, "purpose": purpose[:300]},
    )  # fmt: skip
    return row.name, data


# -- re-embedding with another face model --------------------------------------------------------------------
@dataclass(frozen=True)
class ReembedResult:
    """What ``reembed`` did for one person: faces measured again with ``model``, photos that failed, and
    whether faces of another model remain that no kept photo can renew (she needs new photos)."""

    person_id: int
    model: str
    reembedded: int
    failures: list[PhotoFailure] = field(default_factory=list)
    needs_photos: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "model": self.model,
            "reembedded": self.reembedded,
            "failures": [f.to_dict() for f in self.failures],
            "needs_photos": self.needs_photos,
        }


def _overlap(a: FaceBox, b: tuple[int, int, int, int]) -> float:
    """Intersection over union of a found face box and a stored one (left, top, right, bottom)."""
    left, top, right, bottom = max(a.left, b[0]), max(a.top, b[1]), min(a.right, b[2]), min(a.bottom, b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = a.width * a.height + max(0, b[2] - b[0]) * max(0, b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _refind(data: bytes, name: str, old: PersonFace) -> Face | PhotoFailure:
    """The enrolled face in a kept photo, measured with the active model: the found face that overlaps the
    stored box most (the same detector finds the same face)."""
    from jikimi.media import load

    stored = (old.box_left, old.box_top, old.box_right, old.box_bottom)
    detector: Detector = old.detector if old.detector in DETECTORS else "hog"
    try:
        media = load(data, name=name)
        for upsample in (1, 2):
            faces = faces_in_media(media, detector=detector, upsample=upsample)
            best = max(faces, key=lambda f: _overlap(f.box, stored), default=None)
            if best is not None and _overlap(best.box, stored) >= 0.4:
                return best
    except JikimiError as exc:
        return PhotoFailure.of(name, exc)
    return PhotoFailure(
        name,
        Message("the enrolled face was not found again in this kept photo"),
        Message("enrol the person again from new photos (with her consent)"),
        code="people.face_not_refound",
    )


def reembed(session: Session, person_id: int, *, actor: str | None = None) -> ReembedResult:
    """Measure a person's kept photos again with the active face model (audited as ``person.reembed``).

    For each kept photo whose face is not yet measured with the active model, the enrolled face is found
    again (the stored box and detector) and stored with the active model; the photo's faces of other models
    are then deleted. Faces of other models whose photo was not kept stay (``needs_photos``): only new photos
    renew them.
    """
    from jikimi.store.vault import decrypt, load_keys

    person = _person(session, person_id)
    if person.status != ACTIVE:
        raise ValidationError(
            "person {id} was withdrawn; her face data was deleted",
            "enrol her again from new photos if she consents again",
            code="people.withdrawn",
            cli_hint="enrol her again with `jikimi person enroll` if she consents again",
            id=person_id,
        )
    model = current_embedder().name
    faces = list(person.faces)
    by_photo: dict[str, list[PersonFace]] = {}
    for f in faces:
        by_photo.setdefault(f.source_sha256, []).append(f)
    done = 0
    failures: list[PhotoFailure] = []
    renewed: set[int] = set()
    keys = None
    for ph in person.photos:
        olds = by_photo.get(ph.sha256, [])
        if not olds or any(f.model == model for f in olds):
            continue
        if keys is None:
            keys = load_keys(create=False)
        data = decrypt(keys, ph.ciphertext, _photo_aad(ph.sha256))
        if hashlib.sha256(data).hexdigest() != ph.sha256:
            failures.append(
                PhotoFailure(
                    ph.name,
                    Message("the kept photo failed its checksum"),
                    Message("enrol new photos"),
                    code="people.photo_checksum",
                )
            )
            continue
        got = _refind(data, ph.name, olds[0])
        if isinstance(got, PhotoFailure):
            failures.append(got)
            continue
        b = got.box
        person.faces.append(
            PersonFace(
                embedding=np.asarray(got.embedding, dtype="<f4").tobytes(),
                model=got.model,
                source_name=ph.name[:300],
                source_sha256=ph.sha256,
                box_left=b.left,
                box_top=b.top,
                box_right=b.right,
                box_bottom=b.bottom,
                detector=got.detector,
                confidence=float(got.confidence),
            )
        )
        renewed.update(f.id for f in olds)
        done += 1
    if renewed:
        session.execute(delete(PersonFace).where(PersonFace.id.in_(renewed)))
        session.expire(person, ["faces"])
    session.flush()
    left = session.scalar(
        select(func.count())
        .select_from(PersonFace)
        .where(PersonFace.person_id == person_id, PersonFace.model != model)
    )
    result = ReembedResult(person_id, model, done, failures, needs_photos=bool(left))
    if done or failures:
        audit.append(
            session,
            actor=actor or audit.default_actor(),
            action="person.reembed",
            subject=f"person:{person_id}",
            details={
                "model": model,
                "faces_reembedded": done,
                "faces_replaced": len(renewed),
                "photos_failed": len(failures),
                "outdated_faces_left": int(left or 0),
            },
        )
        _purge_index_cache()
    return result


def outdated_people(session: Session) -> list[int]:
    """Ids of active people with faces of another face model than the active one."""
    model = current_embedder().name
    has_other = select(PersonFace.id).where(PersonFace.person_id == Person.id, PersonFace.model != model)
    q = select(Person.id).where(Person.status == ACTIVE, has_other.exists()).order_by(Person.id)
    return [int(i) for i in session.scalars(q)]


def reembed_all(session: Session, *, actor: str | None = None) -> list[ReembedResult]:
    """``reembed`` every active person with faces of another face model (people without kept photos are
    reported with ``needs_photos`` and nothing done)."""
    return [reembed(session, pid, actor=actor) for pid in outdated_people(session)]


# -- search -------------------------------------------------------------------------------------------------
def active_people(session: Session, person_ids: Collection[int] | None = None) -> set[int]:
    """Ids (among ``person_ids``, or all) of people active right now with a valid, unexpired consent."""
    q = select(Person.id).where(Person.status == ACTIVE, _valid_consent_clause(datetime.now(UTC)))
    if person_ids is not None:
        ids = [int(i) for i in person_ids]
        if not ids:
            return set()
        q = q.where(Person.id.in_(ids))
    return set(session.scalars(q))


def _consent_expiries(session: Session, now: datetime) -> dict[int, datetime | None]:
    """For each searchable person, when their searchability ends (None = no end date)."""
    rows = session.execute(
        select(Consent.person_id, Consent.expires_at)
        .join(Person, Person.id == Consent.person_id)
        .where(
            Person.status == ACTIVE,
            Consent.revoked_at.is_(None),
            or_(Consent.expires_at.is_(None), Consent.expires_at > now),
        )
    ).all()
    out: dict[int, datetime | None] = {}
    for pid, exp in rows:
        if pid not in out:
            out[pid] = exp
        else:
            prev = out[pid]
            out[pid] = None if prev is None or exp is None else max(prev, exp)
    return out


def gallery(store: Store, *, use_cache: bool = True) -> FaceGallery:
    """The searchable gallery of every enrolled face of people active with valid consent right now.

    Large galleries (>= ``HNSW_MIN_FACES`` faces) use an HNSW index cached under ``index_dir/faces`` (private
    files, deleted on withdrawal). Each search re-checks consent in this ``store``.
    """
    import faiss

    embedder = current_embedder()
    model, dim = embedder.name, embedder.dim
    calib = calibration(model)  # refuses before any work when the model has no calibration
    now = datetime.now(UTC)
    with store.session() as s:
        expires = _consent_expiries(s, now)
        id_rows = s.execute(
            select(PersonFace.id, PersonFace.person_id)
            .join(Person, Person.id == PersonFace.person_id)
            .where(Person.status == ACTIVE, PersonFace.model == model)
            .order_by(PersonFace.id)
        ).all()
        rows = [(fid, pid) for fid, pid in id_rows if pid in expires]
        face_ids = np.array([r[0] for r in rows], dtype=np.int64)
        person_ids = np.array([r[1] for r in rows], dtype=np.int64)
        h = hashlib.sha256(model.encode())
        h.update(face_ids.tobytes())
        h.update(person_ids.tobytes())
        fingerprint = h.hexdigest()[:24]
        cache_file = _faces_cache_dir() / f"{fingerprint}.faiss"
        index: Any = None
        if use_cache and len(rows) >= HNSW_MIN_FACES and cache_file.is_file():
            try:
                index = faiss.read_index(str(cache_file))
                if index.ntotal != len(rows):
                    index = None
            except RuntimeError:
                index = None
        if index is None:
            vecs = np.zeros((len(rows), dim), dtype=np.float32)
            pos = {int(fid): n for n, fid in enumerate(face_ids)}
            q = (
                select(PersonFace.id, PersonFace.embedding)
                .join(Person, Person.id == PersonFace.person_id)
                .where(Person.status == ACTIVE, PersonFace.model == model)
            )
            for fid, blob in s.execute(q):
                n = pos.get(int(fid))
                if n is not None:
                    vecs[n] = np.frombuffer(blob, dtype="<f4")
            index = build_index(vecs, dim)
            if use_cache and len(rows) >= HNSW_MIN_FACES:
                _write_cache(index, cache_file)

    def check(ids: Collection[int]) -> set[int]:
        with store.session() as s2:
            return active_people(s2, ids)

    return FaceGallery(
        seal=_GALLERY_SEAL,
        face_ids=face_ids,
        person_ids=person_ids,
        expires=expires,
        index=index,
        consent_check=check,
        calib=calib,
        fingerprint=fingerprint,
        model=model,
        dim=dim,
    )


def _write_cache(index: Any, path: Path) -> None:
    import faiss

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".faces-", suffix=".faiss", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o600)
        faiss.write_index(index, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _purge_index_cache(keep=path.name)


def search_faces(
    store: Store,
    faces: Sequence[Face | np.ndarray],
    *,
    k: int = 5,
    threshold: float | None = None,
    face_gallery: FaceGallery | None = None,
) -> list[list[PersonMatch]]:
    """For each face (or embedding), the enrolled, consenting people it matches, nearest first."""
    g = face_gallery or gallery(store)
    if not faces:
        return []
    other = {f.model for f in faces if isinstance(f, Face) and f.model and f.model != g.model}
    if other:
        raise ValidationError(
            "faces measured with the face model {model!r} cannot be searched among faces "
            "enrolled with {active!r}",
            "measure the faces with the active face model",
            code="people.model_mismatch",
            model=sorted(other)[0],
            active=g.model,
        )
    embs = np.stack([f.embedding if isinstance(f, Face) else np.asarray(f, np.float32) for f in faces])
    raw: list[list[FaceMatch]] = g.search_many(embs, k=k, threshold=threshold)
    ids = {m.person_id for ms in raw for m in ms}
    people: dict[int, tuple[str, bool]] = {}
    if ids:
        with store.session() as s:
            for pid, name, minor in s.execute(
                select(Person.id, Person.name, Person.minor).where(Person.id.in_(ids))
            ):
                people[pid] = (name, minor)
    return [
        [
            PersonMatch(
                m.person_id,
                *people[m.person_id],
                m.face_id,
                m.distance,
                m.score,
                m.far,
                m.similarity,
                m.z,
                m.photos,
            )
            for m in ms
            if m.person_id in people
        ]
        for ms in raw
    ]


def search_photo(
    store: Store,
    source: PhotoSource,
    *,
    k: int = 5,
    threshold: float | None = None,
    detector: Detector = "hog",
    upsample: int = 1,
) -> list[tuple[Face, list[PersonMatch]]]:
    """Every face in one photo and the enrolled people it matches (for ``jikimi person search``)."""
    from jikimi.media import load

    faces = faces_in_media(load(source), detector=detector, upsample=upsample)
    return list(zip(faces, search_faces(store, faces, k=k, threshold=threshold), strict=True))
