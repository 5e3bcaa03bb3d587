"""Per-face embedding time: dlib's ResNet (the default face model) vs the ONNX face model path.

The ONNX model is the test-sized one the tests write (``tests/face_model_harness.py``: a fixed random linear
projection of the aligned 112 x 112 x 3 face to 64 values, mirror-averaged), so the figure is the cost of the
ONNX *path* (68-point landmarks, similarity alignment, normalisation, onnxruntime call), not of a real ArcFace
network, whose own inference time comes on top. Faces: the portraits in ``../shared/faces/portraits``, found
once with dlib HOG (upsample 1, images at most 640 px); each model then aligns and embeds every face of an
image in one batch, ``--rounds`` times.

    nice -n 10 .venv/bin/python bench/face_embed.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def _faces(folder: Path) -> list[tuple[np.ndarray, Any]]:
    import dlib
    from PIL import Image

    from jikimi.signals.face_models import dlib_model_paths

    hog = dlib.get_frontal_face_detector()
    shape5 = dlib.shape_predictor(dlib_model_paths()["shape5"])
    out = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        im = Image.open(path).convert("RGB")
        im.thumbnail((640, 640))
        rgb = np.ascontiguousarray(np.asarray(im))
        shapes = dlib.full_object_detections()
        for rect in hog(rgb, 1):
            shapes.append(shape5(rgb, rect))
        if len(shapes):
            out.append((rgb, shapes))
    return out


def _time(embedder: Any, images: list[tuple[np.ndarray, Any]], rounds: int) -> tuple[float, float]:
    """Seconds per face: (alignment, embedding)."""
    embedder.embed(embedder.align(*images[0]))  # warm up (loads the models)
    align = embed = 0.0
    faces = 0
    for _ in range(rounds):
        for rgb, shapes in images:
            t0 = time.perf_counter()
            chips = embedder.align(rgb, shapes)
            t1 = time.perf_counter()
            embedder.embed(chips)
            t2 = time.perf_counter()
            align += t1 - t0
            embed += t2 - t1
            faces += len(chips)
    return align / faces, embed / faces


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.environ.pop("JIKIMI_FACE_MODEL", None)
    from face_model_harness import write_model
    from jikimi.config import SHARED_DIR
    from jikimi.signals.face_models import OnnxEmbedder, current_embedder

    folder = SHARED_DIR / "faces" / "portraits"
    if not folder.is_dir():
        print(f"portraits not found at {folder}")
        return
    images = _faces(folder)
    n = sum(len(s) for _, s in images)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs share them)")
    print(f"{len(images)} images, {n} faces, {args.rounds} rounds, one batch per image")
    dlib_emb = current_embedder()
    with tempfile.TemporaryDirectory(prefix="jikimi-bench-onnx-") as tmp:
        onnx_emb = OnnxEmbedder(write_model(Path(tmp), dim=64, name="bench-projection-64"))
        rows = [
            (f"dlib {dlib_emb.name} ({dlib_emb.dim}-d)", _time(dlib_emb, images, args.rounds)),
            (f"ONNX test model {onnx_emb.name} ({onnx_emb.dim}-d)", _time(onnx_emb, images, args.rounds)),
        ]
    for label, (a, e) in rows:
        ms = f"align {a * 1000:6.2f} ms  embed {e * 1000:6.2f} ms  total {(a + e) * 1000:6.2f} ms/face"
        print(f"{label:58s} {ms}")
    (da, de), (oa, oe) = rows[0][1], rows[1][1]
    print(
        f"dlib / ONNX test-model path per face: x{(da + de) / (oa + oe):.1f}; "
        f"ONNX alignment (68-point landmarks + warp) / dlib chips: x{oa / da:.2f}"
    )


if __name__ == "__main__":
    main()
