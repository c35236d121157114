"""Model architectures read from a Hugging Face ``config.json``.

Supports dense decoders (Llama, Qwen2/Qwen3, Mistral), mixture-of-experts decoders (Qwen3-MoE,
Mixtral, GLM-4.5, Llama-4, gpt-oss) and the DeepSeek-V2/V3 family (multi-head latent attention
+ MoE with shared experts; DeepSeek-V3.2's sparse attention; Kimi-K2, the DeepSeek-V3
architecture under another name). From the config alone we derive what the performance model
needs: parameter counts per operator group, total and per-token active parameters, KV-cache
bytes per token (and which layers keep only a window), and the checkpoint's declared
quantization.

Parameter counting (gated MLP, RMSNorm, no biases unless the family has them)::

    attention  = d·hd·n_q + 2·d·hd·n_kv + hd·n_q·d          (+ biases, sinks, q/k norms)
    dense MLP  = 3·d·d_ff
    MoE layer  = E·3·d·d_e + S·3·d·d_s + d·E                 (experts, shared experts, router)
    total      = Σ_layers (attention + MLP) + vocab·d · (1 if tied else 2) + norms
    active     = the same with E replaced by k (experts per token)

Multi-token-prediction modules (``num_nextn_predict_layers``) are not counted, as in the
published 671B of DeepSeek-V3. :func:`load_hf_config` reads a config in named steps: the file,
the label, the family, the shared shape, the attention, the MLP or experts, the quantization,
then the counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.catalog.arch import MlaSpec, ModelArch, MoeSpec
from suanli.errors import DataFileError

__all__ = ["SUPPORTED_TYPES", "MlaSpec", "ModelArch", "MoeSpec", "load_hf_config"]

# model_type -> the family whose reader it uses
FAMILIES: dict[str, str] = {
    "llama": "llama",
    "mistral": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3_moe",
    "mixtral": "mixtral",
    "deepseek_v2": "deepseek",
    "deepseek_v3": "deepseek",
    "deepseek_v32": "deepseek",
    "kimi_k2": "deepseek",  # Kimi-K2 is the DeepSeek-V3 architecture (Moonshot's model card)
    "glm4_moe": "glm4_moe",
    "gpt_oss": "gpt_oss",
    "llama4": "llama4",
    "llama4_text": "llama4",
}
SUPPORTED_TYPES = tuple(FAMILIES)


def _fail(path: str | None, name: str, field: str, message: str) -> DataFileError:
    return DataFileError(
        message,
        path=path,
        item=name,
        field=field,
        hint="Give a Hugging Face config.json with this field (see the model's repository).",
    )


class _Fields:
    """Typed reads from a config dict, each failure naming the field."""

    def __init__(self, raw: Mapping[str, Any], path: str | None, name: str) -> None:
        self.raw, self.path, self.name = raw, path, name

    def int(self, key: str, default: int | None = None, *, minimum: int = 1) -> int:
        value = self.raw.get(key)
        if value is None:
            if default is None:
                raise _fail(self.path, self.name, key, "missing required field")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise _fail(self.path, self.name, key, f"expected an integer, got {value!r}")
        if value < minimum:
            raise _fail(self.path, self.name, key, f"must be >= {minimum}, got {value}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _fail(self.path, self.name, key, f"expected true or false, got {value!r}")
        return value


def _read(path_or_dict: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    if isinstance(path_or_dict, Mapping):
        return dict(path_or_dict), None
    path = Path(path_or_dict)
    if path.is_dir():
        path = path / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(
            "no such file", path=str(path), hint="Give a path to a config.json or a catalog name."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"cannot read file: {exc}", path=str(path)) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            path=str(path),
            hint="Fix the JSON syntax of this config.json.",
        ) from None
    if not isinstance(raw, dict):
        raise DataFileError("expected a JSON object at the top level", path=str(path))
    return raw, str(path)


def _quantization(raw: Mapping[str, Any], path: str | None, name: str) -> tuple[str, str]:
    """(weights, KV cache) precision the checkpoint declares in ``quantization_config``:
    ``fp8`` (DeepSeek, Kimi-K2 block fp8), ``mxfp4`` (gpt-oss), compressed-tensors and
    ModelOpt schemes (fp8 or 4-bit integer weights, optional fp8 KV cache), AWQ/GPTQ 4-bit.
    No ``quantization_config``: bf16 weights and cache."""
    q = raw.get("quantization_config")
    if q is None:
        return "bf16", "bf16"
    if not isinstance(q, Mapping):
        raise _fail(path, name, "quantization_config", "expected an object")
    method = str(q.get("quant_method", "")).lower()
    weights, kv = "", "bf16"
    if method in ("fp8", "fbgemm_fp8"):
        weights = "fp8"
    elif method == "mxfp4":
        weights = "mxfp4"
    elif method in ("awq", "gptq") and q.get("bits") == 4:
        weights = "int4"
    elif method == "modelopt":
        algo = str(q.get("quant_algo", "")).upper()
        weights = {"FP8": "fp8", "W4A16_AWQ": "int4"}.get(algo, "")
        kv = "fp8" if str(q.get("kv_cache_quant_algo", "")).upper() == "FP8" else "bf16"
    elif method == "compressed-tensors":
        groups = q.get("config_groups") or {}
        schemes = [g.get("weights") or {} for g in groups.values() if isinstance(g, Mapping)]
        kinds = {(s.get("num_bits"), s.get("type")) for s in schemes if isinstance(s, Mapping)}
        if kinds == {(8, "float")}:
            weights = "fp8"
        elif kinds == {(4, "int")}:
            weights = "int4"
        cache = q.get("kv_cache_scheme")
        if isinstance(cache, Mapping) and (cache.get("num_bits"), cache.get("type")) == (
            8,
            "float",
        ):
            kv = "fp8"
    if not weights:
        raise _fail(
            path,
            name,
            "quantization_config",
            f"unsupported quantization {method or q!r}; supported: fp8, mxfp4, "
            "compressed-tensors fp8/int4, modelopt FP8, AWQ/GPTQ 4-bit",
        )
    return weights, kv


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every family shares: widths, depth, heads and vocabulary."""

    d: int
    layers: int
    n_q: int
    n_kv: int
    hd: int
    vocab: int
    tied: bool


