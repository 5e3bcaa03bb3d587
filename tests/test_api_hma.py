"""HMA 1.1 shapes (OpenMediaMatch's matching, hashing and curation blueprints): paths, parameters, status
codes and JSON, pinned one by one; with our token on every call and bank contents for staff only."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from api_harness import bearer, make_harness


def _image(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((256, 256))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _flip_bits(hex_hash: str, n: int) -> str:
    value = int(hex_hash, 16)
    for i in range(n):
        value ^= 1 << (i * 7)
    return f"{value:064x}"


def test_hma_11_shapes(db_url: str) -> None:
    h = make_harness(db_url)
    tokens = h.role_tokens()
    c = h.client()
    staff, partner = bearer(tokens["case_worker"]), bearer(tokens["partner"])
    for name in ("BANK_A", "BANK_B"):
        assert c.post("/api/v1/banks", json={"name": name}, headers=staff).status_code == 201
    img = _image(1)
    ids: dict[str, int] = {}
    for name in ("BANK_A", "BANK_B"):
        r = c.post(
            f"/api/v1/banks/{name}/files", files=[("files", ("a.png", img, "image/png"))], headers=staff
        )
        assert r.status_code == 201, r.text
        ids[name] = r.json()[0]["entry_id"]
    # bank visibility per partner: before sharing, a partner finds nothing (staff see every bank)
    pdq = c.post("/h/hash", files={"photo": ("x.png", img, "image/png")}, headers=partner).json()["pdq"]
    assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}, headers=partner).json() == {}
    assert set(c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}, headers=staff).json()) == {
        "BANK_A",
        "BANK_B",
    }
    for name in ("BANK_A", "BANK_B"):
        assert c.put(f"/api/v1/banks/{name}/shares/ExampleTube", headers=staff).status_code in (200, 201)
    near = _flip_bits(pdq, 4)

    # GET /m/lookup with a signal: no outer signal-type object -> {bank: [{bank_content_id, distance}]}
    got = c.get("/m/lookup", params={"signal_type": "pdq", "signal": near}, headers=partner)
    assert got.status_code == 200
    body: dict[str, Any] = got.json()
    assert set(body) == {"BANK_A", "BANK_B"}
    assert body["BANK_A"] == [{"bank_content_id": ids["BANK_A"], "distance": "4"}]
    # banks= restricts
    only = c.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": near, "banks": "BANK_B"}, headers=partner
    )
    assert list(only.json()) == ["BANK_B"]
    # no match: {}
    other = c.post("/h/hash", files={"photo": ("y.png", _image(2), "image/png")}, headers=partner).json()
    assert (
        c.get("/m/lookup", params={"signal_type": "pdq", "signal": other["pdq"]}, headers=partner).json()
        == {}
    )
    # POST /m/lookup (upload): {signal_type: {bank: [...]}}
    posted = c.post(
        "/m/lookup", params={"banks": "BANK_A"}, files={"photo": ("x.png", img, "image/png")}, headers=partner
    )
    assert posted.status_code == 200
    assert posted.json()["pdq"] == {"BANK_A": [{"bank_content_id": ids["BANK_A"], "distance": "0"}]}
    assert posted.json()["md5"] == {"BANK_A": [{"bank_content_id": ids["BANK_A"], "distance": "0"}]}
    # errors: HMA's {"message": ...} with its status codes (and our one error shape beside it, see _hma_body)
    missing = c.get("/m/lookup", params={"signal_type": "pdq"}, headers=partner)
    assert missing.status_code == 400
    assert _hma_body(missing.json()) == "Either url or both signal and signal_type are required"
    unknown = c.get("/m/lookup", params={"signal_type": "nope", "signal": pdq}, headers=partner)
    assert unknown.status_code == 400 and _hma_body(unknown.json()) == "No such SignalType 'nope'"
    bad = c.get("/m/lookup", params={"signal_type": "pdq", "signal": "zz"}, headers=partner)
    assert bad.status_code == 400 and bad.json()["message"].startswith("invalid signal:")
    # url= that may not be fetched (loopback): refused with a reason, never fetched
    refused = c.get("/m/lookup", params={"url": "http://127.0.0.1:9/x.png"}, headers=partner)
    assert refused.status_code == 400 and refused.json()["message"].startswith("could not fetch the url")

    # /m/raw_lookup: staff only; ids, or {bank_content_id, distance}
    assert (
        c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": near}, headers=partner).status_code
        == 403
    )
    raw = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": near}, headers=staff).json()
    assert sorted(raw["matches"]) == sorted(ids.values())
    raw_d = c.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": near, "include_distance": "true", "banks": "BANK_B"},
        headers=staff,
    ).json()
    assert raw_d == {"matches": [{"bank_content_id": ids["BANK_B"], "distance": "4"}]}

    # /m/compare
    cmp = c.post("/m/compare", json={"pdq": [pdq, near], "md5": ["a" * 32, "a" * 32]}, headers=partner)
    assert cmp.status_code == 200
    assert cmp.json() == {"pdq": [True, {"distance": 4}], "md5": [True, {"distance": 0}]}
    far = _flip_bits(pdq, 36)
    assert c.post("/m/compare", json={"pdq": [pdq, far]}, headers=partner).json()["pdq"][0] is False
    assert (
        _hma_body(c.post("/m/compare", json={"pdq": [pdq]}, headers=partner).json())
        == "Comparison hash list length must be exactly 2"
    )
    assert (
        _hma_body(c.post("/m/compare", json=[pdq, near], headers=partner).json())
        == "Request input was not a dict"
    )
    assert c.post("/m/compare", json={"pdq": [pdq, "zz"]}, headers=partner).status_code == 400

    # /m/index/status
    status = c.get("/m/index/status", headers=partner).json()
    from jikimi.signals.registry import hash_signals

    # One key per single-valued hash signal, by our name and python-threatexchange's.
    assert set(status) == {n for sig in hash_signals() if sig.single for n in (sig.name, sig.exchange_name())}
    assert {"pdq", "md5", "video_md5", "sha256"} <= set(status)
    assert status["pdq"]["present"] is True and status["pdq"]["size"] == 2 and status["pdq"]["built_to"] > 0
    assert c.get("/m/index/status", params={"signal_type": "pdq"}, headers=partner).json().keys() == {"pdq"}
    bad_st = c.get("/m/index/status", params={"signal_type": "nope"}, headers=partner)
    assert bad_st.status_code == 400 and _hma_body(bad_st.json()) == "No such signal type 'nope'"

    # /c/ curation, read-only, staff only
    assert c.get("/c/banks", headers=partner).status_code == 403
    banks = c.get("/c/banks", headers=staff).json()
    assert {"name": "BANK_A", "matching_enabled_ratio": 1.0} in banks
    assert c.get("/c/bank/BANK_A", headers=staff).json() == {"name": "BANK_A", "matching_enabled_ratio": 1.0}
    nob = c.get("/c/bank/NOPE", headers=staff)
    assert nob.status_code == 404 and _hma_body(nob.json()) == "bank 'NOPE' not found"
    content = c.get(f"/c/bank/BANK_A/content/{ids['BANK_A']}", headers=staff).json()
    assert content["id"] == ids["BANK_A"] and content["disable_until_ts"] == 1
    assert content["bank"] == {"name": "BANK_A", "matching_enabled_ratio": 1.0} and "signals" not in content
    with_signals = c.get(
        f"/c/bank/BANK_A/content/{ids['BANK_A']}", params={"include_signals": "true"}, headers=staff
    ).json()
    assert with_signals["signals"]["pdq"] == pdq
    wrong_bank = c.get(f"/c/bank/BANK_B/content/{ids['BANK_A']}", headers=staff)
    assert (
        wrong_bank.status_code == 404
        and _hma_body(wrong_bank.json()) == f"content '{ids['BANK_A']}' not found"
    )
    # no anonymous access anywhere
    for path in ("/m/lookup?signal_type=pdq&signal=" + pdq, "/m/index/status", "/c/banks"):
        assert c.get(path).status_code == 401


def _hma_body(body: dict[str, object]) -> object:
    """HMA's ``message``, once the error shape every JSON error of ours carries beside it is checked."""
    assert set(body) == {"message", "code", "detail", "hint", "params"}, body
    assert str(body["code"]).startswith("hma.") and body["detail"] == body["message"], body
    return body["message"]
