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

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from jikimi.errors import NotFoundError, ValidationError
from jikimi.index import DEFAULT_THRESHOLD, VideoFrame
from jikimi.index.signals import SignalIndex, index_for
from jikimi.signals import registry
from jikimi.signals.base import HashSignal, SignalValue
from jikimi.store import audit, feed
from jikimi.store.db import Store
from jikimi.store.schema.banks import Bank, BankEntry, BankSignal, signature_of

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


# -- inputs and validation ---------------------------------------------------------------------------
Values = dict[str, list[SignalValue]]


@dataclass
class EntryInput:
    """The hashes and metadata of one entry to add. At least one hash is required.

    ``signals`` maps a registered hash signal's name to its values (``SignalValue``); build it from hashes
    with :meth:`from_hashes` or from ``registry.compute`` results with :func:`entry_from_signals`.
    """

    signals: Values = field(default_factory=dict)
    source: str = ""
    case_ref: str = ""
    labels: list[str] = field(default_factory=list)
    note: str = ""
    content_uri: str = ""
    exchange_ids: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_hashes(
        cls, hashes: Mapping[str, Any], *, quality: Mapping[str, Any] | None = None, **metadata: Any
    ) -> EntryInput:
        """An entry from ``{signal: hash}`` (a hash string, a signal's ``extract`` result or a list of frames;
        empty values are skipped) and ``quality`` ``{signal: 0-100}`` for single hashes."""
        e = cls(**metadata)
        for name, raw in hashes.items():
            if raw is None or raw == "" or raw == []:
                continue
            sig = _signal(name)
            q = (quality or {}).get(name)
            try:
                values = sig.values_of(raw, None if q is None else q)
            except (ValueError, KeyError, TypeError) as exc:
                raise ValidationError(
                    "malformed {kind} hash: {detail}",
                    code="store.hash_malformed",
                    kind=sig.display(),
                    detail=str(exc),
                ) from None
            e.add(sig.name, values)
        return e

    def add(self, signal: str, values: Sequence[SignalValue]) -> None:
        self.signals.setdefault(signal, []).extend(values)

    def first(self, signal: str) -> SignalValue | None:
        values = self.signals.get(signal) or []
        return values[0] if values else None

    def normalized(self) -> EntryInput:
        """A validated copy (each signal's own normal form); raises ``ValidationError`` with the reason."""
        signals: Values = {}
        for name, values in self.signals.items():
            sig = _signal(name)
            if not values:
                continue
            out = [sig.validate_value(v) for v in values]
            if sig.single and len(out) > 1:
                raise ValidationError(
                    "an entry has one {kind} hash, got {n}",
                    code="store.hash_several",
                    kind=sig.display(),
                    n=len(out),
                )
            signals[sig.name] = out
        if not signals:
            known = ", ".join(s.display() for s in registry.hash_signals())
            raise ValidationError(
                "an entry needs at least one hash ({known})", code="store.no_hash", known=known
            )
        labels = sorted({str(x).strip() for x in self.labels if str(x).strip()})
        ex = {str(k): sorted({str(v) for v in vs}) for k, vs in self.exchange_ids.items() if vs}
        return EntryInput(
            {n: signals[n] for n in registry.HASH_SIGNALS if n in signals}, self.source.strip(),
            self.case_ref.strip(), labels, self.note.strip(), self.content_uri.strip(), ex,
        )  # fmt: skip

    @property
    def untrusted(self) -> bool:
        """A single hash below its signal's trusted quality (PDQ: 50) is kept but flagged: it is not reliable
        for matching."""
        return any(
            _signal(name).single and _signal(name).low_quality(v.quality)
            for name, values in self.signals.items()
            for v in values
        )

    def signature(self) -> str:
        """Digest of the signals: the same content added twice to a bank is one entry."""
        return signature_of({_signal(name).name: values for name, values in self.signals.items()})


def _signal(name: str) -> HashSignal:
    sig = registry.hash_signal_named(name)
    if sig is None:
        raise ValidationError(
            "unknown signal type {name}",
            code="store.unknown_signal",
            hint="use one of {known}",
            name=repr(name),
            known=", ".join(n for s in registry.hash_signals() for n in s.names()),
        )
    return sig


def entry_values(row: BankEntry) -> Values:
    """An entry's stored hashes, ``{signal: [SignalValue]}`` in registry order."""
    return row.values()


