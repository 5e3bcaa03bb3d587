"""Telegram Desktop exports that arrive packed: a ``.zip`` of the export folder, or the files of a folder
upload (each with its relative path). Both are laid out again as the export folder, so that
:class:`~jikimi.sources.telegram.TelegramExportSource` reads them exactly as ``jikimi scan ChatExport_…/``
does (chat, sender, date, t.me links, media not included in the export).

Extraction is bounded like :mod:`jikimi.sources.archives` (member names checked, entry count, total size and
compression ratio limited, symbolic links and encrypted members refused); what is refused is returned as a
list of reasons, and nothing outside the destination folder is ever written.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from jikimi.errors import Message
from jikimi.sources.archives import member_path_message, member_path_problem
from jikimi.sources.base import DEFAULT_LIMITS, SourceError, SourceLimits

_EXPORT_MARKERS = re.compile(r"(result\.json|messages\d*\.html|export_results\.html)")
_RATIO_MIN_BYTES = 64 * 1024


def _norm(name: str) -> str:
    return name.replace("\\", "/")


def export_root(names: Sequence[str]) -> str | None:
    """The folder (``""`` for the top, else ``"ChatExport_x/"``) holding a Telegram export's ``result.json``,
    ``messages*.html`` or ``export_results.html`` among relative ``names``; the shallowest wins. None if
    the names are not an export."""
    best: str | None = None
    for raw in names:
        name = _norm(raw)
        if member_path_problem(name):
            continue
        parent, _, base = name.rpartition("/")
        if not _EXPORT_MARKERS.fullmatch(base):
            continue
        prefix = f"{parent}/" if parent else ""
        if best is None or prefix.count("/") < best.count("/"):
            best = prefix
    return best


def zip_export_root(path: Path) -> str | None:
    """The folder inside the zip at ``path`` that is a Telegram export (see :func:`export_root`), or None
    (also for a file that is not a readable zip)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return export_root([i.filename for i in zf.infolist() if not i.is_dir()])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def extract_export_zip(
    path: Path, root: str, dest: Path, limits: SourceLimits = DEFAULT_LIMITS
) -> list[tuple[str, Message]]:
    """Extract the members under ``root`` (from :func:`zip_export_root`) into the new folder ``dest``.

    Returns ``(member, reason)`` (a catalogued :class:`~jikimi.errors.Message`) for each member refused
    (unsafe name, encrypted, symbolic link, too large, zip bomb). Raises :class:`SourceError` when the
    archive cannot be read or is over the entry or total size limits (nothing is kept in ``dest`` then).
    """
    problems: list[tuple[str, Message]] = []
    dest.mkdir(parents=True, mode=0o700)
    real_dest = dest.resolve()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if _norm(i.filename).startswith(root)]
            if len(infos) > limits.zip_max_entries:
                raise SourceError(
                    "the export has {n} entries, over the limit of {limit}",
                    code="sources.too_many_entries",
                    n=len(infos),
                    limit=limits.zip_max_entries,
                )
            total = 0
            for info in infos:
                name = _norm(info.filename)
                rel = name[len(root) :]
                if info.is_dir() or not rel:
                    continue
                problem = member_path_message(name)
                if problem is None and info.flag_bits & 0x1:
                    problem = Message("member {name!r} is encrypted", {"name": name})
                if problem is None and stat.S_ISLNK(info.external_attr >> 16):
                    problem = Message("member {name!r} is a symbolic link", {"name": name})
                if problem is None and info.file_size > limits.max_item_bytes:
                    problem = Message(
                        "member is {size} bytes, over the {limit}-byte limit",
                        {"size": info.file_size, "limit": limits.max_item_bytes},
                    )
                if problem is None and info.file_size > _RATIO_MIN_BYTES:
                    ratio = info.file_size / max(info.compress_size, 1)
                    if ratio > limits.zip_max_ratio:
                        problem = Message(
                            "member compresses {ratio}:1, over the {limit}:1 limit (zip bomb?)",
                            {"ratio": f"{ratio:.0f}", "limit": f"{limits.zip_max_ratio:.0f}"},
                        )
                if problem:
                    problems.append((name, problem))
                    continue
                total += info.file_size
                if total > limits.zip_max_total_bytes:
                    raise SourceError(
                        "the export expands past the {limit}-byte limit",
                        code="sources.too_large",
                        limit=limits.zip_max_total_bytes,
                    )
                target = (real_dest / rel).resolve()
                if not target.is_relative_to(real_dest) or target == real_dest:
                    problems.append(
                        (name, Message("member {name!r} leads outside the export folder", {"name": name}))
                    )
                    continue
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                written = 0
                with zf.open(info) as src, target.open("xb") as out:
                    while chunk := src.read(1024 * 1024):
                        written += len(chunk)
                        if written > info.file_size:  # the header lied about the size
                            break
                        out.write(chunk)
                if written > info.file_size:
                    target.unlink()
                    problems.append(
                        (name, Message("member {name!r} is larger than the archive states", {"name": name}))
                    )
    except SourceError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except FileExistsError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise SourceError(
            "the export zip names a file twice: {name}",
            code="sources.duplicate_member",
            name=str(exc.filename),
        ) from exc
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise SourceError(
            "the export zip cannot be read: {detail}",
            code="sources.corrupt",
            hint="re-create the zip and upload it again",
            detail=str(exc),
        ) from exc
    return problems


def safe_relative_path(name: str | None) -> PurePosixPath | None:
    """A client's relative file name (``ChatExport_x/photos/p.jpg`` from a folder upload) as a safe relative
    path, or None when it is not one (absolute, ``..``, NUL, empty parts, over-long)."""
    if not name:
        return None
    norm = _norm(name).strip("/")
    if member_path_problem(norm) or len(norm) > 1000:
        return None
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if not parts or any(len(p) > 255 for p in parts):
        return None
    return PurePosixPath(*parts)


def is_zip_file(path: Path) -> bool:
    """Whether ``path`` is a zip by its bytes."""
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _strip(path: PurePosixPath, root: str) -> PurePosixPath:
    return PurePosixPath(str(path)[len(root) :])


def relocate_folder_export(files: Sequence[tuple[Path, str | None]], dest: Path) -> list[Path]:
    """Move the files of a folder upload (``(saved path, client relative name)``) that form a Telegram export
    into ``dest`` with their layout inside the export; returns the saved paths moved. Nothing is moved when
    the names hold no export."""
    rels = [(p, safe_relative_path(n)) for p, n in files]
    root = export_root([str(r) for _, r in rels if r is not None])
    if root is None:
        return []
    moved: list[Path] = []
    for saved, rel in rels:
        if rel is None or not str(rel).startswith(root):
            continue
        inner = _strip(rel, root)
        target = dest / inner
        if target.exists():
            continue  # the same name twice: the first one stays
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.move(saved, target)
        moved.append(saved)
    return moved
