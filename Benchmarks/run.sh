#!/usr/bin/env bash
# Speed and memory of the streaming core on a generated smart-meter file of about 1 GB and its
# gzip, beside the ceilings: `cat` (page-cache read), `zcat`, and a C program that only parses
# with libcsv (Benchmarks/csvparse.c). Each measurement is the median of RUNS runs (default 3);
# MB/s is of the input file's bytes; RSS is the peak resident set (GNU time).
#
#   Benchmarks/run.sh                  # households=550 days=365: about 1.0 GB, 9.6 M rows
#   HOUSEHOLDS=60 RUNS=1 Benchmarks/run.sh   # a quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-550}
DAYS=${DAYS:-365}
RUNS=${RUNS:-3}
WORK=Benchmarks/work
mkdir -p "$WORK"

command -v /usr/bin/time >/dev/null || { echo "run.sh needs GNU time: apt-get install time" >&2; exit 1; }
swift build -c release --product deid >/dev/null
swift build -c release --product deid-sample >/dev/null
swift build -c release --product deid-bench >/dev/null
BIN=.build/release
cc -O2 -o "$WORK/csvparse" Benchmarks/csvparse.c -lcsv -lz

DATA="$WORK/meters_${HOUSEHOLDS}x${DAYS}.csv"
if [ ! -s "$DATA" ]; then
  echo "generating $DATA" >&2
  "$BIN/deid-sample" --households "$HOUSEHOLDS" --days "$DAYS" --seed 1 -o "$DATA"
fi
if [ ! -s "$DATA.gz" ]; then
  echo "compressing $DATA.gz" >&2
  gzip -6 -c "$DATA" > "$DATA.gz.tmp" && mv "$DATA.gz.tmp" "$DATA.gz"
fi
BYTES=$(stat -c %s "$DATA")
ROWS=$(( HOUSEHOLDS * DAYS * 48 ))
cat "$DATA" "$DATA.gz" > /dev/null  # warm the page cache

# measure NAME COMMAND...: prints "NAME | seconds | MB/s | peak RSS MB" (medians over RUNS)
measure() {
  local name=$1; shift
  local times=() rss=()
  for _ in $(seq "$RUNS"); do
    local out
    out=$( { /usr/bin/time -f "%e %M" "$@" > /dev/null; } 2>&1 | tail -n 1)
    times+=("${out% *}")
    rss+=("${out#* }")
  done
  local t r
  t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  r=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  awk -v n="$name" -v t="$t" -v r="$r" -v b="$BYTES" \
    'BEGIN { printf "| %s | %.2f | %.0f | %.0f |\n", n, t, (t > 0 ? b / 1e6 / t : 0), r / 1024 }'
}

echo "Input: $DATA, $BYTES bytes, $ROWS records; gzip: $(stat -c %s "$DATA.gz") bytes. Runs: $RUNS (median)."
echo
echo "| what | seconds | MB/s (of the CSV) | peak RSS MB |"
echo "|---|---|---|---|"
measure "cat (page-cache read)" cat "$DATA"
measure "zcat of the .gz" zcat "$DATA.gz"
measure "C: libcsv parse only" "$WORK/csvparse" "$DATA"
measure "C: libcsv parse only, .gz" "$WORK/csvparse" "$DATA.gz"
measure "deid-bench parse (Swift, read only)" "$BIN/deid-bench" parse "$DATA"
measure "deid-bench parse, .gz" "$BIN/deid-bench" parse "$DATA.gz"
measure "deid-bench passthrough to /dev/null" "$BIN/deid-bench" passthrough "$DATA" /dev/null
measure "deid convert to a file" "$BIN/deid" convert "$DATA" -o "$WORK/copy.csv"
measure "deid convert .gz to a file" "$BIN/deid" convert "$DATA.gz" -o "$WORK/copy.csv"
measure "deid profile" "$BIN/deid" profile "$DATA"
measure "deid profile, .gz" "$BIN/deid" profile "$DATA.gz"
rm -f "$WORK/copy.csv"

# The publish workload (issue 3): drop + keyed pseudonym + postcode prefix + time truncation +
# Laplace noise (Benchmarks/publish-policy.yaml), beside DuckDB doing the same in SQL with 2
# threads and Python's csv module (pip install duckdb).
export DEID_KEY=benchmark-key-0123456789abcdef0123456789
echo
echo "Publish workload (Benchmarks/publish-policy.yaml):"
echo
echo "| what | seconds | MB/s (of the CSV) | peak RSS MB |"
echo "|---|---|---|---|"
measure "deid apply to /dev/null (2 cores)" "$BIN/deid" apply -p Benchmarks/publish-policy.yaml --seed 1 "$DATA" /dev/null
measure "deid apply, .gz input" "$BIN/deid" apply -p Benchmarks/publish-policy.yaml --seed 1 "$DATA.gz" /dev/null
rm -rf "$WORK/release"
measure "deid publish (data + manifest + fingerprints)" bash -c "rm -rf '$WORK/release' && '$BIN/deid' publish -p Benchmarks/publish-policy.yaml --seed 1 -o '$WORK/release' '$DATA'"
rm -rf "$WORK/release"
if python3 -c "import duckdb" 2>/dev/null; then
  measure "DuckDB $(python3 -c 'import duckdb; print(duckdb.__version__)'), 2 threads" python3 Benchmarks/duckdb_publish.py "$DATA" "$WORK/duck.csv" 2
  rm -f "$WORK/duck.csv"
else
  echo "| DuckDB | not installed (pip install duckdb) | | |"
fi
SMALL="$WORK/meters_python_sample.csv"
head -c 100000000 "$DATA" | head -n -1 > "$SMALL"
SMALL_BYTES=$(stat -c %s "$SMALL")
BYTES_SAVED=$BYTES; BYTES=$SMALL_BYTES
measure "Python csv module (first 100 MB only)" python3 Benchmarks/python_publish.py "$SMALL" "$WORK/py.csv"
BYTES=$BYTES_SAVED
rm -f "$WORK/py.csv" "$SMALL"


# k-anonymity (issue 4): the publish workload with k=5 counted in meters over four
# quasi-identifiers, three of them searched (Benchmarks/k-anonymity-policy.yaml), beside DuckDB
# given the levels deid chose (group by, join back, filter, write).
echo
echo "k-anonymity workload (Benchmarks/k-anonymity-policy.yaml):"
echo
echo "| what | seconds | MB/s (of the CSV) | peak RSS MB |"
echo "|---|---|---|---|"
measure "deid publish with privacy (two passes, search)" bash -c "rm -rf '$WORK/release' && '$BIN/deid' publish -p Benchmarks/k-anonymity-policy.yaml --seed 1 -o '$WORK/release' '$DATA'"
rm -rf "$WORK/release"
if python3 -c "import duckdb" 2>/dev/null; then
  measure "DuckDB, 2 threads, levels given" python3 Benchmarks/duckdb_k_anonymity.py "$DATA" "$WORK/duck.csv" 2
  rm -f "$WORK/duck.csv"
fi
