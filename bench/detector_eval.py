"""Evaluate the face-swap detector: ROC AUC with a bootstrap 95% interval.

1. DFDC face crops in ../shared/deepfake-samples (34 real, 33 fake; evaluation only, research-only terms).
   Each crop is scored two ways: "pipeline" (dlib finds the face and its 68 landmarks, then the same crop as
   at run time; the whole crop when no face is found) and "whole crop" (the 224 px crop resized to the input).
2. Held-out LFW people (never trained on), each photo and its self-blended copy.

    .venv/bin/python bench/detector_eval.py [--model PATH] [--checkpoints DIR]

``--checkpoints`` also scores every epoch's weights (information only: the shipped model is chosen on the LFW
validation split, never on DFDC).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from jikimi.signals.faceswap import MODEL_PATH, FaceSwapModel, crop_face, detect_boxes, landmarks68  # noqa: E402
from jikimi.signals.faceswap_train import (  # noqa: E402
    make_batch,
    prepare,
    roc_auc,
    shared_dir,
    split_people,
)


def bootstrap_auc(
    labels: np.ndarray, scores: np.ndarray, n: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Stratified bootstrap 95% percentile interval of the AUC."""
    rng = np.random.default_rng(seed)
    pos, neg = np.nonzero(labels == 1)[0], np.nonzero(labels == 0)[0]
    aucs = []
    for _ in range(n):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        aucs.append(roc_auc(labels[idx], scores[idx]))
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return float(lo), float(hi)


def dfdc_crops(root: Path, model: FaceSwapModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(labels, pipeline crops, whole crops, faces found) for the DFDC sample."""
    labels, pipe, whole = [], [], []
    found = 0
    size = model.info.input_size
    for label, folder in ((0, "real"), (1, "fake")):
        for path in sorted((root / folder).glob("*.jpg")):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            whole_crop = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            pad = rgb.shape[0] // 4  # the crops are tight: give the detector some margin
            padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
            boxes = detect_boxes(padded)
            if boxes:
                cx, cy = padded.shape[1] / 2, padded.shape[0] / 2
                box = min(boxes, key=lambda b: ((b[0] + b[2]) / 2 - cx) ** 2 + ((b[1] + b[3]) / 2 - cy) ** 2)
                lm = landmarks68(padded, box)
                crop = crop_face(padded, landmarks=lm, margin=model.info.margin, size=size)
                found += 1
            else:
                crop = whole_crop
            labels.append(label)
            pipe.append(crop)
            whole.append(whole_crop)
    return np.array(labels), np.stack(pipe), np.stack(whole), found


def report(
    name: str, labels: np.ndarray, scores: np.ndarray, threshold: float | None = None
) -> dict[str, float]:
    auc = roc_auc(labels, scores)
    lo, hi = bootstrap_auc(labels, scores)
    line = (
        f"{name:<44} AUC {auc:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  (n={len(labels)}: {int(labels.sum())} fake)"
    )
    out = {"auc": auc, "lo": lo, "hi": hi}
    if threshold is not None:
        tpr = float((scores[labels == 1] >= threshold).mean())
        fpr = float((scores[labels == 0] >= threshold).mean())
        line += f"  at threshold {threshold:.3f}: TPR {tpr:.2f} FPR {fpr:.2f}"
        out.update(tpr=tpr, fpr=fpr)
    print(line, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=MODEL_PATH)
    ap.add_argument("--shared", type=Path, default=shared_dir())
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "jikimi" / "faceswap-lfw-176.npz")
    ap.add_argument("--seed", type=int, default=1234, help="the training seed (defines the held-out people)")
    ap.add_argument("--checkpoints", type=Path, default=None)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    model = FaceSwapModel(args.model)
    print(f"model {args.model.name} ({model.info.version}), threshold {model.info.threshold:.3f}")

    labels, pipe, whole, found = dfdc_crops(args.shared / "deepfake-samples", model)
    print(f"DFDC: dlib found a face in {found} of {len(labels)} crops (the others are scored whole)")
    report("DFDC crops, pipeline crop", labels, model.score(pipe), model.info.threshold)
    report("DFDC crops, whole crop", labels, model.score(whole), model.info.threshold)

    fs = prepare(args.shared / "faces" / "lfw", args.cache, log=False)
    val = np.nonzero(split_people(fs.person, seed=args.seed))[0]
    vx, vy = make_batch(fs, val, np.random.default_rng([args.seed, 10**6]))
    people = len(np.unique(fs.person[val]))
    report(
        f"LFW held-out ({people} people), self-blended", vy.astype(int), model.score(vx), model.info.threshold
    )

    if args.checkpoints is not None:
        import tempfile

        import torch

        from jikimi.signals.faceswap_train import SwapNet, export_onnx, predict

        print("per-epoch weights (information only; not used to choose the model):")
        for ckpt in sorted(args.checkpoints.glob("epoch*.pt")):
            net = SwapNet()
            net.load_state_dict(torch.load(ckpt))
            with tempfile.TemporaryDirectory() as tmp:
                onnx_path = Path(tmp) / "m.onnx"
                export_onnx(
                    net, onnx_path, {"input_size": model.info.input_size, "margin": model.info.margin}
                )
                m = FaceSwapModel(onnx_path)
                a = roc_auc(labels, m.score(pipe))
                b = roc_auc(labels, m.score(whole))
            c = roc_auc(vy, predict(net, vx))
            print(
                f"  {ckpt.stem}: DFDC pipeline {a:.3f}  DFDC whole {b:.3f}  LFW held-out {c:.3f}", flush=True
            )
    print(f"evaluated in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
