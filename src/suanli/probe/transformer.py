"""A random-weight decoder-only transformer (Llama/Qwen2 shape) for timing decode and prefill.

Timing a step does not depend on the weights' values, so random weights stand in for a real
checkpoint: the probe times a small one to compare GPUs, ``benchmarks/device/calibrate.py``
times full-size Llama-3.1-8B and Qwen2.5-32B shapes to calibrate :mod:`suanli.perf`.

One layer of a decode step is: RMSNorm, one fused QKV GEMM, rotary embedding, write the new
token's K/V into a static cache, attention of the query heads (grouped per KV head) over the
whole cache with ``scaled_dot_product_attention``, output GEMM, RMSNorm, one fused gate-up
GEMM, SiLU-and-multiply, down GEMM; then the final norm and the LM head for the batch's last
tokens. On CUDA the whole step is captured once in a ``torch.cuda.CUDAGraph`` and replayed,
so launch gaps are those of a serving engine with graphs, not of Python. PyTorch is imported
lazily; nothing here runs without it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Shape:
    """The dimensions of a dense decoder with grouped-query attention and a gated MLP."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int

    @property
    def params(self) -> int:
        """Parameters (untied embeddings and LM head; norms included)."""
        attn = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * self.intermediate
        return self.layers * (attn + mlp + 2 * self.hidden) + 2 * self.vocab * self.hidden

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


LLAMA_3_1_8B = Shape("Llama-3.1-8B", 32, 4096, 32, 8, 128, 14336, 128256)
QWEN_2_5_32B = Shape("Qwen2.5-32B", 64, 5120, 40, 8, 128, 27648, 152064)
#: ~1.2 B parameters: big enough to be bandwidth-bound at batch 1, small enough for any GPU.
PROBE_1B = Shape("probe-1b", 16, 2048, 16, 8, 128, 8192, 32768)
#: For CPU tests and ``--smoke`` runs.
TINY = Shape("tiny", 2, 64, 4, 2, 16, 128, 256)


def import_torch() -> Any:
    """PyTorch, imported on first use (``pip install suanli[probe]``)."""
    import os

    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # same numbering as nvidia-smi
    import torch

    return torch


