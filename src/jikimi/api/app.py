"""The FastAPI application factory and a programmatic server start (``serve``)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from jikimi import __version__
from jikimi.api.deps import CsrfFailed, Forbidden, NotAuthenticated, error_json, tr
from jikimi.api.metrics import Metrics, MetricsMiddleware
from jikimi.api.security import BodyLimitMiddleware, SecurityHeadersMiddleware
from jikimi.api.settings import ApiSettings
from jikimi.api.ui import render
from jikimi.errors import JikimiError, NotFoundError, ValidationError
from jikimi.store import Store, open_store
from jikimi.store.accounts import AuthError, LockedError
from jikimi.web import N_, STATIC_DIR

log = logging.getLogger("jikimi.api")

API_PREFIXES = ("/api/", "/m/", "/h/", "/c/", "/metrics", "/healthz", "/readyz")

# Modules under ``jikimi.api``, registered in this order (the first route that matches a path wins): each
# area's JSON endpoints (``routers.<area>``), then its HTML pages (``pages.<area>``). Each exposes ``router``
# and optionally ``setup(app)``.
ROUTER_MODULES = [
    "routers.health",
    "routers.auth",
    "pages.auth",
    "routers.users",
    "pages.users",
    "routers.centre",
    "pages.centre",
    "routers.audit",
    "pages.audit",
    "routers.hma",
    "routers.banks",
    "pages.banks",
    "routers.feed",
    "routers.people",
    "pages.people",
    "routers.scans",
    "pages.scans",
    "routers.cases",
    "pages.cases",
    "routers.selfhash",
    "pages.selfhash",
    "routers.takedowns",
    "pages.takedowns",
    "routers.openapi",
    "pages.home",
]


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(API_PREFIXES) or "application/json" in request.headers.get("accept", "")


class ErrorOut(BaseModel):
    """Every JSON error of this API (the HMA-compatible routes add HMA's own ``message``)."""

    code: str = Field(description="stable machine-readable code, e.g. `bank.not_found`")
    detail: str = Field(description="what went wrong, in the request's language (English by default)")
    hint: str | None = Field(default=None, description="what to do next, in the same language")
    params: dict[str, Any] = Field(default_factory=dict, description="the values named in the message")


#: Added to every route's OpenAPI ``responses``.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "the request cannot be carried out"),
        (401, "sign in first"),
        (403, "not allowed for this role"),
        (404, "not found"),
        (422, "invalid input"),
    )
}

# Errors of the HTTP layer itself, catalogued like the lower layers' (``errors.po``).
_AUTH_REQUIRED = JikimiError(
    "sign in first", code="auth.required", hint="send 'Authorization: Bearer <token>' or sign in"
)
_CSRF = JikimiError(
    "the form expired or came from another site",
    code="auth.csrf",
    hint="send the X-CSRF-Token header of your session, or reload the page and try again",
)
_INVALID = ValidationError("the request is not valid", code="request.invalid", hint="see the errors listed")


def _http_error(exc: StarletteHTTPException) -> JikimiError:
    """The HTTP layer's own refusals (Starlette's words in ``detail``), catalogued."""
    if exc.status_code == 404:
        return NotFoundError("not found", code="http.not_found", hint="check the address")
    if exc.status_code == 405:
        return JikimiError("this method is not allowed here", code="http.method_not_allowed")
    if exc.status_code == 413:
        return JikimiError("the request is too large", code="http.too_large")
    return JikimiError(
        "the request failed ({status}): {detail}",
        code="http.failed",
        status=exc.status_code,
        detail=str(exc.detail),
    )


