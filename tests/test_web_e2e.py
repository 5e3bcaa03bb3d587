"""End to end in real headless Chromium: sign in, language switch, enrolment with consent, banks, a takedown
notice drafted and approved. Screenshots of every step are kept under artifacts/e2e/."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from api_harness import PASSWORD, make_harness
from jikimi.store import audit
from jikimi.takedown.service import FindingRef, add_item
from web_e2e_harness import CHROMIUM, chromium, running_server, shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed"),
]


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((256, 256))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


def _loaded(page, selector: str, seconds: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Wait until an image has loaded (polled from Python: the page's CSP forbids Playwright's eval)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.evaluate(f"document.querySelector({selector!r}).complete"):
            return
        time.sleep(0.1)
    pytest.fail(f"{selector} did not load")


def test_case_worker_journey(tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "help@centre.example")
    h = make_harness(f"sqlite:///{tmp_path}/e2e.db")
    h.add_user("worker", "case_worker")
    h.add_user("victim-7", "victim", case_ref="7")
    with h.store.session() as s:
        add_item(s, FindingRef(case_id="7", url="https://x.com/someone/status/123", sha256="ab" * 32))
    face = shared / "faces" / "portraits" / "obama" / "obama.jpg"
    with running_server(h.app) as base, chromium() as ctx:
        page = ctx.new_page()  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/login")
        assert page.locator("h1").inner_text() == "로그인"
        shot(page, "01-login-ko")
        # Wrong password first: a clear message, no session.
        page.fill("input[name=username]", "worker")
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        assert "틀렸습니다" in page.locator(".error").inner_text()
        page.fill("input[name=username]", "worker")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        cookies = {c["name"]: c for c in ctx.cookies()}  # type: ignore[attr-defined]
        assert cookies["jikimi_session"]["httpOnly"] and cookies["jikimi_session"]["secure"]
        assert cookies["jikimi_session"]["sameSite"] == "Strict"
        assert page.locator("h1").inner_text() == "대시보드"
        shot(page, "02-dashboard-ko")
        # Language switch.
        page.click("a[data-lang=en]")
        assert page.locator("h1").inner_text() == "Dashboard"
        shot(page, "03-dashboard-en")
        page.click("a[data-lang=ko]")
        assert page.locator("h1").inner_text() == "대시보드"

        # Banks: create one and add a (generated) file by its hashes.
        page.goto(f"{base}/banks")
        page.fill("form[action='/banks'] input[name=name]", "e2e-bank")
        page.click("form[action='/banks'] button[type=submit]")
        page.wait_for_selector("text=e2e-bank")
        page.set_input_files("#banks input[type=file]", str(_png(tmp_path / "known.png", 3)))
        page.click("#banks button[type=submit]")
        page.wait_for_load_state()
        assert "1 / 1" in page.locator("#banks").inner_text()
        shot(page, "04-banks")

        # Upload scan: the generated file dropped on the page, progress until done.
        page.goto(f"{base}/scans")
        page.set_input_files(
            "#scan-form input[type=file]", [str(tmp_path / "known.png"), str(_png(tmp_path / "b.png", 4))]
        )
        page.wait_for_selector("[data-scan-status=done], [data-scan-status=failed]", timeout=120_000)
        shot(page, "05-scan-done")
        assert page.locator("[data-scan-status]").get_attribute("data-scan-status") == "done", page.locator(
            "[data-scan-status]"
        ).inner_text()
        done = page.locator("#scan-done").inner_text()
        assert done.startswith("완료. 2 개 항목 검사, 1 건 발견"), done  # 2 files scanned, 1 in the bank

        # Review: blurred by default; "v" reveals one (audited), "g" greyscale, "c" confirms.
        page.goto(f"{base}/review")
        card = page.locator("[data-finding]").first
        img = card.locator("img.thumb")
        assert "reveal" not in (img.get_attribute("src") or "")
        assert "일치" in card.locator(".reasons").inner_text()  # the reason, in Korean
        _loaded(page, "img.thumb")
        shot(page, "06-review-blurred")
        page.keyboard.press("g")
        assert "greyscale" in (page.locator("body").get_attribute("class") or "")
        page.keyboard.press("v")
        page.wait_for_selector("img.thumb[src*='reveal=true']")
        _loaded(page, "img.thumb")
        shot(page, "07-review-revealed-grey")
        page.keyboard.press("g")
        page.keyboard.press("c")
        page.wait_for_selector("[data-finding] .badge.confirmed")
        shot(page, "08-review-confirmed")
        with h.store.session() as s:
            actions = [e.action for e in audit.entries(s)]
        assert "vault.view" in actions and "finding.confirm" in actions
        # The case page: sightings on a timeline, the evidence (blurred), the export link.
        page.click("[data-finding] a[href^='/cases/']")
        page.wait_for_selector("#timeline")
        assert page.locator("#export").count() == 1
        assert page.locator("img.thumb.blurred").count() >= 1
        text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
        # system words in Korean too: the unidentified case, the source kind
        assert "신원 미상" in text and "파일" in text, text
        assert "0.00" not in text, text  # no raw scores: the evidence is in words
        assert "Unidentified" not in text and "nudity" not in text, text
        shot(page, "09-case")

        # Enrolment: refused without the consent box, accepted with it.
        page.goto(f"{base}/people")
        page.fill("#enrol-form input[name=name]", "Test Person")
        page.fill("#enrol-form input[name=consent_by]", "본인")
        page.set_input_files("#enrol-form input[name=photos]", str(face))
        shot(page, "11-enrol-form")
        page.check("#enrol-form input[name=consent_confirmed]")
        page.click("#enrol-form button[type=submit]")
        page.wait_for_selector("#enrol-result", timeout=60_000)
        assert "Test Person" in page.locator("#enrol-result").inner_text()
        assert "검색 가능" in page.locator("#people").inner_text()
        shot(page, "12-enrolled")

        # Takedown: draft the case's notice, then approve it.
        page.goto(f"{base}/takedowns")
        page.fill("#draft-form input[name=case_id]", "7")
        page.click("#draft-form button[type=submit]")
        page.wait_for_selector("#notice-status")
        assert page.locator("#notice-status").inner_text() == "작성됨"
        note = page.inner_text("dl")  # the drafting notes, one per line, in Korean
        assert "'사용 전 확인' 표시" in note and "verify before use" not in note, note
        assert page.locator("dl dd").first.inner_text() == "X (Twitter)"  # the directory's name, not "x"
        shot(page, "13-notice-drafted")
        page.click("#approve")
        page.wait_for_selector("#notice-status:has-text('승인됨')")
        shot(page, "14-notice-approved")

        # Signing out ends the session.
        page.click("button:has-text('로그아웃')")
        page.wait_for_url(f"{base}/login")
        page.goto(f"{base}/takedowns")
        assert page.url.startswith(f"{base}/login")

        # A victim signs in and sees only her own case's progress.
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "victim-7")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/my-case")
        assert page.locator("#case-counts").count() == 1
        assert "x.com" not in page.content()  # no links, no images
        assert page.locator("nav a").all_inner_texts() == ["내 사건"]
        shot(page, "15-victim-my-case")
        page.goto(f"{base}/review")
        assert page.locator("h1").inner_text() == "허용되지 않음"
        assert not [e for e in errors if "Content Security Policy" in e], errors
