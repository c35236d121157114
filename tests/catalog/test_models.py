"""Model architectures: parameter counts against published sizes, KV-cache bytes, the
config.json loader's errors, and forgiving look-ups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.catalog import ModelArch, load_hf_config, model, models
from suanli.errors import DataFileError, NotFound

LLAMA_8B: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
}


@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [
        ("Llama-3.1-8B", 8.03e9, 0.01),
        ("Llama-3.1-70B", 70.6e9, 0.01),
        ("Qwen2.5-32B", 32.8e9, 0.01),
        ("Qwen2.5-7B", 7.61e9, 0.01),
        ("Qwen2.5-72B", 72.7e9, 0.01),
        ("Qwen3-30B-A3B", 30.5e9, 0.01),
        ("DeepSeek-V3", 671e9, 0.01),
        ("DeepSeek-R1", 671e9, 0.01),
        ("Mixtral-8x7B", 46.7e9, 0.01),
    ],
)
def test_total_parameters_match_published(name: str, published: float, tolerance: float) -> None:
    assert model(name).total_params == pytest.approx(published, rel=tolerance)


@pytest.mark.parametrize(
    ("name", "published"),
    # Published active counts are rounded to two figures (3.35B -> "3.3B", 37.5B -> "37B"),
    # so the comparison allows the rounding: 2%.
    [("Qwen3-30B-A3B", 3.3e9), ("DeepSeek-V3", 37e9), ("Mixtral-8x7B", 12.9e9)],
)
def test_active_parameters_match_published(name: str, published: float) -> None:
    arch = model(name)
    assert arch.active_params == pytest.approx(published, rel=0.02)
    assert arch.active_params < arch.total_params / 3


def test_dense_models_have_active_equal_total() -> None:
    for arch in models():
        if arch.moe is None:
            assert arch.active_params == arch.total_params


def test_kv_bytes_per_token() -> None:
    assert model("llama-3.1-8b").kv_bytes_per_token(2) == 131_072
    # MLA caches (kv_lora_rank + qk_rope_head_dim) per layer: (512 + 64) x 61 x 2 bytes.
    assert model("deepseek-v3").kv_bytes_per_token(2) == (512 + 64) * 61 * 2
    assert model("qwen2.5-32b").kv_bytes_per_token(1) == 2 * 64 * 8 * 128


def test_catalog_has_the_required_models_each_with_a_source() -> None:
    names = {m.name for m in models()}
    assert names >= {
        "Llama-3.1-8B",
        "Llama-3.1-70B",
        "Qwen2.5-7B",
        "Qwen2.5-32B",
        "Qwen2.5-72B",
        "Qwen3-30B-A3B",
        "DeepSeek-V3",
        "DeepSeek-R1",
        "DeepSeek-R1-Distill-Qwen-32B",
    }
    for arch in models():
        assert arch.source and "config.json" in arch.source


def test_moe_and_mla_shapes() -> None:
    ds = model("deepseek-r1")
    assert ds.mla is not None and ds.moe is not None
    assert ds.moe.num_shared_experts == 1 and ds.moe.first_dense_layers == 3
    assert ds.num_moe_layers == 58 and ds.num_dense_layers == 3
    q3 = model("qwen3-30b-a3b")
    assert q3.moe is not None and q3.moe.num_experts == 128 and q3.moe.experts_per_token == 8
    assert q3.mla is None and q3.num_moe_layers == 48


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("qwen2.5-32b", "Qwen2.5-32B"),
        ("Qwen/Qwen2.5-32B-Instruct", "Qwen2.5-32B"),
        ("llama-3.1-8b", "Llama-3.1-8B"),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "Llama-3.1-70B"),
        ("deepseek r1", "DeepSeek-R1"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "DeepSeek-R1-Distill-Qwen-32B"),
    ],
)
def test_forgiving_lookup(query: str, expected: str) -> None:
    assert model(query).name == expected


def test_unknown_model_lists_closest_matches() -> None:
    with pytest.raises(NotFound) as info:
        model("llama-3-8b")
    assert "Llama-3.1-8B" in info.value.suggestions


def test_load_from_path_and_directory(tmp_path: Path) -> None:
    folder = tmp_path / "my-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA_8B))
    by_dir = model(str(folder))
    by_file = model(str(folder / "config.json"))
    assert by_dir.name == by_file.name == "my-llama"
    assert by_file.total_params == model("llama-3.1-8b").total_params


def test_missing_field_is_named(tmp_path: Path) -> None:
    raw = dict(LLAMA_8B)
    del raw["num_hidden_layers"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataFileError) as info:
        load_hf_config(path)
    assert info.value.field == "num_hidden_layers"
    assert "num_hidden_layers" in info.value.message and str(path) in info.value.message


def test_missing_moe_field_is_named() -> None:
    raw = dict(LLAMA_8B, model_type="mixtral", num_experts_per_tok=2)
    with pytest.raises(DataFileError) as info:
        load_hf_config(raw)
    assert info.value.field == "num_local_experts"


def test_mla_field_missing_is_named() -> None:
    raw = json.loads(json.dumps({k: v for k, v in _deepseek().items() if k != "kv_lora_rank"}))
    with pytest.raises(DataFileError) as info:
        load_hf_config(raw)
    assert info.value.field == "kv_lora_rank"


def test_malformed_json_and_wrong_types(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "llama", "hidden_size": 4096,')
    with pytest.raises(DataFileError, match="malformed JSON"):
        load_hf_config(path)
    with pytest.raises(DataFileError) as info:
        load_hf_config(dict(LLAMA_8B, hidden_size="big"))
    assert info.value.field == "hidden_size"
    with pytest.raises(DataFileError) as info:
        load_hf_config(dict(LLAMA_8B, model_type="gpt2"))
    assert info.value.field == "model_type"


def test_missing_file_is_a_data_file_error(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no such file"):
        model(str(tmp_path / "nope.json"))


def _deepseek() -> dict[str, Any]:
    arch = model("deepseek-v3")
    assert isinstance(arch, ModelArch)
    return {
        "model_type": "deepseek_v3",
        "hidden_size": 7168,
        "intermediate_size": 18432,
        "moe_intermediate_size": 2048,
        "num_hidden_layers": 61,
        "num_attention_heads": 128,
        "n_routed_experts": 256,
        "n_shared_experts": 1,
        "num_experts_per_tok": 8,
        "first_k_dense_replace": 3,
        "q_lora_rank": 1536,
        "kv_lora_rank": 512,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 128,
        "v_head_dim": 128,
        "vocab_size": 129280,
    }


def test_deepseek_dict_matches_catalog() -> None:
    assert load_hf_config(_deepseek()).total_params == model("deepseek-v3").total_params


@settings(max_examples=60, deadline=None)
@given(
    layers=st.integers(1, 96),
    heads_per_kv=st.sampled_from([1, 2, 4, 8]),
    kv_heads=st.integers(1, 16),
    head_dim=st.sampled_from([64, 80, 128]),
    ff_mult=st.integers(1, 6),
    vocab=st.integers(1000, 200_000),
    tied=st.booleans(),
)
def test_dense_parameter_formula(
    layers: int,
    heads_per_kv: int,
    kv_heads: int,
    head_dim: int,
    ff_mult: int,
    vocab: int,
    tied: bool,
) -> None:
    heads = heads_per_kv * kv_heads
    d = heads * head_dim
    ff = ff_mult * d
    arch = load_hf_config(
        {
            "model_type": "llama",
            "hidden_size": d,
            "intermediate_size": ff,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "num_key_value_heads": kv_heads,
            "vocab_size": vocab,
            "tie_word_embeddings": tied,
        }
    )
    attention = 2 * d * d + 2 * d * kv_heads * head_dim
    expected = layers * (attention + 3 * d * ff + 2 * d) + d + vocab * d * (1 if tied else 2)
    assert arch.total_params == expected
    assert arch.kv_bytes_per_token(2) == 2 * layers * kv_heads * head_dim * 2
