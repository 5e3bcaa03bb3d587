"""Hashing in the browser (StopNCII's model): the JavaScript PDQ and MD5 against the server's, in real
Chromium; the route that takes the hashes (consent, who may send for which case); a victim's journey."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select

from api_harness import PASSWORD, bearer, login, make_harness
from jikimi.cases import run_scan
from jikimi.cases.selfhash import case_bank_name
from jikimi.media import load
from jikimi.signals.pdq import DIHEDRAL, pdq_dihedral_from_array, pdq_pixels
from jikimi.store import findings
from jikimi.store.schema.banks import Bank, BankEntry
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.schema.scans import Finding
from web_e2e_harness import chromium, running_server, shot

# Reference hashes that record Pillow's decoding quirks rather than the picture: python-threatexchange reads
# Adobe CMYK JPEGs inverted and hashes palette indices. A browser decodes these pictures correctly, so they
# are compared with the server's default (standard) decode of the same file instead. The quality is always
# compared with the standard decode's: the reference hashes 1-bit images as booleans (0/1 luma, quality 0).
DECODE_QUIRKS = {"misc-images/modes/CMYK.jpg", "misc-images/modes/P.png"}
MAX_BITS = 10  # the PDQ rule: other pixels (another decoder) -> within 10 bits at quality >= 80
MIN_QUALITY = 80


def _bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _hash_in_page(page: Any, files: list[Path], timeout: float = 240_000) -> list[dict[str, Any]]:
    """Give the files to the page's file input and read back what it computed (nothing is sent)."""
    page.set_input_files("#self-hash-files", [str(f) for f in files])
    page.wait_for_selector("#self-hash[data-state=ready]", timeout=timeout)
    rows = page.locator("#self-hash-list tbody tr")
    out = []
    for i in range(rows.count()):
        r = rows.nth(i)
        dihedral = r.get_attribute("data-dihedral")
        out.append(
            {
                "error": r.get_attribute("data-error"),
                "kind": r.get_attribute("data-kind"),
                "md5": r.get_attribute("data-md5"),
                "pdq": r.get_attribute("data-pdq"),
                "quality": int(r.get_attribute("data-quality") or -1),
                "dihedral": json.loads(dihedral) if dihedral else {},
            }
        )
    return out


def _victim_harness(tmp_path: Path) -> Any:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    with h.store.session() as s:
        case, _ = findings.case_for(s, 1)  # the victim's case (person 1)
        case_id = case.id
    h.add_user("victim", "victim", case_ref=str(case_id))
    h.add_user("worker", "case_worker")
    h.add_user("other-victim", "victim", case_ref=str(case_id + 1))
    h.add_user("a-partner", "partner", partner="x.com")
    h.case_id = case_id  # type: ignore[attr-defined]
    return h


def _oriented(tmp_path: Path) -> list[Path]:
    """A generated, asymmetric picture with each EXIF orientation 1-8 (JPEG), and 6 in PNG and WebP."""
    rng = np.random.default_rng(5)
    base = np.zeros((120, 200, 3), np.uint8)
    base[:, :, 0] = np.linspace(0, 255, 200, dtype=np.uint8)[None, :]
    base[:60, :50] = (250, 240, 20)
    base[80:, 120:] = rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)
    im = Image.fromarray(base)
    out = []
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        path = tmp_path / f"orient-{o}.jpg"
        im.save(path, "JPEG", quality=92, exif=exif)
        out.append(path)
    exif = Image.Exif()
    exif[0x0112] = 6
    for fmt, ext in (("PNG", "png"), ("WEBP", "webp")):
        path = tmp_path / f"orient-6.{ext}"
        im.save(path, fmt, exif=exif, **({"lossless": True} if fmt == "WEBP" else {}))
        out.append(path)
    return out


