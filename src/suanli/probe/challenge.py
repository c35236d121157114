"""The exchange's challenge to a probe run: a fresh nonce that seeds a workload the probe
must run and answer, so a record is tied to one challenge issued minutes before it.

The exchange issues a nonce to a seller (``POST /verifications/challenges``), valid for
:data:`TTL_S` seconds and for one record. ``suanli probe --upload`` fetches it before
measuring and seals ``{"nonce", "answer"}`` into the record, where ``answer`` is
:func:`workload_answer`: the SHA-256 of the exact (integer) product of two matrices drawn
from a generator seeded by the nonce. The exchange recomputes it. An old record (no nonce,
an expired or already used one, another seller's) or a record written by hand without
running the workload is refused.

What it does not prove: that the GPUs are what the record says. Anyone may run the
workload; the challenge makes each record fresh and single-use. The evidence that cannot be
written by the seller is the exchange's own measurement of served traffic (the offer badge
"measured by the exchange", :mod:`suanli.store.gateway`).
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np

TTL_S = 900
SIZE = 96


def new_nonce() -> str:
    return secrets.token_hex(16)


def seed_of(nonce: str) -> int:
    """The workload's seed: the nonce's first 64 bits."""
    return int(nonce[:16], 16)


def workload_answer(nonce: str) -> str:
    """SHA-256 over the nonce and ``A @ B`` (int64, exact on every machine), where A and B
    are ``SIZE x SIZE`` integers in [-1000, 1000) drawn from a generator seeded by it."""
    rng = np.random.default_rng(seed_of(nonce))
    a = rng.integers(-1000, 1000, size=(SIZE, SIZE), dtype=np.int64)
    b = rng.integers(-1000, 1000, size=(SIZE, SIZE), dtype=np.int64)
    product = np.ascontiguousarray(a @ b).astype("<i8")
    return hashlib.sha256(nonce.encode("ascii") + product.tobytes()).hexdigest()


def answer(nonce: str) -> dict[str, str]:
    """What a probe run seals into its record for ``nonce``."""
    return {"nonce": nonce, "answer": workload_answer(nonce)}
