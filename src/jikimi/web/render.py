"""The Jinja2 environment: autoescaped templates, the asset URL helper and the chart functions."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from jikimi.web import charts

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
    return env
