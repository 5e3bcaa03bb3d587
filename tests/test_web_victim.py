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


# --- 16. the victim's page -----------------------------------------------------------------------------


def _victim_case(h: Harness, *, new_findings: int) -> int:
    from jikimi.store import accounts
    from jikimi.store.schema.scans import Case, Finding
    from jikimi.store.schema.scans import MediaRecord as Media

    with h.store.session() as s:
        accounts.create_user(
            s,
            username="jiyoung",
            password="correct horse battery staple",
            role="case_worker",
            display_name="김지영",
            actor="test",
        )
        case = Case(queue_key="person:1", title="case one")
        s.add(case)
        s.flush()
        for i in range(new_findings):
            media = Media(sha256=f"{i:064x}", md5=f"{i:032x}", size=1, kind="image")
            s.add(media)
            s.flush()
            s.add(Finding(media_id=media.id, case_id=case.id, status="new"))
        accounts.create_user(
            s,
            username="victim-b",
            password="correct horse battery staple",
            role="victim",
            case_ref=str(case.id),
            actor="web:jiyoung",
        )
        return case.id


def test_victim_sees_her_worker_and_under_review_in_korean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "서울 상담소")
    monkeypatch.setenv("JIKIMI_ORG_PHONE", "02-000-0000")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "help@centre.example")
    h, _ = _harness(tmp_path, monkeypatch)
    _victim_case(h, new_findings=2)
    c = h.client()
    login(c, "victim-b")
    page = html.unescape(c.get("/my-case").text)
    assert "담당 상담원" in page and "김지영" in page and "02-000-0000" in page
    assert "help@centre.example" in page
    assert "검토 중" in page and "2건" in page
    assert "아직 신고된 게시물이 없습니다" not in page


def test_victim_sees_what_was_sent_where_in_plain_korean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "서울 상담소")
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "false")
    h, tokens = _harness(tmp_path, monkeypatch)
    case_id = _victim_case(h, new_findings=0)
    from jikimi.takedown.service import FindingRef, add_item

    with h.store.session() as s:
        add_item(s, FindingRef(case_id=str(case_id), url="https://x.com/a/status/1", sha256="cd" * 32))
    c = h.client()
    cw = bearer(tokens["case_worker"])
    drafted = c.post(f"/api/v1/cases/{case_id}/takedowns", json={"lang": "ko"}, headers=cw)
    assert drafted.status_code == 201, drafted.text
    nid = drafted.json()["notices"][0]["id"]
    assert c.post(f"/api/v1/takedowns/{nid}/approve", headers=cw).status_code == 200
    sent = c.post(f"/api/v1/takedowns/{nid}/send", json={"submitted_ref": "X-1"}, headers=cw)
    assert sent.status_code == 200 and sent.json()["ok"], sent.text
    v = h.client()
    login(v, "victim-b")
    page = html.unescape(v.get("/my-case").text)
    assert re.search(r"\d{4}-\d{2}-\d{2} KST: X \(Twitter\)에 삭제 요청을 보냈습니다", page), page
    assert "플랫폼의 답변을 기다리고 있습니다" in page
    assert c.post(f"/api/v1/takedowns/{nid}/mark", json={"outcome": "removed"}, headers=cw).status_code == 200
    page = html.unescape(v.get("/my-case").text)
    assert "플랫폼이 삭제했습니다" in page


# --- 3. the centre's settings, shared by the web app and the command line ------------------------------


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from jikimi.takedown.settings import ENV_OF

    for env in ENV_OF.values():
        monkeypatch.delenv(env, raising=False)


