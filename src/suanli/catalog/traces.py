"""Real LLM request traces shipped as package data (Azure LLM inference trace 2023,
CC-BY-4.0; Patel et al., "Splitwise", ISCA 2024; see ``data/traces/ATTRIBUTION.md``).

A trace is three aligned arrays: arrival time in seconds from the first request, prompt
tokens and output tokens.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from suanli.catalog._data import data_text
from suanli.errors import DataFileError, NotFound

BUILTIN_TRACES = {
    "azure-conv": "traces/azure_llm_2023_conv.csv",
    "azure-code": "traces/azure_llm_2023_code.csv",
}


@dataclass(frozen=True, slots=True, eq=False)
class Trace:
    """Requests in arrival order."""

    name: str
    arrival_s: npt.NDArray[np.float64]
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]

    @property
    def size(self) -> int:
        return int(self.arrival_s.size)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if self.size > 1 else 0.0

    @property
    def rate_per_s(self) -> float:
        """Mean arrival rate over the trace."""
        return self.size / self.duration_s if self.duration_s > 0 else float("nan")


def parse_trace(text: str, *, name: str = "trace") -> Trace:
    """Parse a trace CSV.

    Accepts the Azure columns ``TIMESTAMP,ContextTokens,GeneratedTokens`` or the plain
    ``arrival_s,prompt_tokens,output_tokens`` (arrival in seconds).
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise DataFileError("the file is empty", path=name)
    cols = [h.strip() for h in header]
    azure = cols[:3] == ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
    plain = cols[:3] == ["arrival_s", "prompt_tokens", "output_tokens"]
    if not (azure or plain):
        raise DataFileError(
            f"unexpected columns {cols[:3]}",
            path=name,
            hint="Use arrival_s,prompt_tokens,output_tokens (or the Azure trace columns).",
        )
    times: list[float] = []
    prompts: list[int] = []
    outputs: list[int] = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            if azure:
                stamp = row[0].strip()
                # Seven fractional digits: trim to microseconds for fromisoformat.
                if "." in stamp:
                    head, frac = stamp.split(".", 1)
                    stamp = f"{head}.{frac[:6]}"
                times.append(datetime.fromisoformat(stamp).timestamp())
            else:
                times.append(float(row[0]))
            prompts.append(int(row[1]))
            outputs.append(int(row[2]))
        except (ValueError, IndexError):
            raise DataFileError(
                "expected a time and two token counts", path=name, item=f"line {line_no}"
            ) from None
        if prompts[-1] < 0 or outputs[-1] < 0:
            raise DataFileError("token counts must be >= 0", path=name, item=f"line {line_no}")
    if not times:
        raise DataFileError("the trace has no requests", path=name)
    arrival = np.asarray(times, dtype=np.float64)
    order = np.argsort(arrival, kind="stable")
    arrival = arrival[order] - arrival[order][0]
    return Trace(
        name=name,
        arrival_s=arrival,
        prompt_tokens=np.asarray(prompts, dtype=np.int64)[order],
        output_tokens=np.asarray(outputs, dtype=np.int64)[order],
    )


@cache
def builtin_trace(name: str) -> Trace:
    """A built-in trace: ``azure-conv`` (conversation) or ``azure-code`` (coding)."""
    if name not in BUILTIN_TRACES:
        raise NotFound(f"unknown trace {name!r}", suggestions=sorted(BUILTIN_TRACES))
    return parse_trace(data_text(BUILTIN_TRACES[name]), name=name)


def load_trace(path_or_name: str | Path) -> Trace:
    """A built-in trace by name, or a trace CSV file by path."""
    if isinstance(path_or_name, str) and path_or_name in BUILTIN_TRACES:
        return builtin_trace(path_or_name)
    path = Path(path_or_name)
    if not path.is_file():
        raise NotFound(
            f"no trace file or built-in trace named {str(path_or_name)!r}",
            suggestions=sorted(BUILTIN_TRACES),
        )
    return parse_trace(path.read_text(encoding="utf-8"), name=str(path))
