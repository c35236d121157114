"""Suanli (算力): an exchange that turns idle GPUs into served AI.

The package is layered: a pure core (``catalog``, ``geo``, ``perf``, ``placement``,
``market``, ``sim``) that does no I/O beyond reading its own package data, and around it a
thin service (``store``, ``api``, ``web``), the hardware ``probe`` and the ``cli``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
