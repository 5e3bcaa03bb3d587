"""The authorisation matrix: every role (and nobody) against every endpoint.

The table below is the policy, written out independently of the code: a new endpoint that is not in it fails
``test_every_operation_is_in_the_matrix``. Allowed roles must get past authentication and authorisation (any
status but 401/403; a placeholder id gives 404, an empty body 422); others get 403, and nobody gets 401.
"""

from __future__ import annotations

import pytest

from api_harness import ROLES, bearer, make_harness

A, CW, INV, P, V = "admin", "case_worker", "investigator", "partner", "victim"
PUBLIC = "public"
STAFF = {A, CW, INV}
WRITERS = {A, CW}
TOKEN_USERS = {A, CW, INV, P}
EVERYONE = set(ROLES)

# (method, path, allowed roles or PUBLIC)
API: list[tuple[str, str, set[str] | str]] = [
    ("GET", "/healthz", PUBLIC),
    ("GET", "/readyz", PUBLIC),
    ("GET", "/metrics", {A}),
    ("GET", "/api/v1/me", EVERYONE),
    ("POST", "/api/v1/auth/token", PUBLIC),
    ("GET", "/api/v1/auth/tokens", TOKEN_USERS),
    ("POST", "/api/v1/auth/tokens", TOKEN_USERS),
    ("DELETE", "/api/v1/auth/tokens/{token_id}", TOKEN_USERS),
    ("GET", "/api/v1/users", {A}),
    ("POST", "/api/v1/users", {A}),
    ("GET", "/api/v1/settings/takedown", {A}),
    ("PUT", "/api/v1/settings/takedown", {A}),
    ("PATCH", "/api/v1/users/{username}", {A}),
    ("GET", "/api/v1/audit", {A, INV}),
    ("GET", "/api/v1/audit/verify", {A, INV}),
    ("POST", "/h/hash", TOKEN_USERS),
    ("GET", "/m/lookup", TOKEN_USERS),
    ("POST", "/m/lookup", TOKEN_USERS),
    ("GET", "/m/raw_lookup", STAFF),
    ("POST", "/m/compare", TOKEN_USERS),
    ("GET", "/m/index/status", TOKEN_USERS),
    ("GET", "/c/banks", STAFF),
    ("GET", "/c/bank/{bank_name}", STAFF),
    ("GET", "/c/bank/{bank_name}/content/{content_id}", STAFF),
    ("GET", "/api/v1/banks", STAFF),
    ("POST", "/api/v1/banks", WRITERS),
    ("PATCH", "/api/v1/banks/{name}", WRITERS),
    ("GET", "/api/v1/banks/{name}/entries", STAFF),
    ("POST", "/api/v1/banks/{name}/entries", WRITERS),
    ("POST", "/api/v1/banks/{name}/files", WRITERS),
    ("POST", "/api/v1/hashes/lookup", STAFF),
    ("GET", "/api/v1/feed", {A, P}),
    ("GET", "/api/v1/banks/{name}/shares", STAFF),
    ("PUT", "/api/v1/banks/{name}/shares/{platform}", WRITERS),
    ("DELETE", "/api/v1/banks/{name}/shares/{platform}", WRITERS),
    ("GET", "/api/v1/people", STAFF),
    ("GET", "/api/v1/people/{person_id}", STAFF),
    ("POST", "/api/v1/people", WRITERS),
    ("POST", "/api/v1/people/{person_id}/withdraw", WRITERS),
    ("POST", "/api/v1/people/reembed", WRITERS),
    ("POST", "/api/v1/people/{person_id}/reembed", WRITERS),
    ("GET", "/api/v1/people/{person_id}/sources", STAFF),
    ("POST", "/api/v1/people/{person_id}/sources", WRITERS),
    ("DELETE", "/api/v1/people/{person_id}/sources/{source_id}", WRITERS),
    ("GET", "/api/v1/takedowns", TOKEN_USERS),
    ("GET", "/api/v1/takedowns/{notice_id}", TOKEN_USERS),
    ("GET", "/api/v1/takedowns/{notice_id}/pdf", TOKEN_USERS),
    ("POST", "/api/v1/cases/{case_id}/takedowns", WRITERS),
    ("POST", "/api/v1/takedowns/{notice_id}/approve", WRITERS),
    ("POST", "/api/v1/takedowns/{notice_id}/send", WRITERS),
    ("POST", "/api/v1/takedowns/{notice_id}/withdraw", WRITERS),
    ("POST", "/api/v1/takedowns/{notice_id}/mark", WRITERS),
    ("GET", "/api/v1/takedowns/{notice_id}/eml", WRITERS),
    ("POST", "/api/v1/takedowns/{notice_id}/sent-by-hand", WRITERS),
    ("GET", "/api/v1/settings/smtp", {A}),
    ("POST", "/api/v1/cases/{case_id}/takedown-items", WRITERS),
    ("GET", "/api/v1/alerts", STAFF),
    ("POST", "/api/v1/alerts/{alert_id}/resolve", WRITERS),
    ("GET", "/api/v1/reports/takedowns", STAFF),
    ("GET", "/api/v1/my-case", {A, V}),
    ("POST", "/api/v1/scans", WRITERS),
    ("GET", "/api/v1/scans", STAFF),
    ("GET", "/api/v1/scans/runs", STAFF),
    ("GET", "/api/v1/scans/{job_id}", STAFF),
    ("GET", "/api/v1/findings", STAFF),
    ("GET", "/api/v1/findings/{finding_id}", STAFF),
    ("POST", "/api/v1/findings/{finding_id}/confirm", WRITERS),
    ("POST", "/api/v1/findings/{finding_id}/dismiss", WRITERS),
    ("POST", "/api/v1/findings/{finding_id}/reopen", WRITERS),
    ("GET", "/api/v1/findings/{finding_id}/thumbnail", STAFF),
    ("GET", "/api/v1/findings/{finding_id}/enrolled-face/{face_id}", STAFF),
    ("GET", "/api/v1/cases", STAFF),
    ("GET", "/api/v1/cases/{case_id}", STAFF),
    ("GET", "/api/v1/cases/{case_id}/export", STAFF),
    # a victim for her own case only (another case: 403, tested in test_web_selfhash)
    ("POST", "/api/v1/cases/{case_id}/self-hashes", {A, CW, V}),
]

