"""Confirmed findings (the scan/cases tables) become drafted notices; content seen again by a later scan
(exact or near copy) raises a re-upload alert on the original case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from jikimi.store import open_store
from jikimi.store.db import Store
from jikimi.store.schema.scans import Case, Finding, MediaRecord, SightingRecord
from jikimi.takedown import service, tracking
from jikimi.takedown.confirm import draft_for_finding
from jikimi.takedown.findings import items_for_confirmed
from jikimi.takedown.reupload import open_alerts, record_sighting, scan_new_sightings

SHA = "1" * 64
PDQ = "f0" * 32


def _flip(hexhash: str, bits: int) -> str:
    return f"{int(hexhash, 16) ^ ((1 << bits) - 1):064x}"


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    s = open_store(db_url)
    yield s
    s.dispose()


def _media(s: Any, sha: str, pdq: str | None) -> MediaRecord:
    m = MediaRecord(sha256=sha, md5=sha[:32], size=100, kind="image", pdq=pdq)
    s.add(m)
    s.flush()
    return m


def _sighting(s: Any, media: MediaRecord, url: str, key: str) -> SightingRecord:
    sr = SightingRecord(
        media_id=media.id,
        item_key=key,
        source_kind="url",
        location=url,
        link=url,
        chat_name="room",
        posted_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
    )
    s.add(sr)
    s.flush()
    return sr


def test_confirmed_finding_to_notice_and_reupload_alerts(store: Store) -> None:
    with store.session() as s:
        case = Case(queue_key="person:1", person_id=1, title="case of person 1")
        s.add(case)
        s.flush()
        media = _media(s, SHA, PDQ)
        _sighting(s, media, "https://t.me/room/1", "k1")
        _sighting(s, media, "https://files.example.net/a.jpg", "k2")
        finding = Finding(media_id=media.id, case_id=case.id, status="confirmed", reviewed_by="officer")
        s.add(finding)
        s.flush()
        case_id, finding_id = str(case.id), finding.id
        # what the web app calls right after confirming: items for both URLs, one notice per platform
        res = draft_for_finding(s, finding_id, actor="officer")
        assert sorted(n.platform for n in res.notices) == ["generic_host", "telegram"]
        assert all(n.case_id == case_id and n.status == "drafted" for n in res.notices)
        assert items_for_confirmed(s, case_id) == []  # already registered
        # the notices go out and the Telegram post is removed
        for n in res.notices:
            for it in n.items:
                tracking.move(s, it, "approved", actor="t")
                tracking.move(s, it, "sent", actor="t")
        tg_item = next(it for n in res.notices for it in n.items if it.platform == "telegram")
        tracking.move(s, tg_item, "removed", actor="t")
        tg_id = tg_item.id
        # the sightings the scan already wrote are not re-uploads
        assert scan_new_sightings(s).alerts == []
    with store.session() as s:
        # a later scan: the same file in another room, a near copy elsewhere, and something unrelated
        media = s.query(MediaRecord).filter_by(sha256=SHA).one()
        _sighting(s, media, "https://t.me/otherroom/5", "k3")
        near = _media(s, "2" * 64, _flip(PDQ, 10))
        _sighting(s, near, "https://img.example.org/b.jpg", "k4")
        far = _media(s, "3" * 64, _flip(PDQ, 200))
        _sighting(s, far, "https://img.example.org/c.jpg", "k5")
        found = scan_new_sightings(s)
        got = sorted((a.new_url, a.matched_by, a.distance) for a in found.alerts)
        assert got == [
            ("https://img.example.org/b.jpg", "pdq", 10),
            ("https://t.me/otherroom/5", "sha256", 0),
        ]
        assert {a.case_id for a in found.alerts} == {case_id}
        # the new URLs join the original case with a drafted notice, waiting for approval
        assert sorted(it.url for it in found.new_items) == [
            "https://img.example.org/b.jpg",
            "https://t.me/otherroom/5",
        ]
        assert all(it.case_id == case_id and it.state == "drafted" for it in found.new_items)
        assert scan_new_sightings(s).alerts == []  # each sighting is looked at once
        # the removed Telegram post is seen again at its old URL: reappeared
        again = record_sighting(s, url="https://t.me/room/1", sha256=SHA)
        assert [a.matched_by for a in again.alerts] == ["sha256"]
        assert service.get_item(s, tg_id).state == "reappeared"
        assert len(open_alerts(s, case_id)) == 3


def test_unconfirmed_content_raises_no_alert(store: Store) -> None:
    with store.session() as s:
        service.add_item(s, service.FindingRef(case_id="x1", url="https://t.me/a/1", sha256=SHA), actor="t")
        res = record_sighting(s, url="https://t.me/b/2", sha256=SHA)
        assert res.alerts == [] and res.new_items == []


def test_pdq_matches_through_the_index_equal_a_full_scan(store: Store) -> None:
    """Re-upload matching finds near copies with the PDQ index: the same items and distances as comparing
    the query with every item's PDQ (the threshold included, 31 in and 32 out)."""
    import random

    from jikimi.signals.pdq import MATCH_THRESHOLD
    from jikimi.takedown.reupload import _matches, item_pdq_index

    rng = random.Random(7)
    query = f"{rng.getrandbits(256):064x}"

    def near(bits: int) -> str:
        mask = sum(1 << b for b in rng.sample(range(256), bits))
        return f"{int(query, 16) ^ mask:064x}"

    with store.session() as s:
        assert _matches(s, None, None, query) == []  # no items yet
        hashes = [near(d) for d in (0, 5, 30, 31, 32, 40)]
        hashes += [f"{rng.getrandbits(256):064x}" for _ in range(40)]
        for i, h in enumerate(hashes):
            ref = service.FindingRef(case_id=f"c{i % 4}", url=f"https://x.com/u/status/{900 + i}", pdq=h)
            service.add_item(s, ref, actor="t")
        service.add_item(
            s, service.FindingRef(case_id="c9", url="https://t.me/a/9", sha256=SHA, pdq=near(3)), actor="t"
        )
        items = service.case_items(s, "c0") + service.case_items(s, "c1") + service.case_items(s, "c2")
        items += service.case_items(s, "c3") + service.case_items(s, "c9")
        full_scan = sorted(
            (
                (it.case_id, d, it.id, "sha256" if it.sha256 == SHA else "pdq")
                for it in items
                if it.pdq
                for d in [0 if it.sha256 == SHA else (int(query, 16) ^ int(it.pdq, 16)).bit_count()]
                if it.sha256 == SHA or d <= MATCH_THRESHOLD
            ),
        )
        got = _matches(s, SHA, None, query)
        assert [(it.case_id, d, it.id, how) for it, how, d in got] == full_scan
        assert {d for _it, how, d in got if how == "pdq"} >= {0, 5, 30, 31}
        assert 32 not in {d for _it, _how, d in got}
        assert _matches(s, SHA, None, query, pdq_index=item_pdq_index(s)) == got


