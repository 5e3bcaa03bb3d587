"""The Jinja2 environment: autoescaped templates, the asset URL helper, the chart functions and the ``reason``
filter (lower-layer error reasons in the page's language)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from jikimi.errors import JikimiError, Message, Text
from jikimi.web import charts
from jikimi.web.i18n import DEFAULT_LANGUAGE, Translator, translator
from jikimi.web.reasons import translate_reason

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


def _message_text(message: Message, t: Translator) -> str:
    """``message`` in the language of ``t``, its parameters too; a message whose id is not catalogued yet
    (a module not converted yet, #12) is rendered in English and given to the old pattern catalogue."""
    if t.lang == "en":
        return message.render()
    if message.id not in t.catalogue:
        return translate_reason(message.render(), t.lang)
    template = t.gettext(message.id)
    if not message.params:
        return template
    values = {k: _value_text(v, t) for k, v in message.params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return message.id.format(**values)


def _value_text(value: object, t: Translator) -> object:
    if isinstance(value, JikimiError):
        return _message_text(value.message, t)
    if isinstance(value, Message):
        return _message_text(value, t)
    if isinstance(value, Text):
        return t.gettext(str(value))
    return value


def reason_text(value: object, lang: str, *, with_hint: bool = True) -> str:
    """A lower layer's reason in ``lang``: a ``JikimiError`` (with what to do next, written for web pages,
    when ``with_hint``), a ``Message`` or its JSON form (as kept in the database); other text as it is."""
    t = translator(lang)
    if isinstance(value, JikimiError):
        if value.message.id not in t.catalogue and t.lang != "en":  # not converted yet (#12): old catalogue
            return translate_reason(str(value) if with_hint else value.reason, t.lang)
        hint = _message_text(value.hint_message, t) if with_hint and value.hint_message else None
        return _message_text(value.message, t) + (f" — {hint}" if hint else "")
    if isinstance(value, Message):
        return _message_text(value, t)
    if isinstance(value, dict):
        return _message_text(Message.from_json(value), t)
    return translate_reason(None if value is None else str(value), t.lang)


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
