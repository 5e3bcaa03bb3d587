"""Zip archives read in place, never extracted: member names checked, entry count, total size, compression
ratio and nesting depth bounded; every refused member becomes a failed item with its reason."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from jikimi.errors import Message
from jikimi.sources.base import (
    ARCHIVE_EXTENSIONS,
    MEDIA_EXTENSIONS,
    SNIFF_BYTES,
    ZIP_MIME,
    Item,
    Sighting,
    Source,
    SourceError,
    SourceLimits,
    failed_item,
    is_visual_mime,
    make_key,
    sniff_mime,
)

_RATIO_MIN_BYTES = 64 * 1024


def member_path_message(name: str) -> Message | None:
    """Why an archive member name is refused (absolute, drive letter, ``..``, NUL), or None if safe."""
    if not name or "\x00" in name:
        return Message("member name is empty or contains a NUL byte")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return Message("member {name!r} has an absolute path", {"name": name})
    if any(part == ".." for part in PurePosixPath(norm).parts):
        return Message("member {name!r} escapes the archive with '..'", {"name": name})
    return None


def member_path_problem(name: str) -> str | None:
    """:func:`member_path_message` in English."""
    problem = member_path_message(name)
    return problem.render() if problem else None


class _Budget:
    """The uncompressed bytes and entries used so far, shared by an archive and the archives nested in it."""

    def __init__(self) -> None:
        self.total = 0
        self.entries = 0


class _ZipHandle:
    """One open ZipFile shared by the items' openers (zipfile serialises reads on a shared file)."""

    def __init__(self, opener: Callable[[], zipfile.ZipFile]) -> None:
        self._opener = opener
        self._zip: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    def get(self) -> zipfile.ZipFile:
        with self._lock:
            if self._zip is None:
                self._zip = self._opener()
            return self._zip

    def read(self, info: zipfile.ZipInfo, max_bytes: int) -> bytes:
        zf = self.get()
        with zf.open(info) as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise SourceError(
                "archive member {name!r} is over the {limit}-byte limit",
                code="sources.too_large",
                name=info.filename,
                limit=max_bytes,
            )
        return data


def _open_zip(data_or_path: Path | bytes) -> zipfile.ZipFile:
    if isinstance(data_or_path, bytes):
        return zipfile.ZipFile(io.BytesIO(data_or_path))
    return zipfile.ZipFile(data_or_path)


