"""Per-call measurements, summed in memory per lease, replica, caller region and UTC minute.

The gateway adds one :class:`CallRecord` per call (a few additions under no lock: the event
loop is single-threaded) and hands the sums to the store every few seconds
(:func:`suanli.store.gateway.add_minutes`), so the database sees one row update per
(lease, replica, region, minute) and flush, never one per call or per token.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.market.slo import Targets, judge_call, tpot_ms

MinuteKey = tuple[int, int, str, int]  # lease id, replica id, region, UTC minute (epoch // 60)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the gateway saw it (times in ms, from the call's arrival)."""

    lease_id: int
    replica_id: int
    region: str
    at_s: float  # wall-clock arrival, seconds since the epoch
    streamed: bool
    failed: bool
    ttft_ms: float
    e2e_ms: float
    input_tokens: int
    output_tokens: int
    emulated: bool
    ttft_ok: bool
    tpot_ok: bool
    upstream_ttft_ms: float = 0.0  # the replica's own TTFT (its headers' arrival excluded)

    @property
    def ok(self) -> bool:
        return self.ttft_ok and self.tpot_ok

    @property
    def tpot_ms(self) -> float:
        return tpot_ms(self.ttft_ms, self.e2e_ms, self.output_tokens)


def judge(
    targets: Targets | None,
    *,
    streamed: bool,
    failed: bool,
    ttft_ms: float,
    e2e_ms: float,
    output_tokens: int,
) -> tuple[bool, bool]:
    """(ttft_ok, tpot_ok) against the lease's targets; without targets only failure counts."""
    if targets is None:
        return (not failed, not failed)
    v = judge_call(
        targets,
        streamed=streamed,
        failed=failed,
        ttft_ms=ttft_ms,
        e2e_ms=e2e_ms,
        output_tokens=output_tokens,
    )
    return v.ttft_ok, v.tpot_ok


@dataclass(slots=True)
class MinuteSums:
    """What a lease's calls added up to in one minute (one region, one replica)."""

    calls: int = 0
    failed: int = 0
    streamed: int = 0
    ok: int = 0
    ttft_ok: int = 0
    tpot_ok: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    ttft_ms_sum: float = 0.0
    tpot_ms_sum: float = 0.0
    e2e_ms_sum: float = 0.0
    ttft_ms_max: float = 0.0
    emulated: bool = False

    def add(self, r: CallRecord) -> None:
        self.calls += 1
        self.emulated = self.emulated or r.emulated
        self.ok += r.ok
        self.ttft_ok += r.ttft_ok
        self.tpot_ok += r.tpot_ok
        self.input_tokens += r.input_tokens
        self.output_tokens += r.output_tokens
        self.e2e_ms_sum += r.e2e_ms
        if r.failed:
            self.failed += 1
            return
        if r.streamed:
            self.streamed += 1
            self.ttft_ms_sum += r.ttft_ms
            self.tpot_ms_sum += r.tpot_ms
            self.ttft_ms_max = max(self.ttft_ms_max, r.ttft_ms)


class Aggregator:
    """Sums per (lease, replica, region, minute) since the last :meth:`drain`."""

    def __init__(self) -> None:
        self._sums: dict[MinuteKey, MinuteSums] = {}

    def add(self, record: CallRecord) -> None:
        key = (record.lease_id, record.replica_id, record.region, int(record.at_s // 60))
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[key] = MinuteSums()
        sums.add(record)

    def drain(self) -> dict[MinuteKey, MinuteSums]:
        """The sums so far; the aggregator starts again from zero."""
        out, self._sums = self._sums, {}
        return out

    def restore(self, sums: dict[MinuteKey, MinuteSums]) -> None:
        """Put back sums a failed flush could not write (added to anything newer)."""
        for key, s in sums.items():
            mine = self._sums.get(key)
            if mine is None:
                self._sums[key] = s
                continue
            for name in MinuteSums.__slots__:
                if name == "emulated":
                    mine.emulated = mine.emulated or s.emulated
                elif name == "ttft_ms_max":
                    mine.ttft_ms_max = max(mine.ttft_ms_max, s.ttft_ms_max)
                else:
                    setattr(mine, name, getattr(mine, name) + getattr(s, name))
