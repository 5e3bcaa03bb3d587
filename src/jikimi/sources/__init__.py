"""Everything a scan reads from: folders, zip archives, Telegram Desktop exports and URLs, each yielding
:class:`Item` s (bytes opener, stable key, :class:`Sighting` context); plus the safe URL fetcher and the
personal-data (doxxing) detector for the text next to the media.

Entry points: :func:`open_source` (any argument by kind), :func:`safe_fetch` / :func:`safe_check`,
:func:`find_personal_data` / :func:`mask_text`.
"""

from __future__ import annotations

from jikimi.sources.archives import ZipSource
from jikimi.sources.base import (
    DEFAULT_LIMITS,
    Item,
    ItemStatus,
    Sighting,
    Source,
    SourceError,
    SourceLimits,
    sniff_mime,
)
from jikimi.sources.files import FolderSource
from jikimi.sources.opening import open_source
from jikimi.sources.personal_data import PersonalDataHit, find_personal_data, mask_text
from jikimi.sources.telegram import TelegramExportSource, flatten_text, is_telegram_export
from jikimi.sources.urls import (
    FetchResult,
    UrlSource,
    ip_problem,
    read_url_list,
    safe_check,
    safe_fetch,
    url_problem,
)

__all__ = [
    "DEFAULT_LIMITS",
    "FetchResult",
    "FolderSource",
    "Item",
    "ItemStatus",
    "PersonalDataHit",
    "Sighting",
    "Source",
    "SourceError",
    "SourceLimits",
    "TelegramExportSource",
    "UrlSource",
    "ZipSource",
    "find_personal_data",
    "flatten_text",
    "ip_problem",
    "is_telegram_export",
    "mask_text",
    "open_source",
    "read_url_list",
    "safe_check",
    "safe_fetch",
    "sniff_mime",
    "url_problem",
]
