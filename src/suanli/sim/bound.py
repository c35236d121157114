"""A hindsight lower bound on the cost of serving the run's demand.

With all of the month's demand known, the cheapest possible serving is the LP

    minimise   sum_t sum ask0[s,g] k[w,g] x[t,c,w,s,g]
    subject to sum_{s,g} rps[w,g] x[t,c,w,s,g] >= rate[t,c,w]              (every hour)
               sum_{c,w} k[w,g] x[t,c,w,s,g] <= inventory[s,g] - tenants[s,g]
               x[t,c,w,s,g] = 0 unless (s, g) serves (c, w) within its targets
               x >= 0

over every hour ``t`` of the run: fractional replicas, the starting asks, and all capacity
not held by existing tenants (no training or batch job in the way, since in hindsight they
could always go elsewhere or later). Serving leases are hourly, so the month's LP falls
apart into one block per hour and is solved block by block (the same optimum). Every
policy's serving, priced at the starting asks, costs at least this much for the same
demand served; the bound is what no placement can beat, not a plan one could run.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.placement.serving import UNSERVED_PENALTY_CNY_PER_RPS, place_serving
from suanli.sim.demand import Demand
from suanli.sim.engine import SECONDS_PER_HOUR
from suanli.sim.policies import feasible
from suanli.sim.world import World


@dataclass(frozen=True, slots=True)
class Bound:
    """The hindsight bound: serving spend at the starting asks and per million tokens."""

    serving_spend_cny: float
    tokens: float  # all demanded tokens (prompt + output)
    unserved_request_hours: float  # requests/s x hours the capacity cannot hold at all

    @property
    def cost_cny_per_million_tokens(self) -> float:
        return self.serving_spend_cny / self.tokens * 1e6 if self.tokens > 0 else float("nan")


def hindsight_bound(world: World, demand: Demand) -> Bound:
    """Solve the month's serving LP (see the module doc)."""
    sc = world.scenario
    rate = demand.counts * sc.request_scale / SECONDS_PER_HOUR
    free = world.inventory - world.base
    ok = feasible(world, world.ask0)
    spend, unserved = 0.0, 0.0
    for t in range(demand.hours):
        plan = place_serving(rate[t], free, world.ask0, world.gpus_per_replica, world.rps, ok)
        spend += plan.lp_cost - UNSERVED_PENALTY_CNY_PER_RPS * plan.lp_unserved_rps
        unserved += plan.lp_unserved_rps
    req = demand.requests
    tokens = float((req.prompt_tokens + req.output_tokens).sum()) * sc.request_scale
    return Bound(serving_spend_cny=spend, tokens=tokens, unserved_request_hours=unserved)
