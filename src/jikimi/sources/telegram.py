"""Telegram Desktop exports (JSON ``result.json``, single chat or full account; HTML ``messages*.html``): each
media file with its chat, message, date, sender, forwarded-from and text; media that was not exported as
unresolved sightings; every path confined to the export folder."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

from jikimi.errors import Message
from jikimi.sources.base import (
    MEDIA_EXTENSIONS,
    Item,
    ItemStatus,
    Sighting,
    Source,
    SourceError,
    SourceLimits,
    failed_item,
    far_larger,
    make_key,
    read_regular_file,
)

NOT_EXPORTED_PREFIXES = ("(File not included", "(File unavailable", "(File exceeds maximum size")
"""What Telegram writes in a path field when the file itself was not saved."""

#: Telegram's own notes on media it did not export, catalogued so that pages show them in Korean.
_NOTES = {
    m.id: m
    for m in (
        Message("File not included. Change data exporting settings to download."),
        Message("File exceeds maximum size. Change data exporting settings to download."),
        Message("Not included, change data exporting settings to download."),
    )
}


def _note(text: str) -> Message:
    """What the export says about media it did not include: catalogued when known, else as it is."""
    return _NOTES.get(text) or Message("{note}", {"note": text})


_VISUAL_MEDIA_TYPES = frozenset({"video_file", "animation", "video_message", "sticker"})
_AUDIO_MEDIA_TYPES = frozenset({"voice_message", "audio_file"})
_LINKABLE_CHAT_TYPES = frozenset(
    {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}
)
_NEARBY_MESSAGES = 3
_NEARBY_SECONDS = 600
_NEARBY_MAX_CHARS = 2000


def is_telegram_export(path: Path) -> bool:
    """A folder with ``result.json``, ``messages*.html`` or a full HTML export (``export_results.html``)."""
    if path.is_file():
        return path.name == "result.json" or bool(re.fullmatch(r"messages\d*\.html", path.name))
    if not path.is_dir():
        return False
    if (path / "result.json").is_file() or (path / "export_results.html").is_file():
        return True
    return any(re.fullmatch(r"messages\d*\.html", p.name) for p in path.glob("messages*.html"))


def flatten_text(value: Any) -> str:
    """Telegram's ``text``: a string, or a list mixing strings and ``{type, text, href?}`` objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def _unix_date(value: Any) -> datetime | None:
    try:
        seconds = int(str(value))
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text or None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _not_exported(value: str) -> bool:
    return value.startswith(NOT_EXPORTED_PREFIXES) or (value.startswith("(") and value.endswith(")"))


class _PathRefused(SourceError):
    """A media path refused (absolute, ``..``, outside the export...), with why."""

    missing = False


class _PathMissing(_PathRefused):
    """A media path whose file is just absent from the export (the item is unresolved, not failed)."""

    missing = True


def _lexical_check(rel: str) -> str:
    """``rel`` with forward slashes; refuses empty, NUL, absolute, drive-letter and ``..`` paths."""
    if not rel or "\x00" in rel:
        raise _PathRefused("empty or invalid media path", code="sources.media_path_refused")
    norm = rel.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise _PathRefused("absolute media path refused: {rel!r}", code="sources.media_path_refused", rel=rel)
    if any(part == ".." for part in PurePosixPath(norm).parts):
        raise _PathRefused(
            "media path escapes the export folder: {rel!r}", code="sources.media_path_refused", rel=rel
        )
    return norm


def resolve_inside(root: Path, rel: str, base: Path | None = None) -> Path:
    """The real path of ``rel`` (relative to ``base``, default ``root``), refusing anything outside ``root``.

    ``root`` must already be resolved. Refuses absolute paths, drive letters, ``..`` components, NUL bytes and
    symbolic links that lead outside; raises ``_PathRefused`` (``missing=True`` when the file is just absent).
    """
    norm = _lexical_check(rel)
    candidate = (base or root) / norm
    try:
        real = candidate.resolve(strict=True)
    except FileNotFoundError:
        if candidate.is_symlink():
            raise _PathRefused(
                "media path is a broken symbolic link: {rel!r}", code="sources.media_path_refused", rel=rel
            ) from None
        raise _PathMissing(
            "media file missing from the export: {rel}", code="sources.media_missing", rel=rel
        ) from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on some Pythons
        raise _PathRefused(
            "media path cannot be resolved: {rel!r} ({detail})",
            code="sources.media_path_refused",
            rel=rel,
            detail=str(exc),
        ) from None
    if not real.is_relative_to(root):
        raise _PathRefused(
            "media path leads outside the export folder (symbolic link?): {rel!r}",
            code="sources.media_path_refused",
            rel=rel,
        )
    if not real.is_file():
        raise _PathRefused(
            "media path is not a regular file: {rel!r}", code="sources.media_path_refused", rel=rel
        )
    return real