@dataclass(frozen=True, slots=True)
class _Attention:
    """One layer's attention: parameters, extra norm weights, the cache and its windows."""

    params: int
    norms: int  # per layer, beyond the two RMSNorms every layer has
    n_kv: int
    hd: int
    mla: MlaSpec | None = None
    local_layers: int = 0
    window: int = 0
    kind: str = ""
    sparse_topk: int = 0
    indexer_heads: int = 0
    indexer_head_dim: int = 0


@dataclass(frozen=True, slots=True)
class _Mlp:
    """Dense MLP width and, for MoE, the experts, shared experts and router (per layer)."""

    ff: int
    moe: MoeSpec | None
    expert: int = 0  # one routed expert
    shared: int = 0  # all shared experts of one MoE layer
    router: int = 0


def _label(raw: Mapping[str, Any], path: str | None, name: str | None) -> str:
    return str(
        name
        or raw.get("_name")
        or raw.get("_name_or_path")
        or (Path(path).parent.name if path and Path(path).name == "config.json" else None)
        or (Path(path).stem if path else "model")
    )


def _text_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Multimodal checkpoints (Llama-4) nest the language model under ``text_config``; its
    fields win, the outer ones (quantization, notes, tied embeddings) fill in."""
    inner = raw.get("text_config")
    if raw.get("model_type") == "llama4" and isinstance(inner, Mapping):
        return {**raw, **inner, "model_type": "llama4"}
    return raw


def _family(raw: Mapping[str, Any], path: str | None, label: str) -> str:
    model_type = raw.get("model_type")
    if model_type is None:
        raise _fail(path, label, "model_type", "missing required field")
    if model_type not in FAMILIES:
        raise _fail(
            path,
            label,
            "model_type",
            f"unsupported model_type {model_type!r}; supported: {', '.join(SUPPORTED_TYPES)}",
        )
    return FAMILIES[str(model_type)]


def _shape(f: _Fields) -> _Shape:
    d = f.int("hidden_size")
    layers = f.int("num_hidden_layers")
    n_q = f.int("num_attention_heads")
    n_kv = f.int("num_key_value_heads", n_q)  # HF semantics: absent means multi-head attention
    if d % n_q and "head_dim" not in f.raw:
        raise _fail(f.path, f.name, "head_dim", "hidden_size is not a multiple of the heads")
    if n_q % n_kv:
        raise _fail(f.path, f.name, "num_key_value_heads", f"must divide {n_q} attention heads")
    return _Shape(
        d=d,
        layers=layers,
        n_q=n_q,
        n_kv=n_kv,
        hd=f.int("head_dim", d // n_q),
        vocab=f.int("vocab_size"),
        tied=f.bool("tie_word_embeddings", False),
    )


def _layer_kinds(f: _Fields, s: _Shape) -> tuple[int, int, str]:
    """(local layers, window, kind) from ``layer_types`` (gpt-oss) or Llama-4's
    ``no_rope_layers``: RoPE layers use chunked attention, every ``no_rope_layer_interval``-th
    layer is global."""
    kinds = f.raw.get("layer_types")
    if isinstance(kinds, list) and kinds:
        if len(kinds) != s.layers:
            raise _fail(f.path, f.name, "layer_types", f"expected {s.layers} entries")
        sliding = sum(1 for k in kinds if k == "sliding_attention")
        chunked = sum(1 for k in kinds if k == "chunked_attention")
        if sliding and chunked:
            raise _fail(f.path, f.name, "layer_types", "mixes sliding and chunked attention")
        if sliding:
            return sliding, f.int("sliding_window"), "sliding"
        if chunked:
            return chunked, f.int("attention_chunk_size"), "chunked"
        return 0, 0, ""
    if f.raw.get("model_type") == "llama4" and f.raw.get("attention_chunk_size"):
        rope = f.raw.get("no_rope_layers") or []
        if not isinstance(rope, list):
            raise _fail(f.path, f.name, "no_rope_layers", "expected a list of 0/1 per layer")
        if not rope:
            interval = f.int("no_rope_layer_interval", 4)
            rope = [int((i + 1) % interval != 0) for i in range(s.layers)]
        return sum(1 for r in rope if r), f.int("attention_chunk_size"), "chunked"
    return 0, 0, ""


def _attention(f: _Fields, family: str, s: _Shape) -> _Attention:
    """One layer's attention parameters and cache layout."""
    if family == "deepseek":
        return _mla_attention(f, s)
    d, n_q, n_kv, hd = s.d, s.n_q, s.n_kv, s.hd
    params = d * hd * n_q + 2 * d * hd * n_kv + hd * n_q * d
    norms = 0
    bias = f.bool("attention_bias", False)
    if family == "qwen2":
        params += hd * (n_q + 2 * n_kv)  # q, k, v biases
    elif family == "glm4_moe" and bias:
        params += hd * (n_q + 2 * n_kv)  # q, k, v biases; the output projection has none
    elif bias:
        params += hd * (n_q + 2 * n_kv) + d  # q, k, v and output biases
    if family == "gpt_oss":
        params += n_q  # one learned attention sink per head
    if family in ("qwen3", "qwen3_moe") or (family == "glm4_moe" and f.bool("use_qk_norm", False)):
        norms += 2 * hd  # q_norm and k_norm
    local, window, kind = _layer_kinds(f, s)
    return _Attention(
        params=params, norms=norms, n_kv=n_kv, hd=hd, local_layers=local, window=window, kind=kind
    )


