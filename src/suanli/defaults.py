"""Defaults that several layers share, defined once (a leaf module: imports nothing).

The performance model (:mod:`suanli.perf.sizing`), the API's request schemas, the CLI's
options and :class:`suanli.settings.Settings` all take these from here, so the API can never
accept a value the core refuses.
"""

DEFAULT_PERCENTILE = 95.0  # the percentile latency (SLO) targets apply at
DEFAULT_HEADROOM = 0.2  # share of each serving replica's capacity kept free
MAX_HEADROOM = 1.0  # exclusive: a headroom of 1 or more leaves no capacity to serve
