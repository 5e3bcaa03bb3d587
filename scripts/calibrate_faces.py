"""Calibrate the face matcher on LFW: TAR at FAR 1% / 0.1%, the default threshold and the score mapping.

Step 1 (slow, once): detect and embed every photo of ``../shared/faces/lfw`` with the product's own pipeline
(``jikimi.signals.face.detect_faces``: HOG, upsample 1, 5-point alignment, dlib ResNet descriptors of the face
and of its mirror image), cached outside the repository (``$JIKIMI_BENCH_CACHE`` or
``/tmp/jikimi-bench-cache``); two processes. Photos where HOG finds no face are retried with the MMOD CNN
detector (reported separately).
Step 2 (seconds): all same-person pairs and all different-person pairs -> ROC, thresholds, logistic score,
for the product's embedding (``mirror_embedding``) and, for comparison, dlib's plain descriptor; a check with
the threshold chosen on one half of the people and measured on the other half.

    nice -n 10 .venv/bin/python scripts/calibrate_faces.py           # report only
    nice -n 10 .venv/bin/python scripts/calibrate_faces.py --write   # and write face_calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from jikimi.config import SHARED_DIR
from jikimi.signals.face import MODEL_NAME, detect_faces, mirror_embedding

SHARED = SHARED_DIR
CACHE_DIR = Path(os.environ.get("JIKIMI_BENCH_CACHE") or "/tmp/jikimi-bench-cache")
CACHE = CACHE_DIR / "lfw_faces_v3.npz"
OUT_JSON = Path(__file__).resolve().parents[1] / "src" / "jikimi" / "index" / "face_calibration.json"


def _embed_one(path: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(plain, mirrored, found, faces) for one photo: the face nearest the centre is the labelled person."""
    rgb = np.asarray(Image.open(path).convert("RGB"))
    cx, cy = rgb.shape[1] / 2, rgb.shape[0] / 2
    faces = detect_faces(rgb, detector="hog", upsample=1)
    kind = 1
    if not faces:
        faces = detect_faces(rgb, detector="cnn", upsample=1)
        kind = 2
    if not faces:
        return np.zeros(128, np.float32), np.zeros(128, np.float32), 0, 0
    f = min(faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)
    assert f.plain is not None and f.mirrored is not None
    return f.plain, f.mirrored, kind, len(faces)


