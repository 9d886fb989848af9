"""The peer of `deid publish` with Benchmarks/aggregate-policy.yaml, in DuckDB SQL: each
household's total per postcode area (the first two characters, trailing spaces removed) and
day, then per cell the distinct households, the sum, the mean per household and the median
household's total; cells with fewer than 10 households or one household above 15% of the sum
are left out. Usage: python3 duckdb_aggregate.py INPUT OUTPUT [THREADS]"""
from duckdb_meters import connect, read_meters

con, source, target = connect()
con.execute(f"""
COPY (
  WITH per_entity AS (
    SELECT rtrim(substr(postcode, 1, 2)) AS postcode, date_trunc('day', reading_time) AS day,
           meter_id, sum(kwh) AS total
    FROM {read_meters(source)}
    GROUP BY ALL
  ), cells AS (
    SELECT postcode, day, count(*) AS entities, sum(total) AS kwh_sum, quantile_cont(total, 0.5) AS kwh_p50,
           max(total) AS largest
    FROM per_entity GROUP BY ALL
  )
  SELECT postcode, strftime(day, '%Y-%m-%d %H:%M:%S') AS reading_time, entities,
         round(kwh_sum, 3) AS kwh_sum, round(kwh_sum / entities, 6) AS kwh_mean, round(kwh_p50, 6) AS kwh_p50
  FROM cells
  WHERE entities >= 10 AND NOT (kwh_sum > 0 AND largest > 0.15 * kwh_sum)
  ORDER BY reading_time, postcode
) TO '{target}' (HEADER, DELIMITER ',')
""")
