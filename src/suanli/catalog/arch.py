"""A decoder-only transformer's shape and the counts the performance model needs.

:class:`ModelArch` is built by :func:`suanli.catalog.hf_config.load_hf_config` from a Hugging
Face ``config.json``. Besides parameter counts per operator group it says how the KV cache
grows: layers with full attention keep every token; *local* layers (gpt-oss's sliding window,
Llama-4's chunked attention) keep at most a window of tokens per sequence; DeepSeek-V3.2's
sparse attention attends to at most ``sparse_topk`` cached tokens chosen by an indexer that
keeps its own small key cache for every token.
"""

from __future__ import annotations

from dataclasses import dataclass

# DeepSeek-V3.2's indexer caches its keys in fp8 with one fp32 scale per 128 values.
INDEXER_KEY_BYTES_PER_VALUE = 1.0
INDEXER_SCALE_BYTES_PER_128 = 4.0


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
    local_attention_layers: int = 0  # layers that keep only a window of tokens
    local_attention_window: int = 0  # tokens a local layer keeps per sequence
    local_attention_kind: str = ""  # sliding (gpt-oss) or chunked (Llama-4)
    sparse_topk: int = 0  # DeepSeek sparse attention: cached tokens each query attends to
    indexer_heads: int = 0  # DeepSeek sparse attention's indexer
    indexer_head_dim: int = 0

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
    def num_global_layers(self) -> int:
        """Layers whose attention keeps every cached token."""
        return self.num_layers - self.local_attention_layers

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def kv_values_per_token_per_layer(self) -> int:
        """Cached values per token and layer: K and V heads, or MLA's latent + rope key."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    @property
    def indexer_bytes_per_token_per_layer(self) -> float:
        """The sparse-attention indexer's fp8 key (and its scale) per token and layer."""
        if not self.indexer_head_dim:
            return 0.0
        return (
            self.indexer_head_dim * INDEXER_KEY_BYTES_PER_VALUE
            + INDEXER_SCALE_BYTES_PER_128 * max(1, self.indexer_head_dim // 128)
        )

    @property
    def attention_is_linear_in_context(self) -> bool:
        """Whether every layer attends over its whole context (no window, no top-k)."""
        return not self.local_attention_layers and not self.sparse_topk

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """KV-cache bytes one token occupies across the layers that keep every token (all
        layers unless some are local), plus the sparse-attention indexer's keys. MLA: the
        compressed latent."""
        return float(
            self.kv_values_per_token_per_layer * bytes_per_value * self.num_global_layers
            + self.indexer_bytes_per_token_per_layer * self.num_layers
        )

    def local_tokens(self, tokens: int) -> int:
        """Tokens a local layer keeps for one sequence of ``tokens`` tokens."""
        if not self.local_attention_layers:
            return 0
        return min(tokens, self.local_attention_window)

    def kv_bytes_per_sequence(self, tokens: int, bytes_per_value: float = 2.0) -> float:
        """KV-cache bytes of one sequence of ``tokens`` cached tokens, all layers."""
        local = self.local_tokens(tokens) * self.local_attention_layers
        return tokens * self.kv_bytes_per_token(bytes_per_value) + (
            local * self.kv_values_per_token_per_layer * bytes_per_value
        )

    def attended_tokens(self, context: int) -> tuple[int, int]:
        """(global, local) cached tokens one decode query attends to per layer at a context
        of ``context`` tokens (its own included)."""
        if self.sparse_topk:
            return min(context, self.sparse_topk), 0
        if not self.local_attention_layers:
            return context, 0
        window = self.local_attention_window
        if self.local_attention_kind == "chunked":
            return context, (context - 1) % window + 1
        return context, min(context, window)

    def causal_pairs(self, prompt_tokens: int) -> tuple[float, float]:
        """(global, local) (query, key) pairs per layer in a causal prefill of one prompt."""
        n = prompt_tokens
        full = n * (n + 1) / 2.0
        if self.sparse_topk:
            k = self.sparse_topk
            return (full if n <= k else k * (k + 1) / 2.0 + (n - k) * k), 0.0
        if not self.local_attention_layers:
            return full, 0.0
        w = self.local_attention_window
        if self.local_attention_kind == "chunked":
            chunks, rest = divmod(n, w)
            return full, chunks * w * (w + 1) / 2.0 + rest * (rest + 1) / 2.0
        return full, (full if n <= w else w * (w + 1) / 2.0 + (n - w) * w)
