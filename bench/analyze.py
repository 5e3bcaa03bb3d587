"""Speed of ``jikimi analyze`` (every analyser, decode once): images/s on the available cores and the share of
time per analyser, on ../shared/faces/portraits, a sample of LFW, and the same photos at 1 megapixel.

Reference implementations measured in the same run: NudeNet's own ``NudeDetector.detect`` (vs our shared
session on already decoded pixels) and invisible-watermark's ``WatermarkDecoder`` (vs our PyWavelets decoder).

    .venv/bin/python bench/analyze.py [--lfw 120] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from jikimi.cli.cmd_analyze import AnalyseOptions, analyse_file, analyse_paths, warm_up  # noqa: E402
from jikimi.signals.faceswap_train import shared_dir  # noqa: E402

ANALYSERS = ("decode", "hashes", "face", "nudity", "faceswap", "synthetic")


def one_megapixel(paths: list[Path], out: Path) -> list[Path]:
    """Each photo resized to about 1 MP (aspect kept), saved as JPEG quality 90."""
    made = []
    for i, p in enumerate(paths):
        im = Image.open(p).convert("RGB")
        f = (1_000_000 / (im.width * im.height)) ** 0.5
        im = im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.LANCZOS)
        dest = out / f"{i:04d}.jpg"
        im.save(dest, "JPEG", quality=90)
        made.append(dest)
    return made


def run_set(name: str, paths: list[Path], workers: int) -> dict[str, float]:
    opts = AnalyseOptions(embeddings=False)  # nobody enrolled: no face search
    t0 = time.perf_counter()
    recs = list(analyse_paths([str(p) for p in paths], opts, workers=workers))
    wall = time.perf_counter() - t0
    failed = [r for r in recs if "error" in r or r.get("errors")]
    cpu = {a: sum(r.get("cpu_ms", {}).get(a, 0.0) for r in recs) for a in ANALYSERS}
    total = sum(cpu.values()) or 1.0
    per_image = total / len(paths)
    mp = np.mean([r["width"] * r["height"] / 1e6 for r in recs if "width" in r])
    faces = sum(len(r.get("faces", [])) for r in recs)
    share = "  ".join(f"{a} {100 * cpu[a] / total:.0f}%" for a in ANALYSERS)
    print(
        f"{name:<24} {len(paths):>4} images, mean {mp:.2f} MP, {faces} faces"
        + (f", {len(failed)} failed" if failed else "")
    )
    print(
        f"{'':<24} measured {len(paths) / wall:.1f} images/s on {workers} worker(s) under the current load; "
        f"CPU {per_image:.0f} ms/image -> {1000 * workers / per_image:.1f} images/s on {workers} idle cores"
    )
    print(f"{'':<24} share of CPU time: {share}", flush=True)
    return {"images_per_s": len(paths) / wall, "cpu_ms": per_image}


def face_search_cost(paths: list[Path]) -> None:
    """What matching faces against enrolled people adds: the 128-d embeddings (with the mirrored face)."""
    warm_up(AnalyseOptions(embeddings=True))
    with_e = [analyse_file(str(p), AnalyseOptions(embeddings=True)) for p in paths]
    without = [analyse_file(str(p), AnalyseOptions(embeddings=False)) for p in paths]
    a = np.mean([r["cpu_ms"]["face"] for r in with_e])
    b = np.mean([r["cpu_ms"]["face"] for r in without])
    n = np.mean([len(r["faces"]) for r in with_e])
    print(
        f"face step with embeddings for the search: {a:.0f} ms/image vs {b:.0f} without ({n:.1f} faces/image)"
    )


def reference_ratios(paths: list[Path]) -> None:
    import cv2
    from imwatermark import WatermarkDecoder
    from nudenet import NudeDetector

    from jikimi.signals.nudity import detect
    from jikimi.signals.synthetic.watermark import find_marks

    ref = NudeDetector()
    rgbs = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    detect(rgbs[0])
    t0 = time.perf_counter()
    for p in paths:
        ref.detect(str(p))
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    for rgb in rgbs:
        detect(rgb)
    t_ours = time.perf_counter() - t0
    print(
        f"nudity: NudeNet detect(path) {1000 * t_ref / len(paths):.0f} ms/image, ours on decoded pixels "
        f"{1000 * t_ours / len(paths):.0f} ms/image (x{t_ref / t_ours:.2f})"
    )
    dec = WatermarkDecoder("bytes", 136)
    big = [r for r in rgbs if r.shape[0] * r.shape[1] >= 256 * 256][:4]
    t0 = time.perf_counter()
    for rgb in big:  # the reference decodes one payload per call: SDv1 and SDXL are two calls
        dec.decode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "dwtDct")
        WatermarkDecoder("bits", 48).decode(np.ascontiguousarray(rgb), "dwtDct")
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    for rgb in big:  # ours: SDv1, SDv2 and SDXL together
        find_marks(rgb)
    t_ours = time.perf_counter() - t0
    print(
        f"watermarks: invisible-watermark (SDv1 + SDXL) {1000 * t_ref / len(big):.0f} ms/image, ours "
        f"(SDv1 + SDv2 + SDXL) {1000 * t_ours / len(big):.0f} ms/image (x{t_ref / t_ours:.1f}) on 1 MP"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=shared_dir())
    ap.add_argument("--lfw", type=int, default=120, help="LFW photos in the sample")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    portraits = sorted(
        p for p in (args.shared / "faces" / "portraits").rglob("*") if p.suffix != ".md" and p.is_file()
    )
    rng = np.random.default_rng(0)
    lfw_all = sorted((args.shared / "faces" / "lfw").rglob("*.jpg"))
    lfw = [lfw_all[i] for i in sorted(rng.choice(len(lfw_all), args.lfw, replace=False))]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs share them)")
    run_set("portraits (as stored)", portraits, args.workers)
    run_set("LFW sample (250x250)", lfw, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        mp1 = one_megapixel(portraits + lfw[:40], Path(tmp))
        run_set("1 MP photos", mp1, args.workers)
        reference_ratios(mp1[:12])
        face_search_cost(mp1[:8])
    return 0


if __name__ == "__main__":
    sys.exit(main())
