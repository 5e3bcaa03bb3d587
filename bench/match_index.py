"""Benchmark: jikimi's PDQ match index against python-threatexchange's PDQIndex / PDQFlatIndex.

Run: ``nice -n 10 .venv/bin/python bench/match_index.py`` (``--size``, ``--pytx-size`` change the scale).

Measures, at ``--size`` (default 10M) random PDQ hashes: build time, memory, single-query latency
(p50/p99) and throughput at threshold 31 for random queries and near-duplicates (1-31 flipped bits), recall
against brute force (faiss ``IndexBinaryFlat``, itself spot-checked with numpy), the delay until an added
hash is found, cold start from the persisted index file, and skew on Meta's real hashes (haystack/needles).
python-threatexchange's indexes are built at ``--pytx-size`` (default 1M: their Python-side build is too
slow and memory-hungry at 10M on this machine); jikimi is measured at that size too, so the ratios compare
like with like. Finally the ``BankMatcher`` cold start from the store (SQLite) and add-then-match through
the API, at ``--store-size``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jikimi.config import SHARED_DIR
from jikimi.index import PDQIndex, brute_force, codes_to_hex, hex_to_codes

THRESHOLD = 31
SHARED = SHARED_DIR


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def flip(code: np.ndarray, bits: Sequence[int]) -> np.ndarray:
    out = code.copy()
    for b in bits:
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def make_queries(codes: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    near = np.stack(
        [
            flip(codes[rng.integers(len(codes))], rng.choice(256, int(rng.integers(1, 32)), replace=False))
            for _ in range(n)
        ]
    )
    rand = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    return near, rand


def timed(fn: Callable[[np.ndarray], Any], queries: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Run ``fn`` per query; returns wall-clock milliseconds (with ``.cpu``: this thread's CPU ms)."""
    times, cpu, results = [], [], []
    for q in queries:
        c0, t0 = time.thread_time(), time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    ms = Timings(np.asarray(times) * 1e3)
    ms.cpu = np.asarray(cpu) * 1e3
    return ms, results


class Timings(np.ndarray):
    """Wall-clock milliseconds per query, with the CPU milliseconds alongside (``cpu``)."""

    cpu: np.ndarray

    def __new__(cls, values: np.ndarray) -> Timings:
        return np.asarray(values).view(cls)


def lat(ms: np.ndarray) -> str:
    p50, p99 = float(np.median(ms)), float(np.percentile(ms, 99))
    text = f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, {1000 / float(ms.mean()):,.0f} queries/s"
    cpu = getattr(ms, "cpu", None)
    if cpu is not None:
        cpu_p50, cpu_qps = float(np.median(cpu)), 1000 / float(cpu.mean())
        text += f" (CPU time: p50 {cpu_p50:.3f} ms, {cpu_qps:,.0f} queries/s per core)"
    return text


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def faiss_truth(codes: np.ndarray, queries: np.ndarray) -> list[set[tuple[int, int]]]:
    import faiss

    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    lims, dist, ids = flat.range_search(queries, THRESHOLD + 1)
    out = [
        set(zip(ids[lims[i] : lims[i + 1]].tolist(), dist[lims[i] : lims[i + 1]].tolist(), strict=True))
        for i in range(len(queries))
    ]
    del flat
    return out


def recall(found: list[set[tuple[int, int]]], truth: list[set[tuple[int, int]]]) -> tuple[float, int, int]:
    want = sum(len(t) for t in truth)
    got = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    extra = sum(len(f - t) for f, t in zip(found, truth, strict=True))
    return (100.0 * got / want if want else 100.0), want, extra


def ours_sets(idx: PDQIndex, queries: np.ndarray) -> tuple[np.ndarray, list[set[tuple[int, int]]]]:
    ms, res = timed(lambda q: idx.search_arrays(q, THRESHOLD), queries)
    return ms, [set(zip(a.tolist(), b.tolist(), strict=True)) for a, b in res]


def section(title: str) -> None:
    print(f"\n## {title}  [load average {load_average()}]", flush=True)


