"""Replica choice (nearest healthy, least outstanding), health back-off and rate limits,
checked against an order written out independently from the catalog's distances."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

from suanli.gateway.ratelimit import RateLimiter
from suanli.gateway.routing import Pool, Replica
from suanli.geo import rtt_ms

SITES = ["yrd-qingpu", "zhongwei", "shaoguan", "zhangjiakou", "tianfu"]


def _replica(i: int, site: str, buyer: str = "b", model: str = "m") -> Replica:
    return Replica(id=i, lease_id=100 + i, buyer=buyer, model=model, site=site, url=f"http://r{i}")


def _brute_force(pool: Pool, region: str) -> list[int]:
    """The permutation of the replicas whose list of (rtt, outstanding, id) is smallest."""

    def cost(order: Iterable[int]) -> list[tuple[float, int, int]]:
        return [
            (round(rtt_ms(region, pool.states[i].replica.site), 1), pool.states[i].outstanding, i)
            for i in order
        ]

    return list(min(itertools.permutations(pool.states), key=cost))


def test_candidates_match_a_brute_force_order() -> None:
    rng = random.Random(3)
    for _ in range(50):
        replicas = [_replica(i, rng.choice(SITES)) for i in range(1, rng.randint(3, 7))]
        pool = Pool()
        pool.sync(replicas)
        for s in pool.states.values():
            s.outstanding = rng.randint(0, 3)
        region = rng.choice(["Shanghai", "Beijing", "Chengdu", "Shenzhen"])
        got = [s.replica.id for s in pool.candidates("b", "m", region, now=0.0)]
        assert got == _brute_force(pool, region)


def test_a_failed_replica_is_skipped_until_its_back_off_ends_then_tried_last() -> None:
    pool = Pool(backoff_s=2.0)
    pool.sync([_replica(1, "yrd-qingpu"), _replica(2, "zhongwei")])
    near = pool.states[1]
    pool.failed(near, now=10.0)
    assert [s.replica.id for s in pool.candidates("b", "m", "Shanghai", now=11.0)] == [2]
    assert [s.replica.id for s in pool.candidates("b", "m", "Shanghai", now=12.0)] == [2, 1]
    pool.failed(near, now=12.0)  # second failure doubles the back-off
    assert near.retry_at == 16.0
    pool.succeeded(near)
    assert [s.replica.id for s in pool.candidates("b", "m", "Shanghai", now=12.0)] == [1, 2]


def test_other_buyers_and_models_are_never_candidates() -> None:
    pool = Pool()
    pool.sync([_replica(1, "zhongwei", buyer="x"), _replica(2, "zhongwei", model="other")])
    assert pool.candidates("b", "m", "Shanghai", now=0.0) == []


def test_sync_keeps_live_state() -> None:
    pool = Pool()
    pool.sync([_replica(1, "zhongwei")])
    pool.states[1].outstanding = 4
    pool.sync([_replica(1, "zhongwei"), _replica(2, "wuhu")])
    assert pool.states[1].outstanding == 4 and pool.states[2].outstanding == 0


def test_rate_limiter_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.take("k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", 0.0) == 0.5
    assert limiter.take("k", 0.5) == 0.0
    assert limiter.take("other", 0.5) == 0.0
