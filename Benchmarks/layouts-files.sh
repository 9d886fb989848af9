# The four files of issue 22 and what runs on each, for Benchmarks/layouts.sh and floors.sh
# (sourced from the repository's root): the files are made in Benchmarks/work (`work`, never
# the repository), `deid` is the release build, and the pseudonyms' key is fixed.
#
#   input FILE    the file's path, made first when missing
#   policy FILE   its benchmark policy;  peer FILE   its DuckDB twin
#   quasi FILE    the quasi-identifiers and the entity `deid risk` measures
#   arguments DEFAULT_ROUNDS "$@"   sets `rounds` and `files` from the command line

work=$PWD/Benchmarks/work
deid=$PWD/.build/release/deid
mkdir -p "$work"
export DEID_KEY=layouts-benchmark-key-0123456789abcdef0123

arguments() {
  local default=$1
  shift
  rounds=${1:-$default}
  shift || true
  files=${*:-meters-time meters-house taxi adult}
}

input() {
  case $1 in
    meters-time)
      [ -s "$work/meters_time_1000x220.csv" ] || .build/release/deid-sample --households 1000 --days 220 --seed 1 \
        --order time -o "$work/meters_time_1000x220.csv"
      echo "$work/meters_time_1000x220.csv" ;;
    meters-house)
      [ -s "$work/meters_550x365.csv" ] || .build/release/deid-sample --households 550 --days 365 --seed 1 \
        -o "$work/meters_550x365.csv"
      echo "$work/meters_550x365.csv" ;;
    taxi)
      if [ ! -s "$work/taxi_40x.csv" ]; then
        sample=../shared/datasets/nyc_taxi_2013/trip_data_2013_sample_all_months.csv.gz
        { zcat "$sample" | head -n 1; for _ in $(seq 1 40); do zcat "$sample" | tail -n +2; done; } > "$work/taxi_40x.csv"
      fi
      echo "$work/taxi_40x.csv" ;;
    adult)
      if [ ! -s "$work/adult_people_200x.csv" ]; then
        python3 - ../shared/datasets/arx_adult/adult.csv "$work/adult_people_200x.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
with open(sys.argv[2], "w") as out:
    out.write("person," + lines[0].replace(";", ",") + "\n")
    rows = [line.replace(";", ",") for line in lines[1:]]
    for _ in range(200):
        for index, row in enumerate(rows):
            out.write(f"P{index:05d},{row}\n")
PY
      fi
      echo "$work/adult_people_200x.csv" ;;
  esac
}

policy() {
  case $1 in
    taxi) echo Benchmarks/taxi-policy.yaml ;; adult) echo Benchmarks/adult-k5-policy.yaml ;;
    *) echo Benchmarks/publish-policy.yaml ;;
  esac
}
peer() {
  case $1 in
    taxi) echo Benchmarks/duckdb_taxi.py ;; adult) echo Benchmarks/duckdb_adult.py ;;
    *) echo Benchmarks/duckdb_publish.py ;;
  esac
}
# The quasi-identifiers and the entity `deid risk` measures.
quasi() {
  case $1 in
    taxi) echo "vendor_id,rate_code,store_and_fwd_flag,passenger_count medallion" ;;
    adult) echo "sex,age,race,marital-status,education,native-country,workclass,occupation,salary-class person" ;;
    *) echo "postcode,dwelling_type,occupants,tariff meter_id" ;;
  esac
}