def embed_lfw(lfw: Path, cache: Path, workers: int = 2) -> dict[str, np.ndarray]:
    """Detect + embed every LFW photo in ``workers`` processes.

    Progress is saved every 500 photos in ``cache`` + ``.partial.npz``, so an interrupted run resumes.
    """
    from concurrent.futures import ProcessPoolExecutor

    files = sorted(p for p in lfw.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no LFW photos under {lfw} (set JIKIMI_SHARED or --lfw)")
    identities = sorted({p.parent.name for p in files})
    ident_idx = {n: i for i, n in enumerate(identities)}
    n = len(files)
    partial = cache.with_suffix(".partial.npz")
    data: dict[str, np.ndarray] = {
        "files": np.array([str(p.relative_to(lfw)) for p in files]),
        "identity": np.array([ident_idx[p.parent.name] for p in files], np.int32),
        "plain": np.zeros((n, 128), np.float32),
        "mirrored": np.zeros((n, 128), np.float32),
        "found": np.zeros(n, np.int8),  # 0 no face, 1 HOG, 2 CNN fallback
        "nfaces": np.zeros(n, np.int16),
        "done": np.zeros(n, bool),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    if partial.exists():
        old = dict(np.load(partial))
        if list(old["files"]) == list(data["files"]):
            data = old
    t0 = time.time()
    todo = [i for i in range(n) if not data["done"][i]]
    with ProcessPoolExecutor(workers) as pool:
        results = pool.map(_embed_one, [str(lfw / str(data["files"][i])) for i in todo], chunksize=16)
        for k, (i, (plain, mirrored, kind, count)) in enumerate(zip(todo, results, strict=True)):
            data["plain"][i], data["mirrored"][i] = plain, mirrored
            data["found"][i], data["nfaces"][i] = kind, count
            data["done"][i] = True
            if (k + 1) % 500 == 0 or k + 1 == len(todo):
                np.savez(partial, **data)  # type: ignore[arg-type]
                rate = (k + 1) / (time.time() - t0)
                print(
                    f"  {n - len(todo) + k + 1}/{n} photos, {rate:.2f}/s, "
                    f"ETA {(len(todo) - k) / rate / 60:.0f} min",
                    file=sys.stderr,
                    flush=True,
                )
    np.savez_compressed(cache, **data)  # type: ignore[arg-type]
    partial.unlink(missing_ok=True)
    print(f"cached {n} photos in {cache} ({time.time() - t0:.0f} s)", file=sys.stderr)
    return data


def product_embeddings(data: dict[str, np.ndarray]) -> np.ndarray:
    """What ``detect_faces`` returns as ``Face.embedding`` for each cached photo."""
    return np.stack([mirror_embedding(p, m) for p, m in zip(data["plain"], data["mirrored"], strict=True)])


def held_out_check(emb: np.ndarray, ident: np.ndarray, far: float = 0.001, seed: int = 0) -> str:
    """Threshold at ``far`` chosen on a random half of the people, TAR and FAR measured on the other half."""
    people = np.unique(ident)
    rng = np.random.default_rng(seed)
    half = set(rng.permutation(people)[: len(people) // 2].tolist())
    a = np.array([int(i) in half for i in ident])
    gen_a, imp_a = pair_distances(emb[a], ident[a])
    _, thr = tar_at_far(gen_a, imp_a, far)
    gen_b, imp_b = pair_distances(emb[~a], ident[~a])
    return (
        f"held out: threshold {thr:.4f} from {int(a.sum())} photos of {len(half)} people; on the other "
        f"{int((~a).sum())} photos of {len(people) - len(half)} people: TAR {(gen_b <= thr).mean():.2%} "
        f"at FAR {(imp_b <= thr).mean():.3%}"
    )


def pair_distances(emb: np.ndarray, ident: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances of all same-person pairs and of all different-person pairs (i < j)."""
    sq = (emb.astype(np.float64) ** 2).sum(1)
    gen: list[np.ndarray] = []
    imp: list[np.ndarray] = []
    for start in range(0, len(emb), 1024):
        stop = min(len(emb), start + 1024)
        d2 = (
            sq[start:stop, None]
            + sq[None, :]
            - 2.0 * emb[start:stop].astype(np.float64) @ emb.T.astype(np.float64)
        )
        d = np.sqrt(np.maximum(d2, 0.0)).astype(np.float32)
        rows = np.arange(start, stop)[:, None]
        upper = np.arange(len(emb))[None, :] > rows
        same = ident[start:stop, None] == ident[None, :]
        gen.append(d[upper & same])
        imp.append(d[upper & ~same])
    return np.concatenate(gen), np.concatenate(imp)


def tar_at_far(gen: np.ndarray, imp: np.ndarray, far: float) -> tuple[float, float]:
    thr = float(np.quantile(imp, far))
    return float((gen <= thr).mean()), thr


def fit_logistic(gen: np.ndarray, imp: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """P(same | d) = 1 / (1 + exp(a * (d - b))) with equal class weights (IRLS on the distances)."""
    rng = np.random.default_rng(seed)
    imp_s = rng.choice(imp, size=min(len(imp), 400_000), replace=False)
    x = np.concatenate([gen, imp_s]).astype(np.float64)
    y = np.concatenate([np.ones(len(gen)), np.zeros(len(imp_s))])
    w = np.where(y == 1, 0.5 / len(gen), 0.5 / len(imp_s))
    beta = np.array([0.0, 0.0])  # logit = beta0 + beta1 * x
    X = np.stack([np.ones_like(x), x], 1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(X @ beta)))
        g = X.T @ (w * (y - p))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(H, g)
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    a = -beta[1]
    b = -beta[0] / beta[1]
    return float(a), float(b)


def gallery_protocol(emb: np.ndarray, ident: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Enrol the first k photos of people with > k photos; probe with all other photos; a probe's distance to
    a person is its distance to the nearest enrolled photo (what ``FaceGallery.search`` does).

    Returns the genuine and impostor (probe, person) distances and the number of people enrolled."""
    people = np.unique(ident)
    enrolled = [int(p) for p in people if (ident == p).sum() > k]
    gal_idx = {p: np.flatnonzero(ident == p)[:k] for p in enrolled}
    gal = np.concatenate([gal_idx[p] for p in enrolled])
    owner = np.concatenate([[p] * k for p in enrolled])
    gal_set = set(gal.tolist())
    probes = np.array([i for i in range(len(emb)) if i not in gal_set])
    pe, ge = emb[probes].astype(np.float64), emb[gal].astype(np.float64)
    d = np.sqrt(np.maximum((pe**2).sum(1)[:, None] + (ge**2).sum(1)[None, :] - 2 * pe @ ge.T, 0))
    per_person = np.stack([d[:, owner == p].min(1) for p in enrolled], 1)
    same = ident[probes][:, None] == np.array(enrolled)[None, :]
    return per_person[same], per_person[~same], len(enrolled)


GRID = np.round(np.arange(0.20, 0.80001, 0.01), 2)


def far_table(imp: np.ndarray) -> list[list[float]]:
    srt = np.sort(imp)
    return [[float(g), float(np.searchsorted(srt, g, side="right") / len(srt))] for g in GRID]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lfw", type=Path, default=SHARED / "faces" / "lfw")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--write", action="store_true", help=f"write the calibration to {OUT_JSON}")
    ap.add_argument("--partial", action="store_true", help="report on the photos embedded so far")
    args = ap.parse_args()

    partial = args.cache.with_suffix(".partial.npz")
    if args.cache.exists():
        data = dict(np.load(args.cache))
    elif args.partial and partial.exists():
        data = dict(np.load(partial))
        keep = data["done"]
        data = {k: (v[keep] if len(v) == len(keep) else v) for k, v in data.items()}
        print(f"PARTIAL: {int(keep.sum())} photos embedded so far", file=sys.stderr)
    else:
        print(f"embedding {args.lfw} (once; cached in {args.cache})", file=sys.stderr)
        data = embed_lfw(args.lfw, args.cache)

    found = data["found"]
    ident_all = data["identity"]
    emb_all = product_embeddings(data)
    n = len(found)
    print(f"LFW subset: {n} photos, {len(np.unique(ident_all))} people")
    print(
        f"face found by HOG (upsample 1): {(found == 1).sum()} ({(found == 1).mean():.2%}); "
        f"by the CNN fallback: {(found == 2).sum()}; no face: {(found == 0).sum()}"
    )
    hog = found == 1
    print()
    print(
        "| faces | photos | genuine pairs | impostor pairs | TAR @ FAR 1% | TAR @ FAR 0.1% "
        "| TAR @ FAR 0.01% | TAR @ FAR 0.001% | threshold @ FAR 0.1% | EER |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = (
        ("HOG (default)", hog, emb_all),
        ("HOG + CNN fallback", found > 0, emb_all),
        ("HOG, dlib's plain descriptor (before)", hog, data["plain"]),
    )
    for subset_name, mask, vectors in rows:
        gen, imp = pair_distances(vectors[mask], ident_all[mask])
        tars = [tar_at_far(gen, imp, far)[0] for far in (0.01, 0.001, 0.0001, 0.00001)]
        _, thr01 = tar_at_far(gen, imp, 0.001)
        grid = np.linspace(0.2, 0.9, 701)
        frr = np.array([(gen > g).mean() for g in grid])
        far_ = np.searchsorted(np.sort(imp), grid, side="right") / len(imp)
        eer_i = int(np.argmin(np.abs(frr - far_)))
        eer = (frr[eer_i] + far_[eer_i]) / 2
        print(
            f"| {subset_name} | {mask.sum()} | {len(gen):,} | {len(imp):,} | "
            + " | ".join(f"{t:.2%}" for t in tars)
            + f" | {thr01:.3f} | {eer:.2%} |"
        )

    emb = emb_all[hog]
    ident = ident_all[hog]
    gen, imp = pair_distances(emb, ident)
    # Counting photos where no face was found as rejected genuine pairs (end-to-end TAR).
    gen_all_pairs = sum(int(c) * (int(c) - 1) // 2 for c in np.bincount(ident_all))
    _, thr1 = tar_at_far(gen, imp, 0.01)
    _, thr01 = tar_at_far(gen, imp, 0.001)
    _, thr001 = tar_at_far(gen, imp, 0.0001)
    _, thr0001 = tar_at_far(gen, imp, 0.00001)
    e2e = float((gen <= thr01).sum()) / gen_all_pairs
    print(held_out_check(emb, ident))
    print(
        f"\nend to end (HOG; pairs with a missed face count as rejections): "
        f"TAR @ FAR 0.1% = {e2e:.2%} of {gen_all_pairs:,} genuine pairs"
    )
    by_photos: dict[str, dict[str, object]] = {}
    print(
        "\n| photos enrolled per person | people | genuine | impostor | TAR @ FAR 1% | TAR @ FAR 0.1% "
        "| TAR @ FAR 0.01% | threshold @ FAR 0.1% | at the pair threshold: TAR / FAR |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for k in (1, 2, 3, 5):
        g_gen, g_imp, g_n = gallery_protocol(emb, ident, k)
        t1, _ = tar_at_far(g_gen, g_imp, 0.01)
        t01, g_thr = tar_at_far(g_gen, g_imp, 0.001)
        t001, _ = tar_at_far(g_gen, g_imp, 0.0001)
        print(
            f"| {k} | {g_n} | {len(g_gen):,} | {len(g_imp):,} | {t1:.2%} | {t01:.2%} | {t001:.2%} "
            f"| {g_thr:.3f} | {(g_gen <= thr01).mean():.2%} / {(g_imp <= thr01).mean():.3%} |"
        )
        by_photos[str(k)] = {
            "threshold": round(g_thr, 4),
            "tar": round(t01, 4),
            "far_table": far_table(g_imp),
        }

    a, b = fit_logistic(gen, imp)
    print(f"\nlogistic score: P(same) = 1 / (1 + exp({a:.3f} * (d - {b:.4f})))  (equal priors)")
    print(f"thresholds: FAR 1% {thr1:.4f}, 0.1% {thr01:.4f}, 0.01% {thr001:.4f}, 0.001% {thr0001:.4f}")
    tar_table = [[float(g), round(float((gen <= g).mean()), 5)] for g in GRID]
    calib = {
        "model": MODEL_NAME,
        "embedding": "mirror-l2",
        "detector": "hog",
        "upsample": 1,
        "data": f"LFW subset ../shared/faces/lfw: {int(hog.sum())} photos with a HOG face, "
        f"{len(np.unique(ident))} people, {len(gen)} genuine and {len(imp)} impostor pairs",
        "threshold_far_1e-2": round(thr1, 4),
        "threshold_far_1e-3": round(thr01, 4),
        "threshold_far_1e-4": round(thr001, 4),
        "threshold_far_1e-5": round(thr0001, 4),
        "default_threshold": round(thr01, 4),
        "logistic_a": round(a, 4),
        "logistic_b": round(b, 4),
        "far_table": far_table(imp),
        "tar_table": tar_table,
        "by_photos": by_photos,
        "script": "scripts/calibrate_faces.py --write",
    }
    if args.write:
        if args.partial and not args.cache.exists():
            raise SystemExit("refusing to write a calibration from a partial run")
        OUT_JSON.write_text(json.dumps(calib, indent=1) + "\n")
        print(f"wrote {OUT_JSON}")


if __name__ == "__main__":
    main()
