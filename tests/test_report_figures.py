"""Removal figures: counts, removal rate, median and p90 time to removal by platform and month; the
``jikimi report`` command (--json, --csv, --since) and the Prometheus collector."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from typer.testing import CliRunner

from jikimi.cli import app
from jikimi.store import open_store
from jikimi.store.db import Store
from jikimi.takedown import service, tracking
from jikimi.takedown.figures import metrics_registry, percentile, report

OCT = datetime(2026, 10, 5, 12, tzinfo=UTC)
NOV = datetime(2026, 11, 5, 12, tzinfo=UTC)


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    s = open_store(db_url)
    yield s
    s.dispose()


def _item(s: Any, url: str, found: datetime, removed_after_h: float | None, final: str = "removed") -> None:
    item, _ = service.add_item(s, service.FindingRef(case_id="r", url=url, found_at=found), actor="t")
    for state in ("drafted", "approved", "sent"):
        tracking.move(s, item, state, actor="t", at=found)
    if removed_after_h is not None:
        tracking.move(s, item, final, actor="t", at=found + timedelta(hours=removed_after_h))


def _fill(store: Store) -> None:
    with store.session() as s:
        # Telegram: 4 findings in October, removed after 1, 2, 3 hours, one still up
        for i, h in enumerate([1.0, 2.0, 3.0, None]):
            _item(s, f"https://t.me/room/{i}", OCT, h)
        # X: 2 findings in November, one removed after 10 hours, one refused
        _item(s, "https://x.com/u/status/1", NOV, 10.0)
        _item(s, "https://x.com/u/status/2", NOV, 5.0, final="refused")


def test_report_by_platform_and_month(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        rows = {(r.group, r.key): r for r in report(s)}
    total = rows[("total", "all")]
    assert (total.findings, total.removed, total.refused) == (6, 4, 1)
    assert total.removal_rate == pytest.approx(4 / 6, abs=1e-4)
    tg = rows[("platform", "telegram")]
    assert (tg.findings, tg.removed, tg.removal_rate) == (4, 3, 0.75)
    assert tg.median_hours_to_removal == 2.0 and tg.p90_hours_to_removal == pytest.approx(2.8)
    x = rows[("platform", "x")]
    assert (x.findings, x.removed, x.median_hours_to_removal) == (2, 1, 10.0)
    assert rows[("month", "2026-10")].findings == 4 and rows[("month", "2026-11")].findings == 2
    assert total.median_hours_to_removal == 2.5
    with store.session() as s:
        since = {(r.group, r.key): r for r in report(s, since=datetime(2026, 11, 1, tzinfo=UTC))}
    assert since[("total", "all")].findings == 2 and ("platform", "telegram") not in since


def test_prometheus_collector(store: Store) -> None:
    _fill(store)
    text = generate_latest(metrics_registry(store)).decode()
    assert 'jikimi_takedown_items{platform="telegram",state="removed"} 3.0' in text
    assert 'jikimi_takedown_removal_rate{platform="telegram"} 0.75' in text
    assert 'jikimi_takedown_time_to_removal_seconds{platform="x",quantile="0.5"} 36000.0' in text
    assert 'jikimi_takedown_findings{platform="all"} 6.0' in text
    assert "jikimi_takedown_open_reupload_alerts 0.0" in text


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50))
def test_percentile_is_within_range_and_ordered(xs: list[float]) -> None:
    p50, p90 = percentile(xs, 50), percentile(xs, 90)
    assert p50 is not None and p90 is not None
    assert min(xs) <= p50 <= p90 <= max(xs)


def test_report_command_json_csv_and_since(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    store = open_store()
    _fill(store)
    store.dispose()
    runner = CliRunner()
    res = runner.invoke(app, ["report", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["total"]["findings"] == 6
    assert {p["key"] for p in data["platforms"]} == {"telegram", "x"}
    assert [m["key"] for m in data["months"]] == ["2026-10", "2026-11"]
    res = runner.invoke(app, ["report", "--csv", "--since", "2026-11-01"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows[0]["group"] == "total" and rows[0]["findings"] == "2"
    assert runner.invoke(app, ["report", "--since", "yesterday"]).exit_code == 2
    assert runner.invoke(app, ["report"]).exit_code == 0
