"""GPU models with their datasheet figures (dense, no sparsity), China export variants and
what is cut in them. Rows come from ``data/gpus.csv``; each carries its source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from suanli.catalog._data import read_csv
from suanli.catalog._lookup import build_index, resolve


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU model. Throughputs are dense; ``nvlink_gb_s`` is bidirectional (0: none)."""

    name: str
    vendor: str
    form_factor: str  # SXM, PCIe or OAM
    memory_gb: float
    hbm_tb_s: float
    bf16_tflops: float
    fp8_tflops: float  # 0 when the GPU has no FP8 tensor cores
    int8_tops: float
    nvlink_gb_s: float
    pcie_gb_s: float  # host link, bidirectional
    tdp_w: float
    sm_count: int  # 0 when unknown
    boost_clock_mhz: int  # 0 when unknown
    export_variant_of: str | None
    cut: str | None
    aliases: tuple[str, ...]
    confidence: str
    note: str
    source: str

    @property
    def supports_fp8(self) -> bool:
        return self.fp8_tflops > 0

    @property
    def has_nvlink(self) -> bool:
        return self.nvlink_gb_s > 0

    @property
    def interconnect_gb_s(self) -> float:
        """Bidirectional GPU-to-GPU bandwidth inside a node: NVLink where present, else PCIe."""
        return self.nvlink_gb_s if self.nvlink_gb_s > 0 else self.pcie_gb_s

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb * 1e9

    @property
    def is_export_variant(self) -> bool:
        return self.export_variant_of is not None


def _parse(row: dict[str, str]) -> Gpu:
    return Gpu(
        name=row["name"],
        vendor=row["vendor"],
        form_factor=row["form_factor"],
        memory_gb=float(row["memory_gb"]),
        hbm_tb_s=float(row["hbm_tb_s"]),
        bf16_tflops=float(row["bf16_tflops_dense"]),
        fp8_tflops=float(row["fp8_tflops_dense"] or 0),
        int8_tops=float(row["int8_tops_dense"] or 0),
        nvlink_gb_s=float(row["nvlink_gb_s"] or 0),
        pcie_gb_s=float(row["pcie_gb_s"] or 0),
        tdp_w=float(row["tdp_w"]),
        sm_count=int(row["sm_count"] or 0),
        boost_clock_mhz=int(row["boost_clock_mhz"] or 0),
        export_variant_of=row["export_variant_of"] or None,
        cut=row["cut"] or None,
        aliases=tuple(a for a in row["aliases"].split("|") if a),
        confidence=row["confidence"],
        note=row["note"],
        source=row["source"],
    )


@cache
def gpus() -> tuple[Gpu, ...]:
    """Every GPU model in the catalog, in file order."""
    return tuple(_parse(row) for row in read_csv("gpus.csv"))


@cache
def _index() -> dict[str, Gpu]:
    return build_index((g, (g.name, *g.aliases)) for g in gpus())


def gpu(name: str) -> Gpu:
    """Look a GPU up forgivingly: ``h100``, ``H100-SXM`` and ``nvidia h100 80gb`` are one GPU.

    Raises :class:`~suanli.errors.NotFound` with the closest names when unknown.
    """
    if isinstance(name, Gpu):
        return name
    return resolve("gpu", name, _index(), (g.name for g in gpus()))
