"""Accounts and authentication: argon2id, sessions with CSRF, tokens hashed at rest, lockout, headers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from api_harness import PASSWORD, Harness, bearer, make_harness
from jikimi.store import accounts, audit
from jikimi.store.schema.accounts import ApiToken, User, WebSession


def test_login_session_cookie_csrf_logout(db_url: str) -> None:
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    c = h.client()
    assert c.get("/").status_code == 303  # anonymous: to the login page
    page = c.get("/login")
    form_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    # The login form itself is CSRF-protected (double submit).
    bad = c.post("/login", data={"username": "worker", "password": PASSWORD, "csrf_token": "forged"})
    assert bad.status_code == 403
    page = c.get("/login")
    form_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    ok = c.post("/login", data={"username": "worker", "password": PASSWORD, "csrf_token": form_csrf})
    assert ok.status_code == 303
    cookie = next(
        v for k, v in ok.headers.multi_items() if k == "set-cookie" and v.startswith("jikimi_session=")
    )
    low = cookie.lower()
    assert "httponly" in low and "secure" in low and "samesite=strict" in low
    home = c.get("/")
    assert home.status_code == 200
    csrf = re.search(r'data-csrf="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    # A state change with the cookie but without the CSRF token is refused; with it, it works.
    assert c.post("/logout").status_code == 403
    assert (
        c.post("/logout", headers={"Origin": "https://evil.example", "X-CSRF-Token": csrf}).status_code == 403
    )
    out = c.post("/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 303
    assert c.get("/api/v1/me").status_code == 401
    with h.store.session() as s:
        # Only the hash of the session id is stored.
        hashes = list(s.scalars(select(WebSession.session_hash)))
        assert hashes and all(len(x) == 64 for x in hashes)
        actions = [e.action for e in audit.entries(s)]
        assert "auth.login" in actions and "auth.logout" in actions
        assert audit.verify(s).ok


def test_passwords_are_argon2id_and_tokens_hashed(db_url: str) -> None:
    h = make_harness(db_url)
    h.add_user("inv", "investigator")
    c = h.client()
    resp = c.post("/api/v1/auth/token", json={"username": "inv", "password": PASSWORD, "name": "ci"})
    assert resp.status_code == 201, resp.text
    secret = resp.json()["token"]
    assert secret.startswith("jk_")
    me = c.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["role"] == "investigator"
    assert "evidence:export" in me.json()["permissions"]
    with h.store.session() as s:
        user = s.scalar(select(User).where(User.username == "inv"))
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        stored = list(s.scalars(select(ApiToken.token_hash)))
        assert secret not in stored and all(len(x) == 64 for x in stored)
    # Revoke: the token stops working at once.
    tokens = c.get("/api/v1/auth/tokens", headers=bearer(secret)).json()
    assert c.delete(f"/api/v1/auth/tokens/{tokens[0]['id']}", headers=bearer(secret)).status_code == 204
    assert c.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert c.get("/api/v1/me", headers=bearer("jk_not-a-token")).status_code == 401


def test_lockout_and_rate_limit(db_url: str) -> None:
    h = make_harness(db_url)
    h.add_user("victim-target", "investigator")
    c = h.client()
    for _ in range(5):
        r = c.post("/api/v1/auth/token", json={"username": "victim-target", "password": "wrong password!"})
        assert r.status_code == 401
    # Locked now: even the right password is refused, with Retry-After.
    r = c.post("/api/v1/auth/token", json={"username": "victim-target", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    with h.store.session() as s:
        accounts.unlock(s, accounts.get_user(s, "victim-target"), actor="test")
    assert (
        c.post("/api/v1/auth/token", json={"username": "victim-target", "password": PASSWORD}).status_code
        == 201
    )
    # Per-address limit: many failures for many names from one address.
    with h.store.session() as s:
        policy = accounts.LockoutPolicy(ip_failures=3)
        for i in range(3):
            with pytest.raises(accounts.AuthError):
                accounts.authenticate(s, f"nobody{i}", "x" * 12, ip="10.0.0.9", policy=policy)
        with pytest.raises(accounts.LockedError):
            accounts.authenticate(s, "victim-target", PASSWORD, ip="10.0.0.9", policy=policy)


def test_weak_password_and_bad_names_rejected(db_url: str) -> None:
    h = make_harness(db_url)
    with h.store.session() as s, pytest.raises(accounts.ValidationError):
        accounts.create_user(s, username="a", password="short", role="admin", actor="t")
    with h.store.session() as s, pytest.raises(accounts.ValidationError):
        accounts.create_user(s, username="bob", password="bob-is-my-password", role="admin", actor="t")
    with h.store.session() as s, pytest.raises(accounts.ValidationError):
        accounts.create_user(s, username="p1", password=PASSWORD, role="partner", actor="t")


def test_security_headers_static_and_traversal(tmp_path: object) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")  # type: ignore[str-bytes-safe]
    c = h.client()
    r = c.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"].startswith("no-store")
    assert "strict-transport-security" in r.headers
    assert c.get("/static/app.css").status_code == 200
    assert c.get("/static/vendor/htmx.min.js").status_code == 200
    for evil in ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2f..%2fconfig.py"]:
        assert c.get(evil).status_code == 404
    # Redirect after sign-in only to this site.
    page = c.get("/login?next=//evil.example/x")
    assert 'value="/"' in page.text


def test_body_limit(tmp_path: object) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db", max_upload_bytes=1000)  # type: ignore[str-bytes-safe]
    c = h.client()
    r = c.post("/api/v1/auth/token", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_health_ready_metrics(tmp_path: object) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")  # type: ignore[str-bytes-safe]
    h.add_user("root", "admin")
    h.add_user("inv", "investigator")
    c = h.client()
    assert c.get("/healthz").json()["status"] == "ok"
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers=bearer(h.token("inv"))).status_code == 403
    m = c.get("/metrics", headers=bearer(h.token("root")))
    assert m.status_code == 200
    assert 'jikimi_http_requests_total{method="GET",route="/readyz",status="200"}' in m.text


def test_admin_pages_create_and_disable(tmp_path: object) -> None:
    from api_harness import login

    h = make_harness(f"sqlite:///{tmp_path}/t.db")  # type: ignore[str-bytes-safe]
    h.add_user("root", "admin")
    c = h.client()
    csrf = login(c, "root")
    form = {"username": "newbie", "password": "short", "role": "investigator", "csrf_token": csrf}
    weak = c.post("/users", data=form)
    assert weak.status_code == 422 and "12" in weak.text
    ok = c.post("/users", data={**form, "password": PASSWORD})
    assert ok.status_code == 303
    token = h.token("newbie")
    assert c.get("/api/v1/me", headers=bearer(token)).status_code == 200
    asked = c.post("/users/newbie/disable", data={"csrf_token": csrf})  # a confirmation step first
    assert asked.status_code == 200 and 'id="confirm-yes"' in asked.text
    assert c.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert c.post("/users/newbie/disable", data={"csrf_token": csrf, "confirmed": "yes"}).status_code == 303
    assert c.get("/api/v1/me", headers=bearer(token)).status_code == 401  # disabling revokes tokens
    assert c.post("/users/root/disable", data={"csrf_token": csrf}).status_code == 303
    assert c.get("/users").status_code == 200  # an administrator cannot disable herself
    with h.store.session() as s:
        assert [e.action for e in audit.entries(s)][-1] == "user.disable"


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_redirect_after_sign_in_stays_on_this_site(target: str) -> None:
    from jikimi.api.ui import safe_next

    out = safe_next(target)
    assert out.startswith("/") and not out.startswith(("//", "/\\")) and not set(out) & set("\r\n\x00")
    assert out == target or out == "/"


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_language_header_never_breaks(header: str) -> None:
    from jikimi.web.i18n import negotiate

    assert negotiate(header) in (None, "ko", "en")


def test_openapi_schema_needs_a_signed_in_user(tmp_path: object) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/o.db")
    h.add_user("reader", "investigator")
    with h.client() as c:
        assert c.get("/api/v1/openapi.json").status_code == 401
        schema = c.get("/api/v1/openapi.json", headers=bearer(h.token("reader")))
        assert schema.status_code == 200 and "/api/v1/cases" in schema.json()["paths"]
    hidden = make_harness(f"sqlite:///{tmp_path}/p.db", docs=False)
    hidden.add_user("reader", "investigator")
    with hidden.client() as c:
        assert c.get("/api/v1/openapi.json", headers=bearer(hidden.token("reader"))).status_code == 404


def test_client_address_from_a_trusted_proxy_only(tmp_path: object) -> None:
    """Behind a reverse proxy the sign-in record (and the per-address lockout) uses X-Forwarded-For, but only
    when the connection comes from a configured proxy; anyone else's header is ignored."""
    from jikimi.store.schema.accounts import LoginAttempt

    def attempts(h: Harness) -> list[str]:
        with h.store.session() as s:
            return [a.ip for a in s.query(LoginAttempt).order_by(LoginAttempt.id)]

    body = {"username": "nobody", "password": "x" * 12, "name": "t"}
    spoof = {"X-Forwarded-For": "203.0.113.7"}
    behind = make_harness(f"sqlite:///{tmp_path}/a.db", trusted_proxies=("testclient",))
    with behind.client() as c:
        assert c.post("/api/v1/auth/token", json=body, headers=spoof).status_code == 401
    assert attempts(behind) == ["203.0.113.7"]
    direct = make_harness(f"sqlite:///{tmp_path}/b.db", trusted_proxies=("10.0.0.1",))
    with direct.client() as c:
        assert c.post("/api/v1/auth/token", json=body, headers=spoof).status_code == 401
    assert attempts(direct) == ["testclient"]
