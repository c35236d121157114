"""Solvers against brute force on seeded small instances, and invariants on every plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suanli.placement import place, place_cheapest_type, place_nearest
from suanli.placement.build import build_problem
from suanli.placement.fast import solve_fast
from suanli.placement.generate import generate
from suanli.placement.milp import solve_milp
from suanli.placement.model import REASONS
from suanli.placement.problem import Problem
from suanli.placement.result import Placement
from suanli.placement.verify import violations
from tests.placement.factories import brute_force, random_instance
from tests.placement.oracle import Oracle


@pytest.mark.parametrize("seed", range(12))
def test_milp_equals_brute_force(seed: int) -> None:
    demands, offers, rtt = random_instance(seed)
    problem = build_problem(demands, offers, rtt)
    oracle = Oracle(problem, demands, offers, rtt)
    exact = Placement(problem, solve_milp(problem))
    assert exact.status == "optimal"
    assert violations(exact) == []
    assert oracle.violations(exact) == []
    best = brute_force(problem, oracle)
    assert math.isclose(exact.objective_value, best, rel_tol=1e-6, abs_tol=1e-3)


@pytest.mark.parametrize("seed", range(12))
def test_every_solver_keeps_the_rules(seed: int) -> None:
    demands, offers, rtt = random_instance(seed + 100, n_demands=6, n_offers=5)
    problem = build_problem(demands, offers, rtt)
    oracle = Oracle(problem, demands, offers, rtt)
    optimum = Placement(problem, solve_milp(problem)).objective_value
    fast = Placement(problem, solve_fast(problem))
    assert violations(fast) == []
    assert oracle.violations(fast) == []
    assert fast.lower_bound is not None
    assert fast.lower_bound <= optimum + 1e-6  # the LP is a relaxation
    assert fast.objective_value >= optimum - 1e-6
    for baseline in (place_nearest, place_cheapest_type):
        plan = baseline(demands, offers, rtt)
        assert violations(plan) == []
        assert Oracle(plan.problem, demands, offers, rtt).violations(plan) == []
        assert plan.objective_value >= optimum - 1e-6


def test_place_auto_proves_optimality_on_small_instances() -> None:
    demands, offers, rtt = random_instance(7)
    plan = place(demands, offers, rtt)
    assert plan.method == "milp" and plan.status == "optimal"
    assert plan.gap == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_solver_on_a_generated_national_instance(seed: int) -> None:
    problem = generate(60, 3000, seed=seed)
    plan = Placement(problem, solve_fast(problem))
    assert violations(plan) == []
    assert plan.lower_bound is not None
    assert plan.objective_value >= plan.lower_bound - 1e-6
    # every unplaced demand says why
    for reason in plan.unplaced.values():
        assert reason.split(":")[0] in {"capacity", "latency", "price", "gpu_type", "fabric"}
    nearest = Placement(
        problem,
        __import__("suanli.placement.baselines", fromlist=["solve_nearest"]).solve_nearest(problem),
    )
    assert violations(nearest) == []
    assert plan.objective_value <= nearest.objective_value


def test_fast_equals_milp_when_capacity_is_ample() -> None:
    demands, offers, rtt = random_instance(3, n_demands=4, n_offers=4)
    offers = [
        o.__class__(**{**{f: getattr(o, f) for f in o.__slots__}, "count": 64}) for o in offers
    ]
    problem = build_problem(demands, offers, rtt)
    exact = Placement(problem, solve_milp(problem))
    fast = Placement(problem, solve_fast(problem))
    assert fast.objective_value == pytest.approx(exact.objective_value, rel=1e-6)


@pytest.mark.parametrize("seed", range(40))
def test_the_compiled_rules_agree_with_the_oracle(seed: int) -> None:
    """Every (group, offer) pair: the reason the compiled problem gives equals the one the
    independent oracle derives from the objects (capacity aside: the oracle leaves that to
    the search)."""
    demands, offers, rtt = random_instance(seed + 1000, n_demands=6, n_offers=6)
    problem = build_problem(demands, offers, rtt)
    oracle = Oracle(problem, demands, offers, rtt)
    for g in range(len(problem.group_k)):
        compiled = problem.reasons(int(problem.group_elig[g]), int(problem.group_k[g]))
        for o in range(problem.n_offers):
            reason = REASONS[int(compiled[o])]
            expected = oracle.refusal(g, o) or "ok"
            assert (reason if reason != "capacity" else "ok") == expected, (g, o)


def test_a_miscompiled_latency_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the compiled problem forgot the RTT budgets, the solver tests would still pass
    with Problem.mask as the judge; the oracle catches it."""
    monkeypatch.setattr(Problem, "_latency_ok", lambda self, e: np.ones(self.n_offers, dtype=bool))
    caught = 0
    for seed in range(12):
        demands, offers, rtt = random_instance(seed)
        problem = build_problem(demands, offers, rtt)
        exact = Placement(problem, solve_milp(problem))
        assert violations(exact) == []  # the compiled judge agrees with its own mistake
        caught += any(
            "latency" in v for v in Oracle(problem, demands, offers, rtt).violations(exact)
        )
    assert caught > 0
