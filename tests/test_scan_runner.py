"""The scan runner end to end on generated images: findings, sightings, clusters, errors, idempotent re-runs,
personal data next to a finding, and the decision rules."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw

from jikimi.cases.runner import run_scan
from jikimi.scan.decide import Thresholds, decide
from jikimi.scan.pipeline import Analysis
from jikimi.sources.base import Item, Sighting, Source
from jikimi.store import audit, banks, open_store, vault
from jikimi.store.schema.evidence import VaultObject
from jikimi.store.schema.scans import (
    Case,
    Finding,
    MediaRecord,
    PersonalDataRecord,
    ScanItem,
    ScanRun,
    SightingRecord,
)
from jikimi.store.vault import unseal

HASH_SIGNALS = ["md5", "sha256", "pdq"]


def make_image(path: Path, seed: int, size: int = 160) -> Path:
    """A picture of random coloured shapes (plenty of structure for PDQ)."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), tuple(int(x) for x in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(img)
    for _ in range(14):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        x1, y1 = x0 + int(rng.integers(8, size // 2)), y0 + int(rng.integers(8, size // 2))
        d.rectangle([x0, y0, x1, y1], fill=tuple(int(x) for x in rng.integers(0, 255, 3)))
        d.ellipse([y0, x0, y1, x1], fill=tuple(int(x) for x in rng.integers(0, 255, 3)))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "downloads"
    for i in range(8):
        make_image(root / f"img{i}.png", i)
    (root / "sub").mkdir()
    (root / "sub" / "copy_of_3.png").write_bytes((root / "img3.png").read_bytes())
    Image.open(root / "img3.png").resize((120, 120)).save(root / "img3_small.jpg", quality=90)
    (root / "broken.jpg").write_bytes(b"this is not a picture")
    with zipfile.ZipFile(root / "from_victim.zip", "w") as zf:
        zf.writestr("chat/photo5.png", (root / "img5.png").read_bytes())
    return root


def _counts(store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with store.session() as s:
        return {
            name: s.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for name, table in [
                ("media", MediaRecord),
                ("sightings", SightingRecord),
                ("findings", Finding),
                ("cases", Case),
                ("vault", VaultObject),
                ("pii", PersonalDataRecord),
            ]
        }


def test_scan_finds_bank_matches_groups_sightings_and_reruns_idempotently(db_url: str, folder: Path) -> None:
    store = open_store(db_url)
    with store.session() as s:
        banks.create_bank(s, "victim-hashes")
        banks.add_entry(s, "victim-hashes", banks.entry_from_file(folder / "img3.png"))
    report = run_scan(store, [folder], workers=0, signals=HASH_SIGNALS, gallery=None, actor="test:centre")
    assert report.items == 12  # 8 + copy + resized + broken + zip member
    assert report.media_items == 11
    assert [e.location for e in report.errors] == [str(folder / "broken.jpg")]
    assert "not an image" in report.errors[0].reason
    assert len(report.findings) == 2 and report.by_reason["bank_match"] == 2
    counts = _counts(store)
    assert counts["media"] == 9  # the copy and the zipped photo are the same content as earlier files
    assert counts["sightings"] == 11
    assert counts["findings"] == 2 and counts["cases"] == 1 and counts["vault"] == 2
    with store.session() as s:
        exact = s.execute(
            sa.select(MediaRecord).where(
                MediaRecord.sha256 == banks.entry_from_file(folder / "img3.png").signals["sha256"][0].value
            )
        ).scalar_one()
        locs = sorted(
            x.location
            for x in s.execute(sa.select(SightingRecord).where(SightingRecord.media_id == exact.id)).scalars()
        )
        assert locs == [str(folder / "img3.png"), str(folder / "sub" / "copy_of_3.png")]
        caps = vault.captures(s, exact.sha256)  # each place the original was collected from, for custody
        assert sorted(c.details["location"] for c in caps) == locs
        small = s.execute(sa.select(MediaRecord).where(MediaRecord.format == "JPEG")).scalar_one()
        assert small.cluster_id == exact.cluster_id is not None  # near-duplicates share a cluster
        zipped = s.execute(sa.select(SightingRecord).where(SightingRecord.source_kind == "zip")).scalar_one()
        assert zipped.location.endswith("photo5.png")
        case = s.execute(sa.select(Case)).scalar_one()
        assert case.queue_key == "unidentified" and case.priority > 0
        f = s.execute(sa.select(Finding).where(Finding.media_id == exact.id)).scalar_one()
        assert f.reasons == ["bank_match"] and f.status == "new"
        assert any(m["signal"] == "sha256" for m in f.bank_matches)
        run = s.get(ScanRun, report.run_id)
        assert run is not None and run.status == "completed"

    again = run_scan(store, [folder], workers=0, signals=HASH_SIGNALS, gallery=None, actor="test:centre")
    assert again.run_id != report.run_id and not again.resumed
    assert again.new_media == again.new_sightings == again.new_findings == 0
    assert len(again.findings) == 2
    assert _counts(store) == counts
    with store.session() as s:
        assert audit.verify(s).ok
    store.dispose()


class _ChatSource(Source):
    """A chat with one photo and a message around it (what a Telegram export yields)."""

    kind = "telegram"

    def __init__(self, photo: Path, text: str) -> None:
        super().__init__(str(photo.parent))
        self.photo, self.text = photo, text

    def _items(self) -> Iterator[Item]:
        data = self.photo.read_bytes()
        sighting = Sighting(
            source_kind="telegram",
            location="chats/chat_01/photos/photo_1.jpg",
            container=str(self.photo.parent),
            chat_name="leak room",
            chat_id="777",
            message_id=42,
            sender="anon",
            sender_id="user9",
            text=self.text,
            nearby_text="her school is 서울중학교",
        )
        yield Item(key="telegram:test-1", name="photo_1.jpg", sighting=sighting, opener=lambda: data)


def test_personal_data_next_to_a_finding_is_kept_masked_and_sealed(db_url: str, tmp_path: Path) -> None:
    photo = make_image(tmp_path / "export" / "photo.png", 11)
    raw_phone, raw_mail = "010-1234-5678", "victim.name@example.com"
    store = open_store(db_url)
    with store.session() as s:
        banks.create_bank(s, "b")
        banks.add_entry(s, "b", banks.entry_from_file(photo))
    src = _ChatSource(photo, f"call her {raw_phone} or {raw_mail}")
    report = run_scan(store, [src], workers=0, signals=HASH_SIGNALS, gallery=None)
    assert len(report.findings) == 1
    with store.session() as s:
        rows = s.execute(sa.select(PersonalDataRecord).order_by(PersonalDataRecord.id)).scalars().all()
        kinds = {r.kind for r in rows}
        assert {"phone", "email"} <= kinds
        for r in rows:
            assert raw_phone not in r.masked and raw_mail not in r.masked
            assert raw_phone not in r.value_enc and raw_mail not in r.value_enc
        phone = next(r for r in rows if r.kind == "phone")
        assert unseal(phone.value_enc, purpose="personal-data").decode() == raw_phone
        from jikimi.cases.queries import case_detail

        detail = case_detail(s, report.findings and s.get(Finding, report.findings[0]).case_id)  # type: ignore[union-attr]
        text = str(detail)
        assert raw_phone not in text and raw_mail not in text and "leak room" in text
    # a second run adds nothing
    run_scan(store, [src], workers=0, signals=HASH_SIGNALS, gallery=None)
    assert _counts(store)["pii"] == len(rows)
    store.dispose()


def test_interrupted_run_resumes_and_lists_earlier_errors(tmp_path: Path, folder: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    first = run_scan(store, [folder], workers=0, signals=HASH_SIGNALS, gallery=None, bank_matcher=None)
    with store.session() as s:  # pretend the first run was killed after its first items
        run = s.get(ScanRun, first.run_id)
        assert run is not None
        run.status = "running"
        keep = s.execute(
            sa.select(ScanItem.id).where(ScanItem.run_id == run.id).order_by(ScanItem.id)
        ).scalars()
        ids = list(keep)
        s.execute(sa.delete(ScanItem).where(ScanItem.id.in_(ids[6:]), ScanItem.status != "failed"))
    second = run_scan(store, [folder], workers=0, signals=HASH_SIGNALS, gallery=None, bank_matcher=None)
    assert second.resumed and second.run_id == first.run_id
    assert second.skipped + second.items == 12
    assert [e.location for e in second.errors] == [str(folder / "broken.jpg")]
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).where(ScanItem.run_id == first.run_id)) == 12
        assert s.get(ScanRun, first.run_id).attempts == 2  # type: ignore[union-attr]
    store.dispose()


def _analysis(**signals: object) -> Analysis:
    return Analysis(index=0, key="k", sha256="0" * 64, signals=dict(signals))


EXPLICIT = {"explicit": True, "explicit_score": 0.91, "detections": []}
NOT_EXPLICIT = {"explicit": False, "explicit_score": 0.3, "detections": []}
C2PA = {
    "conclusion": "evidence of generation or editing",
    "evidence": [{"kind": "c2pa", "finding": "C2PA: created by a generative AI tool"}],
}
NOTHING = {"conclusion": "no evidence found", "evidence": []}
SWAPPED = {"score": 0.93, "threshold": 0.5, "above_threshold": True}
UNSWAPPED = {"score": 0.2, "threshold": 0.5, "above_threshold": False}


@pytest.mark.parametrize(
    ("nudity", "synthetic", "faceswap", "expected"),
    [
        (EXPLICIT, C2PA, UNSWAPPED, ["explicit_synthetic"]),
        (EXPLICIT, NOTHING, SWAPPED, ["explicit_synthetic"]),
        (EXPLICIT, NOTHING, UNSWAPPED, []),
        (EXPLICIT, None, None, []),
        (NOT_EXPLICIT, C2PA, SWAPPED, []),
        (None, C2PA, SWAPPED, []),
    ],
)
def test_explicit_needs_synthetic_evidence(
    nudity: object, synthetic: object, faceswap: object, expected: list[str]
) -> None:
    sig = {k: v for k, v in {"nudity": nudity, "synthetic": synthetic, "faceswap": faceswap}.items() if v}
    d = decide(_analysis(**sig), thresholds=Thresholds())
    assert d.reasons == expected and d.is_finding == bool(expected)


def test_failed_items_are_never_findings() -> None:
    a = Analysis(index=0, key="k", status="failed", reason="bad", signals={"nudity": {"explicit": True}})
    assert not decide(a).is_finding


def test_telegram_export_sightings_and_unresolved(shared: Path, tmp_path: Path) -> None:
    export = tmp_path / "ChatExport"
    export.mkdir()
    (export / "result.json").write_bytes((shared / "telegram" / "tkonverter_result_group.json").read_bytes())
    photo = make_image(tmp_path / "p.png", 21)
    (export / "photos").mkdir()
    Image.open(photo).save(export / "photos" / "group_shared.jpg", quality=95)
    store = open_store()
    with store.session() as s:
        banks.create_bank(s, "b")
        banks.add_entry(s, "b", banks.entry_from_file(export / "photos" / "group_shared.jpg"))
    report = run_scan(store, [export], workers=0, signals=HASH_SIGNALS, gallery=None)
    assert report.unresolved == 3 and report.media_items == 1 and len(report.findings) == 1
    with store.session() as s:
        sg = s.execute(sa.select(SightingRecord)).scalar_one()
        assert (sg.source_kind, sg.chat_name, sg.message_id) == ("telegram", "Team Chat", 29)
        unresolved = s.execute(sa.select(ScanItem).where(ScanItem.status == "unresolved")).scalars().all()
        assert len(unresolved) == 3 and all(u.reason and u.sighting_json for u in unresolved)
    store.dispose()