def _rope(torch: Any, x: Any, cos: Any, sin: Any) -> Any:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class RandomDecoder:
    """Weights drawn from N(0, 0.02) in ``dtype`` on ``device``; see the module docstring."""

    def __init__(self, shape: Shape, *, device: str = "cuda", dtype: Any = None, seed: int = 0):
        torch = import_torch()
        self.torch = torch
        self.shape = shape
        self.device = torch.device(device)
        self.dtype = dtype if dtype is not None else torch.bfloat16
        gen = torch.Generator(device=self.device).manual_seed(seed)
        s = shape

        def w(*dims: int) -> Any:
            t = torch.empty(*dims, device=self.device, dtype=self.dtype)
            return t.normal_(0.0, 0.02, generator=gen)

        qkv_out = (s.heads + 2 * s.kv_heads) * s.head_dim
        self.embed = w(s.vocab, s.hidden)
        self.layers = [
            {
                "ln1": torch.ones(s.hidden, device=self.device, dtype=self.dtype),
                "wqkv": w(s.hidden, qkv_out),
                "wo": w(s.heads * s.head_dim, s.hidden),
                "ln2": torch.ones(s.hidden, device=self.device, dtype=self.dtype),
                "w_gate_up": w(s.hidden, 2 * s.intermediate),
                "w_down": w(s.intermediate, s.hidden),
            }
            for _ in range(s.layers)
        ]
        self.final_norm = torch.ones(s.hidden, device=self.device, dtype=self.dtype)
        self.lm_head = w(s.hidden, s.vocab)
        self.gen = gen

    def _norm(self, x: Any, weight: Any) -> Any:
        f = self.torch.nn.functional
        return f.rms_norm(x, (x.shape[-1],), weight, 1e-6)

    def _rope_tables(self, positions: Any) -> tuple[Any, Any]:
        torch = self.torch
        hd = self.shape.head_dim
        inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device=self.device).float() / hd))
        angles = positions.float()[:, None] * inv[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos().to(self.dtype), angles.sin().to(self.dtype)

    def new_cache(self, batch: int, context: int) -> Any:
        """A static KV cache [layers, 2, batch, kv_heads, context, head_dim], random-filled."""
        s = self.shape
        cache = self.torch.empty(
            s.layers,
            2,
            batch,
            s.kv_heads,
            context,
            s.head_dim,
            device=self.device,
            dtype=self.dtype,
        )
        return cache.normal_(0.0, 1.0, generator=self.gen)

    def decode_fn(self, batch: int, context: int, cache: Any) -> tuple[Any, Any]:
        """Static inputs and a closure running one decode step at position ``context - 1``."""
        torch = self.torch
        s = self.shape
        group = s.heads // s.kv_heads
        tokens = torch.randint(0, s.vocab, (batch,), device=self.device, generator=self.gen)
        position = torch.tensor([context - 1], device=self.device)
        cos, sin = self._rope_tables(position)
        sdpa = torch.nn.functional.scaled_dot_product_attention
        q_width = s.heads * s.head_dim
        kv_width = s.kv_heads * s.head_dim

        def step() -> Any:
            x = self.embed[tokens]
            for i, layer in enumerate(self.layers):
                h = self._norm(x, layer["ln1"])
                qkv = h @ layer["wqkv"]
                q = qkv[:, :q_width].view(batch, s.kv_heads, group, s.head_dim)
                k = qkv[:, q_width : q_width + kv_width].view(batch, s.kv_heads, 1, s.head_dim)
                v = qkv[:, q_width + kv_width :].view(batch, s.kv_heads, 1, s.head_dim)
                q = _rope(torch, q, cos, sin)
                k = _rope(torch, k, cos, sin)
                k_cache, v_cache = cache[i, 0], cache[i, 1]
                k_cache.index_copy_(2, position, k)
                v_cache.index_copy_(2, position, v)
                o = sdpa(q, k_cache, v_cache)
                x = x + o.reshape(batch, q_width) @ layer["wo"]
                h = self._norm(x, layer["ln2"])
                gate, up = (h @ layer["w_gate_up"]).chunk(2, dim=-1)
                x = x + (torch.nn.functional.silu(gate) * up) @ layer["w_down"]
            return self._norm(x, self.final_norm) @ self.lm_head

        return tokens, step

    def prefill_fn(self, prompt_tokens: int, cache: Any) -> Any:
        """A closure running the prefill of one prompt (batch 1), writing K/V into ``cache``."""
        torch = self.torch
        s = self.shape
        t = prompt_tokens
        tokens = torch.randint(0, s.vocab, (t,), device=self.device, generator=self.gen)
        cos, sin = self._rope_tables(torch.arange(t, device=self.device))
        sdpa = torch.nn.functional.scaled_dot_product_attention
        q_width = s.heads * s.head_dim
        kv_width = s.kv_heads * s.head_dim

        def attend(q: Any, k: Any, v: Any) -> Any:
            try:
                return sdpa(q, k, v, is_causal=True, enable_gqa=True)
            except (TypeError, RuntimeError):
                rep = s.heads // s.kv_heads
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
                return sdpa(q, k, v, is_causal=True)

        def run() -> Any:
            x = self.embed[tokens]
            for i, layer in enumerate(self.layers):
                h = self._norm(x, layer["ln1"])
                qkv = h @ layer["wqkv"]
                q = qkv[:, :q_width].view(t, s.heads, s.head_dim).transpose(0, 1)[None]
                k = qkv[:, q_width : q_width + kv_width].view(t, s.kv_heads, s.head_dim)
                v = qkv[:, q_width + kv_width :].view(t, s.kv_heads, s.head_dim)
                k = k.transpose(0, 1)[None]
                v = v.transpose(0, 1)[None]
                q = _rope(torch, q, cos, sin)
                k = _rope(torch, k, cos, sin)
                cache[i, 0, :, :, :t].copy_(k)
                cache[i, 1, :, :, :t].copy_(v)
                o = attend(q, k, v)[0].transpose(0, 1).reshape(t, q_width)
                x = x + o @ layer["wo"]
                h = self._norm(x, layer["ln2"])
                gate, up = (h @ layer["w_gate_up"]).chunk(2, dim=-1)
                x = x + (torch.nn.functional.silu(gate) * up) @ layer["w_down"]
            return self._norm(x[-1:], self.final_norm) @ self.lm_head

        return run


@dataclass(frozen=True, slots=True)
class Timing:
    """Median and spread of repeated runs, in milliseconds."""

    median_ms: float
    min_ms: float
    max_ms: float
    runs: int
    method: str


def _summary(times_ms: list[float], method: str) -> Timing:
    return Timing(statistics.median(times_ms), min(times_ms), max(times_ms), len(times_ms), method)


def time_callable(
    torch: Any, fn: Any, *, device: Any, warmup: int, runs: int, graph: bool
) -> Timing:
    """Time ``fn``: on CUDA with events (replaying a captured graph when ``graph``), else with
    the host clock. Warm-up runs are not timed; the result is the median over ``runs``."""
    if device.type != "cuda":
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return _summary(times, f"host clock, median of {runs} after {warmup} warm-up")
    call = fn
    method = "CUDA events per call"
    if graph:
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(max(warmup, 2)):
                fn()
        torch.cuda.current_stream(device).wait_stream(side)
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            fn()
        call = cuda_graph.replay
        method = "one CUDA graph per step, CUDA events per replay"
    for _ in range(warmup):
        call()
    torch.cuda.synchronize(device)
    pairs = []
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        pairs.append((start, end))
    torch.cuda.synchronize(device)
    times = [a.elapsed_time(b) for a, b in pairs]
    return _summary(times, f"{method}, median of {runs} after {warmup} warm-up")
