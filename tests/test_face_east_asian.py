"""Face search where our victims are: young Korean women (the K-pop women of ../shared/faces/east-asian).

Two enrolled from 3 photos each, with the product's own enrolment; photos of other K-pop women must never be
attributed to them, and some of their own other photos must be found (the calibration is cross-validated on
these women; the shipped cohort and limits saw them, so this is a regression check of the product path, the
held-out figures are in docs/accuracy.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jikimi.index.faces import calibration
from jikimi.store import open_store, people

ENROLLED = ("kpop_arin", "kpop_chaeyong")
OTHERS = ("kpop_dahyun", "kpop_irene", "kpop_jihyo", "kpop_lisa", "kpop_nayeon", "kpop_sana", "kpop_yeji")


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})


@pytest.mark.slow
def test_other_korean_women_are_not_taken_for_an_enrolled_one(shared: Path, tmp_path: Path) -> None:
    root = shared / "faces" / "east-asian"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    store = open_store(f"sqlite:///{tmp_path / 'ea.db'}")
    ids: dict[int, str] = {}
    own: dict[str, list[Path]] = {}
    for name in ENROLLED:
        photos = _photos(root / name)
        with store.session() as s:
            res = people.enroll(s, name, photos[:3], consent_by="test", detector="cnn")
        assert len(res.enrolled) == 3
        ids[res.person.id] = name
        own[name] = photos[3:11]
    cal = calibration()
    found = 0
    for name, probes in own.items():
        for p in probes:
            for _face, matches in people.search_photo(store, p, detector="cnn"):
                assert {ids[m.person_id] for m in matches} <= {name}, p  # never the other enrolled woman
                for m in matches:
                    point = cal.point(m.photos)
                    assert m.photos == 3 and m.similarity >= point.similarity and m.z >= point.z
                    assert m.far <= cal.target_far * 4 and m.face_id > 0
                found += bool(matches)
    false = []
    for other in OTHERS:
        for p in _photos(root / other)[:6]:
            for _face, matches in people.search_photo(store, p, detector="cnn"):
                false += [(p.name, ids[m.person_id]) for m in matches]
    assert false == []
    assert found >= 3, f"only {found} of {sum(map(len, own.values()))} of their own photos found"
    store.dispose()
