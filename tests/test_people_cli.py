"""``jikimi person``: enroll (refused without consent, --face N), list, show, search, withdraw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from jikimi.cli import app


@pytest.fixture(scope="module")
def photos(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    src = shared / "faces" / "portraits"
    if not src.is_dir():
        pytest.skip(f"portraits not found at {src}")
    out = tmp_path_factory.mktemp("cli-portraits")
    paths = {}
    for key, rel, side in (
        ("kit", "kit_harington/john2.jpeg", 480),
        ("scene", "_scenes/kit_with_rose.jpg", 500),  # Rose left, Kit right
        ("rose", "rose_leslie/img2.jpg", 480),
    ):
        im = Image.open(src / rel).convert("RGB")
        im.thumbnail((side, side))
        paths[key] = out / f"{key}.jpg"
        im.save(paths[key], quality=92)
    return paths


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_person_commands(photos: dict[str, Path]) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["person", "enroll", "Kit", str(photos["kit"])])
    assert r.exit_code == 2 and "no consent record" in r.output

    r = runner.invoke(app, ["person", "enroll", "Rose", str(photos["scene"]), "--consent-by", "self"])
    assert r.exit_code == 1 and "2 faces" in r.output and "--face" in r.output

    r = runner.invoke(
        app,
        ["person", "enroll", "Rose", str(photos["scene"]), "--consent-by", "self", "--face", "1", "--json"],
    )
    assert r.exit_code == 0, r.output
    rose = _json_lines(r.output)[0]
    assert rose["name"] == "Rose" and rose["faces"] == 1 and rose["searchable"]

    r = runner.invoke(
        app,
        [
            "person",
            "enroll",
            "Kit",
            str(photos["kit"]),
            "--consent-by",
            "his agent",
            "--expires",
            "2099-01-01",
        ],
    )
    assert r.exit_code == 0, r.output

    r = runner.invoke(app, ["person", "list", "--json"])
    listed = _json_lines(r.output)
    assert [p["name"] for p in listed] == ["Rose", "Kit"]
    assert listed[1]["consent"]["expires_at"].startswith("2099-01-01")

    r = runner.invoke(app, ["person", "search", str(photos["rose"]), "--json"])
    assert r.exit_code == 0, r.output
    found = _json_lines(r.output)[0]["faces"]
    assert [m["name"] for m in found[0]["matches"]] == ["Rose"]

    r = runner.invoke(app, ["person", "withdraw", str(rose["id"]), "--reason", "asked"])
    assert r.exit_code == 0 and "withdrawn" in r.output
    r = runner.invoke(app, ["person", "search", str(photos["rose"]), "--json"])
    assert _json_lines(r.output)[0]["faces"][0]["matches"] == []

    r = runner.invoke(app, ["person", "show", str(rose["id"])])
    assert r.exit_code == 0 and "withdrawn" in r.output and "searchable now: no" in r.output
    r = runner.invoke(
        app, ["person", "consent", str(listed[1]["id"]), "--consent-by", "Kit", "--expires", "2098-01-01"]
    )
    assert r.exit_code == 0 and "valid: by Kit" in r.output and "2098-01-01" in r.output
    r = runner.invoke(app, ["person", "consent", str(rose["id"]), "--consent-by", "Rose"])
    assert r.exit_code == 2 and "withdrawn" in r.output

    r = runner.invoke(app, ["person", "show", "999"])
    assert r.exit_code == 1 and "no person with id 999" in r.output
