"""``suanli catalog ...`` and ``suanli latency``: the reference catalogs and network latency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suanli import catalog
from suanli.cli.common import console, print_json, table, to_jsonable
from suanli.errors import InvalidRequest

catalog_app = typer.Typer(
    help="Reference catalogs: GPUs, sites, cities, models.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@catalog_app.command("gpus")
def gpus_cmd(json_out: JsonOpt = False) -> None:
    """GPU models with datasheet figures (dense) and China export variants."""
    rows = catalog.gpus()
    if json_out:
        print_json(rows)
        return
    console.print(
        table(
            "GPU models (dense figures)",
            [
                "name",
                "form",
                "mem GB",
                "HBM TB/s",
                "bf16 TFLOP/s",
                "fp8 TFLOP/s",
                "NVLink GB/s",
                "cut",
            ],
            [
                (
                    g.name,
                    g.form_factor,
                    g.memory_gb,
                    g.hbm_tb_s,
                    g.bf16_tflops,
                    g.fp8_tflops or None,
                    g.nvlink_gb_s or None,
                    g.cut or "",
                )
                for g in rows
            ],
        )
    )


@catalog_app.command("sites")
def sites_cmd(json_out: JsonOpt = False) -> None:
    """Data-center sites: national hub clusters, metro and central sites."""
    rows = catalog.sites()
    if json_out:
        print_json(rows)
        return
    console.print(
        table(
            "Sites",
            ["id", "name", "hub", "role", "lat", "lon", "power CNY/kWh", "PUE"],
            [
                (s.id, s.name, s.hub or "-", s.role, s.lat, s.lon, s.power_cny_per_kwh, s.pue)
                for s in rows
            ],
        )
    )


@catalog_app.command("cities")
def cities_cmd(json_out: JsonOpt = False) -> None:
    """Demand cities (where users are)."""
    rows = catalog.cities()
    if json_out:
        print_json(rows)
        return
    console.print(
        table(
            "Demand cities",
            ["id", "name", "lat", "lon", "population (M)"],
            [(c.id, c.name, c.lat, c.lon, c.population_m) for c in rows],
        )
    )


@catalog_app.command("models")
def models_cmd(json_out: JsonOpt = False) -> None:
    """Model architectures (dense and MoE) with parameter counts and KV-cache size."""
    rows = catalog.models()
    if json_out:
        print_json(
            [
                {**to_jsonable(m), "kv_bytes_per_token": {"bf16": m.kv_bytes_per_token(2.0)}}
                for m in rows
            ]
        )
        return
    console.print(
        table(
            "Model architectures",
            [
                "name",
                "family",
                "layers",
                "hidden",
                "heads/kv",
                "experts (top-k)",
                "total B",
                "active B",
                "KV KB/token (bf16)",
            ],
            [
                (
                    m.name,
                    m.family + (" +MLA" if m.mla else ""),
                    m.num_layers,
                    m.hidden_size,
                    f"{m.num_heads}/{m.num_kv_heads}",
                    f"{m.moe.num_experts} ({m.moe.experts_per_token})" if m.moe else "-",
                    m.total_params / 1e9,
                    m.active_params / 1e9,
                    m.kv_bytes_per_token() / 1024,
                )
                for m in rows
            ],
        )
    )


@catalog_app.command("prices")
def prices_cmd(json_out: JsonOpt = False) -> None:
    """GPU rental price points in China (CNY per GPU-hour)."""
    rows = catalog.rental_prices()
    if json_out:
        print_json(rows)
        return
    console.print(
        table(
            "Rental prices",
            ["gpu", "CNY/GPU-h", "date", "kind", "source"],
            [(p.gpu, p.cny_per_gpu_hour, p.date, p.kind, p.source) for p in rows],
        )
    )


def latency_cmd(
    origin: Annotated[str | None, typer.Option("--from", help="City or site.")] = None,
    destination: Annotated[str | None, typer.Option("--to", help="City or site.")] = None,
    matrix: Annotated[bool, typer.Option("--matrix", help="City x site RTT matrix.")] = False,
    route_factor: Annotated[float, typer.Option(help="Route length / great-circle.")] = 1.5,
    overhead_ms: Annotated[float, typer.Option(help="Fixed RTT overhead, ms.")] = 2.0,
    fibre_us_per_km: Annotated[float, typer.Option(help="One-way fibre delay.")] = 5.0,
    measured: Annotated[
        Path | None, typer.Option(help="CSV from,to,rtt_ms overriding the pairs it covers.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Round-trip time between a city and a site, or the whole city x site matrix."""
    from suanli import geo

    measured_ms = {}
    if measured is not None:
        if not measured.is_file():
            raise InvalidRequest(f"no such file: {measured}", field="--measured")
        measured_ms = geo.parse_measured_csv(measured.read_text(), path=str(measured))
    model = geo.LatencyModel(
        fibre_us_per_km=fibre_us_per_km,
        route_factor=route_factor,
        overhead_ms=overhead_ms,
        measured_ms=measured_ms,
    )
    if matrix or (origin is None and destination is None):
        show_latency_matrix(model, json_out=json_out)
        return
    if origin is None or destination is None:
        raise InvalidRequest(
            "give both --from and --to, or --matrix",
            field="--from/--to",
            hint="suanli latency --from shanghai --to zhongwei",
        )
    a, b = catalog.place(origin), catalog.place(destination, prefer="site")
    km = geo.great_circle_km(a.lat, a.lon, b.lat, b.lon)
    rtt = geo.rtt_ms(a, b, model)
    if json_out:
        print_json({"from": a.id, "to": b.id, "great_circle_km": km, "rtt_ms": rtt})
        return
    console.print(f"{a.name} -> {b.name}: {km:,.0f} km great-circle, RTT {rtt:.1f} ms")


def show_latency_matrix(model: object | None = None, *, json_out: bool = False) -> None:
    """Print the built-in city x site RTT matrix."""
    from suanli import geo

    cities, sites = catalog.cities(), catalog.sites()
    m = geo.rtt_matrix(cities, sites, model if isinstance(model, geo.LatencyModel) else None)
    if json_out:
        print_json({"cities": [c.id for c in cities], "sites": [s.id for s in sites], "rtt_ms": m})
        return
    console.print(
        table(
            "RTT ms, city x site",
            ["city", *[s.id for s in sites]],
            [(c.id, *[float(round(v, 1)) for v in m[i]]) for i, c in enumerate(cities)],
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.command("latency")(latency_cmd)
