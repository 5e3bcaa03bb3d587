"""The dashboard's figures: findings awaiting review and confirmed (counted as the cases page counts them),
findings and removals per month, time to removal, open notices by platform.

Findings per week come from the scan results; removals, time to removal and platforms from the takedown
figures (``jikimi.takedown.figures``: every confirmed finding with a URL becomes a takedown item).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.store.schema.scans import Finding
from jikimi.takedown import figures as takedown_figures
from jikimi.web import N_

OPEN_STATUSES = ("drafted", "approved", "sent")


def findings_per_week(s: Session, weeks: int = 12, now: datetime | None = None) -> list[tuple[str, float]]:
    """Findings created in each of the last ``weeks`` weeks (oldest first, zeros included), the weeks
    starting on Monday in the organisation's time zone and labelled by that Monday (``12/1``)."""
    from zoneinfo import ZoneInfo

    from jikimi.config import org_timezone

    tz = ZoneInfo(org_timezone())
    now = (now or datetime.now(UTC)).astimezone(tz)
    start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(weeks=weeks - 1)
    counts: dict[int, int] = {}
    for (created,) in s.execute(select(Finding.created_at).where(Finding.created_at >= start)):
        local = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(tz)
        index = (local.date() - start.date()).days // 7
        counts[index] = counts.get(index, 0) + 1
    out = []
    for i in range(weeks):
        monday = start + timedelta(weeks=i)
        out.append((f"{monday.month}/{monday.day}", float(counts.get(i, 0))))
    return out


def figures(s: Session) -> dict[str, Any]:
    """Everything the dashboard charts, as ``(label, value)`` series (empty while there is no data)."""
    rows = takedown_figures.report(s)
    months = sorted((r for r in rows if r.group == "month"), key=lambda r: r.key)[-12:]
    platforms = sorted((r for r in rows if r.group == "platform"), key=lambda r: -r.findings)[:12]
    total = next((r for r in rows if r.group == "total"), None)
    open_by_platform: dict[str, int] = {}
    for (platform, status), n in takedown_figures.notice_counts(s).items():
        if status in OPEN_STATUSES:
            open_by_platform[platform] = open_by_platform.get(platform, 0) + n
    by_status = dict(s.execute(select(Finding.status, func.count()).group_by(Finding.status)).all())
    # Findings, as the cases page counts them (not the links to take down: one finding may be at many).
    totals: dict[str, Any] = {
        N_("Awaiting review"): int(by_status.get("new", 0)),
        N_("Confirmed findings"): int(by_status.get("confirmed", 0)),
    }
    if total is not None and total.findings:
        totals.update(
            {
                N_("Links removed"): total.removed,
                N_("Removal rate"): f"{(total.removal_rate or 0) * 100:.0f}%",
                N_("Median hours to removal"): "-"
                if total.median_hours_to_removal is None
                else total.median_hours_to_removal,
            }
        )
    return {
        "findings_per_week": findings_per_week(s),
        "removals_per_month": [(r.key, float(r.removed)) for r in months],
        "time_to_removal": [
            (r.key, float(r.median_hours_to_removal)) for r in months if r.median_hours_to_removal is not None
        ],
        "by_platform": [(r.key, float(r.findings)) for r in platforms],
        "open_by_platform": sorted(open_by_platform.items(), key=lambda kv: -kv[1])[:12],
        "totals": totals,
    }
