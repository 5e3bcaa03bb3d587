"""The ``people`` contract — who was found in an item and how, one entry per person — in a scan's findings
and in ``jikimi analyze --json``; source-photo matching as a scan step (images and sampled video frames).

Derivatives are made in the test from ordinary portraits (body replaced by noise, cropped, re-encoded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import sqlalchemy as sa
import typer
from PIL import Image
from typer.testing import CliRunner

from derivatives import crop_upper, jpeg, mirror, replace_body, resize
from jikimi.cases.runner import run_scan
from jikimi.signals.face import detect_faces
from jikimi.store import findings, open_store, people, source_photos
from jikimi.store.schema.scans import Finding, MediaRecord


def _box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    b = detect_faces(rgb, embed=False)[0].box
    return (b.left, b.top, b.right, b.bottom)


@pytest.fixture(scope="module")
def material(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = shared / "faces"
    out = tmp_path_factory.mktemp("scan-sources")
    paths: dict[str, Path] = {}
    for key, rel in (("her", "portraits/obama/obama.jpg"), ("rose", "portraits/rose_leslie/img2.jpg")):
        im = Image.open(root / rel).convert("RGB")
        im.thumbnail((800, 800))
        paths[key] = out / f"{key}.jpg"
        im.save(paths[key], quality=92)
    her = np.asarray(Image.open(paths["her"]))
    box = _box(her)
    scan = out / "downloads"
    scan.mkdir()
    rose = np.asarray(Image.open(paths["rose"]))
    derived = jpeg(resize(crop_upper(replace_body(her, box, rose), box), 0.6), 50)
    paths["derived"] = scan / "undressed.jpg"
    Image.fromarray(derived).save(paths["derived"], quality=95)
    paths["rose_copy"] = scan / "rose.jpg"
    Image.fromarray(mirror(rose)).save(paths["rose_copy"], quality=80)
    paths["stranger"] = scan / "stranger.jpg"
    paths["stranger"].write_bytes((root / "lfw" / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes())
    rng = np.random.default_rng(3)
    paths["noise"] = scan / "noise.png"
    Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(paths["noise"])
    paths["scan"] = scan
    # A short video: unrelated frames, then the derivative.
    paths["video"] = out / "video" / "clip.mp4"
    paths["video"].parent.mkdir()
    frame = np.asarray(Image.fromarray(derived).resize((320, 400)))
    with av.open(str(paths["video"]), "w", format="mp4") as f:
        stream = f.add_stream("mpeg4", rate=1)
        stream.width, stream.height, stream.pix_fmt = 320, 400, "yuv420p"
        stream.bit_rate = 2_000_000
        for i in range(6):
            pic = frame if i >= 2 else np.full((400, 320, 3), 40 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pic, format="rgb24")):
                f.mux(packet)
        for packet in stream.encode():
            f.mux(packet)
    return paths


def _enrol(material: dict[str, Path], *, sources: bool = True) -> tuple[int, int]:
    store = open_store()
    with store.session() as s:
        her = people.enroll(s, "Person A", [material["her"]], consent_by="herself").person.id
        rose = people.enroll(s, "Person B", [material["rose"]], consent_by="herself").person.id
        if sources:
            assert source_photos.add_sources(s, her, [material["her"]]).added
    store.dispose()
    return her, rose


def _by_media(store: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with store.session() as s:
        for f, m in s.execute(sa.select(Finding, MediaRecord).join(MediaRecord)).all():
            out.setdefault(m.sha256, []).append(findings.finding_json(s, f))
    return out


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scan_findings_name_who_was_found_and_how(material: dict[str, Path]) -> None:
    her, rose = _enrol(material)
    store = open_store()
    seen: list[dict[str, Any]] = []
    report = run_scan(
        store,
        [material["scan"]],
        workers=0,
        signals=["md5", "sha256", "face"],
        bank_matcher=None,
        on_finding=seen.append,
    )
    assert not report.errors
    got = _by_media(store)
    assert set(got) == {_sha(material["derived"]), _sha(material["rose_copy"])}  # nobody else, no noise
    (derived,) = got[_sha(material["derived"])]
    assert derived["reasons"] == ["enrolled_face", "source_photo"] and derived["person"]["id"] == her
    (p,) = derived["people"]
    assert p["id"] == her and p["name"] == "Person A" and p["by"] == ["face", "source_photo"]
    assert 0 < p["score"] <= 1 and 0 <= p["far"] < 0.01 and p["distance"] < 0.6
    with store.session() as s:
        (src,) = source_photos.list_sources(s, her)
    assert p["source_id"] == src.id and p["inliers"] >= 30
    assert p["source_photo"]["source_id"] == src.id and len(p["source_photo"]["region"]) == 4
    assert derived["scores"]["source_inliers"] == p["inliers"]
    (rose_f,) = got[_sha(material["rose_copy"])]
    assert rose_f["reasons"] == ["enrolled_face"]
    assert [(q["id"], q["by"]) for q in rose_f["people"]] == [(rose, ["face"])]
    assert "source_id" not in rose_f["people"][0]
    assert {json.dumps(f["people"], sort_keys=True) for f in seen} == {
        json.dumps(f[0]["people"], sort_keys=True) for f in got.values()
    }
    # The finding card in the web app shows the source photo beside the face evidence; the API lists people.
    from api_harness import bearer, login, make_harness

    h = make_harness(store.url)
    h.add_user("worker", "case_worker")
    c = h.client()
    api = c.get("/api/v1/findings", headers=bearer(h.token("worker"))).json()
    assert {json.dumps(f["people"], sort_keys=True) for f in api} == {
        json.dumps(f[0]["people"], sort_keys=True) for f in got.values()
    }
    login(c, "worker")
    c.get("/lang/en?next=/review")
    page = c.get("/review").text
    # The evidence in words (no raw scores): her face and her source photo, by number.
    assert f"made from her source photo no. {src.id}" in page
    assert "like her enrolled photo" in page and "Made from one of her source photos" in page
    h.store.dispose()
    store.dispose()


def test_source_photos_alone_and_in_video_frames_then_withdrawal(material: dict[str, Path]) -> None:
    """Without face search the derivative is still found, by her source photo; so is a video whose sampled
    frames show it. After she withdraws, the same scan finds nothing."""
    her, _ = _enrol(material)
    store = open_store()
    report = run_scan(
        store,
        [material["scan"], material["video"].parent],
        workers=0,
        signals=["md5", "sha256"],
        bank_matcher=None,
        gallery=None,
    )
    assert not report.errors
    got = _by_media(store)
    assert set(got) == {_sha(material["derived"]), _sha(material["video"])}
    for sha, (f,) in got.items():
        assert f["reasons"] == ["source_photo"]
        (p,) = f["people"]
        assert p["id"] == her and p["by"] == ["source_photo"] and "far" not in p
        if sha == _sha(material["video"]):
            assert p["source_photo"]["frame"] >= 2  # the frames showing the derivative
    with store.session() as s:
        people.withdraw(s, her, actor="test")
    again = run_scan(
        store, [material["scan"]], workers=0, signals=["md5", "sha256"], bank_matcher=None, resume=False
    )
    assert again.findings == [] and not again.errors
    store.dispose()


def test_nobody_with_sources_means_no_features_are_computed(material: dict[str, Path]) -> None:
    from jikimi.cases.runner import _load_sources

    _enrol(material, sources=False)
    store = open_store()
    assert _load_sources(store) is None
    store.dispose()


def _app() -> typer.Typer:
    from jikimi.cli.cmd_analyze import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app)
    return app


def _analyze(*args: str) -> list[dict[str, Any]]:
    res = CliRunner().invoke(_app(), ["analyze", *args, "--json", "-j", "1"])
    assert res.exit_code == 0, res.output
    return [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]


def test_analyze_json_people(material: dict[str, Path]) -> None:
    her, rose = _enrol(material)
    derived, rose_rec, stranger = _analyze(
        str(material["derived"]), str(material["rose_copy"]), str(material["stranger"])
    )
    (p,) = derived["people"]
    assert p["id"] == her and p["name"] == "Person A" and p["by"] == ["face", "source_photo"]
    assert p["far"] is not None and p["distance"] < 0.6 and p["inliers"] >= 30 and p["source_id"] >= 1
    assert derived["faces"][0]["match"]["person_id"] == her  # the existing per-face match stays
    assert [(q["id"], q["by"]) for q in rose_rec["people"]] == [(rose, ["face"])]
    assert stranger["people"] == [] and all(f["match"] is None for f in stranger["faces"])
    assert "_features" not in derived and "_embeddings" not in derived
    (off,) = _analyze(str(material["derived"]), "--no-search")
    assert off["people"] == []
