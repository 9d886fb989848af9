#!/usr/bin/env bash
# deid beside DuckDB on every layout (issue 22), as users run it: `deid publish` with the
# catalog on, the same with --no-catalog, and DuckDB with 2 threads doing the same job in SQL,
# one after the other in each round. Prints each round, then per file the medians and the
# median of the per-round ratio DuckDB/deid (above 1: deid is faster), with peak RSS.
#
# The inputs are made in Benchmarks/work (never in the repository):
#   meters-time   1,000 meters x 220 days, ordered by time (deid-sample --order time), 1.1 GB,
#                 Benchmarks/publish-policy.yaml beside duckdb_publish.py
#   meters-house  550 meters x 365 days, each meter's series in turn, 1.0 GB, the same policy
#   taxi          the NYC 2013 trip sample (../shared/datasets/nyc_taxi_2013) repeated 40 times,
#                 842 MB, Benchmarks/taxi-policy.yaml beside duckdb_taxi.py
#   adult         ARX's adult extract repeated 200 times as the records of its 30,162 people (a
#                 `person` column), 540 MB, Benchmarks/adult-k5-policy.yaml (k=5) beside
#                 duckdb_adult.py (the levels deid chose)
#
# Then `deid risk` on each file (its quasi-identifiers and entity, no discovery) beside one
# DuckDB GROUP BY with 2 threads (risk_peers.py duckdb).
#
#   Benchmarks/layouts.sh [ROUNDS] [FILE...]     # 5 rounds, every file
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/layouts-files.sh
arguments 5 "$@"

# run NAME COMMAND...: prints "seconds peak-KB" of one run.
run() {
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
  cat "$work/time.txt"
}

for file in $files; do
  data=$(input "$file")
  results=$work/layouts-$file.txt
  : > "$results"
  for round in $(seq 1 "$rounds"); do
    rm -rf "$work/l-cat" "$work/l-cat.sqlite"* "$work/l-nocat" "$work/l-duck.csv"
    cat=$(run "$deid" publish -p "$(policy "$file")" -o "$work/l-cat" --catalog-path "$work/l-cat.sqlite" "$data")
    nocat=$(run "$deid" publish -p "$(policy "$file")" -o "$work/l-nocat" --no-catalog "$data")
    duck=$(run python3 "$(peer "$file")" "$data" "$work/l-duck.csv" 2)
    read -r columns entity <<<"$(quasi "$file")"
    risk=$(run "$deid" risk "$data" -q "$columns" --entity "$entity" --no-discovery)
    duckrisk=$(run python3 Benchmarks/risk_peers.py duckdb "$data" , "$columns" "$entity" 2)
    echo "$cat $nocat $duck $risk $duckrisk" >> "$results"
    echo "$file round $round: deid $cat, deid --no-catalog $nocat, DuckDB $duck; deid risk $risk, DuckDB group-by $duckrisk (seconds, peak KB)"
  done
  python3 - "$file" "$results" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[2])]
med = lambda i: statistics.median(r[i] for r in rows)
print(f"{sys.argv[1]}: deid {med(0):.2f} s ({med(1) / 1024:.0f} MB), --no-catalog {med(2):.2f} s, "
      f"DuckDB {med(4):.2f} s ({med(5) / 1024:.0f} MB); DuckDB/deid per round {statistics.median(r[4] / r[0] for r in rows):.2f}, "
      f"catalog cost {statistics.median(r[0] / r[2] - 1 for r in rows) * 100:.0f}%; "
      f"deid risk {med(6):.2f} s ({med(7) / 1024:.0f} MB), DuckDB group-by {med(8):.2f} s ({med(9) / 1024:.0f} MB), "
      f"DuckDB/deid per round {statistics.median(r[8] / r[6] for r in rows):.2f}")
PY
done
rm -rf "$work/l-cat" "$work/l-cat.sqlite"* "$work/l-nocat" "$work/l-duck.csv"
