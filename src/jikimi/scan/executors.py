"""Where analysis runs: in this process, in a local process pool (default, all cores), or on Ray.

Every executor has ``map_unordered(tasks, window=None) -> Iterator[Analysis]`` and ``close()`` and gives the
same results; only speed and placement differ. Each worker loads the signals once (``Analyser``). A worker
that crashes (a native decoder or model dying on hostile input) fails only the item it was working on: the
pool is restarted and the other in-flight items are retried one by one to find the culprit."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from jikimi.errors import ConfigError
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
                        yield Analysis(index=t.index, key=t.key, status="failed", reason=CRASH_REASON)
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

    def ready(self) -> str:
        return self.analyser.worker


class RayExecutor:
    """``workers`` Ray actors. Without ``address`` a local Ray is started (and shut down by ``close``); with
    ``address`` the job joins that cluster and items travel as bytes (workers may be on other machines)."""

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        signal_names: Sequence[str] | None = None,
        address: str | None = None,
    ) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is a pinned dependency
            raise ConfigError("Ray is not installed", "pip install ray, or use --executor local") from exc
        self._ray = ray
        self.workers = workers or default_workers()
        self.signal_names = list(signal_names) if signal_names is not None else None
        self.reads_paths = address is None
        self._owns_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": "ERROR",
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = self.workers
            try:
                ray.init(**kwargs)
            except Exception as exc:  # Ray raises many kinds; all mean "no cluster here"
                raise ConfigError(
                    f"cannot start or reach Ray{f' at {address}' if address else ''}: {exc}",
                    "check --ray-address (ray start --head prints it), or use --executor local",
                ) from exc
            self._owns_ray = True
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(_RayAnalyser)
        self._actors = [self._new_actor() for _ in range(self.workers)]

    def warm_up(self) -> list[str]:
        """Wait until every actor has loaded its signals; returns their ``host:pid``."""
        return sorted(self._ray.get([a.ready.remote() for a in self._actors]))

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self.signal_names)

    def map_unordered(self, tasks: Iterable[Task], window: int | None = None) -> Iterator[Analysis]:
        ray = self._ray
        per_actor = max(1, (window or self.workers * 2) // self.workers)
        load = [0] * len(self._actors)
        refs: dict[Any, tuple[int, Task]] = {}
        source = iter(tasks)
        exhausted = False
        while True:
            while not exhausted:
                slot = min(range(len(load)), key=load.__getitem__)
                if load[slot] >= per_actor:
                    break
                try:
                    t = next(source)
                except StopIteration:
                    exhausted = True
                    break
                refs[self._actors[slot].analyse.remote(t)] = (slot, t)
                load[slot] += 1
            if not refs:
                return
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                slot, t = refs.pop(ref)
                load[slot] -= 1
                try:
                    yield ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                    yield Analysis(index=t.index, key=t.key, status="failed", reason=CRASH_REASON)

    def close(self) -> None:
        for a in self._actors:
            with contextlib.suppress(Exception):  # already gone
                self._ray.kill(a)
        self._actors = []
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
    raise ConfigError(f"unknown executor {name!r}", "use --executor local or --executor ray")