# Pages (HTML). A role without the page gets 403; "/" sends roles without the dashboard to their own page.
PAGES: list[tuple[str, str, set[str] | str]] = [
    ("GET", "/login", PUBLIC),
    ("GET", "/account", EVERYONE),
    ("GET", "/docs", TOKEN_USERS),
    ("GET", "/users", {A}),
    ("GET", "/audit", {A, INV}),
    ("GET", "/people", STAFF),
    ("GET", "/banks", STAFF),
    ("GET", "/takedowns", TOKEN_USERS),
    ("GET", "/notices", TOKEN_USERS),
    ("GET", "/my-case", {A, V}),
    ("GET", "/settings", {A}),
    ("GET", "/scans", STAFF),
    ("GET", "/review", STAFF),
    ("GET", "/cases", STAFF),
    ("GET", "/cases/{case_id}", STAFF),
    ("GET", "/cases/{case_id}/hash", WRITERS),
    ("GET", "/my-case/hash", {V}),  # a victim's own case; accounts without one (admins) have nothing to hash
]

PLACEHOLDERS = {
    "token_id": "999999",
    "bank_name": "no-such-bank",
    "content_id": "999999",
    "username": "nobody-here",
    "name": "no-such-bank",
    "person_id": "999999",
    "source_id": "999999",
    "alert_id": "999999",
    "notice_id": "999999",
    "case_id": "999999",
    "job_id": "no-such-job",
    "finding_id": "999999",
    "face_id": "999999",
    "platform": "example-platform",
}


def _url(path: str) -> str:
    for key, value in PLACEHOLDERS.items():
        path = path.replace("{" + key + "}", value)
    if path in ("/m/lookup", "/m/raw_lookup"):
        path += "?signal_type=pdq&signal=" + "0" * 64
    return path


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    h = make_harness(db_url)
    return h, h.client(), h.role_tokens()


def _check(client, tokens, method: str, path: str, allowed: set[str] | str) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    url = _url(path)
    kwargs = {"json": {}} if method in ("POST", "PATCH") else {}
    if allowed != PUBLIC:
        r = client.request(method, url, **kwargs)
        if r.status_code != 401:
            problems.append(f"anonymous {method} {path}: {r.status_code}, expected 401/redirect")
    for role in ROLES:
        r = client.request(method, url, headers=bearer(tokens[role]), **kwargs)
        if r.status_code >= 500:
            problems.append(f"{role} {method} {path}: server error {r.status_code}")
        elif allowed == PUBLIC or role in allowed:
            if r.status_code in (401, 403):
                problems.append(f"{role} {method} {path}: {r.status_code}, expected access")
        elif r.status_code != 403:
            problems.append(f"{role} {method} {path}: {r.status_code}, expected 403")
    return problems


def test_authorisation_matrix(world) -> None:  # type: ignore[no-untyped-def]
    _, client, tokens = world
    problems: list[str] = []
    for method, path, allowed in API:
        problems += _check(client, tokens, method, path, allowed)
    assert not problems, "\n".join(problems)


def test_page_matrix(world) -> None:  # type: ignore[no-untyped-def]
    _, client, tokens = world
    problems: list[str] = []
    for method, path, allowed in PAGES:
        url = _url(path)
        if allowed != PUBLIC:
            r = client.request(method, url)
            if r.status_code != 303 or not r.headers["location"].startswith("/login"):
                problems.append(f"anonymous {path}: {r.status_code}, expected a redirect to /login")
        for role in ROLES:
            r = client.request(method, url, headers=bearer(tokens[role]))
            ok = allowed == PUBLIC or role in allowed
            if (
                r.status_code >= 500
                or (ok and r.status_code in (401, 403))
                or (not ok and r.status_code != 403)
            ):
                problems.append(f"{role} {path}: {r.status_code}, expected {'access' if ok else 403}")
    # The start page: staff see the dashboard, others go to the page their role has.
    for role, target in {V: "/my-case", P: "/notices"}.items():
        r = client.get("/", headers=bearer(tokens[role]))
        assert r.status_code == 303 and r.headers["location"] == target, role
    for role in (A, CW, INV):
        assert client.get("/", headers=bearer(tokens[role])).status_code == 200
    assert not problems, "\n".join(problems)


def test_every_operation_is_in_the_matrix(world) -> None:  # type: ignore[no-untyped-def]
    h, _, _ = world
    schema = h.app.openapi()
    listed = {(m, p) for m, p, _ in API}
    in_schema = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert in_schema - listed == set(), "endpoints missing from the authorisation matrix"
    assert listed - in_schema == set(), "matrix lists endpoints that do not exist"
