"""Takedown: the platform directory, notices in Korean, English and Japanese, approval and sending (SMTP,
PDF), tracking until removed, re-checks, re-upload alerts and removal figures.

Modules: ``directory`` (platforms, URL → platform), ``render`` (Jinja2 + gettext), ``items`` (register URLs),
``findings`` (confirmed findings → items, the confirmed bank), ``service`` (draft, approve, send, mark),
``confirm`` (confirming a finding drafts its notices), ``tracking`` (item states), ``mailer``, ``pdf``,
``recheck``, ``reupload``, ``figures``.
"""

from jikimi.takedown.directory import Platform, get_platform, load_directory, resolve_url

__all__ = ["Platform", "get_platform", "load_directory", "resolve_url"]
