"""Matching derivatives of a person's own source photos: ORB keypoints, a faiss binary index, RANSAC.

The bots that make sexual deepfakes start from a woman's public photos. An "undressed" (inpainted) copy keeps
her face, hair and often the background pixel for pixel; a cropped, resized, re-encoded or stickered copy
keeps large regions. Whole-image PDQ misses these when the body is replaced, and face embeddings depend on how
well the face model works for her. This index finds them from the photo itself, independent of ethnicity:

- each source photo gives ORB keypoints and binary descriptors on the photo and on its mirror image (two
  *views*), with extra keypoints inside her detected face box;
- a probe image gives ORB keypoints; each descriptor's nearest neighbours in a faiss binary index (exact
  ``IndexBinaryFlat``, or ``IndexBinaryIVF`` when large) vote for views after a ratio test within the view;
- the best-voted views are verified with a RANSAC similarity transform (``cv2.estimateAffinePartial2D``): a
  match needs ``min_inliers`` inliers, a plausible scale, and ``min_face_inliers`` of them inside the source's
  face box, spread over it, so a shared background alone never matches a different person; and the inliers'
  descriptors must be nearly identical (``max_hamming``): a derivative keeps her pixels, while two different
  faces in the same pose only look alike.

This module holds no database: ``jikimi.store.source_photos`` builds the index from consenting people's
sources and passes ``consent_check``, which is called at query time with the matched person ids and returns
those still searchable (a withdrawal or an expiry stops matching at once).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jikimi.errors import ValidationError

DESCRIPTOR_BYTES = 32
"""ORB descriptors: 256 bits."""
SOURCE_MAX_SIDE = 800
PROBE_MAX_SIDE = 800
MIN_SIDE = 400
"""Images are scaled so that their longest side is within [MIN_SIDE, *_MAX_SIDE] before ORB."""
SOURCE_FEATURES = 700
SOURCE_FACE_FEATURES = 300
PROBE_FEATURES = 1000
IVF_MIN_DESCRIPTORS = 200_000
"""Indexes with at least this many descriptors use an inverted file (IVF), smaller ones an exact scan."""
IVF_MAX_LISTS = 8192
IVF_PROBES = 8


@dataclass(frozen=True)
class Features:
    """ORB keypoints of one picture, in the picture's original pixels: ``points`` (n×2 float32, x, y) and
    ``descriptors`` (n×32 uint8). ``width``/``height``: the original size. Picklable, no pixels."""

    points: np.ndarray
    descriptors: np.ndarray
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.points.shape[0])


@dataclass(frozen=True)
class Thresholds:
    """When a probe matches a source photo (see the module docstring)."""

    vote_features: int = 300
    """How many of the probe's strongest descriptors vote for views through the index."""
    vote_distance: int = 40
    k: int = 4
    candidates: int = 3
    """How many of the best-voted views are verified."""
    min_votes: int = 6
    max_distance: int = 56
    """Largest Hamming distance (of 256 bits) between matched descriptors."""
    ratio: float = 0.8
    """Lowe's ratio test, within one view: best distance < ratio × second best."""
    min_inliers: int = 30
    min_face_inliers: int = 12
    max_hamming: float = 32.0
    """Largest mean Hamming distance between the inliers' descriptors. Derivatives keep her pixels (mean
    distance 2-30 in the benchmark); two different, similarly posed faces reach 35-43 with 30-37 inliers."""
    face_spread: float = 0.3
    """The face inliers must spread over at least this share of the face box's width and of its height."""
    ransac_pixels: float = 4.0
    """RANSAC reprojection threshold, in pixels of the source at ``SOURCE_MAX_SIDE``."""
    min_scale: float = 0.15
    max_scale: float = 8.0


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class SourceMatch:
    """A probe that is a derivative of an enrolled source photo."""

    source_id: int
    person_id: int
    inliers: int
    face_inliers: int
    region: tuple[int, int, int, int]
    """Where the matched part lies in the probe (left, top, right, bottom; probe pixels)."""
    mirrored: bool
    scale: float
    """Probe size / source size of the matched part."""
    frame: int | None = None
    """For a video, the index of the sampled frame that matched."""
    hamming: float = 0.0
    """Mean Hamming distance (of 256 bits) between the inliers' descriptors: near 0 for the same pixels."""
    residual: float = 0.0
    """Median distance (source pixels, at ``SOURCE_MAX_SIDE``) of the inliers from the fitted transform."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "person_id": self.person_id,
            "inliers": self.inliers,
            "face_inliers": self.face_inliers,
            "region": list(self.region),
            "mirrored": self.mirrored,
            "scale": round(self.scale, 3),
            "hamming": self.hamming,
            "residual": self.residual,
            **({"frame": self.frame} if self.frame is not None else {}),
        }


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    a = np.asarray(rgb)
    if a.ndim == 2:
        return np.ascontiguousarray(a.astype(np.uint8, copy=False))
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValidationError(
            "not an RGB picture (shape {shape})", code="source_photos.bad_image", shape=str(a.shape)
        )
    return cv2.cvtColor(np.ascontiguousarray(a[:, :, :3].astype(np.uint8, copy=False)), cv2.COLOR_RGB2GRAY)


def _scaled(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    h, w = gray.shape[:2]
    side = max(h, w)
    f = 1.0
    if side > max_side:
        f = max_side / side
    elif side < MIN_SIDE:
        f = MIN_SIDE / side
    if f == 1.0:
        return gray, 1.0
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR), f


def _orb(gray: np.ndarray, n: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    orb = cv2.ORB.create(
        nfeatures=n, scaleFactor=1.2, nlevels=8, edgeThreshold=31, patchSize=31, fastThreshold=10
    )
    kps, des = orb.detectAndCompute(gray, mask)
    if des is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    order = np.argsort([-k.response for k in kps], kind="stable")  # strongest first
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)[order]
    return pts, np.ascontiguousarray(des[order], dtype=np.uint8)


def probe_features(rgb: np.ndarray, *, n: int = PROBE_FEATURES) -> Features:
    """ORB keypoints of a probe picture (an image or a video frame), for :meth:`SourceIndex.search`."""
    gray = _gray(rgb)
    h, w = gray.shape[:2]
    small, f = _scaled(gray, PROBE_MAX_SIDE)
    pts, des = _orb(small, n)
    return Features(pts / f, des, int(w), int(h))


@dataclass(frozen=True)
class SourceFeatures:
    """What is kept of a source photo for matching: the features of its two views and the face box.

    ``plain`` and ``mirrored`` points are in the pixels of the photo scaled to at most ``SOURCE_MAX_SIDE``
    (``scale`` = scaled / original); ``face`` is the face box in the same scaled pixels."""

    plain: Features
    mirrored: Features
    face: tuple[float, float, float, float]
    scale: float

    def to_bytes(self) -> bytes:
        """A compact, versioned serialisation (stored encrypted by the caller)."""
        head = np.array([1, self.plain.width, self.plain.height, len(self.plain), len(self.mirrored)], "<i4")
        extra = np.array([*self.face, self.scale], "<f4")
        parts = [head.tobytes(), extra.tobytes()]
        for f in (self.plain, self.mirrored):
            parts += [f.points.astype("<f4").tobytes(), f.descriptors.tobytes()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, blob: bytes) -> SourceFeatures:
        head = np.frombuffer(blob, "<i4", 5, 0)
        if int(head[0]) != 1:
            raise ValidationError(
                "unknown source-photo feature format {version}",
                code="source_photos.bad_features",
                version=int(head[0]),
            )
        w, h, n1, n2 = (int(x) for x in head[1:])
        extra = np.frombuffer(blob, "<f4", 5, 20)
        off = 40
        views = []
        for n in (n1, n2):
            pts = np.frombuffer(blob, "<f4", 2 * n, off).reshape(n, 2).astype(np.float32)
            off += 8 * n
            des = np.frombuffer(blob, np.uint8, DESCRIPTOR_BYTES * n, off).reshape(n, DESCRIPTOR_BYTES).copy()
            off += DESCRIPTOR_BYTES * n
            views.append(Features(pts, des, w, h))
        l_, t, r, b, scale = (float(x) for x in extra)
        return cls(views[0], views[1], (l_, t, r, b), scale)


def source_features(
    rgb: np.ndarray,
    face: tuple[float, float, float, float],
    *,
    n: int = SOURCE_FEATURES,
    n_face: int = SOURCE_FACE_FEATURES,
) -> SourceFeatures:
    """The features of a source photo and of its mirror image; ``face`` = (left, top, right, bottom) of her
    face in the photo's pixels. Extra keypoints are taken inside the face box (enlarged by a quarter)."""
    gray = _gray(rgb)
    small, f = _scaled(gray, SOURCE_MAX_SIDE)
    h, w = small.shape[:2]
    l_, t, r, b = (float(v) * f for v in face)
    if not (0 <= l_ < r <= w + 1 and 0 <= t < b <= h + 1):
        raise ValidationError("the face box lies outside the photo", code="source_photos.bad_face_box")
    mx, my = (r - l_) * 0.125, (b - t) * 0.125
    box = (max(0, int(l_ - mx)), max(0, int(t - my)), min(w, int(r + mx) + 1), min(h, int(b + my) + 1))
    views = []
    for mirrored in (False, True):
        img = small[:, ::-1].copy() if mirrored else small
        mask = np.zeros_like(img)
        bl, bt, br, bb = (w - box[2], box[1], w - box[0], box[3]) if mirrored else box
        mask[bt:bb, bl:br] = 255
        p1, d1 = _orb(img, n)
        p2, d2 = _orb(img, n_face, mask)
        pts, des = np.concatenate([p1, p2]), np.concatenate([d1, d2])
        # The face keypoints repeat some global ones; duplicates would vote twice.
        _, keep = np.unique(np.round(pts).astype(np.int32) * [1, 100_000] @ [1, 1], return_index=True)
        views.append(Features(pts[np.sort(keep)], des[np.sort(keep)], w, h))
    return SourceFeatures(views[0], views[1], (l_, t, r, b), f)


