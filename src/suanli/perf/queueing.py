"""Queueing of requests on one serving replica: time to first token under load.

A replica is one model instance (``tp`` GPUs) running continuous batching with at most
``B`` sequences in flight. A request waits twice before its first token:

1. for a **batch slot** (all ``B`` slots busy): the slots form an M/G/c queue with
   ``c = B`` servers whose service time is the whole time a request holds a slot (its
   prefill and its decode); we use the Allen-Cunneen approximation
   ``Wq = C(c, a) / (c/E[H] - lambda) * (ca^2 + cs^2) / 2`` with ``C`` the Erlang-C
   probability of waiting and ``a = lambda E[H]`` the offered load;
2. for the **GPU to prefill it**: prefills take priority over decode steps (vLLM's default
   scheduler), so they form an M/G/1 queue with non-preemptive priority. By
   Pollaczek-Khinchine, ``Wq = R / (1 - rho_p)`` with ``rho_p = lambda E[pf]`` and the mean
   residual ``R = lambda E[pf^2] / 2 + f_dec * step / 2`` (``f_dec``: the share of time the
   GPU is in a decode step).

Each wait has an atom at zero and an exponential tail (the usual heavy-traffic shape); the
prefill wait's tail becomes a two-phase hyperexponential when Takács' second moment says it
is burstier than exponential (long prompts among short ones). The TTFT quantile of
``W_slot + W_prefill + pf(L)`` is then found exactly for that shape by a grid search over
the mixture of the prefill-time distribution.

Why analytic and not a simulation inside :func:`size`: sizing evaluates hundreds of
(GPU, TP, replicas) candidates and must stay well under a second; the formulas cost
microseconds. :func:`simulate_replica` is the brute-force check: an event-driven
simulation of the same scheduler, used by the tests to bound the formulas' error.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WaitTail:
    """A waiting time: zero with probability ``1 - p_wait``, else drawn from ``W | W > 0``
    with mean ``conditional_mean_s`` and squared coefficient of variation
    ``conditional_scv``: exponential when that is <= 1, else a balanced-means two-phase
    hyperexponential (heavy prefill tails make waits burstier than exponential)."""

    p_wait: float
    conditional_mean_s: float
    conditional_scv: float = 1.0

    @property
    def mean_s(self) -> float:
        if self.p_wait == 0:
            return 0.0
        return self.p_wait * self.conditional_mean_s

    @property
    def stable(self) -> bool:
        return math.isfinite(self.conditional_mean_s)

    @property
    def empty(self) -> bool:
        return self.p_wait == 0 or self.conditional_mean_s == 0

    def phases(self) -> tuple[tuple[float, float], ...]:
        """(weight, mean) of the exponential phases of ``W | W > 0``."""
        m, c2 = self.conditional_mean_s, self.conditional_scv
        if c2 <= 1.0 + 1e-9:
            return ((1.0, m),)
        p1 = 0.5 * (1.0 + math.sqrt((c2 - 1.0) / (c2 + 1.0)))
        return ((p1, m / (2.0 * p1)), (1.0 - p1, m / (2.0 * (1.0 - p1))))

    def survival(self, x_s: FloatArray) -> FloatArray:
        """``P(W > x)`` for each x (1 where x < 0)."""
        x = np.asarray(x_s, dtype=np.float64)
        if self.empty:
            return np.where(x < 0, 1.0, 0.0)
        if not self.stable:
            return np.ones_like(x)
        xp = np.maximum(x, 0.0)
        tail = sum(w * np.exp(-xp / m) for w, m in self.phases())
        return np.where(x < 0, 1.0, self.p_wait * tail)


NO_WAIT = WaitTail(0.0, 0.0)
UNSTABLE = WaitTail(1.0, math.inf)


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C).

    Computed through the Erlang-B recursion ``B_k = a B_{k-1} / (k + a B_{k-1})``, which is
    stable for thousands of servers, then ``C = c B / (c - a (1 - B))``.
    """
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if offered_load <= 0:
        return 0.0
    if offered_load >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return servers * b / (servers - offered_load * (1.0 - b))


