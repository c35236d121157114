"""``suanli gateway`` (the buyers' OpenAI-compatible API) and ``suanli emulate-engine``."""

from __future__ import annotations

import os

import typer

from suanli.errors import InvalidRequest

ENV_GATEWAY = "SUANLI_GATEWAY_CONFIG"


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
    app.command("emulate-engine")(emulate_engine)


def gateway(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8100, min=0, max=65535, help="TCP port"),
    workers: int = typer.Option(1, min=1, max=64, help="worker processes"),
    database_url: str | None = typer.Option(
        None, "--database-url", help="default: $SUANLI_DATABASE_URL or a file in the data dir"
    ),
    rate: float = typer.Option(100.0, min=0.001, help="calls per second per key (average)"),
    burst: int = typer.Option(200, min=1, help="calls per key at once"),
    flush_every: float = typer.Option(5.0, min=0.1, help="seconds between outcome flushes"),
    log_level: str = typer.Option("warning", help="debug, info, warning or error"),
) -> None:
    """Serve the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models) for buyers,
    routing each call to a replica of their active leases and measuring it."""
    import json

    import uvicorn

    from suanli.store.db import ENV_URL, Database

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise InvalidRequest(f"unknown log level {log_level!r}", field="log-level")
    db = Database.connect(database_url)
    os.environ[ENV_URL] = db.url
    db.dispose()
    os.environ[ENV_GATEWAY] = json.dumps(
        {"rate_per_s": rate, "burst": burst, "flush_s": flush_every}
    )
    from suanli.cli.common import err_console

    plural = "s" if workers > 1 else ""
    err_console.print(
        f"suanli gateway: OpenAI API on http://{host}:{port}/v1 ({workers} worker{plural})"
    )
    uvicorn.run(
        "suanli.cli.gateway_cmd:gateway_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=log_level.lower(),
    )


def gateway_from_env() -> object:
    """Uvicorn factory for ``suanli gateway``."""
    import json

    from suanli.gateway.app import GatewayConfig, create_gateway_app

    settings = json.loads(os.environ.get(ENV_GATEWAY, "{}"))
    return create_gateway_app(config=GatewayConfig(**settings))


def emulate_engine(
    model: str = typer.Option(..., "--model", help="catalog model, e.g. Qwen2.5-7B"),
    gpu: str = typer.Option(..., "--gpu", help="catalog GPU, e.g. H100"),
    tp: int = typer.Option(1, "--tp", min=1, max=64, help="tensor-parallel GPUs"),
    precision: str = typer.Option("bf16", help="bf16, fp8 or int4"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8200, min=0, max=65535, help="TCP port"),
    slow: float = typer.Option(1.0, min=0.001, help="multiply every time by this (fault)"),
    fail_every: int = typer.Option(0, min=0, help="answer every k-th call with 503 (fault)"),
    die_after_tokens: int | None = typer.Option(
        None, min=0, help="drop streamed answers after this many tokens (fault)"
    ),
) -> None:
    """An EMULATED engine for tests and demos: the OpenAI API, tokens paced by the
    performance model (TTFT from prefill, one decode step per token). Not a GPU server."""
    import uvicorn

    from suanli.gateway.emulator import Faults, Pacing, create_emulator

    app = create_emulator(
        Pacing(model=model, gpu=gpu, tp=tp, precision=precision),
        Faults(slow=slow, fail_every=fail_every, die_after_tokens=die_after_tokens),
    )
    from suanli.cli.common import err_console

    err_console.print(
        f"suanli emulate-engine: EMULATED {model} on {gpu} x{tp} at http://{host}:{port}/v1"
    )
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
