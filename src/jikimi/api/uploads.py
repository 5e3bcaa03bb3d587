"""Reading uploads safely: per-file and per-request size limits, and a cap on the number of files.

The content type is never taken from the client: ``jikimi.media`` recognises images and videos from their
bytes, and originals go into the encrypted vault under their SHA-256 (never under the client's file name).
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from fastapi import Request, UploadFile

from jikimi.errors import ValidationError

CHUNK = 1024 * 1024


def clean_name(name: str | None) -> str:
    """The last path component of a client file name, for display only (never used as a path)."""
    raw = (name or "upload").replace("\x00", "")
    base = PureWindowsPath(PurePosixPath(raw).name).name
    return base[:200] or "upload"


async def read_uploads(request: Request, files: list[UploadFile]) -> list[tuple[str, bytes]]:
    settings = request.app.state.settings
    if len(files) > settings.max_files_per_scan:
        raise ValidationError(
            "too many files ({n})",
            "send at most {max} per request, or a zip",
            code="upload.too_many_files",
            n=len(files),
            max=settings.max_files_per_scan,
        )
    out: list[tuple[str, bytes]] = []
    for f in files:
        data = await f.read(settings.max_file_bytes + 1)
        if len(data) > settings.max_file_bytes:
            raise ValidationError(
                "{name} is larger than {mib} MiB",
                "split the material, or ask an administrator to raise the limit",
                code="upload.file_too_large",
                cli_hint="split the material or raise the limit",
                name=clean_name(f.filename),
                mib=settings.max_file_bytes // CHUNK,
            )
        out.append((clean_name(f.filename), data))
    return out
