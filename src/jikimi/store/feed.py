"""The partner feed: bank sharing with platforms, and the change log a subscriber (pytx, HMA) tails.

Every flush that adds, changes or deletes a bank entry, or enables, disables, shares, unshares or deletes a
bank, appends rows to ``feed_changes`` (:func:`log_flush` is registered on the store's sessions; bulk
statements must call :func:`log_bank` themselves, as :func:`jikimi.store.banks.delete_bank` does).
:func:`page` serves, in ``seq`` order, each changed entry's *current* state as a platform may see it (an
enabled entry of an enabled bank shared with the platform) or ``None``: a withdrawal, which the subscriber
applies by dropping the entry. The checkpoint is the last ``seq`` served, so entries added during a fetch
are simply served in the next page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, inspect, literal, select
from sqlalchemy.orm import Session, UOWTransaction

from jikimi.errors import ValidationError
from jikimi.store import audit
from jikimi.store.schema.banks import Bank, BankEntry, BankSignal
from jikimi.store.schema.base import UTCDateTime, utcnow
from jikimi.store.schema.feed import BankShare, FeedChange

MAX_PAGE = 5000
_BANK_FIELDS = ("enabled", "name")


def log_entries(session: Session, pairs: Sequence[tuple[int, int]]) -> None:
    """Log that entries ``(bank_id, entry_id)`` changed."""
    if pairs:
        now = utcnow()
        session.connection().execute(
            insert(FeedChange),
            [{"bank_id": b, "entry_id": e, "at": now} for b, e in pairs],
        )


def log_bank(session: Session, bank_id: int) -> None:
    """Log that every entry of a bank changed (before a bulk delete, or when its visibility changes)."""
    cols = select(BankEntry.bank_id, BankEntry.id, literal(utcnow(), UTCDateTime())).where(
        BankEntry.bank_id == bank_id
    )
    session.connection().execute(
        insert(FeedChange).from_select(["bank_id", "entry_id", "at"], cols.order_by(BankEntry.id))
    )


def log_flush(session: Session, flush_context: UOWTransaction) -> None:
    """``after_flush`` hook: the session still lists what was new, dirty and deleted, with ids assigned."""
    pairs: list[tuple[int, int]] = []
    banks: set[int] = set()
    for obj in session.new:
        if isinstance(obj, BankEntry):
            pairs.append((obj.bank_id, obj.id))
        elif isinstance(obj, BankShare):
            banks.add(obj.bank_id)
    for obj in session.dirty:
        if isinstance(obj, BankEntry) and session.is_modified(obj, include_collections=False):
            pairs.append((obj.bank_id, obj.id))
        elif isinstance(obj, BankSignal) and session.is_modified(obj, include_collections=False):
            pairs.append((obj.entry.bank_id, obj.entry_id))  # a hash's quality learnt later
        elif isinstance(obj, Bank):
            state = inspect(obj)
            if any(state.attrs[f].history.has_changes() for f in _BANK_FIELDS):
                banks.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, BankEntry):
            pairs.append((obj.bank_id, obj.id))
        elif isinstance(obj, BankShare):
            banks.add(obj.bank_id)
    log_entries(session, [p for p in dict.fromkeys(pairs) if p[0] not in banks])
    for bank_id in sorted(banks):
        log_bank(session, bank_id)


# -- sharing -------------------------------------------------------------------------------------------
def _platform(platform: str) -> str:
    p = platform.strip()
    if not p or len(p) > 200:
        raise ValidationError(
            "not a platform name: {platform}",
            code="store.platform_invalid",
            hint="use the partner account's platform",
            platform=repr(platform),
        )
    return p


def share_bank(session: Session, bank: Bank, platform: str, *, actor: str | None = None) -> bool:
    """Share a bank with a platform (its partners' feed then serves the bank's entries). False if it was."""
    p = _platform(platform)
    if session.get(BankShare, (bank.id, p)) is not None:
        return False
    who = actor or audit.default_actor()
    session.add(BankShare(bank_id=bank.id, platform=p, created_by=who[:200]))
    session.flush()
    audit.append(
        session, actor=who, action="bank.share", subject=f"bank:{bank.name}", details={"platform": p}
    )
    return True


def unshare_bank(session: Session, bank: Bank, platform: str, *, actor: str | None = None) -> bool:
    """Stop sharing; the platform's feed withdraws every entry of the bank. False if it was not shared."""
    row = session.get(BankShare, (bank.id, _platform(platform)))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.append(
        session,
        actor=actor or audit.default_actor(),
        action="bank.unshare",
        subject=f"bank:{bank.name}",
        details={"platform": row.platform},
    )
    return True