def _mla_attention(f: _Fields, s: _Shape) -> _Attention:
    """DeepSeek's multi-head latent attention, with V3.2's sparse-attention indexer."""
    d, n_q = s.d, s.n_q
    q_lora = f.raw.get("q_lora_rank")
    mla = MlaSpec(
        kv_lora_rank=f.int("kv_lora_rank"),
        q_lora_rank=0 if q_lora is None else f.int("q_lora_rank"),
        qk_rope_head_dim=f.int("qk_rope_head_dim"),
        qk_nope_head_dim=f.int("qk_nope_head_dim"),
        v_head_dim=f.int("v_head_dim"),
    )
    qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    q_params = d * mla.q_lora_rank + mla.q_lora_rank * n_q * qk if mla.q_lora_rank else d * n_q * qk
    params = (
        q_params
        + d * (mla.kv_lora_rank + mla.qk_rope_head_dim)
        + mla.kv_lora_rank * n_q * (mla.qk_nope_head_dim + mla.v_head_dim)
        + n_q * mla.v_head_dim * d
    )
    topk = heads = dim = 0
    if "index_topk" in f.raw:
        topk, heads, dim = f.int("index_topk"), f.int("index_n_heads"), f.int("index_head_dim")
        q_in = mla.q_lora_rank or d
        # query and key projections, LayerNorm (weight, bias) on the key, per-head weights
        params += q_in * heads * dim + d * dim + 2 * dim + d * heads
    return _Attention(
        params=params,
        norms=mla.q_lora_rank + mla.kv_lora_rank,
        n_kv=1,  # one shared latent per token
        hd=mla.v_head_dim,
        mla=mla,
        sparse_topk=topk,
        indexer_heads=heads,
        indexer_head_dim=dim,
    )


