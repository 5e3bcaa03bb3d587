"""Where analysis runs: in this process, in a local process pool (default, all cores), or on Ray.

Every executor has ``map_unordered(tasks, window=None) -> Iterator[Analysis]`` and ``close()`` and gives the
same results; only speed and placement differ. Each worker loads the signals once (``Analyser``). A worker
that crashes (a native decoder or model dying on hostile input) fails only the item it was working on: the
pool is restarted and the other in-flight items are retried one by one to find the culprit."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Literal

from jikimi.errors import ConfigError, Message
from jikimi.scan.pipeline import Analyser, Analysis, Task

ExecutorName = Literal["inline", "local", "ray"]
CRASH_REASON = "the analysis process crashed on this item (damaged or hostile file?)"


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class InlineExecutor:
    """Analyse in the calling process, one item at a time (debugging, tests, tiny jobs)."""

    name = "inline"
    reads_paths = True

    def __init__(self, signal_names: Sequence[str] | None = None) -> None:
        self.workers = 1
        self._analyser = Analyser(signal_names)

    def map_unordered(self, tasks: Iterable[Task], window: int | None = None) -> Iterator[Analysis]:
        for t in tasks:
            yield self._analyser.analyse(t)

    def warm_up(self) -> list[str]:
        """Nothing to start: the signals loaded in ``__init__``."""
        return [self._analyser.worker]

    def close(self) -> None:
        pass

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WORKER: Analyser | None = None


def _one_thread_each() -> None:
    """One worker per core: keep each worker's native libraries to one thread (no oversubscription)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a pinned dependency
        pass


def _init_worker(signal_names: Sequence[str] | None) -> None:
    global _WORKER
    _one_thread_each()
    _WORKER = Analyser(signal_names)


def _ready() -> str:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.worker


def _run(task: Task) -> Analysis:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.analyse(task)


class LocalExecutor:
    """A pool of ``workers`` processes on this machine (started with forkserver, so the parent's threads,
    database connections and indexes are never copied into them)."""

    name = "local"
    reads_paths = True

    def __init__(self, workers: int | None = None, signal_names: Sequence[str] | None = None) -> None:
        self.workers = workers or default_workers()
        self.signal_names = list(signal_names) if signal_names is not None else None
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context(method),
            initializer=_init_worker,
            initargs=(self.signal_names,),
        )

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = self._new_pool()
        return self._pool

    def warm_up(self) -> list[str]:
        """Start every worker and wait until each has loaded its signals (so timing excludes start-up);
        returns the workers' ``host:pid``."""
        pool = self.pool
        seen: set[str] = set()
        for _ in range(20):
            futures = [pool.submit(_ready) for _ in range(self.workers * 2)]
            seen |= {f.result() for f in futures}
            if len(seen) >= self.workers:
                break
        return sorted(seen)

    def _submit(self, t: Task) -> Future[Analysis]:
        try:
            return self.pool.submit(_run, t)
        except BrokenProcessPool:  # a worker died since the last wait: its tasks fail and are retried below
            self._restart()
            return self.pool.submit(_run, t)

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def map_unordered(self, tasks: Iterable[Task], window: int | None = None) -> Iterator[Analysis]:
        limit = window or self.workers * 4
        source = iter(tasks)
        suspects: deque[Task] = deque()  # tasks in flight when a worker died: retried one at a time
        running: dict[Future[Analysis], Task] = {}
        exhausted = False
        while True:
            isolating = bool(suspects)
            while not running and suspects:
                t = suspects.popleft()
                running[self._submit(t)] = t
            while not isolating and not exhausted and len(running) < limit:
                try:
                    t = next(source)
                except StopIteration:
                    exhausted = True
                    break
                running[self._submit(t)] = t
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            crashed = False
            for fut in done:
                t = running.pop(fut)
                try:
                    result = fut.result()
                except (BrokenProcessPool, CancelledError):
                    crashed = True
                    if isolating:  # it crashed alone: this item is the culprit
                        yield Analysis.failure(t.index, t.key, Message(CRASH_REASON))
                    else:
                        suspects.append(t)
                    continue
                yield result
            if crashed:
                suspects.extend(running.values())
                running.clear()
                self._restart()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RayAnalyser:
    """The Ray actor: one per worker, holding the loaded signals."""

    def __init__(self, signal_names: Sequence[str] | None) -> None:
        _one_thread_each()
        self.analyser = Analyser(signal_names)

    def analyse(self, task: Task) -> Analysis:
        return self.analyser.analyse(task)

    def ready(self) -> tuple[str, str]:
        """``host:pid`` of the worker and the id of the Ray node it runs on."""
        import ray

        return self.analyser.worker, ray.get_runtime_context().get_node_id()


