"""Takedowns over the API: partners see only their platform's notices; draft → approve → send → removed;
the victim sees her own case's progress; figures reach the report, the dashboard and /metrics."""

from __future__ import annotations

import pytest

from api_harness import bearer, make_harness
from jikimi.takedown.service import FindingRef, add_item


def test_notice_flow_and_partner_scope(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "help@centre.example")
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    h.add_user("root", "admin")
    h.add_user("x-trust", "partner", partner="x")
    h.add_user("tt-trust", "partner", partner="tiktok")
    h.add_user("victim-a", "victim", case_ref="5")
    with h.store.session() as s:
        add_item(s, FindingRef(case_id="5", url="https://x.com/a/status/1", sha256="cd" * 32))
        add_item(s, FindingRef(case_id="5", url="https://www.tiktok.com/@a/video/2", sha256="ef" * 32))
    c = h.client()
    cw, x, tt = bearer(h.token("worker")), bearer(h.token("x-trust")), bearer(h.token("tt-trust"))
    drafted = c.post("/api/v1/cases/5/takedowns", json={"lang": "en"}, headers=cw)
    assert drafted.status_code == 201, drafted.text
    by_platform = {n["platform"]: n for n in drafted.json()["notices"]}
    assert {"x", "tiktok"} <= set(by_platform)
    nx = by_platform["x"]["id"]
    ntt = by_platform["tiktok"]["id"]
    # Partners: only the notices addressed to them; the others do not exist for them.
    assert [n["id"] for n in c.get("/api/v1/takedowns", headers=x).json()] == [nx]
    assert c.get(f"/api/v1/takedowns/{ntt}", headers=x).status_code == 404
    assert c.get(f"/api/v1/takedowns/{nx}", headers=x).status_code == 200
    assert c.get(f"/api/v1/takedowns/{nx}/pdf", headers=tt).status_code == 404
    assert c.post(f"/api/v1/takedowns/{nx}/approve", headers=x).status_code == 403
    # Sending before approval is refused with a reason; then approve, record the web-form submission, mark.
    early = c.post(f"/api/v1/takedowns/{nx}/send", json={"submitted_ref": "X-123"}, headers=cw)
    assert early.status_code == 422 and "approve" in early.json()["detail"] + (early.json()["hint"] or "")
    assert c.post(f"/api/v1/takedowns/{nx}/approve", headers=cw).json()["status"] == "approved"
    sent = c.post(f"/api/v1/takedowns/{nx}/send", json={"submitted_ref": "X-123"}, headers=cw)
    assert sent.status_code == 200 and sent.json()["ok"], sent.text
    pdf = c.get(f"/api/v1/takedowns/{nx}/pdf", headers=x)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    marked = c.post(f"/api/v1/takedowns/{nx}/mark", json={"outcome": "removed"}, headers=cw)
    assert marked.status_code == 200 and marked.json()[0]["state"] == "removed"
    # The victim: her case's progress, no links.
    mine = c.get("/api/v1/my-case", headers=bearer(h.token("victim-a"))).json()
    assert mine["case_id"] == "5" and mine["counts"].get("removed") == 1 and "url" not in mine["items"][0]
    # Figures.
    report = c.get("/api/v1/reports/takedowns", headers=cw).json()
    total = next(r for r in report if r["group"] == "total")
    assert total["findings"] == 2 and total["removed"] == 1
    assert "<svg" in c.get("/", headers=cw).text
    metrics = c.get("/metrics", headers=bearer(h.token("root"))).text
    assert 'jikimi_takedown_items{platform="x",state="removed"} 1.0' in metrics
