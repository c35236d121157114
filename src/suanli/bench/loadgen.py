"""A small closed-loop HTTP/1.1 load generator (stdlib only), run in its own process.

``python -m suanli.bench.loadgen --url URL --path /orders --body JSON --key KEY`` keeps
``--concurrency`` keep-alive connections busy for ``--seconds`` (after ``--warmup-s``) and
prints one JSON document: requests, statuses, requests per second, latency percentiles.
It speaks just enough HTTP (Content-Length bodies) to cost the server, not itself, the time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from urllib.parse import urlsplit


def _request(host: str, path: str, key: str, body: bytes, idempotent: bool) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: Bearer {key}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if idempotent:
        lines.append(f"Idempotency-Key: {uuid.uuid4().hex}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _worker(
    args: argparse.Namespace,
    start: float,
    stop: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    parsed = json.loads(args.body)
    bodies = [json.dumps(b).encode() for b in parsed] if args.cycle else [args.body.encode()]
    fixed = [_request(f"{host}:{port}", args.path, args.key, b, False) for b in bodies]
    turn = random.randrange(len(bodies))  # connections start at different offers
    try:
        while True:
            now = time.perf_counter()
            if now >= stop:
                break
            turn += 1
            if args.idempotent:
                body = bodies[turn % len(bodies)]
                payload = _request(f"{host}:{port}", args.path, args.key, body, True)
            else:
                payload = fixed[turn % len(fixed)]
            t0 = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            elapsed = time.perf_counter() - t0
            if t0 >= start:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(args: argparse.Namespace) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    begin = time.perf_counter()
    start, stop = begin + args.warmup_s, begin + args.warmup_s + args.seconds
    await asyncio.gather(
        *(_worker(args, start, stop, latencies, statuses) for _ in range(args.concurrency))
    )
    latencies.sort()

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 3)

    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "path": args.path,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "requests": len(latencies),
        "ok": ok,
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "writes_per_s": round(ok / args.seconds, 1),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--idempotent", action="store_true", help="a fresh Idempotency-Key each")
    parser.add_argument("--cycle", action="store_true", help="--body is a JSON list; cycle it")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
