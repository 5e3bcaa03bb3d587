"""An enrolled, consenting person's face found by a scan becomes a finding in that person's case; after
the person withdraws, the same scan finds nothing (ordinary LFW photos; only enrolled people are searched)."""

from __future__ import annotations

import shutil
from pathlib import Path

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
