"""The REST API (``/api/v1``), the HMA-compatible hash lookup, health, metrics and the web pages, in one
FastAPI app: ``create_app(store)`` builds it, ``serve(host, port)`` runs it with uvicorn."""

from __future__ import annotations

from jikimi.api.app import create_app, serve
from jikimi.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app", "serve"]
