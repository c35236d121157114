"""From a sizing (``suanli.perf.sizing.Sizing``) to a serving demand.

Sizing lists feasible configurations sorted by cost, several per GPU type (one per TP
degree). Placement takes, per GPU type, the cheapest one as a :class:`ServeOption`; its RTT
budget is what the TTFT target leaves after the configuration's own TTFT (prefill plus
queueing at the percentile): ``budget = ttft_target - config.ttft_ms``. A type whose TTFT
already uses up the target gets no option.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from suanli.errors import InvalidRequest
from suanli.placement.model import ServeDemand, ServeOption

if TYPE_CHECKING:
    from suanli.perf.sizing import Sizing


def demands_from_sizing(
    request_id: str,
    sizing: Sizing,
    regions: Sequence[tuple[str, float]],
    *,
    max_price_cny_per_gpu_hour: float = math.inf,
    allow_split: bool = True,
    hours: float = 1.0,
) -> ServeDemand:
    """One :class:`ServeDemand` with an option per GPU type that sizing found feasible."""
    if not regions:
        raise InvalidRequest(
            "a serving demand needs at least one user region",
            field="regions",
            hint="Give (city, traffic weight) pairs, e.g. [('shanghai', 0.6), ('beijing', 0.4)].",
        )
    target = float(sizing.request.ttft_ms)
    options: list[ServeOption] = []
    seen: set[str] = set()
    for config in sizing.configs:
        if config.gpu in seen:
            continue
        budget = target - float(config.ttft_ms)
        if budget <= 0:
            continue
        seen.add(config.gpu)
        options.append(
            ServeOption(
                gpu=config.gpu,
                gpus_per_replica=int(config.gpus_per_replica),
                replicas=int(config.replicas),
                regions=tuple((c, float(w)) for c, w in regions),
                rtt_budget_ms={c: budget for c, _ in regions},
                max_price_cny_per_gpu_hour=max_price_cny_per_gpu_hour,
            )
        )
    return ServeDemand(id=request_id, options=tuple(options), allow_split=allow_split, hours=hours)
