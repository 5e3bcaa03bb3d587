"""Takedown figures: findings, notices, removal rate, time from finding to removal (median, p90), by platform
and by month; as a report (``report``) and as Prometheus metrics (``TakedownCollector``,
``metrics_registry``)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.store.db import Store
from jikimi.store.schema.takedown import ReuploadAlert, TakedownItem, TakedownNotice


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100) like numpy's default; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Row:
    group: str  # "total" | "platform" | "month"
    key: str
    findings: int = 0
    notices: int = 0
    notices_sent: int = 0
    removed: int = 0
    refused: int = 0
    reappeared: int = 0
    reupload_alerts: int = 0
    removal_rate: float | None = None
    median_hours_to_removal: float | None = None
    p90_hours_to_removal: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELDS = tuple(Row.__dataclass_fields__)


def _month(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m")


def report(session: Session, *, since: datetime | None = None) -> list[Row]:
    """Rows for the total, each platform and each month (of the finding), for findings from ``since`` on.

    Removal rate = removed items / findings (items). Time to removal = ``removed_at - found_at`` of the
    removed items.
    Notices are counted by their platform and the month they were drafted.
    """
    iq = select(TakedownItem)
    nq = select(TakedownNotice).where(TakedownNotice.status != "withdrawn")
    aq = select(ReuploadAlert)
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        iq = iq.where(TakedownItem.found_at >= since)
        nq = nq.where(TakedownNotice.created_at >= since)
        aq = aq.where(ReuploadAlert.created_at >= since)
    rows: dict[tuple[str, str], Row] = {}
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)

    def keys_for(platform: str, when: datetime) -> list[tuple[str, str]]:
        return [("total", "all"), ("platform", platform), ("month", _month(when))]

    def row(k: tuple[str, str]) -> Row:
        if k not in rows:
            rows[k] = Row(group=k[0], key=k[1])
        return rows[k]

    rows[("total", "all")] = Row(group="total", key="all")
    item_platform: dict[int, str] = {}
    for it in session.execute(iq).scalars():
        item_platform[it.id] = it.platform
        for k in keys_for(it.platform, it.found_at):
            r = row(k)
            r.findings += 1
            if it.state == "removed":
                r.removed += 1
                if it.removed_at is not None:
                    hours[k].append(max(0.0, (it.removed_at - it.found_at).total_seconds() / 3600))
            elif it.state == "refused":
                r.refused += 1
            elif it.state == "reappeared":
                r.reappeared += 1
    for n in session.execute(nq).scalars():
        for k in keys_for(n.platform, n.created_at):
            r = row(k)
            r.notices += 1
            if n.status in ("sent", "closed"):
                r.notices_sent += 1
    for a in session.execute(aq).scalars():
        for k in keys_for(item_platform.get(a.item_id, "unknown"), a.created_at):
            row(k).reupload_alerts += 1
    for k, r in rows.items():
        r.removal_rate = round(r.removed / r.findings, 4) if r.findings else None
        med, p90 = percentile(hours[k], 50), percentile(hours[k], 90)
        r.median_hours_to_removal = None if med is None else round(med, 2)
        r.p90_hours_to_removal = None if p90 is None else round(p90, 2)
    order = {"total": 0, "platform": 1, "month": 2}
    return sorted(rows.values(), key=lambda r: (order[r.group], r.key))


def state_counts(session: Session) -> dict[tuple[str, str], int]:
    """(platform, state) → number of items."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for platform, state in session.execute(select(TakedownItem.platform, TakedownItem.state)):
        out[(platform, state)] += 1
    return dict(out)


def notice_counts(session: Session) -> dict[tuple[str, str], int]:
    """(platform, status) → number of notices."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for platform, status in session.execute(select(TakedownNotice.platform, TakedownNotice.status)):
        out[(platform, status)] += 1
    return dict(out)


class TakedownCollector:
    """A Prometheus collector reading the figures from the database at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> list[Any]:
        return []  # computed at scrape time; no registration-time query

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        with self.store.session() as s:
            rows = report(s)
            states = state_counts(s)
            notices = notice_counts(s)
            unresolved = len(
                s.execute(select(ReuploadAlert.id).where(ReuploadAlert.resolved_at.is_(None))).all()
            )
        items = GaugeMetricFamily(
            "jikimi_takedown_items",
            "Takedown items (one per reported URL) by platform and state",
            labels=["platform", "state"],
        )
        for (platform, state), n in sorted(states.items()):
            items.add_metric([platform, state], n)
        yield items
        nf = GaugeMetricFamily(
            "jikimi_takedown_notices",
            "Takedown notices by platform and status",
            labels=["platform", "status"],
        )
        for (platform, status), n in sorted(notices.items()):
            nf.add_metric([platform, status], n)
        yield nf
        by_platform = [r for r in rows if r.group in ("platform", "total")]
        findings = GaugeMetricFamily(
            "jikimi_takedown_findings", "Confirmed findings (reported URLs) by platform", labels=["platform"]
        )
        rate = GaugeMetricFamily(
            "jikimi_takedown_removal_rate", "Removed items / findings, by platform", labels=["platform"]
        )
        seconds = GaugeMetricFamily(
            "jikimi_takedown_time_to_removal_seconds",
            "Time from finding to removal of removed items, by platform and quantile",
            labels=["platform", "quantile"],
        )
        alerts = GaugeMetricFamily(
            "jikimi_takedown_reupload_alerts", "Re-upload alerts raised, by platform", labels=["platform"]
        )
        for r in by_platform:
            label = "all" if r.group == "total" else r.key
            findings.add_metric([label], r.findings)
            alerts.add_metric([label], r.reupload_alerts)
            if r.removal_rate is not None:
                rate.add_metric([label], r.removal_rate)
            for q, v in (("0.5", r.median_hours_to_removal), ("0.9", r.p90_hours_to_removal)):
                if v is not None:
                    seconds.add_metric([label, q], v * 3600)
        open_alerts = GaugeMetricFamily(
            "jikimi_takedown_open_reupload_alerts", "Re-upload alerts not yet resolved"
        )
        open_alerts.add_metric([], unresolved)
        yield open_alerts
        yield findings
        yield rate
        yield seconds
        yield alerts


def metrics_registry(store: Store) -> Any:
    """A ``prometheus_client.CollectorRegistry`` with the takedown figures (mount it at /metrics)."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(TakedownCollector(store))
    return registry