def bench_ours(n: int, nq: int, rng: np.random.Generator, workdir: Path) -> dict[str, float]:
    section(f"jikimi PDQIndex, {n:,} random hashes")
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    gc.collect()
    base_rss = rss_mb()
    t0 = time.perf_counter()
    idx = PDQIndex.build(codes, np.arange(n))
    build = time.perf_counter() - t0
    gc.collect()
    print(f"build: {build:.1f} s; tables {idx.nbytes / 1e6:,.0f} MB; RSS +{rss_mb() - base_rss:,.0f} MB")
    near, rand = make_queries(codes, nq, rng)
    out: dict[str, float] = {"build_s": build, "mem_mb": idx.nbytes / 1e6}
    for name, qs in (("near-duplicates (1-31 bits flipped)", near), ("random queries", rand)):
        ms, found = ours_sets(idx, qs)
        truth = faiss_truth(codes, qs)
        r, want, extra = recall(found, truth)
        print(f"{name}: {lat(ms)}; recall {r:.2f}% of {want} true matches, {extra} false")
        out[f"p50_{name[:4]}"] = float(np.median(ms))
        out[f"qps_{name[:4]}"] = 1000 / float(ms.mean())
        out[f"cqps_{name[:4]}"] = 1000 / float(ms.cpu.mean())  # type: ignore[attr-defined]
        out[f"recall_{name[:4]}"] = r
    for name, qs in (("near-duplicates", near), ("random queries", rand)):
        c0, t0 = time.thread_time(), time.perf_counter()
        batches = [idx.search_batch(qs[i : i + 100], THRESHOLD) for i in range(0, len(qs), 100)]
        took, cpu_took = time.perf_counter() - t0, time.thread_time() - c0
        found = [set(zip(a.tolist(), b.tolist(), strict=True)) for batch in batches for a, b in batch]
        r, _, extra = recall(found, faiss_truth(codes, qs))
        print(
            f"{name}, batches of 100 (search_batch): {len(qs) / took:,.0f} queries/s "
            f"({len(qs) / cpu_took:,.0f} per CPU-second); recall {r:.2f}%"
        )
        out[f"bqps_{name[:4]}"] = len(qs) / took
        out[f"bcqps_{name[:4]}"] = len(qs) / cpu_took
    engine_vs_faiss(codes, near, idx)
    # Spot-check faiss's brute force with numpy's.
    for q in near[:20]:
        rows, d = brute_force(codes, q, THRESHOLD)
        assert set(zip(rows.tolist(), d.tolist(), strict=True)) == faiss_truth(codes, q[None])[0]
    print("faiss IndexBinaryFlat ground truth agrees with numpy brute force on 20 queries")

    # Additions: found by the very next query, no rebuild.
    new = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
    delays, hits = [], 0
    for i, c in enumerate(new):
        t0 = time.perf_counter()
        idx.add(c[None], [n + i])
        labels, _ = idx.search_arrays(c, THRESHOLD)
        delays.append(time.perf_counter() - t0)
        hits += int(n + i in labels.tolist())
    delays_ms = np.asarray(delays) * 1e3
    print(
        f"add then query: {hits}/1000 found by the next query; add+query p50 {np.median(delays_ms):.3f} ms, "
        f"max {delays_ms.max():.3f} ms"
    )
    ms, _ = timed(lambda q, i=idx: i.search_arrays(q, THRESHOLD), near[:500])  # type: ignore[misc]
    print(f"latency with 1,000 pending additions: {lat(ms)}")
    t0 = time.perf_counter()
    idx.remove(range(0, 1000))
    print(f"remove 1,000 labels: {(time.perf_counter() - t0) * 1e3:.1f} ms; gone: ", end="")
    print(all(len(idx.search_arrays(codes[i], 0)[0]) == 0 for i in range(0, 1000, 50)))
    out["add_ms"] = float(delays_ms.max())

    # Persisted index: cold start.
    path = workdir / "pdq"
    t0 = time.perf_counter()
    idx.save(path)
    save = time.perf_counter() - t0
    del idx
    gc.collect()
    t0 = time.perf_counter()
    cold = PDQIndex.load(path)
    first = cold.search_arrays(near[0], THRESHOLD)
    load = time.perf_counter() - t0
    ms, _ = timed(lambda q, i=cold: i.search_arrays(q, THRESHOLD), near[:200])  # type: ignore[misc]
    print(f"save (compacts): {save:.1f} s; cold start (mmap load + first query): {load:.3f} s")
    print(f"next 200 queries after the cold start: {lat(ms)}")
    out["cold_s"] = load
    assert len(first[0]) >= 1
    del cold, codes
    gc.collect()
    return out


