"""Hash banks: create, list, fill, enable/disable and delete banks and entries, and match against them.

Functions taking a ``Session`` change the database inside the caller's transaction (``with store.session()``).

``BankMatcher`` serves the scan pipeline, the web API and ``jikimi match``. Built from the store, it holds
a PDQ index (``jikimi.index.PDQIndex``) and a vPDQ index in memory and answers ``match_pdq``, ``match_md5``,
``match_sha256``, ``match_video``, ``match_signals`` and ``match_file`` with :class:`Match` records.
Its ``add``/``disable_entry``/``delete_entry``/... change the store and the in-memory index together: a new
hash is found by the next query and a disabled one is gone from the next result. Every result is also checked
against the database (entry and bank enabled, bank threshold), so changes made by another process take
effect at once too; additions made elsewhere are picked up by ``refresh()`` (called automatically every
``auto_refresh`` seconds).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from jikimi.errors import NotFoundError, ValidationError
from jikimi.index import (
    DEFAULT_THRESHOLD,
    QUALITY_TRUSTED,
    PDQIndex,
    VideoFrame,
    VideoIndex,
    hex_to_codes,
    normalize_pdq_hex,
)
from jikimi.store import audit, feed
from jikimi.store.db import Store
from jikimi.store.schema.banks import Bank, BankEntry

__all__ = [
    "DEFAULT_THRESHOLD",
    "AddResult",
    "BankInfo",
    "BankMatcher",
    "EntryInput",
    "Match",
    "add_entry",
    "create_bank",
    "delete_bank",
    "delete_entry",
    "entry_from_file",
    "find_entries",
    "get_bank",
    "iter_entries",
    "list_banks",
    "set_bank_enabled",
    "set_entry_enabled",
]

_NAME_MAX = 100
_MD5_LEN = 32
_SHA256_LEN = 64


# -- inputs and validation ---------------------------------------------------------------------------
@dataclass
class EntryInput:
    """The signals and metadata of one entry to add. At least one signal is required."""

    pdq: str | None = None
    pdq_quality: int | None = None
    md5: str | None = None
    sha256: str | None = None
    vpdq: list[dict[str, Any]] | None = None
    source: str = ""
    case_ref: str = ""
    labels: list[str] = field(default_factory=list)
    note: str = ""
    content_uri: str = ""
    exchange_ids: dict[str, list[str]] = field(default_factory=dict)

    def normalized(self) -> EntryInput:
        """A validated copy (lower-case hex, frames as dicts); raises ``ValidationError`` with the reason."""
        pdq = _validate_hex("PDQ", self.pdq, 64) if self.pdq else None
        md5 = _validate_hex("MD5", self.md5, _MD5_LEN) if self.md5 else None
        sha256 = _validate_hex("SHA-256", self.sha256, _SHA256_LEN) if self.sha256 else None
        quality = None
        if self.pdq_quality is not None:
            try:
                quality = int(self.pdq_quality)
            except (TypeError, ValueError):
                raise ValidationError(
                    f"PDQ quality must be a whole number, got {self.pdq_quality!r}"
                ) from None
            if not 0 <= quality <= 100:
                raise ValidationError(f"PDQ quality must be between 0 and 100, got {quality}")
        vpdq = None
        if self.vpdq:
            try:
                frames = [VideoFrame.of(f) for f in self.vpdq]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValidationError(f"malformed vPDQ frames: {exc}") from None
            vpdq = [{"hash": f.hash, "quality": f.quality, "timestamp": f.timestamp} for f in frames]
        if not (pdq or md5 or sha256 or vpdq):
            raise ValidationError("an entry needs at least one hash (PDQ, MD5, SHA-256 or vPDQ)")
        labels = sorted({str(x).strip() for x in self.labels if str(x).strip()})
        ex = {str(k): sorted({str(v) for v in vs}) for k, vs in self.exchange_ids.items() if vs}
        return EntryInput(
            pdq, quality, md5, sha256, vpdq, self.source.strip(), self.case_ref.strip(), labels,
            self.note.strip(), self.content_uri.strip(), ex,
        )  # fmt: skip

    @property
    def untrusted(self) -> bool:
        """A PDQ hash below quality 50 is kept but flagged: it is not reliable for matching."""
        return self.pdq is not None and self.pdq_quality is not None and self.pdq_quality < QUALITY_TRUSTED

    def signature(self) -> str:
        """Digest of the signals: the same content added twice to a bank is one entry."""
        frames = ",".join(f["hash"] for f in self.vpdq or [])
        text = f"pdq={self.pdq or ''};md5={self.md5 or ''};sha256={self.sha256 or ''};vpdq={frames}"
        return hashlib.sha256(text.encode()).hexdigest()


def _validate_hex(label: str, value: str | None, length: int) -> str:
    text = (value or "").strip().lower()
    if len(text) != length:
        raise ValidationError(
            f"not a valid {label} hash: expected {length} hex digits, got {len(text)}",
            hint=f"a {label} hash looks like {'0' * 8}... ({length} characters 0-9 a-f)",
        )
    try:
        bytes.fromhex(text)
    except ValueError:
        raise ValidationError(
            f"not a valid {label} hash: only the hex digits 0-9 and a-f are allowed"
        ) from None
    return text


def validate_bank_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > _NAME_MAX or any(c in text for c in "\n\r\t/\\"):
        raise ValidationError(
            f"invalid bank name {name!r:.120}",
            hint=f"use 1-{_NAME_MAX} characters without slashes, tabs or line breaks",
        )
    return text


def validate_threshold(threshold: int) -> int:
    if not 0 <= int(threshold) <= 128:
        raise ValidationError(
            f"a PDQ threshold is between 0 and 128, got {threshold}",
            hint=f"the default is {DEFAULT_THRESHOLD}",
        )
    return int(threshold)


# -- banks ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    description: str
    enabled: bool
    pdq_threshold: int
    entries: int
    enabled_entries: int


def create_bank(
    session: Session,
    name: str,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    description: str = "",
    exist_ok: bool = False,
    actor: str | None = None,
) -> Bank:
    """Create a bank (``ValidationError`` if the name is taken, unless ``exist_ok``)."""
    name = validate_bank_name(name)
    threshold = validate_threshold(threshold)
    existing = session.scalar(select(Bank).where(Bank.name == name))
    if existing is not None:
        if exist_ok:
            return existing
        raise ValidationError(f"a bank named {name!r} already exists", hint="choose another name")
    bank = Bank(name=name, pdq_threshold=threshold, description=description)
    session.add(bank)
    session.flush()
    _audit(session, actor, "bank.create", f"bank:{name}", {"threshold": threshold})
    return bank


def get_bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name.strip()))
    if bank is None:
        raise NotFoundError(f"no bank named {name!r}", hint="see `jikimi bank list`")
    return bank


def list_banks(session: Session) -> list[BankInfo]:
    counts = {
        bid: (total, int(on or 0))
        for bid, total, on in session.execute(
            select(
                BankEntry.bank_id,
                func.count(),
                func.sum(case((BankEntry.enabled.is_(True), 1), else_=0)),
            ).group_by(BankEntry.bank_id)
        )
    }
    return [
        BankInfo(b.id, b.name, b.description, b.enabled, b.pdq_threshold, *counts.get(b.id, (0, 0)))
        for b in session.scalars(select(Bank).order_by(Bank.name))
    ]


def set_bank_enabled(session: Session, name: str, enabled: bool, *, actor: str | None = None) -> Bank:
    bank = get_bank(session, name)
    bank.enabled = enabled
    _audit(session, actor, "bank.enable" if enabled else "bank.disable", f"bank:{bank.name}", {})
    return bank


def set_bank_threshold(session: Session, name: str, threshold: int, *, actor: str | None = None) -> Bank:
    bank = get_bank(session, name)
    bank.pdq_threshold = validate_threshold(threshold)
    _audit(session, actor, "bank.threshold", f"bank:{bank.name}", {"threshold": bank.pdq_threshold})
    return bank


def delete_bank(session: Session, name: str, *, actor: str | None = None) -> list[int]:
    """Delete a bank and its entries; returns the deleted entry ids."""
    bank = get_bank(session, name)
    ids = list(session.scalars(select(BankEntry.id).where(BankEntry.bank_id == bank.id)))
    feed.log_bank(session, bank.id)  # the bulk delete skips the flush hook: withdraw the entries from feeds
    session.execute(delete(BankEntry).where(BankEntry.bank_id == bank.id))
    session.delete(bank)
    _audit(session, actor, "bank.delete", f"bank:{name}", {"entries": len(ids)})
    return ids


# -- entries -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddResult:
    entry_id: int
    created: bool
    untrusted: bool


def add_entry(
    session: Session,
    bank: Bank | str,
    entry: EntryInput,
    *,
    actor: str | None = None,
    audit_each: bool = True,
) -> AddResult:
    """Add an entry; adding the same signals again returns the existing entry and merges its metadata
    (labels, exchange ids, empty text fields). Raises ``ValidationError`` for malformed hashes."""
    b = get_bank(session, bank) if isinstance(bank, str) else bank
    e = entry.normalized()
    sig = e.signature()
    row = session.scalar(select(BankEntry).where(BankEntry.bank_id == b.id, BankEntry.signature == sig))
    if row is not None:
        _merge_metadata(row, e)
        return AddResult(row.id, False, e.untrusted)
    row = BankEntry(
        bank_id=b.id,
        signature=sig,
        pdq=e.pdq,
        pdq_quality=e.pdq_quality,
        md5=e.md5,
        sha256=e.sha256,
        vpdq=e.vpdq,
        source=e.source[:200],
        case_ref=e.case_ref[:200],
        labels=e.labels,
        note=e.note,
        content_uri=e.content_uri,
        exchange_ids=e.exchange_ids,
        added_by=(actor or audit.default_actor())[:200],
    )
    session.add(row)
    session.flush()
    if audit_each:
        _audit(session, actor, "bank.entry.add", f"bank:{b.name}/entry:{row.id}", _signals_of(row))
    return AddResult(row.id, True, e.untrusted)


def _merge_metadata(row: BankEntry, e: EntryInput) -> None:
    labels = sorted(set(row.labels or []) | set(e.labels))
    if labels != list(row.labels or []):
        row.labels = labels
    ex = {k: list(v) for k, v in (row.exchange_ids or {}).items()}
    for k, vs in e.exchange_ids.items():
        ex[k] = sorted(set(ex.get(k, [])) | set(vs))
    if ex != (row.exchange_ids or {}):
        row.exchange_ids = ex
    for attr in ("source", "case_ref", "note", "content_uri"):
        if not getattr(row, attr) and getattr(e, attr):
            setattr(row, attr, getattr(e, attr))
    if row.pdq_quality is None and e.pdq_quality is not None:
        row.pdq_quality = e.pdq_quality


def _signals_of(row: BankEntry) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(row, k) for k in ("pdq", "md5", "sha256") if getattr(row, k)}
    if row.vpdq:
        out["vpdq_frames"] = len(row.vpdq)
    return out


def get_entry(session: Session, entry_id: int) -> BankEntry:
    row = session.get(BankEntry, entry_id)
    if row is None:
        raise NotFoundError(f"no bank entry {entry_id}", hint="see `jikimi bank show NAME`")
    return row


def set_entry_enabled(
    session: Session, entry_id: int, enabled: bool, *, actor: str | None = None
) -> BankEntry:
    row = get_entry(session, entry_id)
    row.enabled = enabled
    _audit(session, actor, "bank.entry.enable" if enabled else "bank.entry.disable", f"entry:{entry_id}", {})
    return row


def delete_entry(session: Session, entry_id: int, *, actor: str | None = None) -> None:
    row = get_entry(session, entry_id)
    details = {"bank_id": row.bank_id, **_signals_of(row)}
    session.delete(row)
    _audit(session, actor, "bank.entry.delete", f"entry:{entry_id}", details)


def find_entries(
    session: Session, bank: Bank | str | None = None, *, signal: str, value: str
) -> list[BankEntry]:
    """Entries whose ``signal`` (pdq, md5, sha256) equals ``value`` exactly, optionally within one bank."""
    if signal not in ("pdq", "md5", "sha256"):
        raise ValidationError(f"cannot look entries up by {signal!r}", hint="use pdq, md5 or sha256")
    col = getattr(BankEntry, signal)
    q = select(BankEntry).where(col == value.strip().lower())
    if bank is not None:
        b = get_bank(session, bank) if isinstance(bank, str) else bank
        q = q.where(BankEntry.bank_id == b.id)
    return list(session.scalars(q.order_by(BankEntry.id)))


def iter_entries(session: Session, bank: Bank | str, *, batch: int = 5000) -> Iterator[BankEntry]:
    """Every entry of a bank in id order, read in batches."""
    b = get_bank(session, bank) if isinstance(bank, str) else bank
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(BankEntry)
                .where(BankEntry.bank_id == b.id, BankEntry.id > last)
                .order_by(BankEntry.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def entry_from_file(path: Path | str, **metadata: Any) -> EntryInput:
    """Hash a file (MD5, SHA-256, and PDQ for images or vPDQ for videos) into an ``EntryInput``."""
    from jikimi.media import load
    from jikimi.signals import registry

    media = load(Path(path))
    results = registry.compute(media, [n for n in ("md5", "sha256", "pdq", "vpdq") if n in registry.SIGNALS])
    return entry_from_signals(results, **metadata)


def entry_from_signals(results: Mapping[str, Any], **metadata: Any) -> EntryInput:
    """An ``EntryInput`` from ``jikimi.signals.registry.compute`` results."""
    pdq = results.get("pdq")
    pdq_hex = pdq.get("hash") if isinstance(pdq, dict) else pdq
    quality = pdq.get("quality") if isinstance(pdq, dict) else None
    return EntryInput(
        pdq=pdq_hex,
        pdq_quality=quality,
        md5=results.get("md5"),
        sha256=results.get("sha256"),
        vpdq=results.get("vpdq") or None,
        **metadata,
    )


def _audit(
    session: Session, actor: str | None, action: str, subject: str, details: Mapping[str, Any]
) -> None:
    audit.append(
        session, actor=actor or audit.default_actor(), action=action, subject=subject, details=details
    )


# -- matching ------------------------------------------------------------------------------------------
@dataclass
class Match:
    """One bank entry matching a query."""

    bank: str
    bank_id: int
    entry_id: int
    #: What matched: "pdq" (image hash; also a video frame against an image bank), "vpdq", "md5", "sha256".
    signal: str
    #: Hamming distance (PDQ: best over variants/frames); 0 for exact hashes; None for vPDQ.
    distance: int | None
    threshold: int | None = None
    #: Dihedral variant of the query that matched best ("original", "rotate90", ...), PDQ only.
    variant: str | None = None
    #: Time in the query video of the best matching frame (video against an image bank).
    frame_timestamp: float | None = None
    #: vPDQ: share of the query's good frames matched, and of the entry's good frames.
    query_percent: float | None = None
    target_percent: float | None = None
    #: The entry's or the query's PDQ quality is below 50: a weak match to be reviewed by a person.
    untrusted: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Hit:
    signal: str
    distance: int | None
    variant: str | None = None
    frame_timestamp: float | None = None
    query_percent: float | None = None
    target_percent: float | None = None
    untrusted_query: bool = False


_DIHEDRAL_ORDER = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)


class BankMatcher:
    """Matches hashes and files against every enabled bank; keeps its index in step with the store.

    ``BankMatcher.load(store)`` reads (or memory-maps, with ``index_path``) the PDQ index and builds the vPDQ
    index. Thread-safe for queries; writes go through the store first, then the in-memory index.
    """

    def __init__(
        self, store: Store, *, index_path: Path | None = None, auto_refresh: float | None = 2.0
    ) -> None:
        self.store = store
        self.index_path = index_path
        self.auto_refresh = auto_refresh
        self.pdq = PDQIndex()
        self.video = VideoIndex()
        self._watermark = 0
        self._removed: set[int] = set()
        self._max_threshold = DEFAULT_THRESHOLD
        self._lock = threading.RLock()
        self._refreshed_at = 0.0
        self.loaded_from: str = "empty"

    # -- loading -------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        store: Store,
        *,
        index_path: Path | None = None,
        auto_refresh: float | None = 2.0,
        progress: Any = None,
    ) -> BankMatcher:
        """Build the matcher: from a persisted index file when ``index_path`` holds one for this store, else
        from the store. Then pick up entries added since and drop disabled ones."""
        m = cls(store, index_path=index_path, auto_refresh=auto_refresh)
        loaded = False
        if index_path is not None and (Path(index_path) / "index.json").exists():
            try:
                idx = PDQIndex.load(Path(index_path))
            except (OSError, ValueError, KeyError):
                idx = None
            if idx is not None and idx.meta.get("store") == m._store_id():
                with store.session() as s:
                    top = s.scalar(select(func.max(BankEntry.id))) or 0
                if top >= int(idx.meta.get("watermark", 0)):
                    m.pdq = idx
                    m._watermark = int(idx.meta.get("watermark", 0))
                    m.loaded_from = "file"
                    loaded = True
        if not loaded:
            m._build_pdq_from_store(progress)
            m.loaded_from = "store"
        m._load_videos()
        m.refresh(force=True)
        return m

    def _store_id(self) -> str:
        return hashlib.sha256(
            self.store.engine.url.render_as_string(hide_password=True).encode()
        ).hexdigest()[:16]

    def _build_pdq_from_store(self, progress: Any = None, batch: int = 200_000) -> None:
        codes: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        last = 0
        with self.store.session() as s:
            total = (
                s.scalar(select(func.count()).select_from(BankEntry).where(BankEntry.pdq.is_not(None))) or 0
            )
            done = 0
            while True:
                rows = s.execute(
                    select(BankEntry.id, BankEntry.pdq)
                    .where(BankEntry.id > last, BankEntry.pdq.is_not(None))
                    .order_by(BankEntry.id)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                ids = [r[0] for r in rows]
                codes.append(hex_to_codes([str(r[1]) for r in rows]))
                labels.append(np.asarray(ids, dtype=np.int64))
                last = ids[-1]
                done += len(rows)
                if progress is not None:
                    progress(done, total)
            top = s.scalar(select(func.max(BankEntry.id))) or 0
        if codes:
            self.pdq = PDQIndex.build(np.concatenate(codes), np.concatenate(labels))
        else:
            self.pdq = PDQIndex()
        self._watermark = max(int(top), last)

    def _load_videos(self) -> None:
        with self.store.session() as s:
            for eid, frames in s.execute(
                select(BankEntry.id, BankEntry.vpdq).where(
                    BankEntry.vpdq.is_not(None), BankEntry.id <= self._watermark
                )
            ):
                if frames:
                    self.video.add(int(eid), frames)

    def save(self, index_path: Path | None = None) -> Path:
        """Persist the PDQ index (memory-mapped by the next ``load``); returns where."""
        from jikimi.config import get_settings

        path = Path(index_path or self.index_path or get_settings().index_dir / "pdq")
        with self._lock:
            self.pdq.save(path, meta={"store": self._store_id(), "watermark": self._watermark})
        return path

    def refresh(self, *, force: bool = False) -> int:
        """Index entries added to the store since the last refresh (by any process); returns how many."""
        now = time.monotonic()
        if not force and (self.auto_refresh is None or now - self._refreshed_at < self.auto_refresh):
            return 0
        with self._lock:
            self._refreshed_at = now
            with self.store.session() as s:
                rows = s.execute(
                    select(BankEntry.id, BankEntry.pdq, BankEntry.vpdq, BankEntry.enabled)
                    .where(BankEntry.id > self._watermark)
                    .order_by(BankEntry.id)
                ).all()
                thresholds = list(s.scalars(select(Bank.pdq_threshold)))
            self._max_threshold = max([DEFAULT_THRESHOLD, *thresholds])
            # Disabled entries are indexed too: results are checked against the store, so another process
            # may enable them again; this process tombstones only what it disables itself.
            pdq_rows = [(int(r[0]), r[1]) for r in rows if r[1]]
            if pdq_rows:
                self.pdq.add([h for _, h in pdq_rows], [i for i, _ in pdq_rows])
            for r in rows:
                if r[2]:
                    self.video.add(int(r[0]), r[2])
            if rows:
                self._watermark = max(self._watermark, int(rows[-1][0]))
            return len(rows)

    # -- writes that keep the index consistent -------------------------------------------------------
    def add(self, bank: str, entry: EntryInput, *, actor: str | None = None) -> AddResult:
        """Add an entry to a bank; it is found by the next query."""
        with self.store.session() as s:
            res = add_entry(s, bank, entry, actor=actor)
        if res.created:
            self.refresh(force=True)
        return res

    def add_many(
        self, bank: str, entries: Iterable[EntryInput], *, actor: str | None = None
    ) -> list[AddResult]:
        with self.store.session() as s:
            b = get_bank(s, bank)
            out = [add_entry(s, b, e, actor=actor, audit_each=False) for e in entries]
            _audit(s, actor, "bank.entry.add_many", f"bank:{b.name}", {"count": len(out)})
        self.refresh(force=True)
        return out

    def disable_entry(self, entry_id: int, *, actor: str | None = None) -> None:
        with self.store.session() as s:
            set_entry_enabled(s, entry_id, False, actor=actor)
        self.forget([entry_id])

    def enable_entry(self, entry_id: int, *, actor: str | None = None) -> None:
        with self.store.session() as s:
            row = set_entry_enabled(s, entry_id, True, actor=actor)
            pdq, frames = row.pdq, row.vpdq
        with self._lock:
            if entry_id in self._removed:
                self._removed.discard(entry_id)
                if pdq:
                    self.pdq.add([pdq], [entry_id])
                if frames:
                    self.video.add(entry_id, frames)

    def delete_entry(self, entry_id: int, *, actor: str | None = None) -> None:
        with self.store.session() as s:
            delete_entry(s, entry_id, actor=actor)
        self.forget([entry_id])

    def delete_bank(self, name: str, *, actor: str | None = None) -> int:
        with self.store.session() as s:
            ids = delete_bank(s, name, actor=actor)
        self.forget(ids)
        return len(ids)

    def forget(self, entry_ids: Iterable[int]) -> None:
        """Drop entries from the in-memory indexes (after they were disabled or deleted in the store)."""
        ids = [int(i) for i in entry_ids]
        with self._lock:
            self.pdq.remove(ids)
            self.video.remove(ids)
            self._removed.update(ids)

    # -- queries -------------------------------------------------------------------------------------
    def match_pdq(
        self,
        pdq: str,
        *,
        dihedral: Mapping[str, str] | Sequence[str] | None = None,
        quality: int | None = None,
        banks: Sequence[str] | None = None,
    ) -> list[Match]:
        """Entries within their bank's threshold of ``pdq`` or of any of its ``dihedral`` variants (the
        ``jikimi.signals.pdq`` result's ``"dihedral"`` mapping, or a list in ``pdqhash`` order)."""
        self.refresh()
        queries = self._variants(pdq, dihedral)
        hits: dict[int, _Hit] = {}
        low = quality is not None and quality < QUALITY_TRUSTED
        for variant, h in queries:
            labels, dists = self.pdq.search_arrays(h, self._max_threshold)
            for eid, d in zip(labels.tolist(), dists.tolist(), strict=True):
                old = hits.get(eid)
                if old is None or d < (old.distance or 0):
                    hits[eid] = _Hit("pdq", d, variant, untrusted_query=low)
        return self._resolve(hits, banks)

    @staticmethod
    def _variants(pdq: str, dihedral: Mapping[str, str] | Sequence[str] | None) -> list[tuple[str, str]]:
        try:
            out = [("original", normalize_pdq_hex(pdq))]
            if isinstance(dihedral, Mapping):
                items = list(dihedral.items())
            else:
                items = list(zip(_DIHEDRAL_ORDER, dihedral or (), strict=False))
            seen = {out[0][1]}
            for name, h in items:
                hx = normalize_pdq_hex(h)
                if hx not in seen:
                    seen.add(hx)
                    out.append((name, hx))
        except ValueError as exc:
            raise ValidationError(f"not a valid PDQ hash: {exc}") from None
        return out

    def match_md5(self, md5: str, *, banks: Sequence[str] | None = None) -> list[Match]:
        return self._match_exact("md5", _validate_hex("MD5", md5, _MD5_LEN), banks)

    def match_sha256(self, sha256: str, *, banks: Sequence[str] | None = None) -> list[Match]:
        return self._match_exact("sha256", _validate_hex("SHA-256", sha256, _SHA256_LEN), banks)

    def _match_exact(self, signal: str, value: str, banks: Sequence[str] | None) -> list[Match]:
        col = getattr(BankEntry, signal)
        with self.store.session() as s:
            ids = list(s.scalars(select(BankEntry.id).where(col == value)))
        return self._resolve({i: _Hit(signal, 0) for i in ids}, banks)

    def match_video(
        self,
        frames: Sequence[Mapping[str, Any] | VideoFrame | str],
        *,
        banks: Sequence[str] | None = None,
        images: bool = True,
    ) -> list[Match]:
        """Video entries matching under the vPDQ rule (>= 80% of the query's good frames), and, with
        ``images``, image entries matched by any good frame (a still taken from the video)."""
        self.refresh()
        try:
            parsed = [VideoFrame.of(f) for f in frames]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"malformed vPDQ frames: {exc}") from None
        hits: dict[int, _Hit] = {}
        for vh in self.video.search(parsed, threshold=self._max_threshold):
            best = min((d for _, d in vh.frames), default=None)
            hits[vh.label] = _Hit("vpdq", best, None, None, vh.query_percent, vh.target_percent)
        if images:
            good = list({f.hash: f for f in reversed(parsed) if f.quality >= QUALITY_TRUSTED}.values())[::-1]
            results = self.pdq.search_batch([f.hash for f in good], self._max_threshold) if good else []
            for f, (labels, dists) in zip(good, results, strict=True):
                for eid, d in zip(labels.tolist(), dists.tolist(), strict=True):
                    old = hits.get(eid)
                    if old is None or (old.signal == "pdq" and d < (old.distance or 0)):
                        hits[eid] = _Hit("pdq", d, "original", f.timestamp)
        return self._resolve(hits, banks)

    def match_signals(
        self, results: Mapping[str, Any], *, banks: Sequence[str] | None = None, dihedral: bool = True
    ) -> list[Match]:
        """All matches for one file's ``jikimi.signals.registry.compute`` results."""
        out: list[Match] = []
        if results.get("md5"):
            out += self.match_md5(results["md5"], banks=banks)
        if results.get("sha256"):
            out += self.match_sha256(results["sha256"], banks=banks)
        pdq = results.get("pdq")
        if isinstance(pdq, dict) and pdq.get("hash"):
            out += self.match_pdq(
                pdq["hash"],
                dihedral=pdq.get("dihedral") if dihedral else None,
                quality=pdq.get("quality"),
                banks=banks,
            )
        elif isinstance(pdq, str):
            out += self.match_pdq(pdq, banks=banks)
        if results.get("vpdq"):
            out += self.match_video(results["vpdq"], banks=banks)
        return _dedupe(out)

    def match_file(
        self, path: Path | str, *, banks: Sequence[str] | None = None, dihedral: bool = True
    ) -> list[Match]:
        """Hash a file and match it (raises ``MediaError`` for a file that cannot be decoded)."""
        from jikimi.media import load
        from jikimi.signals import registry

        media = load(Path(path))
        names = [n for n in ("md5", "sha256", "pdq", "vpdq") if n in registry.SIGNALS]
        return self.match_signals(registry.compute(media, names), banks=banks, dihedral=dihedral)

    def _resolve(self, hits: Mapping[int, _Hit], banks: Sequence[str] | None) -> list[Match]:
        """Check candidate entries against the store (enabled, bank enabled, threshold) and add metadata."""
        if not hits:
            return []
        out: list[Match] = []
        ids = list(hits)
        with self.store.session() as s:
            for i in range(0, len(ids), 500):
                q = (
                    select(BankEntry, Bank.name, Bank.pdq_threshold)
                    .join(Bank, Bank.id == BankEntry.bank_id)
                    .where(
                        BankEntry.id.in_(ids[i : i + 500]),
                        BankEntry.enabled.is_(True),
                        Bank.enabled.is_(True),
                    )
                )
                if banks:
                    q = q.where(Bank.name.in_(list(banks)))
                for row, bank_name, threshold in s.execute(q):
                    hit = hits[row.id]
                    if (
                        hit.signal in ("pdq", "vpdq")
                        and hit.distance is not None
                        and hit.distance > threshold
                    ):
                        continue
                    entry_low = row.pdq_quality is not None and row.pdq_quality < QUALITY_TRUSTED
                    out.append(
                        Match(
                            bank=bank_name,
                            bank_id=row.bank_id,
                            entry_id=row.id,
                            signal=hit.signal,
                            distance=hit.distance,
                            threshold=threshold if hit.signal in ("pdq", "vpdq") else None,
                            variant=hit.variant,
                            frame_timestamp=hit.frame_timestamp,
                            query_percent=hit.query_percent,
                            target_percent=hit.target_percent,
                            untrusted=hit.untrusted_query or (hit.signal == "pdq" and entry_low),
                            metadata=_metadata(row),
                        )
                    )
        out.sort(key=lambda m: (m.distance if m.distance is not None else -1, m.bank, m.entry_id))
        return out


def _metadata(row: BankEntry) -> dict[str, Any]:
    return {
        "source": row.source,
        "case_ref": row.case_ref,
        "labels": list(row.labels or []),
        "note": row.note,
        "content_uri": row.content_uri,
        "exchange_ids": dict(row.exchange_ids or {}),
        "added_at": row.added_at.isoformat() if row.added_at else None,
        "pdq": row.pdq,
        "pdq_quality": row.pdq_quality,
        "md5": row.md5,
        "sha256": row.sha256,
    }


def _dedupe(matches: list[Match]) -> list[Match]:
    seen: set[tuple[int, str]] = set()
    out: list[Match] = []
    for m in matches:
        key = (m.entry_id, m.signal)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out
