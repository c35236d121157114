"""Hardware verification records uploaded by sellers (``suanli probe --upload``).

One row per record: the seller (the uploading key's tenant), the SHA-256 the exchange
recomputed over the record's canonical content (unique: the same record twice is one row),
when the probe ran, a summary per GPU model, and the whole record. A seller's offers of a
GPU model count as *verified* from the latest record in which every GPU of that model got
the verdict ``verified``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, ColumnElement, Index, Integer, Select, String, Table, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.errors import NotFound
from suanli.store.models import Base, UtcDateTime, utcnow


class Verification(Base):
    """A sealed probe record as uploaded."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_seller_created", "seller", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seller: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hostname: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[str] = mapped_column(String(16), default="full")
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    # {catalog GPU name: {"count", "verified", "statuses": {status: n}}}
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the probe ran
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ProbeChallenge(Base):
    """A nonce issued to a seller for its next probe record (:mod:`suanli.probe.challenge`):
    valid until ``expires_at``, for one record (``used_by`` is that record's hash)."""

    __tablename__ = "probe_challenges"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seller: Mapped[str] = mapped_column(String(200), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


def issue_challenge(session: Session, seller: str, *, nonce: str, ttl_s: float) -> (
    ProbeChallenge
):  # fmt: skip
    """Record ``nonce`` as issued to ``seller`` now, valid for ``ttl_s`` seconds."""
    from datetime import timedelta

    now = utcnow()
    row = ProbeChallenge(
        nonce=nonce, seller=seller, issued_at=now, expires_at=now + timedelta(seconds=ttl_s)
    )
    session.add(row)
    session.flush()
    return row


def redeem_challenge(
    session: Session,
    *,
    seller: str,
    record: dict[str, Any],
    created_at: datetime,
    expected_answer: Callable[[str], str],
) -> ProbeChallenge:
    """Check that ``record`` answers a fresh challenge issued to ``seller`` (its answer is
    ``expected_answer(nonce)``) and spend it; raises InvalidRequest (no or a wrong answer)
    or Conflict (expired, used, not yours)."""
    from suanli.errors import Conflict, InvalidRequest

    hint = "run `suanli probe --upload`: it fetches a fresh challenge before measuring"
    challenge = record.get("challenge")
    if not isinstance(challenge, dict) or not isinstance(challenge.get("nonce"), str):
        raise InvalidRequest(
            "the record answers no challenge of this exchange", field="challenge", hint=hint
        )
    nonce = challenge["nonce"]
    row = session.get(ProbeChallenge, nonce[:64], with_for_update=True)
    if row is None or row.seller != seller:
        raise Conflict("the record's challenge was not issued to you", hint=hint)
    if row.used_by is not None:
        raise Conflict("the record's challenge was already used by another record", hint=hint)
    now = utcnow()
    if now > row.expires_at:
        raise Conflict(
            f"the record's challenge expired at {row.expires_at:%H:%M:%S} UTC", hint=hint
        )
    if created_at < row.issued_at.replace(microsecond=0):
        raise Conflict("the record was made before its challenge was issued", hint=hint)
    if challenge.get("answer") != expected_answer(nonce):
        raise InvalidRequest(
            "the record's challenge answer is wrong (the seeded workload was not run)",
            field="challenge.answer",
            hint=hint,
        )
    row.used_by = str(record.get("sha256", ""))[:64]
    return row


def summarise(record: dict[str, Any]) -> dict[str, Any]:
    """Per claimed GPU model: how many GPUs, their verdicts, and whether all are verified."""
    summary: dict[str, Any] = {}
    for entry in record.get("gpus", []):
        name = (entry.get("identification") or {}).get("claimed") or entry["reported"].get(
            "name", "?"
        )
        status = entry["verdict"].get("status", "?")
        item = summary.setdefault(name, {"count": 0, "statuses": {}})
        item["count"] += 1
        item["statuses"][status] = item["statuses"].get(status, 0) + 1
    for item in summary.values():
        item["verified"] = set(item["statuses"]) == {"verified"}
    return summary


def add_verification(
    session: Session,
    *,
    seller: str,
    key_id: str,
    sha256: str,
    created_at: datetime,
    record: dict[str, Any],
) -> tuple[Verification, bool]:
    """Store a checked record; returns (row, created). A record already stored (same hash)
    returns the existing row and False, so a retried upload is harmless."""
    existing = session.scalars(select(Verification).where(Verification.sha256 == sha256)).first()
    if existing is not None:
        return existing, False
    row = Verification(
        seller=seller,
        key_id=key_id,
        sha256=sha256,
        hostname=str((record.get("machine") or {}).get("hostname", ""))[:200],
        mode=str(record.get("mode", ""))[:16],
        gpu_count=len(record.get("gpus", [])),
        summary=summarise(record),
        record=record,
        created_at=created_at,
        received_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def get_verification(session: Session, verification_id: int) -> Verification:
    row = session.get(Verification, verification_id)
    if row is None:
        raise NotFound(f"no verification {verification_id}")
    return row


def list_verifications(
    session: Session, *, seller: str | None = None, limit: int = 50, offset: int = 0
) -> list[Verification]:
    """Newest first, optionally one seller's."""
    query = select(Verification).order_by(Verification.created_at.desc(), Verification.id.desc())
    if seller:
        query = query.where(Verification.seller == seller)
    return list(session.scalars(query.limit(limit).offset(offset)))


def latest_verified(session: Session, seller: str, gpu: str) -> Verification | None:
    """The newest record of ``seller`` in which every ``gpu`` GPU was verified (or None)."""
    rows = session.scalars(
        select(Verification)
        .where(Verification.seller == seller)
        .order_by(Verification.created_at.desc(), Verification.id.desc())
        .limit(200)
    )
    for row in rows:
        item = row.summary.get(gpu)
        if item and item.get("verified"):
            return row
    return None


_VERIFICATIONS = cast(Table, Verification.__table__)


def _newest_first(where: ColumnElement[bool]) -> Select[Any]:
    table = _VERIFICATIONS
    return (
        select(table.c.seller, table.c.summary, table.c.created_at)
        .where(where)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
    )


_ONE_SELLER = _newest_first(_VERIFICATIONS.c.seller == bindparam("seller")).limit(200)


def verified_since(
    session: Session, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    """For each (seller, GPU model) that has one: when the probe ran for the newest record in
    which every GPU of that model was verified (as :func:`latest_verified`), for a whole
    page of offers in **one** query (the newest ``200`` records per seller are considered).
    """
    wanted = set(pairs)
    sellers = sorted({seller for seller, _ in wanted})
    if not sellers:
        return {}
    # Core statements on the connection (the ORM's per-statement overhead was most of the
    # cost of this small read, which also runs inside offer writes); the one-seller case
    # (a new offer, one offer, a seller's own list) is built once and reused.
    if len(sellers) == 1:
        rows = session.connection().execute(_ONE_SELLER, {"seller": sellers[0]})
    else:
        rows = session.connection().execute(
            _newest_first(_VERIFICATIONS.c.seller.in_(sellers)).limit(200 * len(sellers))
        )
    found: dict[tuple[str, str], datetime] = {}
    for seller, summary, created_at in rows:
        for gpu, item in (summary or {}).items():
            pair = (seller, gpu)
            if pair in wanted and pair not in found and item.get("verified"):
                found[pair] = created_at
    return found
