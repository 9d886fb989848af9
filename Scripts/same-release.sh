#!/usr/bin/env bash
# Same bytes before and after a change that must not change behaviour (issue 20's refactor):
# publishes each case with two builds of deid, seeded and with the same key, and compares the
# release data byte for byte, and manifest.json, report.json and the catalog entry as JSON
# with what must differ set aside (the release id, the time it was made, the search's
# milliseconds, the run's own directory). Prints one line per case; exits 1 on any difference.
#
#   Scripts/same-release.sh BEFORE_DEID [AFTER_DEID]     # AFTER_DEID: .build/release/deid
#   QUICK=1 Scripts/same-release.sh ...                  # without the 1 GB meter file
#
# Pseudonyms per release are made per key instead (their key derives from the release id).
# Cases: the 1 GB generated meter file (Benchmarks/work/meters_550x365.csv, made with
# deid-sample when missing) plain, from gzip, and k=5; the time-ordered meters and the 842 MB
# taxi file when Benchmarks/layouts.sh has made them; the bundled sample with its aggregating
# and its k-anonymity policy; the NYC taxi sample; adult and cup with ARX's hierarchies (k=5,
# 4% suppression).
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: Scripts/same-release.sh BEFORE_DEID [AFTER_DEID]}
after=${2:-$PWD/.build/release/deid}
shared=${SHARED:-$PWD/../shared/datasets}
work=$(mktemp -d "${TMPDIR:-/tmp}/same-release-XXXXXX")
trap 'rm -rf "$work"' EXIT
export DEID_KEY=same-release-key-0123456789abcdef0123456789

