"""``jikimi analyze``: every signal per file in one JSON line, faces matched only against an enrolled,
consenting person, videos analysed over sampled frames, and ``jikimi hash``'s exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import typer
from PIL import Image
from typer.testing import CliRunner

from jikimi.cli.cmd_analyze import AnalyseOptions, analyse_file, register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app)
    return app


def run(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    res = CliRunner().invoke(_app(), ["analyze", *args])
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")] if "--json" in args else []
    return res.exit_code, lines, res.output


def test_json_record_has_every_signal_and_a_bad_file_fails_alone(shared: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    photo = shared / "faces/portraits/_scenes/two_people.jpg"
    code, recs, _ = run(str(photo), str(bad), "--json", "--no-search")
    assert code == 1
    assert [r["path"] for r in recs] == [str(photo), str(bad)]
    good, err = recs
    assert "error" in err and "not a picture" not in err["error"]
    assert good["kind"] == "image" and good["format"] == "JPEG"
    assert len(good["hashes"]["md5"]) == 32 and len(good["hashes"]["sha256"]) == 64
    assert len(good["hashes"]["pdq"]["hash"]) == 64
    assert len(good["faces"]) == 2
    for f in good["faces"]:
        assert len(f["box"]) == 4 and len(f["landmarks"]) == 5
        assert 0.0 <= f["faceswap"] <= 1.0 and f["match"] is None
    assert good["nudity"]["explicit"] is False
    assert {d["label"] for d in good["nudity"]["detections"]} & {"FACE_FEMALE", "FACE_MALE"}
    assert good["faceswap"]["score"] == max(f["faceswap"] for f in good["faces"])
    # An ordinary photo: the only evidence there can be is the face-swap score reaching its threshold.
    syn = good["synthetic"]
    assert [e["kind"] for e in syn["evidence"]] == (
        ["faceswap"] if good["faceswap"]["above_threshold"] else []
    )
    assert syn["conclusion"] == (
        "evidence of generation or editing" if syn["evidence"] else "no evidence found"
    )
    assert "_embeddings" not in good and "errors" not in good
    assert set(good["timings_ms"]) >= {"decode", "hashes", "face", "nudity", "faceswap", "synthetic"}


def test_a_good_file_exits_0_and_the_table_reads_well(shared: Path) -> None:
    code, _, out = run(str(shared / "faces/portraits/obama/obama.jpg"), "--no-search")
    assert code == 0
    for text in ("faces: 1", "nudity: not explicit", "face-swap:", "synthetic: ", "md5"):
        assert text in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run()[0] == 2
    assert run(str(tmp_path), "--every", "-1")[0] == 2


def test_an_enrolled_consenting_person_is_matched(shared: Path, tmp_path: Path) -> None:
    from jikimi.store import open_store, people

    store = open_store()
    with store.session() as s:
        people.enroll(s, "Obama", [shared / "faces/portraits/obama/obama.jpg"], consent_by="the person")
    store.dispose()
    code, recs, _ = run(str(shared / "faces/portraits/obama/obama2.jpg"), "--json")
    assert code == 0
    (face,) = recs[0]["faces"]
    assert face["match"]["name"] == "Obama" and face["match"]["score"] > 0.5
    code, recs, _ = run(str(shared / "faces/portraits/biden/biden.jpg"), "--json")
    assert all(f["match"] is None for f in recs[0]["faces"])


def test_a_video_is_analysed_over_sampled_frames(shared: Path, tmp_path: Path) -> None:
    face = Image.open(shared / "faces/portraits/obama/obama.jpg").convert("RGB").resize((320, 400))
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=2)
        stream.width, stream.height, stream.pix_fmt = 320, 400, "yuv420p"
        for i in range(6):
            frame = np.asarray(face) if i % 2 == 0 else np.full((400, 320, 3), 90, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    rec = analyse_file(str(path), AnalyseOptions(every_seconds=0.5))
    assert rec["kind"] == "video" and "error" not in rec, rec.get("error")
    assert rec["nudity"]["frames_sampled"] >= 4 and rec["nudity"]["explicit"] is False
    assert rec["faceswap"]["frames_with_faces"] >= 1
    assert rec["faceswap"]["score"] is not None
    assert {f["frame_index"] for f in rec["faces"]} <= {
        fr["index"] for fr in rec["faceswap"]["top_frames"]
    } | {f["frame_index"] for f in rec["faces"]}
    assert rec["synthetic"]["checks"]["watermark"] == "not checked for videos"


def test_parallel_workers_give_the_same_records(shared: Path) -> None:
    paths = [
        str(shared / "faces/portraits/obama/obama.jpg"),
        str(shared / "faces/portraits/biden/biden2.jpg"),
    ]
    one = run(*paths, "--json", "--no-search", "-j", "1")[1]
    two = run(*paths, "--json", "--no-search", "-j", "2")[1]
    timing = {"timings_ms", "cpu_ms"}
    strip = [{k: v for k, v in r.items() if k not in timing} for r in one]
    assert strip == [{k: v for k, v in r.items() if k not in timing} for r in two]


def test_png_bytes_with_generator_metadata_are_reported(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a garden\nSteps: 20, Sampler: Euler a, Seed: 1, Model: sd_xl_base_1.0")
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (120, 140, 160)).save(buf, "PNG", pnginfo=info)
    path = tmp_path / "gen.png"
    path.write_bytes(buf.getvalue())
    code, recs, _ = run(str(path), "--json", "--no-search")
    assert code == 0
    syn = recs[0]["synthetic"]
    assert syn["conclusion"] == "evidence of generation or editing"
    assert any("AUTOMATIC1111" in e["finding"] for e in syn["evidence"])
    assert recs[0]["faces"] == [] and recs[0]["faceswap"]["score"] is None
