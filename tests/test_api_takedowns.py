"""Takedowns over the API: partners see only their platform's notices; draft → approve → send → removed;
the victim sees her own case's progress; figures reach the report, the dashboard and /metrics."""

from __future__ import annotations

import pytest

from api_harness import bearer, login, make_harness
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
    # Partners: only the notices addressed to them, and only once sent; the others do not exist for them.
    assert c.get("/api/v1/takedowns", headers=x).json() == []
    assert c.get(f"/api/v1/takedowns/{nx}", headers=x).status_code == 404
    assert c.get(f"/api/v1/takedowns/{nx}/pdf", headers=x).status_code == 404
    assert c.get(f"/api/v1/takedowns/{ntt}", headers=x).status_code == 404
    assert c.get(f"/api/v1/takedowns/{nx}/pdf", headers=tt).status_code == 404
    assert c.post(f"/api/v1/takedowns/{nx}/approve", headers=x).status_code == 403
    # Sending before approval is refused with a reason; then approve, record the web-form submission, mark.
    early = c.post(f"/api/v1/takedowns/{nx}/send", json={"submitted_ref": "X-123"}, headers=cw)
    assert early.status_code == 422 and "approve" in early.json()["detail"] + (early.json()["hint"] or "")
    assert c.post(f"/api/v1/takedowns/{nx}/approve", headers=cw).json()["status"] == "approved"
    # Approved but not sent: still nothing for the partner.
    assert c.get(f"/api/v1/takedowns/{nx}", headers=x).status_code == 404
    assert c.get("/api/v1/takedowns?status=approved", headers=x).json() == []
    sent = c.post(f"/api/v1/takedowns/{nx}/send", json={"submitted_ref": "X-123"}, headers=cw)
    assert sent.status_code == 200 and sent.json()["ok"], sent.text
    assert [n["id"] for n in c.get("/api/v1/takedowns", headers=x).json()] == [nx]
    assert c.get(f"/api/v1/takedowns/{nx}", headers=x).status_code == 200
    assert c.get(f"/api/v1/takedowns/{ntt}", headers=x).status_code == 404
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


def test_partner_pages_show_only_sent_notices(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the browser too: a partner's notice list and notice page know nothing of a draft."""
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    h.add_user("x-trust", "partner", partner="x")
    with h.store.session() as s:
        add_item(s, FindingRef(case_id="6", url="https://x.com/b/status/9", sha256="ab" * 32))
    cw = bearer(h.token("worker"))
    api = h.client()
    nid = api.post("/api/v1/cases/6/takedowns", json={"lang": "en"}, headers=cw).json()["notices"][0]["id"]
    c = h.client()
    login(c, "x-trust")
    ref = f"JKM-6-{nid}"
    assert ref not in c.get("/notices").text
    assert c.get(f"/takedowns/{nid}").status_code == 404
    assert api.post(f"/api/v1/takedowns/{nid}/approve", headers=cw).status_code == 200
    assert c.get(f"/takedowns/{nid}").status_code == 404
    sent = api.post(f"/api/v1/takedowns/{nid}/send", json={"submitted_ref": "X-9"}, headers=cw)
    assert sent.status_code == 200 and sent.json()["ok"]
    assert ref in c.get("/notices").text
    page = c.get(f"/takedowns/{nid}")
    assert page.status_code == 200 and ref in page.text
