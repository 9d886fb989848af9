"""The peer of `deid publish` with Benchmarks/adult-k5-policy.yaml, in DuckDB SQL, given the
transformation deid's search chose (DuckDB has no search): each quasi-identifier replaced by
its level in ARX's hierarchy (age=0 education=3 marital-status=1 native-country=2 occupation=0
race=1 salary-class=1 sex=1 workclass=2), classes counted in distinct people, the records of
classes under k=5 removed, md5 of the person id (no keyed hash in DuckDB), CSV written.
Usage: python3 duckdb_adult.py INPUT OUTPUT [THREADS]"""
import os
import sys
import duckdb

source, target = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"SET threads = {int(sys.argv[3]) if len(sys.argv) > 3 else 2}")
con.execute("SET preserve_insertion_order = true")
levels = {"sex": 1, "age": 0, "race": 1, "marital-status": 1, "education": 3, "native-country": 2,
          "workclass": 2, "occupation": 0, "salary-class": 1}
hierarchies = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared/datasets/arx_adult")
selects, joins = [], []
for index, (column, level) in enumerate(levels.items()):
    if level == 0:
        selects.append(f'r."{column}" AS "{column}"')
        continue
    path = f"{hierarchies}/adult_hierarchy_{column}.csv"
    joins.append(f"""JOIN read_csv('{path}', delim = ';', header = false, all_varchar = true) h{index}
                     ON h{index}.column0 = r."{column}" """)
    selects.append(f'h{index}.column{level:d} AS "{column}"')
quasi = ", ".join(f'"{column}"' for column in levels)
con.execute(f"""
COPY (
  WITH rows AS (
    SELECT r.person, {", ".join(selects)}
    FROM read_csv('{source}', header = true, all_varchar = true) r
    {" ".join(joins)}
  ),
  classes AS (SELECT {quasi}, count(DISTINCT person) AS people FROM rows GROUP BY ALL)
  SELECT substr(md5(person), 1, 16) AS person, {", ".join(f'rows."{c}"' for c in levels)}
  FROM rows JOIN classes USING ({quasi})
  WHERE people >= 5
) TO '{target}' (HEADER, DELIMITER ',')
""")
