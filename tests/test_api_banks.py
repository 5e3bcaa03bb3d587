"""Banks over the API and the HMA-compatible endpoints, with benign generated images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from api_harness import bearer, make_harness


def _image(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    # Smooth random shapes: PDQ needs structure, not noise.
    small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((256, 256), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_banks_and_hma_lookup(db_url: str) -> None:
    h = make_harness(db_url)
    tokens = h.role_tokens()
    c = h.client()
    staff = bearer(tokens["case_worker"])
    partner = bearer(tokens["partner"])
    r = c.post("/api/v1/banks", json={"name": "known", "description": "test bank"}, headers=staff)
    assert r.status_code == 201, r.text
    img = _image(1)
    added = c.post("/api/v1/banks/known/files", files=[("files", ("a.png", img, "image/png"))], headers=staff)
    assert added.status_code == 201, added.text
    assert added.json()[0]["created"] is True
    # A partner looks up only the banks shared with its platform.
    assert c.put("/api/v1/banks/known/shares/ExampleTube", headers=staff).status_code in (200, 201)
    # HMA: hash, then look the hash up as a platform partner.
    hashed = c.post("/h/hash", files={"photo": ("x.png", img, "image/png")}, headers=partner)
    assert hashed.status_code == 200, hashed.text
    pdq = hashed.json()["pdq"]
    assert len(pdq) == 64
    found = c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}, headers=partner)
    assert found.status_code == 200 and list(found.json()) == ["known"]  # HMA 1.1: {bank: [matches]}
    other = c.post("/h/hash", files={"photo": ("y.png", _image(2), "image/png")}, headers=partner).json()[
        "pdq"
    ]
    assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": other}, headers=partner).json() == {}
    posted = c.post("/m/lookup", files={"photo": ("x.png", img, "image/png")}, headers=partner)
    assert posted.status_code == 200 and list(posted.json()["pdq"]) == ["known"]
    # Errors are 400 with a reason, never 500.
    bad = c.get("/m/lookup", params={"signal_type": "pdq", "signal": "zz"}, headers=partner)
    assert bad.status_code == 400
    assert (
        c.get("/m/lookup", params={"signal_type": "nope", "signal": pdq}, headers=partner).status_code == 400
    )
    notimg = c.post(
        "/h/hash", files={"photo": ("x.png", b"not an image at all", "image/png")}, headers=partner
    )
    assert notimg.status_code == 400
    # Unlike HMA, there is no anonymous access; partners cannot see bank contents.
    assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}).status_code == 401
    assert c.get("/api/v1/banks", headers=partner).status_code == 403
    assert (
        c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}, headers=partner).status_code
        == 403
    )
    raw = c.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": pdq, "include_distance": "true"},
        headers=staff,
    )
    assert raw.status_code == 200 and raw.json()["matches"][0]["distance"] == "0"
    full = c.post("/api/v1/hashes/lookup", json={"pdq": pdq}, headers=staff).json()
    assert full[0]["bank"] == "known" and full[0]["distance"] == 0


def test_a_hash_of_quality_zero_is_untrusted(tmp_path: Path) -> None:
    """0 is the lowest quality, not an unknown one: the entry is flagged untrusted (as before signal rows)."""
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    staff = bearer(h.role_tokens()["case_worker"])
    c = h.client()
    assert c.post("/api/v1/banks", json={"name": "q"}, headers=staff).status_code == 201
    low = c.post("/api/v1/banks/q/entries", json={"pdq": "f" * 64, "pdq_quality": 0}, headers=staff)
    assert low.status_code == 201 and low.json()["untrusted"] is True, low.text
    unknown = c.post("/api/v1/banks/q/entries", json={"pdq": "e" * 64}, headers=staff)
    assert unknown.status_code == 201 and unknown.json()["untrusted"] is False, unknown.text
