"""``jikimi scan --json`` prints one finding per line; a failed item gives exit code 1; ``jikimi case``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from jikimi.cli import app
from jikimi.store import banks, open_store


def test_scan_json_lines_and_case_commands(tmp_path: Path) -> None:
    root = tmp_path / "zip-from-victim"
    root.mkdir()
    rng = np.random.default_rng(5)
    for i in range(4):
        arr = rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)
        arr[:, : 10 * (i + 1)] //= 5
        Image.fromarray(arr).save(root / f"p{i}.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    store = open_store()
    with store.session() as s:
        banks.create_bank(s, "known")
        banks.add_entry(s, "known", banks.entry_from_file(root / "p2.png"))
    store.dispose()

    runner = CliRunner()
    res = runner.invoke(
        app, ["scan", str(root), "--json", "--workers", "0", "--signals", "md5,sha256,pdq", "-q"]
    )
    assert res.exit_code == 1, res.output  # one item failed, the others were scanned
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    f = lines[0]
    assert {"media_sha256", "reasons", "person", "bank_matches", "sightings"} <= set(f)
    assert f["reasons"] == ["bank_match"] and f["person"] is None
    assert f["bank_matches"][0]["bank"] == "known"
    assert f["sightings"][0]["location"] == str(root / "p2.png")

    res = runner.invoke(app, ["case", "list", "--json"])
    cases = [json.loads(line) for line in res.stdout.splitlines()]
    assert res.exit_code == 0 and len(cases) == 1 and cases[0]["queue"] == "unidentified"
    res = runner.invoke(app, ["case", "show", str(cases[0]["id"])])
    assert res.exit_code == 0 and f["media_sha256"] in res.stdout.replace("\n", "")
    res = runner.invoke(app, ["case", "confirm", str(f["finding_id"]), "--note", "checked"])
    assert res.exit_code == 0 and "confirmed" in res.stdout
    assert runner.invoke(app, ["case", "show", "999"]).exit_code == 1
    assert runner.invoke(app, ["scan", str(root), "--executor", "nope"]).exit_code == 2
