"""The Jinja2 environment: autoescaped templates, the asset URL helper, the chart functions and the ``reason``
filter (lower-layer error reasons in the page's language)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from jikimi.errors import JikimiError, Message
from jikimi.web import charts
from jikimi.web.i18n import DEFAULT_LANGUAGE, translator

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")


@cache
def asset_version(name: str) -> str:
    """A short content hash for cache-busting ``/static/<name>?v=...``."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        return "0"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def asset(name: str) -> str:
    return f"/static/{name}?v={asset_version(name)}"


def reason_text(value: object, lang: str) -> str:
    """A lower layer's reason in ``lang``: a ``JikimiError`` (with what to do next, written for web pages),
    a ``Message`` or its JSON form (as kept in the database); other text as it is
    (user input, a platform's reply: nothing is parsed back)."""
    t = translator(lang)
    if isinstance(value, JikimiError):
        hint = t.hint(value)
        return t.message(value) + (f" — {hint}" if hint else "")
    if isinstance(value, Message | dict):
        return t.message(value)
    return "" if value is None else str(value)


@pass_context
def reason_filter(context: Context, value: object) -> str:
    """``{{ error|reason }}``: :func:`reason_text` in the language of the page."""
    return reason_text(value, str(context.get("lang") or DEFAULT_LANGUAGE))


def local_time(value: object, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``{{ when|kst }}``: a time in the organisation's time zone, labelled (``2026-02-01 19:00 KST``);
    naive values are UTC (as the database stores them). An ISO 8601 string with an offset is converted the
    same way; one without (a chat export's own local time) is only tidied, its zone being unknown."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from jikimi.config import org_timezone

    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if parsed.tzinfo is None:
            return parsed.strftime(fmt)
        value = parsed
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(org_timezone()))
    return f"{local.strftime(fmt)} {local.tzname() or org_timezone()}"


def face_recall() -> dict[str, float] | None:
    """What a centre should expect from face search for young Korean women (the shipped calibration):
    share of her other photos found with 1, 3 and 5 enrolment photos, and the false-match limit."""
    from jikimi.errors import JikimiError
    from jikimi.index.faces import calibration

    try:
        cal = calibration()
    except JikimiError:
        return None
    return {"one": cal.tar(1), "three": cal.tar(3), "five": cal.tar(5), "far": cal.target_far}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["asset"] = asset
    env.globals["bar_chart"] = charts.bar_chart
    env.globals["line_chart"] = charts.line_chart
    env.globals["face_recall"] = face_recall
    env.filters["reason"] = reason_filter
    env.filters["kst"] = local_time
    return env
