"""Periodic clearing: the exchange runs one call-auction round per period by itself.

Every node (and every worker process of a node) runs the loop; rounds start on wall-clock
multiples of the period, and each names its period (``every-60s:29451234``). The round
claims that name in ``clearing_rounds``, whose ``period`` column is unique, inside the
round's own transaction and under the rounds' advisory lock (SQLite: the single writer), so
however many nodes share the database, exactly one round runs per period; the others find
the period taken and do nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from suanli.errors import SuanliError

log = logging.getLogger("suanli.api.scheduler")


def period_name(every_s: float, at_s: float) -> str:
    """The name of the period of length ``every_s`` seconds that contains ``at_s``."""
    return f"every-{every_s:g}s:{int(at_s // every_s)}"


def clear_if_due(app: Any, period: str) -> int | None:
    """Run the round of ``period`` unless some node already ran it.

    Returns the number of fills, or None when the period was already cleared.
    """
    from suanli.api.routes.market import NODE
    from suanli.store.market import run_round

    with app.state.db.write() as session:
        summary = run_round(session, period=period, node=NODE)
    if summary is None:
        return None
    log.info("scheduled clearing", extra={"fills": summary["fills"], "period": period})
    return int(summary["fills"])


async def clear_periodically(app: Any, every_s: float) -> None:
    """Run :func:`clear_if_due` at every wall-clock multiple of ``every_s`` seconds."""
    while True:
        await asyncio.sleep(every_s - time.time() % every_s + 0.01)
        period = period_name(every_s, time.time())
        try:
            await run_in_threadpool(clear_if_due, app, period)
        except SuanliError as exc:  # e.g. the database went away for a moment
            log.warning("scheduled clearing failed: %s", exc.message)
        except SQLAlchemyError as exc:  # the next period tries again; the loop must not die
            log.warning("scheduled clearing failed: %s", type(exc).__name__)
