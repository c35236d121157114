"""``suanli serve``: run the exchange (API and dashboard) with uvicorn.

The command builds one :class:`~suanli.settings.Settings` from its options and the
environment and gives that object to every worker (uvicorn pickles an
:class:`AppFactory` holding it into each), binds the listening socket
itself and only then prints "serving on", and stops every worker on SIGTERM or SIGINT: uvicorn's
supervisor terminates them, each worker waits at most ``shutdown_grace_s`` for open
requests, and a worker whose supervisor has died stops by itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import typer

from suanli.errors import InvalidRequest
from suanli.settings import Settings


@dataclass(frozen=True, slots=True)
class AppFactory:
    """What ``suanli serve`` hands uvicorn for each worker: the settings, and the app built
    from them when called. Unpickling it in a new worker imports only this light module, so
    the worker answers its supervisor's health checks while the application still loads."""

    settings: Settings
    supervised: bool = False

    def __call__(self) -> Any:
        from suanli.app import app_for

        return app_for(self.settings, supervised=self.supervised)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port (0: any free port)"),
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

    from suanli.settings import load_settings
    from suanli.store.db import Database

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise InvalidRequest(f"unknown log level {log_level!r}", field="log-level")
    base = load_settings(database_url=database_url)
    db = Database.connect(base.database_url, pool=base.db_pool)  # migrate once, before workers
    url = db.url
    db.dispose()
    own_metrics_dir = base.metrics_dir is None
    metrics_dir = base.metrics_dir or tempfile.mkdtemp(prefix="suanli-metrics-")
    settings = base.model_copy(
        update={
            "database_url": url,
            "log_level": log_level.upper() if access_log else "WARNING",
            "clear_every_s": clear_every,
            "serve_gateway": gateway or base.serve_gateway,
            "metrics_dir": metrics_dir,
        }
    )
    # prometheus_client picks its multiprocess mode from this variable when a worker first
    # imports it (the library offers no other switch); the workers inherit it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    config = uvicorn.Config(
        AppFactory(settings, supervised=workers > 1),
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
    )
    sock = config.bind_socket()
    sock.listen(config.backlog)  # connections queue from now on, while the workers start
    bound_host, bound_port = sock.getsockname()[:2]
    from suanli.cli.common import err_console

    rounds = f"market clears every {clear_every:g} s" if clear_every else "clearing on demand"
    err_console.print(
        f"suanli: serving on http://{bound_host}:{bound_port} ({workers} worker(s), {rounds})",
        markup=False,
        highlight=False,
    )
    try:
        if workers > 1:
            import inspect

            from uvicorn.supervisors import Multiprocess

            supervisor: Any = Multiprocess
            if "target" in inspect.signature(supervisor).parameters:  # uvicorn < 0.36
                supervisor(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
            else:
                supervisor(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
