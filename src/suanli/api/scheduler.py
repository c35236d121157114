"""Periodic clearing: the exchange runs one call-auction round per period by itself.

Every worker process runs the loop; rounds start on wall-clock multiples of the period, and
a worker skips the round when the market already cleared in this period or has no resting
orders. Two workers racing at the same instant can at worst both clear; the second round
then finds no crossing orders (the first left none), so it fills nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from suanli.errors import SuanliError
from suanli.market.events import Clear

log = logging.getLogger("suanli.api.scheduler")


def clear_if_due(app: Any, period_start_h: float) -> int | None:
    """Clear the market unless it is empty or already cleared since ``period_start_h``.

    Returns the number of fills, or None when the round was skipped.
    """
    from suanli.api.routes.market import store_for

    market = store_for(app)
    state = market.state()
    if not state.book.orders:
        return None
    last = state.last_clearing
    if last is not None and last.cleared_at_h >= period_start_h:
        return None
    with app.state.db.write() as session:
        new_state = market.append(session, Clear(time.time() / 3600.0))
    result = new_state.last_clearing
    fills = 0 if result is None else len(result.fills)
    log.info("scheduled clearing", extra={"fills": fills})
    return fills


async def clear_periodically(app: Any, every_s: float) -> None:
    """Run :func:`clear_if_due` at every wall-clock multiple of ``every_s`` seconds."""
    while True:
        await asyncio.sleep(every_s - time.time() % every_s + 0.01)
        period_start_h = (time.time() // every_s) * every_s / 3600.0
        try:
            await run_in_threadpool(clear_if_due, app, period_start_h)
        except SuanliError as exc:  # e.g. the database went away for a moment
            log.warning("scheduled clearing failed: %s", exc.message)
