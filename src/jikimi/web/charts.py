"""Server-rendered SVG charts (no JavaScript): bars for counts, a line for durations. Labels are escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 560
HEIGHT = 200
PAD_L, PAD_R, PAD_T, PAD_B = 40, 10, 14, 44


STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


def _scale(value: float) -> tuple[float, int]:
    """The axis top and the number of grid steps for a largest value of ``value``: whole-number ticks (at
    most four steps), so a count never reads "0.25"."""
    if value <= 0:
        return 1.0, 1
    step = next((st for st in STEPS if value / st <= 4), None)
    if step is None:
        step = int(-(-value // 4))
    steps = max(1, int(-(-value // step)))
    return float(step * steps), steps


def _nice_max(value: float) -> float:
    return _scale(value)[0]


def _label_step(labels: Sequence[str]) -> int:
    """Show every ``step``-th axis label so that labels never overlap (10 px font: ~6 px a character)."""
    inner_w = WIDTH - PAD_L - PAD_R
    widest = max((len(label) for label in labels), default=1) * 6 + 8
    fits = max(1, int(inner_w // widest))
    return max(1, -(-len(labels) // fits))


def _shown_label(i: int, n: int, step: int) -> bool:
    """Every ``step``-th label, counted from the newest (the last point is always labelled)."""
    return (n - 1 - i) % step == 0


def _frame(title: str, top: float, unit: str, *, empty: str | None, steps: int = 4) -> list[str]:
    """The SVG opening, title and grid; with ``empty`` set, the no-data message too."""
    inner_h = HEIGHT - PAD_T - PAD_B
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(steps + 1):
        y = PAD_T + inner_h * i / steps
        val = top * (steps - i) / steps
        label = f"{val:.0f}{escape(unit)}"
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    if empty is not None:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            f"{escape(empty)}</text>"
        )
    return parts


def bar_chart(
    points: Sequence[tuple[str, float]], *, title: str = "", unit: str = "", empty: str = "No data yet"
) -> Markup:
    """A bar chart of ``(label, value)`` pairs."""
    top, steps = _scale(max((v for _, v in points), default=0))
    parts = _frame(title, top, unit, empty=None if points else empty, steps=steps)
    inner_w = WIDTH - PAD_L - PAD_R
    inner_h = HEIGHT - PAD_T - PAD_B
    n = max(len(points), 1)
    step = _label_step([label for label, _ in points])
    slot = inner_w / n
    bar_w = max(2.0, slot * 0.7)
    for i, (label, value) in enumerate(points):
        h = inner_h * (value / top) if top else 0
        x = PAD_L + slot * i + (slot - bar_w) / 2
        y = PAD_T + inner_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {value:g}{escape(unit)}</title></rect>"
        )
        if _shown_label(i, len(points), step):
            parts.append(
                f'<text class="label" x="{x + bar_w / 2:.1f}" y="{HEIGHT - PAD_B + 14}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: Sequence[tuple[str, float]], *, title: str = "", unit: str = "", empty: str = "No data yet"
) -> Markup:
    """A line chart of ``(label, value)`` pairs."""
    top, steps = _scale(max((v for _, v in points), default=0))
    parts = _frame(title, top, unit, empty=None if points else empty, steps=steps)
    inner_w = WIDTH - PAD_L - PAD_R
    inner_h = HEIGHT - PAD_T - PAD_B
    n = len(points)
    step = _label_step([label for label, _ in points])
    coords = []
    for i, (label, value) in enumerate(points):
        x = PAD_L + (inner_w * (i / (n - 1)) if n > 1 else inner_w / 2)
        y = PAD_T + inner_h - inner_h * (value / top)
        coords.append((x, y))
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{escape(label)}: {value:g}{escape(unit)}"
            "</title></circle>"
        )
        if _shown_label(i, len(points), step):
            parts.append(
                f'<text class="label" x="{x:.1f}" y="{HEIGHT - PAD_B + 14}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="line" points="{path}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
