"""Training of the face-swap detector with Self-Blended Images (Shiohara & Yamasaki, CVPR 2022).

Every real face is blended with a slightly altered copy of itself inside a deformed, blurred landmark hull,
which leaves the traces of a face swap (blending boundary, colour and sharpness mismatch, misaligned
landmarks) without any deepfake data. The CNN is trained from scratch. Data: ``../shared/faces/lfw`` only,
split by person. The only module that imports torch (training only); the runtime scorer is
:mod:`jikimi.signals.faceswap` (onnxruntime).

    python -m jikimi.signals.faceswap_train --out src/jikimi/signals/models/faceswap.onnx \\
        --epochs 24 --minutes 80
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from jikimi.config import SHARED_DIR
from jikimi.signals.faceswap import CROP_MARGIN, INPUT_SIZE, crop_face, crop_square, square_box


def shared_dir() -> Path:
    """``../shared`` beside the repository (``JIKIMI_SHARED`` overrides it)."""
    return SHARED_DIR


CACHE_SIZE = 176
"""Side of the cached face region; the landmark box spans about half of it."""
CACHE_SCALE = 2.0

# ---------------------------------------------------------------------------------------------------------
# Data preparation: dlib 68-point landmarks on every LFW photo, cached once.


@dataclass
class FaceSet:
    images: np.ndarray  # (N, S, S, 3) uint8
    landmarks: np.ndarray  # (N, 68, 2) float32, in image coordinates
    person: np.ndarray  # (N,) int32
    names: list[str]


def detect_landmarks(rgb: np.ndarray, detector: object, predictor: object) -> np.ndarray | None:
    """68 landmarks of the face nearest the image centre (dlib HOG detector), or None."""
    h, w = rgb.shape[:2]
    dets = detector(rgb, 0)  # type: ignore[operator]
    if len(dets) == 0:
        dets = detector(rgb, 1)  # type: ignore[operator]
    if len(dets) == 0:
        return None
    det = min(dets, key=lambda d: (d.center().x - w / 2) ** 2 + (d.center().y - h / 2) ** 2)
    shape = predictor(rgb, det)  # type: ignore[operator]
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def dlib_models() -> tuple[object, object]:
    import dlib
    import face_recognition_models

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(
        face_recognition_models.pose_predictor_model_location()
    )


def prepare(lfw: Path, cache: Path, *, size: int = CACHE_SIZE, log: bool = True) -> FaceSet:
    """Detect, landmark and crop every photo under ``lfw`` (one folder per person); cached in ``cache``."""
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return FaceSet(z["images"], z["landmarks"], z["person"], [str(n) for n in z["names"]])
    detector, predictor = dlib_models()
    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    images, marks, person = [], [], []
    skipped = 0
    t0 = time.monotonic()
    for pid, folder in enumerate(people):
        for path in sorted(folder.glob("*.jpg")):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            lm = detect_landmarks(rgb, detector, predictor)
            if lm is None:
                skipped += 1
                continue
            cx, cy, side = square_box(lm, CACHE_SCALE - 1.0)
            images.append(crop_square(rgb, cx, cy, side, size))
            marks.append((lm - [cx - side / 2, cy - side / 2]) * (size / side))
            person.append(pid)
        if log and pid % 100 == 0:
            print(f"prepare: {pid}/{len(people)} people, {len(images)} faces, {time.monotonic() - t0:.0f}s")
    fs = FaceSet(
        np.stack(images),
        np.stack(marks).astype(np.float32),
        np.array(person, dtype=np.int32),
        [p.name for p in people],
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=fs.images, landmarks=fs.landmarks, person=fs.person, names=np.array(fs.names))
    if log:
        print(f"prepare: {len(images)} faces cached in {cache}, {skipped} photos without a face")
    return fs


def split_people(person: np.ndarray, val_fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    """Boolean mask of validation items: whole people, chosen by a seeded hash of the person id."""
    ids = np.unique(person)
    keys = np.array([zlib.crc32(f"{seed}:{i}".encode()) for i in ids], dtype=np.uint64)
    chosen = set(ids[np.argsort(keys)[: max(1, round(len(ids) * val_fraction))]].tolist())
    return np.array([p in chosen for p in person.tolist()])


# ---------------------------------------------------------------------------------------------------------
# Self-blended images.


@dataclass
class Blend:
    image: np.ndarray  # the pseudo-fake, uint8
    mask: np.ndarray  # float32 HxW in [0, 1]: weight of the source at each pixel
    target: np.ndarray  # the (possibly altered) target the source was blended into, uint8
    hull: np.ndarray  # uint8 HxW: the landmark hull before deformation and blur
    reach: int  # how many pixels the mask may extend beyond the hull (deformation + blur)


INNER = list(range(17, 68))


def hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Filled convex hull of ``points`` as a uint8 0/1 mask."""
    mask = np.zeros(shape, dtype=np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask


def _odd(n: float) -> int:
    k = max(1, int(n))
    return k if k % 2 else k + 1


def _appearance(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour, brightness, sharpness and resolution changes (applied to the source or the target)."""
    out: np.ndarray = img.astype(np.float32)
    if rng.random() < 0.5:  # RGB shift
        out += rng.uniform(-20, 20, size=3).astype(np.float32)
    if rng.random() < 0.5:  # hue / saturation / value shift
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
        hsv[..., 1] += rng.uniform(-25, 25)
        hsv[..., 2] += rng.uniform(-20, 20)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:  # brightness / contrast
        out = (out - 128) * rng.uniform(0.85, 1.15) + 128 + rng.uniform(-20, 20)
    out = np.clip(out, 0, 255).astype(np.uint8)
    r = rng.random()
    h, w = out.shape[:2]
    if r < 0.35:  # downscale and back (a lower-resolution source)
        f = rng.uniform(0.3, 0.7)
        small = cv2.resize(out, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif r < 0.6:  # sharpen (unsharp mask)
        blur = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.0))
        out = cv2.addWeighted(out, 1 + rng.uniform(0.3, 1.0), blur, -rng.uniform(0.3, 1.0), 0)
    elif r < 0.75:  # soften
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.2))
    return out


def _shift_source(img: np.ndarray, centre: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Small random scale and translation of the source (the misalignment of a swapped face)."""
    h, w = img.shape[:2]
    sx, sy = rng.uniform(0.95, 1.05, size=2)
    tx, ty = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.015, 0.015) * h
    cx, cy = centre
    m = np.array([[sx, 0, cx - sx * cx + tx], [0, sy, cy - sy * cy + ty]], dtype=np.float32)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _deform(mask: np.ndarray, rng: np.random.Generator, size: float) -> tuple[np.ndarray, int]:
    """Elastic or affine deformation of the hull mask; returns the mask and its largest displacement (px)."""
    h, w = mask.shape
    m = mask.astype(np.float32)
    if rng.random() < 0.5:
        alpha = rng.uniform(0.02, 0.07) * size
        sigma = rng.uniform(0.08, 0.15) * size
        fields = []
        for _ in range(2):
            f: np.ndarray = cv2.GaussianBlur(
                rng.uniform(-1, 1, size=(h, w)).astype(np.float32), (0, 0), sigma
            )
            f = f / max(float(np.abs(f).max()), 1e-6)
            fields.append(f * alpha)
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        out = cv2.remap(m, gx + fields[0], gy + fields[1], cv2.INTER_LINEAR, borderValue=0)
        return out, math.ceil(alpha) + 1
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    s = rng.uniform(0.9, 1.05, size=2)
    t = rng.uniform(-0.03, 0.03, size=2) * size
    a = np.array([[s[0], 0, cx - s[0] * cx + t[0]], [0, s[1], cy - s[1] * cy + t[1]]], dtype=np.float32)
    out = cv2.warpAffine(m, a, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    radius = float(np.hypot(xs - cx, ys - cy).max())
    return out, math.ceil(radius * 0.1 + float(np.abs(t).max())) + 1


def self_blend(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> Blend:
    """Blend ``img`` with an altered copy of itself inside a deformed, blurred landmark hull."""
    h, w = img.shape[:2]
    lm = np.asarray(landmarks, dtype=np.float32)
    x0, y0 = lm.min(axis=0)
    x1, y1 = lm.max(axis=0)
    face = float(max(x1 - x0, y1 - y0))
    source, target = img.copy(), img.copy()
    if rng.random() < 0.5:
        source = _appearance(source, rng)
    else:
        target = _appearance(target, rng)
    source = _shift_source(source, ((x0 + x1) / 2, (y0 + y1) / 2), rng)

    variant = rng.random()
    if variant < 0.4:
        pts = lm
    elif variant < 0.7:  # raise the brows towards the forehead
        pts = lm.copy()
        pts[17:27, 1] -= rng.uniform(0.05, 0.2) * face
        pts = np.concatenate([lm, pts[17:27]])
    else:  # inner face only
        pts = lm[INNER]
    hull = hull_mask(pts, (h, w))
    mask, moved = _deform(hull, rng, face)
    k1 = _odd(rng.uniform(0.05, 0.25) * face)
    mask = cv2.GaussianBlur(mask, (k1, k1), 0)
    if rng.random() < 0.5:
        mask[mask < 1] = 0  # shrink to the core before the second blur
    k2 = _odd(rng.uniform(0.05, 0.25) * face)
    mask = cv2.GaussianBlur(mask, (k2, k2), 0)
    peak = float(mask.max())
    if peak > 0:
        mask = mask / peak
    mask = mask * float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]))
    m3 = mask[..., None]
    out = source.astype(np.float32) * m3 + target.astype(np.float32) * (1 - m3)
    image = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return Blend(image, mask.astype(np.float32), target, hull, moved + k1 // 2 + k2 // 2 + 1)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _finish(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Degradations applied independently to every crop of both classes (JPEG, resolution loss)."""
    if rng.random() < 0.3:
        s = img.shape[0]
        f = rng.uniform(0.35, 0.8)
        small = cv2.resize(img, (int(s * f), int(s * f)), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (s, s), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.8:
        img = _jpeg(img, int(rng.integers(40, 96)))
    return img


def make_pair(
    img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, size: int = INPUT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """A (real, fake) pair of network crops from one face, with the same framing."""
    fake = self_blend(img, landmarks, rng).image
    lm = landmarks + rng.uniform(-0.03, 0.03, size=2).astype(np.float32) * img.shape[0] / CACHE_SCALE
    margin = float(rng.uniform(0.0, 0.5))
    real_c = crop_face(img, landmarks=lm, margin=margin, size=size)
    fake_c = crop_face(fake, landmarks=lm, margin=margin, size=size)
    if rng.random() < 0.5:
        real_c, fake_c = real_c[:, ::-1], fake_c[:, ::-1]
    return _finish(np.ascontiguousarray(real_c), rng), _finish(np.ascontiguousarray(fake_c), rng)


# ---------------------------------------------------------------------------------------------------------
# The network.


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + self.short(x))


class SwapNet(nn.Module):
    """A small residual CNN; input float RGB in [0, 1], NCHW; output one logit per image.

    Two strided stem convolutions bring 112 px to 28 px, then four residual blocks (28, 14, 7, 4 px);
    about 1.2 M parameters and 0.05 GMAC per image, so it trains on two shared CPU cores.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(
            nn.Conv2d(3, 24, 3, 2, 1, bias=False),
            nn.BatchNorm2d(24),
            nn.ReLU(),
            nn.Conv2d(24, w, 3, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
        )
        self.body = nn.Sequential(
            Block(w, w), Block(w, 2 * w, 2), Block(2 * w, 4 * w, 2), Block(4 * w, 8 * w, 2)
        )
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(8 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.5) / 0.25
        x = self.body(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.drop(x)).squeeze(1)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(allv))
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(allv))
    r[order] = ranks
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)


def make_batch(fs: FaceSet, items: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Real and self-blended crops of ``items`` (interleaved), labels 0 (real) and 1 (pseudo-fake)."""
    xs, ys = [], []
    for i in items:
        real, fake = make_pair(fs.images[i], fs.landmarks[i], rng)
        xs += [real, fake]
        ys += [0.0, 1.0]
    return np.stack(xs), np.array(ys, dtype=np.float32)


_WORKER_SET: FaceSet | None = None


def _batch_task(task: tuple[int, int, int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    seed, epoch, number, items = task
    assert _WORKER_SET is not None
    return make_batch(_WORKER_SET, items, np.random.default_rng([seed, epoch, number]))


def epoch_batches(
    fs: FaceSet, train_idx: np.ndarray, seed: int, epoch: int, pairs: int, pool: object | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of batches; each batch's randomness depends only on (seed, epoch, batch number)."""
    global _WORKER_SET
    _WORKER_SET = fs
    order = np.random.default_rng([seed, epoch]).permutation(train_idx)
    tasks = [
        (seed, epoch, n, order[i : i + pairs]) for n, i in enumerate(range(0, len(order) - pairs + 1, pairs))
    ]
    if pool is None:
        yield from map(_batch_task, tasks)
    else:
        yield from pool.imap(_batch_task, tasks, chunksize=1)  # type: ignore[attr-defined]


@torch.no_grad()
def predict(model: nn.Module, crops: np.ndarray, chunk: int = 128) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(to_tensor(crops[i : i + chunk]))).numpy() for i in range(0, len(crops), chunk)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def lr_factor(progress: float, warmup: float = 0.05) -> float:
    """Linear warm-up, then cosine decay to zero over ``progress`` in [0, 1]."""
    if progress < warmup:
        return max(progress / warmup, 0.02)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def train(
    fs: FaceSet,
    *,
    epochs: int,
    minutes: float,
    seed: int,
    pairs: int,
    lr: float,
    width: int,
    log_path: Path | None,
    max_steps: int | None = None,
    val_items: int | None = None,
    workers: int = 1,
    checkpoints: Path | None = None,
) -> tuple[SwapNet, dict[str, object]]:
    """Train with AdamW; the learning rate follows a cosine over the planned steps, or over the wall-clock
    budget when that runs out first (``minutes=0``: steps only, bit-reproducible). Keeps the weights with
    the best validation AUC (held-out people, self-blended with a fixed seed)."""
    import multiprocessing

    torch.manual_seed(seed)
    val_mask = split_people(fs.person, seed=seed)
    train_idx, val_idx = np.nonzero(~val_mask)[0], np.nonzero(val_mask)[0]
    if val_items is not None:
        val_idx = val_idx[:val_items]
    vx, vy = make_batch(fs, val_idx, np.random.default_rng([seed, 10**6]))
    model = SwapNet(width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(train_idx) // pairs)
    total = epochs * steps_per_epoch if max_steps is None else max_steps
    budget = minutes * 60
    start = time.monotonic()
    best: dict[str, object] = {"val_auc": -1.0}
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    curves: list[dict[str, float]] = []
    step = 0
    stopped = "epochs"
    log = log_path.open("w", encoding="utf-8") if log_path else None
    global _WORKER_SET
    _WORKER_SET = fs  # set before forking: the workers share the arrays copy-on-write
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 0 else None
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            losses, correct, seen = [], 0, 0
            for x, y in epoch_batches(fs, train_idx, seed, epoch, pairs, pool):
                elapsed = time.monotonic() - start
                progress = max(step / total, elapsed / budget if budget > 0 else 0.0)
                for group in opt.param_groups:
                    group["lr"] = lr * lr_factor(progress)
                xt, yt = to_tensor(x), torch.from_numpy(y)
                logits = model(xt)
                loss = F.binary_cross_entropy_with_logits(logits, yt)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                losses.append(float(loss.detach()))
                correct += int(((logits > 0).float() == yt).sum())
                seen += len(y)
                if step % 25 == 0:
                    print(
                        f"  epoch {epoch} step {step}/{total} loss {np.mean(losses[-25:]):.4f} "
                        f"lr {opt.param_groups[0]['lr']:.2e} {elapsed / 60:.1f} min",
                        flush=True,
                    )
                if step >= total or (budget > 0 and time.monotonic() - start > budget):
                    stopped = "steps" if step >= total else "time budget"
                    break
            vp = predict(model, vx)
            auc = roc_auc(vy, vp)
            vloss = float(
                F.binary_cross_entropy(torch.from_numpy(vp).clamp(1e-6, 1 - 1e-6), torch.from_numpy(vy))
            )
            row = {
                "epoch": epoch,
                "step": step,
                "minutes": round((time.monotonic() - start) / 60, 2),
                "train_loss": round(float(np.mean(losses)) if losses else float("nan"), 4),
                "train_acc": round(correct / max(seen, 1), 4),
                "val_loss": round(vloss, 4),
                "val_auc": round(auc, 4),
                "lr": float(opt.param_groups[0]["lr"]),
            }
            curves.append(row)
            print(json.dumps(row), flush=True)
            if log:
                log.write(json.dumps(row) + "\n")
                log.flush()
            if checkpoints is not None:
                checkpoints.mkdir(parents=True, exist_ok=True)
                torch.save(model.state_dict(), checkpoints / f"epoch{epoch:03d}.pt")
            if auc > float(best["val_auc"]):  # type: ignore[arg-type]
                best = {"val_auc": auc, "epoch": epoch}
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            if stopped != "epochs":
                break
    finally:
        if log:
            log.close()
        if pool is not None:
            pool.terminate()
    model.load_state_dict(best_state)
    vp = predict(model, vx)
    real_scores = np.sort(vp[vy == 0])
    threshold = float(real_scores[min(len(real_scores) - 1, int(0.95 * len(real_scores)))])
    summary: dict[str, object] = {
        **best,
        "threshold": threshold,
        "threshold_rule": "95th percentile of held-out real LFW faces (5% false positives on LFW)",
        "val_tpr_at_threshold": float((vp[vy == 1] > threshold).mean()),
        "train_faces": len(train_idx),
        "val_faces": len(val_idx),
        "train_people": len(np.unique(fs.person[train_idx])),
        "val_people": len(np.unique(fs.person[val_idx])),
        "steps": step,
        "epochs_planned": epochs,
        "stopped_by": stopped,
        "minutes": round((time.monotonic() - start) / 60, 1),
        "curves": curves,
    }
    return model, summary


def export_onnx(model: nn.Module, out: Path, meta: dict[str, object]) -> None:
    """Write the model as ONNX (dynamic batch) with the crop settings and threshold in its metadata."""
    import onnx

    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(
            model,
            (dummy,),
            str(out),
            dynamo=False,
            input_names=["image"],
            output_names=["logit"],
            dynamic_axes={"image": {0: "batch"}, "logit": {0: "batch"}},
            opset_version=17,
        )
    proto = onnx.load(str(out))
    entry = proto.metadata_props.add()
    entry.key = "jikimi"
    entry.value = json.dumps(meta)
    proto.doc_string = "Jikimi face-swap detector (Self-Blended Images, trained from scratch on LFW)"
    onnx.save(proto, str(out))


def calibrate(path: Path, fs: FaceSet, *, seed: int, false_positives: float = 0.05) -> dict[str, object]:
    """Set the model's threshold from the exported ONNX file as it runs (onnxruntime, mirrored crops): the
    score that ``false_positives`` of the held-out real LFW faces reach. Rewrites the file's metadata."""
    import onnx

    from jikimi.signals.faceswap import FaceSwapModel

    val_idx = np.nonzero(split_people(fs.person, seed=seed))[0]
    vx, vy = make_batch(fs, val_idx, np.random.default_rng([seed, 10**6]))
    scores = FaceSwapModel(path).score(vx)
    real = np.sort(scores[vy == 0])
    threshold = float(real[min(len(real) - 1, int((1 - false_positives) * len(real)))])
    proto = onnx.load(str(path))
    for entry in proto.metadata_props:
        if entry.key == "jikimi":
            meta = json.loads(entry.value)
            meta["threshold"] = threshold
            entry.value = json.dumps(meta)
    onnx.save(proto, str(path))
    return {
        "threshold": threshold,
        "threshold_rule": f"score reached by {false_positives:.0%} of held-out real LFW faces "
        "(onnxruntime, mean of the crop and its mirror)",
        "val_auc_onnx": roc_auc(vy, scores),
        "val_tpr_at_threshold": float((scores[vy == 1] >= threshold).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="where to write the ONNX model")
    ap.add_argument("--lfw", type=Path, default=shared_dir() / "faces" / "lfw")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "jikimi" / "faceswap-lfw-176.npz")
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--minutes", type=float, default=80.0, help="wall-clock budget for training")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--pairs", type=int, default=32, help="real/fake pairs per batch")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on shared cores)")
    ap.add_argument("--workers", type=int, default=1, help="processes generating the self-blended batches")
    ap.add_argument("--checkpoints", type=Path, default=None, help="folder for a state dict per epoch")
    ap.add_argument("--log", type=Path, default=None, help="JSON lines of the training curves")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--calibrate-only", action="store_true", help="recompute the threshold of --out only")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    fs = prepare(args.lfw, args.cache)
    if args.prepare_only:
        return 0
    if args.calibrate_only:
        print(json.dumps(calibrate(args.out, fs, seed=args.seed)))
        return 0
    print(f"{len(fs.images)} faces of {len(np.unique(fs.person))} people", flush=True)
    log = args.log or args.out.with_suffix(".train.jsonl")
    model, summary = train(
        fs,
        epochs=args.epochs,
        minutes=args.minutes,
        seed=args.seed,
        pairs=args.pairs,
        lr=args.lr,
        width=args.width,
        log_path=log,
        workers=args.workers,
        checkpoints=args.checkpoints,
    )
    meta = {
        "input_size": INPUT_SIZE,
        "margin": CROP_MARGIN,
        "threshold": summary["threshold"],
        "version": f"sbi-lfw-w{args.width}-s{args.seed}",
    }
    export_onnx(model, args.out, meta)
    summary.update(calibrate(args.out, fs, seed=args.seed))
    summary_path = args.out.with_suffix(".train.json")
    args_text = {k: str(v) for k, v in vars(args).items()}
    summary_path.write_text(json.dumps({**summary, "args": args_text}, indent=1))
    print(f"model written to {args.out} ({args.out.stat().st_size / 1e6:.1f} MB); summary in {summary_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
