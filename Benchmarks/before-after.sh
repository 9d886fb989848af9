#!/usr/bin/env bash
# Before and after, same rounds: two builds of deid run back to back, alternating which goes
# first, on the 1 GB generated meter file (Benchmarks/work/meters_550x365.csv): a plain
# publish as users run it (catalog on), a k=5 publish, and `deid risk`. Prints each round's
# seconds and, per workload, the median of each build and the median of the per-round ratio
# after/before (above 1: after is slower).
#
#   Benchmarks/before-after.sh BEFORE_DEID [AFTER_DEID] [ROUNDS]   # AFTER: .build/release/deid, 5 rounds
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: Benchmarks/before-after.sh BEFORE_DEID [AFTER_DEID] [ROUNDS]}
after=${2:-$PWD/.build/release/deid}
rounds=${3:-5}
meters=$PWD/Benchmarks/work/meters_550x365.csv
[ -s "$meters" ] || { echo "before-after: make $meters first: deid-sample --households 550 --days 365 --seed 1 -o $meters" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/before-after-XXXXXX")
trap 'rm -rf "$work"' EXIT
export DEID_KEY=before-after-key-0123456789abcdef0123456789

# seconds BUILD WORKLOAD: one run's wall time.
seconds() {
  local build=$1 workload=$2 out=$work/out-$RANDOM
  local start end
  start=$(date +%s.%N)
  case $workload in
    publish) "$build" publish -p Benchmarks/publish-policy.yaml -o "$out" --catalog-path "$out.sqlite" "$meters" >/dev/null ;;
    k5) "$build" publish -p Benchmarks/k-anonymity-policy.yaml -o "$out" --no-catalog "$meters" >/dev/null ;;
    risk) "$build" risk "$meters" -q postcode,dwelling_type,occupants,tariff --entity meter_id --no-discovery >/dev/null ;;
  esac
  end=$(date +%s.%N)
  rm -rf "$out" "$out.sqlite"*
  echo "$end - $start" | bc
}

for workload in publish k5 risk; do
  : > "$work/$workload.txt"
  for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then b=$(seconds "$before" $workload); a=$(seconds "$after" $workload)
    else a=$(seconds "$after" $workload); b=$(seconds "$before" $workload); fi
    echo "$b $a" >> "$work/$workload.txt"
    echo "$workload round $round: before $b s, after $a s"
  done
  python3 - "$workload" "$work/$workload.txt" <<'PY'
import statistics, sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[2])]
b = statistics.median(r[0] for r in rows); a = statistics.median(r[1] for r in rows)
ratio = statistics.median(r[1] / r[0] for r in rows)
print(f"{sys.argv[1]}: before median {b:.2f} s, after median {a:.2f} s, after/before per round median {ratio:.3f}")
PY
done
