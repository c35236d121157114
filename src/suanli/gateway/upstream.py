"""A lean HTTP/1.1 client for the gateway's calls to replicas (and the benchmark's load).

Why not httpx here: its connection pool re-examines every connection and every queued
request each time one is taken or given back (httpcore's ``_assign_requests_to_connections``),
so at a few hundred concurrent streams the pool's bookkeeping cost the gateway more CPU per
call than forwarding the call (measured with cProfile under ``suanli bench gateway``). This
client keeps, per replica, a stack of idle keep-alive connections: taking one is a ``pop``,
giving it back an ``append``. It speaks only what the gateway needs: a POST or GET with a
body of known length, and a response of known length, chunked or read to the end.

A request on a reused connection that the replica had already closed (nothing read back)
is sent once more on a new connection, so an idle time-out is never taken for a failure.
Every failure is an :class:`UpstreamError` (a ``ConnectionError``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class UpstreamError(ConnectionError):
    """The replica could not be reached, or broke the connection."""


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False


@dataclass(slots=True)
class Response:
    """Status and headers; the body through :meth:`chunks` or :meth:`read` (once)."""

    status_code: int
    headers: dict[str, str]
    _pool: Pool
    _key: tuple[str, int]
    _conn: _Conn | None
    _length: int | None
    _chunked: bool
    _keep_alive: bool
    _done: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked encoding removed)."""
        conn = self._conn
        if conn is None or self._done:
            return
        reader = conn.reader
        try:
            if self._chunked:
                while True:
                    line = await reader.readline()
                    if not line.endswith(b"\n"):
                        raise UpstreamError("the replica closed the stream mid-body")
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        break
                    data = await reader.readexactly(size + 2)
                    yield data[:-2]
            elif self._length is not None:
                left = self._length
                while left > 0:
                    data = await reader.read(min(left, 65536))
                    if not data:
                        raise UpstreamError("the replica closed the stream mid-body")
                    left -= len(data)
                    yield data
            else:
                self._keep_alive = False
                while data := await reader.read(65536):
                    yield data
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self._close()
            raise UpstreamError(f"the replica broke the stream: {exc!r}") from exc
        self._done = True
        self._release()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._keep_alive and self._done:
            conn.reused = True
            self._pool.put_back(self._key, conn)
        else:
            conn.writer.close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.writer.close()

    async def aclose(self) -> None:
        """Give the connection back if the body was read, else close it."""
        self._release()


@dataclass
class Pool:
    """Idle keep-alive connections per (host, port)."""

    connect_timeout_s: float = 2.0
    read_timeout_s: float = 300.0  # until the response's headers
    max_idle_per_host: int = 1000
    _idle: dict[tuple[str, int], list[_Conn]] = field(default_factory=dict)

    def put_back(self, key: tuple[str, int], conn: _Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self.max_idle_per_host and not conn.writer.is_closing():
            idle.append(conn)
        else:
            conn.writer.close()

    async def _connect(self, key: tuple[str, int]) -> _Conn:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*key, limit=1 << 20), self.connect_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"cannot connect to {key[0]}:{key[1]}: {exc!r}") from exc
        return _Conn(reader, writer)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send a request (with extra ``headers``) and read the response's status and
        headers."""
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        key = (host, parts.port or (443 if parts.scheme == "https" else 80))
        if parts.scheme != "http":
            raise UpstreamError(f"only http:// replicas are supported, not {url!r}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {host}:{key[1]}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            + "Accept: */*\r\n\r\n"
        ).encode("latin-1")
        idle = self._idle.get(key)
        while True:
            conn = idle.pop() if idle else await self._connect(key)
            try:
                async with asyncio.timeout(self.read_timeout_s):
                    conn.writer.write(head + body)
                    await conn.writer.drain()
                    raw = await conn.reader.readuntil(b"\r\n\r\n")
                break
            except TimeoutError as exc:
                conn.writer.close()
                raise UpstreamError(f"{url}: no answer within {self.read_timeout_s:g} s") from exc
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                conn.writer.close()
                nothing_back = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
                if conn.reused and nothing_back:
                    continue  # the replica had closed this idle connection: try a new one
                raise UpstreamError(f"{url}: {exc!r}") from exc
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            conn.writer.close()
            raise UpstreamError(f"{url}: not an HTTP response: {lines[0]!r}") from exc
        got: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                got[name.strip().lower()] = value.strip()
        chunked = "chunked" in got.get("transfer-encoding", "").lower()
        length = None if chunked else _int(got.get("content-length"))
        if method == "HEAD" or status in (204, 304):
            length, chunked = 0, False
        keep_alive = got.get("connection", "").lower() != "close"
        return Response(status, got, self, key, conn, length, chunked, keep_alive)

    async def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.writer.close()
        self._idle.clear()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