def _error_page(
    request: Request,
    status: int,
    title: str,
    message: str | JikimiError,
    hint: str | None = None,
) -> HTMLResponse:
    """An HTML error page: ``message`` is one of ours (``N_``) or a lower layer error (with its web hint)."""
    t = tr(request)
    principal = getattr(request.state, "principal", None)
    if isinstance(message, JikimiError):
        text, next_step = t.message(message), t.hint(message)
    else:
        text, next_step = t(message), (t(hint) if hint else None)
    return render(
        request, "error.html", principal, status=status, title=t(title), message=text, hint=next_step
    )


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _unauth(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return error_json(request, _AUTH_REQUIRED, 401, headers={"www-authenticate": "Bearer"})
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        from urllib.parse import quote

        resp = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if request.headers.get("hx-request"):
            resp.headers["hx-redirect"] = "/login"
        return resp

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            denied = JikimiError(
                "your role does not allow this",
                code="auth.forbidden",
                hint="ask an administrator for the permission {permission}",
                permission=exc.perm,
            )
            return error_json(request, denied, 403, permission=exc.perm)
        return _error_page(request, 403, N_("Not allowed"), N_("Your role does not allow this page."))

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        if _wants_json(request):
            return error_json(request, _CSRF, 403)
        return _error_page(
            request,
            403,
            N_("Request refused"),
            N_("The form expired or came from another site. Reload the page and try again."),
        )

    @app.exception_handler(LockedError)
    async def _locked(request: Request, exc: LockedError) -> Response:
        return error_json(request, exc, 429, headers={"retry-after": str(exc.retry_after)})

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> Response:
        return error_json(request, exc, 401)

    @app.exception_handler(JikimiError)
    async def _jikimi(request: Request, exc: JikimiError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 422 if isinstance(exc, ValidationError) else 400
        if _wants_json(request):
            return error_json(request, exc, status)
        return _error_page(request, status, N_("Something went wrong"), exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code < 400:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if _wants_json(request):
            return error_json(request, _http_error(exc), exc.status_code, headers=exc.headers)
        title = N_("Not found") if exc.status_code == 404 else N_("Something went wrong")
        return _error_page(request, exc.status_code, title, _http_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return error_json(request, _INVALID, 422, errors=errors)


def _document_errors(app: FastAPI) -> None:
    """Every 4xx answer in the OpenAPI schema has the one error shape, also where a route describes its own
    4xx (a route's ``responses`` replace the router-level ones FastAPI would otherwise merge in)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        ref = {"$ref": "#/components/schemas/ErrorOut"}
        for ops in schema.get("paths", {}).values():
            for op in ops.values():
                for status, answer in op.get("responses", {}).items():
                    if str(status).startswith("4"):
                        answer.setdefault("content", {"application/json": {"schema": ref}})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _lifespan(store: Store, settings: ApiSettings) -> Any:
    """Start the takedown job's schedule with the server and stop it with the server."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from jikimi.takedown.scheduler import RecheckScheduler

        scheduler = None
        if settings.recheck_minutes > 0:
            scheduler = RecheckScheduler(store, settings.recheck_minutes * 60)
            scheduler.start()
            log.info("takedown job every %g minutes (JIKIMI_RECHECK_MINUTES)", settings.recheck_minutes)
        app.state.scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    return lifespan


def create_app(store: Store | None = None, settings: ApiSettings | None = None) -> FastAPI:
    """Build the app over ``store`` (default: the configured database, migrated)."""
    settings = settings or ApiSettings()
    store = store or open_store()
    app = FastAPI(
        lifespan=_lifespan(store, settings),
        title="Jikimi (지킴이) API",
        version=__version__,
        description="Find, prove and take down deepfake sexual abuse imagery. Every call needs a session or "
        "an API token (`Authorization: Bearer jk_...`); every view of an original, export and change is "
        "audited.",
        openapi_url=None,  # served by routers.openapi, to signed-in users only
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.metrics = Metrics()
    _install_handlers(app)
    for name in ROUTER_MODULES:
        module = importlib.import_module(f"jikimi.api.{name}")
        app.include_router(module.router, responses=ERROR_RESPONSES)
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app)
    _document_errors(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        # Behind a reverse proxy: take the client address (sign-in lockout, audit) from X-Forwarded-For,
        # but only when the request comes from one of these proxies.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    database_url: str | None = None,
    settings: ApiSettings | None = None,
    log_level: str = "info",
    **uvicorn_options: Any,
) -> None:
    """Start the web server (blocking) on ``host:port`` over the database at ``database_url``."""
    import uvicorn

    app = create_app(open_store(database_url), settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        **uvicorn_options,
    )
