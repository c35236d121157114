"""Which replica serves a call, and which replicas are healthy.

A call from region ``c`` for model ``m`` may go to any healthy replica of ``m`` on the
caller's active leases. The gateway tries them in this order:

    key(r) = (round(rtt_ms(c, site(r)), 1), outstanding(r), r.id)

nearest first (the network round trip between the caller's city and the replica's site,
:func:`suanli.geo.rtt_ms`), least outstanding calls among equally near ones, then by id so
the order is total. Unhealthy replicas come after all healthy ones (a last resort rather
than a refusal) once their back-off has passed, and not at all before.

Health: a connection error or a 5xx before the first token marks a replica down for
``backoff_s`` (doubling on each further failure, up to ``max_backoff_s``); a background
probe (``GET /v1/models``) or the next successful call brings it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from suanli.errors import NotFound


@dataclass(frozen=True, slots=True)
class Replica:
    """A registered endpoint serving ``model`` for ``lease_id`` at ``site``."""

    id: int
    lease_id: int
    buyer: str
    model: str
    site: str
    url: str  # base URL ending before /v1, e.g. http://10.0.0.5:8000
    emulated: bool = False


@dataclass(slots=True)
class ReplicaState:
    """A replica's live state in this gateway process."""

    replica: Replica
    outstanding: int = 0
    healthy: bool = True
    failures: int = 0
    retry_at: float = 0.0  # monotonic time after which a down replica may be tried again
    reported: str = ""  # the health last written to the registry by this gateway


@lru_cache(maxsize=65536)
def distance_ms(region: str, site: str) -> float:
    """Round trip between a caller's region (a city or site name) and a site, in ms;
    unknown regions are equally far from everywhere (the call still gets served)."""
    from suanli.geo import rtt_ms

    try:
        return round(rtt_ms(region, site), 1)
    except NotFound:
        return 0.0


@dataclass(slots=True)
class Pool:
    """The replicas this gateway knows, by id, with their live state."""

    backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    states: dict[int, ReplicaState] = field(default_factory=dict)

    def sync(self, replicas: Iterable[Replica]) -> None:
        """Adopt the registry's current list, keeping the state of replicas still in it."""
        fresh: dict[int, ReplicaState] = {}
        for r in replicas:
            old = self.states.get(r.id)
            if old is not None:
                old.replica = r
                fresh[r.id] = old
            else:
                fresh[r.id] = ReplicaState(r)
        self.states = fresh

    def candidates(self, buyer: str, model: str, region: str, now: float) -> list[ReplicaState]:
        """The replicas a call may try, best first (see the module docstring)."""
        healthy: list[ReplicaState] = []
        down: list[ReplicaState] = []
        for s in self.states.values():
            r = s.replica
            if r.buyer != buyer or r.model != model:
                continue
            if s.healthy:
                healthy.append(s)
            elif s.retry_at <= now:
                down.append(s)

        def key(s: ReplicaState) -> tuple[float, int, int]:
            return (distance_ms(region, s.replica.site), s.outstanding, s.replica.id)

        return sorted(healthy, key=key) + sorted(down, key=key)

    def models(self, buyer: str) -> list[str]:
        return sorted({s.replica.model for s in self.states.values() if s.replica.buyer == buyer})

    def failed(self, state: ReplicaState, now: float) -> None:
        """Take a replica out after a connection error or a 5xx."""
        state.healthy = False
        state.failures += 1
        wait = min(self.max_backoff_s, self.backoff_s * 2 ** (state.failures - 1))
        state.retry_at = now + wait

    def succeeded(self, state: ReplicaState) -> None:
        state.healthy = True
        state.failures = 0
        state.retry_at = 0.0

    def due_for_probe(self, now: float) -> list[ReplicaState]:
        return [s for s in self.states.values() if not s.healthy and s.retry_at <= now]
