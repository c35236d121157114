"""Compare measured figures with the datasheet and give each GPU a verdict.

Each figure has a datasheet reference on the claimed catalog GPU, the fraction of it a
healthy card typically reaches with the probe's method, and a band of acceptable fractions:

=====================  ======================  =========  ===========
figure                 datasheet reference      typical    ok band
=====================  ======================  =========  ===========
bf16_matmul_tflops     dense bf16 TFLOP/s       0.80       0.55-1.05
fp8_matmul_tflops      dense fp8 TFLOP/s        0.65       0.40-1.05
hbm_copy_tb_s          HBM TB/s                 0.90       0.70-1.05
h2d_gb_s, d2h_gb_s     PCIe GB/s per direction  0.80       0.45-1.10
p2p_gb_s               NVLink GB/s per dir.     0.80       0.50-1.10
decode_step_ms         (weights+KV) / HBM       0.30       0.15-1.05
=====================  ======================  =========  ===========

Measured on an H200 here (tests/probe/fixtures/h200_probe.json): bf16 GEMM 777 of 989
TFLOP/s (0.79), fp8 1433 of 1979 (0.72), HBM copy 4.24 of 4.8 TB/s (0.88), host link 55.4 of
64 GB/s (0.87), decode of the 1.1 B probe model 1.71 ms against a 0.49 ms floor (0.29: a
small model's step is dominated by per-kernel time, not bytes).
For ``decode_step_ms`` the fraction is the bandwidth floor over the measured time.

Verdicts: ``verified`` (identity and key figures in band), ``degraded`` (the card is what it
says but a key figure is low: throttled, power-capped, faulty), ``mismatch`` (driver
identity contradicts the catalog, or the figures fit another catalog GPU far better: a
relabelled card), ``unknown`` (not in the catalog), ``unmeasured`` (no GPU figures).

"Measures like" picks the catalog GPU g minimising
    S(g) = sum_f ln(m_f / (typical_f * datasheet_f(g)))^2 + 0.5 ln(mem / mem(g))^2
over the measured key figures f (bf16, fp8, HBM, peer link); a claim is called a mismatch
when some key figure is out of band and S(best) < S(claimed) / 4.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from suanli.catalog.gpus import Gpu
from suanli.probe.identify import Identification
from suanli.probe.measure import Measurement


@dataclass(frozen=True, slots=True)
class Band:
    typical: float
    low: float
    high: float


BANDS: dict[str, Band] = {
    "bf16_matmul_tflops": Band(0.80, 0.55, 1.05),
    "fp8_matmul_tflops": Band(0.65, 0.40, 1.05),
    "hbm_copy_tb_s": Band(0.90, 0.70, 1.05),
    "h2d_gb_s": Band(0.80, 0.45, 1.10),
    "d2h_gb_s": Band(0.80, 0.45, 1.10),
    "p2p_gb_s": Band(0.80, 0.50, 1.10),
    "decode_step_ms": Band(0.30, 0.15, 1.05),
}
#: Figures that say what the card is; the host link and decode step only warn.
KEY_FIGURES = ("bf16_matmul_tflops", "fp8_matmul_tflops", "hbm_copy_tb_s", "p2p_gb_s")
MISMATCH_RATIO = 0.25
MEMORY_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class FigureCheck:
    """One measured figure against the claimed GPU's datasheet."""

    name: str
    measured: float | None
    datasheet: float | None
    fraction: float | None  # measured / datasheet (floor / measured for decode_step_ms)
    band: tuple[float, float]
    status: str  # "ok" | "low" | "high" | "skipped" | "n/a"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one GPU: a status, the reasons, and the catalog GPU it measures like."""

    status: str  # verified | degraded | mismatch | unknown | unmeasured
    reasons: tuple[str, ...]
    measures_like: tuple[str, ...]
    figures: tuple[FigureCheck, ...]


def datasheet(gpu: Gpu, figure: str) -> float | None:
    """The datasheet reference of ``figure`` on ``gpu`` in the figure's unit (None: n/a)."""
    value = {
        "bf16_matmul_tflops": gpu.bf16_tflops,
        "fp8_matmul_tflops": gpu.fp8_tflops,
        "hbm_copy_tb_s": gpu.hbm_tb_s,
        "h2d_gb_s": gpu.pcie_gb_s / 2,
        "d2h_gb_s": gpu.pcie_gb_s / 2,
        "p2p_gb_s": gpu.interconnect_gb_s / 2,
    }.get(figure)
    return value if value else None


def _decode_floor_ms(gpu: Gpu, m: Measurement) -> float | None:
    moved = float(m.detail.get("weight_bytes", 0)) + float(m.detail.get("kv_bytes", 0))
    return moved / (gpu.hbm_tb_s * 1e12) * 1e3 if moved and gpu.hbm_tb_s else None


