"""The peer of `deid publish` with Benchmarks/taxi-policy.yaml, in DuckDB SQL: md5 of the
medallion and the hack licence (DuckDB has no keyed HMAC), both times truncated to the hour in
the input's text format, Laplace noise on the trip time clamped at 0 and rounded, coordinates
dropped. Usage: python3 duckdb_taxi.py INPUT OUTPUT [THREADS]"""
import sys
import duckdb

source, target = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"SET threads = {int(sys.argv[3]) if len(sys.argv) > 3 else 2}")
con.execute("SET preserve_insertion_order = true")
con.execute(f"""
COPY (
  SELECT substr(md5(medallion), 1, 16) AS medallion, substr(md5(hack_license), 1, 16) AS hack_license,
         vendor_id, rate_code, store_and_fwd_flag,
         strftime(date_trunc('hour', pickup_datetime), '%Y-%m-%d %H:%M:%S') AS pickup_datetime,
         strftime(date_trunc('hour', dropoff_datetime), '%Y-%m-%d %H:%M:%S') AS dropoff_datetime,
         passenger_count,
         round(greatest(0, trip_time_in_secs - 30 * sign(u) * ln(1 - 2 * abs(u))), 0) AS trip_time_in_secs,
         trip_distance
  FROM (SELECT *, random() - 0.5 AS u FROM read_csv('{source}', header = true, all_varchar = false,
        types = {{'medallion': 'VARCHAR', 'hack_license': 'VARCHAR', 'store_and_fwd_flag': 'VARCHAR',
                  'trip_distance': 'VARCHAR'}}))
) TO '{target}' (HEADER, DELIMITER ',')
""")
