"""The self-contained HTML report of a simulation run (inline SVG, inline CSS, no JavaScript)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np

from suanli.sim.run import PolicyResult, SimResult
from suanli.sim.svg import PALETTE, Series, bar_chart, line_chart, site_map

POLICY_COLORS = {"nearest": "#d62728", "cheapest-type": "#ff7f0e", "suanli": "#2ca02c"}
SMOOTH_HOURS = 3
SHORT_REGION = {
    "Beijing-Tianjin-Hebei": "Jing-Jin-Ji",
    "Yangtze River Delta": "Yangtze Delta",
    "Guangdong-Hong Kong-Macao Greater Bay Area": "Greater Bay Area",
    "Chengdu-Chongqing": "Cheng-Yu",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1320px;
color:#222;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}.sub{color:#555;margin:0 0 12px}
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #e3e3e3;border-radius:6px;
padding:8px 10px;background:#fff}
.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{border-left:4px solid #888;padding:6px 12px;
background:#f7f7f7;min-width:220px}.kpi b{font-size:20px;display:block}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{padding:3px 8px;
border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f3f6fa}.bad{color:#c62828;font-weight:600}.good{color:#2e7d32}
svg text{font-size:11px;fill:#333}svg .t{font-size:13px;font-weight:600}svg .s{font-size:10px}
svg .g{stroke:#e6e6e6;stroke-width:1}svg .ref{stroke:#555;stroke-dasharray:4 3}
svg .reft{font-size:10px;fill:#555}
ul.find li{margin:3px 0}footer{color:#777;font-size:12px;margin-top:30px}
"""


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x * 100:.1f}%"


def _num(x: float, digits: int = 2) -> str:
    if not math.isfinite(x):
        return "∞" if x > 0 else "-"
    return f"{x:,.{digits}f}"


def _smooth(values: np.ndarray, hours: int) -> tuple[list[float], list[float]]:
    n = values.shape[0] // hours * hours or values.shape[0]
    if n < hours:
        return [i / 24 for i in range(values.shape[0])], values.tolist()
    blocks = values[:n].reshape(-1, hours).mean(axis=1)
    return [(i + 0.5) * hours / 24 for i in range(blocks.size)], blocks.tolist()


def _west_util(result: SimResult, p: PolicyResult) -> float:
    w = result.world
    inv = w.inventory.sum(axis=1)
    used = p.util_site_hourly.mean(axis=0) * inv
    return float(used[w.west].sum() / max(inv[w.west].sum(), 1))


def _role_util(result: SimResult, p: PolicyResult, role: str) -> float:
    w = result.world
    inv = w.inventory.sum(axis=1)
    used = p.util_site_hourly.mean(axis=0) * inv
    mask = np.array([r == role for r in w.regions])
    return float(used[mask].sum() / max(inv[mask].sum(), 1)) if mask.any() else float("nan")


def west_gpu_hours(result: SimResult, p: PolicyResult) -> float:
    """GPU-hours leased on the market at western hub clusters."""
    return float(p.market_gpu_hours_by_site[result.world.west].sum())


