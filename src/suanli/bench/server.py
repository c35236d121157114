"""Run ``suanli serve`` (or another ASGI app factory under uvicorn, as the bench's bare
endpoint) in a child process on loopback (for the race test and the bench).

The server gets its own process group, so stopping it (SIGTERM, then SIGKILL after a grace
period) takes every uvicorn worker with it, even if the test that started it fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType

import httpx

from suanli.errors import Unavailable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``with ServerProcess(url, workers=2) as server: httpx.get(server.url + "/healthz")``."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 1,
        startup_timeout_s: float = 60.0,
        clear_every_s: float | None = None,
        factory: str | None = None,
    ) -> None:
        """``factory`` (``module:function``) runs that app under uvicorn instead of
        ``suanli serve``; it must answer ``GET /healthz``."""
        self.database_url = database_url
        self.factory = factory
        self.workers = workers
        self.clear_every_s = clear_every_s  # None: serve's default
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        # The child's own environment (this process's is left alone): its database, and no
        # rate limits, since a load test sends thousands of requests from one address.
        env = dict(
            os.environ,
            SUANLI_DATABASE_URL=self.database_url,
            SUANLI_RATE_LIMIT_PER_IP="",
            SUANLI_RATE_LIMIT_PER_KEY="",
            SUANLI_RATE_LIMIT_AUTH_FAILURES="",
        )
        if self.factory is None:
            command = [sys.executable, "-m", "suanli", "serve"]
        else:
            command = [sys.executable, "-m", "uvicorn", "--factory", self.factory,
                       "--host", "127.0.0.1"]  # fmt: skip
        self.process = subprocess.Popen(
            [
                *command,
                "--port", str(self.port),
                "--workers", str(self.workers),
                "--log-level", "warning",
                "--no-access-log",
                *self._clearing_args(),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode()[-2000:] if self.process.stderr else ""
                raise Unavailable(f"suanli serve exited early: {err}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    # With several workers, make sure more than one has bound the socket.
                    if self.workers > 1:
                        time.sleep(0.5)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise Unavailable(f"suanli serve did not answer within {self.startup_timeout_s} s")

    def _clearing_args(self) -> tuple[str, ...]:
        if self.clear_every_s is None or self.factory is not None:
            return ()  # serve's default; a bare uvicorn app has no clearing loop
        return ("--clear-every", f"{self.clear_every_s:g}")

    def stop(self) -> None:
        """Stop the server and all its workers."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
        if process.stderr:
            process.stderr.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
