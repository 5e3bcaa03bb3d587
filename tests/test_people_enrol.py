"""Consented enrolment and face search over enrolled people, on SQLite and PostgreSQL.

Refused without consent; no-face and multi-face photos give clear errors and ``face=N`` picks one; another
photo of the enrolled person matches and someone else does not; withdrawal and expiry stop search at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select, update

from jikimi.errors import NotFoundError, ValidationError
from jikimi.signals.face import detect_faces
from jikimi.store import audit, open_store, people
from jikimi.store.db import Store
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.schema.people import Consent, PersonFace, PersonPhoto

PHOTOS = {
    "obama": "obama/obama.jpg",
    "obama2": "obama/obama2.jpg",
    "biden2": "biden/biden2.jpg",
    "rose": "rose_leslie/img2.jpg",
    "two_people": "_scenes/two_people.jpg",  # Obama left, Biden right
}


@pytest.fixture(scope="module")
def photos(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small copies (longest side 480-640 px) of a few portraits, so detection stays fast."""
    src = shared / "faces" / "portraits"
    if not src.is_dir():
        pytest.skip(f"portraits not found at {src}")
    out = tmp_path_factory.mktemp("portraits")
    paths: dict[str, Path] = {}
    for key, rel in PHOTOS.items():
        im = Image.open(src / rel).convert("RGB")
        im.thumbnail((640, 640) if key == "two_people" else (480, 480))
        paths[key] = out / f"{key}.jpg"
        im.save(paths[key], quality=92)
    noise = np.random.default_rng(7).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    paths["noface"] = out / "noface.png"
    Image.fromarray(noise).save(paths["noface"])
    return paths


@pytest.fixture(scope="module")
def probes(photos: dict[str, Path]) -> dict[str, np.ndarray]:
    """Embeddings of photos that are never enrolled (different photos of the same people)."""
    out: dict[str, np.ndarray] = {}
    for key in ("obama2", "biden2", "rose"):
        faces = detect_faces(np.asarray(Image.open(photos[key]).convert("RGB")))
        assert len(faces) == 1
        out[key] = faces[0].embedding
    return out


@pytest.fixture
def store(db_url: str) -> Store:
    s = open_store(db_url)
    yield s  # type: ignore[misc]
    s.dispose()


def _matched(store: Store, emb: np.ndarray, g: people.FaceGallery | None = None) -> list[int]:
    return [m.person_id for m in people.search_faces(store, [emb], face_gallery=g)[0]]


def test_enrolment_refused_without_consent(store: Store, photos: dict[str, Path]) -> None:
    for who in (None, "", "   "):
        with store.session() as s, pytest.raises(people.EnrolmentError, match="no consent record") as err:
            people.enroll(s, "Obama", [photos["obama"]], consent_by=who)
        assert "--consent-by" in (err.value.cli_hint or "")  # the option is for the command line
    with store.session() as s:
        assert people.list_people(s, include_withdrawn=True) == []
        assert s.scalar(select(func.count()).select_from(PersonFace)) == 0


def test_enrolled_person_matches_and_others_do_not(
    store: Store, photos: dict[str, Path], probes: dict
) -> None:
    with store.session() as s:
        res = people.enroll(
            s, "Obama", [photos["obama"]], consent_by="the person herself", consent_scope="search"
        )
    p = res.person
    assert (
        p.faces == 1 and p.searchable and p.consent is not None and p.consent.given_by == "the person herself"
    )
    g = people.gallery(store)
    assert len(g) == 1
    hits = people.search_faces(store, [probes["obama2"], probes["biden2"], probes["rose"]], face_gallery=g)
    assert [m.person_id for m in hits[0]] == [p.id]
    m = hits[0][0]
    assert m.name == "Obama" and 0 < m.distance < 0.5 and g.calibration.point(1).accepts(m.similarity, m.z)
    assert 0.5 < m.score <= 1.0 and 0.0 <= m.far < 0.001
    assert hits[1] == [] and hits[2] == []
    with store.session() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "person.enroll")))
        assert [e.subject for e in entries] == [f"person:{p.id}"]
        assert audit.verify(s).ok


def test_no_face_and_several_faces(store: Store, photos: dict[str, Path], probes: dict) -> None:
    with store.session() as s, pytest.raises(people.EnrolmentError, match="no face found") as err:
        people.enroll(s, "Nobody", [photos["noface"]], consent_by="self")
    assert err.value.failures[0].photo == "noface.png"
    with store.session() as s, pytest.raises(people.EnrolmentError, match="shows 2 faces") as err:
        people.enroll(s, "Biden", [photos["two_people"]], consent_by="self")
    assert "--face N" in (err.value.cli_hint or "")  # the option is for the command line
    with store.session() as s, pytest.raises(people.EnrolmentError, match="face number 3 was asked") as err:
        people.enroll(s, "Biden", [photos["two_people"]], consent_by="self", face=3)
    assert "--face" not in err.value.reason and "--face" in (err.value.cli_hint or "")
    with store.session() as s:
        assert people.list_people(s, include_withdrawn=True) == []  # nothing half-enrolled
        res = people.enroll(s, "Biden", [photos["two_people"], photos["noface"]], consent_by="self", face=2)
    assert res.enrolled == ["two_people.jpg"] and [f.photo for f in res.failures] == ["noface.png"]
    assert _matched(store, probes["biden2"]) == [res.person.id]  # face 2 (right) is Biden
    assert _matched(store, probes["obama2"]) == []


