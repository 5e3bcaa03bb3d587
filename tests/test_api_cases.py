"""Scans, the review queue and cases over the API: upload → findings → blurred thumbnails → review →
evidence export, with benign generated images only."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter

from api_harness import bearer, make_harness
from jikimi.store import audit


def _image(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).resize((256, 256))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _detail(jpeg: bytes) -> float:
    """Fine detail: how far the picture is from a smoothed copy of itself (what a blur removes)."""
    img = Image.open(io.BytesIO(jpeg)).convert("L")
    smooth = np.asarray(img.filter(ImageFilter.GaussianBlur(3)), dtype=np.float64)
    return float(np.abs(np.asarray(img, dtype=np.float64) - smooth).mean())


def wait_scan(c, headers, job_id: str, seconds: float = 240) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/scans/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.5)
    pytest.fail(f"scan {job_id} did not finish in {seconds}s")


def test_scan_review_reveal_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    h = make_harness(f"sqlite:///{tmp_path / 'cases.db'}")
    tokens = h.role_tokens()
    c = h.client()
    cw, inv, partner = (
        bearer(tokens["case_worker"]),
        bearer(tokens["investigator"]),
        bearer(tokens["partner"]),
    )
    known, other = _image(11), _image(12)
    assert c.post("/api/v1/banks", json={"name": "known"}, headers=cw).status_code == 201
    c.post("/api/v1/banks/known/files", files=[("files", ("k.png", known, "image/png"))], headers=cw)
    files = [
        ("files", ("../../etc/passwd.png", known, "image/png")),  # a hostile name is only a label
        ("files", ("b.png", other, "image/png")),
        ("files", ("c.txt", b"not media", "text/plain")),
    ]
    started = c.post("/api/v1/scans", files=files, headers=cw)
    assert started.status_code == 202, started.text
    job = wait_scan(c, cw, started.json()["id"])
    assert job["status"] == "done", job
    assert job["findings"] == 1
    # The uploads were read from a private folder with generated names, then deleted.
    uploads = Path(os.environ["JIKIMI_HOME"]) / "uploads"
    assert not any(uploads.glob("*/*"))
    queue = c.get("/api/v1/findings", params={"status": "new"}, headers=cw).json()
    assert len(queue) == 1 and queue[0]["reasons"] == ["bank_match"]
    fid = queue[0]["id"]

    # Thumbnails: blurred by the server by default; the reveal needs original:view and is audited.
    blurred = c.get(f"/api/v1/findings/{fid}/thumbnail", headers=cw)
    assert blurred.status_code == 200 and blurred.headers["content-type"] == "image/jpeg"
    assert "no-store" in blurred.headers["cache-control"]
    with h.store.session() as s:
        views_before = sum(1 for e in audit.entries(s) if e.action == "vault.view")
    revealed = c.get(f"/api/v1/findings/{fid}/thumbnail", params={"reveal": "true"}, headers=cw)
    assert revealed.status_code == 200
    assert _detail(revealed.content) > 20 * _detail(blurred.content)
    with h.store.session() as s:
        views = [e for e in audit.entries(s) if e.action == "vault.view"]
        assert len(views) == views_before + 1 and views[-1].actor == "api:case-worker"
    assert c.get(f"/api/v1/findings/{fid}/thumbnail", headers=partner).status_code == 403
    assert (
        c.get(f"/api/v1/findings/{fid}/thumbnail", params={"reveal": "true"}, headers=partner).status_code
        == 403
    )

    # Review: investigators cannot, case workers can; twice is a clear 422.
    assert c.post(f"/api/v1/findings/{fid}/confirm", json={}, headers=inv).status_code == 403
    done = c.post(f"/api/v1/findings/{fid}/confirm", json={"note": "seen"}, headers=cw)
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    assert c.post(f"/api/v1/findings/{fid}/dismiss", json={}, headers=cw).status_code == 422
    case_id = done.json()["case_id"]
    detail = c.get(f"/api/v1/cases/{case_id}", headers=inv).json()
    assert detail["confirmed"] == 1 and detail["findings_detail"][0]["reasons"] == ["bank_match"]

    # Evidence export: a zip with the original, audited.
    z = c.get(f"/api/v1/cases/{case_id}/export", headers=inv)
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert any(n.endswith("SHA256SUMS") for n in names) and any("/originals/" in n for n in names)
    with h.store.session() as s:
        actions = [e.action for e in audit.entries(s)]
        assert "evidence.export" in actions and "finding.confirm" in actions
        assert audit.verify(s).ok

    # Pages render (review queue with blurred images by default, the case page with its timeline).
    page = c.get(f"/cases/{case_id}", headers=cw)
    assert page.status_code == 200 and 'class="thumb blurred"' in page.text
    assert "reveal=true" not in page.text.split("data-reveal-src")[0]
    assert c.get("/review", headers=cw).status_code == 200


def test_scans_page_lists_the_runs_on_record_after_a_restart(tmp_path: Path) -> None:
    """Live progress belongs to the server process; the history of runs (web and command line) comes from the
    database, so a restarted server still shows them."""
    from api_harness import login
    from jikimi.api import ApiSettings, create_app
    from jikimi.cases.runner import run_scan

    folder = tmp_path / "cli-scan"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(_image(i))
    h = make_harness(f"sqlite:///{tmp_path / 'runs.db'}")
    h.add_user("worker", "case_worker")
    report = run_scan(h.store, [folder], workers=0, signals=["md5", "sha256", "pdq"], actor="cli:officer")
    restarted = create_app(h.store, ApiSettings())  # a new server process: no scans in memory
    with TestClient(restarted, base_url="https://testserver", follow_redirects=False) as c:
        login(c, "worker")
        page = c.get("/scans")
    assert page.status_code == 200
    row = page.text.split("<tbody>")[2].split("</tbody>")[0]
    assert f"<td>{report.run_id}</td>" in row and "cli:officer" in row and "완료" in row
    assert "<td>3</td>" in row  # items
