"""Takedown: the platform directory, notices in Korean, English and Japanese, approval and sending (SMTP,
PDF), tracking until removed, re-checks, re-upload alerts and removal figures.

Modules: ``directory`` (platforms, URL → platform), ``render`` (Jinja2 + gettext), ``service`` (draft,
approve, send, mark), ``tracking`` (item states), ``mailer``, ``pdf``, ``recheck``, ``reupload``, ``figures``.
"""

from jikimi.takedown.directory import Platform, get_platform, load_directory, resolve_url

__all__ = ["Platform", "get_platform", "load_directory", "resolve_url"]
