"""VideoIndex: vPDQ matching on Meta's sample-video hashes agrees with python-threatexchange's brute force."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature

from jikimi.index import VideoFrame, VideoIndex

NAMES = [
    "chair-19-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-orig-22-sd-bar",
    "doorknob-hd-no-bar",
    "pattern-sd-grey-bar",
]


def _frames(shared: Path, name: str) -> list[VideoFrame]:
    out = []
    for line in (shared / "reference" / "vpdq" / "hashes" / f"{name}.txt").read_text().split():
        _n, q, h, ts = line.split(",")
        out.append(VideoFrame(h, int(q), float(ts)))
    return out


def _reference(query: list[VideoFrame], target: list[VideoFrame]) -> Any:
    """python-threatexchange's rule (``match_VPDQ_hash_brute``), vectorised so the test stays fast."""

    def good(fs: list[VideoFrame]) -> np.ndarray:
        hexes = list(dict.fromkeys(f.hash for f in fs if f.quality >= 50))
        return np.unpackbits(np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(-1, 32), axis=1)

    q, t = good(query), good(target)
    close = (q[:, None, :] != t[None, :, :]).sum(axis=2) <= 31
    return SimpleNamespace(
        query_match_percent=100.0 * close.any(axis=1).sum() / len(q),
        compared_match_percent=100.0 * close.any(axis=0).sum() / len(t),
    )


def test_reference_is_python_threatexchange(videos: dict[str, list[VideoFrame]]) -> None:
    a, b = videos["chair-19-sd-bar"][::20], videos["chair-22-sd-grey-bar"][::20]
    ref = match_VPDQ_hash_brute(
        [VpdqCompactFeature(f.hash, f.quality, f.timestamp) for f in a],
        [VpdqCompactFeature(f.hash, f.quality, f.timestamp) for f in b],
        50,
        31,
    )
    mine = _reference(a, b)
    assert mine.query_match_percent == pytest.approx(ref.query_match_percent)
    assert mine.compared_match_percent == pytest.approx(ref.compared_match_percent)


@pytest.fixture(scope="module")
def videos(shared: Path) -> dict[str, list[VideoFrame]]:
    return {n: _frames(shared, n) for n in NAMES}


def test_matches_agree_with_python_threatexchange(videos: dict[str, list[VideoFrame]]) -> None:
    idx = VideoIndex()
    for i, name in enumerate(NAMES):
        assert idx.add(i, videos[name]) > 0
    for qi, qname in enumerate(NAMES):
        # Every 3rd frame of the query: a shorter re-sampling of the same video.
        query = videos[qname][::3]
        hits = {h.label: h for h in idx.search(query)}
        assert qi in hits and hits[qi].query_percent == 100.0
        for ti, tname in enumerate(NAMES):
            ref = _reference(query, videos[tname])
            if ref.query_match_percent >= 80.0:
                assert ti in hits, (qname, tname)
                assert hits[ti].query_percent == pytest.approx(ref.query_match_percent)
                assert hits[ti].target_percent == pytest.approx(ref.compared_match_percent)
            else:
                assert ti not in hits, (qname, tname)
    # The chair edits match each other; the door knob and the pattern are other content.
    chair = {h.label for h in idx.search(videos["chair-orig-22-sd-bar"])}
    assert {0, 1, 2} <= chair and not {3, 4} & chair


def test_remove_and_formats(videos: dict[str, list[VideoFrame]]) -> None:
    idx = VideoIndex()
    frames = videos["doorknob-hd-no-bar"]
    as_dicts = [{"hash": f.hash, "quality": f.quality, "timestamp": f.timestamp} for f in frames]
    as_pytx = [f"{f.hash},{f.quality},{f.timestamp}" for f in frames]
    idx.add(7, as_dicts)
    assert [h.label for h in idx.search(as_pytx)] == [7]
    idx.remove([7])
    assert idx.search(frames) == [] and len(idx) == 0


def test_low_quality_frames_are_ignored_and_bad_frames_rejected() -> None:
    h = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    idx = VideoIndex()
    assert idx.add(1, [VideoFrame(h, 10, 0.0)]) == 0  # nothing trustworthy to index
    assert idx.search([VideoFrame(h, 100, 0.0)]) == []
    with pytest.raises(ValueError):
        VideoFrame.of("nothex,100,0")
    with pytest.raises(ValueError, match="quality"):
        VideoFrame.of({"hash": h, "quality": 101})
