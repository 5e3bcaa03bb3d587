"""The ``face`` signal: detection (HOG and CNN), upsampling, alignment/embeddings, video frames, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from face_photos import small as _small
from jikimi.signals import registry
from jikimi.signals.face import (
    FaceError,
    FaceSignal,
    detect_faces,
    face_distance,
    faces_in_media,
    mirror_embedding,
)


def test_one_face_with_landmarks_and_embedding(portraits: Path) -> None:
    rgb = _small(portraits / "obama" / "obama.jpg")
    faces = detect_faces(rgb)
    assert len(faces) == 1
    f = faces[0]
    assert f.embedding.shape == (128,) and f.embedding.dtype == np.float32
    assert len(f.landmarks) == 5
    h, w = rgb.shape[:2]
    assert 0 <= f.box.left < f.box.right <= w and 0 <= f.box.top < f.box.bottom <= h
    assert f.box.width > 60  # a portrait: the face is large
    for x, y in f.landmarks:  # landmarks sit inside (or at the edge of) the face box
        assert f.box.left - 10 <= x <= f.box.right + 10 and f.box.top - 10 <= y <= f.box.bottom + 10


def test_same_person_closer_than_another(portraits: Path) -> None:
    from jikimi.index.faces import calibration, normalised_scores

    o1 = detect_faces(_small(portraits / "obama" / "obama.jpg"))[0]
    o2 = detect_faces(_small(portraits / "obama" / "obama2.jpg"))[0]
    b = detect_faces(_small(portraits / "biden" / "biden.jpg"))[0]
    assert o1.mirrored is not None and o1.plain is not None and o1.mirrored.shape == (128,)
    np.testing.assert_allclose(o1.embedding, mirror_embedding(o1.plain, o1.mirrored))
    cal = calibration()
    assert face_distance(o1.embedding, o2.embedding) < face_distance(o1.embedding, b.embedding)

    def accepted(x: np.ndarray, y: np.ndarray) -> bool:
        sim = float(np.dot(x, y))
        z = normalised_scores(np.array([[sim]]), cal.cohort.stats(x[None]), cal.cohort.stats(y[None]))[0, 0]
        return cal.point(1).accepts(sim, float(z))

    assert accepted(o1.embedding, o2.embedding) and not accepted(o1.embedding, b.embedding)


@given(
    arrays(np.float32, 128, elements=st.floats(-1, 1, width=32)),
    arrays(np.float32, 128, elements=st.floats(-1, 1, width=32)),
)
def test_mirror_embedding_is_unit_length_and_symmetric(a: np.ndarray, b: np.ndarray) -> None:
    assume(np.linalg.norm(a) > 1e-3 and np.linalg.norm(b) > 1e-3)
    assume(np.linalg.norm(a / np.linalg.norm(a) + b / np.linalg.norm(b)) > 1e-3)
    e = mirror_embedding(a, b)
    assert e.dtype == np.float32 and e.shape == (128,)
    assert abs(float(np.linalg.norm(e)) - 1.0) < 1e-5
    np.testing.assert_allclose(e, mirror_embedding(b, a), atol=1e-6)
    np.testing.assert_allclose(mirror_embedding(a, a), a / np.linalg.norm(a), atol=1e-5)  # a symmetric face


def test_every_face_in_a_scene_left_to_right(portraits: Path) -> None:
    faces = detect_faces(_small(portraits / "_scenes" / "obama_and_biden.jpg", 800))
    assert len(faces) == 3
    lefts = [f.box.left for f in faces]
    assert lefts == sorted(lefts)


def test_large_image_boxes_in_original_pixels(portraits: Path) -> None:
    rgb = _small(portraits / "obama" / "obama.jpg", 900)
    full = detect_faces(rgb, max_side=0)[0].box
    scaled = detect_faces(rgb, max_side=450)[0].box  # detected on a half-size copy
    (fx, fy), (sx, sy) = full.center, scaled.center
    assert abs(fx - sx) < 0.15 * full.width and abs(fy - sy) < 0.15 * full.height
    assert 0.7 < scaled.width / full.width < 1.4


def test_upsampling_finds_small_faces(portraits: Path) -> None:
    tiny = np.asarray(Image.fromarray(_small(portraits / "obama" / "obama.jpg")).resize((96, 120)))
    assert detect_faces(tiny, upsample=0) == []
    assert len(detect_faces(tiny, upsample=2)) == 1


def test_cnn_detector(portraits: Path) -> None:
    faces = detect_faces(_small(portraits / "_scenes" / "obama_small.jpg", 320), detector="cnn", upsample=0)
    assert len(faces) == 1 and faces[0].detector == "cnn"


def test_no_face_in_a_generated_picture() -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    gradient = np.tile(np.linspace(0, 255, 300, dtype=np.uint8)[None, :, None], (200, 1, 3))
    assert detect_faces(noise) == []
    assert detect_faces(gradient) == []


@pytest.mark.parametrize(
    "bad",
    [np.zeros(10, np.uint8), np.zeros((4, 4, 3), np.uint8), np.zeros((50, 50, 2), np.uint8)],
)
def test_bad_arrays_fail_with_a_reason(bad: np.ndarray) -> None:
    with pytest.raises(FaceError) as err:
        detect_faces(bad)
    assert err.value.reason


def test_unknown_detector_and_upsample() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(FaceError, match="unknown face detector"):
        detect_faces(img, detector="yolo")  # type: ignore[arg-type]
    with pytest.raises(FaceError, match="upsample"):
        detect_faces(img, upsample=9)
    with pytest.raises(FaceError):
        FaceSignal(detector="yolo")  # type: ignore[arg-type]


def test_registered_signal_on_media(portraits: Path, tmp_path: Path) -> None:
    from jikimi.media import load

    p = tmp_path / "two.jpg"
    Image.fromarray(_small(portraits / "_scenes" / "two_people.jpg", 640)).save(p, quality=92)
    sig = registry.get("face")
    assert isinstance(sig, FaceSignal)
    out = sig.extract(load(p))
    assert out["count"] == 2 and len(out["faces"]) == 2
    assert "embedding" not in out["faces"][0]  # no embeddings of unenrolled people by default
    with_emb = FaceSignal(embeddings=True).extract(load(p))
    assert len(with_emb["faces"][0]["embedding"]) == 128


def test_exif_rotated_photo_is_turned_upright(portraits: Path, tmp_path: Path) -> None:
    from jikimi.media import load

    rgb = _small(portraits / "obama" / "obama2.jpg")
    rotated = Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90)  # stored on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": undoes the rotation above
    p = tmp_path / "rotated.jpg"
    rotated.save(p, exif=exif, quality=92)
    assert detect_faces(np.asarray(rotated)) == []  # sideways: HOG finds nothing
    assert len(faces_in_media(load(p))) == 1


def test_video_frames_are_sampled(portraits: Path, tmp_path: Path) -> None:
    import av

    from jikimi.media import load

    frame = np.asarray(Image.fromarray(_small(portraits / "obama" / "obama2.jpg", 320)).resize((160, 304)))
    blank = np.full_like(frame, 128)
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
        for i in range(12):  # 3 s: face for 2 s, then a grey screen
            img = frame if i < 8 else blank
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    media = load(path)
    faces = faces_in_media(media, every_seconds=1.0)
    assert 1 <= len(faces) <= 3
    assert all(f.timestamp < 2.1 for f in faces)
    assert FaceSignal().extract(media)["count"] == len(faces)
