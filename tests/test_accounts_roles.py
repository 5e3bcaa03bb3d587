"""A new account's role and what goes with it: no default role, no inconsistent combination (a victim's
login must never become an administrator), and the form keeps what was typed after a refusal."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from api_harness import PASSWORD, bearer, login, make_harness
from jikimi.errors import ValidationError
from jikimi.store import accounts, open_store

# (role, partner, case_ref, words of the reason)
INCONSISTENT = [
    ("victim", None, None, "needs her case"),
    ("admin", None, "12", "only a victim account has a case"),
    ("case_worker", None, "12", "only a victim account has a case"),
    ("partner", "x", "12", "only a victim account has a case"),
    ("partner", None, None, "needs the platform name"),
    ("admin", "x", None, "only a platform partner account has a platform"),
    ("victim", "x", "12", "only a platform partner account has a platform"),
    ("", None, None, "no role chosen"),
]


@pytest.mark.parametrize(("role", "partner", "case_ref", "words"), INCONSISTENT)
def test_store_refuses_inconsistent_combinations(
    tmp_path: Path, role: str, partner: str | None, case_ref: str | None, words: str
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    try:
        with store.session() as s:
            with pytest.raises(ValidationError, match=words):
                accounts.create_user(
                    s, username="someone", password=PASSWORD, role=role, partner=partner, case_ref=case_ref
                )
            assert accounts.list_users(s) == []
    finally:
        store.dispose()


def test_store_keeps_consistent_combinations(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    try:
        with store.session() as s:
            v = accounts.create_user(s, username="v1", password=PASSWORD, role="victim", case_ref=" 12 ")
            p = accounts.create_user(s, username="p1", password=PASSWORD, role="partner", partner="x")
            a = accounts.create_user(s, username="a1", password=PASSWORD, role="admin", case_ref="  ")
            assert (v.role, v.case_ref, v.partner) == ("victim", "12", None)
            assert (p.role, p.case_ref, p.partner) == ("partner", None, "x")
            assert (a.role, a.case_ref, a.partner) == ("admin", None, None)  # blank counts as absent
    finally:
        store.dispose()


def test_api_refuses_inconsistent_combinations(db_url: str) -> None:
    h = make_harness(db_url)
    h.add_user("root", "admin")
    c = h.client()
    root = bearer(h.token("root"))
    for role, partner, case_ref, words in INCONSISTENT:
        if not role:
            continue  # the API schema requires a role (pydantic refuses the request)
        body = {"username": "newbie", "password": PASSWORD, "role": role}
        body |= {"partner": partner} if partner else {}
        body |= {"case_ref": case_ref} if case_ref else {}
        r = c.post("/api/v1/users", json=body, headers=root)
        assert r.status_code == 422, (body, r.text)
        assert words in r.json()["detail"], r.text
    assert [u["username"] for u in c.get("/api/v1/users", headers=root).json()] == ["root"]
    # No role at all is refused too.
    assert (
        c.post("/api/v1/users", json={"username": "n2", "password": PASSWORD}, headers=root).status_code
        == 422
    )
    ok = c.post(
        "/api/v1/users",
        json={"username": "victim-1", "password": PASSWORD, "role": "victim", "case_ref": "12"},
        headers=root,
    )
    assert ok.status_code == 201 and ok.json()["role"] == "victim" and ok.json()["case_ref"] == "12"


def _selected_role(page: str) -> str | None:
    select = re.search(r'<select name="role"[^>]*>(.*?)</select>', page, re.S)
    assert select, page
    found = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return found.group(1) if found else None


def _value(page: str, name: str) -> str:
    found = re.search(rf'<input name="{name}"[^>]*value="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def test_form_has_no_default_role_and_keeps_what_was_typed(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    h.add_user("root", "admin")
    c = h.client()
    csrf = login(c, "root")
    page = c.get("/users").text
    # The role starts on the empty "choose" option, and the browser requires a choice.
    assert re.search(r'<select name="role" required>', page)
    assert _selected_role(page) == ""
    assert "역할을 고르세요" in page

    # A victim's account with a case number, but no role chosen: refused, nothing created, nothing lost.
    typed = {"username": "kim-victim", "display_name": "김 피해자", "case_ref": "2026-041", "partner": ""}
    page = c.post("/users", data={**typed, "password": PASSWORD, "role": "", "csrf_token": csrf})
    assert page.status_code == 422
    assert "계정의 역할을 고르지 않았습니다" in page.text
    assert _value(page.text, "username") == "kim-victim"
    assert _value(page.text, "display_name") == "김 피해자"
    assert _value(page.text, "case_ref") == "2026-041"
    assert _selected_role(page.text) == ""

    # The case number with the administrator role: refused in Korean (never silently an administrator).
    page = c.post("/users", data={**typed, "password": PASSWORD, "role": "admin", "csrf_token": csrf})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "사건 번호는 피해자 계정에만 있습니다" in text and "역할이 '관리자'인 계정" in text
    assert _selected_role(page.text) == "admin" and _value(page.text, "case_ref") == "2026-041"

    # A rejected password keeps the role and the case.
    page = c.post("/users", data={**typed, "password": "short", "role": "victim", "csrf_token": csrf})
    assert page.status_code == 422 and "비밀번호가 12자보다 짧습니다" in page.text
    assert _selected_role(page.text) == "victim"
    assert _value(page.text, "case_ref") == "2026-041" and _value(page.text, "username") == "kim-victim"
    assert 'name="password" type="password" required minlength="12" autocomplete="new-password">' in page.text

    # A platform on a case worker's account, in English.
    c.get("/lang/en?next=/users")
    page = c.post(
        "/users",
        data={
            "username": "cw",
            "password": PASSWORD,
            "role": "case_worker",
            "partner": "x",
            "csrf_token": csrf,
        },
    )
    assert page.status_code == 422
    assert "only a platform partner account has a platform" in page.text
    assert _selected_role(page.text) == "case_worker" and _value(page.text, "partner") == "x"

    with h.store.session() as s:
        assert [u.username for u in accounts.list_users(s)] == ["root"]
    ok = c.post("/users", data={**typed, "password": PASSWORD, "role": "victim", "csrf_token": csrf})
    assert ok.status_code == 303
    with h.store.session() as s:
        u = accounts.get_user(s, "kim-victim")
        assert (u.role, u.case_ref) == ("victim", "2026-041")