def test_withdrawal_stops_search_at_once(store: Store, photos: dict[str, Path], probes: dict) -> None:
    with store.session() as s:
        pid = people.enroll(s, "Obama", [photos["obama"]], consent_by="self", keep_photos=True).person.id
    running = people.gallery(store)  # e.g. a scan already in progress
    assert _matched(store, probes["obama2"], running) == [pid]
    with store.session() as s:
        info = people.withdraw(s, pid, reason="she asked")
    assert info.status == "withdrawn" and not info.searchable and info.faces == 0 and info.photos == 0
    assert _matched(store, probes["obama2"], running) == []  # the running gallery stops matching her
    assert len(people.gallery(store)) == 0
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(PersonFace)) == 0
        assert s.scalar(select(func.count()).select_from(PersonPhoto)) == 0
        assert s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all() == [
            "person.enroll",
            "person.withdraw",
        ]
        assert people.list_people(s) == []
        assert [p.status for p in people.list_people(s, include_withdrawn=True)] == ["withdrawn"]
        with pytest.raises(ValidationError, match="already withdrawn"):
            people.withdraw(s, pid)
        with pytest.raises(NotFoundError):
            people.withdraw(s, pid + 100)


def test_expired_consent_is_excluded(store: Store, photos: dict[str, Path], probes: dict) -> None:
    with store.session() as s, pytest.raises(ValidationError, match="not in the future"):
        people.enroll(s, "Obama", [photos["obama"]], consent_by="self", expires="2020-01-01")
    soon = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    with store.session() as s:
        pid = people.enroll(s, "Obama", [photos["obama"]], consent_by="self", expires=soon).person.id
    running = people.gallery(store)
    assert _matched(store, probes["obama2"], running) == [pid]
    with store.session() as s:  # thirty days later...
        s.execute(update(Consent).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert _matched(store, probes["obama2"], running) == []
    assert len(people.gallery(store)) == 0
    with store.session() as s:
        info = people.get_person(s, pid)
        assert info.status == "active" and not info.searchable and info.faces == 1
        assert people.active_people(s) == set()
        with pytest.raises(ValidationError, match="who gave consent") as no_one:
            people.record_consent(s, pid, consent_by=" ")
        assert no_one.value.code == "people.no_consent"
        assert "--consent-by" in (no_one.value.cli_hint or "")  # the option is for the command line
        renewed = people.record_consent(s, pid, consent_by="herself again", expires="2099-12-31")
        assert renewed.searchable and len(renewed.consents) == 2
        assert "person.consent" in s.scalars(select(AuditEntry.action)).all()
    assert _matched(store, probes["obama2"], running) == [pid]  # renewed: found again


def test_kept_photo_is_encrypted_and_viewing_is_audited(store: Store, photos: dict[str, Path]) -> None:
    original = photos["rose"].read_bytes()
    with store.session() as s:
        res = people.enroll(s, "Rose", [photos["rose"]], consent_by="self", keep_photos=True, minor=True)
    assert res.person.photos == 1 and res.person.minor
    with store.session() as s:
        row = s.scalars(select(PersonPhoto)).one()
        assert original[100:164] not in row.ciphertext and len(row.ciphertext) >= len(original)
        name, data = people.photo(s, row.id, actor="test", purpose="check enrolment")
        assert name == "rose.jpg" and data == original
        assert "person.photo.view" in s.scalars(select(AuditEntry.action)).all()
    g = people.gallery(store)
    emb = detect_faces(np.asarray(Image.open(photos["rose"]).convert("RGB")))[0].embedding
    hit = people.search_faces(store, [emb], face_gallery=g)[0]
    assert [(m.name, m.minor) for m in hit] == [("Rose", True)]


def test_faces_of_an_older_embedding_model_are_never_searched_and_are_reported(
    store: Store, photos: dict[str, Path], probes: dict
) -> None:
    """Embeddings of different models must never be compared: faces stored by an earlier model (here: dlib's
    plain descriptor) drop out of the search and ``person list`` says how many need enrolling again."""
    with store.session() as s:
        res = people.enroll(s, "Obama", [photos["obama"]], consent_by="the person herself")
    assert people.search_faces(store, [probes["obama2"]])[0]
    with store.session() as s:
        s.execute(update(PersonFace).values(model="dlib_face_recognition_resnet_model_v1"))
    assert len(people.gallery(store, use_cache=False)) == 0
    assert people.search_faces(store, [probes["obama2"]]) == [[]]
    with store.session() as s:
        info = people.get_person(s, res.person.id)
    assert (info.faces, info.outdated_faces) == (0, 1)
    assert info.to_dict()["outdated_faces"] == 1
