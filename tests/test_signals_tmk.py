"""TMK+PDQF, the signal that proves banks are signal-typed: one module and one registry line, and it is hashed
by ``jikimi hash``, stored in banks, matched in scans, looked up over the API and exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from api_harness import bearer, make_harness
from jikimi.errors import ValidationError
from jikimi.media import load
from jikimi.signals import registry

SRC = Path(__file__).resolve().parents[1] / "src" / "jikimi"
NAME = "tmk"


def _clip(path: Path, *, size: tuple[int, int] = (160, 120), seconds: int = 4, seed: int = 3) -> None:
    """Moving blocks with a scene cut every 2 s (benign generated content), written with PyAV."""
    import av

    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(10 * seconds):
            if i % 20 == 5:
                base = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
            img = np.array(Image.fromarray(base).resize((w, h), Image.Resampling.BILINEAR))
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(np.roll(img, 2 * i, axis=1)), format="rgb24"
            )
            for pk in stream.encode(frame):
                out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)


def _reencode(src: Path, dst: Path, size: tuple[int, int]) -> None:
    """A re-upload: decoded, scaled, encoded again at another frame rate and in another container."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for n, frame in enumerate(inp.decode(video=0)):
            small = np.asarray(
                Image.fromarray(frame.to_ndarray(format="rgb24")).resize(size, Image.Resampling.BICUBIC)
            )
            for _ in range(2 if n % 2 else 3):  # 10 fps -> 25 fps, as a re-encoder duplicates frames
                for pk in stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(small), format="rgb24")
                ):
                    out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tmk")
    paths = {"original": root / "clip.mp4", "copy": root / "reupload.avi", "other": root / "other.mp4"}
    _clip(paths["original"])
    _reencode(paths["original"], paths["copy"], (96, 72))
    _clip(paths["other"], seed=11)
    return paths


def test_only_its_module_and_one_registry_line_name_it() -> None:
    """Adding a hash signal touches no store, index wiring, API or exchange code: grep the source tree."""
    pattern = re.compile(rf"\b{NAME}\b|{NAME}py|{NAME}signal", re.IGNORECASE)
    naming: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*")):
        if path.is_file() and path.suffix in {
            ".py",
            ".html",
            ".js",
            ".yaml",
            ".yml",
            ".json",
            ".po",
            ".toml",
        }:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if pattern.search(line)]
            if lines:
                naming[str(path.relative_to(SRC))] = lines
    assert set(naming) == {"signals/tmk.py", "signals/registry.py"}, sorted(naming)
    assert naming["signals/registry.py"] == [f'    "{NAME}": "jikimi.signals.{NAME}:TMKSignal",']


