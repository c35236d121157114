"""``suanli bench api``: write throughput and latency of a real server on loopback.

For each backend (an SQLite file in a temporary folder; PostgreSQL when a URL is given, in
a throw-away schema) it starts ``suanli serve`` in a child process, then drives it from a
separate load-generator process (``wrk`` with ``wrk_script.lua`` when it is installed, else
the stdlib client :mod:`suanli.bench.loadgen`; closed loop, keep-alive connections; the
figures name the one used) through four phases: offer writes (``POST /offers``), order writes
(``POST /orders``, 1 GPU each from one large offer, so every order contends for the same
row), order writes spread over 64 offers, and order writes with a fresh
``Idempotency-Key`` each. It reports writes per second,
p50/p99 latency, the server's CPU time per request (Linux ``/proc``; less sensitive than
wall-clock figures to other load on a shared machine), and checks that the GPUs reserved
equal the GPUs the successful orders asked for.

In the same run, on the same database, it drives the bare endpoint of
:mod:`suanli.bench.bare` (FastAPI, pydantic, one row inserted per request, served by the
same uvicorn settings) with the same order body, and reports Suanli's order write against
it (``versus_bare``): writes per second as a fraction of the bare endpoint's, and server
CPU per request as a multiple of it. Those ratios, unlike the raw figures, carry across
machines.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from suanli.bench import bare
from suanli.bench.server import ServerProcess
from suanli.store import Database, create_key
from suanli.store.db import resolve_database_url
from suanli.store.models import Offer, Order
from suanli.store.offers import insert_offer

TARGET_WRITES_PER_S = 1500.0
TARGET_P99_MS = 50.0
BIG_OFFER_GPUS = 2_000_000_000
SPREAD_OFFERS = 64


def _group_cpu_s(pgid: int) -> float | None:
    """User+system CPU seconds of every live process in a process group (Linux only)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def load_generator() -> str:
    """``wrk`` when it is installed (and ``$SUANLI_BENCH_LOADGEN`` is not ``python``), else
    the stdlib client of :mod:`suanli.bench.loadgen`."""
    if os.environ.get("SUANLI_BENCH_LOADGEN", "").lower() == "python":
        return "python"
    return "wrk" if shutil.which("wrk") else "python"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk(
    server: ServerProcess, path: str, key: str, body: Any, *,
    seconds: float, concurrency: int, idempotent: bool, cycle: bool,
) -> dict[str, Any]:  # fmt: skip
    """One measured wrk run (after a 1 s warm-up run), as the Python client reports it."""
    bodies = [json.dumps(b) for b in body] if cycle else [json.dumps(body)]
    script = str(Path(__file__).with_name("wrk_script.lua"))
    threads = max(1, min(2, concurrency))

    def run(duration_s: float) -> dict[str, Any]:
        command = [
            "wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration_s:g}s",
            "--timeout", "10s", "-s", script,
            "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json",
            server.url + path, "--", "1" if idempotent else "0", *bodies,
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode != 0 or not lines:
            raise RuntimeError(f"wrk failed: {out.stderr[-1000:]} {out.stdout[-1000:]}")
        parsed: dict[str, Any] = json.loads(lines[-1])
        return parsed

    run(1.0)
    raw = run(seconds)
    duration_s = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["non_2xx"]
    return {
        "path": path,
        "concurrency": concurrency,
        "seconds": round(duration_s, 3),
        "requests": raw["requests"],
        "ok": ok,
        "statuses": {"2xx": ok, "other": raw["non_2xx"], "socket_errors": raw["socket_errors"]},
        "writes_per_s": round(ok / duration_s, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p90_ms": round(raw["p90_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "max_ms": round(raw["max_us"] / 1000, 3),
    }


def _python_client(
    server: ServerProcess, path: str, key: str, body: Any, *,
    seconds: float, concurrency: int, idempotent: bool, cycle: bool,
) -> dict[str, Any]:  # fmt: skip
    command = [
        sys.executable, "-m", "suanli.bench.loadgen", "--url", server.url, "--path", path,
        "--key", key, "--body", json.dumps(body), "--seconds", str(seconds),
        "--warmup-s", "1", "--concurrency", str(concurrency),
    ]  # fmt: skip
    if idempotent:
        command.append("--idempotent")
    if cycle:
        command.append("--cycle")
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-1000:]}")
    parsed: dict[str, Any] = json.loads(out.stdout)
    return parsed


