"""Running a scan end to end: sources → pipeline (workers) → matching and decisions (parent) → store.

``run_scan(store, ["~/Downloads", "victim.zip", "ChatExport_2026-01-01"])`` is all a caller needs. It
resumes an interrupted run of the same sources (items already checkpointed are skipped) and is idempotent:
media, sightings, findings and cases are get-or-create on unique keys. Results are written in batches, each
batch in one transaction with its checkpoints, so a ``kill -9`` loses at most the uncommitted batch, which
the next run redoes. One bad item fails with its reason and never stops the batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from jikimi.cases.selfhash import bank_case_ids
from jikimi.errors import JikimiError, Message
from jikimi.scan.decide import BankMatcher, Decision, FaceMatcher, SourceMatcher, Thresholds, decide
from jikimi.scan.executors import make_executor
from jikimi.scan.pipeline import Analysis, analyse_items
from jikimi.sources.base import Item, Sighting, Source
from jikimi.store import audit, findings
from jikimi.store.db import Store
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.scans import Case, Finding, ScanRun

AUTO: Literal["auto"] = "auto"


@dataclass
class ScanError:
    """One item (or whole source) that could not be scanned, and why: ``reason`` in English, ``message`` the
    catalogued message it renders (shown in the reader's language; None for text from before it was kept)."""

    location: str
    reason: str
    status: str = "failed"
    message: Message | None = None

    @classmethod
    def of(cls, location: str, why: Message, status: str = "failed") -> ScanError:
        return cls(location, why.render(), status, why)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"location": self.location, "reason": self.reason, "status": self.status}
        if self.message is not None:
            out["message"] = self.message.to_json()
        return out


@dataclass
class ScanReport:
    """What a run did. ``findings`` holds the ids of the findings this run touched."""

    run_id: int
    resumed: bool = False
    items: int = 0
    skipped: int = 0
    media_items: int = 0
    new_media: int = 0
    new_sightings: int = 0
    new_findings: int = 0
    findings: list[int] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    errors: list[ScanError] = field(default_factory=list)
    unresolved: int = 0
    cases: set[int] = field(default_factory=set)
    seconds: float = 0.0
    analyser_seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> int:
        return sum(1 for e in self.errors if e.status == "failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "resumed": self.resumed,
            "items": self.items,
            "skipped_already_done": self.skipped,
            "media_items": self.media_items,
            "new_media": self.new_media,
            "new_sightings": self.new_sightings,
            "findings": len(self.findings),
            "new_findings": self.new_findings,
            "findings_by_reason": dict(self.by_reason),
            "failed": self.failed,
            "unresolved": self.unresolved,
            "errors": [e.to_dict() for e in self.errors],
            "cases": sorted(self.cases),
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.items_per_second, 2),
        }


def source_label(spec: str | Path | Source) -> str:
    if isinstance(spec, Source):
        return f"{spec.kind}:{spec.location}"
    text = str(spec)
    if text.lower().startswith(("http://", "https://")):
        return text
    if text.startswith("@"):
        return "@" + str(Path(text[1:]).expanduser().resolve())
    return str(Path(text).expanduser().resolve())


def fingerprint(labels: Sequence[str]) -> str:
    return hashlib.sha256(audit.canonical_json(list(labels)).encode()).hexdigest()


def _open(spec: str | Path | Source) -> Source:
    if isinstance(spec, Source):
        return spec
    from jikimi.sources import open_source

    return open_source(spec)


def count_items(sources: Sequence[str | Path | Source], done: set[str]) -> int | None:
    """How many items are left to scan (for the progress bar's ETA): a quick walk of every source, without
    reading media. None when a source is a URL (counting would download it) or cannot be read."""
    total = 0
    for spec in sources:
        if isinstance(spec, Source) or str(spec).lower().startswith(("http://", "https://", "@")):
            return None
        try:
            total += sum(1 for item in _open(spec) if item.key not in done)
        except JikimiError:
            continue
    return total


def _load_bank_matcher(store: Store) -> BankMatcher | None:
    from jikimi.store.banks import BankMatcher as StoreBankMatcher

    return StoreBankMatcher.load(store, auto_refresh=None)


def _load_gallery(store: Store) -> FaceMatcher | None:
    """The enrolled, consenting people's faces, or None when nobody is enrolled."""
    from jikimi.store.people import active_people, gallery

    with store.session() as s:
        if not active_people(s):
            return None
    g = gallery(store)
    return g if len(g) else None