def test_hash_bank_match_export(clips: dict[str, Path], tmp_path: Path, db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jikimi.cli import app
    from jikimi.exchange import export_bank, import_bank
    from jikimi.store import banks, open_store

    sig = registry.hash_signal(NAME)
    # `jikimi hash` gives its value.
    monkeypatch.setenv("JIKIMI_DATABASE_URL", db_url)
    out = CliRunner().invoke(app, ["hash", str(clips["original"]), "--json", "--workers", "1"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout.strip().splitlines()[-1])
    value = sig.validate(record[NAME]["hash"])
    assert record[NAME]["frames"] >= 4 * 15 - 2  # resampled to 15 frames per second
    # Deterministic: the same file hashes to the same value.
    assert sig.extract(load(clips["original"]))["hash"] == value

    store = open_store(db_url)
    try:
        with store.session() as s:
            banks.create_bank(s, "known")
            added = banks.add_entry(s, "known", banks.entry_from_file(clips["original"], note="clip"))
            (row,) = banks.find_entries(s, "known", signal=NAME, value=value)
            assert row.id == added.entry_id and [v.value for v in row.values()[NAME]] == [value]
        # A re-encoded, resized copy at another frame rate is found by its TMK (and nothing else is).
        m = banks.BankMatcher.load(store)
        copy = sig.extract(load(clips["copy"]))["hash"]
        other = sig.extract(load(clips["other"]))["hash"]
        assert copy != value and sig.distance(value, copy) <= 0.05 < sig.default_threshold
        assert sig.distance(value, other) > sig.default_threshold
        (hit,) = [x for x in m.match_file(clips["copy"]) if x.signal == NAME]
        assert hit.entry_id == added.entry_id and hit.distance is not None and hit.distance <= 0.05
        assert hit.threshold == sig.default_threshold and hit.metadata["note"] == "clip"
        assert not [x for x in m.match_file(clips["other"]) if x.signal == NAME]
        assert m.match_hash(sig.exchange_name(), copy)[0].entry_id == added.entry_id
        # Disabled: gone from the next result.
        m.disable_entry(added.entry_id)
        assert m.match_hash(NAME, copy) == []
        m.enable_entry(added.entry_id)
        assert [x.entry_id for x in m.match_hash(NAME, copy)] == [added.entry_id]
        with pytest.raises(ValidationError, match=f"not a valid {sig.display()} hash"):
            m.match_hash(NAME, "zz")
        # Exported under python-threatexchange's name, and imported back into another bank.
        with store.session() as s:
            pytx = export_bank(s, "known", "pytx")
            csv_text = export_bank(s, "known", "csv")
        assert f"{sig.exchange_name()} {value}\n" in pytx
        assert f"{sig.exchange_name()},{value}," in csv_text
        (tmp_path / "known.csv").write_text(csv_text, encoding="utf-8")
        with store.session() as s:
            banks.create_bank(s, "partner")
            rep = import_bank(s, "partner", tmp_path / "known.csv", "csv")
            assert rep.errors == [] and rep.added == 1
            assert banks.find_entries(s, "partner", signal=sig.exchange_name(), value=value)
    finally:
        store.dispose()


def test_api_lookup_and_scan(clips: dict[str, Path], tmp_path: Path, db_url: str) -> None:
    from jikimi.cases.runner import run_scan
    from jikimi.store.schema.scans import Finding

    sig = registry.hash_signal(NAME)
    h = make_harness(db_url)
    tokens = h.role_tokens()
    c = h.client()
    staff, partner = bearer(tokens["case_worker"]), bearer(tokens["partner"])
    assert c.post("/api/v1/banks", json={"name": "known"}, headers=staff).status_code == 201
    data = clips["original"].read_bytes()
    added = c.post(
        "/api/v1/banks/known/files", files=[("files", ("c.mp4", data, "video/mp4"))], headers=staff
    )
    assert added.status_code == 201, added.text
    entry_id = added.json()[0]["entry_id"]
    entries = c.get("/api/v1/banks/known/entries", headers=staff).json()
    value = entries[0][NAME]
    assert sig.validate(value) == value
    copy = sig.extract(load(clips["copy"]))["hash"]
    # The REST lookup and HMA's, by our name and by python-threatexchange's.
    found = c.post("/api/v1/hashes/lookup", json={NAME: copy}, headers=staff)
    assert found.status_code == 200, found.text
    (hit,) = found.json()
    assert (hit["entry_id"], hit["signal"]) == (entry_id, NAME) and hit["distance"] <= 0.05
    assert c.post("/api/v1/hashes/lookup", json={NAME: "zz"}, headers=staff).status_code == 422
    assert c.put("/api/v1/banks/known/shares/ExampleTube", headers=staff).status_code in (200, 201)
    hma = c.get("/m/lookup", params={"signal_type": sig.exchange_name(), "signal": copy}, headers=partner)
    assert hma.status_code == 200 and [x["bank_content_id"] for x in hma.json()["known"]] == [entry_id]
    status = c.get("/m/index/status", params={"signal_type": NAME}, headers=partner).json()
    assert status[NAME]["size"] == 1 and status[NAME]["present"]
    # The partner feed carries it under python-threatexchange's name.
    feed = c.get("/api/v1/feed", headers=partner).json()
    assert [ch["entry"]["signals"][sig.exchange_name()] for ch in feed["changes"]] == [value]

    # A scan of a folder with the re-encoded copy files a finding matched by TMK.
    folder = tmp_path / "found"
    folder.mkdir()
    (folder / "reupload.avi").write_bytes(clips["copy"].read_bytes())
    report = run_scan(h.store, [folder], workers=0, signals=["md5", "sha256", NAME], gallery=None)
    assert len(report.findings) == 1, report
    with h.store.session() as s:
        finding = s.query(Finding).one()
        assert [(m["signal"], m["entry_id"]) for m in finding.bank_matches] == [(NAME, entry_id)]
