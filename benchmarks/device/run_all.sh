#!/usr/bin/env bash
# One device call: the full probe (the committed fixture), the calibration of suanli.perf,
# then a --quick probe to show it ends within 60 s. Results go to $OUT.
#   bash benchmarks/device/run_all.sh           # on the GPU machine ($OUT set by the tool)
#   bash benchmarks/device/run_all.sh --smoke   # here, on the CPU, tiny shapes
set -u
OUT="${OUT:-/tmp/suanli-device-out}"
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
if [ "${1:-}" = "--smoke" ]; then
  "$PY" benchmarks/device/probe_smoke.py > "$OUT/smoke_probe.json" || exit 1
  "$PY" -m suanli probe --json > "$OUT/smoke_noprobe.json"; echo "probe without GPU: rc=$? (3 expected)"
  "$PY" benchmarks/device/calibrate.py --smoke --out "$OUT/smoke_measured.json" || exit 1
  echo "smoke ok: $(ls "$OUT")"
  exit 0
fi
{ nvidia-smi; nvidia-smi -q -d CLOCK,POWER,PERFORMANCE; } > "$OUT/nvidia_smi.txt" 2>&1
start=$(date +%s)
"$PY" -m suanli probe --json > "$OUT/h200_probe.json" 2> "$OUT/probe_full.log"
echo "full probe rc=$? in $(( $(date +%s) - start )) s"; tail -5 "$OUT/probe_full.log"
start=$(date +%s)
"$PY" benchmarks/device/calibrate.py --out "$OUT/measured_h200.json" --budget-s 240 2>&1 \
  | tee "$OUT/calibrate.log"
echo "calibrate done in $(( $(date +%s) - start )) s"
start=$(date +%s)
timeout 120 "$PY" -m suanli probe --quick --json > "$OUT/h200_probe_quick.json" 2> "$OUT/probe_quick.log"
echo "quick probe rc=$? in $(( $(date +%s) - start )) s"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
for name in ("h200_probe.json", "h200_probe_quick.json"):
    try:
        rec = json.load(open(f"{out}/{name}"))
    except Exception as exc:
        print(name, "unreadable:", exc); continue
    print(name, rec.get("mode"), rec.get("duration_s"), "s")
    for g in rec.get("gpus", []):
        print(" ", g["reported"]["name"], g["verdict"]["status"], g["verdict"]["reasons"])
        for m in g["measurements"]:
            print("   ", m["name"], m["value"], m["unit"], m["skipped"] or "")
PYEOF
