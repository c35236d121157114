"""CPU smoke check of the probe's PyTorch path (run by ``run_all.sh --smoke``).

Runs every GPU measurement routine on the CPU device with tiny sizes, judges the figures as
if the machine were an H200 reporting itself, and prints the sealed record as JSON, so the
device run exercises no code path for the first time except CUDA itself.
"""

from __future__ import annotations

import json
import sys

from suanli import __version__
from suanli.catalog import gpus
from suanli.probe.detect import DetectedGpu
from suanli.probe.measure import Budget
from suanli.probe.record import build_record, check_record, machine_info
from suanli.probe.run import gpu_entry
from suanli.probe.torch_measure import gpu_suite
from suanli.probe.transformer import import_torch


def main() -> int:
    torch = import_torch()
    measurements = gpu_suite(torch, -1, Budget(60.0), quick=True, tiny=True)
    fake = DetectedGpu(index=0, name="NVIDIA H200", memory_mib=143771, source="smoke")
    record = build_record(
        machine=machine_info(torch),
        gpus=[gpu_entry(fake, measurements, gpus())],
        mode="smoke",
        tool_version=__version__,
        duration_s=0.0,
    )
    check_record(record)
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
