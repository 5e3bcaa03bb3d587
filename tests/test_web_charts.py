"""Server-rendered charts: labels are escaped and never overlap, whatever the number of points."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from jikimi.web.charts import bar_chart, line_chart

weeks = st.lists(st.integers(0, 99), min_size=1, max_size=60).map(
    lambda xs: [(f"2026-W{i:02d}", float(v)) for i, v in enumerate(xs)]
)


def _label_xs(svg: str) -> list[float]:
    return [float(x) for x in re.findall(r'<text class="label" x="([\d.]+)"', svg)]


@given(weeks)
def test_axis_labels_do_not_overlap(points: list[tuple[str, float]]) -> None:
    for chart in (bar_chart, line_chart):
        xs = _label_xs(str(chart(points, title="t")))
        assert xs, "the first label is always shown"
        gaps = [b - a for a, b in itertools.pairwise(xs)]
        assert all(g >= len("2026-W00") * 6 for g in gaps), gaps


def test_labels_are_escaped_and_empty_charts_say_so() -> None:
    svg = str(bar_chart([("<script>", 1.0)], title="x"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "No data yet" in str(line_chart([], title="x"))
