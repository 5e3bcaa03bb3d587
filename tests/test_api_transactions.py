"""One transaction per request (``jikimi.api.deps``), and the deliberate exceptions that must still hold: a
failed sign-in counts although the request fails, a session's last-seen time is kept whatever the endpoint
does, and the bank matcher sees a victim's self-submitted hashes as soon as the answer is sent."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from api_harness import PASSWORD, bearer, login, make_harness
from jikimi.store import accounts, findings
from jikimi.store.schema.accounts import LoginAttempt, WebSession
from jikimi.store.schema.base import utcnow

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def _web_sign_in(c: TestClient, username: str, password: str) -> int:
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": csrf.group(1)})
    return r.status_code


def test_failed_sign_ins_count_towards_the_lockout(db_url: str) -> None:
    h = make_harness(db_url)
    h.add_user("her", "investigator")
    c = h.client()
    # The sign-in form: five wrong passwords lock the account, then even the right one is refused.
    assert [_web_sign_in(c, "her", "wrong password!") for _ in range(5)] == [401] * 5
    assert _web_sign_in(c, "her", PASSWORD) == 429
    with h.store.session() as s:
        assert len(s.scalars(select(LoginAttempt).where(LoginAttempt.username == "her")).all()) == 6
        accounts.unlock(s, accounts.get_user(s, "her"), actor="test")
    # The token exchange answers 401 (its own transaction is rolled back), yet the attempt counts.
    r = h.client().post("/api/v1/auth/token", json={"username": "her", "password": "wrong password!"})
    assert r.status_code == 401
    with h.store.session() as s:
        assert accounts.get_user(s, "her").failed_logins == 1
    # Changing the password with a wrong current one counts too.
    csrf = login(c, "her")
    r = c.post(
        "/account/password",
        data={"current": "wrong password!", "new": "x" * 20, "again": "x" * 20, "csrf_token": csrf},
    )
    assert r.status_code == 422
    with h.store.session() as s:
        user = accounts.get_user(s, "her")
        assert user.failed_logins == 1  # the successful sign-in reset it; this failure counted
        assert accounts.authenticate(s, "her", PASSWORD).id == user.id  # the password is unchanged


def test_last_seen_is_kept_when_the_endpoint_fails(db_url: str) -> None:
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    c = h.client()
    login(c, "worker")
    long_ago = utcnow() - timedelta(minutes=10)
    with h.store.session() as s:
        for ws in s.scalars(select(WebSession)):
            ws.last_seen_at = long_ago
    assert c.get("/api/v1/cases/999999").status_code == 404  # the request's transaction is rolled back
    with h.store.session() as s:
        ws = s.scalars(select(WebSession).where(WebSession.revoked_at.is_(None))).one()
        assert ws.last_seen_at > long_ago + timedelta(minutes=9)


def test_a_lookup_right_after_a_self_hash_finds_it(db_url: str) -> None:
    h = make_harness(db_url)
    with h.store.session() as s:
        case_id = findings.case_for(s, 1)[0].id
    h.add_user("worker", "case_worker")
    c = h.client()
    hdr = bearer(h.token("worker"))
    lookup = {"pdq": PDQ}
    # The matcher is built (and indexed) before the hash exists; it refreshes itself only every few seconds.
    assert c.post("/api/v1/hashes/lookup", json=lookup, headers=hdr).json() == []
    files = [{"kind": "image", "md5": "0" * 31 + "1", "pdq": PDQ, "pdq_quality": 100, "dihedral": {}}]
    r = c.post(f"/api/v1/cases/{case_id}/self-hashes", json={"consent": True, "files": files}, headers=hdr)
    assert r.status_code == 201, r.text
    matches = c.post("/api/v1/hashes/lookup", json=lookup, headers=hdr).json()
    assert [m["bank"] for m in matches] == [r.json()["bank"]]


def test_after_commit_runs_once_only_after_a_commit_and_never_fails_it(tmp_path: Path) -> None:
    from sqlalchemy import text

    from jikimi.api.deps import after_commit
    from jikimi.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/a.db")
    calls: list[str] = []
    with store.session() as s:
        s.execute(text("select 1"))
        after_commit(s, lambda: calls.append("refused"))
        s.rollback()  # a page refusing its form: the work is not due, not even at the next commit
        after_commit(s, lambda: calls.append("kept"))

        def boom() -> None:
            raise RuntimeError("index refresh failed")

        after_commit(s, boom)  # logged; the committed request still answers
    assert calls == ["kept"]
