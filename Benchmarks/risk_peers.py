#!/usr/bin/env python3
"""Peers of `deid risk`'s class statistics, for Benchmarks/RESULTS.md (not part of the tests).

    risk_peers.py duckdb  FILE DELIM QI1,QI2,... [ENTITY] [THREADS]
    risk_peers.py pycanon FILE DELIM QI1,QI2,... [ENTITY] [SENSITIVE]

duckdb: one GROUP BY over the quasi-identifiers counting records and distinct entities, then the
class-size figures deid prints (classes, smallest class, sample uniques, average prosecutor risk).
pycanon: pandas reads the file, pycanon computes k (and l when a sensitive column is given);
pycanon counts rows, not entities, so with ENTITY the frame is first reduced to one row per
(entity, quasi-identifiers) as pandas drop_duplicates.
Prints the figures and the seconds taken, reading included.
"""
import sys, time

mode, source, delimiter, columns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(',')
entity = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
started = time.time()
if mode == 'duckdb':
    import duckdb
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    quoted = ', '.join(f'"{c}"' for c in columns)
    people = f'count(DISTINCT "{entity}")' if entity else 'count(*)'
    row = con.execute(f"""
        WITH classes AS (
            SELECT {people} AS size, count(*) AS records
            FROM read_csv('{source}', header = true, delim = '{delimiter}', quote = '"', escape = '"', all_varchar = true)
            GROUP BY {quoted})
        SELECT count(*), min(size), sum(CASE WHEN size = 1 THEN 1 ELSE 0 END), sum(records)
        FROM classes""").fetchone()
    print(f"classes {row[0]} smallest {row[1]} uniques {row[2]} records {row[3]}")
else:
    import pandas
    from pycanon import anonymity
    frame = pandas.read_csv(source, sep=delimiter, dtype=str, keep_default_na=False)
    if entity:
        frame = frame.drop_duplicates(subset=[entity] + columns)
    k = anonymity.k_anonymity(frame, columns)
    print(f"k {k}", end='')
    sensitive = sys.argv[6] if len(sys.argv) > 6 else None
    if sensitive:
        print(f" l {anonymity.l_diversity(frame, columns, [sensitive])}", end='')
    print()
print(f"seconds {time.time() - started:.3f}")
