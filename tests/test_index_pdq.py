"""PDQIndex: exact range search (same results as brute force), additions, removals, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jikimi.index import PDQIndex, brute_force, codes_to_hex, hamming, hex_to_codes, normalize_pdq_hex
from jikimi.index.pdq_index import Layout


def _flip(code: np.ndarray, bits: np.ndarray) -> np.ndarray:
    out = code.copy()
    for b in bits:
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def _as_set(labels: np.ndarray, dists: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(labels.tolist(), dists.tolist(), strict=True))


def _assert_like_brute(idx: PDQIndex, codes: np.ndarray, query: np.ndarray, t: int, offset: int = 0) -> None:
    rows, dist = brute_force(codes, query, t)
    assert _as_set(*idx.search_arrays(query, t)) == _as_set(rows + offset, dist)


@pytest.mark.parametrize("layout", [Layout(16, 16), Layout(11, 20), Layout(8, 12)])
def test_same_results_as_brute_force_on_near_duplicates(layout: Layout) -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    idx = PDQIndex.build(codes, np.arange(len(codes)), layout=layout)
    for i in range(60):
        base = codes[rng.integers(len(codes))]
        flips = rng.choice(256, size=int(rng.integers(0, 40)), replace=False)
        q = _flip(base, flips)
        for t in (0, 10, 31, 47):
            _assert_like_brute(idx, codes, q, t)
        if i % 10 == 0:
            _assert_like_brute(idx, codes, rng.integers(0, 256, 32, dtype=np.uint8), 31)


def test_batch_search_equals_single_searches() -> None:
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 256, (4000, 32), dtype=np.uint8)
    idx = PDQIndex.build(codes[:3000], np.arange(3000), layout=Layout(11, 20))
    idx.add(codes[3000:], np.arange(3000, 4000))  # delta buffer too
    idx.remove([5, 3005])
    queries = np.stack([_flip(codes[i * 37], rng.choice(256, i % 40, replace=False)) for i in range(100)])
    queries[0] = ~codes[1]  # every bit different: distance 256
    batch = idx.search_batch(queries, 31)
    assert len(batch) == 100
    for q, (lab, dist) in zip(queries, batch, strict=True):
        assert _as_set(lab, dist) == _as_set(*idx.search_arrays(q, 31))
    # A huge threshold falls back to scanning: every live hash except the exact complement (distance 256).
    wide = idx.search_many(codes_to_hex(queries[:2]), 255)
    assert len(wide[0]) == 3997 and 1 not in {m.label for m in wide[0]}
    assert len(wide[1]) == 3998


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 31), st.integers(0, 31))
def test_flipping_up_to_31_bits_is_always_found(seed: int, nflip: int, threshold_extra: int) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (200, 32), dtype=np.uint8)
    idx = PDQIndex.build(codes, np.arange(100, 300))
    target = int(rng.integers(len(codes)))
    q = _flip(codes[target], rng.choice(256, size=nflip, replace=False))
    found = {m.label: m.distance for m in idx.search(q, 31)}
    assert found[100 + target] == nflip
    _assert_like_brute(idx, codes, q, min(31, nflip + threshold_extra), offset=100)


def test_real_pdq_hashes_haystack_and_needles(shared: Path) -> None:
    folder = shared / "reference" / "pdq" / "reg-test-input"
    hay = [normalize_pdq_hex(x) for x in (folder / "haystack.txt").read_text().split()]
    needles = [normalize_pdq_hex(x) for x in (folder / "needles.txt").read_text().split()]
    codes = hex_to_codes(hay)
    idx = PDQIndex.build(codes, np.arange(len(hay)))
    total = 0
    for n in needles:
        for t in (16, 31, 40):
            rows, dist = brute_force(codes, n, t)
            assert _as_set(*idx.search_arrays(n, t)) == _as_set(rows, dist)
            total += len(rows)
    assert total > 0  # the needles do have near-duplicates in the haystack
    # The haystack itself: every hash finds itself at distance 0.
    for i in range(0, len(hay), 97):
        assert (i, 0) in {(m.label, m.distance) for m in idx.search(hay[i])}


def test_added_hash_found_by_next_query_and_removed_hash_gone() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    idx = PDQIndex.build(codes, np.arange(500))
    new = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    assert not idx.search(new[0], 0)
    idx.add(new, [9999])
    assert [m.label for m in idx.search(new[0], 0)] == [9999]
    idx.remove([9999, 3])
    assert not idx.search(new[0], 0)
    assert 3 not in {m.label for m in idx.search(codes[3], 0)}
    assert len(idx) == 499


def test_delta_becomes_segments_and_compact_keeps_everything() -> None:
    rng = np.random.default_rng(2)
    idx = PDQIndex(delta_limit=50, max_small_segments=2)
    all_codes = rng.integers(0, 256, (700, 32), dtype=np.uint8)
    for start in range(0, 700, 20):
        idx.add(all_codes[start : start + 20], np.arange(start, start + 20))
    idx.remove(range(0, 700, 7))
    alive = np.array([i for i in range(700) if i % 7])
    assert idx.pending == 700 and len(idx) == len(alive)
    q = _flip(all_codes[15], np.array([1, 2, 3]))
    before = _as_set(*idx.search_arrays(q, 31))
    rows, dist = brute_force(all_codes[alive], q, 31)
    assert before == _as_set(alive[rows], dist)
    idx.compact()
    assert idx.pending == 0 and len(idx) == len(alive)
    assert _as_set(*idx.search_arrays(q, 31)) == before


def test_save_and_memory_mapped_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
    idx = PDQIndex.build(codes, np.arange(1000) * 2)
    idx.add(codes[:1] ^ 1, [5001])
    idx.remove([0])
    idx.save(tmp_path / "pdq", meta={"watermark": 42})
    again = PDQIndex.load(tmp_path / "pdq")
    assert again.meta == {"watermark": 42}
    assert len(again) == 1000
    q = codes[10]
    assert _as_set(*again.search_arrays(q, 31)) == _as_set(*idx.search_arrays(q, 31))
    assert 0 not in {m.label for m in again.search(codes[0], 31)}
    again.add(codes[:1], [7])  # a loaded (read-only mapped) index still takes additions and removals
    again.remove([20])
    assert {m.label for m in again.search(codes[0], 0)} == {7}
    assert not again.search(codes[10], 0)


def test_hex_helpers_and_bad_input() -> None:
    h = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    assert codes_to_hex(hex_to_codes([h, h.upper().lower()])) == [h, h]
    assert hamming(h, h) == 0
    assert normalize_pdq_hex(" " + h.upper() + "\n") == h
    with pytest.raises(ValueError, match="64 hex digits"):
        normalize_pdq_hex(h[:-1])
    with pytest.raises(ValueError, match="hex digits"):
        normalize_pdq_hex("z" + h[1:])
    with pytest.raises(ValueError):
        hex_to_codes([h, h[:10]])
    idx = PDQIndex()
    assert idx.search(h) == []
    with pytest.raises(ValueError):
        idx.search(h, threshold=300)
    with pytest.raises(ValueError, match="labels"):
        idx.add([h], [1, 2])
