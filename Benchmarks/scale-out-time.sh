#!/usr/bin/env bash
# Issue 23, time-ordered exports: one machine against the Spark integration in local[2] mode,
# for the bundled monthly-totals policy (Datasets/smart_meter_policy.yaml: per meter and month)
# on MONTHS generated files, each one month of every meter in time order (`deid-sample --order
# time`), so that every meter is in every file and the job must move records by meter (`deid
# split`, Docs/SCALE-OUT.md).
#
#   Benchmarks/scale-out-time.sh [HOUSEHOLDS] [MONTHS] [ROUNDS]   (defaults 2500, 8, 3: ~2.9 GB)
#
# Each round runs, in turn, `deid publish` and the Spark job with --layout entity, each
# recording the release in a catalog of its own (the default, as users run it); then one Spark
# run with --layout auto (which counts the files once before finding that they share meters).
# Prints the wall times, the one-machine peak memory, the Spark steps, and checks that the
# releases hold the same records on every column but the noised kwh. Needs pyspark and Java.
set -euo pipefail
cd "$(dirname "$0")/.."
households=${1:-2500}
months=${2:-8}
rounds=${3:-3}
work=$PWD/Benchmarks/work/scale-out-time
deid=$PWD/.build/release/deid
export DEID_KEY=scale-out-benchmark-key-0123456789abcdef0123
policy=$PWD/Datasets/smart_meter_policy.yaml
mkdir -p "$work"

files=()
for month in $(seq 1 "$months"); do
  file=$work/meters_${households}_month$month.csv
  [ -s "$file" ] || .build/release/deid-sample --households "$households" --days 28 --seed 1 --order time \
    --start "2013-$(printf %02d "$month")-01" -o "$file"
  files+=("$file")
done
echo "input: $months files, $(du -cb "${files[@]}" | tail -1 | cut -f1) bytes, $households meters in each"

spark() {
  local layout=$1
  rm -rf "$work/spark" "$work/spark-work" "$work"/spark.sqlite*
  local start
  start=$(date +%s.%N)
  python3 Integrations/spark/deid_spark.py --master "local[2]" --partitions 2 --deid "$deid" --layout "$layout" \
    --policy "$policy" --catalog-path "$work/spark.sqlite" --keep-work "$work/spark-work" \
    --out "$work/spark" "${files[@]}" > /dev/null
  echo "spark local[2] --layout $layout: $(echo "$(date +%s.%N) - $start" | bc) s; steps (s):" \
    "$(tr -d ' \n' < "$work/spark-work/shards.json" | sed 's/.*"seconds"://')"
}

for round in $(seq 1 "$rounds"); do
  echo "round $round"
  rm -rf "$work/one" "$work"/one.sqlite*
  /usr/bin/time -f "one machine: %e s, %M KB peak" "$deid" publish --policy "$policy" \
    --catalog-path "$work/one.sqlite" --out "$work/one" "${files[@]}" > /dev/null
  spark entity
done
spark auto

# The same records, less the noised column (kwh, the last): sorted, compared.
cmp <(tail -q -n +2 "$work"/one/*.csv | sed "s/,[^,]*$//" | LC_ALL=C sort) \
  <(tail -q -n +2 "$work"/spark/*.csv | sed "s/,[^,]*$//" | LC_ALL=C sort) \
  && echo "same records on every column but the noised kwh ($(tail -q -n +2 "$work"/one/*.csv | wc -l) rows)"
echo "split receipts: $(du -cb "$work"/spark-work/split/*/split.json | tail -1 | cut -f1) B;" \
  "merged statistics: $(stat -c %s "$work/spark-work/merged.stats.json") B; plan: $(stat -c %s "$work/spark-work/plan.json") B"
