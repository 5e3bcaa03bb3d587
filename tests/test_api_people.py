"""Enrolment over the API: consent is required, photos are checked, withdrawal stops face search at once."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api_harness import bearer, make_harness
from jikimi.store import audit


def test_enrol_needs_consent_and_withdraw(db_url: str, shared: Path) -> None:
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    h.add_user("inv", "investigator")
    c = h.client()
    cw, inv = bearer(h.token("worker")), bearer(h.token("inv"))
    photo = (shared / "faces" / "portraits" / "obama" / "obama.jpg").read_bytes()
    files = [("photos", ("face.jpg", photo, "image/jpeg"))]
    form = {"name": "Person A", "consent_by": "herself"}
    refused = c.post("/api/v1/people", data=form, files=files, headers=cw)
    assert refused.status_code == 422 and "consent" in refused.json()["detail"]
    assert (
        c.post(
            "/api/v1/people", data={**form, "consent_confirmed": "true"}, files=files, headers=inv
        ).status_code
        == 403
    )
    bad = c.post(
        "/api/v1/people",
        data={**form, "consent_confirmed": "true"},
        files=[("photos", ("x.jpg", b"not a photo", "image/jpeg"))],
        headers=cw,
    )
    assert bad.status_code == 400 and bad.json()["detail"]  # no usable face: nobody enrolled, a reason
    ok = c.post("/api/v1/people", data={**form, "consent_confirmed": "true"}, files=files, headers=cw)
    assert ok.status_code == 201, ok.text
    person = ok.json()["person"]
    assert person["searchable"] and person["consent"]["given_by"] == "herself"
    assert person["consent"]["recorded_by"] == "api:worker"
    listed = c.get("/api/v1/people", headers=inv).json()
    assert [p["name"] for p in listed] == ["Person A"]
    gone = c.post(f"/api/v1/people/{person['id']}/withdraw", json={"reason": "asked"}, headers=cw)
    assert gone.status_code == 200 and not gone.json()["searchable"] and gone.json()["faces"] == 0
    assert c.post(f"/api/v1/people/{person['id']}/withdraw", json={}, headers=cw).status_code == 422
    assert c.get("/api/v1/people", headers=inv).json() == []
    with h.store.session() as s:
        actions = [e.action for e in audit.entries(s)]
    assert "person.withdraw" in actions


def test_user_cli_creates_the_first_admin(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jikimi.cli import app

    monkeypatch.setenv("DEMO_PW", "a long demo passphrase")
    runner = CliRunner()
    r = runner.invoke(app, ["user", "create", "admin", "--name", "Admin", "--password-env", "DEMO_PW"])
    assert r.exit_code == 0, r.output
    again = runner.invoke(app, ["user", "create", "admin", "--password-env", "DEMO_PW"])
    assert again.exit_code == 2 and "already exists" in again.output
    weak = runner.invoke(app, ["user", "create", "other", "--password", "short"])
    assert weak.exit_code == 2
    token = runner.invoke(app, ["user", "token", "admin", "--name", "ci"])
    assert token.exit_code == 0 and token.output.strip().startswith("jk_")
    listed = runner.invoke(app, ["user", "list"])
    assert "admin" in listed.output