class _Resolver:
    """:func:`resolve_inside` with the real path of each folder remembered: an export has thousands of files
    in a handful of folders, and resolving every path component by component costs ~150 us a file. A file
    that is itself a symbolic link still takes the full check."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: dict[tuple[Path, str], Path] = {}

    def resolve(self, rel: str, base: Path) -> tuple[Path, int]:
        """(real path, size) of a regular file inside the root; raises ``_PathRefused``."""
        norm = _lexical_check(rel)
        parent_rel, _, name = norm.rpartition("/")
        real_parent = self._dirs.get((base, parent_rel))
        if real_parent is None or name in ("", "."):
            real = resolve_inside(self.root, rel, base)
            if (base / norm).parent.resolve() == real.parent:  # the file itself was not a link elsewhere
                self._dirs[(base, parent_rel)] = real.parent
            return real, real.stat().st_size
        candidate = real_parent / name
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            raise _PathMissing(
                "media file missing from the export: {rel}", code="sources.media_missing", rel=rel
            ) from None
        except OSError as exc:
            raise _PathRefused(
                "media path cannot be read: {rel!r} ({detail})",
                code="sources.media_path_refused",
                rel=rel,
                detail=str(exc.strerror or exc),
            ) from None
        if stat.S_ISLNK(st.st_mode):
            real = resolve_inside(self.root, rel, base)
            return real, real.stat().st_size
        if not stat.S_ISREG(st.st_mode):
            raise _PathRefused(
                "media path is not a regular file: {rel!r}", code="sources.media_path_refused", rel=rel
            )
        return candidate, st.st_size


@dataclass
class _Message:
    """What the JSON and HTML readers agree on about one message."""

    index: int
    message_id: int | None
    is_service: bool
    date: datetime | None
    date_local: str | None
    sender: str | None
    sender_id: str | None
    forwarded_from: str | None
    forwarded_from_id: str | None
    text: str
    media: list[tuple[str, str, str | None, int | None]] = field(default_factory=list)
    """(media_type, path or not-exported marker, mime, declared size)."""
    unresolved: list[tuple[str, Message]] = field(default_factory=list)
    """(media_type, reason) for media the export did not include."""
    problem: Message | None = None


@dataclass
class _Chat:
    name: str | None
    type: str | None
    id: str | None
    label: str
    """Identifies the chat inside the export for keys (the chat id or its position)."""
    doc: str
    """The export file the chat's messages come from, for sighting locations."""
    base: Path
    """The folder the chat's media paths are relative to."""
    messages: list[_Message]


