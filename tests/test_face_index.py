"""The face index: shipped calibration, no open search, HNSW vs exact agreement, gallery cache on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from jikimi.index import faces as face_index
from jikimi.index.faces import FaceGallery, build_index, calibration
from jikimi.signals.face import MODEL_NAME
from jikimi.store import open_store, people
from jikimi.store.schema.people import Consent, Person, PersonFace


def test_calibration_is_shipped_and_sane() -> None:
    cal = calibration()
    assert cal.model == MODEL_NAME
    assert 0.3 < cal.default_threshold < 0.7
    assert cal.far(cal.default_threshold) <= 0.0011
    for k in (1, 2, 3, 5):
        assert cal.far(cal.person_threshold(k), k) <= 0.0011
    assert cal.score(0.2) > 0.9 > 0.1 > cal.score(0.9)
    assert cal.threshold_for(0.01) >= cal.threshold_for(0.001)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.5), st.floats(0.0, 1.5))
def test_score_and_far_are_monotonic(a: float, b: float) -> None:
    cal = calibration()
    lo, hi = min(a, b), max(a, b)
    assert 0.0 <= cal.score(hi) <= cal.score(lo) <= 1.0
    assert 0.0 <= cal.far(lo) <= cal.far(hi) <= 1.0


def test_no_open_face_search() -> None:
    """A gallery cannot be made from arbitrary vectors: only jikimi.store.people.gallery() builds one."""
    vecs = np.random.default_rng(0).normal(size=(3, 128)).astype(np.float32)
    with pytest.raises(PermissionError, match="enrolled, consenting"):
        FaceGallery(
            seal=object(),
            face_ids=np.arange(3),
            person_ids=np.arange(3),
            expires={},
            index=build_index(vecs),
            consent_check=lambda ids: set(ids),
        )


def test_hnsw_agrees_with_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    vecs = (rng.normal(size=(3000, 128)) * 0.12).astype(np.float32)
    queries = vecs[:200] + rng.normal(size=(200, 128)).astype(np.float32) * 0.01
    exact = build_index(vecs)
    monkeypatch.setattr(face_index, "HNSW_MIN_FACES", 1000)
    approx = build_index(vecs)
    assert type(exact).__name__ == "IndexFlatL2" and type(approx).__name__ == "IndexHNSWFlat"
    _, i_exact = exact.search(queries, 1)
    _, i_approx = approx.search(queries, 1)
    assert (i_exact[:, 0] == i_approx[:, 0]).mean() >= 0.98


def _enrol_synthetic(url: str, n_people: int, rng: np.random.Generator) -> np.ndarray:
    """Bulk-enrol synthetic consenting people (one random embedding each), as the benchmark does."""
    store = open_store(url)
    centres = (rng.normal(size=(n_people, 128)) * 0.12).astype(np.float32)
    now = datetime.now(UTC)
    with store.session() as s:
        s.execute(
            insert(Person), [{"id": i + 1, "name": f"p{i}", "created_by": "test"} for i in range(n_people)]
        )
        s.execute(
            insert(Consent),
            [
                {"person_id": i + 1, "given_by": "self", "scope": "test", "recorded_by": "t"}
                for i in range(n_people)
            ],
        )
        s.execute(
            insert(PersonFace),
            [
                {
                    "person_id": i + 1,
                    "embedding": centres[i].tobytes(),
                    "model": MODEL_NAME,
                    "created_at": now,
                }
                for i in range(n_people)
            ],
        )
    store.dispose()
    return centres


def test_large_gallery_is_cached_privately_and_dropped_on_withdrawal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jikimi_home: Path
) -> None:
    monkeypatch.setattr(face_index, "HNSW_MIN_FACES", 500)
    monkeypatch.setattr(people, "HNSW_MIN_FACES", 500)
    url = f"sqlite:///{tmp_path / 'g.db'}"
    centres = _enrol_synthetic(url, 800, np.random.default_rng(5))
    store = open_store(url)
    g = people.gallery(store)
    assert g.index_kind == "IndexHNSWFlat" and len(g) == 800
    cached = list((jikimi_home / "index" / "faces").glob("*.faiss"))
    assert len(cached) == 1 and (cached[0].stat().st_mode & 0o077) == 0
    again = people.gallery(store)  # read back from the cache
    assert again.fingerprint == g.fingerprint
    hits = again.search_many(centres[:50], k=1, threshold=0.05)
    assert [h[0].person_id for h in hits] == list(range(1, 51))
    with store.session() as s:
        people.withdraw(s, 1)
    assert list((jikimi_home / "index" / "faces").glob("*.faiss")) == []  # the cached embeddings are gone
    assert again.search(centres[0], threshold=0.05) == []
    assert len(people.gallery(store)) == 799
    store.dispose()


def test_threshold_depends_on_enrolled_photos(tmp_path: Path) -> None:
    """The nearest of k enrolled photos counts, so people with more photos get the stricter k-photo limit."""
    cal = calibration()
    t1, t3 = cal.person_threshold(1), cal.person_threshold(3)
    assert cal.person_threshold(4) == cal.person_threshold(5) and cal.person_threshold(0) == t1
    assert t3 < t1
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url)
    rng = np.random.default_rng(11)
    base = (rng.normal(size=(4, 128)) * 0.12).astype(np.float32)
    base[1:] = base[1:] + 3.0  # person 2's photos far from person 1's
    with store.session() as s:
        s.execute(insert(Person), [{"id": 1, "name": "one photo"}, {"id": 2, "name": "three photos"}])
        s.execute(
            insert(Consent),
            [{"person_id": i, "given_by": "self", "scope": "t", "recorded_by": "t"} for i in (1, 2)],
        )
        s.execute(
            insert(PersonFace),
            [
                {"person_id": 1 if i == 0 else 2, "embedding": base[i].tobytes(), "model": MODEL_NAME}
                for i in range(4)
            ],
        )
    g = people.gallery(store)
    direction = rng.normal(size=128).astype(np.float32)
    direction /= np.linalg.norm(direction)
    d = (t1 + t3) / 2  # inside the 1-photo threshold, outside the 3-photo one
    hit1 = g.search(base[0] + d * direction)
    hit2 = g.search(base[1] + d * direction)
    assert [m.person_id for m in hit1] == [1] and abs(hit1[0].distance - d) < 1e-3
    assert hit2 == []
    assert [m.person_id for m in g.search(base[1] + d * direction, threshold=t1)] == [2]  # explicit override
    assert hit1[0].far == pytest.approx(cal.far(hit1[0].distance, 1)) and 0 < hit1[0].far < 0.001
    store.dispose()