def _region_revenue(result: SimResult, p: PolicyResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for s, region in enumerate(result.world.regions):
        key = "western hubs" if result.world.west[s] else SHORT_REGION.get(region, region)
        out[key] = out.get(key, 0.0) + float(p.revenue_by_site_cny[s])
    return out


def _west_share(result: SimResult, p: PolicyResult) -> dict[str, float]:
    w = result.world
    gpus = np.einsum("tcwsg,wg->ws", p.trajectory.replicas.astype(np.float64), w.gpus_per_replica)
    total = gpus.sum(axis=1)
    west = gpus[:, w.west].sum(axis=1)
    return {
        spec.name: float(west[i] / total[i]) if total[i] > 0 else float("nan")
        for i, spec in enumerate(result.scenario.workloads)
    }


def _min_attainment(result: SimResult, p: PolicyResult) -> float:
    return min(p.slo_for(w.name).attainment for w in result.scenario.workloads)


def verdict(result: SimResult) -> list[str]:
    """One sentence each, with the figures: buyers, sellers, western hubs, and where Suanli
    does not help (needs the ``nearest`` and ``suanli`` policies)."""
    pol = result.policies
    if "nearest" not in pol or "suanli" not in pol:
        return []
    a, b = pol["nearest"], pol["suanli"]
    out: list[str] = []
    ca, cb = a.cost_cny_per_million_tokens["all"], b.cost_cny_per_million_tokens["all"]
    others = {n: p for n, p in pol.items() if n != "suanli"}
    at = {n: p.cost_at_start_asks_cny_per_million_tokens for n, p in pol.items()}
    best = min(others, key=lambda n: at[n]) if others else "nearest"
    bound = result.bound.cost_cny_per_million_tokens if result.bound else float("nan")
    buyers = (
        f"Buyers pay {cb:.3f} CNY per million tokens under Suanli against {ca:.3f} renting "
        f"at the nearest sites ({(cb / ca - 1) * 100:+.0f}%), with SLO attainment "
        f"{_pct(_min_attainment(result, b))} against {_pct(_min_attainment(result, a))} in the "
        f"worst class; at the starting asks the best baseline ({best}) costs "
        f"{(at[best] / at['suanli'] - 1) * 100:+.1f}% against Suanli"
    )
    if math.isfinite(bound) and bound > 0:
        buyers += (
            f", and Suanli is {(at['suanli'] / bound - 1) * 100:.1f}% above the hindsight bound"
        )
    out.append(buyers + ".")
    ra, rb = _region_revenue(result, a), _region_revenue(result, b)
    change = {k: rb.get(k, 0.0) - ra.get(k, 0.0) for k in ra.keys() | rb.keys()}
    losers = sorted((k for k in change if change[k] < 0), key=lambda k: change[k])[:3]
    gainers = sorted((k for k in change if change[k] > 0), key=lambda k: -change[k])[:2]
    lost = "; ".join(f"{k} {change[k]:+,.0f} CNY" for k in losers) or "no region"
    won = "; ".join(f"{k} {change[k]:+,.0f} CNY" for k in gainers) or "no region"
    out.append(
        f"Sellers' market revenue goes from {a.revenue_cny:,.0f} to {b.revenue_cny:,.0f} CNY "
        f"({(b.revenue_cny / a.revenue_cny - 1) * 100:+.0f}%) as buyers rent fewer, cheaper "
        f"GPU-hours: the loss falls on {lost} (the dearer sites buyers leave) and the gain "
        f"on {won}."
    )
    share = _west_share(result, b)
    shares = ", ".join(f"{k} {_pct(v)}" for k, v in share.items())
    out.append(
        f"Western hubs go from {_pct(_west_util(result, a))} to {_pct(_west_util(result, b))} "
        f"of GPUs reserved ({_pct(_busy_util(result, a, result.world.west))} to "
        f"{_pct(_busy_util(result, b, result.world.west))} busy) and take this share of each "
        f"class's serving GPU-hours under Suanli: {shares}."
    )
    near = [k for k, v in share.items() if math.isfinite(v) and v < 0.1]
    stays = (
        f"{', '.join(near)} stay{'s' if len(near) == 1 else ''} near users (under 10% in the west)"
        if near
        else "no class is kept out of the west by its latency budget"
    )
    if "greedy" in at:
        gap = (at["greedy"] / at["suanli"] - 1) * 100
        helps = "does not help" if gap < 2.0 else "helps less"
        out.append(
            f"Suanli {helps} where capacity is plentiful: a per-job optimiser taking the "
            f"cheapest feasible GPUs request by request (greedy) costs {gap:+.1f}% against "
            f"it at the starting asks, so most of the gain over today comes from choosing GPU "
            f"types and sites by cost within each latency budget; {stays}."
        )
    else:
        out.append(f"Where latency binds: {stays}.")
    return out


def _busy_util(result: SimResult, p: PolicyResult, mask: np.ndarray) -> float:
    inv = result.world.inventory.sum(axis=1)
    busy = p.busy_site_hourly.mean(axis=0) * inv
    return float(busy[mask].sum() / max(inv[mask].sum(), 1))


def _ratio(x: object) -> str:
    if not isinstance(x, int | float) or not math.isfinite(x):
        return "-"
    return f"{(x - 1) * 100:+.1f}%"


def _share(x: object) -> str:
    return _pct(float(x)) if isinstance(x, int | float) else "-"


def sensitivity_table(sweep: dict[str, Any]) -> str:
    """The headline figures under each variant of the scenario (``suanli simulate --sweep``)."""
    from suanli.sim.summary import sensitivity_rows

    head = (
        "<tr><th>variant</th><th>bound CNY/M tok</th><th>Suanli vs bound</th>"
        "<th>nearest-spill vs Suanli</th><th>greedy vs Suanli</th>"
        "<th>Suanli worst-class SLO</th><th>west util. nearest → Suanli</th>"
        "<th>seller revenue nearest → Suanli (CNY)</th></tr>"
    )
    rows = []
    for r in sensitivity_rows(sweep):
        bound = r["bound_cost_cny_per_million_tokens"]
        cells = [
            escape(str(r["variant"])),
            _num(float(bound), 3) if bound is not None else "-",
            _ratio(r["suanli_vs_bound"]),
            _ratio(r["nearest_spill_vs_suanli"]),
            _ratio(r["greedy_vs_suanli"]),
            _share(r["suanli_worst_class_slo"]),
            f"{_share(r['west_reserved_nearest'])} → {_share(r['west_reserved_suanli'])}",
            f"{float(r['revenue_nearest_cny'] or 0):,.0f} → "
            f"{float(r['revenue_suanli_cny'] or 0):,.0f}",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table id='sensitivity'>{head}{''.join(rows)}</table>"


def findings(result: SimResult) -> list[str]:
    """Plain-language headline comparisons (Suanli against nearest-site)."""
    pol = result.policies
    out: list[str] = []
    if "nearest" in pol and "suanli" in pol:
        a, b = pol["nearest"], pol["suanli"]
        extra = west_gpu_hours(result, b) - west_gpu_hours(result, a)
        out.append(
            f"Suanli puts {extra:,.0f} more GPU-hours of western hub capacity to work than "
            f"nearest-site placement (western utilization {_pct(_west_util(result, a))} → "
            f"{_pct(_west_util(result, b))})."
        )
        ca, cb = a.cost_cny_per_million_tokens["all"], b.cost_cny_per_million_tokens["all"]
        if math.isfinite(ca) and math.isfinite(cb) and ca > 0:
            out.append(
                f"Buyers' serving cost falls from {ca:.3f} to {cb:.3f} CNY per million tokens "
                f"({(cb / ca - 1) * 100:+.0f}%)."
            )
        for spec in result.scenario.workloads:
            ra, rb = a.slo_for(spec.name), b.slo_for(spec.name)
            out.append(
                f"{spec.name}: SLO attainment {_pct(ra.attainment)} (nearest) vs "
                f"{_pct(rb.attainment)} (Suanli); TTFT p95 {_num(ra.ttft_p95_ms, 0)} vs "
                f"{_num(rb.ttft_p95_ms, 0)} ms against a {spec.ttft_p95_ms:.0f} ms target."
            )
        west = result.world.west
        out.append(
            f"Western hub sellers' market revenue: {a.revenue_by_site_cny[west].sum():,.0f} CNY "
            f"(nearest) vs {b.revenue_by_site_cny[west].sum():,.0f} CNY (Suanli)."
        )
        out.append(
            f"Sellers' market revenue: {a.revenue_cny:,.0f} CNY (nearest) vs "
            f"{b.revenue_cny:,.0f} CNY (Suanli); timed-out requests {a.requests_timed_out:,} vs "
            f"{b.requests_timed_out:,} (simulated)."
        )
    return out


def _summary_table(result: SimResult) -> str:
    wl = [w.name for w in result.scenario.workloads]
    bound = result.bound.cost_cny_per_million_tokens if result.bound else float("nan")
    head = (
        "<tr><th>policy</th><th>western hubs</th><th>metro</th><th>all sites</th>"
        "<th>CNY / M tokens</th><th>at starting asks</th><th>vs bound</th>"
        "<th>west busy</th>"
        + "".join(f"<th>{escape(n)} SLO met</th>" for n in wl)
        + "<th>timed out</th><th>seller revenue (CNY)</th><th>batch on time</th>"
        "<th>preempted GPU-h</th><th>training placed</th></tr>"
    )
    rows = []
    for p in result.policies.values():
        cells = [
            escape(p.label),
            _pct(_west_util(result, p)),
            _pct(_role_util(result, p, "metro")),
            _pct(
                float(
                    np.average(
                        p.util_site_hourly.mean(axis=0), weights=result.world.inventory.sum(axis=1)
                    )
                )
            ),
            _num(p.cost_cny_per_million_tokens["all"], 3),
            _num(p.cost_at_start_asks_cny_per_million_tokens, 3),
            (
                f"{(p.cost_at_start_asks_cny_per_million_tokens / bound - 1) * 100:+.1f}%"
                if math.isfinite(bound) and bound > 0
                else "-"
            ),
            _pct(_busy_util(result, p, result.world.west)),
            *[_pct(p.slo_for(n).attainment) for n in wl],
            f"{p.requests_timed_out:,}",
            f"{p.revenue_cny:,.0f}",
            f"{p.batch_jobs_on_time}/{result.demand.batch.size}",
            f"{p.batch_preempted_gpu_hours:,.0f}",
            f"{p.training_jobs_placed}/{result.demand.training.size}",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _slo_table(result: SimResult, workload: str) -> str:
    spec = next(w for w in result.scenario.workloads if w.name == workload)
    pols = list(result.policies.values())
    head = (
        "<tr><th>city</th>"
        + "".join(
            f"<th>{escape(p.policy)} TTFT p95</th><th>TPOT p95</th><th>met</th>" for p in pols
        )
        + "</tr>"
    )
    rows = []
    for city in [*result.world.cities, "all"]:
        cells = [escape(city)]
        for p in pols:
            r = p.slo_for(workload, city)
            cls_t = "bad" if r.ttft_p95_ms > spec.ttft_p95_ms else "good"
            cls_p = "bad" if r.tpot_p95_ms > spec.tpot_p95_ms else "good"
            cells += [
                f'<span class="{cls_t}">{_num(r.ttft_p95_ms, 0)}</span>',
                f'<span class="{cls_p}">{_num(r.tpot_p95_ms, 1)}</span>',
                _pct(r.attainment),
            ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        f"<p>{escape(workload)} ({escape(spec.model)}, trace {escape(spec.trace)}): targets "
        f"TTFT p95 ≤ {spec.ttft_p95_ms:.0f} ms, TPOT p95 ≤ {spec.tpot_p95_ms:.0f} ms.</p>"
        f"<table>{head}{''.join(rows)}</table>"
    )


def _site_table(result: SimResult) -> str:
    w = result.world
    pols = list(result.policies.values())
    head = (
        "<tr><th>site</th><th>region</th><th>GPUs</th>"
        + "".join(f"<th>{escape(p.policy)} util</th><th>revenue (CNY)</th>" for p in pols)
        + "</tr>"
    )
    rows = []
    for s in range(len(w.site_ids)):
        cells = [escape(w.site_names[s]), escape(w.regions[s]), f"{w.inventory[s].sum():,}"]
        for p in pols:
            cells += [
                _pct(float(p.util_site_hourly[:, s].mean())),
                f"{p.revenue_by_site_cny[s]:,.0f}",
            ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _by_source(sc: object) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for site in sc.sites:  # type: ignore[attr-defined]
        if site.source:
            out.setdefault(site.source, []).append(site.id)
    return out


def render_report(result: SimResult, sweep: dict[str, Any] | None = None) -> str:
    """The whole report as one HTML document: the verdict and the sensitivity table first."""
    w, sc = result.world, result.scenario
    pols = result.policies
    parts: list[str] = []
    real_per_day = result.requests / result.days * sc.request_scale
    parts.append(f"<h1>Suanli market simulation: {escape(sc.name)}</h1>")
    parts.append(
        "<h2>Verdict</h2><ul class='find' id='verdict'>"
        + "".join(f"<li>{escape(x)}</li>" for x in verdict(result))
        + "</ul>"
    )
    if sweep is not None:
        parts.append(
            "<h2>Sensitivity (costs at the starting asks; every policy on each variant's "
            "demand)</h2>" + sensitivity_table(sweep)
        )
    else:
        parts.append(
            "<p class='sub'>Sensitivity: run <code>suanli simulate --sweep</code> to add the "
            "table of these figures under changed demand, asks, routes, targets and western "
            "inventory.</p>"
        )
    parts.append(
        f'<p class="sub">{escape(sc.description)}</p>'
        f'<p class="sub">{result.days:g} days, hourly periods, seed {result.seed}; '
        f"{len(w.site_ids)} sites, {int(w.inventory.sum()):,} GPUs, {len(w.cities)} cities; "
        f"{result.requests:,} simulated requests (each stands for {sc.request_scale:g}: "
        f"{real_per_day:,.0f} requests a day), {result.demand.batch.size} batch jobs, "
        f"{result.demand.training.size} training jobs. Every policy sees the same demand.</p>"
    )
    parts.append(
        '<h2>What changes</h2><ul class="find">'
        + "".join(f"<li>{escape(x)}</li>" for x in findings(result))
        + "</ul>"
    )
    parts.append("<h2>Policies side by side</h2>" + _summary_table(result))

    window = SMOOTH_HOURS if result.days <= 10 else 24
    parts.append(f"<h2>Utilization by hub over time ({window}-hour means)</h2><div class='grid'>")
    for p in pols.values():
        series = []
        for r, name in enumerate(w.region_names):
            x, y = _smooth(p.util_region_hourly[:, r], window)
            series.append(
                Series(
                    SHORT_REGION.get(name, name), x, y, PALETTE[r % len(PALETTE)], dashed=r >= 10
                )
            )
        parts.append(
            '<div class="card">'
            + line_chart(
                series,
                title=p.label,
                x_label="day",
                y_label="utilization",
                y_range=(0, 1.0),
                y_percent=True,
                width=400,
                height=280,
                legend_columns=2,
            )
            + "</div>"
        )
    parts.append("</div>")

    parts.append("<h2>Rental price index (fill-weighted, CNY per GPU-hour)</h2><div class='grid'>")
    for p in pols.values():
        days = np.arange(p.price_index_daily.shape[0]) + 0.5
        series = [
            Series(g, days.tolist(), p.price_index_daily[:, j].tolist(), PALETTE[j % 10])
            for j, g in enumerate(w.gpu_types)
            if np.isfinite(p.price_index_daily[:, j]).any()
        ]
        parts.append(
            '<div class="card">'
            + line_chart(
                series,
                title=p.label,
                x_label="day",
                y_label="CNY / GPU-hour",
                x_range=(0, max(float(result.days), 1.0)),
                hlines=[(12.8, "H100 75,000 CNY / 8-GPU month")],
                width=400,
                height=280,
            )
            + "</div>"
        )
    parts.append("</div>")

    groups = [x.name for x in sc.workloads] + ["all"]
    bars = [
        (
            p.label,
            [p.cost_cny_per_million_tokens[g] for g in groups],
            POLICY_COLORS.get(p.policy, "#777"),
        )
        for p in pols.values()
    ]
    parts.append(
        "<h2>Buyers' cost per million tokens</h2><div class='card'>"
        + bar_chart(
            groups,
            bars,
            title="Serving cost (GPU rent / tokens served, prompt + output)",
            y_label="CNY per million tokens",
            width=760,
            height=300,
        )
        + "</div>"
    )

    parts.append("<h2>Time to first token by user region (CDF)</h2><div class='grid'>")
    for spec in sc.workloads:
        for p in pols.values():
            cdf = p.ttft_cdf_ms.get(spec.name, {})
            qs = np.linspace(0, 1, 101).tolist()
            series = [
                Series(region, values, qs, PALETTE[i % 10])
                for i, (region, values) in enumerate(cdf.items())
            ]
            parts.append(
                '<div class="card">'
                + line_chart(
                    series,
                    title=f"{spec.name}: {p.label}",
                    x_label="TTFT (ms)",
                    y_label="share of requests",
                    y_range=(0, 1),
                    y_percent=True,
                    x_range=(0, spec.ttft_p95_ms * 2),
                    vlines=[(spec.ttft_p95_ms, "target")],
                    hlines=[(0.95, "p95")],
                    width=400,
                    height=260,
                    legend_columns=3,
                )
                + "</div>"
            )
    parts.append("</div>")

    parts.append(
        "<h2>Map of sites (mean utilization; circle area ∝ GPUs; squares: cities)"
        "</h2><div class='grid'>"
    )
    for p in pols.values():
        sites = [
            (
                w.site_names[s],
                float(w.site_lat[s]),
                float(w.site_lon[s]),
                float(w.inventory[s].sum()),
                float(p.util_site_hourly[:, s].mean()),
            )
            for s in range(len(w.site_ids))
        ]
        cities = [
            (c, float(lat), float(lon))
            for c, lat, lon in zip(w.cities, w.city_lat, w.city_lon, strict=True)
        ]
        parts.append('<div class="card">' + site_map(sites, cities, title=p.label) + "</div>")
    parts.append("</div>")

    parts.append("<h2>SLO attainment by city</h2>")
    for spec in sc.workloads:
        parts.append(_slo_table(result, spec.name))
    parts.append("<h2>Sites: utilization and sellers' revenue</h2>" + _site_table(result))
    parts.append(
        "<h2>Method and sources</h2><ul>"
        "<li>Hourly periods. Serving leases are hourly; batch jobs run on interruptible "
        "capacity and are preempted when serving or training needs it; training gangs hold "
        "fixed-term leases that end.</li>"
        "<li>Replica profiles from perf.sizing (max batch, capacity, TPOT, headroom, TTFT with "
        "queueing); each request's queue wait drawn from the same queueing model; request "
        "token lengths drawn from the Azure LLM inference trace 2023; network RTT from "
        "geography.</li>"
        "<li>Costs at the starting asks price every policy's replicas alike; the hindsight "
        "bound is an LP over the whole run with all demand known (fractional replicas, no "
        "training or batch in the way): no placement can serve the same demand for less."
        "</li>"
        "<li>Utilization 'reserved' counts leased GPUs; 'busy' counts serving GPUs with at "
        "least one request in flight, and batch and training GPUs.</li>"
        "<li>Utilization includes existing long-term tenants (outside the market); revenue "
        "counts market leases only.</li>"
        + "".join(f"<li>{escape(s)}</li>" for s in sc.sources)
        + "".join(
            f"<li>{escape(x.name)}: {escape(x.source)}</li>" for x in sc.workloads if x.source
        )
        + "".join(
            f"<li>sites {escape(', '.join(ids))}: {escape(src)}</li>"
            for src, ids in _by_source(sc).items()
        )
        + "</ul>"
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(
        f"<footer>Generated by suanli simulate on {stamp}; "
        f"simulation took {result.elapsed_s:.1f} s.</footer>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Suanli simulation: {escape(sc.name)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style>"
        "</head><body>" + "\n".join(parts) + "</body></html>"
    )
