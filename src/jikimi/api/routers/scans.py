"""Scans from the web: upload files or an export zip, then follow the progress until the findings are in.

Uploads are written under ``JIKIMI_HOME/uploads/<job>/`` with generated names (never the client's path),
read by ``jikimi.sources`` (which recognises images, videos, zips and Telegram exports from their bytes),
scanned by ``jikimi.cases.run_scan`` in a background thread (originals go into the encrypted vault) and
deleted afterwards.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from pydantic import BaseModel
from sqlalchemy import select

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.api.uploads import CHUNK, clean_name
from jikimi.config import get_settings
from jikimi.errors import JikimiError, NotFoundError, ValidationError
from jikimi.store import Store
from jikimi.store.schema.scans import ScanRun

router = APIRouter()
Reader = Annotated[Principal, Depends(require(Perm.SCAN_READ))]
Writer = Annotated[Principal, Depends(require(Perm.SCAN_WRITE))]


@dataclass
class ScanJob:
    id: str
    actor: str
    files: int
    bytes: int
    status: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    error_message: dict[str, Any] | None = None
    """``error`` kept as a catalogued message (``Message.to_json()``), for pages in the reader's language."""
    names: list[str | None] = field(default_factory=list)
    """The client's relative file names (a folder upload keeps its layout), in saving order."""
    exports: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int | None:
        if self.status == "done":
            return 100
        if not self.total:
            return None
        return min(99, int(100 * self.done / self.total))


class ScanJobOut(BaseModel):
    id: str
    status: str
    files: int
    bytes: int
    done: int
    total: int | None
    percent: int | None
    created_at: datetime
    finished_at: datetime | None
    run_id: int | None
    findings: int | None
    new_findings: int | None
    failed: int | None
    errors: list[dict[str, Any]]
    cases: list[int]
    error: str | None
    unresolved: int | None = None
    unresolved_items: list[dict[str, Any]] = []
    """Media the source names but did not include (a Telegram export's "File not included"), with the
    chat, message, sender and date it was posted with."""
    exports: list[str] = []
    """The Telegram exports found in the upload (a zip or a folder), read with their chats and messages."""


class ScanRunOut(BaseModel):
    id: int
    status: str
    actor: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]


def _jobs(request: Request) -> dict[str, ScanJob]:
    jobs: dict[str, ScanJob] | None = getattr(request.app.state, "scan_jobs", None)
    if jobs is None:
        jobs = request.app.state.scan_jobs = {}
    return jobs


def _out(j: ScanJob) -> ScanJobOut:
    r = j.report or {}
    return ScanJobOut(
        id=j.id,
        status=j.status,
        files=j.files,
        bytes=j.bytes,
        done=j.done,
        total=j.total,
        percent=j.percent,
        created_at=j.created_at,
        finished_at=j.finished_at,
        run_id=r.get("run_id"),
        findings=r.get("findings"),
        new_findings=r.get("new_findings"),
        failed=r.get("failed"),
        errors=list(r.get("errors", []))[:50],
        cases=list(r.get("cases", [])),
        error=j.error,
        unresolved=r.get("unresolved"),
        unresolved_items=list(r.get("unresolved_items", []))[:200],
        exports=list(j.exports),
    )


def prepare_sources(job: ScanJob, folder: Path) -> tuple[list[Path], list[dict[str, str]]]:
    """The sources an upload is made of: each Telegram export in it (a zip holding ``result.json`` or
    ``messages*.html``, or the files of a folder upload) laid out as its export folder, so it is read with its
    chats, senders, dates and links exactly like ``jikimi scan ChatExport_…/``; then the other files.
    Returns the paths to scan and the members refused while unpacking (as scan errors)."""
    from jikimi.sources.exports import (
        extract_export_zip,
        is_zip_file,
        relocate_folder_export,
        zip_export_root,
    )

    files_dir = folder / "files"
    saved = sorted(files_dir.iterdir())
    names = job.names + [None] * (len(saved) - len(job.names))
    sources: list[Path] = []
    errors: list[dict[str, Any]] = []
    moved = set(relocate_folder_export(list(zip(saved, names, strict=False)), folder / "export-0" / "export"))
    if moved:
        sources.append(folder / "export-0" / "export")
        root_name = next((n for p, n in zip(saved, names, strict=False) if p in moved and n), None)
        job.exports.append(clean_name((root_name or "export").split("/")[0]))
    for n, (path, name) in enumerate(zip(saved, names, strict=False), start=1):
        if path in moved or not is_zip_file(path):
            continue
        root = zip_export_root(path)
        if root is None:
            continue  # an ordinary zip: read in place with the other files
        label = clean_name(root.rstrip("/") or Path(clean_name(name)).stem)
        dest = folder / f"export-{n}" / label
        for member, reason in extract_export_zip(path, root, dest):
            errors.append(
                {
                    "location": f"{clean_name(name)}!{member}",
                    "reason": reason.render(),
                    "status": "failed",
                    "message": reason.to_json(),
                }
            )
        path.unlink()
        sources.append(dest)
        job.exports.append(clean_name(name))
    if any(files_dir.iterdir()):
        sources.append(files_dir)
    return sources, errors