class TelegramExportSource(Source):
    """The media of a Telegram Desktop export folder, JSON or HTML (``result.json`` is preferred when both).

    Yields a "media" item per photo, video, animation, sticker, video message or image/video file; an
    "unresolved" item per media the export did not include (or whose file is missing); a "failed" item per
    path that is absolute, has ``..``, leads outside the folder by a symbolic link, or is far larger than the
    export states. Audio and voice messages are left out. When the main file is not there but its
    thumbnail is, the thumbnail is yielded (``media_type="thumbnail"``) next to the unresolved sighting.
    """

    kind = "telegram"

    def __init__(self, path: Path, limits: SourceLimits | None = None) -> None:
        path = Path(path)
        json_name = "result.json"
        if path.is_file():
            if path.suffix.lower() == ".json":
                json_name = path.name  # a renamed result.json: media paths stay relative to its folder
            path = path.parent
        if not path.is_dir():
            raise SourceError(
                "{path} is not a folder",
                code="sources.not_a_folder",
                hint="give the Telegram export folder (with result.json)",
                path=str(path),
            )
        super().__init__(str(path), limits)
        self.root = path.resolve()
        self._root_key = str(self.root)
        self._resolver = _Resolver(self.root)
        self.json_name = json_name
        if (self.root / json_name).is_file():
            self.format = "json"
        elif is_telegram_export(self.root):
            self.format = "html"
        else:
            raise SourceError(
                "{path} is not a Telegram Desktop export",
                code="sources.not_telegram_export",
                hint="export from Telegram Desktop: Settings > Advanced > Export Telegram data",
                path=str(path),
            )

    # -- iteration -------------------------------------------------------------------------------------------
    def _items(self) -> Iterator[Item]:
        chats = self._json_chats() if self.format == "json" else self._html_chats()
        for chat in chats:
            yield from self._chat_items(chat)

    def _chat_items(self, chat: _Chat) -> Iterator[Item]:
        msgs = chat.messages
        for pos, msg in enumerate(msgs):
            if not (msg.media or msg.unresolved or msg.problem):
                continue  # a text-only message: context for its neighbours, no item of its own
            location = f"{chat.doc}#message{msg.message_id if msg.message_id is not None else msg.index}"
            sighting = self._sighting(chat, msg, _nearby(msgs, pos), location=location)
            if msg.problem:
                yield failed_item(
                    make_key("telegram", self._root_key, chat.label, msg.index, "message"),
                    f"message {msg.message_id}",
                    sighting,
                    msg.problem,
                )
                continue
            main_missing = False
            thumb: tuple[str, str, str | None, int | None] | None = None
            for slot, (media_type, rel, mime, declared) in enumerate(msg.media):
                if media_type == "thumbnail":
                    thumb = (media_type, rel, mime, declared)
                    continue
                item = self._media_item(chat, msg, sighting, slot, media_type, rel, mime, declared)
                main_missing = main_missing or item.status != "media"
                yield item
            for slot, (media_type, reason) in enumerate(msg.unresolved):
                main_missing = True
                yield Item(
                    key=make_key("telegram", self._root_key, chat.label, msg.index, "unresolved", slot),
                    name=media_type,
                    sighting=_replace(sighting, media_type=media_type),
                    status="unresolved",
                    message=reason,
                )
            if thumb is not None and main_missing and not _not_exported(thumb[1]):
                item = self._media_item(chat, msg, sighting, 99, *thumb)
                if item.status == "media":
                    yield item

    def _media_item(
        self,
        chat: _Chat,
        msg: _Message,
        sighting: Sighting,
        slot: int,
        media_type: str,
        rel: str,
        mime: str | None,
        declared: int | None,
    ) -> Item:
        key = make_key("telegram", self._root_key, chat.label, msg.index, media_type, slot)
        name = PurePosixPath(rel.replace("\\", "/")).name or media_type
        if _not_exported(rel):  # the location stays "result.json#message<id>": there is no file
            s = _replace(sighting, media_type=media_type, mime_type=mime, declared_size=declared)
            return Item(
                key=key, name=media_type, sighting=s, status="unresolved", message=_note(rel.strip("()"))
            )
        base_rel = _display_rel(self.root, chat.base, rel)
        s = _replace(
            sighting, media_type=media_type, mime_type=mime, declared_size=declared, location=base_rel
        )
        try:
            real, size = self._resolver.resolve(rel, chat.base)
        except _PathRefused as exc:
            status: ItemStatus = "unresolved" if exc.missing else "failed"
            return Item(key=key, name=name, sighting=s, status=status, message=exc.message)
        limit = self.limits.max_item_bytes
        if size > limit:
            why = Message(
                "{name} is {size} bytes, over the {limit}-byte limit",
                {"name": rel, "size": size, "limit": limit},
            )
            return failed_item(key, name, s, why)
        if far_larger(size, declared, self.limits):
            why = Message(
                "{rel} is {size} bytes but the export states {declared}",
                {"rel": rel, "size": size, "declared": declared},
            )
            return failed_item(key, name, s, why)
        return Item(
            key=key,
            name=name,
            sighting=s,
            size=size,
            path=real,
            opener=lambda: read_regular_file(real, limit),
        )

    def _sighting(self, chat: _Chat, msg: _Message, nearby: str, location: str) -> Sighting:
        link = None
        if chat.type in _LINKABLE_CHAT_TYPES and chat.id and msg.message_id and msg.message_id > 0:
            link = f"https://t.me/c/{chat.id}/{msg.message_id}"
        return Sighting(
            source_kind="telegram",
            location=location,
            container=str(self.root),
            chat_name=chat.name,
            chat_type=chat.type,
            chat_id=chat.id,
            message_id=msg.message_id,
            date=msg.date,
            date_local=msg.date_local,
            sender=msg.sender,
            sender_id=msg.sender_id,
            forwarded_from=msg.forwarded_from,
            forwarded_from_id=msg.forwarded_from_id,
            text=msg.text,
            nearby_text=nearby,
            link=link,
            extra={"service": True} if msg.is_service else {},
        )

    # -- JSON ------------------------------------------------------------------------------------------------
    def _json_chats(self) -> Iterator[_Chat]:
        path = self.root / self.json_name
        data = _load_json(path, self.limits)
        if not isinstance(data, dict):
            raise SourceError(
                "{name} is not a JSON object",
                code="sources.not_telegram_export",
                hint="is this a Telegram Desktop export?",
                name=path.name,
            )
        chat_dicts: list[Any] = []
        if isinstance(data.get("messages"), list):
            chat_dicts.append(data)
        for section in ("chats", "left_chats"):
            block = data.get(section)
            if isinstance(block, dict) and isinstance(block.get("list"), list):
                chat_dicts.extend(block["list"])
        if not chat_dicts:
            raise SourceError(
                "{name} has no messages or chats",
                code="sources.not_telegram_export",
                hint="export the chat history, not only account information",
                name=path.name,
            )
        for position, chat in enumerate(chat_dicts):
            if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
                continue
            chat_id = _str_or_none(chat.get("id"))
            messages = [_json_message(i, m) for i, m in enumerate(chat["messages"])]
            yield _Chat(
                name=_str_or_none(chat.get("name")),
                type=_str_or_none(chat.get("type")),
                id=chat_id,
                label=f"json:{chat_id if chat_id else f'#{position}'}:{position}",
                doc=self.json_name,
                base=self.root,
                messages=messages,
            )

    # -- HTML ------------------------------------------------------------------------------------------------
    def _html_pages(self) -> list[Path]:
        def page_number(p: Path) -> int:
            m = re.fullmatch(r"messages(\d*)\.html", p.name)
            return int(m.group(1) or 1) if m else 0

        folders = [self.root]
        chats_dir = self.root / "chats"
        if chats_dir.is_dir() and not chats_dir.is_symlink():
            folders.extend(sorted(p for p in chats_dir.iterdir() if p.is_dir() and not p.is_symlink()))
        pages: list[Path] = []
        for folder in folders:
            found = [p for p in folder.glob("messages*.html") if re.fullmatch(r"messages\d*\.html", p.name)]
            pages.extend(sorted(found, key=page_number))
        if len(pages) > self.limits.telegram_max_pages:
            raise SourceError(
                "export has {n} HTML pages, over the limit {limit}",
                code="sources.too_many_entries",
                n=len(pages),
                limit=self.limits.telegram_max_pages,
            )
        return pages

    def _html_chats(self) -> Iterator[_Chat]:
        by_folder: dict[Path, list[Path]] = {}
        for page in self._html_pages():
            by_folder.setdefault(page.parent, []).append(page)
        for folder, pages in by_folder.items():
            name: str | None = None
            messages: list[_Message] = []
            state = _HtmlState()
            problems: list[_Message] = []
            for page in pages:
                rel_page = page.relative_to(self.root).as_posix()
                try:
                    real = resolve_inside(self.root, rel_page)
                    raw = read_regular_file(real, self.limits.telegram_max_html_bytes)
                except (SourceError, OSError) as exc:
                    detail: SourceError | str = exc if isinstance(exc, SourceError) else str(exc)
                    why = Message("{page}: {detail}", {"page": rel_page, "detail": detail})
                    problems.append(_problem_message(len(messages) + len(problems), why))
                    continue
                dom = _parse_html(raw.decode("utf-8", errors="replace"))
                name = name or _html_chat_name(dom)
                for msg in _html_messages(dom, state, start_index=len(messages)):
                    messages.append(msg)
            rel_folder = folder.relative_to(self.root).as_posix()
            yield _Chat(
                name=name,
                type=None,
                id=None,
                label=f"html:{rel_folder}",
                doc=f"{rel_folder}/messages.html" if rel_folder != "." else "messages.html",
                base=folder,
                messages=messages + problems,
            )