@dataclass
class _View:
    source_id: int
    person_id: int
    mirrored: bool
    face: tuple[float, float, float, float]
    width: int
    start: int
    stop: int
    scale: float = 1.0


@dataclass
class SourceIndex:
    """A searchable index over source photos (build with :meth:`build`; no database)."""

    views: list[_View] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    row_view: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    index: Any = None
    _descriptors: np.ndarray = field(default_factory=lambda: np.zeros((0, DESCRIPTOR_BYTES), np.uint8))
    last_stats: dict[str, Any] = field(default_factory=dict)
    _keep: Any = None
    consent_check: Callable[[Collection[int]], set[int]] | None = None
    thresholds: Thresholds = DEFAULT_THRESHOLDS

    @classmethod
    def build(
        cls,
        sources: Iterable[tuple[int, int, SourceFeatures]],
        *,
        consent_check: Callable[[Collection[int]], set[int]] | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        ivf_min: int = IVF_MIN_DESCRIPTORS,
    ) -> SourceIndex:
        """An index over ``(source_id, person_id, features)`` triples."""
        import faiss

        views: list[_View] = []
        pts: list[np.ndarray] = []
        des: list[np.ndarray] = []
        n = 0
        for source_id, person_id, sf in sources:
            for mirrored, f in ((False, sf.plain), (True, sf.mirrored)):
                if not len(f):
                    continue
                l_, t, r, b = sf.face
                face = (f.width - r, t, f.width - l_, b) if mirrored else sf.face
                views.append(
                    _View(int(source_id), int(person_id), mirrored, face, f.width, n, n + len(f), sf.scale)
                )
                pts.append(f.points)
                des.append(f.descriptors)
                n += len(f)
        out = cls(views=views, consent_check=consent_check, thresholds=thresholds)
        if not n:
            return out
        out.points = np.concatenate(pts).astype(np.float32)
        out.row_view = np.concatenate(
            [np.full(v.stop - v.start, i, dtype=np.int64) for i, v in enumerate(views)]
        )
        data = np.ascontiguousarray(np.concatenate(des))
        d = DESCRIPTOR_BYTES * 8
        index: Any
        if n >= ivf_min:
            # Inverted lists around a random sample of the descriptors: no k-means training (minutes on
            # 256-bit codes at every scan start), and the lists cost sqrt(n * probes) per query.
            nlist = int(min(IVF_MAX_LISTS, max(64, np.sqrt(n * IVF_PROBES))))
            rng = np.random.default_rng(0)
            centroids = data[np.sort(rng.choice(n, size=nlist, replace=False))]
            quantizer = faiss.IndexBinaryFlat(d)
            quantizer.add(centroids)
            index = faiss.IndexBinaryIVF(quantizer, d, nlist)
            index.is_trained = True
            index.nprobe = IVF_PROBES
            out._keep = quantizer  # alive as long as the index
        else:
            index = faiss.IndexBinaryFlat(d)
        index.add(data)
        out.index = index
        out._descriptors = data
        return out

    def __len__(self) -> int:
        """How many source photos are indexed."""
        return len({v.source_id for v in self.views})

    @property
    def descriptors(self) -> int:
        return int(self.row_view.shape[0])

    def search(self, probe: Features, *, frame: int | None = None) -> list[SourceMatch]:
        """The source photos ``probe`` is a derivative of (best per source photo, most inliers first), among
        people ``consent_check`` still allows.

        Two stages: the probe's strongest ``vote_features`` descriptors vote, through the index, for the views
        they resemble; then every probe descriptor is matched exactly against each of the best-voted views
        (ratio test within the view) and the matches are verified geometrically."""
        th = self.thresholds
        if self.index is None or len(probe) < th.min_inliers:
            return []
        votes = self._votes(probe.descriptors[: th.vote_features])
        best: dict[int, SourceMatch] = {}
        for vi in votes:
            m = self._verify(self.views[vi], probe, frame)
            if m is not None and (m.source_id not in best or m.inliers > best[m.source_id].inliers):
                best[m.source_id] = m
        if not best:
            return []
        if self.consent_check is not None:
            allowed = self.consent_check({m.person_id for m in best.values()})
            best = {k_: m for k_, m in best.items() if m.person_id in allowed}
        return sorted(best.values(), key=lambda m: (-m.inliers, m.source_id))

    def _votes(self, descriptors: np.ndarray) -> list[int]:
        """The views most probe descriptors find among their nearest neighbours (at most ``candidates``)."""
        th = self.thresholds
        k = min(th.k, self.descriptors)
        dist, rows = self.index.search(np.ascontiguousarray(descriptors), k)
        ok = (rows >= 0) & (dist <= th.vote_distance)
        views = self.row_view[rows[ok]]
        if not len(views):
            return []
        # One vote per (probe descriptor, view).
        q = np.nonzero(ok)[0]
        pairs = np.unique(q.astype(np.int64) * len(self.views) + views)
        counts = np.bincount(pairs % len(self.views), minlength=len(self.views))
        order = np.argsort(-counts, kind="stable")[: th.candidates]
        return [int(v) for v in order if counts[v] >= th.min_votes]

    def _verify(self, view: _View, probe: Features, frame: int | None) -> SourceMatch | None:
        import cv2

        th = self.thresholds
        des = self._descriptors[view.start : view.stop]
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(probe.descriptors, des, k=2)
        qi: list[int] = []
        ri: list[int] = []
        hd: list[float] = []
        for p in pairs:
            if len(p) == 2 and p[0].distance <= th.max_distance and p[0].distance < th.ratio * p[1].distance:
                qi.append(p[0].queryIdx)
                ri.append(p[0].trainIdx)
                hd.append(p[0].distance)
        if len(qi) < th.min_inliers:
            return None
        src = self.points[view.start + np.array(ri)]
        dst = probe.points[np.array(qi)]
        # Probe → source, so that the RANSAC threshold is in the source's (normalised) pixels.
        model, mask = cv2.estimateAffinePartial2D(
            dst.reshape(-1, 1, 2),
            src.reshape(-1, 1, 2),
            method=cv2.RANSAC,
            ransacReprojThreshold=th.ransac_pixels,
            maxIters=2000,
            confidence=0.995,
        )
        if model is None or mask is None:
            return None
        inl = mask.ravel().astype(bool)
        n_in = min(len(set(np.array(qi)[inl].tolist())), len(set(np.array(ri)[inl].tolist())))
        moved = dst[inl] @ model[:, :2].T + model[:, 2]
        residual = float(np.median(np.hypot(*(moved - src[inl]).T))) if n_in else 0.0
        hamming = float(np.mean(np.array(hd)[inl])) if n_in else 0.0
        self.last_stats = {"matches": len(qi), "inliers": n_in, "source": view.source_id, "hamming": hamming}
        if n_in < th.min_inliers or hamming > th.max_hamming:
            return None
        scale = 1.0 / max(1e-6, float(np.hypot(model[0, 0], model[1, 0])))
        if not th.min_scale <= scale <= th.max_scale:
            return None
        l_, t, r, b = view.face
        sp = src[inl]
        in_face = (sp[:, 0] >= l_) & (sp[:, 0] <= r) & (sp[:, 1] >= t) & (sp[:, 1] <= b)
        fp = np.unique(np.round(sp[in_face]), axis=0)
        self.last_stats["face"] = len(fp)
        if len(fp) < th.min_face_inliers:
            return None
        spread_x = (fp[:, 0].max() - fp[:, 0].min()) / max(1.0, r - l_)
        spread_y = (fp[:, 1].max() - fp[:, 1].min()) / max(1.0, b - t)
        if spread_x < th.face_spread or spread_y < th.face_spread:
            return None
        dp = dst[inl]
        region = (
            max(0, int(dp[:, 0].min())),
            max(0, int(dp[:, 1].min())),
            min(probe.width, int(np.ceil(dp[:, 0].max())) + 1),
            min(probe.height, int(np.ceil(dp[:, 1].max())) + 1),
        )
        return SourceMatch(
            view.source_id,
            view.person_id,
            n_in,
            len(fp),
            region,
            view.mirrored,
            scale * view.scale,
            frame,
            round(hamming, 1),
            round(residual, 2),
        )

    def search_frames(self, frames: Sequence[tuple[int, Features]]) -> list[SourceMatch]:
        """The best match per source photo over a video's sampled frames ``(frame_index, features)``."""
        best: dict[int, SourceMatch] = {}
        for index, f in frames:
            for m in self.search(f, frame=index):
                if m.source_id not in best or m.inliers > best[m.source_id].inliers:
                    best[m.source_id] = m
        return sorted(best.values(), key=lambda m: (-m.inliers, m.source_id))
