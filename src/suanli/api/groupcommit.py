"""Group commit for SQLite writes made on the event loop.

SQLite admits one writer at a time, so a write's cost under load is the time it holds the
write lock. With one transaction per request most of that time went to ``BEGIN
IMMEDIATE``, ``COMMIT``, the cross-process lock and SQLAlchemy session set-up, not to
the statements. Here the writes that arrive in the same turn of the event loop are queued
and then run in **one** transaction:

* each write runs in its own ``SAVEPOINT``; one that raises is rolled back to its savepoint
  alone and its caller gets the exception, the others go on. Writes that talk to the
  driver directly (``lean=True``: orders) get a savepoint issued on the driver connection,
  because SQLAlchemy's ``Session.begin_nested`` cost as much as the order itself; writes
  that add ORM objects use ``begin_nested``, which also keeps the session consistent;
* every caller gets its result only after the shared ``COMMIT`` succeeded (if the commit
  fails, every write of the batch fails with that error), so a 2xx still means durable;
* writes keep their arrival order, and each sees the writes before it, so the
  conditional ``UPDATE ... WHERE available >= :n`` and the Idempotency-Key look-up behave
  exactly as they would in separate transactions run one after another.

A batch is capped at ``MAX_BATCH`` writes so one commit never holds the lock for long.
Batches run on one writer thread per process, so the event loop keeps parsing requests
while a batch waits for the cross-process write lock. A thread holding that lock must not
wait long for the GIL (the other worker waits on it): ``suanli serve`` workers therefore
run with a 0.5 ms GIL switch interval (:func:`suanli.app.app_for`) instead of
Python's 5 ms, which took offer writes from ~950 to ~1,700/s on 2 cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from suanli.store.db import Database

T = TypeVar("T")
MAX_BATCH = 64

Work = Callable[[Session], Any]


class GroupCommitter(Generic[T]):
    """Batches ``submit``-ted writes of one event loop into shared transactions, run one
    batch at a time on a writer thread (so the loop keeps parsing requests and sending
    responses while a batch waits for the write lock or commits)."""

    def __init__(self, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        self.db = db
        self.loop = loop
        self.queue: list[tuple[Work, asyncio.Future[Any], bool]] = []
        self.busy = False
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="suanli-writer")

    async def submit(self, work: Callable[[Session], T], *, lean: bool = False) -> T:
        """Run ``work(session)`` in the next batch; its result once the batch committed.
        ``lean``: ``work`` adds no ORM objects (a cheaper savepoint, see the module doc)."""
        future: asyncio.Future[T] = self.loop.create_future()
        self.queue.append((work, future, lean))
        if not self.busy:
            self.busy = True
            # call_soon runs after the tasks already ready in this turn, so the requests
            # that arrived together have queued their writes by then.
            self.loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        if not self.queue:
            self.busy = False
            return
        batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
        running = self.loop.run_in_executor(self.writer, self._run, batch)
        running.add_done_callback(lambda done: self._finish(batch, done))

    def _finish(
        self, batch: list[tuple[Work, asyncio.Future[Any], bool]], done: asyncio.Future[Any]
    ) -> None:
        outcomes: list[tuple[bool, Any]] | None = None
        failure: BaseException | None = None
        try:
            outcomes = done.result()
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch stored
            failure = exc
        for index, (_, future, _lean) in enumerate(batch):
            if future.done():
                continue
            if outcomes is None:
                assert failure is not None
                future.set_exception(failure)
            elif outcomes[index][0]:
                future.set_result(outcomes[index][1])
            else:
                future.set_exception(outcomes[index][1])
        self._start()  # the writes that queued meanwhile form the next batch

    def _run(self, batch: list[tuple[Work, asyncio.Future[Any], bool]]) -> list[tuple[bool, Any]]:
        """On the writer thread: every write of ``batch`` in one transaction, each in a
        savepoint; (ok, result or exception) per write."""
        outcomes: list[tuple[bool, Any]] = []
        with self.db.write() as session:
            driver = session.connection().connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            try:
                for work, _, lean in batch:
                    try:
                        if lean:
                            result = _in_savepoint(cursor, session, work)
                        else:
                            with session.begin_nested():
                                result = work(session)
                    except Exception as exc:  # this write only; the batch goes on
                        outcomes.append((False, exc))
                    else:
                        outcomes.append((True, result))
            finally:
                cursor.close()
        return outcomes


def _in_savepoint(cursor: Any, session: Session, work: Work) -> Any:
    """``work`` in a savepoint issued on the driver: for writes that send their SQL straight
    to the driver and add no ORM objects (the session's unit of work is never involved)."""
    cursor.execute("SAVEPOINT suanli_write")
    try:
        result = work(session)
    except BaseException:
        cursor.execute("ROLLBACK TO SAVEPOINT suanli_write")
        cursor.execute("RELEASE SAVEPOINT suanli_write")
        session.expunge_all()  # nothing it read may outlive the rollback
        raise
    cursor.execute("RELEASE SAVEPOINT suanli_write")
    return result


def committer(db: Database) -> GroupCommitter[Any]:
    """The group committer of ``db`` on the running event loop."""
    loop = asyncio.get_running_loop()
    # Kept on the Database itself, so it goes with it (its idle writer thread exits when
    # the executor is collected).
    current: GroupCommitter[Any] | None = db.__dict__.get("_group_committer")
    if current is None or current.loop is not loop:
        current = GroupCommitter(db, loop)
        db.__dict__["_group_committer"] = current
    return current
