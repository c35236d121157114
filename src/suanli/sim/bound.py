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

import numpy as np

from suanli.placement.serving import UNSERVED_PENALTY_CNY_PER_RPS, place_serving
from suanli.sim.demand import Demand
from suanli.sim.engine import SECONDS_PER_HOUR
from suanli.sim.policies import feasible
from suanli.sim.world import World


@dataclass(frozen=True, slots=True)
class Bound:
    """The hindsight bound: serving spend at the starting asks and per million tokens."""

    serving_spend_cny: float
    tokens: float  # tokens (prompt + output) of the demand the LP serves
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
    req = demand.requests
    n_c, n_w, _, _ = world.shape
    cell = (req.hour * n_c + req.city) * n_w + req.workload
    cell_tokens = np.bincount(
        cell, weights=(req.prompt_tokens + req.output_tokens), minlength=demand.hours * n_c * n_w
    ).reshape(demand.hours, n_c, n_w)
    spend, unserved, tokens = 0.0, 0.0, 0.0
    for t in range(demand.hours):
        plan = place_serving(rate[t], free, world.ask0, world.gpus_per_replica, world.rps, ok)
        spend += plan.lp_cost - UNSERVED_PENALTY_CNY_PER_RPS * plan.lp_unserved_rps
        unserved += plan.lp_unserved_rps
        # Per token, the bound counts only the demand it serves (none where no GPU type
        # meets a class's targets, part where capacity runs out), as policies count theirs.
        capacity = np.einsum("cwsg,wg->cw", plan.replicas, world.rps)
        served = np.minimum(
            1.0, np.divide(capacity, rate[t], out=np.ones_like(capacity), where=rate[t] > 0)
        )
        tokens += float((cell_tokens[t] * served).sum())
    return Bound(
        serving_spend_cny=spend, tokens=tokens * sc.request_scale, unserved_request_hours=unserved
    )
