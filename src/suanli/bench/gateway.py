"""``suanli bench gateway``: the gateway's own overhead on the time to first token.

Set-up: an exchange on a temporary SQLite file with one served lease, an emulated replica
(``suanli emulate-engine``, child process) registered for it, and ``suanli gateway`` (child
process). This process is the load generator: ``concurrency`` streams, each calling again
as soon as its previous call ends, for ``duration_s`` after a warm-up, twice in the same
run:

1. **direct**: to the replica, TTFT measured by the client;
2. **gateway**: the same calls through the gateway with the buyer's key. The gateway puts
   the replica's TTFT as it saw it (from sending the call upstream to the first token) in
   the ``x-suanli-upstream-ttft-ms`` header, so each call's **overhead** is the client's
   TTFT minus the replica's: the gateway's parsing, authentication, routing, forwarding
   and the extra loopback hop.

The load generator uses the gateway's own lean HTTP client
(:mod:`suanli.gateway.upstream`), so its CPU per call is small and equal in both phases.
All three processes share the machine's cores (``cpu_count`` and the load average are
reported; on a machine shared with other work the figures carry that noise).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.bench.serving import EmulatorProcess, free_port, lease_and_register, wait_until_up
from suanli.gateway.app import UPSTREAM_TTFT_HEADER
from suanli.gateway.upstream import Pool, UpstreamError

TEXT = b'"content":"'


@dataclass(frozen=True, slots=True)
class Sample:
    ttft_ms: float
    upstream_ttft_ms: float | None
    e2e_ms: float
    ok: bool


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 3)


def _summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": _percentile(values, 50),
        "p90": _percentile(values, 90),
        "p99": _percentile(values, 99),
        "mean": round(sum(values) / len(values), 3) if values else None,
    }


async def _one(pool: Pool, url: str, body: bytes, headers: dict[str, str]) -> Sample:
    start = time.perf_counter()
    ttft = None
    upstream = None
    try:
        response = await pool.request("POST", url, body, headers=headers)
        try:
            if response.status_code != 200:
                await response.read()
                return Sample(0.0, None, 0.0, False)
            header = response.headers.get(UPSTREAM_TTFT_HEADER)
            upstream = float(header) if header else None
            async for chunk in response.chunks():
                if ttft is None and TEXT in chunk:
                    ttft = (time.perf_counter() - start) * 1e3
        finally:
            await response.aclose()
        done = (time.perf_counter() - start) * 1e3
        return Sample(ttft or done, upstream, done, ttft is not None)
    except UpstreamError:
        return Sample(0.0, None, 0.0, False)


async def _drive(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
) -> tuple[list[Sample], float, int]:
    client = Pool(connect_timeout_s=10.0, read_timeout_s=120.0)
    try:
        samples: list[Sample] = []
        made = [0]
        start = time.perf_counter()
        measure_from = start + warmup_s
        stop_at = measure_from + duration_s

        async def worker() -> None:
            while True:
                began = time.perf_counter()
                if began >= stop_at:
                    return
                sample = await _one(client, url, body, headers)
                made[0] += 1
                if began >= measure_from:
                    samples.append(sample)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return samples, duration_s, made[0]
    finally:
        await client.close()


def _phase(samples: list[Sample], seconds: float) -> dict[str, Any]:
    good = [s for s in samples if s.ok]
    return {
        "calls": len(samples),
        "failed": len(samples) - len(good),
        "calls_per_s": round(len(good) / seconds, 1),
        "ttft_ms": _summary([s.ttft_ms for s in good]),
        "e2e_ms": _summary([s.e2e_ms for s in good]),
    }


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def run(
    *,
    concurrency: int = 200,
    duration_s: float = 10.0,
    warmup_s: float = 2.0,
    model: str = "Qwen2.5-72B",
    gpu: str = "L40S",
    tp: int = 4,
    prompt_words: int = 2000,
    max_tokens: int = 8,
) -> dict[str, Any]:
    """Run both phases and return one JSON-ready document."""
    folder = Path(tempfile.mkdtemp(prefix="suanli-bench-gateway-"))
    db_url = f"sqlite:///{folder / 'exchange.db'}"
    emulator = EmulatorProcess(model, gpu, "--tp", str(tp))
    gateway: subprocess.Popen[bytes] | None = None
    try:
        emulator.wait()
        key, _leases = lease_and_register(
            db_url,
            model=model,
            gpu=gpu,
            replicas={"yrd-qingpu": emulator.url},
            targets={"ttft_ms": 1000.0, "tpot_ms": 100.0, "percentile": 95.0},
        )
        port = free_port()
        gateway = subprocess.Popen(
            [
                *(sys.executable, "-m", "suanli", "gateway", "--port", str(port)),
                *("--database-url", db_url, "--rate", "1000000", "--burst", "1000000"),
                *("--log-level", "error"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        gateway_url = f"http://127.0.0.1:{port}"
        wait_until_up(gateway_url + "/health")
        import json

        body = json.dumps(
            {
                "model": model,
                "messages": [{"role": "user", "content": "word " * prompt_words}],
                "max_tokens": max_tokens,
                "stream": True,
            }
        ).encode()
        load_before = os.getloadavg()
        cpu0 = (cpu_s(emulator.proc.pid), cpu_s(gateway.pid), _own_cpu_s())
        direct, direct_s, made_direct = asyncio.run(
            _drive(
                emulator.url + "/v1/chat/completions",
                body,
                {},
                concurrency=concurrency,
                warmup_s=warmup_s,
                duration_s=duration_s,
            )
        )
        cpu1 = (cpu_s(emulator.proc.pid), cpu_s(gateway.pid), _own_cpu_s())
        through, through_s, made_gateway = asyncio.run(
            _drive(
                gateway_url + "/v1/chat/completions",
                body,
                {
                    "authorization": f"Bearer {key}",
                    "x-suanli-region": "Shanghai",
                },
                concurrency=concurrency,
                warmup_s=warmup_s,
                duration_s=duration_s,
            )
        )
        cpu2 = (cpu_s(emulator.proc.pid), cpu_s(gateway.pid), _own_cpu_s())
        load_after = os.getloadavg()
    finally:
        if gateway is not None:
            gateway.terminate()
            try:
                gateway.wait(timeout=10)
            except subprocess.TimeoutExpired:
                gateway.kill()
        emulator.stop()
    overhead = [
        s.ttft_ms - s.upstream_ttft_ms for s in through if s.ok and s.upstream_ttft_ms is not None
    ]
    direct_doc = _phase(direct, direct_s)
    gateway_doc = _phase(through, through_s)
    # CPU per call over each whole phase: warm-up included, so divided by every call made
    n_direct = max(1, made_direct)
    n_gateway = max(1, made_gateway)
    direct_doc["cpu_ms_per_call"] = {
        "replica": round((cpu1[0] - cpu0[0]) * 1e3 / n_direct, 3),
        "load_generator": round((cpu1[2] - cpu0[2]) * 1e3 / n_direct, 3),
    }
    gateway_doc["cpu_ms_per_call"] = {
        "gateway": round((cpu2[1] - cpu1[1]) * 1e3 / n_gateway, 3),
        "replica": round((cpu2[0] - cpu1[0]) * 1e3 / n_gateway, 3),
        "load_generator": round((cpu2[2] - cpu1[2]) * 1e3 / n_gateway, 3),
    }
    p50_direct = direct_doc["ttft_ms"]["p50"]
    p50_gateway = gateway_doc["ttft_ms"]["p50"]
    return {
        "benchmark": "gateway",
        "setup": {
            "concurrency": concurrency,
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "replica": f"suanli emulate-engine --model {model} --gpu {gpu} --tp {tp} (emulated)",
            "prompt_words": prompt_words,
            "max_tokens": max_tokens,
            "cpu_count": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "processes": "load generator (this), gateway, emulator: all on this machine",
        },
        "direct": direct_doc,
        "gateway": gateway_doc,
        "overhead_ms": {
            **_summary(overhead),
            "samples": len(overhead),
            "definition": "per call: client TTFT through the gateway minus the replica's TTFT "
            "as the gateway saw it (x-suanli-upstream-ttft-ms)",
        },
        "ttft_p50_gateway_minus_direct_ms": (
            round(p50_gateway - p50_direct, 3)
            if p50_gateway is not None and p50_direct is not None
            else None
        ),
        "targets": {"overhead_p50_ms": 2.0, "overhead_p99_ms": 10.0},
    }
