"""Source-photo matching (``jikimi.index.source_photos``): derivatives of a photo — body replaced, cropped,
resized, re-encoded, stickered, mirrored, rotated — are found for the right person; other people's photos,
an unrelated image and a withdrawn person never match. Derivatives are made here from ordinary portraits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derivatives import DERIVATIVES, replace_body
from jikimi.index.source_photos import SourceFeatures, SourceIndex, probe_features, source_features
from jikimi.signals.face import detect_faces

PORTRAITS = [
    "obama/obama.jpg",
    "biden/biden2.jpg",
    "rose_leslie/img2.jpg",
    "alex_lacamoire/img1.jpg",
    "lin_manuel_miranda/lin-manuel-miranda.png",
]
OTHERS = ["obama/obama2.jpg", "rose_leslie/img1.jpg", "_scenes/two_people.jpg", "kit_harington/john1.jpeg"]


def _rgb(path: Path, side: int = 900) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    return np.asarray(im)


def _face(rgb: np.ndarray) -> tuple[int, int, int, int]:
    faces = detect_faces(rgb, embed=False)
    assert len(faces) == 1
    b = faces[0].box
    return (b.left, b.top, b.right, b.bottom)


@pytest.fixture(scope="module")
def sources(shared: Path) -> dict[int, tuple[np.ndarray, tuple[int, int, int, int]]]:
    root = shared / "faces" / "portraits"
    out = {}
    for i, rel in enumerate(PORTRAITS, 1):
        rgb = _rgb(root / rel)
        out[i] = (rgb, _face(rgb))
    return out


@pytest.fixture(scope="module")
def index(sources: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]]) -> SourceIndex:
    # Person id = 100 + source id: one source photo per person here.
    return SourceIndex.build(
        (sid, 100 + sid, source_features(rgb, box)) for sid, (rgb, box) in sources.items()
    )


def test_every_kind_of_derivative_is_found_for_the_right_person(
    sources: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]], index: SourceIndex
) -> None:
    missed = []
    for sid, (rgb, box) in sources.items():
        other = sources[sid % len(sources) + 1][0]
        for name, derive in DERIVATIVES.items():
            probe = derive(rgb, box, other)
            found = index.search(probe_features(probe))
            if not found or found[0].source_id != sid:
                missed.append((sid, name, [m.to_dict() for m in found]))
                continue
            best = found[0]
            assert best.person_id == 100 + sid
            assert best.inliers >= index.thresholds.min_inliers
            assert best.mirrored == ("mirror" in name), name
            l_, t, r, b = best.region
            assert 0 <= l_ < r <= probe.shape[1] and 0 <= t < b <= probe.shape[0]
            # No other person's photo is ever reported beside hers.
            assert {m.person_id for m in found} == {100 + sid}, (name, [m.to_dict() for m in found])
    total = len(sources) * len(DERIVATIVES)
    assert len(missed) <= total // 20, missed  # at least 95% found


def test_the_matched_region_is_where_her_face_is(
    sources: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]], index: SourceIndex
) -> None:
    rgb, (l_, t, r, b) = sources[1]
    probe = replace_body(rgb, (l_, t, r, b))
    found = index.search(probe_features(probe))
    assert found and found[0].source_id == 1
    rl, rt, rr, rb = found[0].region
    assert rl <= (l_ + r) / 2 <= rr and rt <= (t + b) / 2 <= rb
    assert 0.8 < found[0].scale < 1.25


def test_other_photos_and_an_unrelated_image_do_not_match(shared: Path, index: SourceIndex) -> None:
    root = shared / "faces"
    probes = [_rgb(root / "portraits" / rel) for rel in OTHERS]
    probes += [_rgb(p) for p in sorted((root / "lfw").glob("*/*_0001.jpg"))[:40]]
    rng = np.random.default_rng(7)
    probes.append(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))  # noise
    yy, xx = np.mgrid[0:400, 0:600]
    probes.append(np.dstack([(xx * 7) % 256, (yy * 3) % 256, ((xx + yy) * 5) % 256]).astype(np.uint8))
    for p in probes:
        assert index.search(probe_features(p)) == []


def test_a_shared_background_alone_never_matches(
    sources: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]], index: SourceIndex
) -> None:
    """Her photo with her face and hair covered (someone else's image in that place) matches no one: the
    inliers must cover the source's face."""
    rgb, (l_, t, r, b) = sources[1]
    probe = rgb.copy()
    h, w = (b - t), (r - l_)
    rng = np.random.default_rng(1)
    probe[max(0, t - h // 2) : b + h // 4, max(0, l_ - w // 4) : r + w // 4] = rng.integers(
        0, 256, (1, 1, 3), dtype=np.uint8
    )
    assert index.search(probe_features(probe)) == []


def test_consent_is_checked_at_query_time(
    sources: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]],
) -> None:
    allowed = {101, 102}
    idx = SourceIndex.build(
        ((sid, 100 + sid, source_features(rgb, box)) for sid, (rgb, box) in list(sources.items())[:2]),
        consent_check=lambda ids: set(ids) & allowed,
    )
    rgb, box = sources[1]
    probe = probe_features(replace_body(rgb, box))
    assert [m.source_id for m in idx.search(probe)] == [1]
    allowed.discard(101)  # she withdrew: the same index stops matching at once
    assert idx.search(probe) == []


def test_features_round_trip_and_the_inverted_file_finds_the_same(
    sources: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]],
) -> None:
    feats = {sid: source_features(rgb, box) for sid, (rgb, box) in sources.items()}
    again = {sid: SourceFeatures.from_bytes(f.to_bytes()) for sid, f in feats.items()}
    for sid, f in feats.items():
        g = again[sid]
        assert np.array_equal(f.plain.descriptors, g.plain.descriptors)
        assert np.allclose(f.mirrored.points, g.mirrored.points) and f.face == pytest.approx(g.face)
    ivf = SourceIndex.build(((sid, sid, f) for sid, f in again.items()), ivf_min=1000)
    assert type(ivf.index).__name__ == "IndexBinaryIVF"
    for sid, (rgb, box) in sources.items():
        found = ivf.search(probe_features(replace_body(rgb, box)))
        assert found and found[0].source_id == sid


def test_an_empty_index_finds_nothing() -> None:
    idx = SourceIndex.build([])
    assert len(idx) == 0 and idx.search(probe_features(np.zeros((300, 300, 3), np.uint8))) == []
