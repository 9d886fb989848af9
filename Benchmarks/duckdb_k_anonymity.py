"""The peer of `deid publish` with Benchmarks/k-anonymity-policy.yaml, in DuckDB SQL, given the
transformation deid's search chose (DuckDB has no search): the publish workload (md5 of the
meter id, time truncated to the hour, Laplace noise on kWh) with the quasi-identifiers at
postcode=5 ('*'), dwelling_type=1 (house/flat), occupants=1 (intervals 1,2,3,5), tariff=0;
classes counted in distinct meters (group by), joined back to the rows, rows of classes under
k=5 removed, CSV written. Usage: python3 duckdb_k_anonymity.py INPUT OUTPUT [THREADS]"""
from duckdb_meters import connect, read_meters

con, source, target = connect()
con.execute(f"""
COPY (
  WITH rows AS (
    SELECT meter_id,
           '*' AS postcode,
           CASE WHEN dwelling_type LIKE 'flat%' THEN 'flat' ELSE 'house' END AS dwelling_type,
           CASE WHEN occupants < 1 THEN '<1' WHEN occupants < 2 THEN '[1,2)' WHEN occupants < 3 THEN '[2,3)'
                WHEN occupants < 5 THEN '[3,5)' ELSE '>=5' END AS occupants,
           tariff, reading_time, kwh
    FROM {read_meters(source)}
  ),
  classes AS (
    SELECT postcode, dwelling_type, occupants, tariff, count(DISTINCT meter_id) AS individuals
    FROM rows GROUP BY postcode, dwelling_type, occupants, tariff
  )
  SELECT substr(md5(r.meter_id), 1, 16) AS meter_id, r.postcode, r.dwelling_type, r.occupants, r.tariff,
         strftime(date_trunc('hour', r.reading_time), '%Y-%m-%d %H:%M:%S') AS reading_time,
         round(greatest(0, r.kwh - 0.05 * sign(u) * ln(1 - 2 * abs(u))), 3) AS kwh
  FROM (SELECT *, random() - 0.5 AS u FROM rows) r
  JOIN classes c ON r.postcode = c.postcode AND r.dwelling_type = c.dwelling_type
                AND r.occupants = c.occupants AND r.tariff = c.tariff
  WHERE c.individuals >= 5
) TO '{target}' (HEADER, DELIMITER ',')
""")
