"""One call through the gateway: pick a replica, forward, measure, fall back.

The gateway tries the caller's candidate replicas best first (:mod:`suanli.gateway.routing`).
A connection error, a 5xx, or a stream that ends before its first token makes it take that
replica out and try the next: nothing has reached the caller yet, so nothing is lost.
Once the first token has been forwarded the call is committed to its replica; if the replica
dies then, the caller's connection is dropped too (an honest failure, never a silently
truncated answer), and the call counts as failed for that lease.

Streams are forwarded event by event (``data: ...\\n\\n``). The gateway always asks the
replica for a final usage event (``stream_options.include_usage``) so it can meter tokens,
and drops that event when the caller did not ask for it. Output tokens are taken from the
usage when the replica reports it, else counted as events that carry text.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from suanli.gateway.emulator import EMULATOR_HEADER
from suanli.gateway.upstream import Pool, Response

_TEXT = re.compile(rb'"(?:content|text)":"(?!")')
_USAGE = re.compile(rb'"usage":\{[^{}]*\}')


class NoReplica(Exception):
    """Every candidate failed before its first token."""

    def __init__(self, attempts: int, last: str) -> None:
        super().__init__(last)
        self.attempts = attempts
        self.last = last


@dataclass(slots=True)
class Measured:
    """What one forwarded call measured so far (times from the call's arrival, in ms)."""

    ttft_ms: float = 0.0
    upstream_ttft_ms: float = 0.0
    e2e_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    counted_tokens: int = 0
    failed: bool = False
    emulated: bool = False


def usage_of(event: bytes) -> tuple[int, int] | None:
    """(prompt, completion) tokens from a usage object in ``event``, if there is one."""
    m = _USAGE.search(event)
    if m is None:
        return None
    try:
        usage = json.loads(m.group(0)[len(b'"usage":') :])
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (ValueError, TypeError, AttributeError):
        return None


def is_usage_only(event: bytes) -> bool:
    return b'"choices":[]' in event and b'"usage"' in event


class Upstream:
    """A started upstream stream whose first token has arrived."""

    def __init__(
        self,
        response: Response,
        events: AsyncIterator[bytes],
        first: list[bytes],
        measured: Measured,
    ) -> None:
        self.response = response
        self.events = events
        self.first = first
        self.measured = measured


async def _events(response: Response) -> AsyncIterator[bytes]:
    """Whole SSE events (each ending with a blank line) as they arrive."""
    buffer = b""
    async for chunk in response.chunks():
        buffer += chunk
        while True:
            cut = buffer.find(b"\n\n")
            if cut < 0:
                break
            yield buffer[: cut + 2]
            buffer = buffer[cut + 2 :]
    if buffer.strip():
        yield buffer


async def open_stream(pool: Pool, url: str, body: bytes, arrived: float) -> Upstream:
    """POST a streaming call and read up to its first token; raises
    :class:`~suanli.gateway.upstream.UpstreamError` or :class:`UpstreamFailed` if the
    replica fails before it."""
    sent = time.monotonic()
    response = await pool.request("POST", url, body)
    try:
        if response.status_code >= 500:
            raise UpstreamFailed(f"{url} answered {response.status_code}")
        measured = Measured(emulated=EMULATOR_HEADER in response.headers)
        events = _events(response)
        first: list[bytes] = []
        if response.status_code >= 400:
            return Upstream(response, events, first, measured)
        async for event in events:
            first.append(event)
            if _TEXT.search(event):
                now = time.monotonic()
                measured.ttft_ms = (now - arrived) * 1e3
                measured.upstream_ttft_ms = (now - sent) * 1e3
                measured.counted_tokens = 1
                return Upstream(response, events, first, measured)
            if event.startswith(b"data: [DONE]"):
                break
        raise UpstreamFailed(f"{url} ended its stream before the first token")
    except BaseException:
        await response.aclose()
        raise


class UpstreamFailed(Exception):
    """A replica failed before the first token (5xx, or a stream with no token)."""


async def forward_stream(
    upstream: Upstream, arrived: float, *, want_usage: bool
) -> AsyncIterator[bytes]:
    """The caller's stream: the events read so far, then the rest as it comes. Measures
    as it goes; a replica failing mid-stream marks the call failed and re-raises."""
    m = upstream.measured
    try:
        for event in upstream.first:
            if not want_usage and is_usage_only(event):
                continue
            yield event
        async for event in upstream.events:
            if _TEXT.search(event):
                m.counted_tokens += 1
            elif b'"usage"' in event:
                usage = usage_of(event)
                if usage is not None:
                    m.input_tokens, m.output_tokens = usage
                if not want_usage and is_usage_only(event):
                    continue
            yield event
    except Exception:
        m.failed = True
        raise
    finally:
        m.e2e_ms = (time.monotonic() - arrived) * 1e3
        if not m.output_tokens:
            m.output_tokens = m.counted_tokens
        await upstream.response.aclose()


async def call_once(
    pool: Pool, url: str, body: bytes, arrived: float
) -> tuple[Response, bytes, Measured]:
    """A non-streamed call: the whole answer (raises on a connection error or 5xx)."""
    response = await pool.request("POST", url, body)
    content = await response.read()
    if response.status_code >= 500:
        raise UpstreamFailed(f"{url} answered {response.status_code}")
    m = Measured(emulated=EMULATOR_HEADER in response.headers)
    m.e2e_ms = m.ttft_ms = (time.monotonic() - arrived) * 1e3
    if response.status_code < 400:
        try:
            usage: Any = json.loads(content).get("usage") or {}
            m.input_tokens = int(usage.get("prompt_tokens") or 0)
            m.output_tokens = int(usage.get("completion_tokens") or 0)
        except (ValueError, AttributeError, TypeError):
            pass
    return response, content, m
