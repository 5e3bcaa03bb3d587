"""A case finished in the browser alone: a zipped (or folder) Telegram export read as an export, URLs added by
hand on the case page, notices sent without a mail server, re-upload alerts resolved, and a confirmation step
before every destructive action."""

from __future__ import annotations

import html
import io
import json
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api_harness import Harness, bearer, login, make_harness


def _image(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).resize((256, 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


KNOWN = _image(41)


def _export_files(shared: Path) -> dict[str, bytes]:
    """The shared group export as a supergroup (so its messages have t.me/c links), with one known photo."""
    data = json.loads((shared / "telegram" / "tkonverter_result_group.json").read_text(encoding="utf-8"))
    data["type"] = "private_supergroup"
    return {
        "result.json": json.dumps(data).encode(),
        "photos/group_shared.jpg": KNOWN,
        "photos/group_photo.jpg": _image(42),
        "files/document.pdf": b"%PDF-1.4\n",
    }


def _zip(files: dict[str, bytes], prefix: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return buf.getvalue()


def _wait(c: TestClient, job_id: str, headers: dict[str, str] | None = None, seconds: float = 240) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/scans/{job_id}", headers=headers or {}).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    pytest.fail(f"scan {job_id} did not finish")


def _harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Harness, dict[str, str]]:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "help@centre.example")
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "false")
    h = make_harness(f"sqlite:///{tmp_path / 'flow.db'}")
    tokens = h.role_tokens()
    cw = bearer(tokens["case_worker"])
    api = h.client()
    assert api.post("/api/v1/banks", json={"name": "known"}, headers=cw).status_code == 201
    added = api.post(
        "/api/v1/banks/known/files", files=[("files", ("k.jpg", KNOWN, "image/jpeg"))], headers=cw
    )
    assert added.status_code in (200, 201), added.text
    return h, tokens


