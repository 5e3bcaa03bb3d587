"""Prometheus metrics: requests by route and status, latency, and the collectors other packages provide."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from jikimi.api.security import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """A registry per app (so several apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "jikimi_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "jikimi_http_request_seconds",
            "Time to serve an HTTP request",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.logins = Counter("jikimi_logins", "Sign-in attempts", ["result"], registry=self.registry)
        self.reveals = Counter(
            "jikimi_original_views", "Originals revealed (unblurred)", registry=self.registry
        )
        self.hash_lookups = Counter(
            "jikimi_hash_lookups", "Hash lookups", ["signal_type", "matched"], registry=self.registry
        )
        self.started = Gauge("jikimi_start_time_seconds", "Server start time", registry=self.registry)
        self.started.set_to_current_time()

    def register(self, collector: Any) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts requests by the matched route template (never the raw path, which may carry ids)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def _route(self, scope: Scope) -> str:
        # The router records the matched route in the (shared) scope; its path is the template.
        route = scope.get("route")
        path = getattr(route, "path", None)
        return str(path) if path is not None else "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = self._route(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