def test_browser_pdq_and_md5_match_the_server(tmp_path: Path, shared: Path) -> None:
    root = shared / "reference" / "pdq"
    rows = list(csv.DictReader((root / "expected.csv").open()))
    oriented = _oriented(tmp_path)
    files = [root / r["path"] for r in rows]
    h = _victim_harness(tmp_path)
    with running_server(h.app) as base, chromium() as ctx:
        page = ctx.new_page()  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: errors.append(r.url) if r.status >= 400 and "favicon" not in r.url else None,
        )
        _sign_in(page, base, "victim")
        page.goto(f"{base}/my-case/hash")
        got = _hash_in_page(page, files + oriented)
        assert page.locator("#self-hash").get_attribute("data-state") == "ready"
    assert not errors, errors
    # EXIF orientations (browsers rotate while decoding; the page undoes it): exact with the server.
    for path, b in zip(oriented, got[len(rows) :], strict=True):
        server, quality = pdq_dihedral_from_array(pdq_pixels(load(path), "standard"))
        assert (b["pdq"], b["quality"]) == (server[0], quality), (path.name, _bits(b["pdq"], server[0]))
    got = got[: len(rows)]
    assert len(got) == len(rows)
    exact = 0
    worst = 0
    report: list[str] = []
    failures: list[str] = []
    for row, path, b in zip(rows, files, got, strict=True):
        assert not b["error"], row["path"]
        assert b["kind"] == "image"
        assert b["md5"] == hashlib.md5(path.read_bytes()).hexdigest(), row["path"]
        standard, std_quality = pdq_dihedral_from_array(pdq_pixels(load(path), "standard"))
        if row["path"] in DECODE_QUIRKS:
            want, want_quality = standard[0], std_quality
        else:
            want, want_quality = row["pdq_hex"], std_quality
        d = _bits(b["pdq"], want)
        report.append(f"{row['path']}: {d} bits, quality {b['quality']} (server {want_quality})")
        assert list(b["dihedral"]) == list(DIHEDRAL)
        assert b["dihedral"]["original"] == b["pdq"]
        if d == 0:
            exact += 1
            if b["quality"] != want_quality:
                failures.append(report[-1])
        elif not (d <= MAX_BITS and b["quality"] >= MIN_QUALITY):
            failures.append(report[-1])
        worst = max(worst, d)
        # The 8 variants follow the same rule against the server's variants of its standard decode.
        for name, server in zip(DIHEDRAL, standard, strict=True):
            dv = _bits(b["dihedral"][name], server)
            if dv and not (dv <= MAX_BITS and b["quality"] >= MIN_QUALITY):
                failures.append(f"{row['path']} {name}: {dv} bits")
    print(f"\nbrowser PDQ: {exact}/{len(rows)} exact, worst {worst} bits\n" + "\n".join(report))
    assert not failures, failures
    # Lossless formats decode to the same pixels in any browser: those are exact.
    lossless = [r["path"] for r in rows if r["path"].endswith(".png") and r["path"] not in DECODE_QUIRKS]
    for p in lossless:
        i = [r["path"] for r in rows].index(p)
        assert _bits(got[i]["pdq"], rows[i]["pdq_hex"]) == 0, p


def test_self_hash_route_consent_and_access(tmp_path: Path) -> None:
    h = _victim_harness(tmp_path)
    cid = h.case_id
    c = h.client()
    csrf = login(c, "victim")
    good = {
        "kind": "image",
        "md5": "0" * 31 + "1",
        "pdq": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        "pdq_quality": 100,
        "dihedral": {"original": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"},
    }
    url = f"/api/v1/cases/{cid}/self-hashes"
    hdr = {"x-csrf-token": csrf}
    # No consent: nothing is added.
    r = c.post(url, json={"consent": False, "files": [good]}, headers=hdr)
    assert r.status_code == 422 and "consent" in r.text
    # Malformed hash, a video with a PDQ hash.
    assert (
        c.post(url, json={"consent": True, "files": [{**good, "md5": "z" * 32}]}, headers=hdr).status_code
        == 422
    )
    video = {"kind": "video", "md5": "a" * 32, "pdq": good["pdq"]}
    assert c.post(url, json={"consent": True, "files": [video]}, headers=hdr).status_code == 422
    # Her own case: added, with the consent audited.
    r = c.post(url, json={"consent": True, "files": [good, {"kind": "video", "md5": "b" * 32}]}, headers=hdr)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["bank"] == case_bank_name(cid) and out["created"] == 2
    # Another case: refused.
    assert (
        c.post(
            f"/api/v1/cases/{cid + 1}/self-hashes", json={"consent": True, "files": [good]}, headers=hdr
        ).status_code
        == 403
    )
    # A partner may not; a case worker may, for any case (intake).
    r = h.client().post(url, json={"consent": True, "files": [good]}, headers=bearer(h.token("a-partner")))
    assert r.status_code == 403
    worker = h.client()
    wcsrf = login(worker, "worker")
    r = worker.post(url, json={"consent": True, "files": [good]}, headers={"x-csrf-token": wcsrf})
    assert r.status_code == 201 and r.json()["created"] == 0  # the same hashes again: one entry
    with h.store.session() as s:
        entries = list(s.scalars(select(BankEntry).join(Bank).where(Bank.name == case_bank_name(cid))))
        assert {e.hashes()["md5"] for e in entries} == {good["md5"], "b" * 32}
        assert all(e.case_ref == f"case:{cid}" and "self-submitted" in e.labels for e in entries)
        consents = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "case.self_hash.consent")))
        assert [json.loads(a.details_json)["via"] for a in consents] == ["victim", "intake"]
        assert consents[0].actor == "web:victim" and consents[0].subject == f"case:{cid}"
    # The pages: hers, and not another victim's.
    assert "이 기기에서 사진 해시하기" in c.get("/my-case/hash").text
    assert "지금까지 보낸 지문: 2개" in c.get("/my-case/hash").text
    assert c.get(f"/cases/{cid + 1}/hash").status_code in (403, 404)
    assert worker.get(f"/cases/{cid}/hash").status_code == 200