def shared_bank_names(session: Session, platform: str) -> list[str]:
    """The banks shared with ``platform``: all a partner of that platform may look hashes up in."""
    return list(
        session.scalars(
            select(Bank.name)
            .join(BankShare, BankShare.bank_id == Bank.id)
            .where(BankShare.platform == platform.strip())
            .order_by(Bank.name)
        )
    )


def shares(session: Session, bank: Bank) -> list[str]:
    return list(
        session.scalars(
            select(BankShare.platform).where(BankShare.bank_id == bank.id).order_by(BankShare.platform)
        )
    )


# -- the feed ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedPage:
    #: ``(seq, entry_id, entry or None)`` in seq order, one per entry (at its last change in the page).
    changes: list[tuple[int, int, dict[str, Any] | None]]
    #: The checkpoint to resume from: the last seq read (``after`` if nothing was).
    checkpoint: int
    more: bool


def entry_for_partner(entry: BankEntry, bank_name: str) -> dict[str, Any]:
    """What a partner learns of an entry: its hashes, bank and labels (never case, note, source or URI).

    Each single hash by our signal name (``pdq``, ``md5``... with ``pdq_quality``), ``video`` when it is a
    video, and ``signals``: ``{python-threatexchange signal name: value}`` for the single hashes that
    python-threatexchange's type of that name covers (an image's MD5 is no ``video_md5``)."""
    from jikimi.signals import registry

    kind = "video" if entry.is_video() else "image"
    signals = {
        sig.exchange_name(): values[0].value
        for sig, values in ((registry.hash_signal(n), vs) for n, vs in entry.values().items())
        if sig.single and sig.exchanged_for(kind)
    }
    return {
        "id": entry.id,
        "bank": bank_name,
        **entry.hashes(),
        "video": entry.is_video(),
        "signals": signals,
        "labels": sorted(entry.labels or []),
        "added_at": entry.added_at.isoformat(),
    }


def page(session: Session, platform: str, *, after: int = 0, limit: int = 1000) -> FeedPage:
    """The changes after ``after`` as the platform sees them."""
    limit = max(1, min(int(limit), MAX_PAGE))
    rows = list(
        session.execute(
            select(FeedChange.seq, FeedChange.entry_id)
            .where(FeedChange.seq > after)
            .order_by(FeedChange.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {r.entry_id for r in rows}
    visible: dict[int, dict[str, Any]] = {}
    if ids:
        q = (
            select(BankEntry, Bank.name)
            .join(Bank, Bank.id == BankEntry.bank_id)
            .join(BankShare, and_(BankShare.bank_id == Bank.id, BankShare.platform == platform))
            .where(BankEntry.id.in_(ids), BankEntry.enabled.is_(True), Bank.enabled.is_(True))
        )
        visible = {e.id: entry_for_partner(e, name) for e, name in session.execute(q)}
    last = {r.entry_id: r.seq for r in rows}
    changes = [(r.seq, r.entry_id, visible.get(r.entry_id)) for r in rows if last[r.entry_id] == r.seq]
    return FeedPage(changes, rows[-1].seq if rows else after, more)
