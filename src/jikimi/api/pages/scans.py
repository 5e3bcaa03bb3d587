"""The scans page: uploading files to scan, the running and past scans, a scan's progress."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from jikimi.api.deps import DB
from jikimi.api.routers.scans import Reader, Writer, _jobs, start_scan
from jikimi.api.ui import render
from jikimi.errors import NotFoundError
from jikimi.store.schema.scans import ScanRun

router = APIRouter()


def _lists(request: Request, s: Any) -> dict[str, Any]:
    """The recent scans of this server and the scan runs on record (``scan_lists.html``)."""
    jobs = sorted(_jobs(request).values(), key=lambda j: j.created_at, reverse=True)
    # Live progress is kept by this server process; the runs themselves (web and command line) are in the
    # database, so the history survives a restart.
    runs = list(s.scalars(select(ScanRun).order_by(ScanRun.id.desc()).limit(20)))
    return {"jobs": jobs, "runs": runs}


@router.get("/scans", include_in_schema=False)
def scans_page(request: Request, s: DB, principal: Reader) -> Response:
    lists = _lists(request, s)
    running = [j for j in lists["jobs"] if j.status in ("queued", "running")]
    return render(request, "scans.html", principal, running=running, **lists)


@router.get("/scans/lists", include_in_schema=False)
def scans_lists(request: Request, s: DB, principal: Reader) -> Response:
    return render(request, "scan_lists.html", principal, **_lists(request, s))


@router.post("/scans", include_in_schema=False)
async def scans_upload(
    request: Request, principal: Writer, files: Annotated[list[UploadFile] | None, File()] = None
) -> Response:
    job = await start_scan(request, principal, files or [])
    return render(request, "scan_status.html", principal, job=job)


@router.get("/scans/{job_id}/status", include_in_schema=False)
def scan_status(request: Request, s: DB, job_id: str, principal: Reader) -> Response:
    job = _jobs(request).get(job_id)
    if job is None:
        raise NotFoundError("no scan {id}", code="scan.not_found", id=job_id)
    time.sleep(0)  # yield; the partial below is polled by htmx every second while the scan runs
    # When the scan has ended, the same answer also replaces the lists below (an htmx out-of-band swap), so
    # "Recent scans" and "Scan runs on record" show the new state without a reload.
    lists = _lists(request, s) if job.status in ("done", "failed") else {}
    return render(request, "scan_status.html", principal, job=job, oob_lists=bool(lists), **lists)