def _mlp(f: _Fields, family: str, s: _Shape) -> _Mlp:
    """The dense MLP and the experts of each family; parameter counts per layer."""
    d, layers = s.d, s.layers
    if family in ("deepseek", "glm4_moe"):
        first_dense = f.int("first_k_dense_replace", 0, minimum=0)
        step = f.int("moe_layer_freq", 1)
        moe_layers = sum(1 for i in range(first_dense, layers) if i % step == 0)
        e_ff = f.int("moe_intermediate_size")
        shared = f.int("n_shared_experts", 0, minimum=0)
        experts = f.int("n_routed_experts")
        moe = MoeSpec(
            num_experts=experts,
            experts_per_token=f.int("num_experts_per_tok"),
            expert_intermediate_size=e_ff,
            num_shared_experts=shared,
            shared_intermediate_size=e_ff if shared else 0,
            first_dense_layers=first_dense,
            num_moe_layers=moe_layers,
        )
        # GLM-4.5 routes with a learned per-expert score-correction bias.
        router = d * experts + (experts if family == "glm4_moe" else 0)
        ff = f.int("intermediate_size") if layers - moe_layers > 0 else 0
        return _Mlp(ff, moe, 3 * d * e_ff, 3 * d * e_ff * shared, router)
    if family == "qwen3_moe":
        step = f.int("decoder_sparse_step", 1)
        dense_only = f.raw.get("mlp_only_layers") or []
        if not isinstance(dense_only, list):
            raise _fail(f.path, f.name, "mlp_only_layers", "expected a list of layer indices")
        moe_layers = sum(1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0)
        e_ff = f.int("moe_intermediate_size")
        experts = f.int("num_experts")
        moe = MoeSpec(experts, f.int("num_experts_per_tok"), e_ff, num_moe_layers=moe_layers)
        ff = f.int("intermediate_size") if layers - moe_layers > 0 else 0
        return _Mlp(ff, moe, 3 * d * e_ff, 0, d * experts)
    if family == "mixtral":
        e_ff, experts = f.int("intermediate_size"), f.int("num_local_experts")
        moe = MoeSpec(experts, f.int("num_experts_per_tok"), e_ff, num_moe_layers=layers)
        return _Mlp(0, moe, 3 * d * e_ff, 0, d * experts)
    if family == "gpt_oss":
        # Every layer is MoE; experts carry biases (gate and up 2·d_e, down d), the router one
        # per expert.
        e_ff, experts = f.int("intermediate_size"), f.int("num_local_experts")
        top_k = f.int("num_experts_per_tok", f.int("experts_per_token", 0, minimum=0) or None)
        moe = MoeSpec(experts, top_k, e_ff, num_moe_layers=layers)
        return _Mlp(0, moe, 3 * d * e_ff + 2 * e_ff + d, 0, d * experts + experts)
    if family == "llama4":
        # MoE every ``interleave_moe_layer_step``-th layer (one shared expert of the expert
        # width), a wider dense MLP (``intermediate_size_mlp``) elsewhere.
        step = f.int("interleave_moe_layer_step", 1)
        listed = f.raw.get("moe_layers")
        moe_layers = len(listed) if isinstance(listed, list) else len(range(step - 1, layers, step))
        e_ff, experts = f.int("intermediate_size"), f.int("num_local_experts")
        moe = MoeSpec(
            experts,
            f.int("num_experts_per_tok"),
            e_ff,
            num_shared_experts=1,
            shared_intermediate_size=e_ff,
            num_moe_layers=moe_layers,
        )
        ff = f.int("intermediate_size_mlp") if layers - moe_layers > 0 else 0
        return _Mlp(ff, moe, 3 * d * e_ff, 3 * d * e_ff, d * experts)
    return _Mlp(f.int("intermediate_size"), None)


