"""The project's own benchmarks and load tools, reached as ``suanli bench ...``.

Each benchmark module has a ``run...`` function returning one JSON-ready document that
compares against a baseline measured in the same run:

* :mod:`suanli.bench.api`: a real ``suanli serve`` on loopback, driven by
  :mod:`suanli.bench.loadgen` (or ``wrk`` with ``wrk_script.lua``), started and stopped by
  :mod:`suanli.bench.server`;
* :mod:`suanli.bench.market`: clearing a synthetic book;
* :mod:`suanli.bench.placement`: the fast placement solver against baselines and the MILP;
* :mod:`suanli.bench.sim`: a month of the national market;
* :mod:`suanli.bench.sizing`: sizing over every GPU type;
* :mod:`suanli.bench.gateway`: ``suanli gateway``'s overhead on the time to first token at
  200 streams, against calling the emulated replica directly; :mod:`suanli.bench.serving`
  starts the emulator, the gateway and a served lease on one machine (also for the tests).

Nothing in the service packages imports this package; it may import any of them.
"""

__all__: list[str] = []
