"""Korean and English: every string the web app shows is translated, and the language switch works."""

from __future__ import annotations

import sys
from pathlib import Path

from api_harness import login, make_harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import update_web_catalogue

from jikimi.web.i18n import load_catalogue, negotiate, translator


def test_every_string_has_a_korean_translation() -> None:
    strings = update_web_catalogue.extract()
    assert len(strings) > 100
    ko = load_catalogue("ko")
    missing = [s for s in strings if not ko.get(s)]
    assert not missing, f"untranslated (run scripts/update_web_catalogue.py and translate): {missing}"
    # Korean text really is Korean (Hangul) for sentences, not a copy of the English.
    copied = [s for s in strings if ko[s] == s and len(s) > 12]
    assert not copied, copied


def test_language_negotiation() -> None:
    assert negotiate("en-GB,en;q=0.9,ko;q=0.5") == "en"
    assert negotiate("ko-KR,ko;q=0.9") == "ko"
    assert negotiate("fr-FR") is None
    assert translator("ko")("Sign in") == "로그인"
    assert translator("en")("Sign in") == "Sign in"


def test_pages_in_both_languages_and_switch(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    h.add_user("worker", "case_worker")
    c = h.client()
    page = c.get("/login")  # no preference: Korean by default
    assert "로그인" in page.text and '<html lang="ko">' in page.text
    page = c.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert ">Sign in<" in page.text
    switched = c.get("/lang/en?next=/login")
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert "jikimi_lang=en" in switched.headers["set-cookie"]
    assert '<html lang="en">' in c.get("/login").text
    assert c.get("/lang/en?next=https://evil.example/").headers["location"] == "/"
    login(c, "worker")
    assert "Dashboard" in c.get("/").text
    c.get("/lang/ko?next=/")
    home = c.get("/").text
    assert "대시보드" in home and "로그아웃" in home and "Dashboard" not in home
