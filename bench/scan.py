"""End-to-end scan throughput on LFW: items/s with 1 and 2 workers, local process pool and Ray.

Executors: ``local`` (the process pool, 1 and 2 workers), ``cluster`` (a real Ray cluster on this machine
started with ``ray start``, token authentication on: 1 node, then 2 nodes, 1 CPU each; the scan joins it by
address, so items travel as bytes, as to remote machines) and ``ray`` (Ray started by the scan itself).

Each configuration runs ``jikimi.cases.runner.run_scan`` (decode once, every registered signal, bank and
face matching against one enrolled person, writes to a fresh SQLite store) over the same images, after the
executor's workers have loaded their models (start-up is reported separately). Figures:

- items/s end to end;
- pipeline overhead = (wall time x workers) / (sum of the analysers' own time, decode included, measured
  inside the workers in the same run) - 1; target <= 15%;
- scaling = items/s with 2 workers / items/s with 1 worker; target >= 1.8x. Only meaningful when the two
  cores are otherwise idle: the 5-minute load average is printed with each row.

Defaults to a 400-image subset because the machine is shared (``--all`` for the 6,499 images,
``--limit N`` for another size, ``--executors local,cluster,ray`` to choose).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from jikimi.cases.runner import run_scan
from jikimi.config import SHARED_DIR
from jikimi.scan.executors import RayExecutor, make_executor
from jikimi.scan.localcluster import LocalCluster
from jikimi.store import Store, open_store, people


def subset(lfw: Path, limit: int | None, into: Path) -> int:
    files = sorted(lfw.rglob("*.jpg"))
    if limit:
        step = max(1, len(files) // limit)
        files = files[::step][:limit]
    into.mkdir(parents=True)
    for f in files:
        os.symlink(f, into / f.name)
    return len(files)


def enrol_someone(store: Store) -> None:
    """One consenting person (from the portraits, not in the scanned LFW subset): with somebody to look for,
    every face is embedded and searched, as in a support centre's scans (with nobody enrolled the scan finds
    faces but computes no embeddings)."""
    photos = sorted((SHARED_DIR / "faces" / "portraits" / "obama").glob("*.jpg"))[:3]
    with store.session() as s:
        people.enroll(s, "Bench person", photos, consent_by="benchmark (public-figure photos)")


def run(
    kind: str, workers: int, images: Path, home: Path, signals: list[str] | None, enrol: bool
) -> dict[str, float]:
    os.environ["JIKIMI_HOME"] = str(home)
    store = open_store(f"sqlite:///{home / 'bench.db'}")
    if enrol:
        enrol_someone(store)
    t0 = time.perf_counter()
    cluster: LocalCluster | None = None
    try:
        if kind == "cluster":  # `workers` nodes of 1 CPU each, joined by address as an operator would
            cluster = LocalCluster(nodes=workers, cpus=1).start()
            os.environ.update({k: v for k, v in cluster.env.items() if k.startswith("RAY_")})
            ex: Any = RayExecutor(signal_names=signals, address=cluster.address)
            assert ex.workers == workers
        else:
            ex = make_executor(kind, workers, signal_names=signals)
        ex.warm_up()
        startup = time.perf_counter() - t0
        try:
            t1 = time.perf_counter()
            report = run_scan(store, [images], executor=ex, signals=signals, actor="bench")
            wall = time.perf_counter() - t1
        finally:
            ex.close()
            store.dispose()
    finally:
        if cluster is not None:
            cluster.stop()
    return {
        "items": report.items,
        "errors": len(report.errors),
        "startup_s": startup,
        "wall_s": wall,
        "items_per_s": report.items / wall,
        "analyser_s": report.analyser_seconds,
        "overhead": wall * workers / report.analyser_seconds - 1 if report.analyser_seconds else float("nan"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="all 6,499 LFW images")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--executors", default="local,cluster")
    ap.add_argument("--signals", default=None, help="comma-separated (default: every registered signal)")
    ap.add_argument("--nobody-enrolled", action="store_true", help="scan without anybody to search for")
    args = ap.parse_args()
    lfw = SHARED_DIR / "faces" / "lfw"
    if not lfw.is_dir():
        print(f"LFW not found at {lfw}")
        return 1
    signals = args.signals.split(",") if args.signals else None
    tmp = Path(tempfile.mkdtemp(prefix="jikimi-bench-scan-"))
    try:
        n = subset(lfw, None if args.all else args.limit, tmp / "images")
        who = "nobody enrolled" if args.nobody_enrolled else "1 person enrolled"
        print(f"{n} LFW images, signals: {signals or 'all registered'}, {who}, cores: {os.cpu_count()}")
        print(
            f"{'executor':<8} {'workers':>7} {'start s':>8} {'wall s':>8} {'items/s':>8} "
            f"{'overhead':>9} {'errors':>6} {'load 1m/5m':>10}"
        )
        results: dict[tuple[str, int], dict[str, float]] = {}
        for kind in args.executors.split(","):
            for workers in (1, 2):
                home = tmp / f"home-{kind}-{workers}"
                r = run(kind, workers, tmp / "images", home, signals, not args.nobody_enrolled)
                results[(kind, workers)] = r
                print(
                    f"{kind:<8} {workers:>7} {r['startup_s']:>8.1f} {r['wall_s']:>8.1f} "
                    f"{r['items_per_s']:>8.2f} {r['overhead']:>8.1%} {int(r['errors']):>6} "
                    f"{os.getloadavg()[0]:>5.1f}/{os.getloadavg()[1]:<4.1f}",
                    flush=True,
                )
        for kind in args.executors.split(","):
            one, two = results[(kind, 1)], results[(kind, 2)]
            scaling = two["items_per_s"] / one["items_per_s"]
            print(
                f"{kind}: overhead with 1 worker {one['overhead']:.1%} (target <= 15%), "
                f"scaling 1 -> 2 workers {scaling:.2f}x (target >= 1.8x)"
            )
        for other in ("ray", "cluster"):
            if "local" in args.executors and other in args.executors:
                for w in (1, 2):
                    ratio = results[(other, w)]["items_per_s"] / results[("local", w)]["items_per_s"]
                    print(f"{other} / local with {w} worker(s): {ratio:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
