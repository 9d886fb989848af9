#!/usr/bin/env bash
# Memory ceilings in width as well as length (issue 19): peak RSS (GNU time) of deid profile,
# risk (the quasi-identifiers given), link (a file against itself) and publish (a policy naming
# every column; the catalog on, as users run it) on files of 1,000, 10,000 and 100,000 columns,
# and on a file holding one 50 MB field. Every one must stay under CEILING_MB (300): the script
# prints a Markdown table for Benchmarks/RESULTS.md and exits 1 when a command passes the
# ceiling or fails. Memory grows with the width by about 1.5 KB a column (the policy, the plan,
# a profile's counters), and with a long field by a few copies of it per input (the link's
# sample of each input holds its first records until the pass); from run to run the allocator
# moves it by about 10 MB.
#
#   Benchmarks/memory.sh                          # make bench-memory
#   DEID=/path/to/other/deid Benchmarks/memory.sh # another build (before and after a change)
set -euo pipefail
cd "$(dirname "$0")/.."
CEILING_MB=${CEILING_MB:-300}
WORK=Benchmarks/work/memory
mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || { echo "memory.sh needs GNU time: apt-get install time" >&2; exit 1; }
if [ -z "${DEID:-}" ]; then
  swift build -c release --product deid >/dev/null
  DEID="$PWD/.build/release/deid"
fi
export DEID_KEY=memory-benchmark-key-0123456789abcdef

# wide N ROWS: N columns (c0 an id, c1..c3 small categories, the rest numbers), ROWS rows, and
# a policy that names every column (c0 pseudonymized, c1..c3 quasi-identifiers).
wide() {
  local columns=$1 rows=$2 file="$WORK/wide-$1.csv" policy="$WORK/wide-$1.yaml"
  [ -s "$file" ] && [ -s "$policy" ] && return
  python3 - "$columns" "$rows" "$file" "$policy" <<'PY'
import sys
columns, rows, path, policy = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, "w") as out:
    out.write(",".join(f"c{i}" for i in range(columns)) + "\n")
    for row in range(rows):
        cells = [f"id{row}", f"g{row % 5}", f"h{row % 7}", f"{row % 3}"]
        cells += [str((row * 31 + column) % 997) for column in range(4, columns)]
        out.write(",".join(cells) + "\n")
with open(policy, "w") as out:
    out.write("version: 1\ndataset: { name: wide }\ncolumns:\n")
    out.write('  c0: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }\n')
    for column in (1, 2, 3):
        out.write(f"  c{column}: {{ role: quasi_identifier }}\n")
    for column in range(4, columns):
        out.write(f"  c{column}: {{ role: insensitive }}\n")
PY
}

# field: one record whose note is a 50 MB field (with quotes, commas and line breaks in it).
field() {
  local file="$WORK/field-50mb.csv" policy="$WORK/field-50mb.yaml"
  [ -s "$file" ] && [ -s "$policy" ] && return
  python3 - "$file" "$policy" <<'PY'
import sys
path, policy = sys.argv[1], sys.argv[2]
piece = 'a "quoted" word, and a\nline break; '
note = (piece * (50_000_000 // len(piece) + 1))[:50_000_000]
with open(path, "w") as out:
    out.write("id,note,kwh\n")
    out.write('m1,"' + note.replace('"', '""') + '",0.5\n')
    for row in range(2, 1000):
        out.write(f"m{row},short note,{row % 10}.5\n")
with open(policy, "w") as out:
    out.write('version: 1\ndataset: { name: field }\ncolumns:\n'
              '  id: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }\n'
              '  note: { role: insensitive }\n  kwh: { role: quasi_identifier }\n')
PY
}

wide 1000 2000
wide 10000 200
wide 100000 20
field

failed=0
echo "| input | command | peak RSS (MB) | seconds | exit |"
echo "|---|---|---:|---:|---:|"
# run LABEL COMMAND...: one run in a scratch directory, its peak RSS against the ceiling.
run() {
  local label=$1; shift
  local scratch
  scratch=$(mktemp -d "$WORK/run-XXXXXX")
  set +e
  (cd "$scratch" && /usr/bin/time -f "%M %e" -o time.txt "$@" >/dev/null 2>stderr.txt)
  local code=$?
  set -e
  # GNU time puts "Command exited with non-zero status N" before its line when the command fails.
  read -r kb seconds < <(tail -n 1 "$scratch/time.txt") || { kb=0; seconds=0; }
  local mb=$(( kb / 1024 ))
  echo "| $label | ${*:2:1} | $mb | $seconds | $code |"
  if [ "$code" -gt 1 ] || [ "$mb" -ge "$CEILING_MB" ]; then
    failed=1
    echo "memory.sh: $label $2: exit $code, $mb MB (ceiling $CEILING_MB MB): $(head -c 300 "$scratch/stderr.txt")" >&2
  fi
  rm -rf "$scratch"
}

for columns in 1000 10000 100000; do
  file="$PWD/$WORK/wide-$columns.csv" policy="$PWD/$WORK/wide-$columns.yaml"
  label="$columns columns"
  run "$label" "$DEID" profile "$file"
  run "$label" "$DEID" risk "$file" -q c1,c2,c3
  run "$label" "$DEID" link "$file" "$file"
  run "$label" "$DEID" publish -p "$policy" -o release --catalog-path catalog.sqlite "$file"
done
file="$PWD/$WORK/field-50mb.csv" policy="$PWD/$WORK/field-50mb.yaml"
run "one 50 MB field" "$DEID" profile --max-field-size 64 "$file"
run "one 50 MB field" "$DEID" risk --max-field-size 64 "$file" -q kwh
run "one 50 MB field" "$DEID" link --max-field-size 64 "$file" "$file"
run "one 50 MB field" "$DEID" publish --max-field-size 64 -p "$policy" -o release --catalog-path catalog.sqlite "$file"
exit $failed
