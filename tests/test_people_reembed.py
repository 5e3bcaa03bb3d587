"""Re-embedding after a face model change: kept photos are measured again (CLI, API, web page); people whose
photos were not kept are listed as needing new photos."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from api_harness import bearer, login, make_harness
from face_model_harness import write_calibration, write_model
from jikimi.cli import app
from jikimi.signals.face import MODEL_NAME
from jikimi.signals.face_models import ENV_VAR
from jikimi.store import audit, open_store, people
from jikimi.store.schema.people import PersonFace

ONNX_NAME = "test-projection-64"


@pytest.fixture(scope="module")
def photos(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    src = shared / "faces" / "portraits"
    if not src.is_dir():
        pytest.skip(f"portraits not found at {src}")
    out = tmp_path_factory.mktemp("reembed-portraits")
    paths = {}
    for key, rel in (("kit", "kit_harington/john2.jpeg"), ("rose", "rose_leslie/img2.jpg")):
        im = Image.open(src / rel).convert("RGB")
        im.thumbnail((480, 480))
        paths[key] = out / f"{key}.jpg"
        im.save(paths[key], quality=92)
    return paths


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_model(tmp_path_factory.mktemp("reembed-model"), name=ONNX_NAME)
    write_calibration(path, ONNX_NAME, threshold=0.3)
    return path


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _embeddings(person_id: int) -> list[tuple[str, bytes]]:
    store = open_store()
    with store.session() as s:
        rows = s.query(PersonFace).filter_by(person_id=person_id).order_by(PersonFace.id).all()
        out = [(r.model, r.embedding) for r in rows]
    store.dispose()
    return out


def test_cli_reembed_and_list(
    photos: dict[str, Path], onnx_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    enrol = ["person", "enroll", "--consent-by", "herself", "--json"]
    r = runner.invoke(app, [*enrol, "Kept", str(photos["kit"]), "--keep-photos"])
    assert r.exit_code == 0, r.output
    kept = _lines(r.output)[0]["id"]
    r = runner.invoke(app, [*enrol, "Gone", str(photos["rose"])])
    assert r.exit_code == 0, r.output
    gone = _lines(r.output)[0]["id"]
    original = _embeddings(kept)
    assert [m for m, _ in original] == [MODEL_NAME]
    r = runner.invoke(app, ["person", "reembed"])
    assert r.exit_code == 0 and "nothing to do" in r.output  # dlib still active

    monkeypatch.setenv(ENV_VAR, str(onnx_model))
    listed = {p["id"]: p for p in _lines(runner.invoke(app, ["person", "list", "--json"]).output)}
    assert listed[kept]["face_status"] == "reembed" and listed[kept]["faces"] == 0
    assert listed[gone]["face_status"] == "needs_photos" and listed[gone]["outdated_faces"] == 1
    table = runner.invoke(app, ["person", "list"]).output
    assert "needs new photos" in table and "jikimi person reembed" in table
    assert "needs new photos" in runner.invoke(app, ["person", "show", str(gone)]).output

    r = runner.invoke(app, ["person", "reembed", "--json"])
    assert r.exit_code == 0, r.output
    done = {d["person_id"]: d for d in _lines(r.output)}
    assert done[kept] == {
        "person_id": kept, "model": ONNX_NAME, "reembedded": 1, "failures": [], "needs_photos": False
    }  # fmt: skip
    assert done[gone]["reembedded"] == 0 and done[gone]["needs_photos"]
    listed = {p["id"]: p for p in _lines(runner.invoke(app, ["person", "list", "--json"]).output)}
    assert (listed[kept]["face_status"], listed[kept]["faces"], listed[kept]["outdated_faces"]) == (
        "current", 1, 0
    )  # fmt: skip
    assert listed[gone]["face_status"] == "needs_photos"
    assert [m for m, _ in _embeddings(kept)] == [ONNX_NAME]
    assert len(np.frombuffer(_embeddings(kept)[0][1], "<f4")) == 64

    found = _lines(runner.invoke(app, ["person", "search", str(photos["kit"]), "--json"]).output)[0]
    assert [m["person_id"] for m in found["faces"][0]["matches"]] == [kept]
    r = runner.invoke(app, ["person", "reembed", str(kept)])
    assert r.exit_code == 0 and "0 face(s) re-embedded" in r.output
    assert runner.invoke(app, ["person", "reembed", "999"]).exit_code == 1

    # back to dlib: the kept photo gives the very same embedding as at enrolment
    monkeypatch.delenv(ENV_VAR)
    r = runner.invoke(app, ["person", "reembed", str(kept)])
    assert r.exit_code == 0 and "1 face(s) re-embedded" in r.output
    assert _embeddings(kept) == original
    store = open_store()
    with store.session() as s:
        reembeds = [e for e in audit.entries(s) if e.action == "person.reembed"]
    store.dispose()
    assert len(reembeds) == 2 and {e.subject for e in reembeds} == {f"person:{kept}"}


def test_cli_reembed_with_a_broken_model_says_what_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.onnx"))
    r = CliRunner().invoke(app, ["person", "reembed"])
    assert r.exit_code == 2 and "does not exist" in r.output and ENV_VAR in r.output


def test_api_and_page_reembed(
    db_url: str, photos: dict[str, Path], onnx_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness(db_url)
    h.add_user("worker", "case_worker")
    h.add_user("inv", "investigator")
    with h.store.session() as s:
        kept = people.enroll(s, "Kept", [photos["kit"]], consent_by="herself", keep_photos=True).person.id
        gone = people.enroll(s, "Gone", [photos["rose"]], consent_by="herself").person.id
    c = h.client()
    cw, inv = bearer(h.token("worker")), bearer(h.token("inv"))
    monkeypatch.setenv(ENV_VAR, str(onnx_model))
    listed = {p["id"]: p for p in c.get("/api/v1/people", headers=inv).json()}
    assert listed[kept]["face_status"] == "reembed" and listed[gone]["face_status"] == "needs_photos"
    assert c.post("/api/v1/people/reembed", headers=inv).status_code == 403
    assert c.post(f"/api/v1/people/{kept}/reembed", headers=inv).status_code == 403
    assert c.post("/api/v1/people/999/reembed", headers=cw).status_code == 404

    page = c.get("/people", headers=cw)
    assert page.status_code == 200 and 'id="reembed-form"' in page.text and "새 사진 필요" in page.text

    one = c.post(f"/api/v1/people/{kept}/reembed", headers=cw)
    assert one.status_code == 200, one.text
    assert one.json() == {
        "person_id": kept, "model": ONNX_NAME, "reembedded": 1, "failures": [], "needs_photos": False
    }  # fmt: skip
    everyone = c.post("/api/v1/people/reembed", headers=cw)
    assert everyone.status_code == 200
    got = [(r["person_id"], r["reembedded"], r["needs_photos"]) for r in everyone.json()]
    assert got == [(gone, 0, True)]
    listed = {p["id"]: p for p in c.get("/api/v1/people", headers=inv).json()}
    assert listed[kept]["face_status"] == "current" and listed[kept]["faces"] == 1

    # the web page's button (in English here), back on dlib
    monkeypatch.delenv(ENV_VAR)
    web = h.client()
    csrf = login(web, "worker")
    web.get("/lang/en?next=/people")
    page = web.get("/people").text
    assert "re-embed pending" in page and "needs new photos" not in page
    assert 'action="/people/reembed"' in page
    done = web.post("/people/reembed", data={"csrf_token": csrf})
    assert done.status_code == 200 and 'id="reembed-result"' in done.text
    assert re.search(r"dlib_face_recognition_resnet_model_v1\+mirror-l2: 1 ", done.text), done.text
    with h.store.session() as s:
        assert people.get_person(s, kept).face_status == "current"
        assert people.get_person(s, gone).face_status == "current"  # her dlib face is current again
    h.store.dispose()