def test_confirming_a_finding_banks_it_and_drafts(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from jikimi.store.banks import find_entries
    from jikimi.store.schema.takedown import TakedownNotice
    from jikimi.takedown.confirm import confirm_finding
    from jikimi.takedown.findings import CONFIRMED_BANK

    with store.session() as s:
        case = Case(queue_key="person:7", person_id=7, title="case of person 7")
        s.add(case)
        s.flush()
        media = _media(s, "4" * 64, PDQ)
        _sighting(s, media, "https://t.me/room/70", "h1")
        f1 = Finding(media_id=media.id, case_id=case.id, status="new")
        media2 = _media(s, "5" * 64, None)
        _sighting(s, media2, "https://x.com/u/status/71", "h2")
        f2 = Finding(media_id=media2.id, case_id=case.id, status="new")
        s.add_all([f1, f2])
        s.flush()
        confirm_finding(s, f1.id, actor="officer")
        notices = s.query(TakedownNotice).filter_by(case_id=str(case.id)).all()
        assert [(n.platform, n.status) for n in notices] == [("telegram", "drafted")]
        assert len(find_entries(s, CONFIRMED_BANK, signal="sha256", value="4" * 64)) == 1
        # without an organisation the confirmation still stands; the item waits for `takedown draft`
        monkeypatch.delenv("JIKIMI_ORG_NAME")
        confirm_finding(s, f2.id, actor="officer")
        assert f2.status == "confirmed"
        assert s.query(TakedownNotice).filter_by(case_id=str(case.id)).count() == 1
        items = service.case_items(s, str(case.id))
        assert sorted((it.url, it.state) for it in items) == [
            ("https://t.me/room/70", "drafted"),
            ("https://x.com/u/status/71", "found"),
        ]
        assert find_entries(s, CONFIRMED_BANK, signal="sha256", value="5" * 64)


def test_sync_drafts_findings_confirmed_without_drafting(store: Store) -> None:
    from jikimi.store.banks import find_entries
    from jikimi.takedown.findings import CONFIRMED_BANK
    from jikimi.takedown.reupload import sync_confirmed

    with store.session() as s:
        case = Case(queue_key="person:8", person_id=8, title="case of person 8")
        s.add(case)
        s.flush()
        media = _media(s, "6" * 64, PDQ)
        _sighting(s, media, "https://vm.tiktok.com/abc/", "s1")
        s.add(Finding(media_id=media.id, case_id=case.id, status="confirmed"))
        s.add(Finding(media_id=_media(s, "7" * 64, None).id, case_id=case.id, status="new"))
        s.flush()
        notices, _notes = sync_confirmed(s)
        assert [(n.platform, n.case_id, len(n.items)) for n in notices] == [("tiktok", str(case.id), 1)]
        assert find_entries(s, CONFIRMED_BANK, signal="sha256", value="6" * 64)
        assert sync_confirmed(s) == ([], [])


def test_draft_case_picks_up_confirmed_findings(store: Store) -> None:
    with store.session() as s:
        case = Case(queue_key="person:9", person_id=9, title="case of person 9")
        s.add(case)
        s.flush()
        media = _media(s, "8" * 64, None)
        _sighting(s, media, "https://www.instagram.com/p/abc/", "d1")
        s.add(Finding(media_id=media.id, case_id=case.id, status="confirmed"))
        s.flush()
        res = service.draft_case(s, str(case.id), lang="ko", actor="officer")
        assert [(n.platform, n.lang) for n in res.notices] == [("meta", "ko")]
        assert (
            "법적 근거" in res.notices[0].body and "https://www.instagram.com/p/abc/" in res.notices[0].body
        )


def _clip(path: Path, *, size: tuple[int, int], seconds: int, seed: int = 3) -> None:
    """A short video of moving blocks (a stand-in for a confirmed fake clip), written with PyAV."""
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(10 * seconds):
            if i % 20 == 5:  # a new scene every 2 s, cut between the one-per-second samples
                base = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
            img = np.array(Image.fromarray(base).resize((w, h), Image.Resampling.BILINEAR))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(img, i, axis=1)), format="rgb24")
            for pk in stream.encode(frame):
                out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)


