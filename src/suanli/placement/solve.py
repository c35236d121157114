"""The placement entry points: :func:`place` and the two baselines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from suanli.errors import InvalidRequest
from suanli.geo import LatencyModel
from suanli.placement.build import build_problem
from suanli.placement.model import Demand, Offer, RttTable
from suanli.placement.problem import Objective, Problem
from suanli.placement.result import Placement, Solution

Method = Literal["auto", "milp", "fast"]
# Above this many acceptable (group, offer) pairs "auto" uses the fast solver.
AUTO_MILP_MAX_PAIRS = 5_000
AUTO_MILP_MAX_DEMANDS = 200


def solve(problem: Problem, method: Method = "auto", *, time_limit_s: float = 30.0) -> Solution:
    """Solve an array problem with the chosen method."""
    if method not in ("auto", "milp", "fast"):
        raise InvalidRequest(
            f"unknown method {method!r}", field="method", hint="Use auto, milp or fast."
        )
    if method == "auto":
        from suanli.placement.milp import pairs

        if (
            problem.n_demands <= AUTO_MILP_MAX_DEMANDS
            and len(pairs(problem)[0]) <= AUTO_MILP_MAX_PAIRS
        ):
            return _exact_or_fast(problem, time_limit_s)
        method = "fast"
    if method == "milp":
        from suanli.placement.milp import solve_milp

        return solve_milp(problem, time_limit_s=time_limit_s)
    from suanli.placement.fast import solve_fast

    return solve_fast(problem)


def _exact_or_fast(problem: Problem, time_limit_s: float) -> Solution:
    """The MILP; if its time limit stops it, the better of its incumbent and the fast plan."""
    from suanli.errors import Unavailable
    from suanli.placement.fast import solve_fast
    from suanli.placement.milp import solve_milp

    try:
        exact = solve_milp(problem, time_limit_s=time_limit_s)
    except Unavailable:
        return solve_fast(problem)
    if exact.status == "optimal":
        return exact
    fast = solve_fast(problem)
    better = min((exact, fast), key=lambda s: Placement(problem, s).objective_value)
    bounds = [b for b in (exact.lower_bound, fast.lower_bound) if b is not None]
    return replace(better, lower_bound=max(bounds) if bounds else None)


def place(
    demands: Sequence[Demand],
    offers: Sequence[Offer],
    latency: LatencyModel | RttTable | None = None,
    *,
    objective: Objective = "cost",
    method: Method = "auto",
    power_weight: float = 0.0,
    time_limit_s: float = 30.0,
) -> Placement:
    """Place all demands jointly on the offers at least cost.

    ``objective="cost"`` places as many GPUs of demand as capacity allows, then minimises
    cost; ``"placed"`` maximises the number of demands placed, then cost. ``power_weight``
    adds that multiple of each offer's power cost (GPU TDP x site PUE x site power price) to
    its price in the objective (a carbon or power-price weight); reported costs stay at the
    listed prices. ``method="auto"`` proves optimality with the MILP on small instances (up to
    200 demands and 5,000 acceptable unit-offer pairs; if ``time_limit_s`` stops it, the
    better of its incumbent and the fast plan) and uses the fast flow-based solver beyond.
    Deterministic except where a MILP time limit binds.
    """
    problem = build_problem(
        demands, offers, latency, objective=objective, power_weight=power_weight
    )
    return Placement(problem, solve(problem, method, time_limit_s=time_limit_s))


def place_nearest(
    demands: Sequence[Demand],
    offers: Sequence[Offer],
    latency: LatencyModel | RttTable | None = None,
    *,
    objective: Objective = "cost",
    power_weight: float = 0.0,
) -> Placement:
    """Baseline: each demand in turn on the offers nearest its users."""
    from suanli.placement.baselines import solve_nearest

    problem = build_problem(
        demands, offers, latency, objective=objective, power_weight=power_weight
    )
    return Placement(problem, solve_nearest(problem))


def place_cheapest_type(
    demands: Sequence[Demand],
    offers: Sequence[Offer],
    latency: LatencyModel | RttTable | None = None,
    *,
    objective: Objective = "cost",
    power_weight: float = 0.0,
) -> Placement:
    """Baseline: each demand in turn on the cheapest offers of one GPU type only."""
    from suanli.placement.baselines import solve_cheapest_type

    problem = build_problem(
        demands, offers, latency, objective=objective, power_weight=power_weight
    )
    return Placement(problem, solve_cheapest_type(problem))
