#!/usr/bin/env bash
# Issue 23: one machine against the Spark integration in local[2] mode on the same machine, on
# a ~10 GB generated meter extract in PARTS files (household order; Docs/SCALE-OUT.md).
#
#   Benchmarks/scale-out.sh [HOUSEHOLDS_PER_PART] [PARTS]    (defaults 690 and 8: ~10.2 GB)
#
# Both runs use Benchmarks/k-anonymity-policy.yaml and record the release in a catalog of their
# own (the default, as users run it). Prints the wall times, the one-machine run's peak memory,
# the Spark job's steps, the sizes of the statistics and plan files, and checks that both wrote
# the same records on every column the policy does not noise. Needs pyspark (make test-deps)
# and Java.
set -euo pipefail
cd "$(dirname "$0")/.."
households=${1:-690}
parts=${2:-8}
work=$PWD/Benchmarks/work/scale-out
deid=$PWD/.build/release/deid
export DEID_KEY=scale-out-benchmark-key-0123456789abcdef0123
policy=$PWD/Benchmarks/k-anonymity-policy.yaml
mkdir -p "$work"

files=()
for part in $(seq 1 "$parts"); do
  file=$work/meters_part$part.csv
  [ -s "$file" ] || .build/release/deid-sample --households "$households" --days 365 --seed "$part" -o "$file"
  files+=("$file")
done
echo "input: $parts files, $(du -cb "${files[@]}" | tail -1 | cut -f1) bytes"

rm -rf "$work"/one "$work"/spark "$work"/spark-work "$work"/*.sqlite*
/usr/bin/time -f "one machine: %e s, %M KB peak" "$deid" publish --policy "$policy" \
  --catalog-path "$work/one.sqlite" --out "$work/one" "${files[@]}" > /dev/null

start=$(date +%s.%N)
python3 Integrations/spark/deid_spark.py --master "local[2]" --partitions 2 --deid "$deid" \
  --policy "$policy" --catalog-path "$work/spark.sqlite" --keep-work "$work/spark-work" \
  --out "$work/spark" "${files[@]}" > /dev/null
echo "spark local[2]: $(echo "$(date +%s.%N) - $start" | bc) s; steps (s): $(tr -d ' \n' < "$work/spark-work/shards.json" | sed 's/.*"seconds"://')"

echo "statistics files: $(du -b "$work"/spark-work/stats/* | awk '{printf "%s %d B; ", $2, $1}')"
echo "merged statistics: $(stat -c %s "$work/spark-work/merged.stats.json") B; plan: $(stat -c %s "$work/spark-work/plan.json") B"
# The one-machine statistics of one part, for the size of a 1.3 GB shard's file.
"$deid" stats --policy "$policy" --out "$work/stats-part1.json" "${files[0]}"
echo "statistics of one part (1.3 GB): $(stat -c %s "$work/stats-part1.json") B"

# The same records, less the noised column (kwh, the last): sorted, compared.
one=$(ls "$work"/one/*.csv)
cmp <(tail -q -n +2 "$one" | sed "s/,[^,]*$//" | LC_ALL=C sort -S 2G) \
  <(tail -q -n +2 "$work"/spark/*.csv | sed "s/,[^,]*$//" | LC_ALL=C sort -S 2G) \
  && echo "same records on every column but the noised kwh"
