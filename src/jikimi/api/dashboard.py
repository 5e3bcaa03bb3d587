"""The dashboard's figures: findings and removals per month, time to removal, open notices by platform.

Findings per week come from the scan results; removals, time to removal and platforms from the takedown
figures (``jikimi.takedown.figures``: every confirmed finding with a URL becomes a takedown item).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.store.schema.scans import Finding
from jikimi.takedown import figures as takedown_figures
from jikimi.web import N_

OPEN_STATUSES = ("drafted", "approved", "sent")


def findings_per_week(s: Session, weeks: int = 12, now: datetime | None = None) -> list[tuple[str, float]]:
    """Findings created in each of the last ``weeks`` ISO weeks (oldest first), zeros included."""
    now = now or datetime.now(UTC)
    start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(weeks=weeks - 1)
    counts: dict[str, int] = {}
    for (created,) in s.execute(select(Finding.created_at).where(Finding.created_at >= start)):
        year, week, _ = created.isocalendar()
        counts[f"{year}-W{week:02d}"] = counts.get(f"{year}-W{week:02d}", 0) + 1
    out = []
    for i in range(weeks):
        year, week, _ = (start + timedelta(weeks=i)).isocalendar()
        key = f"{year}-W{week:02d}"
        out.append((key, float(counts.get(key, 0))))
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
    totals: dict[str, Any] = {}
    if total is not None and total.findings:
        totals = {
            N_("Confirmed findings"): total.findings,
            N_("Removed"): total.removed,
            N_("Removal rate"): f"{(total.removal_rate or 0) * 100:.0f}%",
            N_("Median hours to removal"): "-"
            if total.median_hours_to_removal is None
            else total.median_hours_to_removal,
        }
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
