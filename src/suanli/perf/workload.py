"""Length statistics of a serving workload: what sizing needs to know about prompts and
outputs, from a trace (distributions, percentiles) or from means (fixed lengths)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Prefill-time distribution: quantile bins, 5% wide up to p90 then 0.5% wide in the tail.
FINE_BINS = np.concatenate([np.linspace(0.0, 0.9, 19), np.linspace(0.9, 1.0, 21)[1:]])
COARSE_BINS = np.array([0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 1.0])


@dataclass(frozen=True, slots=True)
class Workload:
    """The length statistics sizing uses (from a trace, or fixed at the given means)."""

    source: str
    prompt_samples: tuple[int, ...]  # representative prompt lengths, one per quantile bin
    sample_weights: tuple[float, ...]
    prompt_mean: float
    output_mean: float
    prompt_at_percentile: int
    output_at_percentile: int
    decode_tokens_mean: float  # E[O - 1]: tokens made by decode steps
    decode_tokens_var: float
    decode_context: int  # token-weighted mean context during decode
    max_context: int  # prompt + output at the percentile: one sequence must fit
    requests: int  # in the trace (0 with means)


def workload_from_arrays(
    prompt_tokens: npt.NDArray[np.int64],
    output_tokens: npt.NDArray[np.int64],
    *,
    percentile: float,
    source: str,
    bins: npt.NDArray[np.float64] = FINE_BINS,
) -> Workload:
    """Length statistics of a set of requests (a trace, or a bucket of one).

    The prefill-time distribution is represented by one prompt length per quantile bin.
    """
    p = np.maximum(np.asarray(prompt_tokens, dtype=np.float64), 1.0)
    o = np.maximum(np.asarray(output_tokens, dtype=np.float64), 1.0)
    q = percentile / 100.0
    mids = 0.5 * (bins[:-1] + bins[1:])
    samples = np.maximum(np.rint(np.quantile(p, mids)), 1).astype(int)
    weights = np.diff(bins)
    decode = o - 1.0
    context = float(np.dot(o, p + o / 2.0) / o.sum())
    return Workload(
        source=source,
        prompt_samples=tuple(int(v) for v in samples),
        sample_weights=tuple(float(w) for w in weights),
        prompt_mean=float(p.mean()),
        output_mean=float(o.mean()),
        prompt_at_percentile=int(np.ceil(np.quantile(p, q))),
        output_at_percentile=int(np.ceil(np.quantile(o, q))),
        decode_tokens_mean=float(decode.mean()),
        decode_tokens_var=float(decode.var()),
        decode_context=max(1, round(context)),
        max_context=int(np.ceil(np.quantile(p + o, q))),
        requests=int(p.size),
    )


def workload_from_means(prompt_tokens: int, output_tokens: int) -> Workload:
    """Fixed lengths at the given means (no distribution known)."""
    return Workload(
        source="means",
        prompt_samples=(prompt_tokens,),
        sample_weights=(1.0,),
        prompt_mean=float(prompt_tokens),
        output_mean=float(output_tokens),
        prompt_at_percentile=prompt_tokens,
        output_at_percentile=output_tokens,
        decode_tokens_mean=float(output_tokens - 1),
        decode_tokens_var=0.0,
        decode_context=max(1, round(prompt_tokens + output_tokens / 2)),
        max_context=prompt_tokens + output_tokens,
        requests=0,
    )
