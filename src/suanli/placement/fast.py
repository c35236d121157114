"""placeholder"""

from suanli.placement.baselines import _by_price, greedy
from suanli.placement.problem import Problem
from suanli.placement.result import Solution


def solve_fast(problem: Problem) -> Solution:
    return greedy(problem, _by_price, lambda d, a: a, "fast")