def iter_zip(
    handle_source: Path | bytes,
    *,
    container: str,
    location: str,
    limits: SourceLimits,
    depth: int = 1,
    budget: _Budget | None = None,
    key_root: str | None = None,
    counts: dict[str, int] | None = None,
) -> Iterator[Item]:
    """Yield the media members of one zip archive (a path, or bytes for a nested archive).

    ``location`` names the archive in sightings (``outer.zip!inner.zip``); ``depth`` is 1 at the top.
    A damaged or refused archive yields one failed item for the archive itself.
    """
    budget = budget or _Budget()
    key_root = key_root or location
    archive_sighting = Sighting(source_kind="zip", location=location, container=container)
    try:
        zf = _open_zip(handle_source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        why = Message("not a readable zip: {detail}", {"detail": str(exc)})
        yield failed_item(make_key("zip", key_root), location, archive_sighting, why)
        return
    handle = _ZipHandle(lambda: _open_zip(handle_source))
    with zf:
        infos = zf.infolist()
        if budget.entries + len(infos) > limits.zip_max_entries:
            yield failed_item(
                make_key("zip", key_root),
                location,
                archive_sighting,
                Message(
                    "archive has {n} entries, over the limit of {limit}",
                    {"n": len(infos), "limit": limits.zip_max_entries},
                ),
            )
            return
        budget.entries += len(infos)
        for index, info in enumerate(infos):
            if info.is_dir():
                continue
            name = info.filename
            member_loc = f"{location}!{name}"
            key = make_key("zip", key_root, index, name)
            sighting = Sighting(
                source_kind="zip", location=member_loc, container=container, declared_size=info.file_size
            )
            base = PurePosixPath(name.replace("\\", "/")).name or name
            problem = member_path_message(name)
            if problem:
                yield failed_item(key, base, sighting, problem)
                continue
            if info.flag_bits & 0x1:
                yield failed_item(
                    key, base, sighting, Message("member {name!r} is encrypted", {"name": name})
                )
                continue
            ext = PurePosixPath(base).suffix.lower()
            nested = ext in ARCHIVE_EXTENSIONS
            visual = ext in MEDIA_EXTENSIONS
            mime: str | None = None
            if not (nested or visual):
                try:
                    with zf.open(info) as fh:
                        mime = sniff_mime(fh.read(SNIFF_BYTES))
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                    why = Message(
                        "member {name!r} cannot be read: {detail}", {"name": name, "detail": str(exc)}
                    )
                    yield failed_item(key, base, sighting, why)
                    continue
                nested = mime == ZIP_MIME
                visual = is_visual_mime(mime)
                if not (nested or visual):
                    if counts is not None:
                        counts["skipped"] = counts.get("skipped", 0) + 1
                    continue
            size_problem = _size_problem(info, limits, budget)
            if size_problem:
                yield failed_item(key, base, sighting, size_problem)
                continue
            budget.total += info.file_size
            if nested:
                if depth >= limits.zip_max_depth:
                    why = Message("nested archive not opened (depth limit {n})", {"n": limits.zip_max_depth})
                    yield failed_item(key, base, sighting, why)
                    continue
                try:
                    inner = handle.read(info, limits.max_item_bytes)
                except SourceError as exc:
                    why = Message(
                        "nested archive {name!r} cannot be read: {detail}", {"name": name, "detail": exc}
                    )
                    yield failed_item(key, base, sighting, why)
                    continue
                except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                    why = Message(
                        "nested archive {name!r} cannot be read: {detail}", {"name": name, "detail": str(exc)}
                    )
                    yield failed_item(key, base, sighting, why)
                    continue
                yield from iter_zip(
                    inner,
                    container=container,
                    location=member_loc,
                    limits=limits,
                    depth=depth + 1,
                    budget=budget,
                    key_root=f"{key_root}!{index}",
                    counts=counts,
                )
                continue
            yield Item(
                key=key,
                name=base,
                sighting=Sighting(
                    source_kind="zip",
                    location=member_loc,
                    container=container,
                    declared_size=info.file_size,
                    mime_type=mime,
                ),
                size=info.file_size,
                opener=_member_opener(handle, info, limits.max_item_bytes),
            )


def _member_opener(handle: _ZipHandle, info: zipfile.ZipInfo, max_bytes: int) -> Callable[[], bytes]:
    def open_member() -> bytes:
        try:
            return handle.read(info, max_bytes)
        except zipfile.BadZipFile as exc:
            raise SourceError(
                "archive member {name!r} is corrupt: {detail}",
                code="sources.corrupt",
                name=info.filename,
                detail=str(exc),
            ) from exc

    return open_member


def _size_problem(info: zipfile.ZipInfo, limits: SourceLimits, budget: _Budget) -> Message | None:
    if info.file_size > limits.max_item_bytes:
        return Message(
            "member is {size} bytes, over the {limit}-byte limit",
            {"size": info.file_size, "limit": limits.max_item_bytes},
        )
    if info.file_size > _RATIO_MIN_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.zip_max_ratio:
            return Message(
                "member compresses {ratio}:1, over the {limit}:1 limit (zip bomb?)",
                {"ratio": f"{ratio:.0f}", "limit": f"{limits.zip_max_ratio:.0f}"},
            )
    if budget.total + info.file_size > limits.zip_max_total_bytes:
        return Message(
            "archive expands past the {limit}-byte total limit", {"limit": limits.zip_max_total_bytes}
        )
    return None


class ZipSource(Source):
    """The image and video members of a .zip file (nested archives opened up to ``limits.zip_max_depth``)."""

    kind = "zip"

    def __init__(self, path: Path, limits: SourceLimits | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise SourceError(
                "{path} is not a file",
                code="sources.not_found",
                hint="give the path of a .zip archive",
                path=str(path),
            )
        super().__init__(str(path), limits)
        self.path = path.resolve()

    def _items(self) -> Iterator[Item]:
        yield from iter_zip(
            self.path,
            container=str(self.path),
            location=str(self.path),
            limits=self.limits,
            counts=self.counts,
        )
