"""The web pages' presentation: Jinja2 templates, shipped assets (htmx, CSS, JS), ko/en translations, charts.

The page routes live in ``jikimi.api.pages``; this package has no knowledge of requests or the database.
"""

from __future__ import annotations

from jikimi.web.i18n import LANGUAGES, N_, Translator, translator
from jikimi.web.render import STATIC_DIR, TEMPLATES_DIR, environment

__all__ = ["LANGUAGES", "N_", "STATIC_DIR", "TEMPLATES_DIR", "Translator", "environment", "translator"]