def test_admin_sets_the_organisation_and_mail_and_the_cli_drafts_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from jikimi.cli import app as cli
    from jikimi.config import get_settings

    _clear_env(monkeypatch)
    h, tokens = _harness(tmp_path, monkeypatch)
    c = h.client()
    admin = bearer(tokens["admin"])
    assert c.get("/api/v1/settings/takedown", headers=bearer(tokens["case_worker"])).status_code == 403
    body = {
        "organisation": {"name": "서울 디지털성범죄 상담소", "email": "help@centre.example", "phone": "02-1"},
        "smtp": {"host": "smtp.centre.example", "port": 587, "user": "u", "password": "s3cret-pass!"},
        "imap": {"url": "imaps://takedown@mail.centre.example/INBOX", "password": "imap-s3cret!"},
    }
    r = c.put("/api/v1/settings/takedown", json=body, headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["organisation"]["name"] == "서울 디지털성범죄 상담소"
    assert out["smtp"]["password_set"] is True and out["imap"]["password_set"] is True
    assert "s3cret" not in r.text and "imap-s3cret" not in r.text
    # Stored where the command line reads it, readable by the server's user only.
    path = get_settings().home / "takedown.yaml"
    assert path.stat().st_mode & 0o077 == 0
    from jikimi.takedown.replies import load_imap
    from jikimi.takedown.settings import load_organisation, load_smtp

    assert load_organisation().phone == "02-1"
    assert load_smtp().password == "s3cret-pass!" and load_smtp().host == "smtp.centre.example"
    imap = load_imap()
    assert imap is not None and imap.password == "imap-s3cret!" and imap.host == "mail.centre.example"
    # An empty password keeps the stored one; clear_password removes it.
    r = c.put("/api/v1/settings/takedown", json={"smtp": {"password": ""}}, headers=admin)
    assert r.json()["smtp"]["password_set"] is True
    # The CLI drafts with the same organisation (no environment variable).
    run = CliRunner().invoke
    assert run(cli, ["takedown", "add", "42", "https://t.me/room/7"]).exit_code == 0
    res = run(cli, ["takedown", "draft", "42", "--json"])
    assert res.exit_code == 0, res.output
    assert "서울 디지털성범죄 상담소" in res.stdout
    # The password never reaches the audit log or a page.
    audit = c.get("/api/v1/audit", headers=admin).text
    assert "settings.update" in audit and "s3cret" not in audit
    r = c.put("/api/v1/settings/takedown", json={"smtp": {"clear_password": True}}, headers=admin)
    assert r.json()["smtp"]["password_set"] is False


def test_settings_page_is_admin_only_and_never_shows_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_env(monkeypatch)
    h, _ = _harness(tmp_path, monkeypatch)
    worker = h.client()
    login(worker, "case-worker")
    assert worker.get("/settings").status_code == 403
    c = h.client()
    csrf = login(c, "admin")
    page = c.get("/settings")
    assert page.status_code == 200 and "상담소 설정" in page.text
    form = {
        "csrf_token": csrf,
        "org_name": "지킴이 상담소",
        "org_email": "help@centre.example",
        "org_phone": "02-2",
        "smtp_host": "127.0.0.1",
        "smtp_port": "2525",
        "smtp_security": "none",
        "smtp_password": "hunter2-hunter2",
        "smtp_from": "takedown@centre.example",
    }
    saved = c.post("/settings", data=form)
    assert saved.status_code == 303, saved.text
    page = html.unescape(c.get(saved.headers["location"]).text)
    assert "저장했습니다" in page and "지킴이 상담소" in page and "2525" in page
    assert "hunter2" not in page and "저장됨 — 그대로 두려면 비워 두세요" in page
    from jikimi.takedown.settings import load_smtp

    smtp = load_smtp()
    assert smtp.port == 2525 and not smtp.starttls and smtp.password == "hunter2-hunter2"
    # A refusal comes back in Korean, with nothing saved.
    bad = c.post("/settings", data={**form, "smtp_port": "abc"})
    assert bad.status_code == 422 and "SMTP 포트는" in html.unescape(bad.text)
    bad = c.post("/settings", data={**form, "imap_url": "imaps://u:pw@mail.example/INBOX"})
    assert bad.status_code == 422 and "비밀번호 칸에" in html.unescape(bad.text)


# --- 14. enrolment from a group photo ------------------------------------------------------------------


def test_enrolment_lets_her_face_be_chosen_in_a_group_photo(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from PIL import Image

    src = shared / "faces" / "portraits" / "_scenes" / "two_people.jpg"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    im = Image.open(src).convert("RGB")
    im.thumbnail((640, 640))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    group = buf.getvalue()
    h, _ = _harness(tmp_path, monkeypatch)
    c = h.client()
    csrf = login(c, "case-worker")
    form = {"csrf_token": csrf, "name": "가명 B", "consent_by": "본인", "consent_confirmed": "true"}
    page = c.post("/people", data=form, files=[("photos", ("우리 가족.jpg", group, "image/jpeg"))])
    text = html.unescape(page.text)
    assert page.status_code == 200, text
    # The faces, numbered, as crops; the file named; no "--face N" and no "사진 1".
    assert 'id="choose-face"' in text and "우리 가족.jpg: 이 사진에는 얼굴이 2개 있습니다" in text
    assert len(re.findall(r'<img class="face-crop" src="data:image/jpeg;base64,', text)) == 2
    assert "--face " not in text and "사진 1:" not in text and "사진 #1" not in text
    pending = re.search(r'name="pending" value="([^"]+)"', text).group(1)  # type: ignore[union-attr]
    # Another worker cannot use the held photos.
    other = h.client()
    other_csrf = login(other, "admin")
    refused = other.post(
        "/people", data={**form, "csrf_token": other_csrf, "pending": pending, "face_0": "2"}
    )
    assert refused.status_code == 422
    done = c.post("/people", data={**form, "pending": pending, "face_0": "2"})
    assert done.status_code == 201, html.unescape(done.text)
    assert "등록됨" in html.unescape(done.text) or "가명 B" in done.text
    from jikimi.store.schema.people import PersonFace

    with h.store.session() as s:
        (face,) = s.query(PersonFace).all()
        assert face.source_name == "우리 가족.jpg"
        assert face.box_left > im.width // 3  # the right-hand face, as chosen
    # The held photos are gone once she is enrolled.
    again = c.post("/people", data={**form, "pending": pending, "face_0": "2"})
    assert again.status_code == 422


def test_victims_dates_are_days_in_kst(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found and removed on her page are days in Seoul: 20:00 UTC on 1 February is 2 February in KST."""
    from datetime import UTC, datetime

    from jikimi.takedown.service import FindingRef, add_item

    h, _ = _harness(tmp_path, monkeypatch)
    case_id = _victim_case(h, new_findings=0)
    with h.store.session() as s:
        (item,) = add_item(s, FindingRef(case_id=str(case_id), url="https://x.com/a/status/2"))[:1]
        item.found_at = datetime(2026, 2, 1, 20, 0, tzinfo=UTC)
        item.state, item.removed_at = "removed", datetime(2026, 2, 3, 16, 30, tzinfo=UTC)
    v = h.client()
    login(v, "victim-b")
    row = html.unescape(v.get("/my-case").text).split("<tbody>")[1].split("</tbody>")[0]
    assert "2026-02-02 KST" in row and "2026-02-04 KST" in row, row
    assert "2026-02-01" not in row and "2026-02-03" not in row, row
