"""Small scenarios for simulator tests: explicit replica profiles, so they run in moments."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim import Scenario, parse_scenario

SMALL_YAML = """
name: small
description: three sites, two cities, one served model with given profiles
request_scale: 50
buyers: {comfort_rtt_ms: 6, headroom: 0.1}
market: {target_utilization: 0.6, price_elasticity_per_day: 0.2}
cities: {beijing: 2, shanghai: 1}
sites:
  - id: beijing-metro
    inventory: {L20: 40, H100-SXM: 8}
    ask_factor: 1.2
    base_load: 0.5
  - id: zhangjiakou
    inventory: {H100-SXM: 32}
    base_load: 0.25
  - id: zhongwei
    inventory: {H100-SXM: 96, A800-SXM-80GB: 64}
    ask_factor: 0.9
    base_load: 0.1
workloads:
  - name: chat
    model: Qwen2.5-7B
    trace: azure-conv
    requests_per_day: 3000
    ttft_p95_ms: 1500
    tpot_p95_ms: 60
    profiles:
      H100-SXM: {gpus_per_replica: 1, max_batch: 32, rps: 2.0, prefill_ms_per_1k_tokens: 60,
                 step_ms_at_batch_1: 12, step_ms_per_sequence: 0.6}
      L20: {gpus_per_replica: 2, max_batch: 16, rps: 0.8, prefill_ms_per_1k_tokens: 200,
            step_ms_at_batch_1: 25, step_ms_per_sequence: 1.2}
      A800-SXM-80GB: {gpus_per_replica: 1, max_batch: 16, rps: 1.0,
                      prefill_ms_per_1k_tokens: 150, step_ms_at_batch_1: 20,
                      step_ms_per_sequence: 1.0}
batch: {jobs_per_day: 6, gpu_hours_mean: 60, max_gpus: 16, deadline_h: 24}
training: {jobs_per_day: 1, gang_sizes: [16, 32], hours_mean: 10}
"""


@pytest.fixture
def small_yaml() -> str:
    return SMALL_YAML


@pytest.fixture
def small() -> Scenario:
    return parse_scenario(SMALL_YAML, path="small.yaml")


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    return path
