"""Takedown items: the URLs where confirmed content was seen, registered once per case and URL.

``FindingRef`` is what takedown needs to know about one such URL; ``add_items`` registers them (the platform
resolved from the URL, hashes checked), ``add_item`` one. ``jikimi.takedown.findings`` makes them from the
findings a person confirmed; ``jikimi.takedown.service`` drafts the notices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.errors import ValidationError
from jikimi.store import audit
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.takedown import TakedownItem
from jikimi.takedown import tracking
from jikimi.takedown.directory import GENERIC, resolve_url


@dataclass(frozen=True)
class FindingRef:
    """What takedown needs to know about one confirmed finding (one URL where the content was seen)."""

    case_id: str
    url: str
    finding_id: str | None = None
    sha256: str | None = None
    md5: str | None = None
    pdq: str | None = None
    chat: str | None = None
    message_link: str | None = None
    media_url: str | None = None
    media_kind: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    captured_at: datetime | None = None
    found_at: datetime | None = None
    platform: str | None = None
    """Force a platform key; by default it is resolved from the URL."""


_HEX_FIELDS = (("sha256", 64), ("md5", 32), ("pdq", 64))
_FILL = ("sha256", "md5", "pdq", "chat", "message_link", "media_url", "captured_at", "first_seen")


def _new_item(ref: FindingRef, url: str, actor: str) -> TakedownItem:
    res = resolve_url(url)
    item = TakedownItem(
        case_id=str(ref.case_id),
        finding_id=None if ref.finding_id is None else str(ref.finding_id),
        url=url,
        platform=ref.platform or res.platform.key,
        chat=ref.chat or res.chat,
        message_link=ref.message_link or (url if res.platform.key == "telegram" and res.post else None),
        media_url=ref.media_url,
        media_kind=ref.media_kind,
        sha256=(ref.sha256 or None) and ref.sha256.lower(),
        md5=(ref.md5 or None) and ref.md5.lower(),
        pdq=(ref.pdq or None) and ref.pdq.lower(),
        first_seen=ref.first_seen,
        last_seen=ref.last_seen,
        captured_at=ref.captured_at,
        found_at=ref.found_at or utcnow(),
        state="found",
    )
    item.events.append(tracking.first_event(item, actor=actor, note=res.note))
    return item


def add_items(
    session: Session, refs: list[FindingRef], *, actor: str | None = None
) -> list[tuple[TakedownItem, bool]]:
    """Register the URLs of confirmed findings for takedown (idempotent per case and URL), in one flush.

    Returns each item and whether it was created. The platform is resolved from the URL (generic host if
    unknown, with a note in the item's history). A bad URL raises ``ValidationError`` before anything is
    added.
    """
    actor = actor or audit.default_actor()
    cleaned = []
    for ref in refs:
        if not ref.case_id:
            raise ValidationError("a takedown item needs a case id", code="takedown.item_no_case")
        url = ref.url.strip()
        res = resolve_url(url)  # validate all first
        if (not res.host and res.platform.key == GENERIC) or any(c.isspace() for c in url):
            raise ValidationError(
                "not a web address: {url!r}",
                "give the full link, e.g. {eg}",
                code="takedown.url_invalid",
                url=url[:200],
                eg="https://example.com/post/1",
            )
        for name, length in _HEX_FIELDS:
            value = getattr(ref, name)
            if value and not re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", value.strip()):
                raise ValidationError(
                    "the {field} hash must be {n} hex digits (0-9, a-f)",
                    code="takedown.hash_invalid",
                    field=name,
                    n=length,
                )
        cleaned.append((ref, url))
    existing: dict[tuple[str, str], TakedownItem] = {}
    for case_id in {str(ref.case_id) for ref, _ in cleaned}:
        urls = [u for ref, u in cleaned if str(ref.case_id) == case_id]
        for i in range(0, len(urls), 500):
            q = select(TakedownItem).where(
                TakedownItem.case_id == case_id, TakedownItem.url.in_(urls[i : i + 500])
            )
            for it in session.execute(q).scalars():
                existing[(case_id, it.url)] = it
    out: list[tuple[TakedownItem, bool]] = []
    for ref, url in cleaned:
        key = (str(ref.case_id), url)
        item = existing.get(key)
        if item is not None:
            for name in _FILL:
                if getattr(item, name) is None and getattr(ref, name) is not None:
                    setattr(item, name, getattr(ref, name))
            if ref.last_seen and (item.last_seen is None or ref.last_seen > item.last_seen):
                item.last_seen = ref.last_seen
            out.append((item, False))
            continue
        item = _new_item(ref, url, actor)
        session.add(item)
        existing[key] = item
        out.append((item, True))
    session.flush()
    return out


def add_item(session: Session, ref: FindingRef, *, actor: str | None = None) -> tuple[TakedownItem, bool]:
    """Register one URL of a confirmed finding (see ``add_items``)."""
    return add_items(session, [ref], actor=actor)[0]