def _unresolved_items(store: Store, run_id: int) -> list[dict[str, Any]]:
    import json

    from jikimi.store.schema.scans import ScanItem

    out: list[dict[str, Any]] = []
    with store.session() as s:
        rows = s.execute(
            select(
                ScanItem.name,
                ScanItem.location,
                ScanItem.reason,
                ScanItem.reason_message,
                ScanItem.sighting_json,
            )
            .where(ScanItem.run_id == run_id, ScanItem.status == "unresolved")
            .order_by(ScanItem.id)
            .limit(1000)
        ).all()
    for name, location, reason, reason_message, sighting_json in rows:
        try:
            ctx = json.loads(sighting_json) if sighting_json else {}
        except ValueError:
            ctx = {}
        ctx = ctx if isinstance(ctx, dict) else {}
        out.append(
            {
                "name": name,
                "location": location,
                "reason": reason or "",
                **({"message": json.loads(reason_message)} if reason_message else {}),
                "chat": ctx.get("chat_name"),
                "sender": ctx.get("sender"),
                "date": ctx.get("date"),
                "message_id": ctx.get("message_id"),
                "link": ctx.get("link"),
            }
        )
    return out


def _public_text(text: str, folder: Path, names: list[str | None]) -> str:
    """``text`` without the server's paths: a saved upload is named by the client's file name, anything else
    under the upload folder by its path inside it, and the data directory is left out."""
    files_dir = folder / "files"
    for i, name in enumerate(names):
        prefix = f"{files_dir}/{i:05d}-"
        if prefix in text:
            saved = f"{prefix}{clean_name(name)}"
            text = text.replace(saved, clean_name(name) if name else f"file {i + 1}")
    for root in (files_dir, folder, get_settings().home):
        text = text.replace(f"{root}/", "").replace(str(root), "")
    return text


def _public_report(job: ScanJob, folder: Path) -> None:
    """Scrub server paths from a finished job's errors (shown on the page and by the API)."""
    if job.error:
        job.error = _public_text(job.error, folder, job.names)
    if job.error_message:
        job.error_message = _public_params(job.error_message, folder, job.names)
    report = job.report or {}
    for key in ("errors", "unresolved_items"):
        for entry in report.get(key, []) or []:
            for k in ("location", "reason"):
                if isinstance(entry.get(k), str):
                    entry[k] = _public_text(entry[k], folder, job.names)
            if isinstance(entry.get("message"), dict):
                entry["message"] = _public_params(entry["message"], folder, job.names)


def _public_params(value: Any, folder: Path, names: list[str | None]) -> Any:
    """A reason kept as a message (``Message.to_json()``) with the server's paths scrubbed from its values."""
    if isinstance(value, str):
        return _public_text(value, folder, names)
    if isinstance(value, list):
        return [_public_params(v, folder, names) for v in value]
    if isinstance(value, dict):
        return {k: v if k in ("id", "text") else _public_params(v, folder, names) for k, v in value.items()}
    return value


def _run(job: ScanJob, store: Store, folder: Path, workers: int) -> None:
    from jikimi.cases import run_scan

    def progress(stream: Iterable[Any], total: int | None) -> Iterator[Any]:
        job.total = total
        for item in stream:
            job.done += 1
            yield item

    job.status = "running"
    try:
        sources, unpack_errors = prepare_sources(job, folder)
        report = run_scan(
            store, list(sources), workers=workers, actor=job.actor, progress=progress, resume=False
        )
        job.report = report.to_dict()
        job.report["errors"] = unpack_errors + job.report["errors"]
        job.report["failed"] += len(unpack_errors)
        job.report["unresolved_items"] = _unresolved_items(store, report.run_id)
        job.status = "done"
    except Exception as exc:  # the job reports its failure; the server goes on
        job.error = str(exc) or type(exc).__name__
        if isinstance(exc, JikimiError):
            job.error_message = exc.with_hint().to_json()  # with what to do next, as ``error`` has it
        job.status = "failed"
    finally:
        _public_report(job, folder)
        job.finished_at = datetime.now(UTC)
        shutil.rmtree(folder, ignore_errors=True)


