"""The market benchmark behind ``suanli bench market``: clearing time of a 100,000-order book,
against a naive pure-Python price scan on a smaller book measured in the same run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from suanli.market.clearing import clear, clear_arrays
from suanli.market.orders import Order, Pricing, Side, instrument

GPUS = ("H100", "H20", "H800", "A800", "L20", "RTX-4090", "H200", "A100", "L40S", "910B")
HUBS = ("zhongwei", "guian", "horinger", "qingyang", "tianfu", "wuhu", "shaoguan",
        "zhangjiakou", "yrd-qingpu", "chongqing")  # fmt: skip


def synthetic_book(
    n_orders: int, *, seed: int = 0, aon_instruments: int = 10, aon_share: float = 0.05
) -> list[Order]:
    """A random book over 200 instruments (10 GPUs x 10 hubs x on-demand/interruptible);
    bids on the first ``aon_instruments`` instruments are all-or-nothing with ``aon_share``."""
    rng = np.random.default_rng(seed)
    insts = [instrument(g, h, p, 0, 1) for g in GPUS for h in HUBS
             for p in (Pricing.ON_DEMAND, Pricing.INTERRUPTIBLE)]  # fmt: skip
    base = rng.uniform(300, 3000, len(insts))
    which = rng.integers(0, len(insts), n_orders)
    is_bid = rng.random(n_orders) < 0.5
    price = np.maximum(0, base[which] * rng.normal(1.0, 0.15, n_orders)).astype(np.int64)
    qty = rng.integers(1, 17, n_orders)
    aon = is_bid & (which < aon_instruments) & (rng.random(n_orders) < aon_share)
    return [
        Order(f"o{i}", Side.BID if b else Side.ASK, insts[w], f"acct{i % 997}", int(p), int(q),
              bool(a), 0, i)
        for i, (w, b, p, q, a) in enumerate(zip(which.tolist(), is_bid.tolist(), price.tolist(),
                                               qty.tolist(), aon.tolist(), strict=True))
    ]  # fmt: skip


def naive_clear_volume(orders: list[Order]) -> int:
    """Baseline: for every instrument and every distinct price, sum demand and supply in
    pure Python and keep the best min(D, S). Divisible orders only."""
    by_inst: dict[Any, list[Order]] = {}
    for o in orders:
        by_inst.setdefault(o.instrument, []).append(o)
    total = 0
    for book in by_inst.values():
        best = 0
        for p in sorted({o.price_fen_per_gpu_hour for o in book}):
            demand = sum(o.quantity_gpus for o in book
                         if o.side is Side.BID and o.price_fen_per_gpu_hour >= p)  # fmt: skip
            supply = sum(o.quantity_gpus for o in book
                         if o.side is Side.ASK and o.price_fen_per_gpu_hour <= p)  # fmt: skip
            best = max(best, min(demand, supply))
        total += best
    return total


_CPU: dict[int, float] = {}


def _best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` runs (the CPU time of that run goes to ``_CPU``)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best = wall
            _CPU[id(fn)] = time.process_time() - c0
    return best, out


def run(n_orders: int = 100_000, baseline_orders: int = 10_000, repeats: int = 3) -> dict[str, Any]:
    """Measure and return the benchmark's JSON document."""
    book = synthetic_book(n_orders)
    divisible = [o for o in synthetic_book(n_orders, aon_share=0.0)]
    codes = {inst: k for k, inst in enumerate(sorted({o.instrument for o in book}))}
    arrays = (
        np.array([codes[o.instrument] for o in book], dtype=np.int64),
        np.array([o.side is Side.BID for o in book]),
        np.array([o.price_fen_per_gpu_hour for o in book], dtype=np.int64),
        np.array([o.quantity_gpus for o in book], dtype=np.int64),
        np.array([o.all_or_nothing for o in book]),
        np.arange(len(book), dtype=np.int64),
    )
    t_kernel, _ = _best_of(lambda: clear_arrays(*arrays, len(codes)), repeats)
    full = lambda: clear(book)  # noqa: E731
    t_full, result = _best_of(full, repeats)
    cpu_full = _CPU.pop(id(full), float("nan"))
    t_div, div_result = _best_of(lambda: clear(divisible), repeats)
    small = synthetic_book(baseline_orders, seed=1, aon_share=0.0)
    t_naive, naive_volume = _best_of(lambda: naive_clear_volume(small), 1)
    t_small, small_result = _best_of(lambda: clear(small), repeats)
    aon_orders = sum(o.all_or_nothing for o in book)
    return {
        "benchmark": "market",
        "orders": n_orders,
        "instruments": len(codes),
        "aon_bids": aon_orders,
        "aon_instruments": sum(c.method == "aon-exact" for c in result.instruments),
        "clear_s": round(t_full, 4),
        "clear_cpu_s": round(cpu_full, 4),
        "clear_kernel_s": round(t_kernel, 4),
        "clear_divisible_only_s": round(t_div, 4),
        "fills": len(result.fills),
        "volume_gpus": result.volume_gpus,
        "divisible_volume_gpus": div_result.volume_gpus,
        "orders_per_s": round(n_orders / t_full),
        "baseline": {
            "method": "naive pure-Python price scan (divisible)",
            "orders": baseline_orders,
            "baseline_s": round(t_naive, 4),
            "suanli_s": round(t_small, 4),
            "speedup": round(t_naive / t_small, 1) if t_small > 0 else None,
            "volumes_agree": naive_volume == small_result.volume_gpus,
        },
        "target": "100,000 orders cleared in under 1 s on 2 cores",
        "met": t_full < 1.0,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "repeats": repeats,
        "timing": "best wall time of repeats (time.perf_counter); clear_cpu_s is that run's "
        "process CPU time, which a loaded machine does not inflate",
    }