def engine_vs_faiss(codes: np.ndarray, near: np.ndarray, idx: PDQIndex) -> None:
    """The engines inside pytx's PDQIndex (faiss IndexBinaryMultiHash, 16 maps of 16 bits, nflip 1) and
    PDQFlatIndex (IndexBinaryFlat), built straight from the array (pytx's own Python layer is too slow to
    build at 10M here)."""
    import faiss

    faiss.omp_set_num_threads(1)
    qs = near[:300]
    ours, _ = timed(lambda q: idx.search_arrays(q, THRESHOLD), qs)
    t0 = time.perf_counter()
    mih = faiss.IndexBinaryMultiHash(256, 16, 16)
    mih.add(codes)
    mih.nflip = THRESHOLD // 16
    build = time.perf_counter() - t0
    ms, _ = timed(lambda q, ix=mih: ix.range_search(q[None], THRESHOLD + 1), qs)  # type: ignore[misc]
    print(f"faiss IndexBinaryMultiHash (pytx PDQIndex engine), built in {build:.1f} s: {lat(ms)}")
    cpu_ratio = float(ms.cpu.mean()) / float(ours.cpu.mean())  # type: ignore[attr-defined]
    print(
        f"  ratio: jikimi p50 {float(np.median(ms)) / float(np.median(ours)):.1f}x lower, throughput "
        f"{float(ms.mean()) / float(ours.mean()):.1f}x higher ({cpu_ratio:.1f}x per CPU-second)"
    )
    del mih
    gc.collect()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    ms, _ = timed(lambda q, ix=flat: ix.range_search(q[None], THRESHOLD + 1), qs[:30])  # type: ignore[misc]
    print(f"faiss IndexBinaryFlat (pytx PDQFlatIndex engine), 30 queries: {lat(ms)}")
    print(f"  ratio: jikimi throughput {float(ms.mean()) / float(ours.mean()):.0f}x higher")
    del flat
    gc.collect()
    faiss.omp_set_num_threads(os.cpu_count() or 1)


def bench_real(shared: Path, n_noise: int, rng: np.random.Generator) -> None:
    folder = shared / "reference" / "pdq" / "reg-test-input"
    if not folder.is_dir():
        print("real hashes: skipped (../shared not found)")
        return
    section("real PDQ hashes (haystack.txt + needles.txt), planted in random hashes")
    hay = hex_to_codes((folder / "haystack.txt").read_text().split())
    needles = hex_to_codes((folder / "needles.txt").read_text().split())
    codes = np.concatenate([hay, rng.integers(0, 256, (n_noise, 32), dtype=np.uint8)])
    idx = PDQIndex.build(codes, np.arange(len(codes)))
    base = idx._base
    assert base is not None
    lay = base.layout
    size = (1 << lay.bits) + 1
    worst = max(int(np.diff(base.offsets[j * size : (j + 1) * size]).max()) for j in range(lay.chunks))
    print(f"layout {lay.chunks}x{lay.bits} bits; largest bucket {worst:,} rows of {len(codes):,}")
    alone = PDQIndex.build(hay, np.arange(len(hay)), layout=lay)._base
    assert alone is not None
    biggest = max(int(np.diff(alone.offsets[j * size : (j + 1) * size]).max()) for j in range(lay.chunks))
    print(f"skew of the {len(hay)} real hashes alone: largest bucket {biggest} (uniform would be ~1)")
    ms, found = ours_sets(idx, needles)
    truth = faiss_truth(codes, needles)
    r, want, extra = recall(found, truth)
    print(f"{len(needles)} needles: {lat(ms)}; recall {r:.2f}% of {want} true matches, {extra} false")
    ms, found = ours_sets(idx, hay)
    truth = faiss_truth(codes, hay)
    r, want, extra = recall(found, truth)
    print(f"{len(hay)} haystack hashes as queries: {lat(ms)}; recall {r:.2f}% of {want}, {extra} false")
    del idx, codes
    gc.collect()


