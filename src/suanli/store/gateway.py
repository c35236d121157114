"""Replica endpoints, measured minutes and SLO settlement (repository functions).

Who may register a replica: the lease's seller (it runs the engine), its buyer (it operates
the lease itself) or an operator. Each lease's targets are those of the serve request its
order was placed for (directly or through a quote); leases without one have none and are
measured but never credited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.errors import Conflict, Forbidden, InvalidRequest, NotFound
from suanli.market.slo import (
    Targets,
    credit_bps,
    credit_fen,
    credit_transaction,
    rent_fen,
)
from suanli.store.gateway_tables import LeaseMinuteRow, ReplicaRow, SloCreditRow
from suanli.store.keys import Caller
from suanli.store.models import Lease, LedgerEntryRow, Order, Quote, RequestRow, utcnow

CREDIT_MEMO = "slo-credit"
MINUTE_FIELDS = (
    "calls",
    "failed",
    "streamed",
    "ok",
    "ttft_ok",
    "tpot_ok",
    "input_tokens",
    "output_tokens",
    "ttft_ms_sum",
    "tpot_ms_sum",
    "e2e_ms_sum",
)


@dataclass(frozen=True, slots=True)
class RoutableReplica:
    """A replica of an active lease, with what the gateway needs to route and judge."""

    id: int
    lease_id: int
    buyer: str
    seller: str
    model: str
    site: str
    url: str
    emulated: bool
    targets: Targets | None


def _lease(session: Session, lease_id: int) -> Lease:
    lease = session.get(Lease, lease_id)
    if lease is None:
        raise NotFound(f"no lease {lease_id}")
    return lease


def _may_operate(caller: Caller, lease: Lease) -> bool:
    return (
        caller.is_operator
        or (caller.role == "seller" and lease.seller == caller.tenant)
        or (caller.role == "buyer" and lease.buyer == caller.tenant)
    )


def check_url(url: str) -> str:
    """An endpoint's base URL (``http(s)://host[:port][/prefix]``, no trailing ``/v1``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            f"{url!r} is not an http(s) URL", field="url", hint="e.g. http://10.0.0.5:8000"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def register_replica(
    session: Session, caller: Caller, *, lease_id: int, model: str, url: str, emulated: bool
) -> ReplicaRow:
    lease = _lease(session, lease_id)
    if not _may_operate(caller, lease):
        raise Forbidden(
            f"lease {lease_id} is not yours",
            hint="the lease's seller or buyer (or an operator) registers its replicas",
        )
    if lease.status != "active":
        raise Conflict(f"lease {lease_id} is {lease.status}, not active")
    model = model.strip()
    if not model or len(model) > 200:
        raise InvalidRequest("model needs 1-200 characters", field="model")
    row = ReplicaRow(
        lease_id=lease_id,
        model=model,
        url=check_url(url),
        registered_by=caller.tenant,
        emulated=emulated,
        health="unknown",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{row.url} is already registered for lease {lease_id}") from None
    return row


def list_replicas(
    session: Session, caller: Caller, lease_id: int | None = None
) -> list[ReplicaRow]:
    query = select(ReplicaRow, Lease).join(Lease, Lease.id == ReplicaRow.lease_id)
    if lease_id is not None:
        query = query.where(ReplicaRow.lease_id == lease_id)
    out = []
    for row, lease in session.execute(query.order_by(ReplicaRow.id)).all():
        if _may_operate(caller, lease):
            out.append(row)
    return out


def remove_replica(session: Session, caller: Caller, replica_id: int) -> ReplicaRow:
    row = session.get(ReplicaRow, replica_id)
    if row is None:
        raise NotFound(f"no replica {replica_id}")
    if not _may_operate(caller, _lease(session, row.lease_id)):
        raise Forbidden(f"replica {replica_id} is not on a lease of yours")
    session.delete(row)
    return row


def set_health(session: Session, replica_id: int, health: str) -> None:
    session.execute(
        update(ReplicaRow)
        .where(ReplicaRow.id == replica_id)
        .values(health=health, checked_at=utcnow())
    )


def _targets_of(spec: Mapping[str, Any] | None) -> Targets | None:
    if not spec or spec.get("kind") != "serve":
        return None
    try:
        return Targets(
            ttft_ms=float(spec["ttft_ms"]),
            tpot_ms=float(spec["tpot_ms"]),
            percentile=float(spec.get("percentile", 95.0)),
        )
    except (KeyError, TypeError, ValueError, InvalidRequest):
        return None


def lease_targets(session: Session, lease_id: int) -> Targets | None:
    """The SLO of the serve request the lease's order was placed for (None if none)."""
    order_id = session.scalar(select(Lease.order_id).where(Lease.id == lease_id))
    if order_id is None:
        return None
    order = session.get(Order, order_id)
    if order is None:
        return None
    request_id = order.request_id
    if request_id is None and order.quote_id is not None:
        request_id = session.scalar(select(Quote.request_id).where(Quote.id == order.quote_id))
    if request_id is None:
        return None
    spec = session.scalar(select(RequestRow.spec).where(RequestRow.id == request_id))
    return _targets_of(spec)


def routable_replicas(session: Session) -> list[RoutableReplica]:
    """Every replica of every active lease (the gateway keeps those of its callers)."""
    rows = session.execute(
        select(ReplicaRow, Lease.buyer, Lease.seller, Lease.site)
        .join(Lease, Lease.id == ReplicaRow.lease_id)
        .where(Lease.status == "active")
        .order_by(ReplicaRow.id)
    ).all()
    targets: dict[int, Targets | None] = {}
    out = []
    for row, buyer, seller, site in rows:
        if row.lease_id not in targets:
            targets[row.lease_id] = lease_targets(session, row.lease_id)
        out.append(
            RoutableReplica(
                id=row.id,
                lease_id=row.lease_id,
                buyer=buyer,
                seller=seller,
                model=row.model,
                site=site,
                url=row.url,
                emulated=row.emulated,
                targets=targets[row.lease_id],
            )
        )
    return out


def add_minutes(session: Session, sums: Mapping[tuple[int, int, str, int], Any]) -> None:
    """Add a gateway's per-minute sums (objects with the :data:`MINUTE_FIELDS`, ``ttft_ms_max``
    and ``emulated``) to ``lease_minutes``: update the row, or insert it if there is none
    (a concurrent insert by another gateway turns into an update)."""
    for (lease_id, replica_id, region, minute), s in sorted(sums.items()):
        at = datetime.fromtimestamp(minute * 60, UTC)
        where = (
            (LeaseMinuteRow.lease_id == lease_id)
            & (LeaseMinuteRow.replica_id == replica_id)
            & (LeaseMinuteRow.region == region)
            & (LeaseMinuteRow.minute == at)
        )
        values: dict[str, Any] = {
            name: getattr(LeaseMinuteRow, name) + getattr(s, name) for name in MINUTE_FIELDS
        }
        for _attempt in range(2):
            done = session.execute(
                update(LeaseMinuteRow)
                .where(where)
                .values(
                    **values,
                    ttft_ms_max=_greatest(LeaseMinuteRow.ttft_ms_max, s.ttft_ms_max, session),
                    emulated=LeaseMinuteRow.emulated | bool(s.emulated),
                )
            )
            if getattr(done, "rowcount", 0):
                break
            try:
                with session.begin_nested():
                    session.add(
                        LeaseMinuteRow(
                            lease_id=lease_id,
                            replica_id=replica_id,
                            region=region,
                            minute=at,
                            ttft_ms_max=s.ttft_ms_max,
                            emulated=bool(s.emulated),
                            **{name: getattr(s, name) for name in MINUTE_FIELDS},
                        )
                    )
                break
            except IntegrityError:
                continue


def _greatest(column: Any, value: float, session: Session) -> Any:
    from sqlalchemy import func

    bind = session.get_bind()
    name = "max" if bind.dialect.name == "sqlite" else "greatest"
    return getattr(func, name)(column, value)


@dataclass(frozen=True, slots=True)
class HourOutcome:
    """One UTC hour of a lease's measured calls and what the credit rule makes of it."""

    hour: datetime
    calls: int
    failed: int
    ok: int
    ttft_ok: int
    tpot_ok: int
    streamed: int
    input_tokens: int
    output_tokens: int
    mean_ttft_ms: float | None
    mean_tpot_ms: float | None
    max_ttft_ms: float | None
    attainment: float | None
    target: float | None
    rent_fen: int
    credit_fen: int
    credit_bps: int
    settled: bool
    emulated: bool
    regions: dict[str, int]


def _hour_of(minute: datetime) -> datetime:
    return minute.replace(minute=0, second=0, microsecond=0)


def _active_seconds(lease: Lease, hour: datetime, now: datetime) -> float:
    if lease.status in ("pending", "cancelled") and lease.activated_at is None:
        return 0.0
    start = max(hour, lease.activated_at or lease.created_at)
    end = min(hour + timedelta(hours=1), lease.ended_at or now, now)
    return max(0.0, min(3600.0, (end - start).total_seconds()))


def lease_hours(
    session: Session, lease_id: int, *, now: datetime | None = None
) -> list[HourOutcome]:
    """Every hour with measured calls, oldest first; settled hours as recorded."""
    now = now or utcnow()
    lease = _lease(session, lease_id)
    targets = lease_targets(session, lease_id)
    minutes = session.scalars(
        select(LeaseMinuteRow)
        .where(LeaseMinuteRow.lease_id == lease_id)
        .order_by(LeaseMinuteRow.minute)
    ).all()
    settled = {
        row.hour: row
        for row in session.scalars(select(SloCreditRow).where(SloCreditRow.lease_id == lease_id))
    }
    by_hour: dict[datetime, list[LeaseMinuteRow]] = {}
    for m in minutes:
        by_hour.setdefault(_hour_of(m.minute), []).append(m)
    out = []
    for hour, rows in sorted(by_hour.items()):
        sums = {name: sum(getattr(r, name) for r in rows) for name in MINUTE_FIELDS}
        regions: dict[str, int] = {}
        for r in rows:
            regions[r.region] = regions.get(r.region, 0) + r.calls
        calls, streamed = int(sums["calls"]), int(sums["streamed"])
        done = settled.get(hour)
        rent = (
            done.rent_fen
            if done
            else rent_fen(
                lease.gpus, lease.price_cny_per_gpu_hour, _active_seconds(lease, hour, now)
            )
        )
        bps = credit_bps(calls, int(sums["ok"]), targets) if targets else 0
        out.append(
            HourOutcome(
                hour=hour,
                calls=calls,
                failed=int(sums["failed"]),
                ok=int(sums["ok"]),
                ttft_ok=int(sums["ttft_ok"]),
                tpot_ok=int(sums["tpot_ok"]),
                streamed=streamed,
                input_tokens=int(sums["input_tokens"]),
                output_tokens=int(sums["output_tokens"]),
                mean_ttft_ms=sums["ttft_ms_sum"] / streamed if streamed else None,
                mean_tpot_ms=sums["tpot_ms_sum"] / streamed if streamed else None,
                max_ttft_ms=max(r.ttft_ms_max for r in rows) if streamed else None,
                attainment=int(sums["ok"]) / calls if calls else None,
                target=targets.fraction if targets else None,
                rent_fen=rent,
                credit_fen=done.credit_fen
                if done
                else (credit_fen(rent, calls, int(sums["ok"]), targets) if targets else 0),
                credit_bps=bps,
                settled=done is not None,
                emulated=any(r.emulated for r in rows),
                regions=regions,
            )
        )
    return out


def settle(session: Session, *, now: datetime | None = None) -> list[SloCreditRow]:
    """Record every completed, not yet settled lease-hour that has calls and targets: its
    attainment, rent and credit, and post the credit in the exchange's double-entry ledger
    (``ledger_entries``, memo ``slo-credit``: the seller pays it back to the buyer).
    Idempotent (one row per lease and hour; a concurrent settler's row wins)."""
    now = now or utcnow()
    this_hour = _hour_of(now)
    lease_ids: Sequence[int] = session.scalars(
        select(LeaseMinuteRow.lease_id).where(LeaseMinuteRow.minute < this_hour).distinct()
    ).all()
    written = []
    for lease_id in sorted(lease_ids):
        if lease_targets(session, lease_id) is None:
            continue
        lease = _lease(session, lease_id)
        for h in lease_hours(session, lease_id, now=now):
            if h.settled or h.hour >= this_hour or h.target is None or h.attainment is None:
                continue
            hour_h = int(h.hour.timestamp() // 3600)
            entries: list[list[Any]] = []
            postings: list[LedgerEntryRow] = []
            if h.credit_fen > 0:
                tx = credit_transaction(
                    lease_id=lease_id,
                    hour_h=hour_h,
                    buyer=lease.buyer,
                    seller=lease.seller,
                    amount_fen=h.credit_fen,
                )
                entries = [[e.account, e.amount_fen] for e in tx.entries]
                postings = [
                    LedgerEntryRow(
                        txn=tx.id,
                        account=e.account,
                        amount_fen=e.amount_fen,
                        lease_id=lease_id,
                        memo=CREDIT_MEMO,
                        created_at=now,
                    )
                    for e in tx.entries
                ]
            row = SloCreditRow(
                lease_id=lease_id,
                hour=h.hour,
                calls=h.calls,
                ok=h.ok,
                attainment=h.attainment,
                target=h.target,
                rent_fen=h.rent_fen,
                credit_fen=h.credit_fen,
                output_tokens=h.output_tokens,
                entries=entries,
            )
            try:  # the settlement row and its ledger postings, or neither
                with session.begin_nested():
                    session.add(row)
                    session.add_all(postings)
                    session.flush()
            except IntegrityError:
                continue
            written.append(row)
    return written


def credits_balance(session: Session) -> dict[str, int]:
    """The SLO credits' postings in the ledger, summed per account (they sum to zero)."""
    out: dict[str, int] = {}
    rows = session.execute(
        select(LedgerEntryRow.account, LedgerEntryRow.amount_fen).where(
            LedgerEntryRow.memo == CREDIT_MEMO
        )
    )
    for account, amount in rows:
        out[account] = out.get(account, 0) + int(amount)
    return out


def serving_totals(session: Session, *, since: datetime) -> list[tuple[int, int, int, int, int]]:
    """(lease id, calls, ok, input tokens, output tokens) per lease over minutes at or after
    ``since``, for the metrics exposition."""
    from sqlalchemy import func

    rows = session.execute(
        select(
            LeaseMinuteRow.lease_id,
            func.sum(LeaseMinuteRow.calls),
            func.sum(LeaseMinuteRow.ok),
            func.sum(LeaseMinuteRow.input_tokens),
            func.sum(LeaseMinuteRow.output_tokens),
        )
        .where(LeaseMinuteRow.minute >= since)
        .group_by(LeaseMinuteRow.lease_id)
        .order_by(LeaseMinuteRow.lease_id)
    ).all()
    return [(int(a), int(b or 0), int(c or 0), int(d or 0), int(e or 0)) for a, b, c, d, e in rows]


def credit_totals(session: Session) -> list[tuple[int, int]]:
    """(lease id, credited fen) per lease over every settled hour."""
    from sqlalchemy import func

    rows = session.execute(
        select(SloCreditRow.lease_id, func.sum(SloCreditRow.credit_fen))
        .group_by(SloCreditRow.lease_id)
        .order_by(SloCreditRow.lease_id)
    ).all()
    return [(int(a), int(b or 0)) for a, b in rows]


def offer_measured(session: Session, offer_id: int) -> dict[str, Any] | None:
    """What the gateways measured on the leases of one offer (emulated replicas excluded:
    they say nothing about the seller's GPUs); None when nothing was measured."""
    from sqlalchemy import func

    row = session.execute(
        select(
            func.sum(LeaseMinuteRow.calls),
            func.sum(LeaseMinuteRow.ok),
            func.sum(LeaseMinuteRow.streamed),
            func.sum(LeaseMinuteRow.ttft_ms_sum),
            func.sum(LeaseMinuteRow.tpot_ms_sum),
            func.sum(LeaseMinuteRow.output_tokens),
            func.min(LeaseMinuteRow.minute),
            func.max(LeaseMinuteRow.minute),
        )
        .join(Lease, Lease.id == LeaseMinuteRow.lease_id)
        .where(Lease.offer_id == offer_id, LeaseMinuteRow.emulated.is_(False))
    ).one()
    calls = int(row[0] or 0)
    if calls == 0:
        return None
    streamed = int(row[2] or 0)
    return {
        "calls": calls,
        "attainment": int(row[1] or 0) / calls,
        "mean_ttft_ms": float(row[3]) / streamed if streamed else None,
        "mean_tpot_ms": float(row[4]) / streamed if streamed else None,
        "output_tokens": int(row[5] or 0),
        "since": row[6],
        "until": row[7],
    }