def _replace(s: Sighting, **changes: Any) -> Sighting:
    from dataclasses import replace

    return replace(s, **changes)


def _display_rel(root: Path, base: Path, rel: str) -> str:
    try:
        prefix = base.relative_to(root).as_posix()
    except ValueError:
        prefix = ""
    return f"{prefix}/{rel}" if prefix and prefix != "." else rel


def _nearby(msgs: Sequence[_Message], pos: int) -> str:
    me = msgs[pos]
    parts: list[str] = []
    lo, hi = max(0, pos - _NEARBY_MESSAGES), min(len(msgs), pos + _NEARBY_MESSAGES + 1)
    for other in msgs[lo:hi]:
        if other is me or not other.text or other.is_service:
            continue
        if me.date and other.date and abs((me.date - other.date).total_seconds()) > _NEARBY_SECONDS:
            continue
        parts.append(other.text)
    return "\n".join(parts)[:_NEARBY_MAX_CHARS]


def _blank_message(
    index: int, message_id: int | None, service: bool, *, problem: Message | None = None
) -> _Message:
    """A message with no date, sender, forward or text yet (the readers fill in what they find)."""
    return _Message(
        index=index,
        message_id=message_id,
        is_service=service,
        date=None,
        date_local=None,
        sender=None,
        sender_id=None,
        forwarded_from=None,
        forwarded_from_id=None,
        text="",
        problem=problem,
    )