def bench_pytx(n: int, nq: int, rng: np.random.Generator) -> None:
    from threatexchange.signal_type.pdq.pdq_index import PDQFlatIndex
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex as PytxPDQIndex

    section(f"same hashes: jikimi vs python-threatexchange at {n:,} hashes")
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    hexes = codes_to_hex(codes)
    near, rand = make_queries(codes, nq, rng)
    queries = np.concatenate([near, rand])
    qhex = codes_to_hex(queries)
    truth = faiss_truth(codes, queries)
    rows: list[tuple[str, float, float, float, float, float, float]] = []
    import faiss

    # One OpenMP thread for python-threatexchange's faiss indexes: a single query gains nothing from more,
    # and on a loaded machine spinning OpenMP threads make faiss several times slower (measured).
    faiss.omp_set_num_threads(1)

    t0 = time.perf_counter()
    ours = PDQIndex.build(codes, np.arange(n))
    b = time.perf_counter() - t0
    ms, found = ours_sets(ours, queries)
    t0 = time.perf_counter()
    ours.add(codes[:1] ^ 255, [n])
    ok = n in ours.search_arrays(codes[0] ^ 255, THRESHOLD)[0].tolist()
    add = (time.perf_counter() - t0) * 1e3
    assert ok
    cqps = 1000 / float(ms.cpu.mean())  # type: ignore[attr-defined]
    r0 = recall(found, truth)[0]
    rows.append(("jikimi PDQIndex", b, float(np.median(ms)), 1000 / ms.mean(), cqps, r0, add))
    del ours
    gc.collect()

    for label, cls in (
        ("pytx PDQIndex (faiss MultiHash)", PytxPDQIndex),
        ("pytx PDQFlatIndex", PDQFlatIndex),
    ):
        t0 = time.perf_counter()
        px = cls(zip(hexes, range(n), strict=True))
        b = time.perf_counter() - t0
        inner = px.index
        ms, res = timed(lambda q, inner=inner: inner.search_with_distance_in_result([q], THRESHOLD), qhex)  # type: ignore[misc]
        found = [{(int(i), int(d)) for i, _h, d in r[h]} for r, h in zip(res, qhex, strict=True)]
        t0 = time.perf_counter()
        px.add(hexes[0][::-1], n)  # through the library's API, then the next query
        inner.search_with_distance_in_result([hexes[0][::-1]], THRESHOLD)
        add = (time.perf_counter() - t0) * 1e3
        cqps = 1000 / float(ms.cpu.mean())  # type: ignore[attr-defined]
        rows.append((label, b, float(np.median(ms)), 1000 / ms.mean(), cqps, recall(found, truth)[0], add))
        del px, inner
        gc.collect()

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    print("| index | build s | p50 ms | queries/s | queries/CPU-s | recall % | add + next query ms |")
    print("|---|---|---|---|---|---|---|")
    for name, b, p50, qps, cqps, r, add in rows:
        print(f"| {name} | {b:.1f} | {p50:.3f} | {qps:,.0f} | {cqps:,.0f} | {r:.2f} | {add:.2f} |")
    ours_row = rows[0]
    for name, _b, p50, qps, cqps, _r, add in rows[1:]:
        print(
            f"ratio vs {name}: p50 {p50 / ours_row[2]:.1f}x lower, "
            f"throughput {ours_row[3] / qps:.1f}x higher ({ours_row[4] / cqps:.1f}x per CPU-second), "
            f"add-to-found {add / ours_row[6]:.0f}x faster"
        )


