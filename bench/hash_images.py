"""Benchmark: PDQ fast path vs python-threatexchange's ``pdq_from_file``, and parallel folder hashing.

Runs on /work/shared/faces (LFW + portraits) plus large JPEGs generated here (4 and 12 MP mosaics of real
photos, upscaled portraits) and Meta's 12 MP reference photos. Prints images/s, the speed ratio and how far
the fast hashes are from the reference (quality >= 80: share within 10 bits; all: share within 31).

    .venv/bin/python bench/hash_images.py [--faces N] [--large N] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from jikimi.config import SHARED_DIR
from jikimi.media import load
from jikimi.signals.batch import HashOptions, Item, default_workers, hash_items
from jikimi.signals.pdq import PDQSignal


def shared_images(root: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in (root / "faces").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if limit is not None and limit < len(files):
        files = random.Random(0).sample(files, limit)
    return files


def generate_large(out: Path, faces: Sequence[Path], count: int) -> list[Path]:
    """Large JPEGs: mosaics of LFW photos (real detail) and upscaled portraits with sensor-like grain."""
    rng = random.Random(1)
    nprng = np.random.default_rng(1)
    lfw = [p for p in faces if "/lfw/" in str(p)]
    portraits = [p for p in faces if "/portraits/" in str(p)]
    made: list[Path] = []
    sizes = [(4000, 3000), (2448, 1632), (3000, 4000), (4032, 2268)]
    for i in range(count):
        w, h = sizes[i % len(sizes)]
        if i % 2 == 0 and lfw:
            tile = 250 if w * h > 6e6 else 204
            canvas = Image.new("RGB", (w, h))
            for y in range(0, h, tile):
                for x in range(0, w, tile):
                    with Image.open(rng.choice(lfw)) as im:
                        canvas.paste(im.convert("RGB").resize((tile, tile)), (x, y))
        else:
            with Image.open(rng.choice(portraits or lfw)) as im:
                canvas = im.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
            grain = nprng.normal(0, 6, (h, w, 1))
            canvas = Image.fromarray(np.clip(np.asarray(canvas) + grain, 0, 255).astype(np.uint8))
        path = out / f"large-{i:03d}-{w}x{h}.jpg"
        canvas.save(path, quality=rng.choice([80, 88, 95]))
        made.append(path)
    return made


def timed(
    fn: Callable[[Path], tuple[str, int]], files: Sequence[Path]
) -> tuple[float, list[tuple[str, int]]]:
    start = time.perf_counter()
    out = [fn(p) for p in files]
    return time.perf_counter() - start, out


def ours_fast(path: Path) -> tuple[str, int]:
    r = PDQSignal(decode="fast", dihedral=False).extract(load(path))
    return r["hash"], r["quality"]


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def compare(label: str, files: Sequence[Path]) -> None:
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

    ref_s, ref = timed(lambda p: pdq_from_file(p), files)
    fast_s, fast = timed(ours_fast, files)
    d = np.array([distance(a[0], b[0]) for a, b in zip(ref, fast, strict=True)])
    q80 = np.array([q >= 80 for _, q in ref])
    n = len(files)
    print(f"\n## {label}: {n} images")
    print(f"  python-threatexchange pdq_from_file : {n / ref_s:8.1f} images/s")
    print(f"  jikimi fast PDQ (load+md5+sha256+pdq): {n / fast_s:8.1f} images/s")
    print(f"  speed ratio                          : {ref_s / fast_s:8.2f}x")
    if q80.any():
        print(
            f"  quality>=80: {int(q80.sum())} images, within 10 bits: {100 * np.mean(d[q80] <= 10):.2f}%, "
            f"max {int(d[q80].max())}, mean {d[q80].mean():.2f}"
        )
    print(
        f"  all: within 31 bits: {100 * np.mean(d <= 31):.2f}%, max {int(d.max())}, "
        f"exact {100 * np.mean(d == 0):.1f}%"
    )


def parallel(files: Sequence[Path], workers: int) -> None:
    items = [Item(str(p)) for p in files]
    opts = HashOptions()
    start = time.perf_counter()
    seq = list(hash_items(items, opts, workers=1))
    one = time.perf_counter() - start
    start = time.perf_counter()
    par = list(hash_items(items, opts, workers=workers))
    many = time.perf_counter() - start
    assert seq == par, "parallel and sequential records differ"
    errors = sum("error" in r for r in par)
    print(f"\n## jikimi hash records (md5, sha256, pdq) on {len(items)} files, {errors} errors")
    print(f"  (machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)")
    print(f"  1 process   : {len(items) / one:8.1f} files/s")
    print(f"  {workers} processes : {len(items) / many:8.1f} files/s  (x{one / many:.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument(
        "--faces", type=int, default=None, help="sample this many shared face photos (default all)"
    )
    ap.add_argument("--large", type=int, default=48, help="large JPEGs to generate")
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args(argv)
    if not (SHARED_DIR / "faces").is_dir():
        print(f"shared material not found at {SHARED_DIR}", file=sys.stderr)
        return 2
    print(
        f"# hash_images bench — {os.cpu_count()} CPUs visible, {args.workers} workers, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    faces = shared_images(SHARED_DIR, args.faces)
    meta = sorted((SHARED_DIR / "reference/pdq/reg-test-input/exif-rotn").glob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="jikimi-bench-") as tmp:
        large = generate_large(Path(tmp), faces, args.large) + meta
        compare("large JPEGs (4-12 MP: generated + Meta's 12 MP photos)", large)
        compare("shared faces (LFW 250x250 and portraits)", faces)
        parallel(list(faces) + large, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
