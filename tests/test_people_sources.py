"""Her source photos (``jikimi.store.source_photos``, ``person sources``, ``/api/v1/people/{id}/sources``):
added under her consent record, encrypted at rest, listed, removable, deleted on withdrawal; a bad photo fails
alone with its reason; withdrawal or expiry stops matching at once, even in an index built before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image
from typer.testing import CliRunner

from api_harness import bearer, make_harness
from derivatives import crop_upper, jpeg, replace_body, resize
from jikimi.errors import NotFoundError, ValidationError
from jikimi.index.source_photos import probe_features
from jikimi.store import audit, open_store, people, source_photos
from jikimi.store.schema.people import Consent, PersonSource


@pytest.fixture(scope="module")
def photos(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = shared / "faces" / "portraits"
    out = tmp_path_factory.mktemp("sources")
    paths = {}
    for key, rel in (("a", "obama/obama.jpg"), ("b", "obama/obama2.jpg"), ("rose", "rose_leslie/img2.jpg")):
        im = Image.open(root / rel).convert("RGB")
        im.thumbnail((900, 900))
        paths[key] = out / f"{key}.jpg"
        im.save(paths[key], quality=92)
    paths["corrupt"] = out / "corrupt.jpg"
    paths["corrupt"].write_bytes(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 40)
    yy, xx = np.mgrid[0:300, 0:400]
    paths["noface"] = out / "landscape.png"
    Image.fromarray(np.dstack([xx % 256, yy % 256, (xx + yy) % 256]).astype(np.uint8)).save(paths["noface"])
    return paths


def _derivative(path: Path) -> np.ndarray:
    from jikimi.signals.face import detect_faces

    rgb = np.asarray(Image.open(path).convert("RGB"))
    b = detect_faces(rgb, embed=False)[0].box
    box = (b.left, b.top, b.right, b.bottom)
    return jpeg(resize(crop_upper(replace_body(rgb, box), box), 0.7), 45)


def test_add_list_remove_and_withdraw(db_url: str, photos: dict[str, Path]) -> None:
    store = open_store(db_url)
    with store.session() as s:
        pid = people.enroll(s, "Person A", [photos["a"]], consent_by="herself").person.id
        other = people.enroll(s, "Person B", [photos["rose"]], consent_by="herself").person.id
    with store.session() as s:
        res = source_photos.add_sources(
            s, pid, [photos["a"], photos["corrupt"], photos["noface"], photos["b"]], actor="test"
        )
    assert [a.name for a in res.added] == ["a.jpg", "b.jpg"]
    reasons = {f.photo: f.reason for f in res.failures}
    assert set(reasons) == {"corrupt.jpg", "landscape.png"}
    assert reasons["landscape.png"] == "no face found in this photo"
    assert "corrupt" not in reasons["corrupt.jpg"] and reasons["corrupt.jpg"]
    with store.session() as s:
        assert source_photos.add_sources(s, pid, [photos["a"]]).already == ["a.jpg"]
        rows = list(s.scalars(sa.select(PersonSource).order_by(PersonSource.id)))
        raw = photos["a"].read_bytes()
        assert len(rows) == 2 and raw[:64] not in rows[0].ciphertext  # encrypted at rest
        assert rows[0].ciphertext.startswith(b"JKV1") and rows[0].features_enc.startswith(b"JKV1")
        listed = source_photos.list_sources(s, pid)
        assert [x.id for x in listed] == [r.id for r in rows]
        box = listed[0].face_box
        assert 0 <= box[0] < box[2] <= listed[0].width and 0 <= box[1] < box[3] <= listed[0].height
        name, data = source_photos.source_photo(s, rows[0].id, actor="test", purpose="check")
        assert name == "a.jpg" and data == raw
        assert people.get_person(s, pid).sources == 2
        assert source_photos.list_sources(s, other) == []

    index = source_photos.source_index(store)
    assert index is not None and len(index) == 2
    probe_a = probe_features(_derivative(photos["a"]))
    found = index.search(probe_a)
    assert found and found[0].source_id == rows[0].id and found[0].person_id == pid
    # Another person's photo matches none of hers.
    assert index.search(probe_features(np.asarray(Image.open(photos["rose"]).convert("RGB")))) == []

    with store.session() as s:
        with pytest.raises(NotFoundError):
            source_photos.remove_source(s, other, rows[0].id)
        source_photos.remove_source(s, pid, rows[0].id, actor="test")
    again = source_photos.source_index(store)
    assert again is not None and len(again) == 1
    assert [m.source_id for m in again.search(probe_a)] == []

    probe_b = probe_features(_derivative(photos["b"]))
    assert [m.source_id for m in again.search(probe_b)] == [rows[1].id]
    with store.session() as s:
        people.withdraw(s, pid, actor="test")
    # The index built before the withdrawal stops matching at once (consent re-checked at query time).
    assert again.search(probe_b) == []
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PersonSource)) == 0
        with pytest.raises(ValidationError, match="withdrawn"):
            source_photos.add_sources(s, pid, [photos["b"]])
        actions = [e.action for e in audit.entries(s)]
    assert {"person.source.add", "person.source.remove", "person.source.view"} <= set(actions)
    assert source_photos.source_index(store) is None
    store.dispose()


def test_expired_consent_refuses_and_stops_matching(db_url: str, photos: dict[str, Path]) -> None:
    store = open_store(db_url)
    with store.session() as s:
        pid = people.enroll(s, "Person C", [photos["b"]], consent_by="guardian").person.id
        source_photos.add_sources(s, pid, [photos["b"]])
    index = source_photos.source_index(store)
    assert index is not None
    probe = probe_features(_derivative(photos["b"]))
    assert index.search(probe)
    with store.session() as s:
        s.execute(
            sa.update(Consent)
            .where(Consent.person_id == pid)
            .values(expires_at=datetime.now(UTC) - timedelta(1))
        )
    assert index.search(probe) == []
    # Vault key rotation re-encrypts her source photo and its features under the new key.
    from jikimi.store import vault

    with store.session() as s:
        report = vault.rotate_key(s, actor="test", retire=True)
        row = s.scalars(sa.select(PersonSource)).one()
        assert vault.blob_key_id(row.ciphertext) == vault.blob_key_id(row.features_enc) == report.new_key_id
        assert (
            source_photos.source_photo(s, row.id, actor="test", purpose="check")[1]
            == photos["b"].read_bytes()
        )
    with store.session() as s, pytest.raises(ValidationError, match="no valid consent"):
        source_photos.add_sources(s, pid, [photos["a"]])
    assert source_photos.source_index(store) is None
    store.dispose()


def test_cli_person_sources(photos: dict[str, Path]) -> None:
    from jikimi.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app, ["person", "enroll", "Person D", str(photos["a"]), "--consent-by", "self", "--json"]
    )
    assert r.exit_code == 0, r.output
    pid = json.loads(r.output.splitlines()[0])["id"]
    r = runner.invoke(
        app, ["person", "sources", "add", str(pid), str(photos["a"]), str(photos["corrupt"]), "--json"]
    )
    assert r.exit_code == 1  # one photo failed, the other was added
    out = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("{")))
    assert [a["name"] for a in out["added"]] == ["a.jpg"]
    assert [f["photo"] for f in out["failures"]] == ["corrupt.jpg"] and out["failures"][0]["reason"]
    sid = out["added"][0]["id"]
    r = runner.invoke(app, ["person", "sources", "list", str(pid), "--json"])
    assert r.exit_code == 0 and [json.loads(x)["id"] for x in r.stdout.splitlines()] == [sid]
    r = runner.invoke(app, ["person", "sources", "add", "999", str(photos["a"])])
    assert r.exit_code == 1 and "no person with id 999" in r.output
    r = runner.invoke(app, ["person", "sources", "remove", str(pid), str(sid), "12345"])
    assert r.exit_code == 1 and f"removed source photo {sid}" in r.output and "12345" in r.output
    r = runner.invoke(app, ["person", "sources", "list", str(pid)])
    assert r.exit_code == 0 and "no source photos" in r.output


def test_api_sources_routes_and_roles(db_url: str, photos: dict[str, Path]) -> None:
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    h.add_user("inv", "investigator")
    c = h.client()
    cw, inv = bearer(h.token("worker")), bearer(h.token("inv"))
    with h.store.session() as s:
        pid = people.enroll(s, "Person E", [photos["a"]], consent_by="herself").person.id
    files = [
        ("photos", ("mine.jpg", photos["a"].read_bytes(), "image/jpeg")),
        ("photos", ("bad.jpg", b"not a photo", "image/jpeg")),
    ]
    assert c.post(f"/api/v1/people/{pid}/sources", files=files, headers=inv).status_code == 403
    ok = c.post(f"/api/v1/people/{pid}/sources", files=files, headers=cw)
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert [a["name"] for a in body["added"]] == ["mine.jpg"]
    assert [f["photo"] for f in body["failures"]] == ["bad.jpg"]
    sid = body["added"][0]["id"]
    listed = c.get(f"/api/v1/people/{pid}/sources", headers=inv)
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [sid]
    assert c.get(f"/api/v1/people/{pid}", headers=inv).json()["sources"] == 1
    assert c.get("/api/v1/people/999/sources", headers=inv).status_code == 404
    assert c.delete(f"/api/v1/people/{pid}/sources/{sid}", headers=inv).status_code == 403
    assert c.delete(f"/api/v1/people/{pid}/sources/{sid}", headers=cw).status_code == 200
    assert c.delete(f"/api/v1/people/{pid}/sources/{sid}", headers=cw).status_code == 404
    assert c.get(f"/api/v1/people/{pid}/sources", headers=inv).json() == []
    c.post(f"/api/v1/people/{pid}/withdraw", json={}, headers=cw)
    refused = c.post(f"/api/v1/people/{pid}/sources", files=files[:1], headers=cw)
    assert refused.status_code == 422 and "withdrawn" in refused.json()["detail"]
    h.store.dispose()


def test_enrolment_page_adds_lists_and_removes_source_photos(photos: dict[str, Path]) -> None:
    from api_harness import login

    h = make_harness(f"sqlite:///{photos['a'].parent / 'web.db'}")
    h.add_user("worker", "case_worker")
    with h.store.session() as s:
        pid = people.enroll(s, "Person F", [photos["a"]], consent_by="herself").person.id
    c = h.client()
    csrf = login(c, "worker")
    page = c.get("/people")
    assert page.status_code == 200 and f'action="/people/{pid}/sources"' in page.text
    files = [
        ("photos", ("mine.jpg", photos["a"].read_bytes(), "image/jpeg")),
        ("photos", ("bad.jpg", b"just some text", "image/jpeg")),
    ]
    page = c.post(f"/people/{pid}/sources", data={"csrf_token": csrf}, files=files)
    assert page.status_code == 201, page.text
    assert "추가된 원본 사진: 1" in page.text  # Korean by default
    assert "이미지나 동영상 파일이 아닙니다" in page.text and "not an image or video" not in page.text
    with h.store.session() as s:
        (src,) = source_photos.list_sources(s, pid)
    assert f"/people/{pid}/sources/{src.id}/remove" in page.text and "mine.jpg" in page.text
    gone = c.post(f"/people/{pid}/sources/{src.id}/remove", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    with h.store.session() as s:
        assert source_photos.list_sources(s, pid) == []
    c.get("/lang/en?next=/people")
    page = c.post(f"/people/{pid}/sources", data={"csrf_token": csrf}, files=files[1:])
    assert page.status_code == 200 and "Source photos added: 0" in page.text
    assert "not an image or video" in page.text
    h.store.dispose()