def entry_hashes(row: BankEntry) -> dict[str, Any]:
    """An entry's single hashes by signal name and ``<signal>_quality`` (see ``BankEntry.hashes``)."""
    return row.hashes()


def validate_bank_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > _NAME_MAX or any(c in text for c in "\n\r\t/\\"):
        raise ValidationError(
            "invalid bank name {name}",
            code="store.bank_name_invalid",
            hint="use 1-{n} characters without slashes, tabs or line breaks",
            name=repr(name)[:120],
            n=_NAME_MAX,
        )
    return text


def validate_threshold(threshold: int) -> int:
    if not 0 <= int(threshold) <= 128:
        raise ValidationError(
            "a PDQ threshold is between 0 and 128, got {threshold}",
            code="store.threshold_invalid",
            hint="the default is {default}",
            threshold=threshold,
            default=DEFAULT_THRESHOLD,
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
        raise ValidationError(
            "a bank named {name} already exists",
            code="store.bank_exists",
            hint="choose another name",
            name=repr(name),
        )
    bank = Bank(name=name, pdq_threshold=threshold, description=description)
    session.add(bank)
    session.flush()
    _audit(session, actor, "bank.create", f"bank:{name}", {"threshold": threshold})
    return bank


def get_bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name.strip()))
    if bank is None:
        raise NotFoundError(
            "no bank named {name}",
            code="store.bank_not_found",
            hint="see the list of banks",
            cli_hint="see `jikimi bank list`",
            name=repr(name),
        )
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
        source=e.source[:200],
        case_ref=e.case_ref[:200],
        labels=e.labels,
        note=e.note,
        content_uri=e.content_uri,
        exchange_ids=e.exchange_ids,
        added_by=(actor or audit.default_actor())[:200],
        signals=[
            BankSignal(signal=name, value=v.value, quality=v.quality, meta=dict(v.metadata))
            for name, values in e.signals.items()
            for v in values
        ],
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
    new = {(name, v.value): v.quality for name, values in e.signals.items() for v in values}
    for r in row.signals:  # a quality learnt later (the same hash, now with its quality)
        if r.quality is None and new.get((r.signal, r.value)) is not None:
            r.quality = new[(r.signal, r.value)]


def _signals_of(row: BankEntry) -> dict[str, Any]:
    """What the audit log records of an entry's hashes: single hashes, and the count of many-valued ones."""
    out: dict[str, Any] = {}
    for name, values in entry_values(row).items():
        if registry.hash_signal(name).single:
            out[name] = values[0].value
        else:
            out[f"{name}_frames"] = len(values)
    return out


def get_entry(session: Session, entry_id: int) -> BankEntry:
    row = session.get(BankEntry, entry_id)
    if row is None:
        raise NotFoundError(
            "no bank entry {entry}",
            code="store.bank_entry_not_found",
            hint="see the bank's entries",
            cli_hint="see `jikimi bank show NAME`",
            entry=entry_id,
        )
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
    """Entries whose hash of ``signal`` (a hash signal's name or python-threatexchange's) equals ``value``
    exactly, optionally within one bank."""
    sig = _signal(signal)
    ids = select(BankSignal.entry_id).where(
        BankSignal.signal == sig.name, BankSignal.value == sig.validate(value)
    )
    q = select(BankEntry).where(BankEntry.id.in_(ids))
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
    """Hash a file with every registered hash signal that applies to it into an ``EntryInput``."""
    from jikimi.media import load

    media = load(Path(path))
    return entry_from_signals(registry.compute(media, list(registry.HASH_SIGNALS)), **metadata)


