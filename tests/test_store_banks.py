"""Banks in the store and the BankMatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from jikimi.errors import NotFoundError, ValidationError
from jikimi.store import open_store
from jikimi.store.banks import (
    BankMatcher,
    EntryInput,
    add_entry,
    create_bank,
    find_entries,
    list_banks,
    set_bank_enabled,
)

H1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
H1_NEAR = "f8f8f0cee0f4a84f06370a2a068f67f0b36e26d596621e1d33e6339c4e9c9b22"  # high-contrast edit, distance 6
H2 = "98736629670cc19fc9f23862f66cce1f599e32c78e236c78619d202e9e66c157"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _flip(h: str, n: int) -> str:
    return f"{int(h, 16) ^ ((1 << n) - 1):064x}"


def test_banks_entries_and_bad_input(db_url: str) -> None:
    store = open_store(db_url)
    with store.session() as s:
        create_bank(s, "centre-a", threshold=20)
        with pytest.raises(ValidationError, match="already exists"):
            create_bank(s, "centre-a")
        with pytest.raises(ValidationError):
            create_bank(s, "bad/name")
        with pytest.raises(ValidationError, match="threshold"):
            create_bank(s, "b", threshold=300)
    with store.session() as s:
        first = add_entry(
            s,
            "centre-a",
            EntryInput.from_hashes({"pdq": H1.upper()}, quality={"pdq": 100}, labels=["deepfake"]),
        )
        again = add_entry(
            s,
            "centre-a",
            EntryInput.from_hashes({"pdq": H1}, quality={"pdq": 100}, labels=["ncii"], case_ref="C-1"),
        )
        assert first.created and not again.created and again.entry_id == first.entry_id
        low = add_entry(s, "centre-a", EntryInput.from_hashes({"pdq": H2}, quality={"pdq": 30}))
        assert low.untrusted
        for bad, reason in [
            (EntryInput.from_hashes({"pdq": H1[:-1]}), "64 hex digits"),
            (EntryInput.from_hashes({"md5": "zz" + MD5[2:]}), "hex digits"),
            (EntryInput.from_hashes({"sha256": MD5}), "64 hex digits"),
            (EntryInput.from_hashes({}), "at least one hash"),
            (EntryInput.from_hashes({"pdq": H1}, quality={"pdq": 101}), "quality"),
        ]:
            with pytest.raises(ValidationError, match=reason):
                add_entry(s, "centre-a", bad)
        with pytest.raises(NotFoundError):
            add_entry(s, "nope", EntryInput.from_hashes({"md5": MD5}))
    with store.session() as s:
        (row,) = find_entries(s, "centre-a", signal="pdq", value=H1)
        assert row.labels == ["deepfake", "ncii"] and row.case_ref == "C-1"
        (info,) = list_banks(s)
        assert (info.name, info.pdq_threshold, info.entries, info.enabled_entries) == ("centre-a", 20, 2, 2)
        # A hash list without qualities: an unknown quality is not a low one.
        assert not add_entry(s, "centre-a", EntryInput.from_hashes({"pdq": _flip(H2, 90)})).untrusted
    store.dispose()


def test_matcher_consistency_with_store(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    with store.session() as s:
        create_bank(s, "a")
        create_bank(s, "strict", threshold=4)
    m = BankMatcher.load(store)
    assert m.match_pdq(H1) == []
    res = m.add(
        "a",
        EntryInput.from_hashes(
            {"pdq": H1, "md5": MD5}, quality={"pdq": 100}, note="confirmed", case_ref="K-7"
        ),
    )
    strict = m.add("strict", EntryInput.from_hashes({"pdq": H1}, quality={"pdq": 100}))
    # Found by the very next query, with the bank's threshold applied.
    (hit,) = m.match_pdq(H1_NEAR)
    assert (hit.bank, hit.entry_id, hit.signal, hit.distance) == ("a", res.entry_id, "pdq", 6)
    assert hit.metadata["note"] == "confirmed" and hit.metadata["case_ref"] == "K-7"
    assert {x.bank for x in m.match_pdq(H1)} == {"a", "strict"}
    assert m.match_pdq(_flip(H1, 31)) and not m.match_pdq(_flip(H1, 32))
    assert [x.entry_id for x in m.match_md5(MD5.upper())] == [res.entry_id]
    assert m.match_pdq(H1, banks=["strict"])[0].entry_id == strict.entry_id
    # Dihedral variants: the query's rotated hash is what matches.
    (rot,) = m.match_pdq(H2, dihedral={"rotate90": H1_NEAR}, banks=["a"])
    assert rot.variant == "rotate90" and rot.distance == 6
    # Disable / enable / delete take effect at once.
    m.disable_entry(res.entry_id)
    assert {x.bank for x in m.match_pdq(H1)} == {"strict"} and m.match_md5(MD5) == []
    m.enable_entry(res.entry_id)
    assert {x.bank for x in m.match_pdq(H1)} == {"a", "strict"}
    with store.session() as s:
        set_bank_enabled(s, "strict", False)
    assert {x.bank for x in m.match_pdq(H1)} == {"a"}
    # Another process (a second matcher) sees additions after refresh, and removals at once.
    other = BankMatcher.load(store, auto_refresh=None)
    m.add("a", EntryInput.from_hashes({"pdq": H2}, quality={"pdq": 90}))
    other.refresh(force=True)
    assert [x.signal for x in other.match_pdq(H2)] == ["pdq"]
    m.delete_entry(res.entry_id)
    assert other.match_pdq(H1) == [] and m.match_md5(MD5) == []
    # Persisted index: cold start from the file, then entries added since are picked up.
    path = m.save(tmp_path / "idx")
    m.add("a", EntryInput.from_hashes({"pdq": _flip(H2, 100)}, quality={"pdq": 90}))
    cold = BankMatcher.load(store, index_path=path)
    assert cold.loaded_from == "file"
    assert cold.match_pdq(_flip(H2, 100))[0].distance == 0
    assert m.delete_bank("a") == 2
    assert m.match_pdq(H2) == []
    store.dispose()


def test_video_frames_match_video_and_image_banks(db_url: str) -> None:
    store = open_store(db_url)
    with store.session() as s:
        create_bank(s, "v")
    m = BankMatcher.load(store)
    frames = [{"hash": _flip(H1, i * 40), "quality": 100, "timestamp": float(i)} for i in range(5)]
    vid = m.add("v", EntryInput.from_hashes({"vpdq": frames}))
    still = m.add(
        "v", EntryInput.from_hashes({"pdq": _flip(H1, 120)}, quality={"pdq": 100})
    )  # a still from the video
    hits = {(x.entry_id, x.signal): x for x in m.match_video(frames[:4])}
    assert hits[(vid.entry_id, "vpdq")].query_percent == 100.0
    assert hits[(vid.entry_id, "vpdq")].target_percent == 80.0
    assert hits[(still.entry_id, "pdq")].frame_timestamp == 3.0
    assert m.match_video([*frames[:1], {"hash": H2, "quality": 100, "timestamp": 9}], images=False) == []
    m.disable_entry(vid.entry_id)
    assert [x.signal for x in m.match_video(frames)] == ["pdq"]
    with pytest.raises(ValidationError):
        m.match_video([{"hash": "xyz", "quality": 100}])
    store.dispose()


def test_a_quality_learnt_later_reaches_the_partner_feed(tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from jikimi.store.schema.feed import FeedChange

    store = open_store(f"sqlite:///{tmp_path}/f.db")
    with store.session() as s:
        create_bank(s, "b")
        first = add_entry(s, "b", EntryInput.from_hashes({"pdq": "f" * 64}))
    with store.session() as s:
        before = s.scalar(
            select(func.count()).select_from(FeedChange).where(FeedChange.entry_id == first.entry_id)
        )
        again = add_entry(s, "b", EntryInput.from_hashes({"pdq": "f" * 64}, quality={"pdq": 20}))
        assert not again.created and again.entry_id == first.entry_id
    with store.session() as s:
        after = s.scalar(
            select(func.count()).select_from(FeedChange).where(FeedChange.entry_id == first.entry_id)
        )
    assert after == (before or 0) + 1  # partners are told: the hash is now known to be of low quality
