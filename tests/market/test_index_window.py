"""The public index reads only the fills of its look-back window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from suanli.app import create_app
from suanli.cli.demo_exchange import run_exchange_demo
from tests.conftest import in_process


def test_old_direct_fills_leave_the_default_window(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"
    gpu = run_exchange_demo(path)["leases"][0]["gpu"]
    engine = create_engine(f"sqlite:///{path}")
    month_ago = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE fills SET created_at = :t"), {"t": month_ago.replace(tzinfo=None)}
        )
    engine.dispose()
    with in_process(create_app(f"sqlite:///{path}")) as client:
        recent = client.get("/api/v1/index", params={"gpu": gpu}).json()
        assert recent["latest_cny_per_gpu_hour"] is None  # 7-day hourly window: nothing
        longer = client.get("/api/v1/index", params={"gpu": gpu, "days": 40}).json()
        assert longer["latest_cny_per_gpu_hour"] is not None
        assert client.get("/api/v1/index", params={"gpu": gpu, "days": -1}).status_code == 422
