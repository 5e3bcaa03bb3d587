"""Files and folders: a recursive, sorted, symlink-loop-safe walk yielding images and videos (and the media
inside zip archives found on the way)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from jikimi.errors import Message
from jikimi.sources.archives import iter_zip
from jikimi.sources.base import (
    ARCHIVE_EXTENSIONS,
    MEDIA_EXTENSIONS,
    ZIP_MIME,
    Item,
    Sighting,
    Source,
    SourceError,
    SourceLimits,
    failed_item,
    is_visual_mime,
    make_key,
    read_head,
    read_regular_file,
    sniff_mime,
)
from jikimi.sources.telegram import TelegramExportSource, is_telegram_export


def _unreadable(exc: OSError) -> Message:
    return Message("cannot read: {detail}", {"detail": str(exc.strerror or exc)})


def _opener(path: Path, max_bytes: int) -> Callable[[], bytes]:
    return lambda: read_regular_file(path, max_bytes)


class FolderSource(Source):
    """Every image and video under a folder (or one file), recursively.

    A file counts as media by its name ending (``MEDIA_EXTENSIONS``) or, failing that, by its leading bytes;
    other files are skipped (``counts["skipped"]``). Zip archives are opened in place when ``archives`` is
    true. Symbolic links are followed when ``follow_symlinks`` is true, but each directory is visited once
    (by device and inode), so link loops end. Unreadable entries and broken links become failed items.
    Items come in sorted path order; keys derive from the resolved root and the relative path.
    A sub-folder that is a Telegram Desktop export is read as one (with its chat context) when ``exports``
    is true; an unreadable export becomes one failed item.
    """

    kind = "file"

    def __init__(
        self,
        path: Path,
        limits: SourceLimits | None = None,
        *,
        follow_symlinks: bool = True,
        archives: bool = True,
        exports: bool = True,
    ) -> None:
        path = Path(path)
        if not path.exists():
            raise SourceError(
                "{path} does not exist", code="sources.not_found", hint="check the path", path=str(path)
            )
        super().__init__(str(path), limits)
        self.root = path.resolve()
        self.follow_symlinks = follow_symlinks
        self.archives = archives
        self.exports = exports

    def _items(self) -> Iterator[Item]:
        if self.root.is_file():
            yield from self._file(self.root, self.root.name, container=str(self.root.parent))
            return
        visited: set[tuple[int, int]] = set()
        seen = 0
        # Depth-first, sorted, explicit stack: no recursion limit, deterministic order.
        stack: list[tuple[Path, str, int]] = [(self.root, "", 0)]
        st = self.root.stat()
        visited.add((st.st_dev, st.st_ino))
        while stack:
            folder, rel, depth = stack.pop()
            if depth < 0:
                yield from self._export(folder, rel)
                continue
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                yield self._fail(
                    rel or ".", Message("cannot list folder: {detail}", {"detail": str(exc.strerror or exc)})
                )
                continue
            subdirs: list[tuple[Path, str, int]] = []
            for entry in entries:
                seen += 1
                if seen > self.limits.max_files:
                    why = Message("stopped after {n} entries (limit)", {"n": self.limits.max_files})
                    yield self._fail(rel or ".", why)
                    return
                entry_rel = f"{rel}/{entry.name}" if rel else entry.name
                entry_path = Path(entry.path)
                try:
                    is_link = entry.is_symlink()
                    if is_link and not self.follow_symlinks:
                        self.counts["skipped"] += 1
                        continue
                    est = entry_path.stat()  # follows links
                except FileNotFoundError:
                    yield self._fail(entry_rel, Message("broken symbolic link"))
                    continue
                except OSError as exc:
                    yield self._fail(entry_rel, _unreadable(exc))
                    continue
                if stat.S_ISDIR(est.st_mode):
                    ident = (est.st_dev, est.st_ino)
                    if ident in visited:
                        continue  # a link loop or a folder already walked
                    if depth + 1 > self.limits.max_dir_depth:
                        why = Message("folder nesting deeper than {n}", {"n": self.limits.max_dir_depth})
                        yield self._fail(entry_rel, why)
                        continue
                    visited.add(ident)
                    if self.exports and is_telegram_export(entry_path):
                        subdirs.append((entry_path, entry_rel, -1))  # -1: read as an export
                    else:
                        subdirs.append((entry_path, entry_rel, depth + 1))
                elif stat.S_ISREG(est.st_mode):
                    yield from self._file(entry_path, entry_rel, container=str(self.root))
                else:
                    self.counts["skipped"] += 1
            stack.extend(reversed(subdirs))

    def _export(self, folder: Path, rel: str) -> Iterator[Item]:
        try:
            export = TelegramExportSource(folder, self.limits)
            yield from export
            self.counts["skipped"] += export.counts["skipped"]
        except SourceError as exc:
            yield self._fail(rel, Message("Telegram export cannot be read: {detail}", {"detail": exc}))

    def _fail(self, rel: str, reason: Message) -> Item:
        location = str(self.root / rel) if rel != "." else str(self.root)
        return failed_item(
            make_key("file", str(self.root), rel),
            Path(rel).name or rel,
            Sighting(source_kind="file", location=location, container=str(self.root)),
            reason,
        )

    def _file(self, path: Path, rel: str, *, container: str) -> Iterator[Item]:
        try:
            real = path.resolve(strict=True)
            size = real.stat().st_size
        except OSError as exc:
            yield self._fail(rel, _unreadable(exc))
            return
        ext = path.suffix.lower()
        mime: str | None = None
        archive = ext in ARCHIVE_EXTENSIONS
        visual = ext in MEDIA_EXTENSIONS
        if not (archive or visual):
            try:
                mime = sniff_mime(read_head(real))
            except OSError as exc:
                yield self._fail(rel, _unreadable(exc))
                return
            archive = mime == ZIP_MIME
            visual = is_visual_mime(mime)
        location = str(path)
        if archive and self.archives:
            yield from iter_zip(
                real, container=container, location=location, limits=self.limits, counts=self.counts
            )
            return
        if not visual:
            self.counts["skipped"] += 1
            return
        key = make_key("file", str(self.root), rel)
        sighting = Sighting(source_kind="file", location=location, container=container, mime_type=mime)
        if size > self.limits.max_item_bytes:
            yield failed_item(
                key,
                path.name,
                sighting,
                Message(
                    "file is {size} bytes, over the {limit}-byte limit",
                    {"size": size, "limit": self.limits.max_item_bytes},
                ),
            )
            return
        yield Item(
            key=key,
            name=path.name,
            sighting=sighting,
            size=size,
            path=real,
            opener=_opener(real, self.limits.max_item_bytes),
        )