def mgc_wait(
    *,
    arrival_rate_per_s: float,
    mean_service_s: float,
    service_scv: float,
    servers: int,
    arrival_scv: float = 1.0,
    peakedness: float = 1.0,
) -> WaitTail:
    """Waiting time in a G/G/c queue by Allen-Cunneen (exact for M/M/c).

    ``scv`` is the squared coefficient of variation (variance / mean^2). The tail is taken
    exponential with the M/M/c shape: ``P(W > x) = C exp(-x C / Wq)``.
    """
    a = arrival_rate_per_s * mean_service_s
    if a <= 0:
        return NO_WAIT
    if a >= servers:
        return UNSTABLE
    # Hayward: traffic with peakedness z on c servers waits like Poisson traffic a/z on c/z.
    c_eff = max(1, round(servers / peakedness))
    a_eff = a * c_eff / servers
    c_wait = erlang_c(c_eff, a_eff)
    if c_wait <= 0:
        return NO_WAIT
    wq_mmc = c_wait / (c_eff / mean_service_s - a_eff / mean_service_s)
    wq = wq_mmc * (arrival_scv + service_scv) / 2.0
    if wq <= 0:
        return NO_WAIT
    return WaitTail(c_wait, wq / c_wait)


def prefill_wait(
    *,
    arrival_rate_per_s: float,
    prefill_mean_s: float,
    prefill_second_moment_s2: float,
    decode_busy_fraction: float,
    step_s: float,
    prefill_third_moment_s3: float | None = None,
) -> WaitTail:
    """Wait for the GPU to start a prefill: M/G/1, prefills before decode steps (see module).

    With the third moment of the prefill time, the wait's second moment follows Takács,
    ``E[W^2] = 2 E[W]^2 + (lambda E[pf^3] / 3 + f_dec step^2 / 3) / (1 - rho_p)``, and sets
    the shape of its tail.
    """
    lam, d = arrival_rate_per_s, step_s
    rho = lam * prefill_mean_s
    if rho >= 1:
        return UNSTABLE
    residual_s = lam * prefill_second_moment_s2 / 2.0 + decode_busy_fraction * d / 2.0
    mean_s = residual_s / (1.0 - rho)
    p_busy = min(1.0, rho + decode_busy_fraction)
    if mean_s <= 0 or p_busy <= 0:
        return NO_WAIT
    scv = 1.0
    if prefill_third_moment_s3 is not None:
        third = lam * prefill_third_moment_s3 / 3.0 + decode_busy_fraction * d * d / 3.0
        second_s2 = 2.0 * mean_s**2 + third / (1.0 - rho)
        m1, m2 = mean_s / p_busy, second_s2 / p_busy
        scv = max(m2 / m1**2 - 1.0, 0.0)
    return WaitTail(p_busy, mean_s / p_busy, scv)


def _pair_survival(m1: float, m2: float, x: FloatArray) -> FloatArray:
    """``P(E1 + E2 > x)`` for independent exponentials of means m1 and m2 (x >= 0)."""
    if abs(m1 - m2) <= 1e-9 * max(m1, m2):
        return np.asarray((1.0 + x / m1) * np.exp(-x / m1))
    return np.asarray((m1 * np.exp(-x / m1) - m2 * np.exp(-x / m2)) / (m1 - m2))


def _sum_survival(a: WaitTail, b: WaitTail, x: FloatArray) -> FloatArray:
    """``P(Wa + Wb > x)`` for two independent atom-plus-(hyper)exponential waits."""
    if a.empty:
        return b.survival(x)
    if b.empty:
        return a.survival(x)
    if not (a.stable and b.stable):
        return np.ones_like(x)
    xp = np.maximum(x, 0.0)
    p1, p2 = a.p_wait, b.p_wait
    s = (1 - p2) * a.survival(xp) + (1 - p1) * b.survival(xp)
    for w1, m1 in a.phases():
        for w2, m2 in b.phases():
            s = s + p1 * p2 * w1 * w2 * _pair_survival(m1, m2, xp)
    return np.where(x < 0, 1.0, s)


