"""``suanli serve``: run the exchange (API and dashboard) with uvicorn."""

from __future__ import annotations

import os

import typer

from suanli.errors import InvalidRequest


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port"),
    workers: int = typer.Option(1, min=1, max=64, help="worker processes"),
    database_url: str | None = typer.Option(
        None, "--database-url", help="default: $SUANLI_DATABASE_URL or a file in the data dir"
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
    access_log: bool = typer.Option(True, help="one JSON line per request"),
    gateway: bool = typer.Option(
        False, "--gateway", help="also serve the buyers' OpenAI API at /gateway/v1"
    ),
    clear_every: float = typer.Option(
        60.0, min=0.0, help="seconds between the market's call-auction rounds (0: only on demand)"
    ),
) -> None:
    """Run the exchange on HOST:PORT (migrations are applied first)."""
    import uvicorn

    from suanli.store.db import ENV_URL, Database

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise InvalidRequest(f"unknown log level {log_level!r}", field="log-level")
    db = Database.connect(database_url)  # migrate once, before any worker starts
    os.environ[ENV_URL] = db.url
    db.dispose()
    os.environ["SUANLI_LOG_LEVEL"] = log_level.upper() if access_log else "WARNING"
    from suanli.app import CLEAR_ENV

    os.environ[CLEAR_ENV] = str(clear_every)
    from suanli.app import GATEWAY_ENV

    os.environ[GATEWAY_ENV] = "1" if gateway else "0"
    from suanli.cli.common import err_console

    rounds = f"market clears every {clear_every:g} s" if clear_every else "clearing on demand"
    err_console.print(f"suanli: serving on http://{host}:{port} ({workers} worker(s), {rounds})")
    uvicorn.run(
        "suanli.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=log_level.lower(),
    )