def _problem_message(index: int, reason: Message) -> _Message:
    return _blank_message(index, None, False, problem=reason)


def _load_json(path: Path, limits: SourceLimits) -> Any:
    try:
        raw = read_regular_file(path, limits.telegram_max_json_bytes)
    except SourceError as exc:
        raise SourceError(
            "{name} cannot be read: {detail}",
            code="sources.unreadable",
            hint="raise the JSON size limit if needed",
            name=path.name,
            detail=exc,
        ) from exc
    except OSError as exc:  # ELOOP: result.json is a symbolic link; or unreadable
        raise SourceError(
            "{name} cannot be read: {detail}",
            code="sources.unreadable",
            hint="the export JSON must be a regular file",
            name=path.name,
            detail=str(exc.strerror or exc),
        ) from exc
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise SourceError(
            "{name} is nested too deeply to be a Telegram export",
            code="sources.not_telegram_export",
            name=path.name,
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(
            "{name} is not valid JSON: {detail}",
            code="sources.not_telegram_export",
            hint="re-export the chat from Telegram Desktop",
            name=path.name,
            detail=str(exc),
        ) from exc


def _json_message(index: int, m: Any) -> _Message:
    if not isinstance(m, dict):
        return _problem_message(index, Message("message #{n} is not a JSON object", {"n": index}))
    is_service = m.get("type") == "service"
    msg = _Message(
        index=index,
        message_id=_int_or_none(m.get("id")),
        is_service=is_service,
        date=_unix_date(m.get("date_unixtime")),
        date_local=_str_or_none(m.get("date")),
        sender=_str_or_none(m.get("actor" if is_service else "from") or m.get("from") or m.get("actor")),
        sender_id=_str_or_none(m.get("actor_id" if is_service else "from_id") or m.get("from_id")),
        forwarded_from=_str_or_none(m.get("forwarded_from")),
        forwarded_from_id=_str_or_none(m.get("forwarded_from_id")),
        text=flatten_text(m.get("text")),
    )
    photo = m.get("photo")
    if isinstance(photo, str):
        declared = _int_or_none(m.get("photo_file_size"))
        msg.media.append(("chat_photo" if is_service else "photo", photo, None, declared))
    file = m.get("file")
    if isinstance(file, str):
        media_type = _str_or_none(m.get("media_type"))
        mime = _str_or_none(m.get("mime_type"))
        name = _str_or_none(m.get("file_name")) or file
        audio = media_type in _AUDIO_MEDIA_TYPES or (mime or "").startswith("audio/")
        if _visual_file(media_type, mime, name) or (_not_exported(file) and not audio):
            msg.media.append((media_type or "file", file, mime, _int_or_none(m.get("file_size"))))
    thumb = m.get("thumbnail")
    if isinstance(thumb, str) and msg.media:
        msg.media.append(("thumbnail", thumb, None, _int_or_none(m.get("thumbnail_file_size"))))
    for key in ("photo", "file", "thumbnail"):
        value = m.get(key)
        if value is not None and not isinstance(value, str):
            msg.problem = Message(
                "message {id}: field {key!r} is not a path string", {"id": msg.message_id, "key": key}
            )
    return msg


def _visual_file(media_type: str | None, mime: str | None, name: str) -> bool:
    if media_type in _AUDIO_MEDIA_TYPES:
        return False
    if media_type in _VISUAL_MEDIA_TYPES:
        return not (mime and mime in {"application/x-tgsticker"})
    if mime:
        return mime.startswith(("image/", "video/"))
    return PurePosixPath(name).suffix.lower() in MEDIA_EXTENSIONS


# -- HTML parsing (stdlib parser into a small tree; nesting bounded) ---
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_MAX_HTML_DEPTH = 200


@dataclass
class _El:
    tag: str
    attrs: dict[str, str]
    children: list[_El | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def elements(self) -> Iterator[_El]:
        """Descendants, depth first (iterative)."""
        stack: list[_El] = [c for c in reversed(self.children) if isinstance(c, _El)]
        while stack:
            el = stack.pop()
            yield el
            stack.extend(c for c in reversed(el.children) if isinstance(c, _El))

    def child_divs(self, *classes: str) -> list[_El]:
        want = set(classes)
        return [c for c in self.children if isinstance(c, _El) and want <= c.classes]

    def find(self, tag: str, *classes: str) -> _El | None:
        want = set(classes)
        for el in self.elements():
            if el.tag == tag and want <= el.classes:
                return el
        return None

    def text(self, skip: frozenset[str] = frozenset()) -> str:
        out: list[str] = []
        stack: list[_El | str] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                out.append(node)
                continue
            if node.tag == "br":
                out.append("\n")
                continue
            if node is not self and skip & node.classes:
                continue
            stack.extend(reversed(node.children))
        return "".join(out)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _El("#root", {})
        self.stack: list[_El] = [self.root]
        self.overflow = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = _El(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag in _VOID:
            return
        if len(self.stack) >= _MAX_HTML_DEPTH:
            self.overflow += 1  # keep the element, flatten what is inside it
            return
        self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_El(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self.overflow and len(self.stack) >= _MAX_HTML_DEPTH:
            self.overflow -= 1
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse_html(text: str) -> _El:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def _html_chat_name(dom: _El) -> str | None:
    header = dom.find("div", "page_header")
    if header is None:
        return None
    bold = header.find("div", "text", "bold")
    name = _clean(bold.text()) if bold else ""
    return name or None


def _clean(text: str) -> str:
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


@dataclass
class _HtmlState:
    """Carried from one message (and page) to the next: "joined" messages omit the repeated sender."""

    sender: str | None = None
    forwarded_from: str | None = None


_DATE_TITLE = re.compile(
    r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\s*UTC\s*([+-])(\d{1,2}):?(\d{2}))?"
)
_WRAP_MEDIA_TYPES = {
    "photo_wrap": "photo",
    "video_file_wrap": "video_file",
    "animated_wrap": "animation",
    "sticker_wrap": "sticker",
}
_MEDIA_WRAP_CLASSES = frozenset(_WRAP_MEDIA_TYPES)
_GENERIC_MEDIA_CLASSES = {
    "media_photo": "photo",
    "media_video": "video_file",
    "media_file": "file",
}


def _html_date(title: str) -> tuple[datetime | None, str | None]:
    m = _DATE_TITLE.search(title)
    if not m:
        return None, (title.strip() or None)
    day, month, year, hh, mm, ss = (int(g) for g in m.groups()[:6])
    try:
        local = datetime(year, month, day, hh, mm, ss)
    except ValueError:
        return None, title.strip() or None
    if m.group(7):
        sign = 1 if m.group(7) == "+" else -1
        offset = timedelta(hours=int(m.group(8)), minutes=int(m.group(9))) * sign
        try:
            return local.replace(tzinfo=timezone(offset)).astimezone(UTC), local.isoformat()
        except ValueError:
            return None, local.isoformat()
    return None, local.isoformat()


def _html_messages(dom: _El, state: _HtmlState, start_index: int) -> Iterator[_Message]:
    index = start_index
    for el in dom.elements():
        if el.tag != "div" or "message" not in el.classes:
            continue
        id_match = re.fullmatch(r"message(-?\d+)", el.attrs.get("id", ""))
        message_id = int(id_match.group(1)) if id_match else None
        if "service" in el.classes:
            state.sender = None
            state.forwarded_from = None
            body = el.find("div", "body")
            msg = _blank_message(index, message_id, True)
            msg.text = _clean(body.text()) if body else ""
            _html_media(el, msg, service=True)
            if msg.media or (message_id is not None and message_id > 0):
                yield msg
                index += 1
            continue
        bodies = [c for c in el.child_divs("body") if "forwarded" not in c.classes]
        body = bodies[0] if bodies else el
        msg = _blank_message(index, message_id, False)
        date_div = next((c for c in body.child_divs("date", "details")), None)
        if date_div is not None:
            msg.date, msg.date_local = _html_date(date_div.attrs.get("title", ""))
        from_div = next(iter(body.child_divs("from_name")), None)
        if from_div is not None:
            sender = _clean(from_div.text(skip=frozenset({"details"})))
            sender = re.sub(r"\s+via @\S+$", "", sender)
            state.sender = sender or None
            state.forwarded_from = None
        msg.sender = state.sender
        forwarded = next(iter(body.child_divs("forwarded", "body")), None)
        content = body
        if forwarded is not None:
            fwd_name = next(iter(forwarded.child_divs("from_name")), None)
            if fwd_name is not None:
                state.forwarded_from = _clean(fwd_name.text(skip=frozenset({"details"}))) or None
            msg.forwarded_from = state.forwarded_from
            content = forwarded
        text_div = next(iter(content.child_divs("text")), None)
        msg.text = _clean(text_div.text()) if text_div else ""
        _html_media(content, msg)
        yield msg
        index += 1


def _html_media(scope: _El, msg: _Message, *, service: bool = False) -> None:
    for wrap in scope.elements():
        if wrap.tag not in ("a", "div"):
            continue
        classes = wrap.classes
        href = wrap.attrs.get("href", "") if wrap.tag == "a" else ""
        if href.startswith(("http://", "https://", "mailto:", "tel:", "#", "javascript:")) or (
            href and re.fullmatch(r"messages\d*\.html.*", href)
        ):
            continue
        if service and "userpic_link" in classes and href:
            msg.media.append(("chat_photo", href, None, None))  # "changed group photo"
            continue
        wrap_kind = next((c for c in classes if c in _MEDIA_WRAP_CLASSES), None)
        if wrap_kind and href:
            media_type = _WRAP_MEDIA_TYPES[wrap_kind]
            msg.media.append((media_type, href, None, None))
            continue
        if "media" not in classes:
            continue
        generic = next((v for k, v in _GENERIC_MEDIA_CLASSES.items() if k in classes), None)
        if generic is None:
            continue  # voice, audio, contact, location, poll...
        if href:
            if generic != "file" or PurePosixPath(href).suffix.lower() in MEDIA_EXTENSIONS:
                msg.media.append((generic, href, None, None))
        else:
            desc = wrap.find("div", "description")
            title = wrap.find("div", "title")
            note = _note(_clean(desc.text())) if desc else Message("media not included in the export")
            label = _clean(title.text()) if title else generic
            if generic != "file" or PurePosixPath(label).suffix.lower() in MEDIA_EXTENSIONS:
                msg.unresolved.append((generic, Message("{label}: {note}", {"label": label, "note": note})))
