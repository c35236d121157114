"""Alembic migrations of the exchange database (run by ``suanli.store.migrate``)."""

__all__: list[str] = []
