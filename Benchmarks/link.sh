#!/usr/bin/env bash
# The linkage benchmark (issue 6): two generated 10-million-row files of people sharing four
# quasi-identifiers, linked by `deid link` exactly and with sketches, and by DuckDB (exact).
# Files go to Benchmarks/work/ (generated once, ~360 MB each). Needs python3 with numpy and duckdb.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
mkdir -p Benchmarks/work
A=Benchmarks/work/people_a.csv B=Benchmarks/work/people_b.csv
[ -f "$A" ] || python3 Benchmarks/link_data.py "$ROWS" 1 "$A"
[ -f "$B" ] || python3 Benchmarks/link_data.py "$ROWS" 2 "$B"
swift build -c release --product deid >/dev/null
DEID=.build/release/deid
cat "$A" "$B" > /dev/null   # page cache
for mode in "" "--sketch" "--sketch --no-combinations"; do
  echo "deid link ${mode:-(exact)}"
  /usr/bin/time -f "  %e s, peak RSS %M KB" $DEID link "$A" "$B" --columns sex,birth_year,zip,occupation $mode --json \
    | python3 Benchmarks/link_summary.py
done
echo "duckdb (2 threads, exact)"
/usr/bin/time -f "  %e s, peak RSS %M KB" python3 Benchmarks/link_peers.py "$A" "$B"