cat > "$work/taxi.yaml" <<'YAML'
version: 1
dataset: { name: taxi }
columns:
  medallion:          { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
  hack_license:       { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
  vendor_id:          { role: insensitive }
  rate_code:          { role: insensitive }
  store_and_fwd_flag: { role: insensitive }
  pickup_datetime:    { role: quasi_identifier, generalize: { time: hour } }
  dropoff_datetime:   { role: quasi_identifier, generalize: { time: hour } }
  passenger_count:    { role: quasi_identifier }
  trip_time_in_secs:  { role: sensitive, noise: { laplace: 30 } }
  trip_distance:      { role: sensitive }
  pickup_longitude:   { role: quasi_identifier, drop: true }
  pickup_latitude:    { role: quasi_identifier, drop: true }
  dropoff_longitude:  { role: quasi_identifier, drop: true }
  dropoff_latitude:   { role: quasi_identifier, drop: true }
# Measured, not gated (the release is the test, not its safety).
risk: { threshold: 0.2 }
YAML

cases=()
if [ -z "${QUICK:-}" ]; then
  meters=Benchmarks/work/meters_550x365.csv
  if [ ! -s "$meters" ]; then
    mkdir -p Benchmarks/work
    swift build -c release --product deid-sample >/dev/null
    .build/release/deid-sample --households 550 --days 365 --seed 1 -o "$meters"
  fi
  gzip -1 -c "$meters" > "$work/meters.csv.gz"
  cases+=("meters-plain|Benchmarks/publish-policy.yaml|$meters"
          "meters-gzip|Benchmarks/publish-policy.yaml|$work/meters.csv.gz"
          "meters-k5|Benchmarks/k-anonymity-policy.yaml|$meters")
  # The other layouts of Benchmarks/layouts.sh, when it has made them.
  [ -s Benchmarks/work/meters_time_1000x220.csv ] &&
    cases+=("meters-time|Benchmarks/publish-policy.yaml|Benchmarks/work/meters_time_1000x220.csv")
  [ -s Benchmarks/work/taxi_40x.csv ] && cases+=("taxi-840MB|Benchmarks/taxi-policy.yaml|Benchmarks/work/taxi_40x.csv")
fi
cases+=("sample-monthly|Datasets/smart_meter_policy.yaml|Datasets/smart_meter_sample.csv"
        "sample-areas|Datasets/smart_meter_aggregate.yaml|Datasets/smart_meter_sample.csv"
        "sample-hourly|Tests/Fixtures/hourly-series-policy.yaml|Datasets/smart_meter_sample.csv"
        "sample-k5|Datasets/smart_meter_k_anonymity.yaml|Datasets/smart_meter_sample.csv"
        "taxi|$work/taxi.yaml|$shared/nyc_taxi_2013/trip_data_2013-01_sample.csv"
        "adult-k5|Benchmarks/privacy/adult-k5-4.yaml|$shared/arx_adult/adult.csv"
        "cup-k5|Benchmarks/privacy/cup-k5-4.yaml|$shared/arx_benchmark/cup.csv")

# normalize FILE RUN_DIRECTORY: the JSON with ids, times and the run's directory set aside.
normalize() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, run = sys.argv[1], sys.argv[2]
data = json.load(open(path))
ids = set()
def collect(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("release_id", "id") and isinstance(v, str): ids.add(v)
            collect(v)
    elif isinstance(o, list):
        for v in o: collect(v)
collect(data)
def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if k not in ("created", "release_id", "milliseconds")}
    if isinstance(o, list):
        return [clean(v) for v in o]
    if isinstance(o, str):
        o = o.replace(run, "<run>")
        for i in ids: o = o.replace(i, "<id>")
    return o
print(json.dumps(clean(data), indent=1, sort_keys=True))
PY
}

# publish BUILD DIRECTORY POLICY INPUT: a seeded release and its catalog entry in DIRECTORY.
publish() {
  mkdir -p "$2"
  (cd "$2" && "$1" publish -p "$3" -o release --seed 7 --catalog-path catalog.sqlite "$4" >/dev/null 2>stderr.txt) || {
    echo "same-release: $1 failed on $4: $(head -c 300 "$2/stderr.txt")" >&2; return 1; }
  local id
  id=$(sed -n 's/.*"release_id" *: *"\([^"]*\)".*/\1/p' "$2/release/manifest.json" | head -n 1)
  "$1" catalog show "$id" --catalog-path "$2/catalog.sqlite" --json > "$2/catalog.json"
}

differences=0
for case in "${cases[@]}"; do
  IFS='|' read -r name policy input <<<"$case"
  [ -e "$input" ] || { echo "same-release: $name: no input $input" >&2; differences=1; continue; }
  policy=$(realpath "$policy") input=$(realpath "$input")
  # Pseudonyms per release derive their key from the release id, which is new each run: the
  # copy compared derives them from the key alone (hierarchy paths made absolute for it).
  python3 - "$policy" "$work/$name.yaml" <<'PY'
import os, re, sys
source, target = sys.argv[1], sys.argv[2]
text = open(source).read().replace("per_release: true", "per_release: false")
base = os.path.dirname(source)
text = re.sub(r"hierarchy: *([^ ,}\n]+)", lambda m: "hierarchy: " + os.path.join(base, m.group(1)), text)
open(target, "w").write(text)
PY
  policy="$work/$name.yaml"
  publish "$before" "$work/$name/before" "$policy" "$input"
  publish "$after" "$work/$name/after" "$policy" "$input"
  differs=()
  for file in $(cd "$work/$name/before/release" && find . -type f \( -name '*.csv' -o -name '*.csv.gz' \) | sort); do
    cmp -s "$work/$name/before/release/$file" "$work/$name/after/release/$file" || differs+=("$file")
  done
  for file in release/manifest.json release/report.json catalog.json; do
    # (An aggregate release has no report.json; then neither build may write one.)
    if [ ! -e "$work/$name/before/$file" ] && [ ! -e "$work/$name/after/$file" ]; then continue; fi
    normalize "$work/$name/before/$file" "$work/$name/before" > "$work/$name/before.json"
    normalize "$work/$name/after/$file" "$work/$name/after" > "$work/$name/after.json"
    cmp -s "$work/$name/before.json" "$work/$name/after.json" || differs+=("$file")
  done
  if [ ${#differs[@]} -eq 0 ]; then
    echo "$name: same data, manifest, report.json (if any) and catalog entry"
  else
    echo "$name: DIFFERENT: ${differs[*]}"
    differences=1
  fi
done
exit $differences
