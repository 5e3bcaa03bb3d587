"""Face search against 100,000 enrolled faces (50,000 people, one template each): Jikimi's gallery (HNSW over
the templates) vs an exact faiss flat index over the same templates.

Enrols 50,000 synthetic consenting people with 2 faces each into a temporary SQLite store (the benchmark
never uses real faces), builds the gallery the only public way (``jikimi.store.people.gallery``), then times
single-face searches: the gallery's index alone, the full ``FaceGallery.search`` (with and without the
per-search consent re-check in the database) and the faiss ``IndexFlatL2`` baseline on the same vectors.
Synthetic embeddings: person centres ~ N(mu, 0.053^2) per dimension (different people ~0.85 apart, as dlib
embeddings are), faces = centre + N(0, 0.022^2) (same person ~0.35 apart).

    nice -n 10 .venv/bin/python bench/face_search.py [--faces 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def _pct(xs: list[float]) -> str:
    a = np.array(xs) * 1000
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return f"mean {a.mean():.3f} ms, p50 {p50:.3f}, p95 {p95:.3f}, p99 {p99:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()
    n_people = args.faces // 2

    tmp = Path(tempfile.mkdtemp(prefix="jikimi-bench-faces-"))
    os.environ["JIKIMI_HOME"] = str(tmp)
    import faiss
    from sqlalchemy import insert

    from jikimi.index.faces import HNSW_EF_SEARCH
    from jikimi.signals.face import MODEL_NAME
    from jikimi.store import open_store, people
    from jikimi.store.schema.people import Consent, Person, PersonFace

    faiss.omp_set_num_threads(1)  # one query at a time, one core: the interactive case
    rng = np.random.default_rng(42)
    mu = rng.normal(size=128).astype(np.float32) * 0.11
    centres = (mu + rng.normal(size=(n_people, 128)) * 0.053).astype(np.float32)
    faces = np.repeat(centres, 2, axis=0) + (rng.normal(size=(2 * n_people, 128)) * 0.022).astype(np.float32)
    faces = faces.astype(np.float32)

    store = open_store(f"sqlite:///{tmp / 'bench.db'}")
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    with store.session() as s:
        s.execute(
            insert(Person),
            [{"id": i + 1, "name": f"synthetic {i}", "created_by": "bench"} for i in range(n_people)],
        )
        s.execute(
            insert(Consent),
            [
                {"person_id": i + 1, "given_by": "bench", "scope": "bench", "recorded_by": "bench"}
                for i in range(n_people)
            ],
        )
        s.execute(
            insert(PersonFace),
            [
                {
                    "person_id": i // 2 + 1,
                    "embedding": faces[i].tobytes(),
                    "model": MODEL_NAME,
                    "created_at": now,
                }
                for i in range(len(faces))
            ],
        )
    print(f"enrolled {len(faces):,} faces of {n_people:,} people in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    g = people.gallery(store)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = people.gallery(store)
    t_cached = time.perf_counter() - t0
    print(
        f"gallery: {len(g):,} faces, {g.index_kind}; first build {t_build:.1f} s, "
        f"from the cache {t_cached:.2f} s"
    )

    flat = faiss.IndexFlatL2(128)  # exact baseline over the same person templates the gallery searches
    flat.add(g._templates.astype(np.float32))
    nq = args.queries
    who = rng.integers(0, n_people, nq)
    genuine = (centres[who] + rng.normal(size=(nq, 128)) * 0.022).astype(np.float32)
    strangers = (mu + rng.normal(size=(nq, 128)) * 0.053).astype(np.float32)
    probes = np.concatenate([genuine, strangers])

    def timed(fn: object, qs: np.ndarray) -> list[float]:
        out = []
        for q in qs:
            t = time.perf_counter()
            fn(q)  # type: ignore[operator]
            out.append(time.perf_counter() - t)
        return out

    index = g._tpl_index
    for q in probes[:20]:  # warm up
        index.search(q[None], 16)
        flat.search(q[None], 16)
    t_flat = timed(lambda q: flat.search(q[None], 16), probes)
    t_hnsw = timed(lambda q: index.search(q[None], 16), probes)
    t_search = timed(lambda q: g.search(q, verify=False), probes)
    t_verify = timed(lambda q: g.search(q, verify=True), probes)
    print(f"faiss IndexFlatL2 (exact baseline), 1 query:  {_pct(t_flat)}")
    print(f"gallery template index ({type(index).__name__}), 1 query: {_pct(t_hnsw)}")
    print(f"FaceGallery.search (index + scoring):         {_pct(t_search)}")
    print(f"FaceGallery.search + consent re-check in DB:   {_pct(t_verify)}")
    print(
        f"speed-up vs flat (mean, index alone): {np.mean(t_flat) / np.mean(t_hnsw):.1f}x; "
        f"full search {np.mean(t_flat) / np.mean(t_search):.1f}x"
    )

    unit = genuine / np.linalg.norm(genuine, axis=1, keepdims=True)
    d_flat, i_flat = flat.search(unit.astype(np.float32), 1)
    thr = float(
        np.sqrt(np.percentile(d_flat[:, 0], 95))
    )  # synthetic vectors: a distance limit, not the calibration
    exact_found = float(np.mean((g._tpl_pids[i_flat[:, 0]] == who + 1) & (np.sqrt(d_flat[:, 0]) <= thr)))
    false = float(np.mean([bool(h) for h in g.search_many(strangers, k=1, verify=False, threshold=thr)]))
    print(
        f"enrolled probes found by exact search within distance {thr:.3f} of their template: "
        f"{exact_found:.2%}; "
        f"strangers matched by the gallery: {false:.2%}"
    )
    print("| HNSW efSearch | recall of the enrolled person vs exact | mean ms | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    if not hasattr(index, "hnsw"):
        print("(templates below HNSW_MIN_FACES: exact search, no efSearch to vary)")
        store.dispose()
        return
    for ef in (64, 128, 256, 512):
        index.hnsw.efSearch = ef
        hits = g.search_many(genuine, k=1, verify=False, threshold=thr)
        found = float(
            np.mean([bool(h) and h[0].person_id == int(w) + 1 for h, w in zip(hits, who, strict=True)])
        )
        a = np.array(timed(lambda q: g.search(q, verify=False), probes)) * 1000
        mark = " (shipped)" if ef == HNSW_EF_SEARCH else ""
        print(
            f"| {ef}{mark} | {found / exact_found:.2%} | {a.mean():.3f} | {np.percentile(a, 50):.3f} "
            f"| {np.percentile(a, 95):.3f} |"
        )
    store.dispose()


if __name__ == "__main__":
    main()
