"""Her own source photos: add, list, remove, and the searchable index over consenting people's sources.

A source photo is one of her public photos she fears were taken by a deepfake bot. It is added under the same
consent record as her face enrolment (``jikimi.store.people``): only for a person who is active with a valid
consent. The photo and its ORB features are AES-256-GCM encrypted with the vault key (like kept enrolment
photos; ``jikimi.store.vault.rotate_key`` re-encrypts them); her face box is stored so a match must cover
her face. Withdrawal deletes them (``people.withdraw``). ``source_index(store)`` builds a
:class:`~jikimi.index.source_photos.SourceIndex` whose every search re-checks consent in the database.
Adding, removing and viewing are written to the audit log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.errors import JikimiError, Message, NotFoundError, ValidationError
from jikimi.index.source_photos import SourceFeatures, SourceIndex, source_features
from jikimi.signals.face import DETECTORS, Detector, detect_faces
from jikimi.store import audit
from jikimi.store.db import Store
from jikimi.store.people import ACTIVE, PhotoFailure, active_people, choose_face, get_person
from jikimi.store.schema.people import Person, PersonSource

__all__ = [
    "AddResult",
    "SourceInfo",
    "add_sources",
    "has_sources",
    "list_sources",
    "person_names",
    "remove_source",
    "source_index",
    "source_photo",
]

PhotoSource = Path | bytes
MAX_SOURCES_PER_PERSON = 500


@dataclass(frozen=True)
class SourceInfo:
    id: int
    person_id: int
    name: str
    sha256: str
    size: int
    width: int
    height: int
    face_box: tuple[int, int, int, int]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person_id": self.person_id,
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "face_box": list(self.face_box),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class AddResult:
    added: list[SourceInfo] = field(default_factory=list)
    failures: list[PhotoFailure] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    """Photos that were already among her sources (same SHA-256): nothing added."""


def _info(row: PersonSource) -> SourceInfo:
    return SourceInfo(
        row.id,
        row.person_id,
        row.name,
        row.sha256,
        row.size,
        row.width,
        row.height,
        (row.box_left, row.box_top, row.box_right, row.box_bottom),
        row.created_at,
    )


_photo_aad = PersonSource.photo_aad
_features_aad = PersonSource.features_aad


def _searchable(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError(
            "no person with id {id}",
            "see the list of enrolled people",
            code="people.not_found",
            cli_hint="see `jikimi person list`",
            id=person_id,
        )
    if person.status != ACTIVE:
        raise ValidationError(
            "person {id} was withdrawn; her face data was deleted",
            "enrol her again from new photos if she consents again",
            code="people.withdrawn",
            cli_hint="enrol her again with `jikimi person enroll` if she consents again",
            id=person_id,
        )
    if not active_people(session, [person_id]):
        raise ValidationError(
            "person {id} has no valid consent now",
            "record her consent again before adding source photos",
            code="people.no_valid_consent",
            cli_hint="record her consent again with `jikimi person consent` before adding source photos",
            id=person_id,
        )
    return person


@dataclass(frozen=True)
class _Prepared:
    name: str
    data: bytes
    sha256: str
    width: int
    height: int
    box: tuple[int, int, int, int]
    features: SourceFeatures


def _prepare(
    src: PhotoSource, name: str, *, face: int | None, detector: Detector, upsample: int
) -> _Prepared | PhotoFailure:
    """Decode one photo, find her face and compute the features; a bad photo becomes a ``PhotoFailure``."""
    import numpy as np

    from jikimi.media import load

    try:
        media = load(src, name=name)
        if media.kind != "image":
            return PhotoFailure(
                name,
                Message("is a video or an animation"),
                Message("add her still photos as source photos"),
                code="people.not_a_still_photo",
            )
        rgb = np.ascontiguousarray(np.asarray(media.upright()))
        faces = detect_faces(rgb, detector=detector, upsample=upsample, embed=False)
    except JikimiError as exc:
        return PhotoFailure.of(name, exc)
    chosen = choose_face(name, faces, face)
    if isinstance(chosen, PhotoFailure):
        return chosen
    b = chosen.box
    h, w = rgb.shape[:2]
    box = (max(0, b.left), max(0, b.top), min(w, b.right), min(h, b.bottom))
    try:
        feats = source_features(rgb, box)
    except JikimiError as exc:
        return PhotoFailure.of(name, exc)
    if len(feats.plain) < 50:
        return PhotoFailure(
            name,
            Message("this photo has too little detail to be recognised"),
            Message("use the photo at its full size"),
            code="people.too_little_detail",
        )
    return _Prepared(name, media.data(), media.sha256, int(w), int(h), box, feats)


def add_sources(
    session: Session,
    person_id: int,
    photos: Sequence[PhotoSource],
    *,
    names: Sequence[str] | None = None,
    face: int | None = None,
    detector: Detector = "hog",
    upsample: int = 1,
    actor: str | None = None,
) -> AddResult:
    """Add her source photos (each must show her face; ``face`` picks one in a group photo, 1 = leftmost).

    Refused for a withdrawn person or one without a valid consent. A bad photo is reported in ``failures``
    and the others are added; a photo already among her sources is listed in ``already``.
    """
    from jikimi.store.vault import encrypt, load_key

    _searchable(session, person_id)
    if detector not in DETECTORS:
        raise ValidationError(
            "unknown face detector {detector!r}",
            "use one of: {detectors}",
            code="people.detector_unknown",
            detector=detector,
            detectors=", ".join(DETECTORS),
        )
    if not photos:
        raise ValidationError("no photo given", "give one or more of her photos", code="people.no_photo")
    have = session.scalar(select(func.count()).where(PersonSource.person_id == person_id)) or 0
    if have + len(photos) > MAX_SOURCES_PER_PERSON:
        raise ValidationError(
            "at most {n} source photos per person ({have} already)",
            "add the photos most likely to have been taken (public profile photos)",
            code="people.too_many_sources",
            n=MAX_SOURCES_PER_PERSON,
            have=have,
        )
    known = set(session.scalars(select(PersonSource.sha256).where(PersonSource.person_id == person_id)))
    key = load_key()
    added: list[PersonSource] = []
    failures: list[PhotoFailure] = []
    already: list[str] = []
    for i, src in enumerate(photos):
        name = (names[i] if names and i < len(names) else None) or (
            src.name if isinstance(src, Path) else f"photo #{i + 1}"
        )
        got = _prepare(src, name, face=face, detector=detector, upsample=upsample)
        if isinstance(got, PhotoFailure):
            failures.append(got)
            continue
        if got.sha256 in known:
            already.append(got.name)
            continue
        known.add(got.sha256)
        row = PersonSource(
            person_id=person_id,
            name=got.name[:300],
            sha256=got.sha256,
            size=len(got.data),
            width=got.width,
            height=got.height,
            box_left=got.box[0],
            box_top=got.box[1],
            box_right=got.box[2],
            box_bottom=got.box[3],
            ciphertext=encrypt(key, got.data, _photo_aad(got.sha256)),
            features_enc=encrypt(key, got.features.to_bytes(), _features_aad(got.sha256)),
            created_by=(actor or audit.default_actor())[:200],
        )
        session.add(row)
        added.append(row)
    session.flush()
    if added:
        audit.append(
            session,
            actor=actor or audit.default_actor(),
            action="person.source.add",
            subject=f"person:{person_id}",
            details={"sources": [r.id for r in added], "failed": len(failures), "already": len(already)},
        )
    return AddResult([_info(r) for r in added], failures, already)


def list_sources(session: Session, person_id: int) -> list[SourceInfo]:
    """Her source photos (the person must exist; a withdrawn person has none)."""
    get_person(session, person_id)
    rows = session.scalars(
        select(PersonSource).where(PersonSource.person_id == person_id).order_by(PersonSource.id)
    )
    return [_info(r) for r in rows]


def remove_source(
    session: Session, person_id: int, source_id: int, *, actor: str | None = None
) -> SourceInfo:
    """Delete one of her source photos (audited as ``person.source.remove``)."""
    row = session.get(PersonSource, source_id)
    if row is None or row.person_id != person_id:
        raise NotFoundError(
            "person {id} has no source photo {source}",
            "see her source photos on her enrolment page",
            code="people.source_not_found",
            cli_hint="see `jikimi person sources list {id}`",
            id=person_id,
            source=source_id,
        )
    info = _info(row)
    session.delete(row)
    session.flush()
    audit.append(
        session,
        actor=actor or audit.default_actor(),
        action="person.source.remove",
        subject=f"person:{person_id}",
        details={"source": source_id, "sha256": info.sha256},
    )
    return info


def source_photo(session: Session, source_id: int, *, actor: str, purpose: str) -> tuple[str, bytes]:
    """Decrypt a source photo (audited as ``person.source.view``): returns (name, bytes)."""
    from jikimi.store.vault import decrypt, load_keys

    row = session.get(PersonSource, source_id)
    if row is None:
        raise NotFoundError("no source photo with id {id}", code="people.source_not_found", id=source_id)
    data = decrypt(load_keys(create=False), row.ciphertext, _photo_aad(row.sha256))
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise JikimiError(
            "source photo {id} failed its checksum",
            "the database row was altered",
            code="people.photo_checksum",
            id=source_id,
        )
    audit.append(
        session, actor=actor, action="person.source.view", subject=f"person:{row.person_id}",
        details={"source": source_id, "purpose": purpose[:300]},
    )  # fmt: skip
    return row.name, data


def person_names(session: Session, person_ids: Iterable[int]) -> dict[int, str]:
    """Names of the given people (for the ``people`` entries of findings and ``analyze --json``)."""
    ids = [int(i) for i in person_ids]
    if not ids:
        return {}
    return {
        int(i): str(n) for i, n in session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))
    }


def has_sources(session: Session) -> bool:
    """Whether anyone searchable now has a source photo (the scan computes probe features only then)."""
    ids = set(session.scalars(select(PersonSource.person_id).distinct()))
    return bool(ids and active_people(session, ids))


def source_index(store: Store) -> SourceIndex | None:
    """The index over the source photos of every person active with valid consent now (None when there are
    none). Each search re-checks consent in ``store``, so a withdrawal or an expiry stops matching at once."""
    from jikimi.store.vault import decrypt, load_keys

    with store.session() as s:
        ids = set(s.scalars(select(PersonSource.person_id).distinct()))
        allowed = active_people(s, ids) if ids else set()
        if not allowed:
            return None
        keys = load_keys(create=False)
        rows = s.execute(
            select(PersonSource.id, PersonSource.person_id, PersonSource.sha256, PersonSource.features_enc)
            .where(PersonSource.person_id.in_(allowed))
            .order_by(PersonSource.id)
        ).all()
        entries = [
            (int(sid), int(pid), SourceFeatures.from_bytes(decrypt(keys, blob, _features_aad(sha))))
            for sid, pid, sha, blob in rows
        ]

    def check(person_ids: Any) -> set[int]:
        with store.session() as s2:
            return active_people(s2, person_ids)

    return SourceIndex.build(entries, consent_check=check)
