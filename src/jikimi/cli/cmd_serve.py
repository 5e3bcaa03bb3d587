"""``jikimi serve``: the web app and REST API (FastAPI + uvicorn) over the configured database."""

from __future__ import annotations

import dataclasses

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option(
            "127.0.0.1", help="Address to listen on (keep 127.0.0.1 behind a TLS proxy)."
        ),
        port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
        database_url: str = typer.Option(
            None, "--database-url", help="Database URL (default: JIKIMI_DATABASE_URL or the embedded SQLite)."
        ),
        insecure_cookies: bool = typer.Option(
            False, help="Send session cookies without the Secure flag (plain HTTP on a trusted network only)."
        ),
        scan_workers: int = typer.Option(
            0, min=0, help="Worker processes for scans started from the web (0: inside the server process)."
        ),
        trusted_proxies: str = typer.Option(
            None,
            "--trusted-proxies",
            help="Comma-separated addresses/networks of reverse proxies whose X-Forwarded-For is believed "
            "(default: JIKIMI_TRUSTED_PROXIES; none).",
        ),
    ) -> None:
        """Start the web app and the REST API (docs at /docs, schema at /api/v1/openapi.json)."""
        from jikimi.api import ApiSettings
        from jikimi.api import serve as run
        from jikimi.api.settings import split_list
        from jikimi.cli.common import err_console

        settings = ApiSettings(secure_cookies=not insecure_cookies, scan_workers=scan_workers)
        if trusted_proxies is not None:
            settings = dataclasses.replace(settings, trusted_proxies=split_list(trusted_proxies))
        err_console.print(f"Jikimi on http://{host}:{port}/  (API reference: /docs)")
        run(host, port, database_url=database_url, settings=settings)