def _phase(
    server: ServerProcess, name: str, path: str, key: str, body: Any, *,
    seconds: float, concurrency: int, idempotent: bool = False, cycle: bool = False,
) -> dict[str, Any]:  # fmt: skip
    assert server.process is not None
    pgid = server.process.pid
    generator = load_generator()
    drive = _wrk if generator == "wrk" else _python_client
    cpu_before = _group_cpu_s(pgid)
    load_cpu_before = _children_cpu_s()
    measured = drive(
        server, path, key, body,
        seconds=seconds, concurrency=concurrency, idempotent=idempotent, cycle=cycle,
    )  # fmt: skip
    load_cpu_s = _children_cpu_s() - load_cpu_before
    cpu_after = _group_cpu_s(pgid)
    result: dict[str, Any] = {"phase": name, "load_generator": generator, **measured}
    if result["requests"]:
        # CPU over warm-up plus measurement, per request of the measured window (approx.).
        total = result["requests"] * (seconds + 1.0) / seconds
        if cpu_before is not None and cpu_after is not None:
            result["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) / total * 1000, 3)
        result["load_generator_cpu_ms_per_request"] = round(load_cpu_s / total * 1000, 3)
    return result


def _run_backend(
    backend: str, url: str, *, seconds: float, concurrency: int, workers: int
) -> dict[str, Any]:
    db = Database.connect(url)
    with db.write() as session:
        seller = create_key(session, role="seller", name="bench-seller")
        buyer = create_key(session, role="buyer", name="bench-buyer")
        big = insert_offer(
            session,
            seller.tenant,
            {
                "site": "zhongwei",
                "gpu": "H100",
                "count": BIG_OFFER_GPUS,
                "price_cny_per_gpu_hour": 10.0,
            },
        )
        spread = [
            insert_offer(
                session,
                seller.tenant,
                {"site": "guian", "gpu": "H20", "count": BIG_OFFER_GPUS // 1000,
                 "price_cny_per_gpu_hour": 6.0},
            )["id"]
            for _ in range(SPREAD_OFFERS)
        ]  # fmt: skip
    offer_body = {"site": "guian", "gpu": "H20", "count": 8, "price_cny_per_gpu_hour": 6.0}
    order_body = {"items": [{"offer_id": big["id"], "gpus": 1}]}
    phases = []
    with ServerProcess(url, workers=workers) as server:
        phases.append(
            _phase(
                server,
                "offer_writes",
                "/offers",
                seller.secret,
                offer_body,
                seconds=seconds,
                concurrency=concurrency,
            )
        )
        phases.append(
            _phase(
                server,
                "order_writes",
                "/orders",
                buyer.secret,
                order_body,
                seconds=seconds,
                concurrency=concurrency,
            )
        )
        spread_bodies = [{"items": [{"offer_id": i, "gpus": 1}]} for i in spread]
        phases.append(
            _phase(
                server,
                "order_writes_spread",
                "/orders",
                buyer.secret,
                spread_bodies,
                seconds=seconds,
                concurrency=concurrency,
                cycle=True,
            )
        )
        phases.append(
            _phase(
                server,
                "order_writes_idempotent",
                "/orders",
                buyer.secret,
                order_body,
                seconds=seconds,
                concurrency=concurrency,
                idempotent=True,
            )
        )
    bare.prepare(db)
    with ServerProcess(url, workers=workers, factory="suanli.bench.bare:app_from_env") as server:
        bare_phase = _phase(
            server,
            "bare_writes",
            bare.PATH,
            buyer.secret,
            order_body,
            seconds=seconds,
            concurrency=concurrency,
        )
    with db.read() as session:
        ordered = session.scalar(select(func.coalesce(func.sum(Order.gpus), 0))) or 0
        reserved = (
            session.scalar(select(func.coalesce(func.sum(Offer.count - Offer.available), 0))) or 0
        )
        bare_rows = session.scalar(select(func.count()).select_from(bare.rows)) or 0
    db.dispose()
    phases.append(bare_phase)
    for phase in phases:
        phase["backend"] = backend
        phase["workers"] = workers
    orders = next(p for p in phases if p["phase"] == "order_writes")
    return {
        "backend": backend,
        "workers": workers,
        "phases": phases,
        "versus_bare": versus_bare(orders, bare_phase),
        "gpus_reserved": int(reserved),
        "gpus_in_orders": int(ordered),
        "oversold": int(reserved) != int(ordered),
        "bare_rows_written": int(bare_rows),
    }


def versus_bare(orders: dict[str, Any], bare_phase: dict[str, Any]) -> dict[str, Any]:
    """Suanli's order write against the bare insert measured in the same run: writes/s as a
    fraction of the bare endpoint's (higher is better), server CPU per request as a multiple
    of it (lower is better)."""
    rate = (
        orders["writes_per_s"] / bare_phase["writes_per_s"] if bare_phase["writes_per_s"] else None
    )
    cpu_orders = orders.get("server_cpu_ms_per_request")
    cpu_bare = bare_phase.get("server_cpu_ms_per_request")
    cpu = cpu_orders / cpu_bare if cpu_orders and cpu_bare else None
    return {
        "phase": "order_writes",
        "writes_per_s_ratio": None if rate is None else round(rate, 3),
        "server_cpu_per_request_ratio": None if cpu is None else round(cpu, 3),
        "bare_writes_per_s": bare_phase["writes_per_s"],
        "bare_server_cpu_ms_per_request": cpu_bare,
    }


def _pg_schema(base_url: str) -> tuple[str, Any]:
    """A fresh schema on ``base_url`` and a function that drops it."""
    schema = "suanli_bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(resolve_database_url(base_url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = resolve_database_url(base_url)
    url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


def run_api_bench(
    *,
    postgres_url: str | None,
    seconds: float = 5.0,
    concurrency: int = 16,
    workers: int = 2,
) -> dict[str, Any]:
    """Run every phase on SQLite (and PostgreSQL when ``postgres_url`` is given)."""
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    started = time.time()
    backends = []
    with tempfile.TemporaryDirectory(prefix="suanli-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        backends.append(
            _run_backend("sqlite", url, seconds=seconds, concurrency=concurrency, workers=workers)
        )
    if postgres_url:
        url, drop = _pg_schema(postgres_url)
        try:
            backends.append(
                _run_backend(
                    "postgresql", url, seconds=seconds, concurrency=concurrency, workers=workers
                )
            )
        finally:
            drop()
    sqlite_orders = next(p for p in backends[0]["phases"] if p["phase"] == "order_writes")
    return {
        "benchmark": "api",
        "host": {
            "cpus": os.cpu_count(),
            "load_avg_1m_before": load_before,
            "load_avg_1m_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "seconds": seconds,
            "concurrency": concurrency,
            "workers": workers,
            "load_generator": load_generator()
            + " (separate process, loopback, keep-alive HTTP/1.1)",
        },
        "target": {
            "backend": "sqlite",
            "phase": "order_writes",
            "writes_per_s": TARGET_WRITES_PER_S,
            "p99_ms": TARGET_P99_MS,
        },
        "target_met": bool(
            sqlite_orders["writes_per_s"] >= TARGET_WRITES_PER_S
            and (sqlite_orders["p99_ms"] or 1e9) < TARGET_P99_MS
        ),
        "versus_bare": {b["backend"]: b["versus_bare"] for b in backends},
        "backends": backends,
        "oversold": any(b["oversold"] for b in backends),
        "wall_s": round(time.time() - started, 1),
        "note": "Figures depend on other load on the machine (see load_avg); "
        "server_cpu_ms_per_request is the steadier measure of cost.",
    }
