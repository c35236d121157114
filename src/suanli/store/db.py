"""Engine and session helpers: one :class:`Database` per process, per URL.

The URL comes from the caller, else ``SUANLI_DATABASE_URL``, else an SQLite file in the
user's data directory (created on first run). ``postgresql://`` URLs are mapped to the
psycopg (v3) driver. SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy
timeout, and every write transaction starts with ``BEGIN IMMEDIATE`` so two writers (two
worker processes, say) never deadlock upgrading a read lock; PostgreSQL runs at READ
COMMITTED and writers lock the rows they change (conditional updates, ``FOR UPDATE``).

Use it like this (routers get the instance from :func:`suanli.api.deps.get_database`)::

    db = Database.connect(url)          # engine + migrations applied
    with db.read() as session:          # a plain transaction, rolled back at the end
        session.scalars(select(Offer)).all()
    with db.write() as session:         # BEGIN IMMEDIATE on SQLite; committed at the end
        session.add(Offer(...))
"""

from __future__ import annotations

import os
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from suanli.errors import InvalidRequest

fcntl: types.ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy handler is the only queue
    fcntl = None

ENV_URL = "SUANLI_DATABASE_URL"
_IMMEDIATE = "suanli_sqlite_immediate"


def default_database_url() -> str:
    """An SQLite file in the user's data directory (the directory is created here)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("suanli", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'suanli.db'}"


def resolve_database_url(url: str | None = None) -> str:
    """The URL to use: ``url``, else ``Settings.database_url`` (``$SUANLI_DATABASE_URL``),
    else the default file.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``.
    """
    if not url:
        from suanli.settings import load_settings

        url = load_settings().database_url
    chosen = url or default_database_url()
    for prefix in ("postgresql://", "postgres://"):
        if chosen.startswith(prefix):
            chosen = "postgresql+psycopg://" + chosen[len(prefix) :]
    try:
        parsed = make_url(chosen)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse message
        raise InvalidRequest(
            f"cannot read database URL {chosen!r}",
            field="database_url",
            hint="use sqlite:///path/to/file.db or postgresql://user@host/db",
        ) from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidRequest(
            f"unsupported database {parsed.get_backend_name()!r}",
            field="database_url",
            hint="Suanli runs on SQLite or PostgreSQL",
        )
    return chosen


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    memory = database in ("", ":memory:")
    if not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        from sqlalchemy.pool import StaticPool

        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, issue BEGIN (so it can be IMMEDIATE).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _sqlite_lock_path(url: str) -> str | None:
    database = make_url(url).database or ""
    if database in ("", ":memory:"):
        return None
    return str(Path(database).expanduser()) + ".writelock"


def make_engine(url: str, *, pool: str = "queue") -> Engine:
    """An engine tuned for the backend (see the module docstring); ``pool="null"`` opens a
    connection per session on PostgreSQL (``Settings.db_pool``)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if pool == "null":
        return create_engine(url, poolclass=NullPool)
    # Pre-ping: a pooled connection the server dropped (restart, pg_terminate_backend) is
    # replaced at checkout instead of failing the request that drew it.
    return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800, pool_pre_ping=True)


class Database:
    """An engine plus two session factories: ``read()`` and ``write()``."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        writer = engine.execution_options(**{_IMMEDIATE: True}) if self.is_sqlite else engine
        self._write = sessionmaker(bind=writer, expire_on_commit=False)
        # SQLite has one writer at a time anyway; queueing this process's writers on a lock
        # keeps them out of SQLite's sleep-and-retry busy handler (other processes still
        # meet it, bounded by busy_timeout).
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # Across processes (uvicorn workers) an flock on a file beside the database queues
        # writers in the kernel instead of SQLite's sleep-and-retry busy handler, whose
        # back-off sleeps (up to 100 ms) would otherwise dominate tail latency.
        self._lock_path = _sqlite_lock_path(url) if self.is_sqlite else None
        self._lock_fd: int | None = None

    @classmethod
    def connect(
        cls, url: str | None = None, *, migrate: bool = True, pool: str = "queue"
    ) -> Database:
        """Open (and, by default, migrate to the latest schema) the database at ``url``."""
        resolved = resolve_database_url(url)
        db = cls(resolved, make_engine(resolved, pool=pool))
        if migrate:
            from suanli.store.migrate import upgrade

            upgrade(db.engine)
        return db

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; its transaction is rolled back when the block ends."""
        session = self._read()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for writes: committed when the block ends, rolled back on error.

        Do not open a write session inside another one in the same thread.
        """
        lock = self._write_lock
        fd = None
        if lock is not None:
            lock.acquire()
            fd = self._file_lock()
        try:
            if fd is not None and fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            session = self._write()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        finally:
            if fd is not None and fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            if lock is not None:
                lock.release()

    def _file_lock(self) -> int | None:
        """This process's descriptor of the writers' lock file (opened on first use)."""
        if self._lock_path is None or fcntl is None:
            return None
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._lock_fd

    def dispose(self) -> None:
        """Close every pooled connection (and the writers' lock file)."""
        self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
