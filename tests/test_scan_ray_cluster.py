"""A real Ray cluster on loopback: a head and a second node started with ``ray start`` (separate processes,
token authentication on, 1 CPU each). Joining without the token or with a wrong one fails at once and says
what to set; a scan spreads over both nodes; the driver killed with SIGKILL resumes; the second node's raylet
killed with SIGKILL mid-scan loses no item and blames no file. Every process started here is stopped by
PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from jikimi.cases.runner import run_scan
from jikimi.errors import ConfigError
from jikimi.scan.executors import RayExecutor
from jikimi.scan.localcluster import LocalCluster
from jikimi.scan.raycluster import check_cluster
from jikimi.store import audit, banks, open_store
from jikimi.store.schema.evidence import VaultObject
from jikimi.store.schema.scans import Finding, MediaRecord, ScanItem, ScanRun, SightingRecord

pytestmark = pytest.mark.slow

SIGNALS = ["md5", "sha256", "pdq"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(nodes=2, cpus=1) as c:
        yield c


@pytest.fixture
def token_env(cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process joins as an operator would: Ray's own variables, nothing else."""
    for k in [k for k in os.environ if k.startswith("RAY_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(cluster.token))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    return {k: v for k, v in os.environ.items()}


def _images(root: Path, n: int, side: int = 40) -> list[Path]:
    root.mkdir(parents=True)
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        arr = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
        arr[: 4 + i % 30, :, i % 3] = 0
        Image.fromarray(arr).save(out_path := root / f"f{i:04d}.png", compress_level=1)
        out.append(out_path)
    return out


def _count(engine: sa.Engine, table: type) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def test_joining_says_what_is_missing(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for k in [k for k in os.environ if k.startswith("RAY_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token
    with pytest.raises(ConfigError) as no_token:
        check_cluster(cluster.address)
    assert "requires token authentication" in no_token.value.reason
    assert "RAY_AUTH_MODE=token" in (no_token.value.cli_hint or "")
    assert "ray get-auth-token" in (no_token.value.cli_hint or "")

    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-cluster-token")
    with pytest.raises(ConfigError) as wrong:
        check_cluster(cluster.address)
    assert "rejected the token from RAY_AUTH_TOKEN" in wrong.value.reason

    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.delenv("RAY_AUTH_MODE")
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text(cluster.token.read_text())
    # The default token file is enough (token mode turns on by itself), with the address as printed.
    assert check_cluster(f"'{cluster.address}'")[1].token_source == str(tmp_path / ".ray" / "auth_token")


def test_the_cli_without_the_token_says_what_to_set(cluster: LocalCluster, tmp_path: Path) -> None:
    root = tmp_path / "in"
    _images(root, 2)
    env = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)
    env["JIKIMI_HOME"] = str(tmp_path / "home")
    cmd = [str(Path(sys.executable).with_name("jikimi")), "scan", str(root), "--executor", "ray"]
    out = subprocess.run([*cmd, "--ray-address", cluster.address], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "requires token authentication" in out.stderr + out.stdout
    assert "RAY_AUTH_MODE=token" in out.stderr + out.stdout


N_RESUME = 400
IN_BANK = 10


def _bank(store: Any, files: list[Path]) -> None:
    with store.session() as s:
        banks.create_bank(s, "known")
        for i in range(IN_BANK):
            banks.add_entry(s, "known", banks.entry_from_file(files[i * (len(files) // IN_BANK)]))


def test_driver_killed_then_rerun_resumes_on_the_cluster(
    cluster: LocalCluster, postgres_url: str, tmp_path: Path, jikimi_home: Path
) -> None:
    if not cluster.node_running(1):
        cluster.start_node(1)
    root = tmp_path / "collected"
    files = _images(root, N_RESUME)
    store = open_store(postgres_url)
    _bank(store, files)
    env = {**cluster.env, "JIKIMI_HOME": str(jikimi_home), "JIKIMI_DATABASE_URL": postgres_url}
    cmd = [str(Path(sys.executable).with_name("jikimi")), "scan", str(root), "--executor", "ray"]
    cmd += ["--ray-address", cluster.address, "--signals", ",".join(SIGNALS), "--batch-size", "20"]
    cmd += ["--quiet", "--no-faces"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done_at_kill = 0
    while time.monotonic() < deadline:
        done_at_kill = _count(store.engine, ScanItem)
        if done_at_kill >= 40 or proc.poll() is not None:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the scan ended before it could be killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < done_at_kill < N_RESUME // 2, done_at_kill

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr + second.stdout
    assert "(resumed)" in second.stdout
    with store.session() as s:
        run = s.execute(sa.select(ScanRun)).scalar_one()
        assert run.status == "completed" and run.attempts == 2
        assert audit.verify(s).ok
    for table in (ScanItem, MediaRecord, SightingRecord):
        assert _count(store.engine, table) == N_RESUME, table
    assert _count(store.engine, Finding) == IN_BANK
    assert _count(store.engine, VaultObject) == IN_BANK
    store.dispose()


N_LOSS = 200


def test_a_worker_and_a_node_killed_mid_scan_lose_no_item_and_blame_no_file(
    cluster: LocalCluster, token_env: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    if not cluster.node_running(1):
        cluster.start_node(1)
    root = tmp_path / "collected"
    files = _images(root, N_LOSS, side=256)
    store = open_store(postgres_url)
    _bank(store, files)
    raylet = cluster.raylet_pid(1)
    assert raylet
    killed_at: list[int] = []

    def kill_worker_then_node(stream: Iterable[Any], total: int | None) -> Iterator[Any]:
        for n, pair in enumerate(stream):
            if n == 20:  # the head's worker process dies (its node lives): its items are retried alone
                os.kill(head_worker, signal.SIGKILL)
                killed_at.append(n)
            if n == 60:  # the second node's raylet dies, with items in flight there
                os.kill(raylet, signal.SIGKILL)
                killed_at.append(n)
            yield pair

    with RayExecutor(signal_names=SIGNALS, address=cluster.address) as ex:
        assert ex.workers == 2  # the cluster's CPUs
        ex.warm_up()
        ray = ex._ray
        nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        head = ray.get_runtime_context().get_node_id()  # this process is a driver on the head node
        placed = dict(ex.placement())
        assert set(placed.values()) == nodes and len(nodes) == 2  # one worker on each node
        head_worker = next(int(w.rsplit(":", 1)[1]) for w, node in placed.items() if node == head)
        report = run_scan(
            store, [root], executor=ex, signals=SIGNALS, gallery=None, progress=kill_worker_then_node
        )
        assert len(ex.done_by_node) == 2 and set(ex.done_by_node) <= nodes  # both nodes did work
        assert all(v > 0 for v in ex.done_by_node.values())
        assert sum(ex.done_by_node.values()) == N_LOSS  # each item analysed once in the results
        # One worker crash (node alive) and one lost node, told apart; neither blamed on a file.
        assert ex.worker_crashes == 1 and ex.node_losses == 1, (ex.worker_crashes, ex.node_losses)
    assert killed_at == [20, 60]
    assert report.items == N_LOSS and report.media_items == N_LOSS
    assert report.errors == []  # nothing blamed on a file
    with store.session() as s:
        run = s.execute(sa.select(ScanRun)).scalar_one()
        assert run.status == "completed" and run.attempts == 1
        assert audit.verify(s).ok
        assert s.execute(sa.select(sa.func.count()).where(ScanItem.status != "done")).scalar() == 0
    for table in (ScanItem, MediaRecord, SightingRecord):
        assert _count(store.engine, table) == N_LOSS, table
    assert _count(store.engine, Finding) == IN_BANK
    store.dispose()
