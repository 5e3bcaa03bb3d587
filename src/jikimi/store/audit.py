"""The append-only, hash-chained audit log: who viewed, exported, sent or changed what, and when.

``append(session, actor=..., action=..., subject=..., details={...})`` adds an entry inside the caller's
transaction; it is committed (or rolled back) with the caller's other changes. Each entry's hash is
``SHA-256(prev_hash_hex || canonical_json(entry))`` where the entry is ``{"action", "actor", "at", "details",
"subject"}`` (keys sorted, UTF-8, no spaces, ``at`` as ISO 8601 UTC with microseconds). The first entry's
``prev_hash`` is 64 zeros. The position (``id``) is not hashed: the links define the order, so an entry moved
to another position is reported as reordered.

Appends are serialised by locking the one-row chain head (``audit_head``) first: on PostgreSQL a row lock held
until the caller commits, on SQLite the database write lock. Unique constraints on ``prev_hash`` and ``hash``
make a fork impossible even if that were bypassed. Keep transactions that append short: the head stays
locked until they end.

``verify(session)`` walks the chain in id order and reports the first entry that was edited, removed or
reordered (and a cut-off tail, through the head).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jikimi.store.schema.base import utcnow
from jikimi.store.schema.evidence import AuditEntry, AuditHead

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditVerification",
    "append",
    "canonical_json",
    "default_actor",
    "entries",
    "entry_hash",
    "entry_payload",
    "iso_utc",
    "verify",
]

GENESIS = "0" * 64
_HEAD_ID = 1
Problem = Literal["edited", "removed", "reordered"]


def default_actor() -> str:
    """The actor for commands run from a shell: ``cli:<user>`` (``JIKIMI_ACTOR`` overrides)."""
    env = os.environ.get("JIKIMI_ACTOR")
    if env:
        return env
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in containers without a passwd entry
        return f"cli:uid{os.getuid()}"


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text; datetimes as ISO 8601, other objects as ``str``."""

    def _default(obj: Any) -> Any:
        if isinstance(obj, datetime):
            return _iso(obj)
        if isinstance(obj, set | frozenset):
            return sorted(obj, key=str)
        return str(obj)

    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default, allow_nan=False
    )


def iso_utc(when: datetime) -> str:
    """The timestamp form that is hashed: ISO 8601 UTC with microseconds and a ``Z``."""
    return _iso(when)


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_payload(at: datetime, actor: str, action: str, subject: str, details_json: str) -> str:
    """The canonical JSON text of one entry, as hashed (``details_json`` is already canonical)."""
    head = canonical_json({"action": action, "actor": actor, "at": _iso(at), "subject": subject})
    # Splice the stored canonical details in as-is, keeping the keys sorted ("details" sorts after "at").
    before, after = head.split(',"subject":', 1)
    return f'{before},"details":{details_json},"subject":{after}'