@dataclass(eq=False)
class _Slot:
    """One actor: starting (``ready`` is the pending answer of its ``ready()`` call) or working."""

    actor: Any
    ready: Any | None
    worker: str = ""
    node: str = ""
    running: int = 0
    alone: bool = False  # running one suspect item, nothing else
    verdict: Literal["", "node", "worker"] = ""  # why it failed: its node was lost, or its worker died


@dataclass(eq=False)
class _Job:
    task: Task
    suspect: bool = False  # in flight when its worker died: run alone to find the culprit
    node_losses: int = 0


class RayExecutor:
    """``workers`` Ray actors. Without ``address`` a local Ray is started (and shut down by ``close``); with
    ``address`` the job joins that cluster (``jikimi.scan.raycluster`` checks the address, token and TLS
    first), ``workers`` defaults to the cluster's CPUs and items travel as bytes (workers may be on other
    machines: they need neither the scanned folder nor the database).

    Failures: a worker process that dies while its node lives is a worker crash, handled as the local pool
    does (its items are retried alone; one that kills its worker alone fails with ``CRASH_REASON``). A lost
    node (its raylet gone: Ray reports ``ActorUnavailableError``, ``ActorDiedError``, ``NodeDiedError``,
    ``ObjectLostError``...) blames no item: its items run again elsewhere and the actor is replaced (it
    starts when the cluster has a free CPU). Whether the node lives is asked of the GCS and of the node's
    raylet itself (the GCS notices a dead node only after its health checks time out). An item whose node
    is lost ``MAX_NODE_LOSSES`` times, or no worker for ``stall_seconds``, stops the scan with an error; the
    same command resumes it."""

    name = "ray"
    MAX_NODE_LOSSES = 3

    def __init__(
        self,
        workers: int | None = None,
        signal_names: Sequence[str] | None = None,
        address: str | None = None,
        *,
        stall_seconds: float = 300.0,
    ) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is a pinned dependency
            raise ConfigError(
                "Ray is not installed",
                code="scan.ray_unavailable",
                hint="install Ray, or scan with the local executor",
                cli_hint="pip install ray, or use --executor local",
            ) from exc
        self._ray = ray
        address = address or os.environ.get("RAY_ADDRESS") or None
        self.signal_names = list(signal_names) if signal_names is not None else None
        self.reads_paths = address is None
        self.stall_seconds = stall_seconds
        #: Items analysed per Ray node id (which nodes did the work).
        self.done_by_node: Counter[str] = Counter()
        #: Items run again because their node was lost, and workers replaced.
        self.node_losses = 0
        self.worker_crashes = 0
        self._owns_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": "ERROR",
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address:
                from jikimi.scan.raycluster import check_cluster

                kwargs["address"], auth = check_cluster(address)
            else:
                kwargs["num_cpus"] = workers or default_workers()
            try:
                ray.init(**kwargs)
            except Exception as exc:  # Ray raises many kinds; all mean "no cluster here"
                if address:
                    raise ConfigError(
                        "cannot start or reach Ray at {address}: {detail} (joined {auth})",
                        code="scan.ray_unavailable",
                        hint="check the Ray cluster address, or scan with the local executor",
                        cli_hint="check --ray-address (ray start --head prints it), or use --executor local",
                        address=address,
                        detail=str(exc),
                        auth=auth.describe_message(),
                    ) from exc
                raise ConfigError(
                    "cannot start or reach Ray: {detail}",
                    code="scan.ray_unavailable",
                    hint="check the Ray cluster address, or scan with the local executor",
                    cli_hint="check --ray-address (ray start --head prints it), or use --executor local",
                    detail=str(exc),
                ) from exc
            self._owns_ray = True
        if workers:
            self.workers = workers
        elif address:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        else:
            self.workers = default_workers()
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_RayAnalyser)
        self._slots = [self._new_slot() for _ in range(self.workers)]
        self._failed_starts = 0

    def _new_slot(self) -> _Slot:
        actor: Any = self._actor_cls.remote(self.signal_names)
        return _Slot(actor, actor.ready.remote())

    def warm_up(self) -> list[str]:
        """Wait until every actor has loaded its signals; returns their ``host:pid``."""
        deadline = time.monotonic() + self.stall_seconds
        while any(s.ready is not None for s in self._slots):
            starting = {s.ready: s for s in self._slots if s.ready is not None}
            left = deadline - time.monotonic()
            done, _ = self._ray.wait(list(starting), num_returns=len(starting), timeout=max(0.0, left))
            for ref in done:
                self._started(starting[ref])
            if not done and left <= 0:
                started = sum(1 for s in self._slots if s.ready is None)
                raise ConfigError(
                    "only {started} of {workers} Ray workers started in {seconds} s",
                    code="scan.ray_workers",
                    hint="the cluster has fewer free CPUs than the workers asked for: add nodes or ask for "
                    "fewer workers",
                    cli_hint="the cluster has fewer free CPUs than --workers: add nodes or ask for fewer "
                    "workers",
                    started=started,
                    workers=self.workers,
                    seconds=f"{self.stall_seconds:.0f}",
                )
        return sorted(s.worker for s in self._slots)

    def placement(self) -> list[tuple[str, str]]:
        """``(host:pid, Ray node id)`` of each started worker."""
        return [(s.worker, s.node) for s in self._slots if s.ready is None]

    def _started(self, slot: _Slot) -> None:
        """``slot``'s ready() answered: it works, or it could not start (replaced, or the scan stops)."""
        ray = self._ray
        ref, slot.ready = slot.ready, None
        try:
            slot.worker, slot.node = ray.get(ref)
            self._failed_starts = 0
        except ray.exceptions.RayError as exc:
            if isinstance(exc, ray.exceptions.RayActorError) and exc.actor_init_failed:
                # The worker cannot load jikimi or its models: no retry will help.
                raise ConfigError(
                    "a Ray worker could not load the analysers: {detail}",
                    code="scan.ray_workers",
                    hint="install the same Jikimi version (and its models) on every Ray node",
                    cli_hint="install the same jikimi version (and its models) on every Ray node",
                    detail=str(exc).strip().splitlines()[-1][:300],
                ) from exc
            self._replace(slot)
            self._failed_starts += 1
            if self._failed_starts > 10 * self.workers:
                raise ConfigError(
                    "Ray workers keep dying as they start: {detail}",
                    code="scan.ray_workers",
                    hint="check the worker nodes and their logs; the scan resumes when run again",
                    cli_hint="check the worker nodes (`ray status`, their logs); the scan resumes when run "
                    "again",
                    detail=str(exc).strip().splitlines()[0][:300],
                ) from exc

    def _replace(self, slot: _Slot) -> None:
        with contextlib.suppress(Exception):  # already gone
            self._ray.kill(slot.actor, no_restart=True)
        if slot in self._slots:
            self._slots[self._slots.index(slot)] = self._new_slot()

    def _node_alive(self, node: str) -> bool:
        """Whether the GCS lists ``node`` as alive and its raylet still accepts connections."""
        try:
            nodes = self._ray.nodes()
        except Exception:  # the GCS itself is unreachable: nothing there can be trusted
            return False
        for n in nodes:
            if n.get("NodeID") == node:
                if not n.get("Alive"):
                    return False
                try:
                    with socket.create_connection((n["NodeManagerAddress"], n["NodeManagerPort"]), timeout=3):
                        return True
                except OSError:
                    return False
        return False

    def _failed(self, slot: _Slot, job: _Job, exc: Exception) -> Analysis | None:
        """A system failure of ``job`` on ``slot``: queue it again, or (it killed its worker alone, its node
        alive) its final failed ``Analysis``."""
        if not slot.verdict:
            slot.verdict = "worker" if self._node_alive(slot.node) else "node"
            self._replace(slot)
            if slot.verdict == "node":
                self.node_losses += 1
            else:
                self.worker_crashes += 1
        if slot.verdict == "node":
            job.node_losses += 1
            if job.node_losses >= self.MAX_NODE_LOSSES:
                raise ConfigError(
                    "Ray lost the node analysing {name} {n} times ({kind})",
                    code="scan.ray_unstable",
                    hint="the cluster is unstable: check the worker nodes; start the same scan again and it "
                    "resumes where it stopped",
                    cli_hint="the cluster is unstable: check the worker nodes (`ray status`); run the same "
                    "command again and the scan resumes where it stopped",
                    name=job.task.name,
                    n=job.node_losses,
                    kind=type(exc).__name__,
                ) from exc
            return None
        if slot.alone:
            t = job.task
            return Analysis.failure(t.index, t.key, Message(CRASH_REASON))
        job.suspect = True
        return None

    def map_unordered(self, tasks: Iterable[Task], window: int | None = None) -> Iterator[Analysis]:
        ray = self._ray
        system_errors = (
            ray.exceptions.RayActorError,
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.LocalRayletDiedError,
            ray.exceptions.RaySystemError,
        )
        per_actor = max(1, (window or self.workers * 2) // self.workers)
        source = iter(tasks)
        again: deque[_Job] = deque()  # their node was lost: run them again as usual
        suspects: deque[_Job] = deque()  # their worker died: run each alone
        refs: dict[Any, tuple[_Slot, _Job]] = {}
        exhausted = False

        def next_job() -> _Job | None:
            nonlocal exhausted
            if again:
                return again.popleft()
            if exhausted:
                return None
            try:
                return _Job(next(source))
            except StopIteration:
                exhausted = True
                return None

        def submit(slot: _Slot, job: _Job) -> None:
            refs[slot.actor.analyse.remote(job.task)] = (slot, job)
            slot.running += 1

        while True:
            working = [s for s in self._slots if s.ready is None and not s.alone]
            for slot in working:
                if suspects and slot.running == 0:
                    slot.alone = True
                    submit(slot, suspects.popleft())
            while True:
                free = [s for s in working if not s.alone and s.running < per_actor]
                if not free:
                    break
                job = next_job()
                if job is None:
                    break
                submit(min(free, key=lambda s: s.running), job)
            if not refs and exhausted and not again and not suspects:
                return
            starting = {s.ready: s for s in self._slots if s.ready is not None}
            waiting = [*refs, *starting]
            ready, _ = ray.wait(waiting, num_returns=1, timeout=None if refs else self.stall_seconds)
            if not ready:
                raise ConfigError(
                    "no Ray worker could start in {seconds} s (the cluster lost its nodes?)",
                    code="scan.ray_unstable",
                    hint="add worker nodes or check the cluster; start the same scan again and it resumes "
                    "where it stopped",
                    cli_hint="add worker nodes (ray start --address=...) or check `ray status`; run the same "
                    "command again and the scan resumes where it stopped",
                    seconds=f"{self.stall_seconds:.0f}",
                )
            for ref in ready:
                if ref in starting:
                    self._started(starting[ref])
                    continue
                slot, job = refs.pop(ref)
                slot.running -= 1
                try:
                    result: Analysis = ray.get(ref)
                except system_errors as exc:
                    final = self._failed(slot, job, exc)
                    if final is not None:
                        yield final
                    elif job.suspect:
                        suspects.append(job)
                    else:
                        again.append(job)
                except ray.exceptions.RayTaskError as exc:  # not a crash: an error the analyser let through
                    t = job.task
                    why = Message(
                        "analysis error: {detail}", {"detail": str(exc).strip().splitlines()[-1][:300]}
                    )
                    yield Analysis.failure(t.index, t.key, why)
                else:
                    self.done_by_node[slot.node] += 1
                    yield result
                if slot.running == 0:
                    slot.alone = False

    def close(self) -> None:
        for s in self._slots:
            with contextlib.suppress(Exception):  # already gone
                self._ray.kill(s.actor, no_restart=True)
        self._slots = []
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    name: str = "local",
    workers: int | None = None,
    *,
    signal_names: Sequence[str] | None = None,
    ray_address: str | None = None,
) -> InlineExecutor | LocalExecutor | RayExecutor:
    """``"local"`` (process pool, default), ``"ray"`` or ``"inline"`` (this process)."""
    if name == "local":
        if workers == 0:
            return InlineExecutor(signal_names)
        return LocalExecutor(workers, signal_names)
    if name == "ray":
        return RayExecutor(workers, signal_names, address=ray_address)
    if name == "inline":
        return InlineExecutor(signal_names)
    raise ConfigError(
        "unknown executor {name!r}",
        code="scan.unknown_executor",
        hint="choose the local or the ray executor",
        cli_hint="use --executor local or --executor ray",
        name=name,
    )
