"""``suanli serve --workers 2``: "serving on" is one line printed once the port is bound,
/metrics shows the whole server from any worker, and SIGTERM to the server stops every
worker and frees the port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _requests_counted(text: str, route: str) -> float:
    pattern = r"suanli_http_requests_total\{([^}]*)\} ([0-9.e+]+)"
    return sum(
        float(value) for labels, value in re.findall(pattern, text) if f'route="{route}"' in labels
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker processes from /proc")
def test_serve_binds_before_saying_so_counts_across_workers_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    deep = tmp_path.joinpath(*(["a-rather-long-folder-name-for-wrapping"] * 3))
    deep.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env.update(COLUMNS="20", SUANLI_DATABASE_URL=f"sqlite:///{deep / 'exchange.db'}")
    server = subprocess.Popen(
        [sys.executable, "-m", "suanli", "serve", "--port", "0", "--workers", "2",
         "--log-level", "warning", "--no-access-log", "--clear-every", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        match = re.fullmatch(r"suanli: serving on http://127\.0\.0\.1:(\d+) \(2 worker.*\)\n", line)
        assert match, line
        port = int(match[1])
        # The port is bound when the line is printed: a connection is accepted at once.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.2)
        workers = _children(server.pid)
        assert len(workers) >= 2, workers
        # Requests on fresh connections land on both workers; every scrape counts them all.
        for _ in range(40):
            assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        seen = []
        for _ in range(6):
            seen.append(_requests_counted(httpx.get(url + "/metrics", timeout=5).text, "/healthz"))
        assert all(count >= 41 for count in seen), seen
        assert seen == sorted(seen), seen
        # SIGTERM to the server process alone: it stops, and so does every worker.
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        if server.stderr:
            server.stderr.close()
