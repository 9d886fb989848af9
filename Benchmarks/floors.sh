#!/usr/bin/env bash
# Where a publish's time goes on each layout of issue 22, as steps that each add one part of the
# work, so that the differences are what the parts cost (no build switches: every step is a
# policy or an option a user has):
#
#   parse        csvparse.c: libcsv alone, from C, on one core (the mandated parser's ceiling;
#                half of it is the floor on two cores)
#   identity     `deid publish --no-catalog` of a policy that copies every column and measures
#                nothing: reading, writing, the input's and the release's SHA-256 fingerprints
#   no-qi        the benchmark policy with its quasi-identifiers made insensitive (their
#                techniques kept): every technique, but no release risk counted
#   policy       the benchmark policy, `--no-catalog`: the release's risk counted too
#   catalog      the same with the catalog on, as users run it: the release's sketches recorded
#   duckdb       the DuckDB peer with 2 threads (the same table, no risk, no catalog, no
#                fingerprints)
#
# The inputs and policies are those of Benchmarks/layouts.sh (Benchmarks/layouts-files.sh makes
# the files when missing).
#
#   Benchmarks/floors.sh [ROUNDS] [FILE...]     # 3 rounds; meters-time meters-house taxi adult
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/layouts-files.sh
arguments 3 "$@"
cc -O2 -o "$work/csvparse" Benchmarks/csvparse.c -lcsv -lz

run() {
  /usr/bin/time -f "%e" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
  cat "$work/time.txt"
}

for file in $files; do
  data=$(input "$file")
  # A policy copying every column, measuring nothing (its risk section sets no gate).
  {
    echo "version: 1"
    echo "dataset: { name: identity }"
    echo "columns:"
    head -n 1 "$data" | tr -d '"\r' | tr ',' '\n' | while read -r column; do
      echo "  \"$column\": { role: insensitive }"
    done
    echo "risk: { threshold: 0.2 }"
  } > "$work/floor-identity.yaml"
  # The benchmark policy with its quasi-identifiers insensitive: no class is counted.
  sed -e 's/role: quasi_identifier/role: insensitive/' -e '/^privacy:/d' "$(policy "$file")" \
    | sed "s#\.\./\.\./shared#$PWD/../shared#g" > "$work/floor-noqi.yaml"
  results=$work/floors-$file.txt
  : > "$results"
  for round in $(seq 1 "$rounds"); do
    rm -rf "$work/f-out" "$work/f-cat.sqlite"*
    parse=$(run "$work/csvparse" "$data")
    identity=$(run "$deid" publish -p "$work/floor-identity.yaml" -o "$work/f-out" --no-catalog "$data")
    rm -rf "$work/f-out"
    noqi=$(run "$deid" publish -p "$work/floor-noqi.yaml" -o "$work/f-out" --no-catalog "$data")
    rm -rf "$work/f-out"
    nocat=$(run "$deid" publish -p "$(policy "$file")" -o "$work/f-out" --no-catalog "$data")
    rm -rf "$work/f-out"
    cat=$(run "$deid" publish -p "$(policy "$file")" -o "$work/f-out" --catalog-path "$work/f-cat.sqlite" "$data")
    duck=$(run python3 "$(peer "$file")" "$data" "$work/f-duck.csv" 2)
    echo "$parse $identity $noqi $nocat $cat $duck" >> "$results"
    echo "$file round $round: parse (1 core) $parse, identity $identity, no-qi $noqi, policy $nocat, catalog $cat, DuckDB $duck (seconds)"
  done
  python3 - "$file" "$results" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[2])]
med = [statistics.median(r[i] for r in rows) for i in range(6)]
print(f"{sys.argv[1]} medians: parse {med[0]:.2f} s on one core ({med[0] / 2:.2f} s on two), identity {med[1]:.2f}, "
      f"+techniques {med[2] - med[1]:+.2f}, +release risk {med[3] - med[2]:+.2f}, +catalog {med[4] - med[3]:+.2f} "
      f"= {med[4]:.2f} s; DuckDB {med[5]:.2f} s, 1.5x of it {med[5] / 1.5:.2f} s")
PY
done
rm -rf "$work/f-out" "$work/f-cat.sqlite"* "$work/f-duck.csv"
