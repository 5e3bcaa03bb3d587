"""Case priority: which victim's case to work on first.

A score from 0 to 100, the sum of (each factor in 0..1 times its weight):

=================  ======  ===========================================================================
factor             weight  measure
=================  ======  ===========================================================================
minor              25      the enrolled person is a minor (1 or 0)
explicitness       20      highest nudity (explicit) score over the case's open findings
sightings          15      log-scaled number of sightings of its media (50 or more = 1)
chats              15      log-scaled number of distinct chats or sources (10 or more = 1)
members            10      log-scaled number of distinct senders and forwarders (50 or more = 1)
recency            15      newest sighting: 1 today, halving every 30 days
=================  ======  ===========================================================================

Dismissed findings do not count. The factors are stored with the case (``Case.priority_factors``) so the
score can be explained.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.store.schema.base import utcnow
from jikimi.store.schema.scans import Case, Finding, SightingRecord

WEIGHTS = {
    "minor": 25.0,
    "explicitness": 20.0,
    "sightings": 15.0,
    "chats": 15.0,
    "members": 10.0,
    "recency": 15.0,
}
SATURATION = {"sightings": 50, "chats": 10, "members": 50}
HALF_LIFE_DAYS = 30.0


def _log_scale(n: int, full: int) -> float:
    return min(1.0, math.log1p(max(0, n)) / math.log1p(full))


def priority_score(
    *,
    minor: bool,
    explicitness: float,
    sightings: int,
    chats: int,
    members: int,
    newest: datetime | None,
    now: datetime | None = None,
) -> tuple[float, dict[str, Any]]:
    """The score and its factors (each 0..1) from the raw measures."""
    now = now or utcnow()
    age_days = max(0.0, (now - newest).total_seconds() / 86400.0) if newest else None
    factors = {
        "minor": 1.0 if minor else 0.0,
        "explicitness": max(0.0, min(1.0, explicitness)),
        "sightings": _log_scale(sightings, SATURATION["sightings"]),
        "chats": _log_scale(chats, SATURATION["chats"]),
        "members": _log_scale(members, SATURATION["members"]),
        "recency": 0.0 if age_days is None else 0.5 ** (age_days / HALF_LIFE_DAYS),
    }
    score = sum(WEIGHTS[k] * v for k, v in factors.items())
    raw = {
        "sightings_n": sightings,
        "chats_n": chats,
        "members_n": members,
        "newest": newest.isoformat() if newest else None,
    }
    return round(score, 2), {**{k: round(v, 4) for k, v in factors.items()}, **raw}


def update_priority(session: Session, case_id: int) -> float:
    """Recompute and store one case's priority from its (not dismissed) findings and their sightings."""
    case = session.get(Case, case_id)
    if case is None:
        return 0.0
    live = select(Finding.media_id).where(Finding.case_id == case_id, Finding.status != "dismissed")
    explicit = 0.0
    for (scores_json,) in session.execute(
        select(Finding.scores_json).where(Finding.case_id == case_id, Finding.status != "dismissed")
    ):
        import json

        n = json.loads(scores_json or "{}").get("nudity")
        if isinstance(n, int | float):
            explicit = max(explicit, float(n))
    in_case = SightingRecord.media_id.in_(live)
    sightings = session.scalar(select(func.count()).select_from(SightingRecord).where(in_case)) or 0
    chats = (
        session.scalar(
            select(
                func.count(func.distinct(func.coalesce(SightingRecord.chat_id, SightingRecord.container)))
            ).where(in_case)
        )
        or 0
    )
    senders = set(
        session.execute(
            select(SightingRecord.sender_id).where(in_case, SightingRecord.sender_id.is_not(None))
        ).scalars()
    )
    senders |= {
        f"fwd:{x}"
        for x in session.execute(
            select(SightingRecord.forwarded_from_id).where(
                in_case, SightingRecord.forwarded_from_id.is_not(None)
            )
        ).scalars()
    }
    newest = session.scalar(
        select(func.max(func.coalesce(SightingRecord.posted_at, SightingRecord.seen_at))).where(in_case)
    )
    if isinstance(newest, str):  # SQLite returns coalesce() of datetimes as text
        newest = datetime.fromisoformat(newest)
    if newest is not None and newest.tzinfo is None:
        from datetime import UTC

        newest = newest.replace(tzinfo=UTC)
    score, factors = priority_score(
        minor=case.minor,
        explicitness=explicit,
        sightings=sightings,
        chats=chats,
        members=len(senders),
        newest=newest,
    )
    from jikimi.store.audit import canonical_json

    case.priority = score
    case.priority_json = canonical_json(factors)
    case.updated_at = utcnow()
    return score
