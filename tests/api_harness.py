"""Helpers for the API and web tests: an app over a test database, users of each role, tokens, sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient

from jikimi.api import ApiSettings, create_app
from jikimi.store import Store, accounts, open_store

PASSWORD = "correct horse battery staple"
ROLES = ["admin", "case_worker", "investigator", "partner", "victim"]
PARTNER_PLATFORM = "ExampleTube"


@dataclass
class Harness:
    store: Store
    app: FastAPI

    def client(self) -> TestClient:
        # HTTPS so the Secure session cookie is sent back, as a browser would.
        return TestClient(self.app, base_url="https://testserver", follow_redirects=False)

    def add_user(
        self, username: str, role: str, *, partner: str | None = None, case_ref: str | None = None
    ) -> None:
        with self.store.session() as s:
            accounts.create_user(
                s,
                username=username,
                password=PASSWORD,
                role=role,
                actor="test",
                partner=partner or (PARTNER_PLATFORM if role == "partner" else None),
                case_ref=case_ref or ("1" if role == "victim" else None),
            )

    def token(self, username: str) -> str:
        with self.store.session() as s:
            _, secret = accounts.create_token(s, accounts.get_user(s, username), "test", actor="test")
        return secret

    def role_tokens(self) -> dict[str, str]:
        """One user and token per role (user names are the role names)."""
        out = {}
        for role in ROLES:
            self.add_user(role.replace("_", "-"), role)
            out[role] = self.token(role.replace("_", "-"))
        return out


def make_harness(db_url: str, **settings: object) -> Harness:
    store = open_store(db_url)
    return Harness(store, create_app(store, ApiSettings(**settings)))  # type: ignore[arg-type]


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; return the session's CSRF token (from the page)."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    resp = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf.group(1)}
    )
    assert resp.status_code == 303, resp.text
    home = client.get(resp.headers["location"])
    found = re.search(r'data-csrf="([^"]+)"', home.text)
    assert found, home.text
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
