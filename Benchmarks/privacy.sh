#!/usr/bin/env bash
# The k-anonymity search on ARX's benchmark datasets (adult, cup, fars_int; k=5, 0% and 4%
# suppression, non-uniform entropy): medians of RUNS runs (default 5) of the search alone (from
# the manifest) and of the whole `deid publish` (GNU time: wall seconds, peak RSS), with the
# transformation found and the nodes checked. ARX's figures for comparison are in
# ../shared/docs/DOMAIN.md and Benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
swift build -c release --product deid >/dev/null
BIN=.build/release/deid
data() {
  case $1 in
    adult) echo ../shared/datasets/arx_adult/adult.csv ;;
    cup) echo ../shared/datasets/arx_benchmark/cup.csv ;;
    fars_int) echo ../shared/datasets/arx_benchmark/fars_int.csv ;;
  esac
}
echo "| dataset | suppression | levels | loss | search ms | nodes checked | whole publish s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
for set in adult cup fars_int; do
  for limit in 0 4; do
    policy=Benchmarks/privacy/$set-k5-$limit.yaml
    searches=() walls=() rss=()
    for _ in $(seq "$RUNS"); do
      out=$(mktemp -d); rmdir "$out"
      timing=$( { /usr/bin/time -f "%e %M" "$BIN" publish -p "$policy" -o "$out" "$(data $set)" > /dev/null; } 2>&1 | tail -n 1)
      walls+=("${timing% *}"); rss+=("${timing#* }")
      searches+=("$(python3 -c "import json,sys; print(json.load(open('$out/manifest.json'))['privacy']['search']['milliseconds'])")")
      summary=$(python3 -c "
import json; m=json.load(open('$out/manifest.json')); p=m['privacy']
cols=[c['name'] for c in m['columns'] if c['role']=='quasi_identifier']
print('[' + ','.join(str(p['transformation'][c]) for c in cols) + ']', round(p['information_loss'], 4), p['search']['nodes_checked'], p['search']['nodes'])")
      rm -rf "$out"
    done
    median() { printf '%s\n' "$@" | sort -n | sed -n "$(( (${#@} + 1) / 2 ))p"; }
    read -r levels loss checked nodes <<< "$summary"
    printf '| %s | %s%% | %s | %s | %s | %s of %s | %s | %.0f |\n' "$set" "$limit" "$levels" "$loss" "$(median "${searches[@]}")" \
      "$checked" "$nodes" "$(median "${walls[@]}")" "$(echo "$(median "${rss[@]}") / 1024" | bc -l)"
  done
done
