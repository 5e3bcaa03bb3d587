"""Re-checks against a local web server (safe_fetch with the test-only loopback allow-list).

Removed on 404/410 or when the page no longer serves the content; a redirect elsewhere is recorded, not
counted; a removed URL that serves the content again becomes ``reappeared`` with a re-upload alert."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from jikimi.store import open_store
from jikimi.store.db import Store
from jikimi.store.schema.takedown import TakedownCheck
from jikimi.takedown import service, tracking
from jikimi.takedown.recheck import default_fetcher, due_items, recheck_due
from jikimi.takedown.reupload import open_alerts

CONTENT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # stands in for the reported file
OTHER = b"\x89PNG\r\n\x1a\n" + b"a different picture" * 20
SHA = hashlib.sha256(CONTENT).hexdigest()

Routes = dict[str, tuple[int, dict[str, str], bytes]]


@pytest.fixture
def web() -> Iterator[tuple[str, Routes]]:
    routes: Routes = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bool) -> None:
            status, headers, data = routes.get(self.path, (404, {"Content-Type": "text/html"}, b"nope"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    s = open_store(db_url)
    yield s
    s.dispose()


def _sent_item(s: Any, url: str, **kw: Any) -> int:
    item, _ = service.add_item(s, service.FindingRef(case_id="9", url=url, sha256=SHA, **kw), actor="t")
    for state in ("drafted", "approved", "sent"):
        tracking.move(s, item, state, actor="t")
    return item.id


def test_recheck_outcomes(store: Store, web: tuple[str, Routes]) -> None:
    base, routes = web
    png = {"Content-Type": "image/png"}
    html = {"Content-Type": "text/html; charset=utf-8"}
    routes["/gone410"] = (410, html, b"gone")
    routes["/same.png"] = (200, png, CONTENT)
    routes["/moved"] = (302, {"Location": "/elsewhere"}, b"")
    routes["/elsewhere"] = (200, html, b"<html>a landing page</html>")
    routes["/tg-post"] = (200, html, b"<html><div>Post not found</div></html>")
    routes["/page"] = (200, html, b"<html><img src='/file.png'></html>")
    routes["/file.png"] = (200, png, OTHER)
    routes["/slash/"] = (200, png, CONTENT)
    routes["/slash"] = (301, {"Location": "/slash/"}, b"")
    with store.session() as s:
        ids = {
            "404": _sent_item(s, f"{base}/gone404"),
            "410": _sent_item(s, f"{base}/gone410"),
            "same": _sent_item(s, f"{base}/same.png"),
            "moved": _sent_item(s, f"{base}/moved"),
            "marker": _sent_item(s, f"{base}/tg-post", platform="telegram"),
            "page": _sent_item(s, f"{base}/page", media_url=f"{base}/file.png"),
            "slash": _sent_item(s, f"{base}/slash"),
            "private": _sent_item(s, "http://10.1.2.3/x.png"),
        }
        found = service.add_item(s, service.FindingRef(case_id="9", url=f"{base}/unsent"), actor="t")[0]
        assert found.id not in due_items(s)  # only sent, acknowledged or removed items are re-checked
    fetch = default_fetcher(frozenset({"127.0.0.1"}))
    results = {r.item_id: r for r in recheck_due(store, fetch=fetch)}
    outcome = {k: results[v].outcome for k, v in ids.items()}
    assert outcome == {
        "404": "removed",
        "410": "removed",
        "same": "online",
        "moved": "redirected",
        "marker": "removed",
        "page": "removed",
        "slash": "online",  # a redirect to the same place is not "elsewhere"
        "private": "error",
    }
    assert "refused" in results[ids["private"]].detail
    with store.session() as s:
        moved = service.get_item(s, ids["moved"])
        assert moved.state == "sent" and moved.redirected_to == f"{base}/elsewhere"
        gone = service.get_item(s, ids["404"])
        assert gone.state == "removed" and gone.removed_at is not None and gone.events[-1].actor
        assert service.get_item(s, ids["same"]).state == "sent"
        assert service.get_item(s, ids["private"]).state == "sent"
        checks = s.execute(select(TakedownCheck).where(TakedownCheck.item_id == ids["404"])).scalars().all()
        assert [(c.status_code, c.outcome) for c in checks] == [(404, "removed")]
        assert due_items(s) == []  # next checks are scheduled in the future
    # the removed URL serves the same content again: reappeared, and an alert on the case
    routes["/gone404"] = (200, png, CONTENT)
    again = {r.item_id: r for r in recheck_due(store, fetch=fetch, all_open=True)}
    assert again[ids["404"]].state == "reappeared"
    assert again[ids["410"]].state == "removed"
    with store.session() as s:
        alerts = open_alerts(s, "9")
        assert [(a.item_id, a.matched_by) for a in alerts] == [(ids["404"], "url")]


def test_the_schedule_runs_the_job_once_per_interval_across_processes(
    store: Store, web: tuple[str, Routes]
) -> None:
    """``jikimi serve``'s scheduler: a pass at start (no pass yet), then none until the interval is over,
    also for a second server over the same database (the lease row)."""
    import time

    from jikimi.takedown.scheduler import RecheckScheduler, claim

    base, routes = web
    routes["/gone.png"] = (410, {"Content-Type": "text/plain"}, b"gone")
    with store.session() as s:
        item_id = _sent_item(s, f"{base}/gone.png")
    fetch = default_fetcher(frozenset({"127.0.0.1"}))
    first = RecheckScheduler(store, 3600, fetch=fetch, poll_seconds=0.05)
    first.start()
    try:
        deadline = time.monotonic() + 20
        while first.passes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.passes == 1 and first.last_error is None
        with store.session() as s:
            item = service.get_item(s, item_id)
            assert item.state == "removed" and item.last_check_outcome == "removed"
        second = RecheckScheduler(store, 3600, fetch=fetch)
        assert second.tick() is None  # the other server ran it less than an hour ago
        time.sleep(0.3)
        assert first.passes == 1  # polled several times, not due again
    finally:
        first.stop()
    assert claim(store, 3600, now=time.time() + 3601)  # an hour later the job is due again


def test_serve_starts_and_stops_the_schedule(store: Store) -> None:
    from fastapi.testclient import TestClient

    from jikimi.api import ApiSettings, create_app

    app = create_app(store, ApiSettings(recheck_minutes=60))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        scheduler = app.state.scheduler
        assert scheduler is not None and scheduler.interval == 3600
        assert scheduler._thread is not None and scheduler._thread.is_alive()
    assert scheduler._thread is None  # stopped with the server
    off = create_app(store, ApiSettings(recheck_minutes=0))
    with TestClient(off):
        assert off.state.scheduler is None
