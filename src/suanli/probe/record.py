"""The verification record: what a probe run found, in one JSON document with a hash.

Layout (schema ``suanli.verification/1``)::

    {"schema", "tool": {"name", "version"}, "created_at" (UTC ISO 8601), "mode",
     "duration_s", "machine": {...}, "gpus": [{"index", "reported": {...},
     "identification": {...}, "measurements": [...], "verdict": {...}}], "sha256"}

``sha256`` is the SHA-256 of the canonical JSON of every other field: keys sorted, no
spaces, UTF-8, no NaN. Anyone can recompute it (:func:`content_sha256`), so an edited
record no longer matches its hash; the exchange stores the hash it recomputed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from suanli.errors import DataFileError

SCHEMA = "suanli.verification/1"
REQUIRED = ("schema", "tool", "created_at", "machine", "gpus", "sha256")


def plain(value: Any) -> Any:
    """Dataclasses, tuples and floats to JSON values; floats rounded to 6 significant digits
    so the canonical form does not depend on the last bits of a timing."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if callable(getattr(value, "item", None)):
        return plain(value.item())
    return str(value)


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """Canonical JSON of the record without its ``sha256`` field."""
    body = {k: v for k, v in record.items() if k != "sha256"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_sha256(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def machine_info(torch: Any = None) -> dict[str, Any]:
    """Host facts worth keeping with the measurements (no secrets: no serials, no IPs)."""
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count() or 0,
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    if torch is not None:
        info["torch"] = str(torch.__version__)
        info["cuda"] = str(getattr(torch.version, "cuda", "") or "")
    return info


def build_record(
    *,
    machine: Mapping[str, Any],
    gpus: Sequence[Mapping[str, Any]],
    mode: str,
    tool_version: str,
    duration_s: float,
    created_at: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a record and seal it with its hash."""
    when = (created_at or datetime.now(UTC)).astimezone(UTC)
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "suanli probe", "version": tool_version},
        "created_at": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mode": mode,
        "duration_s": plain(float(duration_s)),
        "machine": plain(dict(machine)),
        "gpus": plain(list(gpus)),
    }
    if extra:
        record.update(plain(dict(extra)))
    record["sha256"] = content_sha256(record)
    return record


MIN_YEAR, MAX_YEAR = 2000, 2200
Text = Annotated[str, Field(max_length=1000)]


class _Part(BaseModel):
    """A typed part of a record: the fields the exchange reads have their JSON type (no
    ``true`` for a number, no text for an object); others are kept as they are."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class _Tool(_Part):
    name: Text
    version: Text


class _Machine(_Part):
    hostname: Text = ""
    os: Text = ""
    python: Text = ""
    cpu: Text = ""
    cpu_count: int = Field(0, ge=0, le=1_000_000)
    memory_gib: float = Field(0.0, ge=0, le=1e9)


class _Reported(_Part):
    name: Text


class _Identification(_Part):
    claimed: Text | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class _Verdict(_Part):
    status: Text


class _GpuEntry(_Part):
    index: int = Field(0, ge=0, le=1_000_000)
    reported: _Reported
    identification: _Identification | None = None
    measurements: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)
    verdict: _Verdict


class RecordShape(_Part):
    """The schema of a verification record (``suanli.verification/1``)."""

    schema_: Literal["suanli.verification/1"] = Field(alias="schema")
    tool: _Tool
    created_at: Text
    mode: Text = ""
    duration_s: float = Field(0.0, ge=0, le=1e9)
    machine: _Machine
    gpus: list[_GpuEntry] = Field(min_length=1, max_length=4096)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("created_at")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO 8601 time such as 2026-05-01T12:00:00Z") from None
        if when.tzinfo is None:
            raise ValueError("must say its time zone (end it with Z for UTC)")
        if not MIN_YEAR <= when.year <= MAX_YEAR:
            raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "record"


def check_record(record: Any) -> dict[str, Any]:
    """Validate shape and hash; returns the record, raises DataFileError naming the field."""
    if not isinstance(record, dict):
        raise DataFileError("a verification record must be a JSON object", item="record")
    for key in REQUIRED:
        if key not in record:
            raise DataFileError("missing field", item="record", field=key)
    if record["schema"] != SCHEMA:
        raise DataFileError(
            f"unknown schema {record['schema']!r}, expected {SCHEMA!r}", field="schema"
        )
    try:
        RecordShape.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DataFileError(
            str(first["msg"]),
            item="record",
            field=_where(tuple(first["loc"])),
            hint="Upload the record exactly as `suanli probe --json` wrote it.",
        ) from None
    if _has_nul(record):
        raise DataFileError("text may not contain NUL characters", item="record")
    try:
        expected = content_sha256(record)
    except (TypeError, ValueError) as exc:
        raise DataFileError(f"not canonical JSON: {exc}", field="sha256") from exc
    if record["sha256"] != expected:
        raise DataFileError(
            "sha256 does not match the record's content (was it edited?)",
            item="record",
            field="sha256",
            hint="Upload the record exactly as `suanli probe --json` wrote it.",
        )
    return record


def parse_created_at(record: Mapping[str, Any]) -> datetime:
    text = str(record.get("created_at", ""))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DataFileError(f"bad timestamp {text!r}", field="created_at") from exc
