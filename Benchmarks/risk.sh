#!/usr/bin/env bash
# `deid risk` beside a DuckDB group-by (2 threads) and pycanon (pandas) on ARX's adult, cup and
# fars_int and on the 1 GB generated smart-meter file (Benchmarks/README.md makes it).
# Best of 5 wall-clock runs, process start and reading included. Needs: pip install duckdb pycanon pandas
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/datasets
DEID=.build/release/deid
[ -x $DEID ] || swift build -c release --product deid
best() { # command... -> the best of 5 wall-clock seconds
  local best=999 start end t
  for _ in 1 2 3 4 5; do
    start=$(date +%s.%N); "$@" > /dev/null; end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc); best=$(echo "if ($t < $best) $t else $best" | bc)
  done
  echo "$best"
}
row() { # name file delimiter quasi-identifiers sensitive entity
  local entity_args=() sensitive_args=()
  [ -n "$6" ] && entity_args=(--entity "$6")
  [ -n "$5" ] && sensitive_args=(--sensitive "$5")
  printf '%s deid %s duckdb %s pycanon %s\n' "$1" \
    "$(best $DEID risk "$2" -q "$4" "${entity_args[@]}" "${sensitive_args[@]}" --no-discovery)" \
    "$(best python3 Benchmarks/risk_peers.py duckdb "$2" "$3" "$4" "$6" 2)" \
    "$(best python3 Benchmarks/risk_peers.py pycanon "$2" "$3" "$4" "$6" "$5")"
}
row adult $D/arx_adult/adult.csv ';' sex,age,race,marital-status,education,native-country,workclass,occupation salary-class ''
row cup $D/arx_benchmark/cup.csv ';' ZIP,AGE,GENDER,INCOME,STATE,RAMNTALL,NGIFTALL MINRAMNT ''
row fars_int $D/arx_benchmark/fars_int.csv ';' iage,irace,ideathmon,ideathday,isex,ihispanic,istatenum iinjury ''
METERS=Benchmarks/work/meters_550x365.csv
if [ -f $METERS ]; then
  for run in 1 2 3; do
    /usr/bin/time -f "meters deid %e s %M KB" $DEID risk $METERS -q postcode,dwelling_type,occupants,tariff --entity meter_id --no-discovery > /dev/null
    /usr/bin/time -f "meters duckdb %e s %M KB" python3 Benchmarks/risk_peers.py duckdb $METERS , postcode,dwelling_type,occupants,tariff meter_id 2 > /dev/null
  done
  /usr/bin/time -f "meters deid with discovery %e s %M KB" $DEID risk $METERS -q postcode,dwelling_type,occupants,tariff --entity meter_id > /dev/null
  /usr/bin/time -f "meters deid with trace (day, 1 kWh) %e s %M KB" $DEID risk $METERS -q postcode,dwelling_type,occupants,tariff \
    --entity meter_id --no-discovery --trace-time reading_time --trace-value kwh --time-resolution day --value-resolution 1 > /dev/null
  /usr/bin/time -f "meters pycanon %e s %M KB" python3 Benchmarks/risk_peers.py pycanon $METERS , postcode,dwelling_type,occupants,tariff meter_id > /dev/null
fi
