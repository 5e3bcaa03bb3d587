"""kill -9 in the middle of ``jikimi scan``, then run it again: everything completes, nothing is duplicated or
lost. As the issue asks, 2,000 files (tiny generated images, so the test stays quick): the scan commits
every 20 items, the test kills the process once a few hundred are stored (checking it was still running,
with most items left), and the second run must resume the same run and end with exactly one media,
sighting, checkpoint and finding each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image

from jikimi.store import audit, banks, open_store
from jikimi.store.schema.evidence import VaultObject
from jikimi.store.schema.scans import Case, Finding, MediaRecord, ScanItem, ScanRun, SightingRecord

N = 2000
IN_BANK = 25


def _images(root: Path) -> None:
    root.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i in range(N):
        arr = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        arr[: 4 + i % 30, :, i % 3] = 0
        Image.fromarray(arr).save(root / f"f{i:04d}.png", compress_level=1)


def _count(engine: sa.Engine, table: type) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def test_kill_9_then_rerun_completes_without_duplicates(
    db_url: str, tmp_path: Path, jikimi_home: Path
) -> None:
    root = tmp_path / "collected"
    _images(root)
    store = open_store(db_url)
    with store.session() as s:
        banks.create_bank(s, "known")
        for i in range(IN_BANK):
            banks.add_entry(s, "known", banks.entry_from_file(root / f"f{i * (N // IN_BANK):04d}.png"))
    env = {**os.environ, "JIKIMI_HOME": str(jikimi_home), "JIKIMI_DATABASE_URL": db_url}
    cmd = [
        str(Path(sys.executable).with_name("jikimi")),
        "scan",
        str(root),
        "--signals",
        "md5,sha256,pdq",
        "--workers",
        "1",
        "--batch-size",
        "20",
        "--quiet",
        "--no-faces",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    done_at_kill = 0
    while time.monotonic() < deadline:
        done_at_kill = _count(store.engine, ScanItem)
        if done_at_kill >= 300 or proc.poll() is not None:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the scan ended before it could be killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 0 < done_at_kill < N // 2, done_at_kill
    with store.session() as s:
        run = s.execute(sa.select(ScanRun)).scalar_one()
        assert run.status == "running"

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr + second.stdout
    assert "(resumed)" in second.stdout
    with store.session() as s:
        run = s.execute(sa.select(ScanRun)).scalar_one()
        assert run.status == "completed" and run.attempts == 2
        assert audit.verify(s).ok
    assert _count(store.engine, ScanItem) == N
    assert _count(store.engine, MediaRecord) == N
    assert _count(store.engine, SightingRecord) == N
    assert _count(store.engine, Finding) == IN_BANK
    assert _count(store.engine, VaultObject) == IN_BANK
    assert _count(store.engine, Case) == 1
    store.dispose()