async def _save_uploads(
    request: Request, files: list[UploadFile], folder: Path
) -> tuple[int, int, list[str | None]]:
    settings = request.app.state.settings
    if not files:
        raise ValidationError(
            "no file uploaded",
            "choose images, videos, or a zip (e.g. a Telegram export)",
            code="upload.no_file",
        )
    if len(files) > settings.max_files_per_scan:
        raise ValidationError(
            "too many files ({n})",
            "send at most {max}, or a zip",
            code="upload.too_many_files",
            n=len(files),
            max=settings.max_files_per_scan,
        )
    folder.mkdir(parents=True, mode=0o700)
    (folder / "files").mkdir(mode=0o700)
    total = 0
    for i, f in enumerate(files):
        # A generated name inside our own folder: the client's name is kept only as a readable suffix (and,
        # for a folder upload, its relative path is used to lay a Telegram export out again).
        target = folder / "files" / f"{i:05d}-{clean_name(f.filename)}"
        size = 0
        with target.open("wb") as out:
            while chunk := await f.read(CHUNK):
                size += len(chunk)
                if size > settings.max_file_bytes:
                    raise ValidationError(
                        "{name} is larger than {mib} MiB",
                        "split it, or ask an administrator to raise the limit",
                        code="upload.file_too_large",
                        cli_hint="split it, or raise the limit",
                        name=clean_name(f.filename),
                        mib=settings.max_file_bytes // CHUNK,
                    )
                out.write(chunk)
        total += size
    return len(files), total, [f.filename for f in files]


async def start_scan(request: Request, principal: Principal, files: list[UploadFile]) -> ScanJob:
    job_id = uuid.uuid4().hex[:16]
    folder = get_settings().home / "uploads" / job_id
    try:
        n, size, names = await _save_uploads(request, [f for f in files if f.filename], folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    job = ScanJob(job_id, principal.actor, n, size, names=names)
    _jobs(request)[job_id] = job
    thread = threading.Thread(
        target=_run,
        args=(job, request.app.state.store, folder, request.app.state.settings.scan_workers),
        name=f"scan-{job_id}",
        daemon=True,
    )
    thread.start()
    return job


@router.post(
    "/api/v1/scans",
    response_model=ScanJobOut,
    status_code=202,
    tags=["scans"],
    summary="Upload files or an export zip and scan them (runs in the background; poll its status)",
    responses={413: {"description": "too large"}, 422: {"description": "no file, or too many"}},
)
async def create_scan(
    request: Request,
    principal: Writer,
    files: Annotated[list[UploadFile], File(description="Files or a zip")],
) -> ScanJobOut:
    return _out(await start_scan(request, principal, files))


@router.get(
    "/api/v1/scans",
    response_model=list[ScanJobOut],
    tags=["scans"],
    summary="Scans started from the web since the server started",
)
def list_scans(request: Request, _: Reader) -> list[ScanJobOut]:
    return [_out(j) for j in sorted(_jobs(request).values(), key=lambda j: j.created_at, reverse=True)]


@router.get(
    "/api/v1/scans/runs",
    response_model=list[ScanRunOut],
    tags=["scans"],
    summary="Every scan run recorded in the database (web and command line)",
)
def list_runs(s: DB, _: Reader, limit: int = 50) -> list[ScanRunOut]:
    rows = s.scalars(select(ScanRun).order_by(ScanRun.id.desc()).limit(max(1, min(limit, 500))))
    return [
        ScanRunOut(
            id=r.id,
            status=r.status,
            actor=r.actor,
            started_at=r.started_at,
            finished_at=r.finished_at,
            counts=r.counts,
        )
        for r in rows
    ]


@router.get(
    "/api/v1/scans/{job_id}",
    response_model=ScanJobOut,
    tags=["scans"],
    summary="A scan's progress",
    responses={404: {}},
)
def get_scan(request: Request, job_id: str, _: Reader) -> ScanJobOut:
    job = _jobs(request).get(job_id)
    if job is None:
        raise NotFoundError("no scan {id}", code="scan.not_found", id=job_id)
    return _out(job)
