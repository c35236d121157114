"""Serving through Suanli: the buyer-facing gateway and the engine emulator (service layer).

- :mod:`suanli.gateway.emulator`: ``suanli emulate-engine``, an OpenAI-compatible server that
  paces tokens by the performance model (an emulator for tests and demos, never a lease's
  server), with fault injection.
- :mod:`suanli.gateway.routing`: which replica a call goes to (nearest healthy, least
  outstanding) and the health of each replica.
- :mod:`suanli.gateway.outcomes`: per-call measurements aggregated per lease per minute.
- :mod:`suanli.gateway.proxy`: forwarding one call, streamed or not, and measuring it.
- :mod:`suanli.gateway.app`: ``suanli gateway``, the OpenAI-compatible API for buyers.

Its benchmark and the harness that runs it all on one machine are in :mod:`suanli.bench`.
"""

__all__: list[str] = []
