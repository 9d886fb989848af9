#!/usr/bin/env bash
# The trace uniqueness test's cost against the number of entities, in its costly case: coarse
# points (8 monthly totals per meter, compared to 100 kWh), where most points are shared by a
# large share of the meters. Generates one file per size in Benchmarks/work (seeded) and times
# `deid risk` on it with the test of 4 points (10 draws, curve to 8 points).
#
#   Benchmarks/trace.sh [METERS...]    (default: 2500 10000 40000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/Benchmarks/work
mkdir -p "$work"
for meters in ${*:-2500 10000 40000}; do
  file=$work/trace_$meters.csv
  [ -s "$file" ] || python3 - "$meters" "$file" <<'PY'
import random, sys
meters, path = int(sys.argv[1]), sys.argv[2]
generator = random.Random(1)
with open(path, "w") as out:
    out.write("meter,tariff,month,kwh\n")
    for meter in range(meters):
        base = generator.uniform(150, 500)
        for month in range(1, 9):
            out.write(f"M{meter:06d},Std,2013-{month:02d}-01,{max(0, base + generator.gauss(0, 60)):.0f}\n")
PY
  /usr/bin/time -f "$meters meters: %e s, %M KB peak" .build/release/deid risk "$file" --quasi-identifiers tariff \
    --entity meter --trace-time month --trace-value kwh --time-resolution month --value-resolution 100 --points 4 \
    | grep "trace uniqueness"
done
