"""The browser alone, in Korean: the scan page (no server paths, lists refreshed when a scan ends), the
victim's own page (her worker, "under review", what was sent where), the organisation and mail settings edited
by an administrator (shared with the command line), and enrolment from a group photo."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_harness import Harness, bearer, login, make_harness


def _harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Harness, dict[str, str]]:
    for name in ("JIKIMI_ORG_NAME", "JIKIMI_ORG_EMAIL", "JIKIMI_ORG_PHONE", "JIKIMI_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    h = make_harness(f"sqlite:///{tmp_path / 'victim.db'}")
    return h, h.role_tokens()


def _wait(c: TestClient, job_id: str, headers: dict[str, str], seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/scans/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    pytest.fail(f"scan {job_id} did not finish")


# --- 15. the scan page ---------------------------------------------------------------------------------


def test_scan_page_names_files_not_server_paths_and_refreshes_its_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, tokens = _harness(tmp_path, monkeypatch)
    c = h.client()
    csrf = login(c, "case-worker")
    page = c.post(
        "/scans",
        files=[("files", ("notes.jpg", b"just some text, not a picture\n" * 20, "image/jpeg"))],
        data={"csrf_token": csrf},
    )
    assert page.status_code == 200, page.text
    job_id = re.search(r'id="scan-([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    job = _wait(c, job_id, bearer(tokens["case_worker"]))
    from jikimi.config import get_settings

    home = str(get_settings().home)
    text = str(job)
    assert home not in text and "uploads" not in text and "00000-" not in text, text
    assert job["errors"] and job["errors"][0]["location"] == "notes.jpg", job["errors"]
    status = html.unescape(c.get(f"/scans/{job_id}/status").text)
    assert home not in status and "notes.jpg" in status
    # The final status answer also carries the lists, swapped in out of band, with the finished scan.
    assert 'id="scan-lists" hx-swap-oob="true"' in status
    lists = status[status.index('id="scan-lists"') :]
    assert "완료" in lists or "done" in lists
    assert "No scans yet" not in lists and "스캔 기록이 없습니다" not in lists
