"""Request metrics and structured access logs, in one pure-ASGI middleware.

``/metrics`` renders the Prometheus text format: request counts by method, route template
and status; a latency histogram by method and route (both ``prometheus_client``); and,
read from the database at scrape time, GPUs listed / leased / available by hub. Under
``suanli serve`` the request metrics are in ``prometheus_client``'s multiprocess mode
(every worker writes to files in ``Settings.metrics_dir``), so whichever worker answers a
scrape reports the whole server; a single process (tests, TestClient) counts in memory.

Access logs are one JSON object per line on the ``suanli.access`` logger (method, path,
route, status, duration, key id), built only when that logger is enabled for INFO.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.store.db import Database
from suanli.store.models import Offer

access_log = logging.getLogger("suanli.access")

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series would double the exposition for no use here
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Request counters and latency histograms; across worker processes when
    ``multiprocess_dir`` is the folder every worker of the server shares."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.requests = Counter(
            "suanli_http_requests",
            "HTTP requests handled.",
            ("method", "route", "status"),
            registry=None,
        )
        self.latency = Histogram(
            "suanli_http_request_duration_seconds",
            "Time to answer a request.",
            ("method", "route"),
            buckets=BUCKETS_S,
            registry=None,
        )
        self._registry = CollectorRegistry()
        if multiprocess_dir is None:
            self._registry.register(self.requests)
            self._registry.register(self.latency)
        else:
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(self._registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self, db: Database) -> str:
        """The Prometheus text exposition of the requests plus the GPU and serving gauges."""
        text = generate_latest(self._registry).decode()
        return text + "\n".join([*_gpu_gauges(db), *_serving_gauges(db)]) + "\n"


def _gpu_gauges(db: Database) -> list[str]:
    with db.read() as session:
        rows = session.execute(
            select(
                Offer.hub,
                func.coalesce(func.sum(Offer.count), 0),
                func.coalesce(func.sum(Offer.available), 0),
                func.coalesce(func.sum(Offer.reserved), 0),
            )
            .where(Offer.status == "open")
            .group_by(Offer.hub)
            .order_by(Offer.hub)
        ).all()
    out: list[str] = []
    figures = [
        (str(hub), int(c), int(c) - int(a) - int(r), int(a), int(r)) for hub, c, a, r in rows
    ]
    for column, name, help_text in (
        (1, "suanli_gpus_listed", "GPUs listed on open offers, by hub."),
        (
            2,
            "suanli_gpus_leased",
            "GPUs of open offers held by leases (direct or auction), by hub.",
        ),
        (3, "suanli_gpus_available", "GPUs free to lease, by hub."),
        (4, "suanli_gpus_reserved", "GPUs held by resting call-auction asks, by hub."),
    ):
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        out += [f'{name}{{hub="{_esc(f[0])}"}} {f[column]}' for f in figures]
    return out


def _serving_gauges(db: Database) -> list[str]:
    """Per lease: calls, SLO attainment and tokens measured by the gateways in the current
    UTC hour, and SLO credits settled so far."""
    from datetime import UTC, datetime

    from suanli.store.gateway import credit_totals, serving_totals

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with db.read() as session:
        totals = serving_totals(session, since=hour)
        credits = credit_totals(session)
    out = [
        "# HELP suanli_lease_calls Calls the gateways served for a lease this UTC hour.",
        "# TYPE suanli_lease_calls gauge",
    ]
    out += [f'suanli_lease_calls{{lease="{t[0]}"}} {t[1]}' for t in totals]
    out += [
        "# HELP suanli_lease_slo_attainment Share of this hour's calls that met the lease's "
        "TTFT and TPOT targets.",
        "# TYPE suanli_lease_slo_attainment gauge",
    ]
    out += [
        f'suanli_lease_slo_attainment{{lease="{t[0]}"}} {t[2] / t[1]:.6f}' for t in totals if t[1]
    ]
    out += [
        "# HELP suanli_lease_tokens Tokens served for a lease this UTC hour.",
        "# TYPE suanli_lease_tokens gauge",
    ]
    for t in totals:
        out.append(f'suanli_lease_tokens{{lease="{t[0]}",kind="input"}} {t[3]}')
        out.append(f'suanli_lease_tokens{{lease="{t[0]}",kind="output"}} {t[4]}')
    out += [
        "# HELP suanli_lease_slo_credit_fen SLO credits settled for a lease, in fen.",
        "# TYPE suanli_lease_slo_credit_fen gauge",
    ]
    out += [f'suanli_lease_slo_credit_fen{{lease="{lease}"}} {fen}' for lease, fen in credits]
    return out


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Times every HTTP request, counts it by route template and writes the access log."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
            elapsed = time.perf_counter() - start
            route_obj: Any = scope.get("route")
            route = getattr(route_obj, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.observe(method, route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                access_log.info(
                    json.dumps(
                        {
                            "event": "request",
                            "method": method,
                            "path": scope.get("path", ""),
                            "route": route,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 3),
                            "key_id": state.get("key_id"),
                        }
                    )
                )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (merged if it is JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        base: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        if message.startswith("{"):
            try:
                base.update(json.loads(message))
            except ValueError:
                base["message"] = message
        else:
            base["message"] = message
        if record.exc_info:
            base["exc"] = self.formatException(record.exc_info)
        return json.dumps(base, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """Structured logs on stderr for the ``suanli`` loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("suanli")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