def _photo(shared: Path) -> Path:
    return shared / "reference" / "pdq" / "reg-test-input" / "labelme-subset" / "q2821.jpg"


def test_victim_hashes_in_browser_and_a_scan_finds_a_copy(tmp_path: Path, shared: Path) -> None:
    h = _victim_harness(tmp_path)
    cid = h.case_id
    photo = _photo(shared)
    with running_server(h.app) as base, chromium() as ctx:
        page = ctx.new_page()  # type: ignore[attr-defined]
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
        _sign_in(page, base, "victim")
        assert page.url.endswith("/my-case")
        page.click("#self-hash-link")
        page.wait_for_url(f"{base}/my-case/hash")
        assert "기기 밖으로 절대 나가지 않습니다" in page.locator("#self-hash").inner_text()
        got = _hash_in_page(page, [photo])
        assert page.locator("#self-hash-send").is_disabled()  # no consent yet
        page.check("#self-hash-consent")
        shot(page, "selfhash-01-ready")
        page.click("#self-hash-send")
        page.wait_for_selector("#self-hash[data-state=sent]", timeout=30_000)
        shot(page, "selfhash-02-sent")
        # Only hashes went out: the JSON body, no file bytes, no file name.
        body = json.loads(next(b for b in sent if b.startswith("{")))
        assert body["consent"] is True and body["files"][0]["pdq"] == got[0]["pdq"]
        assert photo.name not in json.dumps(body) and len(json.dumps(body)) < 2000
        with h.store.session() as s:
            entry = s.scalars(select(BankEntry).join(Bank).where(Bank.name == case_bank_name(cid))).one()
            assert entry.hashes()["md5"] == hashlib.md5(photo.read_bytes()).hexdigest() == got[0]["md5"]
            assert entry.hashes()["pdq"] == got[0]["pdq"]
        # A re-encoded, slightly smaller copy turns up somewhere: the scan files it in her case.
        found = tmp_path / "found"
        found.mkdir()
        im = Image.open(photo).convert("RGB")
        buf = io.BytesIO()
        im.resize((im.width * 9 // 10, im.height * 9 // 10)).save(buf, "JPEG", quality=70)
        (found / "copy.jpg").write_bytes(buf.getvalue())
        report = run_scan(h.store, [found], executor="local", workers=0, gallery=None)
        assert report.findings, report
        with h.store.session() as s:
            f = s.scalars(select(Finding).where(Finding.case_id == cid)).one()
            assert f.reasons == ["bank_match"]
            assert f.bank_matches[0]["bank"] == case_bank_name(cid)
        page.goto(f"{base}/my-case")
        counts = page.locator("#self-hash-counts").inner_text()
        assert "보낸 지문: 1개" in counts and "사본 발견: 1건" in counts, counts
        shot(page, "selfhash-03-my-case")


def test_earlier_dihedral_names_are_still_accepted() -> None:
    from jikimi.api.routers.selfhash import HashedFileIn

    f = HashedFileIn.model_validate(
        {"kind": "image", "md5": "a" * 32, "dihedral": {"flip_plus1": "b" * 64, "flipminus1": "c" * 64}}
    )
    assert f.dihedral == {"flipplus1": "b" * 64, "flipminus1": "c" * 64}
