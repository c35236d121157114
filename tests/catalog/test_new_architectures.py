"""gpt-oss, GLM-4.5, Llama-4, DeepSeek-V3.2 and Kimi-K2: parameter counts and KV-cache bytes
against their publishers' figures, windows and sparse attention, declared quantization."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suanli.catalog import gpu, load_hf_config, model
from suanli.errors import DataFileError
from suanli.perf import decode_step, memory_fit
from suanli.perf.memory import weight_bytes

GIB = 2**30


@pytest.mark.parametrize(
    ("name", "published"),
    [
        # OpenAI gpt-oss model card (2025-08-05), table 1: total parameters.
        ("gpt-oss-120b", 116.83e9),
        ("gpt-oss-20b", 20.91e9),
        # GLM-4.5 model card (zai-org): 355B total / 32B active; Air 106B / 12B.
        ("GLM-4.5", 355e9),
        ("GLM-4.5-Air", 106e9),
        # Meta Llama 4 model card: Maverick 400B total, 17B active.
        ("Llama-4-Maverick-17B-128E", 400e9),
        # DeepSeek-V3.2-Exp model card: continued training of V3.1-Terminus, whose main model
        # is DeepSeek-V3's 671B (technical report; MTP module not counted); the indexer adds
        # 0.85B here.
        ("DeepSeek-V3.2", 671e9),
    ],
)
def test_total_parameters_within_one_percent_of_published(name: str, published: float) -> None:
    assert model(name).total_params == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize(
    ("name", "published"),
    # OpenAI counts active parameters without the input embedding (a table look-up).
    [("gpt-oss-120b", 5.13e9), ("gpt-oss-20b", 3.61e9)],
)
def test_gpt_oss_active_parameters(name: str, published: float) -> None:
    arch = model(name)
    assert arch.active_params - arch.embedding_params == pytest.approx(published, rel=0.01)


def test_published_figures_given_only_to_one_or_two_figures() -> None:
    # Kimi-K2 (Moonshot model card): "1T" total, "32B" activated. Our count of its config
    # is 1.026T / 32.9B: it rounds to the published figures, which are too coarse for 1%.
    kimi = model("Kimi-K2")
    assert round(kimi.total_params / 1e12) == 1
    assert round(kimi.active_params / 1e9) in (32, 33)
    # Llama-4-Scout: Meta's 109B includes the vision encoder, which is not modelled; the
    # language model alone is 107.8B. Active: "17B".
    scout = model("Llama-4-Scout-17B-16E")
    assert 107e9 < scout.total_params < 109e9
    assert round(scout.active_params / 1e9) == 17
    assert round(model("Llama-4-Maverick-17B-128E").active_params / 1e9) == 17


def test_kimi_k2_is_the_deepseek_v3_architecture_with_its_own_table() -> None:
    # Moonshot's model card table: 61 layers (1 dense), hidden 7168, expert hidden 2048,
    # 64 attention heads, 384 experts (8 selected, 1 shared), 160K vocabulary, MLA.
    kimi, v3 = model("kimi-k2-instruct"), model("DeepSeek-V3")
    assert kimi.family == "kimi_k2" and kimi.mla == v3.mla
    assert (kimi.num_layers, kimi.hidden_size, kimi.num_heads) == (61, 7168, 64)
    assert kimi.moe is not None and v3.moe is not None
    assert (kimi.moe.num_experts, kimi.moe.experts_per_token) == (384, 8)
    assert (kimi.moe.num_shared_experts, kimi.moe.first_dense_layers) == (1, 1)
    assert kimi.moe.expert_intermediate_size == 2048 and kimi.vocab_size == 163840
    assert kimi.kv_bytes_per_token(2) == v3.kv_bytes_per_token(2)


def test_kv_bytes_per_token() -> None:
    # gpt-oss (model card): GQA with 8 KV heads of 64, alternating full attention and a
    # 128-token band; only the 18 full layers keep every token.
    oss = model("gpt-oss-120b")
    assert oss.kv_bytes_per_token(2) == 18 * 2 * 8 * 64 * 2 == 36_864
    assert oss.kv_bytes_per_sequence(10_000) == 10_000 * 36_864 + 128 * 18 * 2 * 8 * 64 * 2
    assert oss.kv_bytes_per_sequence(100) == 100 * 36 * 2 * 8 * 64 * 2  # below the window
    # Llama-4: 8 KV heads of 128; every 4th of 48 layers is global, the rest keep a chunk.
    scout = model("llama-4-scout")
    assert scout.local_attention_kind == "chunked" and scout.local_attention_layers == 36
    assert scout.kv_bytes_per_token(2) == 12 * 2 * 8 * 128 * 2 == 49_152
    # GLM-4.5: 92 layers of 8 KV heads of 128.
    assert model("GLM-4.5").kv_bytes_per_token(2) == 92 * 2 * 8 * 128 * 2 == 376_832
    # DeepSeek-V3.2: V3's MLA latent (512 + 64 per layer) plus the indexer's fp8 key of 128
    # and its fp32 scale, for all 61 layers.
    assert model("DeepSeek-V3.2").kv_bytes_per_token(2) == 61 * ((512 + 64) * 2 + 128 + 4)


@pytest.mark.parametrize(
    ("name", "published_gib"),
    # OpenAI gpt-oss model card, table 1: checkpoint sizes with MXFP4 experts.
    [("gpt-oss-120b", 60.8), ("gpt-oss-20b", 12.8)],
)
def test_mxfp4_checkpoint_size(name: str, published_gib: float) -> None:
    arch = model(name)
    assert arch.weight_precision == "mxfp4"
    assert weight_bytes(arch, "mxfp4") / GIB == pytest.approx(published_gib, rel=0.01)


def test_declared_quantization_sets_the_default_precision() -> None:
    assert model("Kimi-K2").weight_precision == "fp8"
    assert model("DeepSeek-V3.2").weight_precision == "fp8"
    assert model("GLM-4.5").weight_precision == "bf16"
    # gpt-oss-120b fits one 80 GB GPU as shipped (the model card's claim), not in bf16.
    h100 = gpu("H100-SXM")
    assert memory_fit(model("gpt-oss-120b"), h100, tokens_in_flight=32_768, sequences=1).fits
    fit = memory_fit(model("gpt-oss-120b"), h100, tokens_in_flight=0, precision="bf16")
    assert not fit.fits


def test_windowed_layers_stop_reading_beyond_their_window() -> None:
    oss, h100 = model("gpt-oss-120b"), gpu("H100-SXM")
    b = [decode_step(oss, h100, batch=4, context=c).bytes_moved for c in (2000, 3000, 4000)]
    per_token_all_layers = 4 * 36 * 2 * 8 * 64 * 2
    # Each extra cached token is read by the 18 full layers only.
    assert b[1] - b[0] == pytest.approx(1000 * per_token_all_layers / 2)
    assert b[2] - b[1] == pytest.approx(b[1] - b[0])


def test_sparse_attention_caps_the_attended_tokens_but_the_indexer_scans_all() -> None:
    v32, h200 = model("DeepSeek-V3.2"), gpu("H200-SXM")
    short = decode_step(v32, h200, batch=8, context=1000, tp=8)
    long = decode_step(v32, h200, batch=8, context=60_000, tp=8)
    longer = decode_step(v32, h200, batch=8, context=120_000, tp=8)
    assert long.parts_ms["attention"] > short.parts_ms["attention"]
    assert longer.parts_ms["attention"] == pytest.approx(long.parts_ms["attention"])
    assert longer.parts_ms["indexer"] > 1.9 * long.parts_ms["indexer"]
    v3 = decode_step(model("DeepSeek-V3"), h200, batch=8, context=120_000, tp=8)
    assert longer.step_ms < v3.step_ms


def _llama4_config(**text: Any) -> dict[str, Any]:
    inner = {
        "model_type": "llama4_text",
        "hidden_size": 512,
        "num_hidden_layers": 8,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "intermediate_size": 256,
        "intermediate_size_mlp": 1024,
        "num_local_experts": 4,
        "num_experts_per_tok": 1,
        "vocab_size": 1000,
        "attention_chunk_size": 128,
        "interleave_moe_layer_step": 2,
        **text,
    }
    return {"model_type": "llama4", "text_config": inner}


def test_llama4_reads_text_config_layers_and_experts() -> None:
    arch = load_hf_config(_llama4_config())
    assert arch.num_moe_layers == 4 and arch.num_dense_layers == 4
    assert arch.local_attention_layers == 6  # layers 4 and 8 are global
    assert arch.dense_mlp_params == 3 * 512 * 1024
    assert arch.shared_expert_params == arch.expert_params == 3 * 512 * 256
    listed = load_hf_config(_llama4_config(no_rope_layers=[1, 0] * 4))
    assert listed.local_attention_layers == 4


def test_malformed_layer_types_name_the_field(tmp_path: Any) -> None:
    raw = json.loads(json.dumps(_llama4_config()))
    raw["text_config"]["layer_types"] = ["full_attention"] * 3
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataFileError) as err:
        load_hf_config(path)
    assert err.value.context.get("field") == "layer_types"
