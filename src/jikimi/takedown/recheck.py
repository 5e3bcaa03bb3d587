"""Scheduled re-checks of reported URLs: is the content gone (404/410/451, a page that no longer serves it)?

URLs are fetched with ``jikimi.sources.urls.safe_fetch`` (public addresses only, also after redirects). A URL
that now redirects to another place is recorded and not counted as removed; a network error or a refusal
is recorded and retried at the next check. A removed URL is checked again now and then: if it serves the
same content again, the item is ``reappeared`` and a re-upload alert is raised on its case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from jikimi.store import audit
from jikimi.store.db import Store
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.takedown import TakedownCheck, TakedownItem
from jikimi.takedown import tracking
from jikimi.takedown.directory import load_directory

GONE = frozenset({404, 410, 451})
REAPPEAR_CHECK = timedelta(days=7)
ERROR_RETRY = timedelta(hours=2)
CHECKED_STATES = tracking.OPEN | {"removed", "refused"}


@dataclass
class Fetched:
    """The part of ``sources.urls.FetchResult`` a re-check reads."""

    status: int | None
    final_url: str | None
    redirects: list[str]
    content: bytes | None
    content_type: str | None
    error: str | None


Fetcher = Callable[[str], Fetched]


def default_fetcher(allow_hosts: frozenset[str] = frozenset()) -> Fetcher:
    """A fetcher on ``safe_fetch``; ``allow_hosts`` is for tests on 127.0.0.1 only."""
    from jikimi.sources.urls import safe_fetch

    def fetch(url: str) -> Fetched:
        r = safe_fetch(url, allow_hosts=allow_hosts or None)
        return Fetched(r.status, r.final_url, list(r.redirects), r.content, r.content_type, r.error)

    return fetch


@dataclass(frozen=True)
class CheckOutcome:
    item_id: int
    outcome: str  # removed | online | redirected | error | unknown
    status: int | None
    detail: str
    final_url: str | None = None
    state: str | None = None


def _place(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    return host, parts.path.rstrip("/") or "/"


def _same_content(item: TakedownItem, data: bytes) -> bool | None:
    """True/False when the bytes can be compared with the item's hashes, None when the item has none."""
    if item.sha256:
        return hashlib.sha256(data).hexdigest() == item.sha256
    if item.md5:
        return hashlib.md5(data, usedforsecurity=False).hexdigest() == item.md5
    return None


def _judge(
    item: TakedownItem, fetch: Fetcher, markers: tuple[str, ...]
) -> tuple[str, int | None, str, str | None]:
    """(outcome, status, detail, final_url) for the item's URL."""
    r = fetch(item.url)
    final = r.final_url or item.url
    if r.redirects and _place(final) != _place(item.url):
        return "redirected", r.status, f"now redirects to {final} (HTTP {r.status})", final
    if r.error and r.status is None:
        return "error", None, r.error, None
    if r.status in GONE:
        return "removed", r.status, f"HTTP {r.status}", final
    if r.error:
        return "error", r.status, r.error, final
    if r.status is None or not 200 <= r.status < 300:
        return "unknown", r.status, f"HTTP {r.status}: cannot tell whether it was removed", final
    data = r.content or b""
    same = _same_content(item, data)
    if same is True:
        return "online", r.status, "still serves the same content (hash matches)", final
    ctype = (r.content_type or "").lower()
    if ctype.startswith(("image/", "video/")):
        if same is False:
            return "removed", r.status, "serves different content (hash differs)", final
        return "unknown", r.status, "serves a file, but the item has no hash to compare", final
    text = data.decode("utf-8", errors="replace")
    for marker in markers:
        if marker and marker.lower() in text.lower():
            return "removed", r.status, f"page says the content is gone ({marker!r})", final
    if item.media_url:
        m = fetch(item.media_url)
        if m.status in GONE:
            return "removed", r.status, f"the page is up but its file is gone (HTTP {m.status})", final
        if m.status is not None and 200 <= m.status < 300 and m.content is not None:
            if _same_content(item, m.content) is False:
                return "removed", r.status, "the page no longer serves the content (file hash differs)", final
            if _same_content(item, m.content) is True:
                return "online", r.status, "the page's file still matches", final
    return (
        "online",
        r.status,
        "page still up; whether it shows the content needs a look (then `takedown mark`)",
        final,
    )


def due_items(session: Session, *, now: datetime | None = None, all_open: bool = False) -> list[int]:
    """Ids of the items whose re-check is due (``all_open``: all sent, acknowledged, refused, removed)."""
    now = now or utcnow()
    q = select(TakedownItem.id).where(TakedownItem.state.in_(CHECKED_STATES))
    if not all_open:
        q = q.where(or_(TakedownItem.next_check_at.is_(None), TakedownItem.next_check_at <= now))
    return list(session.execute(q.order_by(TakedownItem.id)).scalars())


def recheck_item(
    session: Session, item_id: int, *, fetch: Fetcher | None = None, actor: str = "system:recheck"
) -> CheckOutcome:
    """Re-check one item's URL, record the check, and move the item when the outcome says so."""
    item = session.get(TakedownItem, item_id)
    if item is None:
        raise ValueError(f"no takedown item {item_id}")
    directory = load_directory()
    platform = directory.get(item.platform) or directory["generic_host"]
    outcome, status, detail, final = _judge(item, fetch or default_fetcher(), platform.removed_markers)
    now = utcnow()
    session.add(
        TakedownCheck(
            item_id=item.id,
            checked_at=now,
            status_code=status,
            final_url=final,
            outcome=outcome,
            detail=detail,
        )
    )
    item.last_check_at = now
    item.last_check_outcome = outcome
    before = item.state
    if outcome == "redirected":
        item.redirected_to = final
    if item.state == "removed":
        if outcome == "online" and "hash matches" in detail:
            tracking.move(session, item, "reappeared", actor=actor, note=f"re-check: {detail}", at=now)
            from jikimi.takedown.reupload import raise_alert

            raise_alert(session, item, new_url=item.url, matched_by="url", actor=actor)
        item.next_check_at = now + REAPPEAR_CHECK
    elif outcome == "removed":
        tracking.move(session, item, "removed", actor=actor, note=f"re-check: {detail}", at=now)
        item.next_check_at = now + REAPPEAR_CHECK
    else:
        hours = platform.recheck_hours
        item.next_check_at = now + (ERROR_RETRY if outcome == "error" else timedelta(hours=hours))
    if item.state != before:
        audit.append(
            session,
            actor=actor,
            action=f"takedown.{item.state}",
            subject=f"takedown_item:{item.id}",
            details={"url": item.url, "status": status, "detail": detail, "final_url": final},
        )
    return CheckOutcome(item.id, outcome, status, detail, final, item.state)


def recheck_due(
    store: Store,
    *,
    fetch: Fetcher | None = None,
    all_open: bool = False,
    actor: str = "system:recheck",
    on_result: Callable[[CheckOutcome], None] | None = None,
) -> list[CheckOutcome]:
    """Re-check every due item, one transaction per item (a failure of one is recorded, the rest go on)."""
    fetch = fetch or default_fetcher()
    with store.session() as s:
        ids = due_items(s, all_open=all_open)
    results = []
    for item_id in ids:
        try:
            with store.session() as s:
                res = recheck_item(s, item_id, fetch=fetch, actor=actor)
        except Exception as exc:  # one bad item must not stop the batch
            res = CheckOutcome(item_id, "error", None, f"re-check failed: {type(exc).__name__}: {exc}")
        results.append(res)
        if on_result:
            on_result(res)
    return results
