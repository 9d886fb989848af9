"""The peer of `deid publish` with Benchmarks/publish-policy.yaml, in DuckDB SQL: drop the name
and e-mail, md5 of the meter id (DuckDB has no keyed HMAC; md5 is cheaper than ours), postcode
prefix, time truncated to the hour in the input's text format, Laplace noise on kWh clamped at 0
and rounded to 3 decimals. Usage: python3 duckdb_publish.py INPUT OUTPUT [THREADS]"""
import sys
import duckdb

source, target = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET preserve_insertion_order = true")
con.execute(f"""
COPY (
  SELECT substr(md5(meter_id), 1, 16) AS meter_id,
         substr(postcode, 1, 4) AS postcode,
         dwelling_type, occupants, tariff,
         strftime(date_trunc('hour', reading_time), '%Y-%m-%d %H:%M:%S') AS reading_time,
         round(greatest(0, kwh - 0.05 * sign(u) * ln(1 - 2 * abs(u))), 3) AS kwh
  FROM (SELECT *, random() - 0.5 AS u
        FROM read_csv('{source}', header = true, quote = '"', escape = '"', delim = ',',
                      columns = {{'meter_id': 'VARCHAR', 'customer_name': 'VARCHAR', 'email': 'VARCHAR',
                                  'postcode': 'VARCHAR', 'dwelling_type': 'VARCHAR', 'occupants': 'INTEGER',
                                  'tariff': 'VARCHAR', 'reading_time': 'TIMESTAMP', 'kwh': 'DOUBLE'}}))
) TO '{target}' (HEADER, DELIMITER ',')
""")