def check_figure(gpu: Gpu, m: Measurement) -> FigureCheck:
    """Where ``m`` falls in its band on ``gpu``'s datasheet."""
    band = BANDS.get(m.name)
    if band is None:
        return FigureCheck(m.name, m.value, None, None, (0.0, 0.0), "n/a", "no datasheet figure")
    if m.value is None:
        return FigureCheck(
            m.name, None, None, None, (band.low, band.high), "skipped", m.skipped or ""
        )
    if m.name == "decode_step_ms":
        floor = _decode_floor_ms(gpu, m)
        if floor is None or m.value <= 0:
            return FigureCheck(m.name, m.value, None, None, (band.low, band.high), "n/a")
        ref, fraction = floor, floor / m.value
    else:
        sheet = datasheet(gpu, m.name)
        if sheet is None:
            return FigureCheck(
                m.name,
                m.value,
                None,
                None,
                (band.low, band.high),
                "n/a",
                f"{gpu.name} has no datasheet figure for this",
            )
        ref, fraction = sheet, m.value / sheet
    status = "low" if fraction < band.low else "high" if fraction > band.high else "ok"
    note = ""
    if status != "ok" and m.name == "decode_step_ms":
        note = (
            f"decode step {m.value:.4g} ms: {gpu.name}'s bandwidth floor {ref:.4g} ms is "
            f"{fraction:.0%} of it; expected {band.low:.0%}-{band.high:.0%}"
        )
    elif status != "ok":
        note = (
            f"{m.name} {m.value:.4g} {m.unit} is {fraction:.0%} of {gpu.name}'s "
            f"{ref:.4g}; expected {band.low:.0%}-{band.high:.0%}"
        )
    return FigureCheck(m.name, m.value, ref, fraction, (band.low, band.high), status, note)


def fit_score(gpu: Gpu, measured: Mapping[str, float], memory_gib: float | None) -> float:
    """S(g) of the module docstring: how badly ``gpu``'s datasheet explains the figures."""
    score = 0.0
    for figure in KEY_FIGURES:
        value = measured.get(figure)
        if value is None or value <= 0:
            continue
        ref = datasheet(gpu, figure)
        if ref is None:
            score += 4.0  # measured something this GPU does not have (e.g. FP8 on an A100)
            continue
        score += math.log(value / (BANDS[figure].typical * ref)) ** 2
    if memory_gib and gpu.memory_gb:
        score += MEMORY_WEIGHT * math.log(memory_gib / gpu.memory_gb) ** 2
    return score


def measures_like(
    catalog: Sequence[Gpu], measured: Mapping[str, float], memory_gib: float | None
) -> tuple[tuple[str, ...], dict[str, float]]:
    """Catalog GPUs that best explain the figures (ties within 0.02), and every score."""
    scores = {g.name: fit_score(g, measured, memory_gib) for g in catalog}
    best = min(scores.values())
    return tuple(n for n, s in scores.items() if s <= best + 0.02), scores


def judge(
    identification: Identification,
    measurements: Sequence[Measurement],
    catalog: Sequence[Gpu],
    *,
    memory_gib: float | None = None,
) -> Verdict:
    """The verdict for one GPU from its identification and measurements: what it measures
    like, then its claim checked against the catalog, each figure against its band, and
    whether the figures say it is another GPU."""
    key_measured = {
        m.name: m.value for m in measurements if m.value is not None and m.name in KEY_FIGURES
    }
    like, scores = measures_like(catalog, key_measured, memory_gib) if key_measured else ((), {})
    claimed = {g.name: g for g in catalog}.get(identification.claimed or "")
    if claimed is None:
        return _unknown(like)
    figures = tuple(check_figure(claimed, m) for m in measurements if m.name in BANDS)
    identity = [f"{c.name}: {c.note}" for c in identification.mismatches]
    if not key_measured:
        return _unmeasured(identity, like, figures)
    off_key = [f for f in figures if f.name in KEY_FIGURES and f.status in ("low", "high")]
    off_other = [f for f in figures if f.name not in KEY_FIGURES and f.status in ("low", "high")]
    relabelled = _relabelled(claimed.name, bool(off_key), like, scores)
    status = _status(mismatch=bool(identity) or relabelled is not None, degraded=bool(off_key))
    reasons = [*identity, *([relabelled] if relabelled else []), *(f.note for f in off_key)]
    warnings = [f"{c.name}: {c.note}" for c in identification.checks if c.status == "warning"]
    notes = [*warnings, *(f.note for f in off_other)]
    return Verdict(status, tuple(reasons + notes), like, figures)


def _unknown(like: tuple[str, ...]) -> Verdict:
    """A reported name the catalog does not know (with what the figures look like)."""
    reason = "the reported name is not in the Suanli catalog"
    if like:
        reason += f"; it measures like {' or '.join(like)}"
    return Verdict("unknown", (reason,), like, ())


def _unmeasured(
    identity: list[str], like: tuple[str, ...], figures: tuple[FigureCheck, ...]
) -> Verdict:
    """No key figure measured: a mismatch if the identity already contradicts the claim."""
    return Verdict(
        "mismatch" if identity else "unmeasured",
        (*identity, "no GPU figure was measured (is PyTorch with CUDA installed?)"),
        like,
        figures,
    )


def _relabelled(
    claimed: str, off_key: bool, like: tuple[str, ...], scores: Mapping[str, float]
) -> str | None:
    """Why the card looks relabelled (a key figure out of band and another catalog GPU
    explaining the figures at least 4x better), or None."""
    claimed_score = scores.get(claimed, 0.0)
    best_score = min(scores.values())
    if not off_key or claimed in like or best_score >= MISMATCH_RATIO * claimed_score:
        return None
    return (
        f"reports {claimed} but measures like {' or '.join(like)} "
        f"(fit {best_score:.2f} against {claimed_score:.2f})"
    )


def _status(*, mismatch: bool, degraded: bool) -> str:
    if mismatch:
        return "mismatch"
    return "degraded" if degraded else "verified"