def load_hf_config(
    path_or_dict: str | Path | Mapping[str, Any], *, name: str | None = None
) -> ModelArch:
    """Parse a Hugging Face ``config.json`` (path, directory or dict) into a :class:`ModelArch`.

    Raises :class:`DataFileError` naming the file and the missing or malformed field.
    """
    raw, path = _read(path_or_dict)
    label = _label(raw, path, name)
    raw = _text_config(raw)
    family = _family(raw, path, label)
    f = _Fields(raw, path, label)
    shape = _shape(f)
    attention = _attention(f, family, shape)
    mlp = _mlp(f, family, shape)
    moe = mlp.moe
    if moe is not None and moe.experts_per_token > moe.num_experts:
        raise _fail(path, label, "num_experts_per_tok", "cannot exceed the number of experts")
    weight_precision, kv_precision = _quantization(raw, path, label)
    return _assemble(raw, path, label, shape, attention, mlp, weight_precision, kv_precision)


def _assemble(
    raw: Mapping[str, Any],
    path: str | None,
    label: str,
    s: _Shape,
    attn: _Attention,
    mlp: _Mlp,
    weight_precision: str,
    kv_precision: str,
) -> ModelArch:
    """Total and active parameters from the per-layer counts, and the ModelArch."""
    moe = mlp.moe
    layers = s.layers
    norms = 2 * s.d * layers + s.d + attn.norms * layers  # two RMSNorms per layer, final norm
    dense_mlp = 3 * s.d * mlp.ff
    moe_layers = moe.num_moe_layers if moe else 0
    embeddings = s.vocab * s.d * (1 if s.tied else 2)
    base = layers * attn.params + (layers - moe_layers) * dense_mlp + embeddings + norms
    per_moe_fixed = mlp.shared + mlp.router
    experts, top_k = (moe.num_experts, moe.experts_per_token) if moe else (0, 0)
    total = base + moe_layers * (per_moe_fixed + experts * mlp.expert)
    active = base + moe_layers * (per_moe_fixed + top_k * mlp.expert)
    aliases = raw.get("_aliases") or []
    return ModelArch(
        name=label,
        family=str(raw["model_type"]),
        hidden_size=s.d,
        num_layers=layers,
        num_heads=s.n_q,
        num_kv_heads=attn.n_kv,
        head_dim=attn.hd,
        intermediate_size=mlp.ff,
        vocab_size=s.vocab,
        tied_embeddings=s.tied,
        moe=moe,
        mla=attn.mla,
        source=str(raw.get("_source") or (f"config.json at {path}" if path else "config dict")),
        attention_params_per_layer=attn.params,
        dense_mlp_params=dense_mlp,
        expert_params=mlp.expert,
        shared_expert_params=mlp.shared,
        router_params=mlp.router,
        norm_params=norms,
        total_params=total,
        active_params=active,
        aliases=tuple(str(a) for a in aliases),
        weight_precision=weight_precision,
        kv_precision=kv_precision,
        local_attention_layers=attn.local_layers,
        local_attention_window=attn.window,
        local_attention_kind=attn.kind,
        sparse_topk=attn.sparse_topk,
        indexer_heads=attn.indexer_heads,
        indexer_head_dim=attn.indexer_head_dim,
    )
