#!/usr/bin/env bash
# How far `deid link --sketch` is from the exact unique-link share (Docs/LINKAGE.md's table):
# pairs of generated 150,000-row people files (Benchmarks/link_data.py, three seed pairs), exact
# and sketched at K = 4,096, 16,384 and 65,536, both directions. Needs python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-150000}
mkdir -p Benchmarks/work
swift build -c release --product deid >/dev/null
DEID=.build/release/deid
share() {  # file pair, options -> "share_ab share_ba"
  $DEID link "$1" "$2" --columns sex,birth_year,zip,occupation --no-combinations --json "${@:3}" \
    | python3 -c 'import json,sys; print(" ".join("%.5f" % p["unique_link_share"] for p in json.load(sys.stdin)["pairs"]))'
}
printf "| seeds | exact share | K = 4,096 | K = 16,384 | K = 65,536 |\n|---|---|---|---|---|\n"
for seeds in "1 2" "3 4" "5 6"; do
  set -- $seeds
  A=Benchmarks/work/err_$1.csv B=Benchmarks/work/err_$2.csv
  [ -f "$A" ] || python3 Benchmarks/link_data.py "$ROWS" "$1" "$A"
  [ -f "$B" ] || python3 Benchmarks/link_data.py "$ROWS" "$2" "$B"
  read -r ea eb < <(share "$A" "$B")
  row="| $1, $2 | $ea / $eb"
  for k in 4096 16384 65536; do
    read -r sa sb < <(share "$A" "$B" --sketch --sketch-size "$k")
    row="$row | $sa / $sb ($(python3 -c "print('%.1f%%, %.1f%%' % (abs($sa-$ea)/$ea*100, abs($sb-$eb)/$eb*100))"))"
  done
  echo "$row |"
done
