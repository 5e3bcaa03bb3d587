"""The takedown job and its schedule: draft newly confirmed findings, read platforms' replies (when a mailbox
is configured), re-check due URLs, raise re-upload alerts.

``run_job(store)`` does one pass (what ``jikimi takedown recheck`` runs from cron). ``RecheckScheduler`` runs
it every ``interval`` in a background thread of ``jikimi serve``. Several servers over one database share a
lease row (``takedown_cursors``), claimed with one conditional UPDATE, so a pass runs once per interval
however many processes are up; a pass that fails is logged and the next interval tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from jikimi.store.db import Store
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.takedown import TakedownCursor
from jikimi.takedown.recheck import CheckOutcome, Fetcher, recheck_due
from jikimi.takedown.replies import ReplyOutcome

log = logging.getLogger(__name__)
LEASE = "recheck.lease"


@dataclass
class JobResult:
    """What one pass did: notices drafted, URLs checked, re-upload alerts raised, and notes to show."""

    drafted: list[tuple[int, str, str]] = field(default_factory=list)  # (notice id, case, platform)
    checks: list[CheckOutcome] = field(default_factory=list)
    alerts: list[tuple[int, str, str | None, str]] = field(default_factory=list)  # (id, case, url, how)
    replies: list[ReplyOutcome] = field(default_factory=list)  # platforms' e-mail replies read
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for c in self.checks if c.outcome == "error")


def run_job(
    store: Store,
    *,
    fetch: Fetcher | None = None,
    all_open: bool = False,
    actor: str = "system:recheck",
    on_result: Callable[[CheckOutcome], None] | None = None,
) -> JobResult:
    """One pass of the takedown job, each step in its own transaction (one failing URL never stops it)."""
    from jikimi.takedown.reupload import scan_new_sightings, sync_confirmed

    out = JobResult()
    with store.session() as s:
        drafted, notes = sync_confirmed(s, actor=actor)
        out.drafted = [(int(n.id), str(n.case_id), str(n.platform)) for n in drafted]
        out.notes.extend(notes)
    out.replies = _read_mailbox(store, actor, out.notes)
    out.checks = recheck_due(store, fetch=fetch, all_open=all_open, actor=actor, on_result=on_result)
    with store.session() as s:
        found = scan_new_sightings(s, actor=actor)
        out.alerts = [(int(a.id), str(a.case_id), a.new_url, str(a.matched_by)) for a in found.alerts]
        out.notes.extend(found.notes)
    return out


def _read_mailbox(store: Store, actor: str, notes: list[str]) -> list[ReplyOutcome]:
    """Platforms' replies from the mailbox in ``JIKIMI_IMAP_URL`` (nothing when it is not set); a mailbox
    that cannot be read is a note, not a failure of the pass."""
    from jikimi.errors import JikimiError
    from jikimi.takedown.replies import apply_replies, load_imap, read_imap

    try:
        settings = load_imap()
        if settings is None:
            return []
        with store.session() as s:
            return apply_replies(s, read_imap(s, settings), actor=actor)
    except JikimiError as exc:
        notes.append(f"replies not read: {exc.reason}" + (f" ({exc.hint})" if exc.hint else ""))
        return []


def claim(store: Store, every_seconds: float, *, now: float | None = None) -> bool:
    """Take the lease for a pass if no process took it in the last ``every_seconds`` (atomic on SQLite and
    PostgreSQL: one conditional UPDATE; the row is created on first use)."""
    stamp = int(now if now is not None else time.time())
    with store.session() as s:
        if s.get(TakedownCursor, LEASE) is None:
            try:
                with s.begin_nested():
                    s.add(TakedownCursor(name=LEASE, value=0, updated_at=utcnow()))
            except IntegrityError:
                pass  # another process created it first
        res = s.execute(
            update(TakedownCursor)
            .where(TakedownCursor.name == LEASE, TakedownCursor.value <= stamp - int(every_seconds))
            .values(value=stamp, updated_at=utcnow())
        )
        return bool(getattr(res, "rowcount", 0) == 1)


class RecheckScheduler:
    """Runs ``run_job`` every ``interval_seconds`` in a daemon thread (the first pass at start when the last
    pass of any process is older than the interval). ``stop()`` ends it between passes."""

    def __init__(
        self,
        store: Store,
        interval_seconds: float,
        *,
        fetch: Fetcher | None = None,
        poll_seconds: float | None = None,
        on_pass: Callable[[JobResult], None] | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be > 0")
        self.store = store
        self.interval = float(interval_seconds)
        self.poll = float(poll_seconds if poll_seconds is not None else min(60.0, self.interval))
        self.fetch = fetch
        self.on_pass = on_pass
        self.passes = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="jikimi-recheck", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def tick(self) -> JobResult | None:
        """Run a pass now if this process wins the lease; ``None`` when it is not due."""
        if not claim(self.store, self.interval):
            return None
        result = run_job(self.store, fetch=self.fetch, actor="system:scheduler")
        self.passes += 1
        log.info(
            "takedown pass: %d drafted, %d URL(s) checked (%d errors), %d re-upload alert(s)",
            len(result.drafted),
            len(result.checks),
            result.errors,
            len(result.alerts),
        )
        if self.on_pass is not None:
            self.on_pass(result)
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # a broken pass is logged; the schedule goes on
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("takedown pass failed; retrying at the next interval")
            self._stop.wait(self.poll)


__all__ = ["LEASE", "JobResult", "RecheckScheduler", "claim", "run_job"]
