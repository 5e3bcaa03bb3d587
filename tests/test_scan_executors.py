"""The executors give the same analysis: in-process, the local process pool and Ray (local mode)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from jikimi.scan.executors import InlineExecutor, LocalExecutor, RayExecutor
from jikimi.scan.pipeline import analyse_items
from jikimi.sources import FolderSource

SIGNALS = ["md5", "sha256", "pdq"]


def _folder(root: Path, n: int = 10) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        arr = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        arr[: 8 + 3 * i] //= 3  # some structure, different per image
        Image.fromarray(arr).save(root / f"p{i:02d}.png")
    (root / "truncated.png").write_bytes((root / "p01.png").read_bytes()[:200])
    return root


def _run(executor: object, root: Path) -> dict[str, tuple[str, str | None, object]]:
    out = {}
    for item, a in analyse_items(FolderSource(root), executor, window=4):
        assert a.key == item.key
        out[item.name] = (a.status, a.sha256, a.signals if a.ok else a.reason)
    return out


def test_inline_local_and_ray_agree(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in")
    with InlineExecutor(SIGNALS) as ex:
        inline = _run(ex, root)
    assert len(inline) == 11
    assert inline["truncated.png"][0] == "failed" and inline["truncated.png"][2]
    assert all(v[0] == "ok" for k, v in inline.items() if k != "truncated.png")
    with LocalExecutor(2, SIGNALS) as ex:
        assert _run(ex, root) == inline
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with RayExecutor(2, SIGNALS) as ex:
        assert ex.reads_paths
        assert _run(ex, root) == inline
    import ray

    assert not ray.is_initialized()  # the executor shut down the Ray it started


def test_a_worker_killed_mid_scan_loses_no_item(tmp_path: Path) -> None:
    """SIGKILL one pool worker while items are in flight: the pool restarts and every item still completes."""
    import signal

    root = _folder(tmp_path / "in", n=40)
    with LocalExecutor(1, SIGNALS) as ex:
        (worker,) = ex.warm_up()
        results = {}
        for n, (item, a) in enumerate(analyse_items(FolderSource(root), ex, window=4)):
            if n == 2:
                os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
            assert item.name not in results
            results[item.name] = a
    assert len(results) == 41
    assert all(a.ok for name, a in results.items() if name != "truncated.png")
    assert len({a.worker for a in results.values() if a.ok}) == 2  # the first worker, then its replacement
