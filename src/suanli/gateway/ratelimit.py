"""Per-key rate limits: a token bucket per API key, in the gateway's memory.

Each key may make ``rate_per_s`` calls a second on average and ``burst`` at once. Several
gateway processes each enforce the limit on their own share of the traffic.
"""

from __future__ import annotations

from suanli.errors import InvalidRequest


class RateLimiter:
    """Token buckets, one per key, refilled continuously."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if not rate_per_s > 0 or burst < 1:
            raise InvalidRequest("a rate limit needs rate > 0 and burst >= 1", field="rate")
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, now: float) -> float:
        """Spend one call of ``key`` at monotonic time ``now``: 0 if allowed, else the
        seconds until one would be."""
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:
            self._buckets.clear()
        return 0.0