def _reencode(src: Path, dst: Path, size: tuple[int, int]) -> None:
    """What a re-uploader's app does: decode the clip, scale it, encode it again."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for frame in inp.decode(video=0):
            for pk in stream.encode(frame.reformat(*size, format="yuv420p")):
                out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)


def _export(root: Path, video: Path, message_id: int) -> Path:
    """A channel's Telegram Desktop export with one video message (its sighting gets a t.me/c/ link)."""
    import json
    import shutil

    (root / "video_files").mkdir(parents=True)
    shutil.copyfile(video, root / "video_files" / video.name)
    chat = {
        "name": "Public room",
        "type": "public_channel",
        "id": 777000111,
        "messages": [
            {
                "id": message_id,
                "type": "message",
                "date": "2026-11-20T22:00:00",
                "date_unixtime": "1795211000",
                "from": "Poster",
                "from_id": "channel777000111",
                "file": f"video_files/{video.name}",
                "media_type": "video_file",
                "mime_type": "video/mp4",
                "text": "",
            }
        ],
    }
    (root / "result.json").write_text(json.dumps(chat), encoding="utf-8")
    return root


def test_a_reencoded_video_reupload_is_recognised_by_vpdq(store: Store, tmp_path: Path) -> None:
    """Confirming a video banks its vPDQ frames; the same clip re-encoded at another size (so no SHA-256,
    MD5 or PDQ of the file is equal) posted again raises a re-upload alert on the original case."""
    from jikimi.cases.runner import run_scan
    from jikimi.store import banks
    from jikimi.takedown.confirm import confirm_finding
    from jikimi.takedown.findings import CONFIRMED_BANK

    original, repost = tmp_path / "clip.mp4", tmp_path / "clip-small.mp4"
    _clip(original, size=(320, 240), seconds=6)
    _reencode(original, repost, (224, 168))
    assert original.read_bytes() != repost.read_bytes()
    signals = ["md5", "sha256", "pdq", "vpdq"]
    with store.session() as s:
        banks.create_bank(s, "known")
        banks.add_entry(s, "known", banks.entry_from_file(original))
    first = run_scan(
        store, [_export(tmp_path / "export1", original, 10)], workers=0, signals=signals, gallery=None
    )
    assert len(first.findings) == 1, first
    with store.session() as s:
        finding = s.query(Finding).one()
        confirm_finding(s, finding.id, actor="officer")
        case_id = str(finding.case_id)
        entry = banks.find_entries(s, CONFIRMED_BANK, signal="sha256", value=_sha(original))[0]
        assert len(entry.values()["vpdq"]) == 6  # one frame hash per second
        banks.set_bank_enabled(s, "known", False)  # from now on only the confirmed bank knows the clip
    second = run_scan(
        store, [_export(tmp_path / "export2", repost, 11)], workers=0, signals=signals, gallery=None
    )
    assert len(second.findings) == 1, second
    with store.session() as s:
        found = scan_new_sightings(s, actor="test")
        assert [(a.case_id, a.matched_by, a.new_url) for a in found.alerts] == [
            (case_id, "vpdq", "https://t.me/c/777000111/11")
        ]
        assert [a.id for a in open_alerts(s, case_id)] == [found.alerts[0].id]


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
