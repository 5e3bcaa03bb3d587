"""Pluggable face models: dlib unchanged (bit-identical), the ONNX ArcFace-style embedder (alignment,
normalisation, batching), configuration errors, and the separation of embedding spaces in the gallery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from face_model_harness import SIZE, projection, write_calibration, write_model
from face_photos import small as _small
from jikimi.errors import JikimiError, ValidationError
from jikimi.signals import face_models as fm
from jikimi.signals.face import MODEL_NAME, FaceSignal, detect_faces, mirror_embedding


@pytest.fixture(autouse=True)
def _dlib_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fm.ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def model64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("onnx64"))


# -- dlib, the default --------------------------------------------------------------------------------------
def _old_dlib_path(rgb: np.ndarray) -> list[np.ndarray]:
    """The embedding code path as it was before face models became plug-ins (HOG, upsample 1)."""
    import dlib

    paths = fm.dlib_model_paths()
    hog = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(paths["shape5"])
    resnet = dlib.face_recognition_model_v1(paths["resnet"])
    rects, _, _ = hog.run(rgb, 1, 0.0)
    shapes = dlib.full_object_detections()
    for r in rects:
        shapes.append(shape(rgb, r))
    chips = list(dlib.get_face_chips(rgb, shapes, size=150, padding=0.25))
    flips = [np.ascontiguousarray(c[:, ::-1]) for c in chips]
    described = [np.asarray(v, dtype=np.float32) for v in resnet.compute_face_descriptor(chips + flips)]
    plain, mirrored = described[: len(chips)], described[len(chips) :]
    embs = [mirror_embedding(p, m) for p, m in zip(plain, mirrored, strict=True)]
    order = sorted(range(len(rects)), key=lambda i: (rects[i].left(), rects[i].top()))
    return [embs[i] for i in order]


def test_dlib_is_the_default_and_bit_identical(portraits: Path) -> None:
    emb = fm.current_embedder()
    assert emb.name == MODEL_NAME == fm.DLIB_MODEL_NAME and emb.dim == 128 and emb.path is None
    for rel in ("obama/obama.jpg", "biden/biden.jpg", "_scenes/kit_with_rose.jpg"):
        rgb = np.ascontiguousarray(_small(portraits / rel, 500))
        new = detect_faces(rgb)
        old = _old_dlib_path(rgb)
        assert len(new) == len(old) >= 1
        for f, o in zip(new, old, strict=True):
            assert f.model == MODEL_NAME and f.embedding.dtype == np.float32
            assert np.array_equal(f.embedding, o), rel  # bit for bit


# -- alignment ----------------------------------------------------------------------------------------------
def _dots(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """A grey picture with one coloured 5 x 5 dot per point (channel-coded so each can be found again)."""
    img = np.full((*shape, 3), 90, np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for (x, y), c in zip(points, colours, strict=True):
        img[(xx - x) ** 2 + (yy - y) ** 2 <= 6.5] = c
    return img


def _centroids(chip: np.ndarray) -> np.ndarray:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    out = []
    for c in colours:
        dist = np.abs(chip.astype(int) - np.array(c)).sum(axis=2)
        ys, xs = np.nonzero(dist < 120)
        assert len(xs), f"dot {c} lost in the chip"
        out.append((xs.mean(), ys.mean()))
    return np.array(out)


@pytest.mark.parametrize(("angle", "scale", "shift"), [(0.0, 1.0, (0, 0)), (23.0, 2.6, (140, 60))])
def test_alignment_puts_landmarks_on_the_arcface_reference(
    angle: float, scale: float, shift: tuple[int, int]
) -> None:
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * scale
    pts = fm.ARCFACE_REFERENCE @ rot.T + np.array(shift, dtype=float) + 20
    img = _dots((520, 560), pts)
    chip = fm.align_arcface(img, pts.astype(np.float32))
    assert chip.shape == (SIZE, SIZE, 3) and chip.dtype == np.uint8
    found = _centroids(chip)
    assert np.abs(found - fm.ARCFACE_REFERENCE).max() < 1.5


def test_points_from_68_and_5_landmarks() -> None:
    pts68 = np.zeros((68, 2))
    pts68[36:42] = [10, 20]
    pts68[42:48] = [30, 20]
    pts68[30], pts68[48], pts68[54] = [20, 30], [12, 40], [28, 40]
    np.testing.assert_allclose(
        fm.arcface_points_from_68(pts68), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]
    )
    # dlib's 5 points of the reference face itself: eye corners around the eye centres, the nose bottom
    ref = fm.ARCFACE_REFERENCE
    five = np.array([ref[1] + [6, 0], ref[1] - [6, 0], ref[0] - [6, 0], ref[0] + [6, 0], ref[2]])
    approx = fm.arcface_points_from_5(five)
    np.testing.assert_allclose(approx[:3], ref[:3], atol=1e-4)
    np.testing.assert_allclose(approx[3:], ref[3:], atol=0.5)  # the mouth is placed as in the reference


def test_real_photo_aligns_eyes_nose_and_mouth_onto_the_reference(portraits: Path, model64: Path) -> None:
    import dlib

    emb = fm.embedder_for(model64)
    assert isinstance(emb, fm.OnnxEmbedder)
    paths = fm.dlib_model_paths()
    hog = dlib.get_frontal_face_detector()
    for rel in ("obama/obama.jpg", "biden/biden.jpg", "rose_leslie/img2.jpg"):
        rgb = np.ascontiguousarray(_small(portraits / rel))
        shape = dlib.shape_predictor(paths["shape5"])(rgb, hog(rgb, 1)[0])
        pts = emb.points(rgb, shape)  # eye centres, nose tip, mouth corners from the 68-point model
        m = fm.similarity_transform(pts)
        moved = pts @ m[:, :2].T + m[:, 2]
        (chip,) = emb.align(rgb, [shape])
        assert chip.shape == (SIZE, SIZE, 3)
        # the landmarks found again on the aligned chip (4x enlarged) are where the transform put them ...
        big = np.ascontiguousarray(Image.fromarray(chip).resize((4 * SIZE, 4 * SIZE), Image.BICUBIC))
        s68 = dlib.shape_predictor(paths["shape68"])(big, hog(big, 0)[0])
        found = np.array([[s68.part(i).x, s68.part(i).y] for i in range(68)]) / 4.0
        again = fm.arcface_points_from_68(found)
        assert np.linalg.norm(again - moved, axis=1).max() < 2.0, rel
        # ... which is on the ArcFace reference points, up to the face's own shape (a smile, a turn)
        err = np.linalg.norm(again - fm.ARCFACE_REFERENCE, axis=1)
        assert err[:3].max() < 4.0 and err.max() < 8.0, (rel, err)


# -- normalisation and batching -----------------------------------------------------------------------------
def _numpy_embed(
    chips: list[np.ndarray],
    w: np.ndarray,
    mean: list[float],
    std: list[float],
    *,
    bgr: bool,
    nhwc: bool,
    mirror: bool,
) -> np.ndarray:
    def one(c: np.ndarray) -> np.ndarray:
        x = c.astype(np.float64)
        if bgr:
            x = x[..., ::-1]
        x = (x - np.array(mean)) / np.array(std)
        if not nhwc:
            x = x.transpose(2, 0, 1)
        v = x.reshape(-1) @ w.astype(np.float64)
        return v / np.linalg.norm(v)

    out = []
    for c in chips:
        v = one(c)
        if mirror:
            v = v + one(c[:, ::-1])
            v = v / np.linalg.norm(v)
        out.append(v)
    return np.array(out)


@pytest.mark.parametrize(
    ("layout", "channels", "mean", "std", "mirror"),
    [
        ("NCHW", "RGB", [127.5, 127.5, 127.5], [127.5, 127.5, 127.5], True),
        ("NHWC", "BGR", [104.0, 117.0, 123.0], [58.0, 57.0, 59.0], False),
    ],
)
def test_sidecar_normalisation_is_applied(
    tmp_path: Path, layout: str, channels: str, mean: list[float], std: list[float], mirror: bool
) -> None:
    path = write_model(
        tmp_path,
        dim=32,
        layout=layout,
        name=f"proj-{layout.lower()}",
        seed=3,
        sidecar={"input": {"channels": channels, "mean": mean, "std": std}, "mirror": mirror},
    )
    emb = fm.embedder_for(path)
    assert emb.dim == 32 and emb.name == f"proj-{layout.lower()}" and emb.path == path.resolve()
    rng = np.random.default_rng(1)
    chips = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(3)]
    got = emb.embed(chips)
    want = _numpy_embed(
        chips, projection(32, 3), mean, std, bgr=channels == "BGR", nhwc=layout == "NHWC", mirror=mirror
    )
    assert got.vectors.shape == (3, 32) and got.vectors.dtype == np.float32
    np.testing.assert_allclose(got.vectors, want, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(got.vectors, axis=1), 1.0, atol=1e-5)
    assert (got.mirrored is not None) == mirror


@pytest.mark.parametrize("fixed_batch", [False, True])
def test_a_batch_gives_what_singles_give(tmp_path: Path, model64: Path, fixed_batch: bool) -> None:
    path = model64 if not fixed_batch else write_model(tmp_path, fixed_batch=True, name="proj-batch1")
    emb = fm.embedder_for(path)
    rng = np.random.default_rng(2)
    chips = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(5)]
    batch = emb.embed(chips).vectors
    singles = np.concatenate([emb.embed([c]).vectors for c in chips])
    np.testing.assert_allclose(batch, singles, atol=1e-6)
    assert emb.embed([]).vectors.shape == (0, 64)


def test_detect_faces_with_the_configured_onnx_model(
    portraits: Path, model64: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rgb = _small(portraits / "_scenes" / "kit_with_rose.jpg", 500)
    monkeypatch.setenv(fm.ENV_VAR, str(model64))
    emb = fm.current_embedder()
    assert emb.name == "test-projection-64" and fm.current_embedder() is emb  # cached
    faces = detect_faces(rgb)
    assert len(faces) == 2 and all(f.model == emb.name and f.embedding.shape == (64,) for f in faces)
    assert len(faces[0].landmarks) == 5  # the 5-point landmarks are reported as before
    out = FaceSignal(embeddings=True).extract(_Media(rgb))  # type: ignore[arg-type]
    assert out["model"] == emb.name and len(out["faces"][0]["embedding"]) == 64
    monkeypatch.delenv(fm.ENV_VAR)
    assert detect_faces(rgb)[0].embedding.shape == (128,)


class _Media:
    kind = "image"

    def __init__(self, rgb: np.ndarray) -> None:
        self._rgb = rgb

    def upright(self) -> np.ndarray:
        return self._rgb


# -- configuration errors -----------------------------------------------------------------------------------
def _error(monkeypatch: pytest.MonkeyPatch, path: Path) -> fm.FaceModelError:
    monkeypatch.setenv(fm.ENV_VAR, str(path))
    with pytest.raises(fm.FaceModelError) as exc:
        fm.current_embedder()
    return exc.value


def test_bad_configuration_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    e = _error(monkeypatch, tmp_path / "nowhere.onnx")
    assert "does not exist" in e.reason and fm.ENV_VAR in (e.cli_hint or "")

    path = write_model(tmp_path / "nosidecar")
    path.with_name(path.name + ".yaml").unlink()
    e = _error(monkeypatch, path)
    assert "no sidecar" in e.reason and "face.onnx.yaml" in e.reason and "licence" in (e.cli_hint or "")
    path.with_suffix(".yaml").write_text("name: via-model-yaml\nlicence: MIT\n")  # the other accepted name
    assert fm.current_embedder().name == "via-model-yaml"

    bad = tmp_path / "garbage" / "face.onnx"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not an onnx model")
    bad.with_name("face.onnx.yaml").write_text("name: garbage\nlicence: MIT\n")
    e = _error(monkeypatch, bad)
    assert "cannot be loaded" in e.reason and str(bad) in e.reason

    for folder, sidecar, words in (
        ("nolicence", {"licence": ""}, "licence is missing"),
        ("badname", {"name": "has spaces in it"}, "name must be"),
        ("badlayout", {"input": {"layout": "NCWH"}}, "input.layout"),
        ("badstd", {"input": {"std": [1, 0, 1]}}, "input.std"),
        ("baddim", {"embedding_dim": 128}, "embedding_dim is 128 but the model gives 64"),
        ("badsize", {"input": {"size": 96}}, "takes input"),
    ):
        e = _error(monkeypatch, write_model(tmp_path / folder, sidecar=sidecar))
        assert words in e.reason, (folder, e.reason)
        # names the file to fix, where it is fixed (the command line: reason and its hint)
        assert "face.onnx.yaml" in f"{e.reason} ({e.cli_hint})", folder
    (tmp_path / "yaml" / "face.onnx.yaml").parent.mkdir()
    write_model(tmp_path / "yaml")
    (tmp_path / "yaml" / "face.onnx.yaml").write_text("name: [unclosed\n")
    assert "cannot be read" in _error(monkeypatch, tmp_path / "yaml" / "face.onnx").reason


def test_calibration_per_model(tmp_path: Path, model64: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jikimi.index.faces import CALIBRATION_FILE, calibration, calibration_path

    assert calibration_path() == CALIBRATION_FILE and calibration().model == MODEL_NAME
    path = write_model(tmp_path, name="proj-uncalibrated")
    monkeypatch.setenv(fm.ENV_VAR, str(path))
    assert calibration_path() == tmp_path / "face.calibration.json"
    assert calibration(MODEL_NAME).model == MODEL_NAME  # dlib's stays reachable by name
    with pytest.raises(JikimiError) as exc:
        calibration()
    assert "no calibration" in exc.value.reason and "calibrate_faces.py --write" in (exc.value.cli_hint or "")
    assert fm.ENV_VAR in (exc.value.cli_hint or "")
    write_calibration(path, "proj-uncalibrated", threshold=0.25)
    assert calibration().point(1).similarity == pytest.approx(1 - 0.25**2 / 2)
    assert calibration().model == "proj-uncalibrated" and calibration().cohort.dim == 64
    with pytest.raises(JikimiError):
        calibration_path("some-other-model")


# -- one embedding space per gallery ------------------------------------------------------------------------
def test_people_of_one_model_are_never_matched_by_another(
    tmp_path: Path, portraits: Path, model64: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jikimi.store import open_store, people

    write_calibration(model64, "test-projection-64", threshold=0.3)
    photo = portraits / "obama" / "obama.jpg"
    store = open_store(f"sqlite:///{tmp_path}/models.db")
    with store.session() as s:
        dlib_id = people.enroll(s, "D", [photo], consent_by="herself").person.id
    dlib_faces = detect_faces(_small(photo))
    assert people.search_faces(store, dlib_faces)[0][0].person_id == dlib_id

    monkeypatch.setenv(fm.ENV_VAR, str(model64))
    onnx_faces = detect_faces(_small(photo))
    g = people.gallery(store, use_cache=False)
    assert (len(g), g.model, g.dim) == (0, "test-projection-64", 64)  # dlib faces are not in it
    assert people.search_faces(store, onnx_faces, face_gallery=g) == [[]]
    with store.session() as s:
        onnx_id = people.enroll(s, "O", [photo], consent_by="herself").person.id
        info = {p.id: p for p in people.list_people(s)}
    assert info[dlib_id].face_status == "needs_photos" and info[onnx_id].face_status == "current"
    g = people.gallery(store, use_cache=False)
    assert len(g) == 1
    assert [m.person_id for m in people.search_faces(store, onnx_faces, face_gallery=g)[0]] == [onnx_id]
    with pytest.raises(ValidationError):  # a dlib face in an ONNX gallery: refused, never compared
        people.search_faces(store, dlib_faces, face_gallery=g)
    with pytest.raises(ValidationError):
        g.search_many([dlib_faces[0].embedding])

    monkeypatch.delenv(fm.ENV_VAR)
    g = people.gallery(store, use_cache=False)
    assert (len(g), g.model, g.dim) == (1, MODEL_NAME, 128)
    assert [m.person_id for m in people.search_faces(store, dlib_faces, face_gallery=g)[0]] == [dlib_id]
    with pytest.raises(ValidationError):
        people.search_faces(store, onnx_faces, face_gallery=g)
    store.dispose()


def test_uncalibrated_model_refuses_face_matching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jikimi.store import open_store, people

    path = write_model(tmp_path / "m", name="proj-nocal")
    store = open_store(f"sqlite:///{tmp_path}/nocal.db")
    monkeypatch.setenv(fm.ENV_VAR, str(path))
    with pytest.raises(JikimiError) as exc:
        people.gallery(store)
    assert "proj-nocal" in exc.value.reason and "calibrate_faces.py --write" in (exc.value.cli_hint or "")
    store.dispose()
