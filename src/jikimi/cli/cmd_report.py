"""``jikimi report``: findings, notices, removal rate and time to removal, by platform and by month."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime

import typer

from jikimi.cli.common import console, emit_json, fail


def report_cmd(
    since: str = typer.Option(None, "--since", help="Only findings from this date on (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with total, platforms and months."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV rows (group, key, figures...)."),
) -> None:
    """Findings, notices, removal rate, median and p90 time from finding to removal, by platform and month."""
    from rich.table import Table

    from jikimi.errors import ValidationError
    from jikimi.store import open_store
    from jikimi.takedown.figures import FIELDS, report

    if as_json and as_csv:
        raise fail("choose one of --json and --csv", code=2)
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError as exc:
            raise ValidationError(
                "--since is not a date: {value!r}", "use YYYY-MM-DD", code="cli.date_invalid", value=since
            ) from exc
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    with open_store().session() as s:
        rows = report(s, since=when)
    if as_json:
        emit_json(
            {
                "since": when,
                "total": next(r.as_dict() for r in rows if r.group == "total"),
                "platforms": [r.as_dict() for r in rows if r.group == "platform"],
                "months": [r.as_dict() for r in rows if r.group == "month"],
            }
        )
        return
    if as_csv:
        w = csv.writer(sys.stdout)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow(["" if v is None else v for v in r.as_dict().values()])
        return
    t = Table(
        "group",
        "key",
        "findings",
        "notices",
        "sent",
        "removed",
        "refused",
        "rate",
        "median h",
        "p90 h",
        "re-uploads",
    )

    def fmt(v: float | None, pct: bool = False) -> str:
        if v is None:
            return "-"
        return f"{v * 100:.1f}%" if pct else f"{v:.1f}"

    for r in rows:
        t.add_row(
            r.group,
            r.key,
            str(r.findings),
            str(r.notices),
            str(r.notices_sent),
            str(r.removed),
            str(r.refused),
            fmt(r.removal_rate, True),
            fmt(r.median_hours_to_removal),
            fmt(r.p90_hours_to_removal),
            str(r.reupload_alerts),
        )
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
