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
    """The shipped operating points keep other East Asian people's faces out at the target rate, measured on
    every East Asian population separately (K-pop women, other East Asians, LFW's East Asians)."""
    cal = calibration()
    assert cal.model == MODEL_NAME
    assert [p.photos for p in cal.points] == [1, 3, 5]
    assert 0 < cal.target_far <= 0.001
    assert cal.cohort.dim == 128 and cal.cohort.means.shape[0] >= 1
    for p in cal.points:
        assert 0.8 < p.similarity < 1.0 and p.far <= cal.target_far and 0.0 < p.tar <= 1.0
        assert cal.point(p.photos) == p
    assert cal.point(0) == cal.point(1) == cal.point(2) and cal.point(4) == cal.point(3)
    assert cal.point(50) == cal.point(5)
    pops = cal.populations
    assert {"kpop", "other_ea", "lfw_ea", "lfw_other"} <= set(pops)
    for name in ("kpop", "other_ea", "lfw_ea"):
        for k in ("1", "3", "5"):
            assert pops[name]["shipped"][k]["far"] <= cal.target_far
    assert cal.score(5.0) > 0.9 > 0.1 > cal.score(-2.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(-5.0, 10.0), st.floats(-5.0, 10.0), st.sampled_from([1, 3, 5]))
def test_score_and_far_are_monotonic(a: float, b: float, photos: int) -> None:
    cal = calibration()
    lo, hi = min(a, b), max(a, b)
    assert 0.0 <= cal.score(lo) <= cal.score(hi) <= 1.0
    assert 0.0 <= cal.far(hi, photos) <= cal.far(lo, photos) <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.integers(0, 10_000))
def test_template_is_the_unit_mean_of_her_photos(n_people: int, photos: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n_people * photos, 128))
    owners = np.repeat(np.arange(10, 10 + n_people), photos)
    pids, tpl, counts = face_index.templates(vecs, owners)
    assert list(pids) == list(range(10, 10 + n_people)) and set(counts.tolist()) == {photos}
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    for j in range(n_people):
        mean = unit[owners == pids[j]].mean(0)
        assert np.allclose(tpl[j], mean / np.linalg.norm(mean), atol=1e-9)
        assert abs(np.linalg.norm(tpl[j]) - 1.0) < 1e-9


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


def test_gallery_applies_the_calibrated_rule_per_number_of_photos(tmp_path: Path) -> None:
    """A person with 3 photos is one template (their mean); a face is a candidate exactly when the rule
    for her number of photos accepts its similarity and normalised score, recomputed here independently."""
    cal = calibration()
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url)
    rng = np.random.default_rng(11)
    base = rng.normal(size=(4, 128))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    with store.session() as s:
        s.execute(insert(Person), [{"id": 1, "name": "one photo"}, {"id": 2, "name": "three photos"}])
        s.execute(
            insert(Consent),
            [{"person_id": i, "given_by": "self", "scope": "t", "recorded_by": "t"} for i in (1, 2)],
        )
        s.execute(
            insert(PersonFace),
            [
                {
                    "person_id": 1 if i == 0 else 2,
                    "embedding": base[i].astype(np.float32).tobytes(),
                    "model": MODEL_NAME,
                }
                for i in range(4)
            ],
        )
    g = people.gallery(store)
    assert g.people == 2 and g.photos(1) == 1 and g.photos(2) == 3
    t2 = base[1:].mean(0)
    t2 /= np.linalg.norm(t2)
    templates = {1: base[0], 2: t2}
    accepted = rejected = 0
    for pid, t in templates.items():
        u = rng.normal(size=128)
        u -= (u @ t) * t
        u /= np.linalg.norm(u)
        for sim in np.linspace(0.85, 0.999, 31) + 0.0003:  # off the tabulated limits (float32 probes)
            probe = sim * t + np.sqrt(max(0.0, 1 - sim * sim)) * u
            z = face_index.normalised_scores(
                np.array([[probe @ t]]), cal.cohort.stats(probe[None]), cal.cohort.stats(t[None])
            )[0, 0]
            expect = cal.point(g.photos(pid)).accepts(float(probe @ t), float(z))
            hits = [m for m in g.search(probe.astype(np.float32), k=5) if m.person_id == pid]
            assert bool(hits) == expect, (pid, sim, z)
            if hits:
                accepted += 1
                m = hits[0]
                assert m.similarity == pytest.approx(sim, abs=1e-4) and m.z == pytest.approx(z, abs=1e-4)
                assert m.photos == g.photos(pid) and m.far == pytest.approx(cal.far(z, m.photos))
                assert m.distance == pytest.approx(np.sqrt(2 - 2 * sim), abs=1e-3)
            else:
                rejected += 1
    assert accepted and rejected  # both sides of the rule were exercised
    # her enrolled photo most like the probe is named, for the reviewer to compare
    near = g.search((t2 + 0.3 * base[2]).astype(np.float32), threshold=0.5)
    assert near and near[0].person_id == 2 and near[0].face_id == 3
    # the expert override is a plain distance to the template
    far_probe = (0.8 * base[0] + 0.6 * rng.normal(size=128) / np.sqrt(128)).astype(np.float32)
    assert g.search(far_probe) == []
    d = float(np.linalg.norm(far_probe / np.linalg.norm(far_probe) - base[0]))
    assert [m.person_id for m in g.search(far_probe, threshold=d + 0.01)] == [1]
    assert g.search(far_probe, threshold=d - 0.01) == []
    store.dispose()
