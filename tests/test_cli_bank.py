"""`jikimi bank ...` and `jikimi match` end to end on generated images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from jikimi.cli import app

runner = CliRunner()


def _picture(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC).save(path)
    return path


def _run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


def test_bank_add_match_disable_export_import(tmp_path: Path) -> None:
    original = _picture(tmp_path / "original.png", 1)
    other = _picture(tmp_path / "other.png", 2)
    # A re-encoded, resized copy of the original (what gets re-uploaded elsewhere).
    copy = tmp_path / "copy.jpg"
    Image.open(original).resize((400, 300)).save(copy, quality=70)
    rotated = tmp_path / "rotated.png"
    Image.open(original).transpose(Image.Transpose.ROTATE_90).save(rotated)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")

    assert _run("bank", "create", "centre")[0] == 0
    assert _run("bank", "create", "centre")[0] == 2
    code, out = _run("bank", "add", "centre", str(original), "--label", "deepfake", "--note", "case 1")
    assert code == 0 and "added" in out
    code, out = _run("bank", "add", "centre", str(original))
    assert code == 0 and "already in bank" in out
    assert _run("bank", "add-hash", "centre", "--pdq", "abc")[0] == 2
    assert _run("bank", "add-hash", "centre", "--md5", "d41d8cd98f00b204e9800998ecf8427e")[0] == 0

    code, out = _run("match", str(copy), str(other), str(rotated), str(broken), "--json")
    assert code == 1  # the broken file failed; the others were still matched
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.strip().splitlines())}
    (m,) = rows["copy.jpg"]["matches"]
    assert m["bank"] == "centre" and m["signal"] == "pdq" and m["distance"] <= 31
    assert m["metadata"]["labels"] == ["deepfake"] and m["metadata"]["note"] == "case 1"
    assert rows["other.png"]["matches"] == []
    assert rows["rotated.png"]["matches"][0]["variant"] != "original"
    assert "error" in rows["broken.jpg"]
    code, out = _run("match", str(original))
    assert code == 0 and "bank=centre" in out and "signal=md5" in out and "signal=sha256" in out

    code, out = _run("bank", "list", "--json")
    assert json.loads(out)["entries"] == 2
    assert _run("bank", "disable", "centre")[0] == 0
    assert "no match" in _run("match", str(copy))[1]
    assert _run("bank", "enable", "centre")[0] == 0

    export = tmp_path / "centre.csv"
    assert _run("bank", "export", "centre", "--format", "csv", "-o", str(export))[0] == 0
    assert _run("bank", "create", "copy")[0] == 0
    code, out = _run("bank", "import", "copy", str(export), "--format", "csv")
    assert code == 0 and "2 added" in out
    assert _run("bank", "delete", "centre", "--yes")[0] == 0
    code, out = _run("match", str(copy), "--json")
    assert [x["bank"] for x in json.loads(out)["matches"]] == ["copy"]
    assert _run("bank", "reindex")[0] == 0
    code, out = _run("match", str(copy), "--bank", "copy", "--json")
    assert code == 0 and json.loads(out)["matches"]
