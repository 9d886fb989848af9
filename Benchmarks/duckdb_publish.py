"""The peer of `deid publish` with Benchmarks/publish-policy.yaml, in DuckDB SQL: drop the name
and e-mail, md5 of the meter id (DuckDB has no keyed HMAC; md5 is cheaper than ours), postcode
prefix, time truncated to the hour in the input's text format, Laplace noise on kWh clamped at 0
and rounded to 3 decimals. Usage: python3 duckdb_publish.py INPUT OUTPUT [THREADS]"""
from duckdb_meters import connect, read_meters

con, source, target = connect()
con.execute(f"""
COPY (
  SELECT substr(md5(meter_id), 1, 16) AS meter_id,
         substr(postcode, 1, 4) AS postcode,
         dwelling_type, occupants, tariff,
         strftime(date_trunc('hour', reading_time), '%Y-%m-%d %H:%M:%S') AS reading_time,
         round(greatest(0, kwh - 0.05 * sign(u) * ln(1 - 2 * abs(u))), 3) AS kwh
  FROM (SELECT *, random() - 0.5 AS u
        FROM {read_meters(source)})
) TO '{target}' (HEADER, DELIMITER ',')
""")
