"""Cases: review (confirm, dismiss, reopen; audited, priority) and evidence packages, offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image
from typer.testing import CliRunner

from jikimi.cases import review
from jikimi.cases.export import export_case, verify_export
from jikimi.cases.priority import priority_score
from jikimi.cases.runner import run_scan
from jikimi.cli import app
from jikimi.errors import ValidationError
from jikimi.store import banks, open_store
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.schema.scans import Case, Finding


def _scan_with_findings(root: Path, url: str | None) -> tuple[object, list[int]]:
    root.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(5):
        arr = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        arr[: 10 + 8 * i] = arr[: 10 + 8 * i] // 4
        Image.fromarray(arr).save(root / f"m{i}.png")
    store = open_store(url)
    with store.session() as s:
        banks.create_bank(s, "known")
        for i in (1, 3):
            banks.add_entry(s, "known", banks.entry_from_file(root / f"m{i}.png"))
    report = run_scan(store, [root], workers=0, signals=["md5", "sha256", "pdq"], gallery=None)
    assert len(report.findings) == 2
    return store, report.findings


def test_review_states_are_audited_and_drive_priority(db_url: str, tmp_path: Path) -> None:
    store, fids = _scan_with_findings(tmp_path / "in", db_url)
    try:
        with store.session() as s:  # type: ignore[attr-defined]
            case = s.execute(sa.select(Case)).scalar_one()
            before = case.priority
            f = review.confirm_finding(s, fids[0], actor="web:reviewer", note="matches the victim's report")
            assert f.status == "confirmed" and f.reviewed_by == "web:reviewer"
            with pytest.raises(ValidationError):
                review.dismiss_finding(s, fids[0], actor="web:reviewer")
            review.dismiss_finding(s, fids[1], actor="web:reviewer")
            review.reopen_finding(s, fids[0], actor="web:lead")
            review.dismiss_finding(s, fids[0], actor="web:lead")
        with store.session() as s:  # type: ignore[attr-defined]
            confirms = s.execute(
                sa.select(AuditEntry.subject, AuditEntry.actor).where(AuditEntry.action == "finding.confirm")
            ).all()
            assert [tuple(c) for c in confirms] == [(f"finding:{fids[0]}", "web:reviewer")]
            actions = [
                a
                for (a,) in s.execute(
                    sa.select(AuditEntry.action)
                    .where(AuditEntry.subject.like("finding:%"))
                    .order_by(AuditEntry.id)
                )
            ]
            assert actions[-4:] == ["finding.confirm", "finding.dismiss", "finding.reopen", "finding.dismiss"]
            case = s.execute(sa.select(Case)).scalar_one()
            assert case.priority < before  # nothing left but dismissed findings
            assert case.priority_factors["sightings_n"] == 0
    finally:
        store.dispose()  # type: ignore[attr-defined]


def test_priority_factors() -> None:
    now = utcnow()
    base = dict(explicitness=0.5, sightings=3, chats=1, members=2, newest=now, now=now)
    minor, _ = priority_score(minor=True, **base)  # type: ignore[arg-type]
    adult, factors = priority_score(minor=False, **base)  # type: ignore[arg-type]
    assert minor - adult == pytest.approx(25.0)
    old, _ = priority_score(minor=False, **{**base, "newest": now.replace(year=now.year - 1)})  # type: ignore[arg-type]
    assert old < adult and factors["recency"] == 1.0
    wide, _ = priority_score(minor=False, **{**base, "sightings": 300, "chats": 40})  # type: ignore[arg-type]
    assert wide > adult and wide <= 100


def test_export_verifies_offline_and_detects_tampering(tmp_path: Path) -> None:
    store, fids = _scan_with_findings(tmp_path / "in", None)  # the CLI's default store
    with store.session() as s:  # type: ignore[attr-defined]
        case_id = s.get(Finding, fids[0]).case_id
    out = tmp_path / "case.zip"
    runner = CliRunner()
    res = runner.invoke(app, ["evidence", "export", str(case_id), "--out", str(out)])
    assert res.exit_code == 0, res.output
    good = verify_export(out)
    assert good.ok and good.originals == 2 and good.custody_entries >= 6, good.problems
    assert runner.invoke(app, ["evidence", "verify", str(out)]).exit_code == 0

    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read(f"jikimi-case-{case_id}/manifest.json"))
        names = zf.namelist()
        custody = zf.read(f"jikimi-case-{case_id}/custody.jsonl").decode().splitlines()
    assert {f["media_sha256"] for f in manifest["findings"]} == {m["sha256"] for m in manifest["media"]}
    assert all(m["captures"] for m in manifest["media"])
    assert any(json.loads(line)["action"] == "evidence.export" for line in custody)
    assert manifest["audit_chain"]["verified"] is True

    # The documented path without Jikimi: unzip and sha256sum -c.
    if shutil.which("sha256sum"):
        with zipfile.ZipFile(out) as zf:
            zf.extractall(tmp_path / "x")
        folder = tmp_path / "x" / f"jikimi-case-{case_id}"
        ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        original = next((folder / "originals").iterdir())
        original.write_bytes(original.read_bytes() + b"x")
        assert (
            subprocess.run(
                ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder, capture_output=True
            ).returncode
            != 0
        )

    def rewrite(name_suffix: str, change) -> Path:  # type: ignore[no-untyped-def]
        bad = tmp_path / f"bad-{len(list(tmp_path.glob('bad-*')))}.zip"
        with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
            for n in src.namelist():
                data = src.read(n)
                dst.writestr(n, change(data) if n.endswith(name_suffix) else data)
        return bad

    orig_name = next(n for n in names if "/originals/" in n)
    assert not verify_export(rewrite(orig_name.split("/", 1)[1], lambda b: b[:-1] + b"\0")).ok

    def forge_custody(b: bytes) -> bytes:
        lines = b.decode().splitlines()
        e = json.loads(lines[0])
        e["actor"] = "someone-else"
        return ("\n".join([json.dumps(e), *lines[1:]]) + "\n").encode()

    forged = verify_export(rewrite("custody.jsonl", forge_custody))
    assert not forged.ok and any("custody.jsonl" in p for p in forged.problems)
    extra = tmp_path / "extra.zip"
    shutil.copy(out, extra)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr(f"jikimi-case-{case_id}/originals/planted.png", b"planted")
    assert not verify_export(extra).ok
    assert runner.invoke(app, ["evidence", "verify", str(extra)]).exit_code == 1

    with store.session() as s:  # type: ignore[attr-defined]
        sealed = s.execute(
            sa.select(AuditEntry).where(AuditEntry.action == "evidence.export.sealed")
        ).scalar_one()
        assert sealed.details["zip_sha256"] == good_sha(out)
    store.dispose()  # type: ignore[attr-defined]


def good_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_audit_verify_reports_tampering(tmp_path: Path) -> None:
    store, _ = _scan_with_findings(tmp_path / "in", None)
    runner = CliRunner()
    try:
        res = runner.invoke(app, ["audit", "verify", "--json"])
        assert res.exit_code == 0 and json.loads(res.stdout)["ok"] is True
        with store.session() as s:  # type: ignore[attr-defined]
            s.execute(sa.delete(AuditEntry).where(AuditEntry.id == 2))
        res = runner.invoke(app, ["audit", "verify", "--json"])
        out = json.loads(res.stdout)
        assert res.exit_code == 1 and out["problem"] == "removed" and out["bad_entry_id"] == 2
    finally:
        store.dispose()  # type: ignore[attr-defined]


def test_export_refuses_bad_path(tmp_path: Path) -> None:
    store, fids = _scan_with_findings(tmp_path / "in", f"sqlite:///{tmp_path / 'p.db'}")
    with store.session() as s, pytest.raises(ValidationError):  # type: ignore[attr-defined]
        export_case(s, s.get(Finding, fids[0]).case_id, tmp_path / "case.tar", actor="t")
    store.dispose()  # type: ignore[attr-defined]