def _load_sources(store: Store) -> SourceMatcher | None:
    """The source photos of enrolled, consenting people, or None when there are none."""
    from jikimi.store.source_photos import has_sources, source_index

    with store.session() as s:
        if not has_sources(s):
            return None
    return source_index(store)


@dataclass
class _Pending:
    item: Item
    analysis: Analysis
    decision: Decision | None


class _Writer:
    """Writes analysed items to the store in batches (one transaction each, with their checkpoints)."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        report: ScanReport,
        *,
        actor: str,
        keep_originals: bool,
        on_finding: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.report = report
        self.actor = actor
        self.keep_originals = keep_originals
        self.on_finding = on_finding
        self.batch: list[_Pending] = []
        with store.session() as s:
            self.clusterer = findings.Clusterer.load(s)

    def add(self, p: _Pending) -> None:
        self.batch.append(p)

    def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        try:
            self._write(batch)
        except (SQLAlchemyError, JikimiError, OSError):
            # Another writer (a second scan of overlapping sources) created a row first, or one item cannot
            # be stored: redo the batch one item at a time, so only that item fails (with the reason).
            for p in batch:
                try:
                    self._write([p])
                except (SQLAlchemyError, JikimiError, OSError) as exc:
                    detail = (
                        exc.with_hint() if isinstance(exc, JikimiError) else str(exc).splitlines()[0][:300]
                    )
                    reason = Message("could not be stored: {detail}", {"detail": detail})
                    self.report.errors.append(ScanError.of(p.item.sighting.location, reason))
                    with self.store.session() as s:
                        findings.record_item(s, self.run_id, p.item, "failed", reason=reason)

    def _originals(self, p: _Pending) -> bytes | None:
        try:
            data = p.item.read()
        except JikimiError as exc:
            why = Message("cannot keep the original: {detail}", {"detail": exc.with_hint()})
            self.report.errors.append(ScanError.of(p.item.sighting.location, why))
            return None
        if hashlib.sha256(data).hexdigest() != p.analysis.sha256:
            why = Message("the file changed while it was being scanned; scan it again")
            self.report.errors.append(ScanError.of(p.item.sighting.location, why))
            return None
        return data

    def _write(self, batch: list[_Pending]) -> None:
        from jikimi.store import vault

        new_findings: list[int] = []
        touched: set[int] = set()
        stats = Counter[str]()
        with self.store.session() as s:
            clusterer_adds: list[tuple[str, int]] = []
            for p in batch:
                item, a = p.item, p.analysis
                if not a.ok:
                    status = "unresolved" if a.status == "unresolved" else "failed"
                    findings.record_item(s, self.run_id, item, status, reason=a.message or a.reason)
                    continue
                media, created = findings.upsert_media(s, a)
                stats["new_media"] += int(created)
                if created:
                    cid = self.clusterer.assign(s, media)
                    if cid is not None and media.pdq:
                        clusterer_adds.append((media.pdq, cid))
                sighting, new_sighting = findings.add_sighting(s, media, item.key, item.sighting, self.run_id)
                stats["new_sightings"] += int(new_sighting)
                d = p.decision
                if d is not None and d.is_finding:
                    if self.keep_originals and not media.in_vault:
                        data = self._originals(p)
                        if data is not None:
                            vault.put(s, data, _capture(item), actor=self.actor)
                            media.in_vault = True
                    elif media.in_vault and new_sighting:
                        vault.add_capture(s, media.sha256, _capture(item), actor=self.actor)
                    for case, person_id in _targets(s, d, actor=self.actor):
                        f, new = findings.upsert_finding(
                            s, media, case, d, person_id=person_id, run_id=self.run_id, actor=self.actor
                        )
                        findings.add_personal_data(s, f, sighting, item.sighting)
                        self.report.cases.add(case.id)
                        touched.add(case.id)
                        if f.id not in self.report.findings:
                            self.report.findings.append(f.id)
                            for r in d.reasons:
                                self.report.by_reason[r] += 1
                        if new:
                            stats["new_findings"] += 1
                            new_findings.append(f.id)
                findings.record_item(s, self.run_id, item, "done", media_id=media.id)
            _touch_cases(s, touched)
        self.report.new_media += stats["new_media"]
        self.report.new_sightings += stats["new_sightings"]
        self.report.new_findings += stats["new_findings"]


def _targets(s: Session, d: Decision, *, actor: str) -> list[tuple[Case, int | None]]:
    """The cases a finding goes to: each found enrolled person's, each case a matched bank entry names
    (``case_ref`` ``case:<id>``: hashes a victim sent from her own device), else the unidentified queue."""
    out: list[tuple[Case, int | None]] = []
    for person_id in d.person_ids:  # found by face or by her source photos
        case, _ = findings.case_for(s, person_id, actor=actor)
        out.append((case, person_id))
    for cid in bank_case_ids(d.bank_matches):
        named = s.get(Case, cid)
        if named is not None and all(c.id != named.id for c, _ in out):
            out.append((named, named.person_id))
    if not out:
        case, _ = findings.case_for(s, None, actor=actor)
        out.append((case, None))
    return out


def _capture(item: Item) -> dict[str, Any]:
    s: Sighting = item.sighting
    return {
        "source": f"{s.source_kind}:{s.container or s.location}",
        "link": s.link or s.location,
        "key": item.key,
        "location": s.location,
        "chat": s.chat_name,
        "chat_id": s.chat_id,
        "message_id": s.message_id,
        "posted_at": s.date or s.date_local,
        "sender": s.sender,
        "forwarded_from": s.forwarded_from,
        **({"fetch": s.extra["fetch"]} if isinstance(s.extra.get("fetch"), dict) else {}),
    }


def _all_errors(session: Any, run_id: int, current: list[ScanError]) -> list[ScanError]:
    """Failed items of every attempt of the run (a resumed run lists the earlier ones too), then the rest."""
    from jikimi.store.schema.scans import ScanItem

    rows = session.execute(
        select(ScanItem.location, ScanItem.reason, ScanItem.reason_message)
        .where(ScanItem.run_id == run_id, ScanItem.status == "failed")
        .order_by(ScanItem.id)
    ).all()
    out = [
        ScanError(loc, reason or "failed", message=Message.from_json(kept) if kept else None)
        for loc, reason, kept in rows
    ]
    seen = {(e.location, e.reason) for e in out}
    out += [e for e in current if (e.location, e.reason) not in seen]
    return out


def _touch_cases(session: Any, case_ids: Iterable[int]) -> None:
    from jikimi.cases.priority import update_priority

    for cid in case_ids:
        update_priority(session, cid)


def _start_run(
    store: Store, labels: list[str], *, resume: bool, actor: str, executor: str, workers: int
) -> tuple[int, bool, set[str]]:
    fp = fingerprint(labels)
    with store.session() as s:
        run = None
        if resume:
            run = s.execute(
                select(ScanRun)
                .where(ScanRun.fingerprint == fp, ScanRun.status == "running")
                .order_by(ScanRun.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        resumed = run is not None
        if run is None:
            run = ScanRun(
                fingerprint=fp,
                sources_json=audit.canonical_json(labels),
                actor=actor,
                executor=executor,
                workers=workers,
            )
            s.add(run)
            s.flush()
            audit.append(
                s, actor=actor, action="scan.start", subject=f"scan:{run.id}", details={"sources": labels}
            )
        else:
            run.attempts += 1
            run.executor, run.workers = executor, workers
            audit.append(
                s,
                actor=actor,
                action="scan.resume",
                subject=f"scan:{run.id}",
                details={"attempt": run.attempts},
            )
        done = findings.done_keys(s, run.id) if resumed else set()
        return run.id, resumed, done


def run_scan(
    store: Store,
    sources: Sequence[str | Path | Source],
    *,
    executor: str | Any = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    signals: Sequence[str] | None = None,
    bank_matcher: BankMatcher | Literal["auto"] | None = AUTO,
    gallery: FaceMatcher | Literal["auto"] | None = AUTO,
    source_photos: SourceMatcher | Literal["auto"] | None = AUTO,
    thresholds: Thresholds | None = None,
    resume: bool = True,
    keep_originals: bool = True,
    actor: str | None = None,
    batch_size: int = 64,
    batch_seconds: float = 2.0,
    progress: Callable[[Iterable[Any], int | None], Iterable[Any]] | None = None,
    on_finding: Callable[[dict[str, Any]], None] | None = None,
) -> ScanReport:
    """Scan ``sources`` (paths, zips, Telegram exports, URLs, ``@links.txt`` or ``Source`` objects).

    ``executor``: "local" (process pool, ``workers`` processes, default all cores; ``workers=0`` analyses in
    this process), "ray" (``ray_address`` to join a cluster; otherwise a local Ray), or an executor from
    ``jikimi.scan.make_executor`` to reuse across scans (the caller closes it). ``bank_matcher`` and
    ``gallery`` default to the store's hash banks and enrolled, consenting people, ``source_photos`` to those
    people's source photos (``None`` turns one off; the workers compute the ORB features source-photo matching
    needs only when there are source photos).
    ``on_finding`` is called at the end with the JSON of each finding the run touched; ``progress`` wraps
    the item stream (e.g. ``jikimi.cli.common.progress``). Returns a :class:`ScanReport`; failed items
    are in ``report.errors``.
    """
    t0 = time.perf_counter()
    who = actor or audit.default_actor()
    labels = [source_label(s) for s in sources]
    own_executor = isinstance(executor, str)
    ex: Any = (
        make_executor(executor, workers, signal_names=signals, ray_address=ray_address)
        if isinstance(executor, str)
        else executor
    )
    try:
        banks = _load_bank_matcher(store) if bank_matcher == AUTO else bank_matcher
        faces = _load_gallery(store) if gallery == AUTO else gallery
        derived = _load_sources(store) if source_photos == AUTO else source_photos
        run_id, resumed, done = _start_run(
            store, labels, resume=resume, actor=who, executor=ex.name, workers=ex.workers
        )
        report = ScanReport(run_id=run_id, resumed=resumed)
        writer = _Writer(
            store, run_id, report, actor=who, keep_originals=keep_originals, on_finding=on_finding
        )

        def items() -> Iterator[Item]:
            for spec, label in zip(sources, labels, strict=True):
                try:
                    src = _open(spec)
                    for item in src:
                        if item.key in done:
                            report.skipped += 1
                            continue
                        yield item
                except JikimiError as exc:
                    why = Message("source stopped: {detail}", {"detail": exc.with_hint()})
                    report.errors.append(ScanError.of(label, why))

        # Embeddings only when someone enrolled (with consent) can be found: otherwise they are neither
        # needed nor computed (faster, and no biometric template of anyone is made for nothing).
        embed = faces is not None and (not isinstance(faces, Sized) or len(faces) > 0)
        stream: Iterable[tuple[Item, Analysis]] = analyse_items(
            items(), ex, embed_faces=embed, source_features=derived is not None
        )
        if progress is not None:
            stream = progress(stream, count_items(sources, done))
        try:
            last = time.monotonic()
            for item, analysis in stream:
                report.items += 1
                report.analyser_seconds += analysis.analyser_seconds
                decision: Decision | None = None
                if analysis.ok:
                    report.media_items += 1
                    decision = decide(
                        analysis, bank_matcher=banks, gallery=faces, thresholds=thresholds, sources=derived
                    )
                elif analysis.status == "unresolved":
                    report.unresolved += 1
                else:
                    report.errors.append(
                        ScanError(
                            item.sighting.location, analysis.reason or "failed", message=analysis.message
                        )
                    )
                writer.add(_Pending(item, analysis, decision))
                if len(writer.batch) >= batch_size or time.monotonic() - last >= batch_seconds:
                    writer.flush()
                    last = time.monotonic()
        except BaseException:
            # The executor gave up (a Ray cluster that lost its nodes...) or the run was interrupted: keep
            # what was analysed, so running the same command again redoes only the rest.
            with contextlib.suppress(Exception):
                writer.flush()
            raise
        writer.flush()
        if on_finding is not None:
            with store.session() as s:
                for fid in report.findings:
                    row = s.get(Finding, fid)
                    if row is not None:
                        on_finding(findings.finding_json(s, row))
        report.seconds = time.perf_counter() - t0
        with store.session() as s:
            run = s.get(ScanRun, run_id)
            assert run is not None
            report.errors = _all_errors(s, run_id, report.errors)
            run.status = "completed"
            run.finished_at = utcnow()
            run.counts_json = audit.canonical_json(
                {k: v for k, v in report.to_dict().items() if isinstance(v, int) and not isinstance(v, bool)}
            )
            audit.append(
                s,
                actor=who,
                action="scan.complete",
                subject=f"scan:{run_id}",
                details={"items": report.items, "findings": len(report.findings), "failed": report.failed},
            )
        return report
    finally:
        if own_executor:
            ex.close()
