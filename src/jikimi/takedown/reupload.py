"""Re-upload alerts: content a case had taken down, seen again.

Content a person confirmed stays known by its hashes (SHA-256, MD5, PDQ; a video's vPDQ frames through the
``jikimi-confirmed`` bank the scan matches against). When a later scan sees it again
(``scan_new_sightings`` reads the sightings the scan wrote; ``record_sighting`` takes one directly), a
``ReuploadAlert`` is raised on the original case, the new URL becomes an item of that case (drafted when the
organisation is configured), and a removed URL that serves the content again becomes ``reappeared``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.errors import JikimiError, NotFoundError, ValidationError
from jikimi.index.pdq_index import PDQIndex
from jikimi.signals.pdq import MATCH_THRESHOLD
from jikimi.store import audit
from jikimi.store.schema.banks import BankEntry
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.scans import Finding, MediaRecord, SightingRecord
from jikimi.store.schema.takedown import ReuploadAlert, TakedownCursor, TakedownItem, TakedownNotice
from jikimi.takedown import tracking
from jikimi.takedown.findings import CONFIRMED_BANK, items_for_confirmed, sighting_url
from jikimi.takedown.items import FindingRef, add_item
from jikimi.takedown.service import draft_case

SIGHTINGS_CURSOR = "reupload.sightings"


def raise_alert(
    session: Session,
    item: TakedownItem,
    *,
    new_url: str | None,
    matched_by: str,
    distance: int = 0,
    new_finding_id: str | None = None,
    seen_at: datetime | None = None,
    actor: str = "system:reupload",
) -> ReuploadAlert:
    """Raise (once per item and URL while unresolved) a re-upload alert on the item's case."""
    existing = session.execute(
        select(ReuploadAlert).where(
            ReuploadAlert.item_id == item.id,
            ReuploadAlert.new_url == new_url,
            ReuploadAlert.resolved_at.is_(None),
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    alert = ReuploadAlert(
        case_id=item.case_id,
        item_id=item.id,
        new_url=new_url,
        new_finding_id=new_finding_id,
        matched_by=matched_by,
        distance=distance,
        seen_at=seen_at or utcnow(),
    )
    session.add(alert)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="takedown.reupload_alert",
        subject=f"case:{item.case_id}",
        details={"alert": alert.id, "item": item.id, "new_url": new_url, "matched_by": matched_by},
    )
    return alert


def open_alerts(session: Session, case_id: str | None = None) -> list[ReuploadAlert]:
    q = select(ReuploadAlert).where(ReuploadAlert.resolved_at.is_(None)).order_by(ReuploadAlert.id)
    if case_id is not None:
        q = q.where(ReuploadAlert.case_id == str(case_id))
    return list(session.execute(q).scalars())


def resolve_alert(session: Session, alert_id: int, *, actor: str, reply: str | None = None) -> ReuploadAlert:
    """Mark a re-upload alert handled, with the platform's reply (kept in the audit log); twice is refused."""
    alert = session.get(ReuploadAlert, alert_id)
    if alert is None:
        raise NotFoundError("no re-upload alert {alert}", code="takedown.alert_not_found", alert=alert_id)
    if alert.resolved_at is not None:
        raise ValidationError(
            "re-upload alert {alert} was already resolved by {actor}",
            code="takedown.alert_resolved",
            alert=alert_id,
            actor=alert.resolved_by,
        )
    text = (reply or "").strip()
    if len(text) > 5000:
        raise ValidationError(
            "the platform's reply is over 5000 characters",
            "paste the relevant part",
            code="takedown.reply_too_long",
        )
    alert.resolved_at = utcnow()
    alert.resolved_by = actor
    audit.append(
        session,
        actor=actor,
        action="takedown.alert_resolved",
        subject=f"case:{alert.case_id}",
        details={"alert": alert.id, "item": alert.item_id, "new_url": alert.new_url, "reply": text or None},
    )
    return alert


def confirmed_bank_matches(session: Session, media_id: int) -> list[tuple[str, str, int]]:
    """``(original SHA-256, signal, distance)`` for each ``jikimi-confirmed`` bank entry that a scan matched
    to this media (how a re-encoded or cut video is recognised: by its vPDQ frames, or a frame by PDQ)."""
    out: list[tuple[str, str, int]] = []
    for (matches_json,) in session.execute(
        select(Finding.bank_matches_json).where(Finding.media_id == media_id)
    ).all():
        for m in json.loads(matches_json or "[]"):
            if not isinstance(m, dict) or m.get("bank") != CONFIRMED_BANK:
                continue
            entry = session.get(BankEntry, int(m.get("entry_id") or 0))
            sha256 = entry.hashes().get("sha256") if entry is not None else None
            if sha256:
                out.append((sha256, str(m.get("signal") or "bank"), int(m.get("distance") or 0)))
    return out


def item_pdq_index(session: Session) -> PDQIndex:
    """The PDQ hashes of every takedown item, indexed (labels: item ids). ``scan_new_sightings`` builds it
    once per batch; ``record_sighting`` adds the items it creates."""
    q = select(TakedownItem.id, TakedownItem.pdq).where(TakedownItem.pdq.is_not(None))
    hashed = [(iid, h) for iid, h in session.execute(q.order_by(TakedownItem.id)) if h and len(h) == 64]
    return PDQIndex.build([h for _, h in hashed], [iid for iid, _ in hashed])


def _matches(
    session: Session,
    sha256: str | None,
    md5: str | None,
    pdq: str | None,
    confirmed: Sequence[tuple[str, str, int]] = (),
    pdq_index: PDQIndex | None = None,
) -> list[tuple[TakedownItem, str, int]]:
    found: dict[int, tuple[TakedownItem, str, int]] = {}
    if sha256:
        for it in session.execute(
            select(TakedownItem).where(TakedownItem.sha256 == sha256.lower())
        ).scalars():
            found[it.id] = (it, "sha256", 0)
    if md5:
        for it in session.execute(select(TakedownItem).where(TakedownItem.md5 == md5.lower())).scalars():
            found.setdefault(it.id, (it, "md5", 0))
    if pdq and len(pdq) == 64:
        index = item_pdq_index(session) if pdq_index is None else pdq_index
        for near in index.search(pdq, MATCH_THRESHOLD):
            if near.label in found:
                continue
            near_item = session.get(TakedownItem, near.label)
            if near_item is not None:
                found[near.label] = (near_item, "pdq", near.distance)
    for original, how, dist in confirmed:
        for it in session.execute(
            select(TakedownItem).where(TakedownItem.sha256 == original.lower())
        ).scalars():
            found.setdefault(it.id, (it, how, dist))
    return sorted(found.values(), key=lambda t: (t[0].case_id, t[2], t[0].id))


@dataclass
class SightingResult:
    alerts: list[ReuploadAlert] = field(default_factory=list)
    new_items: list[TakedownItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def record_sighting(
    session: Session,
    *,
    url: str,
    sha256: str | None = None,
    md5: str | None = None,
    pdq: str | None = None,
    finding_id: str | None = None,
    seen_at: datetime | None = None,
    chat: str | None = None,
    actor: str = "system:reupload",
    draft: bool = True,
    confirmed: Sequence[tuple[str, str, int]] = (),
    pdq_index: PDQIndex | None = None,
) -> SightingResult:
    """Content seen at ``url``: if it matches a case's taken-down content, raise a re-upload alert there.

    ``confirmed`` adds what a scan's bank matching found (``confirmed_bank_matches``): a video re-upload
    matches by vPDQ although none of its own hashes equal the original's. ``pdq_index`` is
    ``item_pdq_index(session)``, kept by a caller that records many sightings (built here otherwise)."""
    out = SightingResult()
    seen = seen_at or utcnow()
    seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
    seen_cases: set[str] = set()
    for item, how, dist in _matches(session, sha256, md5, pdq, confirmed, pdq_index):
        if item.url == url:
            if item.state == "removed" and (item.removed_at is None or seen > item.removed_at):
                tracking.move(
                    session, item, "reappeared", actor=actor, note=f"seen again ({how})", at=seen_at
                )
                out.alerts.append(
                    raise_alert(
                        session,
                        item,
                        new_url=url,
                        matched_by=how,
                        distance=dist,
                        seen_at=seen_at,
                        actor=actor,
                    )
                )
            seen_cases.add(item.case_id)
            continue
        if item.case_id in seen_cases or item.state in ("found",):
            continue  # one alert per case; content not yet acted on is not a re-upload
        seen_cases.add(item.case_id)
        new_item, created = add_item(
            session,
            FindingRef(
                case_id=item.case_id,
                url=url,
                finding_id=finding_id,
                sha256=sha256,
                md5=md5,
                pdq=pdq,
                chat=chat,
                first_seen=seen_at,
                last_seen=seen_at,
                found_at=seen_at,
            ),
            actor=actor,
        )
        if not created:
            continue
        if pdq_index is not None and new_item.pdq and len(new_item.pdq) == 64:
            pdq_index.add([new_item.pdq], [new_item.id])
        out.new_items.append(new_item)
        out.alerts.append(
            raise_alert(
                session,
                item,
                new_url=url,
                matched_by=how,
                distance=dist,
                new_finding_id=finding_id,
                seen_at=seen_at,
                actor=actor,
            )
        )
        if draft:
            try:
                res = draft_case(session, item.case_id, actor=actor, item_ids=[new_item.id])
                out.notes.extend(res.notes)
            except JikimiError as exc:
                out.notes.append(f"re-upload {url} on case {item.case_id} not drafted: {exc}")
    return out


def scan_new_sightings(
    session: Session, *, actor: str = "system:reupload", limit: int = 50_000
) -> SightingResult:
    """Check the sightings recorded since the last call against taken-down content (re-upload alerts)."""
    cursor = session.get(TakedownCursor, SIGHTINGS_CURSOR)
    if cursor is None:
        cursor = TakedownCursor(name=SIGHTINGS_CURSOR, value=0)
        session.add(cursor)
    rows = session.execute(
        select(SightingRecord, MediaRecord)
        .join(MediaRecord, MediaRecord.id == SightingRecord.media_id)
        .where(SightingRecord.id > cursor.value)
        .order_by(SightingRecord.id)
        .limit(limit)
    ).all()
    out = SightingResult()
    pdq_index = item_pdq_index(session) if rows else None
    for sighting, media in rows:
        cursor.value = int(sighting.id)
        url = sighting_url(sighting)
        if url is None:
            continue
        res = record_sighting(
            session,
            url=url,
            sha256=media.sha256,
            md5=media.md5,
            pdq=media.pdq,
            seen_at=sighting.seen_at,
            chat=sighting.chat_name,
            actor=actor,
            confirmed=confirmed_bank_matches(session, media.id),
            pdq_index=pdq_index,
        )
        out.alerts.extend(res.alerts)
        out.new_items.extend(res.new_items)
        out.notes.extend(res.notes)
    cursor.updated_at = utcnow()
    return out


def sync_confirmed(
    session: Session, *, actor: str = "system:takedown"
) -> tuple[list[TakedownNotice], list[str]]:
    """Register and draft every confirmed finding that has no takedown item yet (for findings confirmed
    without drafting, e.g. by ``jikimi.cases.review.confirm_finding`` alone). Returns the drafted notices and
    notes."""
    created = items_for_confirmed(session, actor=actor)
    notices: list[TakedownNotice] = []
    notes: list[str] = []
    by_case: dict[str, list[int]] = {}
    for it in created:
        by_case.setdefault(it.case_id, []).append(it.id)
    for case_id, ids in by_case.items():
        try:
            with session.begin_nested():
                res = draft_case(session, case_id, actor=actor, item_ids=ids)
        except JikimiError as exc:
            notes.append(f"case {case_id}: {len(ids)} new item(s) not drafted: {exc}")
            continue
        notices.extend(res.notices)
        notes.extend(res.notes)
    return notices, notes
