"""Hardware probe: identify this machine's GPUs, measure them, compare with the datasheet
and seal a verification record (see ``suanli probe``).

PyTorch is optional (``pip install suanli[probe]``) and imported only when measuring; without
it the probe still detects and identifies the GPUs and says they were not measured.
"""

from suanli.probe.detect import DetectedGpu, detect
from suanli.probe.identify import Identification, identify, match_name
from suanli.probe.measure import Budget, Measurement
from suanli.probe.record import SCHEMA, check_record, content_sha256
from suanli.probe.verdict import Verdict, judge

__all__ = [
    "SCHEMA",
    "Budget",
    "DetectedGpu",
    "Identification",
    "Measurement",
    "Verdict",
    "check_record",
    "content_sha256",
    "detect",
    "identify",
    "judge",
    "match_name",
]
