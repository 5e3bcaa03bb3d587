"""A Ray cluster on this machine, started the way an operator starts one (``ray start``): a head and more
nodes, each its own ``ray start --block`` process in its own session, ``cpus`` CPUs each, token
authentication on with a fresh token, a private temp dir and free ports (so it collides with nothing).
For trying the cluster path out, benchmarks and tests; ``stop`` ends every process it started, by PID.

Ray turns the loopback address given to ``--node-ip-address`` into the machine's address and listens on
all interfaces; the token is what keeps others out."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jikimi.errors import ConfigError


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` (a ``ray start`` process started in a new session, and its node's)."""
    pids = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.getsid(int(p)) == sid:
                pids.append(int(p))
        except OSError:  # gone meanwhile
            continue
    return pids


class LocalCluster:
    """``nodes`` Ray nodes on this machine (node 0 is the head). ``env`` is what a process joining it needs
    (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN_PATH``); ``address`` is the head's ``127.0.0.1:PORT``."""

    def __init__(self, nodes: int = 2, cpus: int = 1) -> None:
        import jikimi

        self.nodes, self.cpus = nodes, cpus
        self.dir = Path(tempfile.mkdtemp(prefix="jkr-", dir="/tmp"))  # short: Ray's socket paths must fit
        self.token = self.dir / "token"
        self.token.write_text(secrets.token_hex(32))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        src = str(Path(jikimi.__file__).resolve().parents[1])
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token),
            "RAY_USAGE_STATS_ENABLED": "0",
            # The nodes' workers import this jikimi.
            "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
        }
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        ray = Path(sys.executable).with_name("ray")
        self._ray = str(ray) if ray.exists() else (shutil.which("ray") or "ray")

    def _node_dir(self, i: int) -> Path:
        return self.dir if i == 0 else self.dir / f"n{i}"

    def start_node(self, i: int, timeout: float = 120.0) -> None:
        """Start node ``i`` (0: the head) and wait until ``ray start`` says it runs."""
        args = [
            self._ray,
            "start",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus}",
            "--disable-usage-stats",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--temp-dir={self._node_dir(i)}",
            "--block",
        ]
        if i == 0:
            args += [
                "--head",
                f"--port={self.port}",
                "--include-dashboard=false",
                f"--ray-client-server-port={free_port()}",
            ]
        else:
            args.append(f"--address={self.address}")
        log_path = self.dir / f"node{i}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[i] = proc
        deadline = time.monotonic() + timeout
        while b"Ray runtime started" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ConfigError(
                    "ray start (node {node}) did not start:\n{log}",
                    code="scan.ray_unavailable",
                    node=i,
                    log=log_path.read_text(errors="replace")[-2000:],
                )
            time.sleep(0.2)

    def start(self) -> LocalCluster:
        try:
            for i in range(self.nodes):
                self.start_node(i)
        except BaseException:
            self.stop()
            raise
        return self

    def raylet_pid(self, i: int) -> int:
        """PID of node ``i``'s raylet (its command line names the node's own temp dir), 0 when none runs."""
        mark = f"{self._node_dir(i)}/session_"
        for p in os.listdir("/proc"):
            if p.isdigit() and "raylet/raylet " in (c := _cmdline(int(p))) and mark in c:
                return int(p)
        return 0

    def node_running(self, i: int) -> bool:
        proc = self.procs.get(i)
        return proc is not None and proc.poll() is None and self.raylet_pid(i) > 0

    def stop(self) -> None:
        """Stop every node this started (the others first), by PID, and delete its temp dir."""
        for i in sorted(self.procs, reverse=True):
            proc = self.procs.pop(i)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # ray start --block stops its node's processes
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(8)
            for pid in _session(proc.pid):  # whatever of that node still runs
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
