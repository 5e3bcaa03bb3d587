"""An enrolled, consenting person's face found by a scan becomes a finding in that person's case; after
the person withdraws, the same scan finds nothing (ordinary LFW photos; only enrolled people are searched)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jikimi.cases.runner import run_scan
from jikimi.store import open_store, people
from jikimi.store.schema.scans import Case, Finding, MediaRecord

SIGNALS = ["md5", "sha256", "face"]


def test_enrolled_face_is_a_finding_in_the_persons_case(shared: Path, tmp_path: Path) -> None:
    lfw = shared / "faces" / "lfw"
    person = sorted((lfw / "Colin_Powell").iterdir())
    scan_dir = tmp_path / "downloads"
    scan_dir.mkdir()
    for p in [
        *person[4:6],
        lfw / "Tony_Blair" / "Tony_Blair_0001.jpg",
        lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg",
    ]:
        shutil.copy(p, scan_dir / p.name)

    store = open_store()
    with store.session() as s:
        enrolled = people.enroll(s, "Victim A", person[:3], consent_by="Victim A (in person)", minor=True)
    pid = enrolled.person.id
    report = run_scan(store, [scan_dir], workers=0, signals=SIGNALS, bank_matcher=None)
    assert not report.errors
    with store.session() as s:
        case = s.execute(sa.select(Case).where(Case.person_id == pid)).scalar_one()
        assert case.title == "Victim A" and case.minor and case.priority >= 25
        rows = s.execute(
            sa.select(Finding, MediaRecord).join(MediaRecord).where(Finding.case_id == case.id)
        ).all()
        found = {m.sha256 for _, m in rows}
        for f, _ in rows:
            assert f.reasons == ["enrolled_face"] and f.person_id == pid
            assert 0 < f.scores["face_distance"] < 0.7
        media = {m.sha256: m for m in s.execute(sa.select(MediaRecord)).scalars()}
        assert "embedding" not in str(next(iter(media.values())).analysis)  # embeddings are never stored
    import hashlib

    own = {hashlib.sha256(p.read_bytes()).hexdigest() for p in person[4:6]}
    assert found == own

    with store.session() as s:
        people.withdraw(s, pid, actor="test")
    again = run_scan(store, [scan_dir], workers=0, signals=SIGNALS, bank_matcher=None, resume=False)
    assert again.findings == []
    store.dispose()


def test_faces_are_embedded_only_when_someone_can_be_found(shared: Path) -> None:
    """With nobody enrolled a scan still finds and counts faces but computes no embedding (no biometric
    template of anyone is made for nothing); with a gallery the workers embed every face."""
    from jikimi.scan.decide import decide
    from jikimi.scan.pipeline import Analyser, Task

    photo = shared / "faces" / "lfw" / "Tony_Blair" / "Tony_Blair_0001.jpg"
    analyser = Analyser(SIGNALS, warm=False)
    plain = analyser.analyse(Task(0, "k", photo.name, path=str(photo), embed_faces=False))
    embedded = analyser.analyse(Task(1, "k", photo.name, path=str(photo)))
    faces, with_emb = plain.signals["face"]["faces"], embedded.signals["face"]["faces"]
    assert len(faces) == len(with_emb) >= 1
    assert [f["box"] for f in faces] == [f["box"] for f in with_emb]
    assert all("embedding" not in f for f in faces)
    assert all(len(f["embedding"]) == 128 for f in with_emb)
    assert decide(plain).scores["faces"] == decide(embedded).scores["faces"] == len(faces)


def test_a_scan_without_enrolled_people_embeds_nothing(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jikimi.scan import pipeline

    seen: list[bool] = []
    real = pipeline.item_task

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(bool(kwargs.get("embed_faces", True)))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "item_task", spy)
    scan_dir = tmp_path / "downloads"
    scan_dir.mkdir()
    shutil.copy(shared / "faces" / "lfw" / "Tony_Blair" / "Tony_Blair_0001.jpg", scan_dir / "a.jpg")
    store = open_store()
    report = run_scan(store, [scan_dir], workers=0, signals=SIGNALS, bank_matcher=None)
    assert report.items == 1 and seen == [False]
    store.dispose()
