"""Hashes a victim (or staff at intake) made in the browser, StopNCII-style: only hashes reach the server.

The web page (``/my-case/hash``, ``/cases/<id>/hash``) computes PDQ (with its 8 dihedral variants) and MD5
of photos and MD5 of videos on the device; :func:`submit_hashes` records the consent (who, when, which
statement; audited) and adds the hashes to the case's own bank, ``victim-case-<id>``. From then on they are
bank entries like any other: every scan matches against them, and a scan that finds a copy files the
finding in this case as well (``bank_case_ids``: an entry's ``case_ref`` ``case:<id>`` names the case).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.cases.queries import get_case
from jikimi.errors import ValidationError
from jikimi.signals.pdq import DIHEDRAL, PDQSignal
from jikimi.store import audit
from jikimi.store.banks import AddResult, EntryInput, add_entry, create_bank
from jikimi.store.schema.banks import Bank, BankEntry
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.scans import Finding

BANK_PREFIX = "victim-case-"
LABEL = "self-submitted"
#: Version of the consent statement the page shows (recorded with each consent).
CONSENT_STATEMENT = "self-hash-v1"
MAX_FILES = 200
_CASE_REF = re.compile(r"^case:(\d+)$")


@dataclass
class HashedFile:
    """What the browser sends for one file: no name, no pixels, only hashes."""

    kind: Literal["image", "video"]
    md5: str
    pdq: str | None = None
    pdq_quality: int | None = None
    dihedral: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitResult:
    bank: str
    consent_at: datetime
    entries: list[AddResult]

    @property
    def created(self) -> int:
        return sum(1 for e in self.entries if e.created)


def case_bank_name(case_id: int) -> str:
    return f"{BANK_PREFIX}{int(case_id)}"


def bank_case_ids(bank_matches: Iterable[Mapping[str, Any]]) -> list[int]:
    """The cases that bank matches point to (entries whose ``case_ref`` is ``case:<id>``), in order."""
    out: list[int] = []
    for m in bank_matches:
        meta = m.get("metadata") if isinstance(m, Mapping) else None
        ref = str((meta or {}).get("case_ref") or "") if isinstance(meta, Mapping) else ""
        hit = _CASE_REF.match(ref.strip())
        if hit and int(hit.group(1)) not in out:
            out.append(int(hit.group(1)))
    return out


def _check(f: HashedFile, n: int) -> EntryInput:
    if f.kind not in ("image", "video"):
        raise ValidationError(
            "file {n}: unknown kind {kind!r}",
            code="cases.hash_kind",
            hint="use image or video",
            n=n,
            kind=f.kind,
        )
    if f.kind == "image":
        if not f.pdq:
            raise ValidationError("file {n}: a photo needs its PDQ hash", code="cases.hash_missing", n=n)
        if f.dihedral:
            unknown = sorted(set(f.dihedral) - set(DIHEDRAL))
            if unknown:
                raise ValidationError(
                    "file {n}: unknown PDQ variants {variants}",
                    code="cases.hash_variants",
                    n=n,
                    variants=", ".join(unknown),
                )
            if f.dihedral.get("original", f.pdq).lower() != f.pdq.lower():
                raise ValidationError(
                    "file {n}: the original PDQ variant differs from the PDQ hash",
                    code="cases.hash_variants",
                    n=n,
                )
    elif f.pdq or f.dihedral:
        raise ValidationError("file {n}: a video is sent by its MD5 only", code="cases.hash_kind", n=n)
    entry = EntryInput.from_hashes(
        {"pdq": f.pdq if f.kind == "image" else None, "md5": f.md5},
        quality={"pdq": f.pdq_quality if f.kind == "image" else None},
    )
    entry.normalized()  # malformed hashes -> ValidationError with the reason
    for h in f.dihedral.values():
        PDQSignal.validate(h)
    return entry


def submit_hashes(
    session: Session,
    case_id: int,
    files: Sequence[HashedFile],
    *,
    consent: bool,
    actor: str,
    via: Literal["victim", "intake"],
) -> SubmitResult:
    """Record the consent and add the hashes to the case's bank (created on first use)."""
    if not consent:
        raise ValidationError(
            "consent is required before any hash is sent",
            code="cases.consent_required",
            hint="tick the consent box and send again",
        )
    if not files:
        raise ValidationError(
            "no hashes to send", code="cases.no_hashes", hint="choose photos or videos first"
        )
    if len(files) > MAX_FILES:
        raise ValidationError(
            "at most {max} files at a time, got {n}", code="cases.too_many_files", max=MAX_FILES, n=len(files)
        )
    case = get_case(session, case_id)
    entries = [_check(f, n) for n, f in enumerate(files, start=1)]
    at = utcnow()
    when = audit.iso_utc(at)
    bank = create_bank(
        session,
        case_bank_name(case.id),
        description=f"Hashes made on the victim's own device for case {case.id} (the files never left it)",
        exist_ok=True,
        actor=actor,
    )
    audit.append(
        session,
        actor=actor,
        action="case.self_hash.consent",
        subject=f"case:{case.id}",
        details={
            "consent": True,
            "by": actor,
            "at": when,
            "via": via,
            "statement": CONSENT_STATEMENT,
            "files": len(files),
        },
    )
    results: list[AddResult] = []
    for e in entries:
        e.source = f"browser:{via}"
        e.case_ref = f"case:{case.id}"
        e.labels = [LABEL]
        e.note = f"hashed in the browser; consent by {actor} at {when}"
        results.append(add_entry(session, bank, e, actor=actor, audit_each=False))
    audit.append(
        session,
        actor=actor,
        action="bank.entry.add_many",
        subject=f"bank:{bank.name}",
        details={"count": len(results), "entries": [r.entry_id for r in results], "case": case.id},
    )
    return SubmitResult(bank.name, at, results)


@dataclass(frozen=True)
class SelfHashStatus:
    """What a victim's page shows: how many hashes she sent, when last, and how many findings matched them."""

    sent: int
    last_sent: datetime | None
    found: int


def status(session: Session, case_id: int) -> SelfHashStatus:
    name = case_bank_name(case_id)
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        return SelfHashStatus(0, None, 0)
    sent, last = session.execute(
        select(func.count(), func.max(BankEntry.added_at)).where(BankEntry.bank_id == bank.id)
    ).one()
    found = sum(
        1
        for f in session.scalars(select(Finding).where(Finding.case_id == case_id))
        if any(isinstance(m, Mapping) and m.get("bank") == name for m in f.bank_matches)
    )
    return SelfHashStatus(int(sent or 0), last, found)
