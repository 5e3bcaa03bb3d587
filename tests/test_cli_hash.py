"""``jikimi hash``: the JSON-lines contract, the table, exit codes, bad items and parallel folders."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from jikimi.cli.cmd_hash import register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app)
    return app


def picture(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def video(path: Path, frames: int = 10, fps: int = 5) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            a = np.asarray(picture(i // 5, (64, 48)))
            for pk in stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    picture(1).save(d / "a.jpg", quality=92)
    picture(2).save(d / "sub" / "b.png")
    video(d / "sub" / "c.mp4")
    return d


def lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in stdout.splitlines() if x.strip()]


def test_json_contract_for_images_and_videos(folder: Path) -> None:
    result = CliRunner().invoke(_app(), ["hash", str(folder), "--recursive", "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    recs = {Path(str(r["path"])).name: r for r in lines(result.stdout)}
    assert set(recs) == {"a.jpg", "b.png", "c.mp4"}
    img = recs["a.jpg"]
    assert set(img) == {"path", "kind", "md5", "sha256", "pdq"}
    assert img["kind"] == "image"
    import hashlib

    raw = (folder / "a.jpg").read_bytes()
    assert img["md5"] == hashlib.md5(raw).hexdigest() and img["sha256"] == hashlib.sha256(raw).hexdigest()
    pdq = img["pdq"]
    assert isinstance(pdq, dict) and set(pdq) == {"hash", "quality"}
    assert len(pdq["hash"]) == 64 and isinstance(pdq["quality"], int)
    vid = recs["c.mp4"]
    assert set(vid) == {"path", "kind", "md5", "sha256", "duration", "vpdq", "tmk"}
    assert vid["kind"] == "video" and vid["duration"] == pytest.approx(2.0, abs=0.1)
    frames = vid["vpdq"]
    assert isinstance(frames, list)
    assert [f["frame"] for f in frames] == [0, 5]
    assert [f["timestamp"] for f in frames] == [0.0, 1.0]
    assert all(set(f) == {"frame", "quality", "hash", "timestamp"} for f in frames)


def test_without_recursive_only_the_top_folder(folder: Path) -> None:
    result = CliRunner().invoke(_app(), ["hash", str(folder), "--json", "-j", "1"])
    assert result.exit_code == 0
    assert [Path(str(r["path"])).name for r in lines(result.stdout)] == ["a.jpg"]


def test_exact_dihedral_and_every_options(folder: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["hash", str(folder), "-r", "--json", "-j", "1", "--exact", "--dihedral", "--every", "0"]
    )
    assert result.exit_code == 0
    recs = {Path(str(r["path"])).name: r for r in lines(result.stdout)}
    assert len(recs["a.jpg"]["pdq"]["dihedral"]) == 8  # type: ignore[index]
    assert len(recs["c.mp4"]["vpdq"]) == 10  # type: ignore[arg-type]
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

    assert recs["a.jpg"]["pdq"]["hash"] == pdq_from_file(folder / "a.jpg")[0]  # type: ignore[index]


def test_bad_items_fail_one_by_one_and_exit_1(tmp_path: Path, folder: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.jpg").write_bytes(b"")
    data = io.BytesIO()
    picture(3, (400, 300)).save(data, "JPEG")
    (bad / "truncated.jpg").write_bytes(data.getvalue()[:2000])
    (bad / "text.jpg").write_text("hello\n")
    (bad / "loop.jpg").symlink_to("loop.jpg")
    os.mkfifo(bad / "pipe.jpg")
    good = video(tmp_path / "v.mp4").read_bytes()
    (bad / "corrupt.mp4").write_bytes(good[:32] + bytes(len(good) - 32))
    missing = tmp_path / "missing.png"
    result = CliRunner().invoke(
        _app(), ["hash", str(bad), str(folder / "a.jpg"), str(missing), "--json", "-j", "1"]
    )
    assert result.exit_code == 1
    recs = {Path(str(r["path"])).name: r for r in lines(result.stdout)}
    assert recs["a.jpg"]["kind"] == "image"  # the good one still printed
    errors = {k: str(v.get("error")) for k, v in recs.items() if "error" in v}
    assert set(errors) == {
        "zero.jpg",
        "truncated.jpg",
        "text.jpg",
        "loop.jpg",
        "pipe.jpg",
        "corrupt.mp4",
        "missing.png",
    }
    assert errors["zero.jpg"] == "empty file (0 bytes)"
    assert errors["truncated.jpg"].startswith("truncated JPEG")
    assert errors["text.jpg"].startswith("not an image or video")
    assert errors["loop.jpg"].startswith("symbolic link loop")
    assert errors["pipe.jpg"].startswith("not a regular file")
    assert errors["corrupt.mp4"].startswith("damaged or unreadable MP4 video")
    assert errors["missing.png"].startswith("no such file")
    assert len(set(errors.values())) == len(errors)  # each its own reason


def test_folder_symlink_cycle_ends(folder: Path) -> None:
    (folder / "sub" / "back").symlink_to(folder, target_is_directory=True)
    result = CliRunner().invoke(_app(), ["hash", str(folder), "-r", "--json", "-j", "1"])
    assert result.exit_code == 0
    assert len(lines(result.stdout)) == 3


def test_table_output(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jikimi.cli import common

    monkeypatch.setattr(common.console, "width", 400)  # one table row per line, whatever the tmp path
    (tmp_path / "x.jpg").write_text("nope")
    result = CliRunner().invoke(_app(), ["hash", str(folder), str(tmp_path / "x.jpg"), "-r", "-j", "1"])
    assert result.exit_code == 1
    assert "a.jpg" in result.stdout and "vPDQ: 2 frames" in result.stdout
    assert "not an image or video (looks like text)" in result.stdout
    # in the user's language, from the record's catalogued message; the JSON keeps English and the code
    monkeypatch.setenv("JIKIMI_LANG", "ko")
    result = CliRunner().invoke(_app(), ["hash", str(tmp_path / "x.jpg")])
    assert "이미지나 동영상 파일이 아닙니다(텍스트 파일로 보입니다)" in result.stdout
    rec = lines(CliRunner().invoke(_app(), ["hash", str(tmp_path / "x.jpg"), "--json"]).stdout)[0]
    assert rec["error"] == "not an image or video (looks like text)" and rec["code"] == "media.not_media"


def test_usage_errors_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(_app(), ["hash"]).exit_code == 2
    assert runner.invoke(_app(), ["hash", ".", "--every", "-1"]).exit_code == 2
    assert runner.invoke(_app(), ["hash", ".", "--bogus"]).exit_code == 2


def test_installed_command_hashes_in_parallel(folder: Path) -> None:
    """The real ``jikimi`` entry point, with two worker processes; same records as in-process."""
    exe = Path(sys.executable).with_name("jikimi")
    cmd = [str(exe), "hash", str(folder), "-r", "--json", "--workers", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    inproc = CliRunner().invoke(_app(), ["hash", str(folder), "-r", "--json", "-j", "1"])
    assert lines(proc.stdout) == lines(inproc.stdout)


def test_json_stays_on_stdout_while_the_progress_bar_shows(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jikimi.cli import common

    monkeypatch.setattr(common.err_console, "_force_terminal", True)  # as if stderr were a terminal
    assert common.err_console.is_terminal
    result = CliRunner().invoke(_app(), ["hash", str(folder), "-r", "--json", "-j", "1"])
    assert result.exit_code == 0
    assert len(lines(result.stdout)) == 3
    assert "hashing" in result.stderr  # the bar went to stderr