def quantile_of_sum(
    a: WaitTail,
    b: WaitTail,
    samples_s: FloatArray,
    weights: FloatArray,
    quantile: float,
) -> float:
    """The ``quantile`` (in (0, 1)) of ``Wa + Wb + S`` with S drawn from weighted samples."""
    s = np.asarray(samples_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    if not (a.stable and b.stable):
        return math.inf
    target = 1.0 - quantile

    def tail(t: float) -> float:
        return float(np.dot(w, _sum_survival(a, b, t - s)))

    lo = float(s.min())
    hi = float(s.max()) + 1e-9
    scale = a.conditional_mean_s + b.conditional_mean_s + 1e-6
    while tail(hi) > target:
        lo = hi
        hi += scale
        scale *= 2.0
    # Three rounds of a 64-point grid: the bracket shrinks 64-fold per round, in a few
    # vectorised evaluations instead of a long scalar bisection.
    for _ in range(3):
        grid = np.linspace(lo, hi, 65)
        tails = w @ _sum_survival(a, b, grid[None, :] - s[:, None])
        above = np.nonzero(tails > target)[0]
        i = int(above[-1]) if above.size else 0
        lo, hi = float(grid[i]), float(grid[min(i + 1, 64)])
    return hi


@dataclass(frozen=True, slots=True)
class ReplicaLoad:
    """What one replica serves: Poisson arrivals, prefill times and decode lengths.

    ``prefill_s`` and ``weights`` describe the distribution of a request's prefill time;
    ``decode_tokens_*`` the number of tokens generated after the first (output - 1).
    ``step_s`` is the decode step at the replica's full batch (a conservative constant).
    """

    arrival_rate_per_s: float
    max_batch: int
    step_s: float
    prefill_s: FloatArray
    weights: FloatArray
    decode_tokens_mean: float
    decode_tokens_var: float

    @property
    def prefill_mean_s(self) -> float:
        return float(np.dot(self.weights, self.prefill_s) / self.weights.sum())

    @property
    def prefill_second_moment_s2(self) -> float:
        return float(np.dot(self.weights, self.prefill_s**2) / self.weights.sum())

    @property
    def prefill_third_moment_s3(self) -> float:
        return float(np.dot(self.weights, self.prefill_s**3) / self.weights.sum())


def replica_capacity_rps(
    *, max_batch: int, step_s: float, prefill_mean_s: float, decode_tokens_mean: float
) -> float:
    """Requests per second one replica completes when its batch stays full.

    Over a long time T the GPU prefills ``X T`` requests (``X T E[pf]`` seconds) and runs
    ``(T - X T E[pf]) / step`` decode steps of ``B`` tokens, which must produce the
    ``X T E[O - 1]`` decode tokens: ``X = B / (E[O - 1] step + B E[pf])``.
    """
    denominator = decode_tokens_mean * step_s + max_batch * prefill_mean_s
    return math.inf if denominator <= 0 else max_batch / denominator


def effective_tpot_s(
    *, max_batch: int, step_s: float, prefill_mean_s: float, decode_tokens_mean: float
) -> float:
    """Time per output token at full batch, counting the prefills that interrupt decoding.

    At capacity each decode step is accompanied by ``B / E[O - 1]`` prefills' worth of GPU
    time, so ``TPOT = step + B E[pf] / E[O - 1]`` (the same arithmetic chunked prefill
    does when it piggybacks prompt chunks on decode steps).
    """
    if decode_tokens_mean <= 0:
        return step_s
    return step_s + max_batch * prefill_mean_s / decode_tokens_mean


@dataclass(frozen=True, slots=True)
class TtftEstimate:
    """TTFT of one replica at a load: the quantile asked for, and its parts."""

    quantile_s: float
    mean_s: float
    slot_wait: WaitTail
    prefill_wait: WaitTail
    prefill_utilisation: float
    slot_utilisation: float

    @property
    def stable(self) -> bool:
        return math.isfinite(self.quantile_s)

    @property
    def mean_queue_s(self) -> float:
        return self.slot_wait.mean_s + self.prefill_wait.mean_s


def ttft(load: ReplicaLoad, quantile: float) -> TtftEstimate:
    """TTFT at ``quantile`` (in (0, 1)) of a replica under ``load`` (see the module doc)."""
    lam = load.arrival_rate_per_s
    pf_mean = load.prefill_mean_s
    rho_p = lam * pf_mean
    if rho_p >= 1:
        return TtftEstimate(math.inf, math.inf, UNSTABLE, UNSTABLE, rho_p, math.inf)
    # Decode progresses only while the GPU is not prefilling.
    per_token_s = load.step_s / (1.0 - rho_p)
    decode_mean_s = load.decode_tokens_mean * per_token_s
    in_flight = lam * (pf_mean + decode_mean_s)
    decode_busy = (1.0 - rho_p) * (1.0 - math.exp(-in_flight)) if decode_mean_s > 0 else 0.0
    pf_wait = prefill_wait(
        arrival_rate_per_s=lam,
        prefill_mean_s=pf_mean,
        prefill_second_moment_s2=load.prefill_second_moment_s2,
        decode_busy_fraction=decode_busy,
        step_s=load.step_s,
        prefill_third_moment_s3=load.prefill_third_moment_s3,
    )
    hold_mean_s = pf_wait.mean_s + pf_mean + decode_mean_s
    pf_var = max(load.prefill_second_moment_s2 - pf_mean**2, 0.0)
    hold_var = load.decode_tokens_var * per_token_s**2 + pf_var
    # Prefill bursts stretch every running request's decode at once, so the number of
    # requests in flight varies more than Poisson: its peakedness (variance / mean) is
    # 1 + lambda Var(H_common) / E[H], with Var(H_common) the compound-Poisson variance of
    # the prefill work that lands during a decode.
    common_var = lam * decode_mean_s * load.prefill_second_moment_s2 / (1.0 - rho_p) ** 2
    peakedness = 1.0 + lam * common_var / hold_mean_s if hold_mean_s > 0 else 1.0
    slot_wait = mgc_wait(
        arrival_rate_per_s=lam,
        mean_service_s=hold_mean_s,
        service_scv=hold_var / hold_mean_s**2 if hold_mean_s > 0 else 0.0,
        servers=load.max_batch,
        peakedness=peakedness,
    )
    slot_utilisation = lam * hold_mean_s / load.max_batch
    q = quantile_of_sum(slot_wait, pf_wait, load.prefill_s, load.weights, quantile)
    mean = slot_wait.mean_s + pf_wait.mean_s + pf_mean if slot_wait.stable else math.inf
    return TtftEstimate(q, mean, slot_wait, pf_wait, rho_p, slot_utilisation)


# --- brute force -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimulatedReplica:
    """Per-request results of :func:`simulate_replica`."""

    ttft_s: FloatArray
    tpot_s: FloatArray  # NaN for one-token outputs
    busy_s: float


def simulate_replica(
    arrival_s: FloatArray,
    prefill_s: FloatArray,
    output_tokens: npt.NDArray[np.int64],
    *,
    step_s: float,
    max_batch: int,
) -> SimulatedReplica:
    """Event-driven simulation of one continuous-batching replica.

    The scheduler: whenever a request waits and a slot is free, the GPU prefills the oldest
    waiting request (its first token comes at the end of the prefill); otherwise it runs a
    decode step of ``step_s`` that gives every running request one token. Runs of decode
    steps between events are jumped over in one go, so the cost is O(n log n).
    """
    n = int(arrival_s.size)
    ttft_s = np.full(n, np.nan)
    tpot_s = np.full(n, np.nan)
    first_token_s = np.zeros(n)
    waiting: deque[int] = deque()
    running: list[tuple[int, int]] = []  # (decode step count at which it finishes, index)
    t = 0.0
    steps_done = 0
    busy_s = 0.0
    i = 0
    while i < n or waiting or running:
        while i < n and arrival_s[i] <= t:
            waiting.append(i)
            i += 1
        if waiting and len(running) < max_batch:
            j = waiting.popleft()
            t += float(prefill_s[j])
            busy_s += float(prefill_s[j])
            ttft_s[j] = t - arrival_s[j]
            first_token_s[j] = t
            remaining = int(output_tokens[j]) - 1
            if remaining > 0:
                heapq.heappush(running, (steps_done + remaining, j))
            continue
        if running:
            k = running[0][0] - steps_done
            if len(running) < max_batch and i < n:
                k = min(k, max(1, math.ceil((arrival_s[i] - t) / step_s)))
            t += k * step_s
            busy_s += k * step_s
            steps_done += k
            while running and running[0][0] <= steps_done:
                _, j = heapq.heappop(running)
                tpot_s[j] = (t - first_token_s[j]) / (int(output_tokens[j]) - 1)
            continue
        t = max(t, float(arrival_s[i]))
    return SimulatedReplica(ttft_s=ttft_s, tpot_s=tpot_s, busy_s=busy_s)


def simulate_mgc_wait(arrival_s: FloatArray, service_s: FloatArray, servers: int) -> FloatArray:
    """Waiting times of a FIFO queue with ``servers`` identical servers (brute force)."""
    free_at = [0.0] * servers
    heapq.heapify(free_at)
    waits = np.empty(arrival_s.size)
    for j in range(arrival_s.size):
        start = max(float(arrival_s[j]), heapq.heappop(free_at))
        waits[j] = start - float(arrival_s[j])
        heapq.heappush(free_at, start + float(service_s[j]))
    return waits