def bench_store(n: int, rng: np.random.Generator, workdir: Path) -> None:
    from sqlalchemy import insert

    from jikimi.store import open_store
    from jikimi.store.banks import BankMatcher, EntryInput, create_bank
    from jikimi.store.schema.banks import BankEntry, BankSignal

    section(f"BankMatcher on the store (SQLite), {n:,} entries")
    store = open_store(f"sqlite:///{workdir / 'bench.db'}")
    with store.session() as s:
        bank_id = create_bank(s, "bench").id
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    hexes = codes_to_hex(codes)
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        for i in range(0, n, 50_000):
            rows = range(i, min(n, i + 50_000))
            conn.execute(
                insert(BankEntry), [{"id": j + 1, "bank_id": bank_id, "signature": f"{j:064x}"} for j in rows]
            )
            conn.execute(
                insert(BankSignal),
                [
                    {"entry_id": j + 1, "signal": "pdq", "value": hexes[j], "quality": 100, "meta": {}}
                    for j in rows
                ],
            )
    print(f"bulk insert: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    m = BankMatcher.load(store, auto_refresh=None)
    print(f"cold start from the store: {time.perf_counter() - t0:.1f} s")
    path = m.save(workdir / "store-index")
    t0 = time.perf_counter()
    m2 = BankMatcher.load(store, index_path=path, auto_refresh=None)
    print(f"cold start from the persisted index file: {time.perf_counter() - t0:.2f} s ({m2.loaded_from})")
    near, _ = make_queries(codes, 300, rng)
    ms, _ = timed(lambda q: m2.match_pdq(bytes(q).hex()), near)
    print(f"match_pdq (index + store check + metadata): {lat(ms)}")
    delays = []
    for _ in range(50):
        h = bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()
        t0 = time.perf_counter()
        res = m2.add("bench", EntryInput.from_hashes({"pdq": h}, quality={"pdq": 100}))
        found = [x.entry_id for x in m2.match_pdq(h)]
        delays.append(time.perf_counter() - t0)
        assert res.entry_id in found
    t0 = time.perf_counter()
    m2.disable_entry(res.entry_id)
    gone = res.entry_id not in [x.entry_id for x in m2.match_pdq(h)]
    took = (time.perf_counter() - t0) * 1e3
    print(
        f"add through the API (commit + audit) then match: 50/50 found, "
        f"p50 {np.median(delays) * 1e3:.1f} ms, max {max(delays) * 1e3:.1f} ms"
    )
    print(f"disable through the API then match: gone={gone}, {took:.1f} ms")
    store.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--size", type=int, default=10_000_000)
    ap.add_argument("--pytx-size", type=int, default=1_000_000)
    ap.add_argument("--store-size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000, help="of each kind (near-duplicate, random)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(20261121)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(
        f"load average at start: {load_average()} (the machine is shared: wall-clock figures include waiting)"
    )
    with tempfile.TemporaryDirectory(prefix="jikimi-bench-") as tmp:
        work = Path(tmp)
        res = bench_ours(args.size, args.queries, rng, work)
        bench_real(SHARED, 1_000_000, rng)
        bench_pytx(args.pytx_size, min(args.queries, 500), rng)
        bench_store(args.store_size, rng, work)
    section("targets")
    print(
        f"p50 < 2 ms: {res['p50_near']:.3f} / {res['p50_rand']:.3f} ms; >= 1,000 q/s: "
        f"{res['qps_near']:,.0f} / {res['qps_rand']:,.0f} one by one ({res['cqps_near']:,.0f} / "
        f"{res['cqps_rand']:,.0f} per CPU-second), {res['bqps_near']:,.0f} / {res['bqps_rand']:,.0f} batched "
        f"({res['bcqps_near']:,.0f} / {res['bcqps_rand']:,.0f} per CPU-second); recall 100%: "
        f"{res['recall_near']:.2f} / "
        f"{res['recall_rand']:.2f}; memory < 1.5 GB: {res['mem_mb']:,.0f} MB; cold start < 60 s: "
        f"{res['cold_s']:.2f} s; add found by next query < 1 s: {res['add_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