def _upload(c: TestClient, csrf: str, files: list[tuple[str, bytes]]) -> str:
    page = c.post(
        "/scans",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        data={"csrf_token": csrf},
    )
    assert page.status_code == 200, page.text
    found = re.search(r'id="scan-([0-9a-f]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _check_export_scan(h: Harness, c: TestClient, cw: dict[str, str], job: Any, name: str) -> int:
    assert job["status"] == "done", job
    assert job["exports"] == [name]
    assert job["findings"] == 1, job
    # The two files Telegram did not save are reported with their message.
    reasons = {u["reason"] for u in job["unresolved_items"]}
    assert any("File not included" in r for r in reasons) and any(
        "exceeds maximum size" in r for r in reasons
    )
    missing = next(u for u in job["unresolved_items"] if "File not included" in u["reason"])
    assert missing["chat"] == "Team Chat" and missing["sender"] == "Alice Example"
    assert missing["link"] == "https://t.me/c/20001/32"
    fid = c.get("/api/v1/findings", params={"status": "new"}, headers=cw).json()[0]["id"]
    done = c.post(f"/api/v1/findings/{fid}/confirm", json={}, headers=cw)
    assert done.status_code == 200, done.text
    case_id = int(done.json()["case_id"])
    detail = c.get(f"/api/v1/cases/{case_id}", headers=cw).json()
    sg = detail["findings_detail"][0]["sightings"][0]
    assert sg["source_kind"] == "telegram"
    assert (sg["chat_name"], sg["sender"], sg["message_id"]) == ("Team Chat", "Alice Example", 29)
    assert sg["date"].startswith("2026-02-01T10:00:00")
    assert sg["link"] == "https://t.me/c/20001/29"
    # Confirming drafted the notice from the message link (no "run jikimi takedown add").
    notices = c.get("/api/v1/takedowns", params={"case_id": case_id}, headers=cw).json()
    assert notices and any(
        "https://t.me/c/20001/29" in it["url"] for n in notices for it in n.get("items", [])
    ), notices
    return case_id


def test_zipped_telegram_export_uploaded_on_the_scan_page_is_read_as_an_export(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, tokens = _harness(tmp_path, monkeypatch)
    c = h.client()
    csrf = login(c, "case-worker")
    data = _zip(_export_files(shared), "ChatExport_2026-02-01/")
    job_id = _upload(c, csrf, [("ChatExport_2026-02-01.zip", data)])
    cw = bearer(tokens["case_worker"])
    job = _wait(c, job_id, cw)
    _check_export_scan(h, c, cw, job, "ChatExport_2026-02-01.zip")
    page = html.unescape(c.get(f"/scans/{job_id}/status").text)
    assert "텔레그램 내보내기로 읽음: ChatExport_2026-02-01.zip" in page
    assert "내보내기에 포함되지 않았습니다" in page and "https://t.me/c/20001/32" in page


def test_folder_upload_of_a_telegram_export_is_read_as_an_export(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, tokens = _harness(tmp_path, monkeypatch)
    c = h.client()
    csrf = login(c, "case-worker")
    files = [(f"ChatExport_team/{name}", data) for name, data in _export_files(shared).items()]
    files.append(("../../evil/photos/x.jpg", _image(43)))  # an unsafe relative name stays an ordinary file
    job_id = _upload(c, csrf, files)
    cw = bearer(tokens["case_worker"])
    job = _wait(c, job_id, cw)
    _check_export_scan(h, c, cw, job, "ChatExport_team")


def test_an_ordinary_zip_is_still_read_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h, tokens = _harness(tmp_path, monkeypatch)
    c = h.client()
    csrf = login(c, "case-worker")
    job_id = _upload(c, csrf, [("photos.zip", _zip({"a.jpg": KNOWN, "b.jpg": _image(44)}, ""))])
    job = _wait(c, job_id, bearer(tokens["case_worker"]))
    assert job["status"] == "done" and job["exports"] == [] and job["findings"] == 1
    assert job["unresolved"] == 0


def test_export_zip_extraction_refuses_hostile_members(tmp_path: Path) -> None:
    import stat as stat_mod

    from jikimi.sources.exports import extract_export_zip, zip_export_root

    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Chat/result.json", b"{}")
        zf.writestr("Chat/../../escape.jpg", b"x")
        link = zipfile.ZipInfo("Chat/photos/link.jpg")
        link.external_attr = (stat_mod.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("Chat/photos/ok.jpg", KNOWN)
    assert zip_export_root(path) == "Chat/"
    dest = tmp_path / "out" / "Chat"
    problems = {member: why.render() for member, why in extract_export_zip(path, "Chat/", dest)}
    assert (
        "escape" in problems["Chat/../../escape.jpg"] and "symbolic link" in problems["Chat/photos/link.jpg"]
    )
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "photos/ok.jpg",
        "result.json",
    ]
    assert not (tmp_path / "escape.jpg").exists()


def _case(h: Harness) -> int:
    from jikimi.store.schema.scans import Case

    with h.store.session() as s:
        case = Case(queue_key="manual:kim", title="Kim")
        s.add(case)
        s.flush()
        return int(case.id)


def test_a_url_is_added_by_hand_on_the_case_page_and_over_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jikimi.store import audit

    h, tokens = _harness(tmp_path, monkeypatch)
    case_id = _case(h)
    c = h.client()
    csrf = login(c, "case-worker")
    page = c.get(f"/cases/{case_id}")
    assert f'action="/cases/{case_id}/takedown-items"' in page.text
    # Bad input: a clear Korean reason, and what was typed is still in the form.
    bad = c.post(
        f"/cases/{case_id}/takedown-items",
        data={"csrf_token": csrf, "url": "not a link", "chat": "채널 A", "first_seen": "2026-02-01T10:00"},
    )
    assert bad.status_code == 422
    text = html.unescape(bad.text)
    assert "웹 주소가 아닙니다" in text and 'value="채널 A"' in text and 'value="2026-02-01T10:00"' in text
    bad_hash = c.post(
        f"/cases/{case_id}/takedown-items",
        data={"csrf_token": csrf, "url": "https://t.me/somechannel/7", "sha256": "abc"},
    )
    assert bad_hash.status_code == 422 and "16진수 64자리" in html.unescape(bad_hash.text)
    ok = c.post(
        f"/cases/{case_id}/takedown-items",
        data={
            "csrf_token": csrf,
            "url": "https://t.me/somechannel/7",
            "chat": "채널 A",
            "first_seen": "2026-02-01T10:00",
        },
    )
    assert ok.status_code == 303, ok.text
    page = html.unescape(c.get(f"/cases/{case_id}").text)
    assert "https://t.me/somechannel/7" in page
    # The same service function as `jikimi takedown add`: the item is there, first seen in KST (01:00 UTC).
    from jikimi.takedown.service import case_items

    with h.store.session() as s:
        items = case_items(s, str(case_id))
        assert [(i.url, i.platform, i.chat) for i in items] == [
            ("https://t.me/somechannel/7", "telegram", "채널 A")
        ]
        assert items[0].first_seen is not None and items[0].first_seen.hour in (1,)
        assert any(e.action == "takedown.item.add" for e in audit.entries(s))
    # The API: the same URL again is the same item; bad input 422; an unknown case 404; investigators 403.
    cw = bearer(tokens["case_worker"])
    again = c.post(
        f"/api/v1/cases/{case_id}/takedown-items", json={"url": "https://t.me/somechannel/7"}, headers=cw
    )
    assert again.status_code == 201 and again.json()["created"] is False
    new = c.post(
        f"/api/v1/cases/{case_id}/takedown-items",
        json={"url": "https://example.com/p/1", "md5": "a" * 32},
        headers=cw,
    )
    assert new.status_code == 201 and new.json()["created"] is True
    assert (
        c.post(f"/api/v1/cases/{case_id}/takedown-items", json={"url": "x y"}, headers=cw).status_code == 422
    )
    assert (
        c.post("/api/v1/cases/999/takedown-items", json={"url": "https://e.com/1"}, headers=cw).status_code
        == 404
    )
    inv = bearer(tokens["investigator"])
    assert (
        c.post(
            f"/api/v1/cases/{case_id}/takedown-items", json={"url": "https://e.com/1"}, headers=inv
        ).status_code
        == 403
    )


def _approved_email_notice(h: Harness, c: TestClient, cw: dict[str, str], case_id: int, url: str) -> int:
    assert c.post(f"/api/v1/cases/{case_id}/takedown-items", json={"url": url}, headers=cw).status_code == 201
    drafted = c.post(
        f"/api/v1/cases/{case_id}/takedowns", json={"recipient": "abuse@host.example"}, headers=cw
    )
    assert drafted.status_code == 201, drafted.text
    nid = int(drafted.json()["notices"][0]["id"])
    assert c.post(f"/api/v1/takedowns/{nid}/approve", headers=cw).status_code == 200
    return nid


def test_without_smtp_a_notice_is_downloaded_and_recorded_as_sent_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from email import message_from_bytes
    from email.message import Message

    from jikimi.store import audit

    for name in ("JIKIMI_SMTP_HOST", "JIKIMI_SMTP_FROM", "JIKIMI_SMTP_USER", "JIKIMI_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    h, tokens = _harness(tmp_path, monkeypatch)
    cw, admin = bearer(tokens["case_worker"]), bearer(tokens["admin"])
    case_id = _case(h)
    c = h.client()
    nid = _approved_email_notice(h, c, cw, case_id, "https://files.host.example/a.jpg")
    csrf = login(c, "case-worker")
    # "보내기" without a mail server: the reason in Korean, and the way out on the same page.
    sent = c.post(f"/takedowns/{nid}/send", data={"csrf_token": csrf, "recipient": "abuse@host.example"})
    text = html.unescape(sent.text)
    assert "SMTP 서버가 설정되어 있지 않습니다" in text
    assert 'id="download-eml"' in text and f'action="/takedowns/{nid}/sent-by-hand"' in text
    assert 'id="smtp-status"' not in text  # the settings' state is for administrators
    # The .eml: addressed, with the notice text and the PDF; the download is audited.
    eml = c.get(f"/api/v1/takedowns/{nid}/eml")
    assert eml.status_code == 200 and eml.headers["content-type"].startswith("message/rfc822")
    msg = message_from_bytes(eml.content)
    assert msg["To"] == "abuse@host.example" and msg["From"] == "help@centre.example"
    parts: list[Message] = list(msg.walk())
    assert any(p.get_content_type() == "application/pdf" for p in parts)
    body = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert isinstance(body, bytes) and b"files.host.example" in body
    # "I sent it myself": how is required; who, when and how are recorded and audited.
    empty = c.post(f"/takedowns/{nid}/sent-by-hand", data={"csrf_token": csrf, "how": " "})
    assert empty.status_code == 422 and "어떻게 보냈는지" in html.unescape(empty.text)
    done = c.post(
        f"/takedowns/{nid}/sent-by-hand",
        data={"csrf_token": csrf, "how": "from help@centre.example by e-mail"},
    )
    assert done.status_code == 303
    n = c.get(f"/api/v1/takedowns/{nid}", headers=cw).json()
    assert n["status"] == "sent" and n["sent_at"] and all(i["state"] == "sent" for i in n["items"])
    page = html.unescape(c.get(f"/takedowns/{nid}").text)
    assert "KST" in page.split('id="sent-at"')[1][:80]
    with h.store.session() as s:
        entries = list(audit.entries(s))
        sent_entry = next(e for e in entries if e.action == "takedown.send")
        assert sent_entry.actor == "web:case-worker" or "case-worker" in sent_entry.actor
        assert sent_entry.details["by_hand"] is True and "centre.example" in sent_entry.details["how"]
        assert any(e.action == "takedown.eml" for e in entries)
    # The API: a second notice recorded by hand; twice is refused; administrators see the SMTP state.
    nid2 = _approved_email_notice(h, c, cw, case_id, "https://other.example/b.jpg")
    r = c.post(f"/api/v1/takedowns/{nid2}/sent-by-hand", json={"how": "by registered post"}, headers=cw)
    assert r.status_code == 200 and r.json()["status"] == "sent"
    again = c.post(f"/api/v1/takedowns/{nid2}/sent-by-hand", json={"how": "again"}, headers=cw)
    assert again.status_code == 422
    state = c.get("/api/v1/settings/smtp", headers=admin)
    assert state.status_code == 200 and state.json()["configured"] is False
    assert c.get("/api/v1/settings/smtp", headers=cw).status_code == 403
    monkeypatch.setenv("JIKIMI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("JIKIMI_SMTP_FROM", "takedown@centre.example")
    monkeypatch.setenv("JIKIMI_SMTP_PASSWORD", "s3cret-password")
    configured = c.get("/api/v1/settings/smtp", headers=admin)
    assert configured.json()["configured"] is True and "s3cret" not in configured.text
    ac = h.client()
    login(ac, "admin")
    admin_page = html.unescape(ac.get(f"/takedowns/{nid}").text)
    assert 'id="smtp-status"' in admin_page and "127.0.0.1" in admin_page and "s3cret" not in admin_page


def test_reupload_alerts_are_resolved_with_the_reply_and_destructive_actions_ask_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jikimi.store import audit
    from jikimi.takedown import reupload
    from jikimi.takedown.service import case_items

    h, tokens = _harness(tmp_path, monkeypatch)
    cw = bearer(tokens["case_worker"])
    case_id = _case(h)
    c = h.client()
    nid = _approved_email_notice(h, c, cw, case_id, "https://files.host.example/a.jpg")
    with h.store.session() as s:
        item = case_items(s, str(case_id))[0]
        a1 = reupload.raise_alert(s, item, new_url="https://mirror.example/1", matched_by="sha256").id
        a2 = reupload.raise_alert(s, item, new_url="https://mirror.example/2", matched_by="pdq").id
    csrf = login(c, "case-worker")
    page = c.get(f"/cases/{case_id}").text
    assert f'action="/alerts/{a1}/resolve"' in page and "mirror.example/2" in page
    # From the page, with the platform's reply.
    r = c.post(f"/alerts/{a1}/resolve", data={"csrf_token": csrf, "reply": "Removed on 2 Feb, ticket 77"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}#alerts"
    page = c.get(f"/cases/{case_id}").text
    assert f'action="/alerts/{a1}/resolve"' not in page and f'action="/alerts/{a2}/resolve"' in page
    # From the API; twice is refused; investigators cannot.
    inv = bearer(tokens["investigator"])
    assert c.post(f"/api/v1/alerts/{a2}/resolve", json={"reply": "x"}, headers=inv).status_code == 403
    assert [a["id"] for a in c.get("/api/v1/alerts", params={"case_id": case_id}, headers=cw).json()] == [a2]
    done = c.post(f"/api/v1/alerts/{a2}/resolve", json={"reply": "Refused: not ours"}, headers=cw)
    assert done.status_code == 200 and done.json()["resolved_by"] == "api:case-worker"
    assert c.post(f"/api/v1/alerts/{a2}/resolve", json={}, headers=cw).status_code == 422
    with h.store.session() as s:
        replies = [e.details.get("reply") for e in audit.entries(s) if e.action == "takedown.alert_resolved"]
        assert replies == ["Removed on 2 Feb, ticket 77", "Refused: not ours"]

    # Withdrawing a notice: a confirmation page first (no JavaScript needed), then it happens.
    asked = c.post(f"/takedowns/{nid}/withdraw", data={"csrf_token": csrf})
    assert (
        asked.status_code == 200 and 'id="confirm-yes"' in asked.text and "정말" in html.unescape(asked.text)
    )
    assert c.get(f"/api/v1/takedowns/{nid}", headers=cw).json()["status"] == "approved"
    assert (
        f'action="/takedowns/{nid}/withdraw"' in asked.text and 'name="confirmed" value="yes"' in asked.text
    )
    assert (
        c.post(f"/takedowns/{nid}/withdraw", data={"csrf_token": csrf, "confirmed": "yes"}).status_code == 303
    )
    assert c.get(f"/api/v1/takedowns/{nid}", headers=cw).json()["status"] == "withdrawn"
    # Marking everything removed asks first too.
    nid2 = _approved_email_notice(h, c, cw, case_id, "https://other.example/b.jpg")
    c.post(f"/api/v1/takedowns/{nid2}/sent-by-hand", json={"how": "by post"}, headers=cw)
    asked = c.post(f"/takedowns/{nid2}/removed", data={"csrf_token": csrf})
    assert asked.status_code == 200 and 'id="confirm-yes"' in asked.text
    assert c.get(f"/api/v1/takedowns/{nid2}", headers=cw).json()["items"][0]["state"] == "sent"
    assert (
        c.post(f"/takedowns/{nid2}/removed", data={"csrf_token": csrf, "confirmed": "yes"}).status_code == 303
    )
    assert c.get(f"/api/v1/takedowns/{nid2}", headers=cw).json()["items"][0]["state"] == "removed"
    # Withdrawing consent: asked first; an unknown person is still a 404.
    assert c.post("/people/4242/withdraw", data={"csrf_token": csrf}).status_code == 404
    # Disabling an account: asked first.
    ac = h.client()
    acsrf = login(ac, "admin")
    asked = ac.post("/users/investigator/disable", data={"csrf_token": acsrf})
    assert asked.status_code == 200 and 'id="confirm-yes"' in asked.text
    assert c.get("/api/v1/me", headers=inv).status_code == 200
