"""The items every source yields: one media object with its bytes opener, a stable key and its sighting."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jikimi.errors import JikimiError, Message
from jikimi.media.sniff import describe_unknown, sniff

ItemStatus = Literal["media", "unresolved", "failed"]

MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
        ".heic", ".heif", ".avif",
        ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp", ".wmv", ".flv", ".mpg", ".mpeg", ".ts",
    }
)  # fmt: skip
"""File name endings taken as images or videos without looking at the bytes."""

ARCHIVE_EXTENSIONS = frozenset({".zip"})

SNIFF_BYTES = 512
"""How many leading bytes are read to tell the type of a file."""


class SourceError(JikimiError):
    """A whole source cannot be read (missing folder, not an export, bad URL list), or one item's bytes."""


@dataclass(frozen=True)
class SourceLimits:
    """Bounds every source keeps, so a hostile folder, archive, export or server cannot exhaust us."""

    max_item_bytes: int = 512 * 1024 * 1024
    """Largest single media object read into memory."""
    max_files: int = 2_000_000
    """Most directory entries visited in one folder walk."""
    max_dir_depth: int = 64
    zip_max_entries: int = 100_000
    zip_max_total_bytes: int = 16 * 1024 * 1024 * 1024
    """Sum of the uncompressed sizes across one archive (and the archives nested in it)."""
    zip_max_ratio: float = 100.0
    """Largest uncompressed/compressed ratio of one member (zip bombs compress about 1000:1)."""
    zip_max_depth: int = 2
    """1 reads only the top archive; 2 also opens archives inside it, and so on."""
    telegram_max_json_bytes: int = 1024 * 1024 * 1024
    telegram_max_html_bytes: int = 64 * 1024 * 1024
    telegram_max_pages: int = 100_000
    size_slack_ratio: float = 1.5
    """A file larger than this times (plus 64 KiB) the size an export or archive states is refused."""
    url_max_bytes: int = 200 * 1024 * 1024
    url_timeout: float = 30.0
    url_max_redirects: int = 5
    max_urls: int = 100_000


DEFAULT_LIMITS = SourceLimits()


@dataclass(frozen=True)
class Sighting:
    """Where and how one media object was seen: the context a case file and a takedown notice need.

    ``date`` is UTC-aware when the source carried a unix time (or an offset); otherwise ``date_local``
    keeps the source's own local-time text (Telegram's ``date`` field, the HTML export's ``title``).
    """

    source_kind: str
    """"file", "zip", "telegram" or "url"."""
    location: str
    """A path, ``archive.zip!member/name.jpg``, a path inside the export, or a URL."""
    container: str | None = None
    """The folder, archive, export folder or links file the item came from."""
    chat_name: str | None = None
    chat_type: str | None = None
    chat_id: str | None = None
    message_id: int | None = None
    date: datetime | None = None
    date_local: str | None = None
    sender: str | None = None
    sender_id: str | None = None
    forwarded_from: str | None = None
    forwarded_from_id: str | None = None
    text: str = ""
    """The text posted with the media (caption or message text)."""
    nearby_text: str = ""
    """Text of the neighbouring messages (same chat, a few messages and minutes around), for context."""
    link: str | None = None
    """A link to the original: the URL fetched, or a t.me/c link for supergroups and channels."""
    media_type: str | None = None
    """photo, video_file, animation, sticker, video_message, file, thumbnail..."""
    mime_type: str | None = None
    declared_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO 8601)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass
class Item:
    """One thing a scan handles.

    ``status`` is "media" (bytes can be read with :meth:`read`), "unresolved" (the source says media was
    posted but its bytes are not there, e.g. a Telegram message whose file was not exported) or "failed"
    (``message`` says why, a catalogued :class:`~jikimi.errors.Message`: a path escaping the export, an
    archive member too large...; ``reason`` is its English). ``key`` is stable: scanning the same source twice
    gives the same keys, so a scan can resume and stay idempotent.
    """

    key: str
    name: str
    sighting: Sighting
    status: ItemStatus = "media"
    message: Message | None = None
    size: int | None = None
    path: Path | None = None
    """For items that are a checked regular file on disk: its resolved path (``read`` re-checks it)."""
    opener: Callable[[], bytes] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "media"

    @property
    def reason(self) -> str | None:
        """Why the item is failed or unresolved, in English (``message`` keeps it as data)."""
        return self.message.render() if self.message is not None else None

    def read(self) -> bytes:
        """The item's bytes. Raises :class:`SourceError` (with the reason) for failed or unresolved items,
        or when the bytes cannot be read now (file removed, grew past the limit, corrupt archive member)."""
        if self.status != "media" or self.opener is None:
            if self.message is not None:
                raise SourceError(self.message, code="sources.no_media")
            raise SourceError(
                "no media bytes for {location}", code="sources.no_media", location=self.sighting.location
            )
        try:
            return self.opener()
        except SourceError:
            raise
        except (OSError, ValueError, EOFError, RuntimeError) as exc:
            raise SourceError(
                "cannot read {location}: {detail}",
                code="sources.unreadable",
                hint="check the file is still there and readable",
                location=self.sighting.location,
                detail=str(exc),
            ) from exc


def make_key(kind: str, *parts: str | int | None) -> str:
    """A stable, fixed-length item key from what identifies the item inside its source."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{kind}:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}"


def failed_item(key: str, name: str, sighting: Sighting, reason: Message | JikimiError) -> Item:
    """An item that cannot be scanned, with why (a catalogued message, or the error that stopped it)."""
    message = reason.message if isinstance(reason, JikimiError) else reason
    return Item(key=key, name=name, sighting=sighting, status="failed", message=message)


_MIME_BY_FORMAT = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
    "AVI": "video/x-msvideo",
    "WEBM": "video/webm",
    "MKV": "video/x-matroska",
    "MP4": "video/mp4",
    "MOV": "video/quicktime",
    "3GP": "video/3gpp",
    "FLV": "video/x-flv",
    "MPEG": "video/mpeg",
}
ZIP_MIME = "application/zip"


def sniff_mime(head: bytes) -> str | None:
    """The MIME type the leading bytes show: images and videos (by :func:`jikimi.media.sniff`), zip
    archives, or None."""
    if not head:
        return None
    found = sniff(head)
    if found is not None:
        return _MIME_BY_FORMAT.get(found.format, f"{found.kind}/{found.format.lower()}")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP_MIME
    return None


def describe_bytes(head: bytes) -> str:
    """A short description of what non-media bytes look like, for reasons ("looks like HTML/XML text")."""
    return describe_unknown(head)


def is_visual_mime(mime: str | None) -> bool:
    return bool(mime) and (str(mime).startswith("image/") or str(mime).startswith("video/"))


def read_regular_file(path: Path, max_bytes: int, *, expected_size: int | None = None) -> bytes:
    """Read a checked regular file (not following a symlink swapped in at the last step), <= max_bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise SourceError("{name} is not a regular file", code="sources.not_regular", name=path.name)
        if st.st_size > max_bytes:
            raise SourceError(
                "{name} is {size} bytes, over the {limit}-byte limit",
                code="sources.too_large",
                hint="raise the item size limit if this file is expected",
                name=path.name,
                size=st.st_size,
                limit=max_bytes,
            )
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(
            "{name} grew past the {limit}-byte limit while reading",
            code="sources.too_large",
            name=path.name,
            limit=max_bytes,
        )
    if expected_size is not None and len(data) != expected_size:
        raise SourceError(
            "{name} changed while scanning ({before} bytes, now {now})",
            code="sources.changed",
            name=path.name,
            before=expected_size,
            now=len(data),
        )
    return data


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def far_larger(actual: int, declared: int | None, limits: SourceLimits) -> bool:
    """True when ``actual`` is far beyond the size a manifest (export, archive header) declared."""
    if declared is None or declared < 0:
        return False
    return actual > declared * limits.size_slack_ratio + 64 * 1024


class Source:
    """Base class: iterate a source to get its :class:`Item` s; ``counts`` tallies them as they go."""

    kind: str = "source"

    def __init__(self, location: str, limits: SourceLimits | None = None) -> None:
        self.location = location
        self.limits = limits or DEFAULT_LIMITS
        self.counts: dict[str, int] = {"media": 0, "unresolved": 0, "failed": 0, "skipped": 0}

    def __iter__(self) -> Iterator[Item]:
        for item in self._items():
            self.counts[item.status] = self.counts.get(item.status, 0) + 1
            yield item

    def _items(self) -> Iterator[Item]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"
