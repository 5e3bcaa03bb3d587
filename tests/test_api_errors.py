"""One JSON error shape everywhere: ``{"code", "detail", "hint", "params"}``, English unless the client asks
for another language, documented in the OpenAPI schema; HMA's routes keep HMA's ``message`` beside it."""

from __future__ import annotations

import re
from pathlib import Path

from api_harness import bearer, login, make_harness

SHAPE = {"code", "detail", "hint", "params"}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_every_json_error_has_the_one_shape(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    tokens = h.role_tokens()
    staff, partner = bearer(tokens["case_worker"]), bearer(tokens["partner"])
    c = h.client()
    cases = {
        "auth.required": c.get("/api/v1/people"),  # no token
        "auth.forbidden": c.get("/api/v1/people", headers=partner),  # a partner sees no people
        "people.not_found": c.post("/api/v1/people/4242/withdraw", json={}, headers=staff),
        "http.not_found": c.get("/api/v1/no-such-thing", headers=staff),
        "request.invalid": c.post("/api/v1/banks", json={"nope": 1}, headers=bearer(tokens["admin"])),
        "store.bank_not_found": c.get("/api/v1/banks/unknown/entries", headers=staff),
    }
    for code, resp in cases.items():
        body = resp.json()
        assert resp.status_code >= 400 and set(body) >= SHAPE, (code, resp.status_code, body)
        assert body["code"] == code, (code, body)
        assert isinstance(body["detail"], str) and not HANGUL.search(body["detail"]), body
        assert isinstance(body["params"], dict)
    assert cases["people.not_found"].status_code == 404
    assert cases["people.not_found"].json()["params"] == {"id": 4242}
    assert cases["request.invalid"].status_code == 422 and cases["request.invalid"].json()["errors"]
    forbidden = cases["auth.forbidden"].json()
    assert forbidden["permission"] and forbidden["params"] == {"permission": forbidden["permission"]}
    assert forbidden["permission"] in forbidden["hint"]  # the hint names what to ask for

    # the client's language when it asks; a web hint never names a command
    ko = c.post("/api/v1/people/4242/withdraw", json={}, headers={**staff, "Accept-Language": "ko"}).json()
    assert ko["code"] == "people.not_found" and HANGUL.search(ko["detail"]) and HANGUL.search(ko["hint"])
    assert "jikimi " not in (ko["hint"] + cases["people.not_found"].json()["hint"])

    # a browser session's JSON calls (the page's own language cookie) stay English without Accept-Language
    c2 = h.client()
    csrf = login(c2, "case-worker")
    c2.get("/lang/ko?next=/")
    body = c2.post("/api/v1/people/4242/withdraw", json={}, headers={"X-CSRF-Token": csrf}).json()
    assert body["detail"] == "no person with id 4242"
    assert c2.post("/api/v1/people/4242/withdraw", json={}).json()["code"] == "auth.csrf"
    page = c2.get("/no-such-page")  # the HTML error page of the HTTP layer, in the page's language
    assert page.status_code == 404 and "찾을 수 없습니다" in page.text and "Not Found" not in page.text

    # HMA's routes: HMA's own {"message"} and our shape beside it
    hma = c.get("/m/lookup", params={"signal_type": "nope", "signal": "x"}, headers=partner)
    assert hma.status_code == 400 and "message" in hma.json() and set(hma.json()) >= SHAPE
    assert hma.json()["code"] == "hma.unknown_signal_type"
    bad = c.get("/m/lookup", params={"signal_type": "pdq", "signal": "zz"}, headers=staff).json()
    assert bad["message"].startswith("invalid signal") and bad["code"] != "hma.bad_request"


def test_openapi_documents_the_error_shape(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    h.add_user("root", "admin")
    c = h.client()
    login(c, "root")
    schema = c.get("/api/v1/openapi.json").json()
    assert set(schema["components"]["schemas"]["ErrorOut"]["properties"]) == SHAPE
    missing = [
        f"{method} {path}"
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if "404" not in op.get("responses", {})
        or "ErrorOut" not in str(op["responses"]["404"].get("content", {}))
    ]
    assert not missing, missing
