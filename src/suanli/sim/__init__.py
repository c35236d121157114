"""Market simulator: a scenario of sites, GPUs and demand replayed hour by hour under
several placement policies on the same demand, with SLO, cost, utilization and price
figures and a self-contained HTML report.
"""

from suanli.sim.loader import BUILTIN_SCENARIOS, load_scenario, parse_scenario
from suanli.sim.policies import POLICIES, POLICY_LABELS, REGISTRY, Policy, get_policy
from suanli.sim.profiles import ServiceProfile
from suanli.sim.run import PolicyResult, SimResult, simulate
from suanli.sim.scenario import (
    BatchSpec,
    MarketSpec,
    Scenario,
    ServedWorkload,
    SiteSpec,
    TrainingSpec,
)

__all__ = [
    "BUILTIN_SCENARIOS",
    "POLICIES",
    "POLICY_LABELS",
    "REGISTRY",
    "BatchSpec",
    "MarketSpec",
    "Policy",
    "PolicyResult",
    "Scenario",
    "ServedWorkload",
    "ServiceProfile",
    "SimResult",
    "SiteSpec",
    "TrainingSpec",
    "get_policy",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
