"""The issue's walk, end to end in real headless Chromium: a support-centre worker finishes a victim's
case in the browser alone — in Korean, in KST. Enrolment with consent from three ordinary photos, a zipped
Telegram Desktop export uploaded on the scan page, the face finding confirmed, a URL added by hand, the notice
drafted (one open draft per case and platform) and approved by a second staff member (four eyes), sent through
a local SMTP server, the platform's answer recorded and the items marked removed (after the confirmation
step); then the victim and the platform partner see their own views. No command line after the server starts.
Screenshots: artifacts/e2e/walk-*.png."""

from __future__ import annotations

import email
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from api_harness import PASSWORD, make_harness
from jikimi.store import accounts, audit
from web_e2e_harness import CHROMIUM, chromium, free_port, running_server, shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed"),
]

EXPORT = "ChatExport_2026-02-01"
HAND_URL = "https://t.me/somechannel/7"
LATER_URL = "https://t.me/somechannel/8"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[_Inbox, int]]:
    """A plain SMTP server on 127.0.0.1 that keeps what it receives."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _jpeg(path: Path, side: int = 640) -> bytes:
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _export_zip(shared: Path, dest: Path) -> Path:
    """The shared group export as a supergroup (its messages get t.me/c links), zipped as Telegram Desktop
    leaves it, with other photos of her in it: the shared photo (message 29) and the group photo."""
    data = json.loads((shared / "telegram" / "tkonverter_result_group.json").read_text(encoding="utf-8"))
    data["type"] = "private_supergroup"
    scenes = shared / "faces" / "portraits" / "_scenes"
    files = {
        "result.json": json.dumps(data).encode(),
        "photos/group_shared.jpg": _jpeg(scenes / "obama_and_biden.jpg", 1000),
        "photos/group_photo.jpg": _jpeg(scenes / "obama_small.jpg", 640),
        "files/document.pdf": b"%PDF-1.4\n",
    }
    with zipfile.ZipFile(dest, "w") as zf:
        for name, blob in files.items():
            zf.writestr(f"{EXPORT}/{name}", blob)
    return dest


def _sign_in(page: Any, base: str, username: str, lands_on: str = "/") -> None:
    if page.locator("button:has-text('로그아웃')").count():
        page.click("button:has-text('로그아웃')")
        page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")


def _main(page: Any) -> str:
    return str(page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body"))


def test_a_worker_finishes_a_victims_case_in_the_browser_alone(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch, smtp_inbox: tuple[_Inbox, int]
) -> None:
    from jikimi.config import get_settings

    inbox, smtp_port = smtp_inbox
    monkeypatch.setenv("JIKIMI_ORG_NAME", "서울 디지털성범죄 상담소")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "help@centre.example")
    monkeypatch.setenv("JIKIMI_ORG_PHONE", "02-000-0000")
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "1")
    monkeypatch.setenv("JIKIMI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("JIKIMI_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("JIKIMI_SMTP_STARTTLS", "false")
    monkeypatch.setenv("JIKIMI_SMTP_FROM", "takedown@centre.example")
    monkeypatch.setenv("JIKIMI_SMTP_TIMEOUT", "10")
    for name in ("JIKIMI_SMTP_USER", "JIKIMI_SMTP_PASSWORD", "JIKIMI_SMTP_SSL", "JIKIMI_IMAP_URL"):
        monkeypatch.delenv(name, raising=False)

    # Set-up before the server starts: the accounts (the victim's opened by her worker, for the first case).
    h = make_harness(get_settings().database_url)  # the embedded default store
    with h.store.session() as s:
        accounts.create_user(
            s, username="jiyoung", password=PASSWORD, role="case_worker", display_name="김지영", actor="test"
        )
        accounts.create_user(
            s, username="minsu", password=PASSWORD, role="case_worker", display_name="박민수", actor="test"
        )
        accounts.create_user(
            s, username="victim-a", password=PASSWORD, role="victim", case_ref="1", actor="web:jiyoung"
        )
        accounts.create_user(
            s, username="tg-partner", password=PASSWORD, role="partner", partner="telegram", actor="test"
        )
    portraits = shared / "faces" / "portraits"
    photos = []
    for i, src in enumerate(
        [
            portraits / "obama" / "obama.jpg",
            portraits / "obama" / "obama2.jpg",
            portraits / "_scenes" / "obama-720p.jpg",
        ]
    ):
        photos.append(tmp_path / f"얼굴{i + 1}.jpg")
        photos[-1].write_bytes(_jpeg(src))
    export = _export_zip(shared, tmp_path / f"{EXPORT}.zip")

    started = time.monotonic()
    with running_server(h.app) as base, chromium() as ctx:
        page = ctx.new_page()  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        # 1. The case worker signs in and enrols the victim, with consent, from three ordinary photos.
        _sign_in(page, base, "jiyoung")
        assert page.locator("h1").inner_text() == "대시보드"
        page.goto(f"{base}/people")
        page.fill("#enrol-form input[name=name]", "가명 A")
        page.fill("#enrol-form input[name=consent_by]", "본인")
        page.set_input_files("#enrol-form input[name=photos]", [str(p) for p in photos])
        page.check("#enrol-form input[name=consent_confirmed]")
        page.click("#enrol-form button[type=submit]")
        page.wait_for_selector("#enrol-result", timeout=120_000)
        assert "가명 A" in page.locator("#enrol-result").inner_text()
        people = page.locator("#people").inner_text()
        assert "가명 A" in people and "검색 가능" in people, people
        shot(page, "walk-01-enrolled")

        # 2. The scan page: the zipped Telegram export, read as an export; wait for the end.
        page.goto(f"{base}/scans")
        page.set_input_files("#scan-form input[type=file]:not([data-folder-input])", str(export))
        page.wait_for_selector("[data-scan-status=done], [data-scan-status=failed]", timeout=300_000)
        status = (
            page.locator("#scan-status").inner_text() if page.locator("#scan-status").count() else _main(page)
        )
        shot(page, "walk-02-scan-done")
        assert page.locator("[data-scan-status]").get_attribute("data-scan-status") == "done", status
        assert f"텔레그램 내보내기로 읽음: {EXPORT}.zip" in status, status
        done = page.locator("#scan-done").inner_text()
        found = re.search(r"(\d+) 건 발견", done)
        assert found and int(found.group(1)) >= 1, done
        assert "내보내기에 포함되지 않았습니다" in status and "https://t.me/c/20001/32" in status, status

        # 3. Review: the finding from message 29 (the shared photo), confirmed.
        page.goto(f"{base}/review")
        card = page.locator("[data-finding]", has_text="https://t.me/c/20001/29").first
        where = card.locator(".where").inner_text()
        assert "Team Chat" in where and "2026-02-01 19:00 KST" in where, where  # 10:00 UTC in Seoul
        shot(page, "walk-03-review")
        card.locator("[data-action=confirm]").click()
        page.wait_for_selector("[data-finding] .badge.confirmed")
        shot(page, "walk-04-confirmed")
        with h.store.session() as s:
            assert "finding.confirm" in [e.action for e in audit.entries(s)]

        # 4. The case page: the confirmed sighting's link is listed; a URL found elsewhere is added by hand.
        page.locator("[data-finding]", has=page.locator(".badge.confirmed")).first.locator(
            "a[href^='/cases/']"
        ).click()
        page.wait_for_selector("#timeline")
        assert page.url.split("#")[0] == f"{base}/cases/1"
        assert "https://t.me/c/20001/29" in page.locator("#takedown-items ~ table").first.inner_text()
        page.click("#add-url summary")
        page.fill("#add-url input[name=url]", HAND_URL)
        page.fill("#add-url input[name=chat]", "채널 A")
        page.fill("#add-url input[name=first_seen]", "2026-02-03T21:30")
        page.click("#add-url button[type=submit]")
        page.wait_for_selector(f"text={HAND_URL}")
        shot(page, "walk-05-url-added")

        # 5. The notice: confirming drafted it; the hand-added link joins that one open draft (Telegram).
        page.click("form[action='/takedowns/draft'] button[type=submit]")
        page.wait_for_selector("#notice-status")
        assert page.locator("#notice-status").inner_text() == "작성됨"
        notice_url = page.url.split("#")[0]
        nid = int(notice_url.rsplit("/", 1)[1])
        items = page.locator("table.table tbody").inner_text()
        assert "https://t.me/c/20001/29" in items and HAND_URL in items, items
        assert page.locator("dl dd").first.inner_text() == "Telegram"
        shot(page, "walk-06-drafted")
        # Four eyes: the drafter is refused, in Korean; a second staff member approves.
        page.click("#approve")
        page.wait_for_selector(".error")
        assert (
            "기관 설정에 따라 작성하지 않은 다른 사람이 승인해야 합니다"
            in page.locator(".error").inner_text()
        )
        assert page.locator("#notice-status").inner_text() == "작성됨"
        shot(page, "walk-07-four-eyes-refused")
        _sign_in(page, base, "minsu")
        page.goto(notice_url)
        page.click("#approve")
        page.wait_for_selector("#notice-status:has-text('승인됨')")
        assert "박민수" in page.locator("pre.notice").inner_text()  # the footer names the second approver
        shot(page, "walk-08-approved")

        # 6. Sent by the worker through the centre's mail server (a local one); the mail arrives.
        _sign_in(page, base, "jiyoung")
        page.goto(notice_url)
        page.fill("input[name=recipient]", "abuse@platform.test")
        page.click("#send")
        page.wait_for_selector("#sent-at")
        sent_at = page.locator("#sent-at").inner_text()
        assert "KST" in sent_at and "web:jiyoung" in sent_at, sent_at
        assert page.locator("#notice-status").inner_text() == "발송됨"
        shot(page, "walk-09-sent")
        assert len(inbox.messages) == 1
        sender, rcpts, raw = inbox.messages[0]
        assert sender == "takedown@centre.example" and rcpts == ["abuse@platform.test"]
        mail = email.message_from_bytes(raw, policy=policy.default)
        text = "".join(str(p.get_content()) for p in mail.walk() if p.get_content_type() == "text/plain")
        assert "https://t.me/c/20001/29" in text and HAND_URL in text
        assert mail["Reply-To"] == "help@centre.example" and "JKM-1-" in str(mail["Subject"])

        # 7. The platform answered: recorded, then the links marked removed after the confirmation step.
        page.click("form[action$='/acknowledged'] button")
        page.wait_for_url(notice_url)
        assert page.locator("table.table tbody").inner_text().count("접수됨") == 2  # acknowledged
        page.click("form[action$='/removed'] button")
        page.wait_for_selector("#confirm-yes")
        assert "정말" in _main(page) or "삭제" in _main(page)
        shot(page, "walk-10-confirm-removed")
        page.click("#confirm-yes")
        page.wait_for_url(notice_url)
        states = page.locator("table.table tbody").inner_text()
        shot(page, "walk-11-removed")
        with h.store.session() as s:
            from jikimi.takedown.service import get_notice

            assert [it.state for it in get_notice(s, nid).items] == ["removed", "removed"]
        assert states.count("삭제됨") == 2, states
        assert page.locator("#notice-status").inner_text() == "종결"
        # Another link turns up later: a new draft for the same platform, which the partner must not see.
        page.goto(f"{base}/cases/1")
        page.click("#add-url summary")
        page.fill("#add-url input[name=url]", LATER_URL)
        page.click("#add-url button[type=submit]")
        page.wait_for_selector(f"text={LATER_URL}")
        page.click("form[action='/takedowns/draft'] button[type=submit]")
        page.wait_for_selector("#notice-status")
        assert page.locator("#notice-status").inner_text() == "작성됨"
        draft_id = int(page.url.split("#")[0].rsplit("/", 1)[1])
        assert draft_id != nid

        # 8. The victim: her case, in plain Korean, with her worker's name; no links, no images.
        _sign_in(page, base, "victim-a", "/my-case")
        mine = _main(page)
        shot(page, "walk-12-victim")
        assert "김지영" in mine and "서울 디지털성범죄 상담소" in mine, mine
        assert "담당 상담원" in mine and "02-000-0000" in mine, mine
        assert re.search(
            r"\d{4}-\d{2}-\d{2} KST: Telegram에 삭제 요청을 보냈습니다\. 삭제됨 플랫폼이 삭제했습니다", mine
        ), mine
        assert re.search(r"Telegram\s+삭제됨\s+\d{4}-\d{2}-\d{2} KST\s+\d{4}-\d{2}-\d{2} KST", mine), mine
        # The group photo's finding is still being reviewed: said so, in plain Korean.
        assert "검토 중" in page.locator("#under-review").inner_text()
        assert "찾아낸 자료를 검토하고 있습니다(1건)" in mine, mine
        assert "t.me" not in page.content() and page.locator("img.thumb").count() == 0
        # The platform partner: only the notice sent to her platform, never the draft.
        _sign_in(page, base, "tg-partner", "/notices")
        listed = page.locator("main").inner_text()
        assert "귀 플랫폼 앞으로 온 삭제 요청" in listed and "JKM-1-1" in listed and "종결" in listed, listed
        shot(page, "walk-13-partner")
        assert page.locator(f"a[href='/takedowns/{nid}']").count() == 1, listed
        assert page.locator(f"a[href='/takedowns/{draft_id}']").count() == 0, listed
        page.goto(f"{base}/takedowns/{draft_id}")
        assert page.locator("#notice-status").count() == 0
        assert not [e for e in errors if "Content Security Policy" in e], errors
    print(f"walk took {time.monotonic() - started:.1f}s")