def entry_from_signals(results: Mapping[str, Any], **metadata: Any) -> EntryInput:
    """An ``EntryInput`` from ``jikimi.signals.registry.compute`` results (the hash signals among them)."""
    return EntryInput.from_hashes(
        {k: v for k, v in results.items() if k in registry.HASH_SIGNALS}, **metadata
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
    #: The hash signal that matched ("pdq": also a video frame against an image bank; "vpdq", "md5"...).
    signal: str
    #: The signal's distance (PDQ: Hamming, best over variants/frames; vectors: 1 - cosine); exact hashes: 0.
    distance: float | None
    threshold: float | None = None
    #: Dihedral variant of the query that matched best ("original", "rotate90", ...), PDQ only.
    variant: str | None = None
    #: Time in the query video of the best matching frame (video against an image bank).
    frame_timestamp: float | None = None
    #: vPDQ: share of the query's good frames matched, and of the entry's good frames.
    query_percent: float | None = None
    target_percent: float | None = None
    #: The entry's or the query's hash has an untrusted quality (PDQ: below 50): a weak match for a person.
    untrusted: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Hit:
    signal: str
    distance: float | None
    variant: str | None = None
    frame_timestamp: float | None = None
    query_percent: float | None = None
    target_percent: float | None = None
    untrusted_query: bool = False


class BankMatcher:
    """Matches hashes and files against every enabled bank; keeps its indexes in step with the store.

    It holds one in-memory index per hash signal that has one (``jikimi.index.signals.index_for``: PDQ,
    vPDQ, video vectors...); exact hashes (MD5, SHA-256) are looked up in the store by (signal, value).
    ``BankMatcher.load`` reads (or memory-maps, with ``index_path``) the persistent index and builds the
    others. Thread-safe for queries; writes go through the store first, then the in-memory indexes.
    """

    def __init__(
        self, store: Store, *, index_path: Path | None = None, auto_refresh: float | None = 2.0
    ) -> None:
        self.store = store
        self.index_path = index_path
        self.auto_refresh = auto_refresh
        self.indexes: dict[str, SignalIndex] = {}
        for sig in registry.hash_signals():
            idx = index_for(sig)
            if idx is not None:
                self.indexes[sig.name] = idx
        self._watermark = 0
        self._removed: set[int] = set()
        self._max_threshold: float = DEFAULT_THRESHOLD
        self._lock = threading.RLock()
        self._refreshed_at = 0.0
        self.loaded_from: str = "empty"

    @property
    def persistent(self) -> SignalIndex | None:
        """The index ``save`` writes to ``index_path`` (the largest: PDQ)."""
        return next((i for i in self.indexes.values() if i.persistent), None)

    @property
    def size(self) -> int:
        """Hashes in the persistent index."""
        idx = self.persistent
        return len(idx) if idx is not None else 0

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
        """Build the matcher: the persistent index from a file when ``index_path`` holds one for this store,
        everything else from the store. Then pick up entries added since."""
        m = cls(store, index_path=index_path, auto_refresh=auto_refresh)
        persistent = m.persistent
        from_file: str | None = None
        if index_path is not None and persistent is not None:
            meta = persistent.load(Path(index_path))
            if meta is not None and meta.get("store") == m._store_id():
                with store.session() as s:
                    top = s.scalar(select(func.max(BankEntry.id))) or 0
                if top >= int(meta.get("watermark", 0)):
                    m._watermark = int(meta.get("watermark", 0))
                    from_file = persistent.signal.name
                    m.loaded_from = "file"
            if from_file is None:
                m.indexes[persistent.signal.name] = index_for(persistent.signal)  # type: ignore[assignment]
        if from_file is None:
            m.loaded_from = "store"
        m._build_from_store(progress, skip=from_file)
        m.refresh(force=True)
        return m

    def _store_id(self) -> str:
        return hashlib.sha256(
            self.store.engine.url.render_as_string(hide_password=True).encode()
        ).hexdigest()[:16]

    def _build_from_store(
        self, progress: Any = None, *, skip: str | None = None, batch: int = 200_000
    ) -> None:
        """Index every stored value up to the current top entry (``skip``: a signal already loaded from file
        up to ``self._watermark``). Single hashes are read as bare (entry, value) pairs, in bulk."""
        names = [n for n in self.indexes if n != skip]
        with self.store.engine.connect() as conn:
            top = int(conn.scalar(select(func.max(BankEntry.id))) or 0)
            total = conn.scalar(select(func.count()).where(BankSignal.signal.in_(names))) or 0 if names else 0
            done = 0
            for name in names:
                if self.indexes[name].signal.single:
                    q = select(BankSignal.entry_id, BankSignal.value)
                else:
                    q = select(BankSignal.id, BankSignal.entry_id, BankSignal.signal, BankSignal.value,
                               BankSignal.quality, BankSignal.meta)  # fmt: skip
                q = q.where(BankSignal.signal == name, BankSignal.entry_id <= top)
                result = conn.execution_options(stream_results=True, yield_per=batch).execute(q)
                for part in result.partitions(batch):
                    if self.indexes[name].signal.single:
                        self.indexes[name].add_values([int(r[0]) for r in part], [r[1] for r in part])
                    else:
                        self._index_rows(part)
                    done += len(part)
                    if progress is not None:
                        progress(done, total)
            if skip is not None and self._watermark < top:
                rows = conn.execute(
                    select(BankSignal.id, BankSignal.entry_id, BankSignal.signal, BankSignal.value,
                           BankSignal.quality, BankSignal.meta)
                    .where(BankSignal.signal == skip, BankSignal.entry_id > self._watermark,
                           BankSignal.entry_id <= top)
                    .order_by(BankSignal.id)
                ).all()  # fmt: skip
                self._index_rows(rows)
        self._watermark = max(self._watermark, top)

    def _index_rows(self, rows: Sequence[Any]) -> None:
        """Add ``(id, entry_id, signal, value, quality, meta)`` rows to their signals' indexes."""
        grouped: dict[str, dict[int, list[SignalValue]]] = {}
        for _id, eid, name, value, quality, meta in rows:
            if name in self.indexes:
                grouped.setdefault(name, {}).setdefault(int(eid), []).append(
                    SignalValue(value, quality, dict(meta or {}))
                )
        for name, by_entry in grouped.items():
            self.indexes[name].add(list(by_entry.items()))

    def save(self, index_path: Path | None = None) -> Path:
        """Persist the persistent (PDQ) index (memory-mapped by the next ``load``); returns where."""
        from jikimi.config import get_settings

        path = Path(index_path or self.index_path or get_settings().index_dir / "pdq")
        idx = self.persistent
        if idx is None:
            raise ValidationError("no hash signal has a persistent index", code="store.no_persistent_index")
        with self._lock:
            idx.save(path, meta={"store": self._store_id(), "watermark": self._watermark})
        return path

    def refresh(self, *, force: bool = False) -> int:
        """Index entries added to the store since the last refresh (by any process); returns how many."""
        now = time.monotonic()
        if not force and (self.auto_refresh is None or now - self._refreshed_at < self.auto_refresh):
            return 0
        with self._lock:
            self._refreshed_at = now
            with self.store.session() as s:
                top = int(s.scalar(select(func.max(BankEntry.id))) or 0)
                rows = s.execute(
                    select(BankSignal.id, BankSignal.entry_id, BankSignal.signal, BankSignal.value,
                           BankSignal.quality, BankSignal.meta)
                    .where(BankSignal.entry_id > self._watermark, BankSignal.entry_id <= top)
                    .order_by(BankSignal.id)
                ).all()  # fmt: skip
                added = s.scalar(
                    select(func.count()).where(BankEntry.id > self._watermark, BankEntry.id <= top)
                )
                thresholds = list(s.scalars(select(Bank.pdq_threshold)))
            self._max_threshold = max([DEFAULT_THRESHOLD, *thresholds])
            # Disabled entries are indexed too: results are checked against the store, so another process
            # may enable them again; this process tombstones only what it disables itself.
            self._index_rows(rows)
            self._watermark = max(self._watermark, top)
            return int(added or 0)

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
            values = entry_values(row)
        with self._lock:
            if entry_id in self._removed:
                self._removed.discard(entry_id)
                for name, vs in values.items():
                    if name in self.indexes:
                        self.indexes[name].add([(entry_id, vs)])

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
            for idx in self.indexes.values():
                idx.remove(ids)
            self._removed.update(ids)

    # -- queries -------------------------------------------------------------------------------------
    def _threshold(self, sig: HashSignal) -> float:
        return self._max_threshold if sig.bank_threshold else sig.default_threshold

    def match_values(
        self, signal: str, values: Sequence[SignalValue], *, banks: Sequence[str] | None = None
    ) -> list[Match]:
        """Entries whose ``signal`` hashes are within threshold of any of the query ``values``."""
        return self._resolve(self._search(signal, values), banks)

    def _search(self, signal: str, values: Sequence[SignalValue]) -> dict[int, _Hit]:
        sig = _signal(signal)
        values = [sig.validate_value(v) for v in values]
        low = any(sig.single and sig.low_quality(v.quality) for v in values)
        idx = self.indexes.get(sig.name)
        if idx is None:  # exact values: the store's (signal, value) index
            with self.store.session() as s:
                ids = list(
                    s.scalars(
                        select(BankSignal.entry_id).where(
                            BankSignal.signal == sig.name, BankSignal.value.in_({v.value for v in values})
                        )
                    )
                )
            return {int(i): _Hit(sig.name, 0) for i in ids}
        self.refresh()
        found = idx.search(values, self._threshold(sig))
        return {
            eid: _Hit(
                sig.name, h.distance, h.variant, h.frame_timestamp, h.query_percent, h.target_percent, low
            )
            for eid, h in found.items()
        }

    def match_hash(
        self, signal: str, value: str, *, quality: int | None = None, banks: Sequence[str] | None = None
    ) -> list[Match]:
        """Entries matching one hash given as a string (``signal``: ours or python-threatexchange's name)."""
        sig = _signal(signal)
        values = sig.parse_values(value, quality) if not sig.single else [SignalValue(value, quality)]
        if not values:
            raise ValidationError(
                "not a valid {kind} hash: it is empty", code="signals.hash_empty", kind=sig.display()
            )
        return self.match_values(sig.name, values, banks=banks)

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
        return self._match_result("pdq", {"hash": pdq, "quality": quality, "dihedral": dihedral}, banks)

    def match_md5(self, md5: str, *, banks: Sequence[str] | None = None) -> list[Match]:
        return self.match_hash("md5", md5, banks=banks)

    def match_sha256(self, sha256: str, *, banks: Sequence[str] | None = None) -> list[Match]:
        return self.match_hash("sha256", sha256, banks=banks)

    def match_video(
        self,
        frames: Sequence[Mapping[str, Any] | VideoFrame | str],
        *,
        banks: Sequence[str] | None = None,
        images: bool = True,
    ) -> list[Match]:
        """Video entries matching under the vPDQ rule (>= 80% of the query's good frames), and, with
        ``images``, image entries matched by any good frame (a still taken from the video)."""
        parsed = [
            {"hash": f.hash, "quality": f.quality, "timestamp": f.timestamp}
            if isinstance(f, VideoFrame)
            else f
            for f in frames
        ]
        queries = _signal("vpdq").queries_of(list(parsed))
        if not images:
            queries = {k: v for k, v in queries.items() if k == "vpdq"}
        return self._match_queries(queries, banks)

    def _match_result(self, signal: str, result: Any, banks: Sequence[str] | None) -> list[Match]:
        sig = _signal(signal)
        try:
            queries = sig.queries_of(result)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(
                "not a valid {kind} hash: {detail}",
                code="signals.hash_invalid",
                kind=sig.display(),
                detail=str(exc),
            ) from None
        return self._match_queries(queries, banks)

    def _match_queries(
        self, queries: Mapping[str, Sequence[SignalValue]], banks: Sequence[str] | None
    ) -> list[Match]:
        """Search each signal's values; an entry found by several keeps the hit of the first signal."""
        hits: dict[int, _Hit] = {}
        for name, values in queries.items():
            for eid, hit in self._search(name, values).items():
                hits.setdefault(eid, hit)
        return self._resolve(hits, banks)

    def match_signals(
        self, results: Mapping[str, Any], *, banks: Sequence[str] | None = None, dihedral: bool = True
    ) -> list[Match]:
        """All matches for one file's ``jikimi.signals.registry.compute`` results."""
        out: list[Match] = []
        for sig in registry.hash_signals():
            result = results.get(sig.name)
            if not result:
                continue
            if not dihedral and isinstance(result, dict):
                result = {k: v for k, v in result.items() if k != "dihedral"}
            out += self._match_result(sig.name, result, banks)
        return _dedupe(out)

    def match_file(
        self, path: Path | str, *, banks: Sequence[str] | None = None, dihedral: bool = True
    ) -> list[Match]:
        """Hash a file and match it (raises ``MediaError`` for a file that cannot be decoded)."""
        from jikimi.media import load

        media = load(Path(path))
        results = registry.compute(media, list(registry.HASH_SIGNALS))
        return self.match_signals(results, banks=banks, dihedral=dihedral)

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
                for row, bank_name, bank_threshold in s.execute(q):
                    hit = hits[row.id]
                    sig = registry.hash_signal(hit.signal)
                    threshold = bank_threshold if sig.bank_threshold else sig.default_threshold
                    if sig.index_class and hit.distance is not None and hit.distance > threshold:
                        continue
                    mine = entry_values(row).get(sig.name) or []
                    entry_low = sig.single and any(sig.low_quality(v.quality) for v in mine)
                    out.append(
                        Match(
                            bank=bank_name,
                            bank_id=row.bank_id,
                            entry_id=row.id,
                            signal=hit.signal,
                            distance=hit.distance,
                            threshold=threshold if sig.index_class else None,
                            variant=hit.variant,
                            frame_timestamp=hit.frame_timestamp,
                            query_percent=hit.query_percent,
                            target_percent=hit.target_percent,
                            untrusted=hit.untrusted_query or entry_low,
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
        **entry_hashes(row),
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
