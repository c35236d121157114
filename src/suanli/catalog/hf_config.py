"""Model architectures read from a Hugging Face ``config.json``.

Supports dense decoders (Llama, Qwen2/Qwen3, Mistral), mixture-of-experts decoders (Qwen3-MoE,
Mixtral) and DeepSeek-V2/V3 (multi-head latent attention + MoE with shared experts). From the
config alone we derive what the performance model needs: parameter counts per operator group,
total and per-token active parameters, and KV-cache bytes per token.

Parameter counting (gated MLP, RMSNorm, no biases unless the family has them)::

    attention  = d·hd·n_q + 2·d·hd·n_kv + hd·n_q·d          (+ q/k/v biases for Qwen2)
    dense MLP  = 3·d·d_ff
    MoE layer  = E·3·d·d_e + S·3·d·d_s + d·E                 (experts, shared experts, router)
    total      = Σ_layers (attention + MLP) + vocab·d · (1 if tied else 2) + norms
    active     = the same with E replaced by k (experts per token)

The DeepSeek-V3 multi-token-prediction module (``num_nextn_predict_layers``) is not counted,
as in the published 671B.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.errors import DataFileError

SUPPORTED_TYPES = (
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "qwen3_moe",
    "mixtral",
    "deepseek_v2",
    "deepseek_v3",
)


@dataclass(frozen=True, slots=True)
class MoeSpec:
    """Routed experts (top-k of ``num_experts``), optional shared experts, and which layers."""

    num_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0  # per shared expert
    first_dense_layers: int = 0  # DeepSeek: the first k layers use a dense MLP
    num_moe_layers: int = 0


@dataclass(frozen=True, slots=True)
class MlaSpec:
    """Multi-head latent attention: the KV cache holds one compressed latent per token."""

    kv_lora_rank: int
    q_lora_rank: int  # 0: queries are projected directly from the hidden state
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True, slots=True)
class ModelArch:
    """A decoder-only transformer's shape and the parameter counts derived from it."""

    name: str
    family: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int  # dense MLP width (0 when every layer is MoE)
    vocab_size: int
    tied_embeddings: bool
    moe: MoeSpec | None
    mla: MlaSpec | None
    source: str
    attention_params_per_layer: int
    dense_mlp_params: int  # one dense MLP block
    expert_params: int  # one routed expert (0 when dense)
    shared_expert_params: int  # all shared experts of one MoE layer
    router_params: int  # one MoE layer's router
    norm_params: int  # every norm weight in the model
    total_params: int
    active_params: int
    aliases: tuple[str, ...] = ()
    weight_precision: str = "bf16"  # the checkpoint's declared weights: bf16, fp8, int4, mxfp4
    kv_precision: str = "bf16"  # the checkpoint's declared KV cache: bf16 or fp8

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    @property
    def num_moe_layers(self) -> int:
        return self.moe.num_moe_layers if self.moe else 0

    @property
    def num_dense_layers(self) -> int:
        return self.num_layers - self.num_moe_layers

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def kv_values_per_token_per_layer(self) -> int:
        """Cached values per token and layer: K and V heads, or MLA's latent + rope key."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """KV-cache bytes one token occupies across all layers (MLA: the compressed latent)."""
        return float(self.kv_values_per_token_per_layer * self.num_layers * bytes_per_value)


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


def load_hf_config(
    path_or_dict: str | Path | Mapping[str, Any], *, name: str | None = None
) -> ModelArch:
    """Parse a Hugging Face ``config.json`` (path, directory or dict) into a :class:`ModelArch`.

    Raises :class:`DataFileError` naming the file and the missing or malformed field.
    """
    raw, path = _read(path_or_dict)
    label = (
        name
        or raw.get("_name")
        or raw.get("_name_or_path")
        or (Path(path).parent.name if path and Path(path).name == "config.json" else None)
        or (Path(path).stem if path else "model")
    )
    label = str(label)
    model_type = raw.get("model_type")
    if model_type is None:
        raise _fail(path, label, "model_type", "missing required field")
    if model_type not in SUPPORTED_TYPES:
        raise _fail(
            path,
            label,
            "model_type",
            f"unsupported model_type {model_type!r}; supported: {', '.join(SUPPORTED_TYPES)}",
        )
    f = _Fields(raw, path, label)
    d = f.int("hidden_size")
    layers = f.int("num_hidden_layers")
    n_q = f.int("num_attention_heads")
    n_kv = f.int("num_key_value_heads", n_q)  # HF semantics: absent means multi-head attention
    vocab = f.int("vocab_size")
    tied = f.bool("tie_word_embeddings", False)
    if d % n_q and "head_dim" not in raw:
        raise _fail(path, label, "head_dim", "hidden_size is not a multiple of the heads")
    hd = f.int("head_dim", d // n_q)
    if n_q % n_kv:
        raise _fail(path, label, "num_key_value_heads", f"must divide {n_q} attention heads")

    mla: MlaSpec | None = None
    moe: MoeSpec | None = None
    norms = 2 * d * layers + d  # two RMSNorms per layer and the final norm
    if model_type.startswith("deepseek"):
        q_lora = raw.get("q_lora_rank")
        mla = MlaSpec(
            kv_lora_rank=f.int("kv_lora_rank"),
            q_lora_rank=0 if q_lora is None else f.int("q_lora_rank"),
            qk_rope_head_dim=f.int("qk_rope_head_dim"),
            qk_nope_head_dim=f.int("qk_nope_head_dim"),
            v_head_dim=f.int("v_head_dim"),
        )
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        q_params = (
            d * mla.q_lora_rank + mla.q_lora_rank * n_q * qk if mla.q_lora_rank else d * n_q * qk
        )
        attention = (
            q_params
            + d * (mla.kv_lora_rank + mla.qk_rope_head_dim)
            + mla.kv_lora_rank * n_q * (mla.qk_nope_head_dim + mla.v_head_dim)
            + n_q * mla.v_head_dim * d
        )
        norms += layers * (mla.q_lora_rank + mla.kv_lora_rank)
        hd = mla.v_head_dim
        n_kv = 1  # one shared latent per token
        first_dense = f.int("first_k_dense_replace", 0, minimum=0)
        step = f.int("moe_layer_freq", 1)
        moe_layers = sum(1 for i in range(first_dense, layers) if i % step == 0)
        ff = f.int("intermediate_size") if layers - moe_layers > 0 else 0
        e_ff = f.int("moe_intermediate_size")
        shared = f.int("n_shared_experts", 0, minimum=0)
        moe = MoeSpec(
            num_experts=f.int("n_routed_experts"),
            experts_per_token=f.int("num_experts_per_tok"),
            expert_intermediate_size=e_ff,
            num_shared_experts=shared,
            shared_intermediate_size=e_ff if shared else 0,
            first_dense_layers=first_dense,
            num_moe_layers=moe_layers,
        )
    else:
        attention = d * hd * n_q + 2 * d * hd * n_kv + hd * n_q * d
        if model_type == "qwen2" or f.bool("attention_bias", False):
            attention += hd * (n_q + 2 * n_kv) + (d if model_type != "qwen2" else 0)
        if model_type in ("qwen3", "qwen3_moe"):
            norms += 2 * hd * layers  # q_norm and k_norm
        if model_type == "qwen3_moe":
            step = f.int("decoder_sparse_step", 1)
            dense_only = raw.get("mlp_only_layers") or []
            if not isinstance(dense_only, list):
                raise _fail(path, label, "mlp_only_layers", "expected a list of layer indices")
            moe_layers = sum(
                1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0
            )
            ff = f.int("intermediate_size") if layers - moe_layers > 0 else 0
            e_ff = f.int("moe_intermediate_size")
            moe = MoeSpec(
                num_experts=f.int("num_experts"),
                experts_per_token=f.int("num_experts_per_tok"),
                expert_intermediate_size=e_ff,
                num_moe_layers=moe_layers,
            )
        elif model_type == "mixtral":
            e_ff = f.int("intermediate_size")
            ff = 0
            moe = MoeSpec(
                num_experts=f.int("num_local_experts"),
                experts_per_token=f.int("num_experts_per_tok"),
                expert_intermediate_size=e_ff,
                num_moe_layers=layers,
            )
        else:
            ff = f.int("intermediate_size")

    if moe is not None and moe.experts_per_token > moe.num_experts:
        raise _fail(path, label, "num_experts_per_tok", "cannot exceed the number of experts")
    dense_mlp = 3 * d * ff
    expert = 3 * d * moe.expert_intermediate_size if moe else 0
    shared_params = 3 * d * moe.shared_intermediate_size * moe.num_shared_experts if moe else 0
    router = d * moe.num_experts if moe else 0
    moe_layers = moe.num_moe_layers if moe else 0
    embeddings = vocab * d * (1 if tied else 2)
    base = layers * attention + (layers - moe_layers) * dense_mlp + embeddings + norms
    per_moe_fixed = shared_params + router
    total = base + moe_layers * (per_moe_fixed + (moe.num_experts * expert if moe else 0))
    active = base + moe_layers * (per_moe_fixed + (moe.experts_per_token * expert if moe else 0))
    aliases = raw.get("_aliases") or []
    weight_precision, kv_precision = _quantization(raw, path, label)
    return ModelArch(
        name=label,
        family=str(model_type),
        hidden_size=d,
        num_layers=layers,
        num_heads=n_q,
        num_kv_heads=n_kv,
        head_dim=hd,
        intermediate_size=ff,
        vocab_size=vocab,
        tied_embeddings=tied,
        moe=moe,
        mla=mla,
        source=str(raw.get("_source") or (f"config.json at {path}" if path else "config dict")),
        attention_params_per_layer=attention,
        dense_mlp_params=dense_mlp,
        expert_params=expert,
        shared_expert_params=shared_params,
        router_params=router,
        norm_params=norms,
        total_params=total,
        active_params=active,
        aliases=tuple(str(a) for a in aliases),
        weight_precision=weight_precision,
        kv_precision=kv_precision,
    )
