"""Open any scan argument by kind: a folder, a file, a .zip, a Telegram export, a URL, or a file of URLs."""

from __future__ import annotations

import re
from pathlib import Path

from jikimi.sources.archives import ZipSource
from jikimi.sources.base import ARCHIVE_EXTENSIONS, Source, SourceError, SourceLimits, read_head, sniff_mime
from jikimi.sources.files import FolderSource
from jikimi.sources.telegram import TelegramExportSource, is_telegram_export
from jikimi.sources.urls import UrlSource, read_url_list


def open_source(
    arg: str | Path,
    limits: SourceLimits | None = None,
    *,
    urls_file: bool = False,
    allow_hosts: frozenset[str] | None = None,
) -> Source:
    """The source an argument names, decided in this order:

    - ``http://...`` or ``https://...``: one URL (:class:`UrlSource`);
    - ``@links.txt`` (or any path with ``urls_file=True``, the CLI's ``--urls FILE``): a text file of links,
      one per line, ``#`` comments and blank lines ignored;
    - a folder holding ``result.json``, ``messages*.html`` or ``export_results.html``, or the ``result.json``
      file itself (or any ``.json`` file: a renamed one): a Telegram Desktop export
      (:class:`TelegramExportSource`);
    - a ``.zip`` file (by name or by its bytes): :class:`ZipSource`;
    - any other folder or file: :class:`FolderSource` (images and videos, zips inside opened in place).

    Raises :class:`SourceError` (with what to do next) when the argument names nothing readable.
    ``allow_hosts`` is for tests on loopback only (see :func:`jikimi.sources.urls.safe_fetch`).
    """
    text = str(arg)
    if text.lower().startswith(("http://", "https://")):
        return UrlSource([text], limits, allow_hosts=allow_hosts)
    if text.startswith("@") or urls_file:
        path = Path(text[1:] if text.startswith("@") else text)
        return UrlSource(read_url_list(path, limits), limits, container=str(path), allow_hosts=allow_hosts)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise SourceError(
            "{text}: only http and https links can be scanned",
            code="sources.unsupported_link",
            hint="give an http(s) URL or a path",
            text=text,
        )
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(
            "{path} does not exist",
            code="sources.not_found",
            hint="check the path (a folder, a file, a .zip, an export, a URL)",
            path=str(path),
        )
    if is_telegram_export(path) or (path.is_file() and path.suffix.lower() == ".json"):
        return TelegramExportSource(path, limits)
    if path.is_file():
        is_zip = path.suffix.lower() in ARCHIVE_EXTENSIONS
        if not is_zip:
            try:
                is_zip = sniff_mime(read_head(path)) == "application/zip"
            except OSError as exc:
                raise SourceError(
                    "cannot read {location}: {detail}",
                    code="sources.unreadable",
                    location=str(path),
                    detail=str(exc.strerror or exc),
                ) from exc
        if is_zip:
            return ZipSource(path, limits)
    return FolderSource(path, limits)
