"""The service tests use the exchange fixtures of ``tests/conftest.py``."""