def entry_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload.encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    """Lock the chain head for this transaction, creating it on first use."""
    for _ in range(5):
        result = session.execute(
            update(AuditHead).where(AuditHead.id == _HEAD_ID).values(updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        if getattr(result, "rowcount", 0) == 1:
            head = session.execute(
                select(AuditHead).where(AuditHead.id == _HEAD_ID).execution_options(populate_existing=True)
            ).scalar_one()
            return head
        try:
            with session.begin_nested():
                session.add(AuditHead(id=_HEAD_ID, last_id=0, last_hash=GENESIS))
        except IntegrityError:
            continue  # another writer created it first; lock it on the next round
    raise RuntimeError("could not lock the audit chain head")


def append(
    session: Session, *, actor: str, action: str, subject: str, details: Mapping[str, Any] | None = None
) -> AuditEntry:
    """Append one entry to the audit log in the caller's transaction and return it.

    ``actor`` is who did it (``cli:<user>``, ``web:<user>``, ``system``...), ``action`` a dotted verb
    (``vault.view``, ``finding.confirm``, ``evidence.export``...), ``subject`` what it was done to
    (``media:<sha256>``, ``case:12``...), ``details`` any JSON-serialisable facts. Never put explicit
    content or unmasked personal data in details.
    """
    if not actor or not action or not subject:
        raise ValueError("audit entries need an actor, an action and a subject")
    details_json = canonical_json(dict(details or {}))
    head = _lock_head(session)
    prev_hash = head.last_hash
    entry_id = head.last_id + 1
    at = utcnow()
    digest = entry_hash(prev_hash, entry_payload(at, actor, action, subject, details_json))
    entry = AuditEntry(
        id=entry_id,
        at=at,
        actor=actor[:200],
        action=action[:100],
        subject=subject[:300],
        details_json=details_json,
        prev_hash=prev_hash,
        hash=digest,
    )
    if entry.actor != actor or entry.action != action or entry.subject != subject:
        raise ValueError("audit actor/action/subject too long (200/100/300 characters)")
    session.add(entry)
    head.last_id = entry_id
    head.last_hash = digest
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditVerification:
    """The result of ``verify``: ``ok``, entries checked, the head hash, and the first problem found."""

    ok: bool
    count: int
    head_hash: str | None
    bad_entry_id: int | None = None
    problem: Problem | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "head_hash": self.head_hash,
            "bad_entry_id": self.bad_entry_id,
            "problem": self.problem,
            "detail": self.detail,
        }


def entries(session: Session, *, batch: int = 2000) -> Any:
    """Stream all entries in chain order."""
    return session.execute(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch)
    ).scalars()


def verify(session: Session) -> AuditVerification:
    """Check every entry's hash and link, in id order; report the first edited, removed or reordered entry."""
    prev_hash = GENESIS
    prev_id = 0
    count = 0

    def bad(entry_id: int, problem: Problem, detail: str) -> AuditVerification:
        return AuditVerification(False, count, None, entry_id, problem, detail)

    for e in entries(session):
        payload = entry_payload(e.at, e.actor, e.action, e.subject, e.details_json)
        if entry_hash(e.prev_hash, payload) != e.hash:
            return bad(e.id, "edited", f"entry {e.id} was changed after it was written (hash mismatch)")
        if e.prev_hash != prev_hash:
            other = session.execute(select(AuditEntry.id).where(AuditEntry.hash == e.prev_hash)).scalar()
            if other is not None:
                return bad(
                    e.id,
                    "reordered",
                    f"entry {e.id} should follow entry {other} but follows entry {prev_id or 'none'}",
                )
            if e.id != prev_id + 1:
                return bad(
                    prev_id + 1,
                    "removed",
                    f"entries {prev_id + 1}..{e.id - 1} are missing (entry {e.id} links to a removed entry)",
                )
            if e.prev_hash == GENESIS or prev_id == 0:
                return bad(e.id, "removed", f"the entries before entry {e.id} are missing")
            return bad(
                prev_id,
                "edited",
                f"entry {e.id} does not link to entry {prev_id}: entry {prev_id} was rewritten and re-hashed,"
                " "
                "or entries between them were removed and the rest renumbered",
            )
        if e.id != prev_id + 1:
            return bad(e.id, "reordered", f"entry {e.id} carries a wrong position (expected {prev_id + 1})")
        prev_hash, prev_id = e.hash, e.id
        count += 1

    head = session.get(AuditHead, _HEAD_ID)
    if head is None:
        if count:
            return bad(prev_id, "removed", "the chain head record is missing")
        return AuditVerification(True, 0, None)
    if head.last_id > prev_id:
        return bad(prev_id + 1, "removed", f"entries {prev_id + 1}..{head.last_id} at the end are missing")
    if head.last_id != prev_id or head.last_hash != prev_hash:
        return bad(prev_id, "edited", "the chain head does not match the last entry")
    return AuditVerification(True, count, prev_hash)
