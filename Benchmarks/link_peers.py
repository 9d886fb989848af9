#!/usr/bin/env python3
"""DuckDB's exact count of the linkage benchmark's unique links (both directions), to compare
with `deid link` (Benchmarks/link.sh). Prints seconds, peak RSS is measured by the caller.

Usage: link_peers.py A.csv B.csv
"""
import sys
import time

import duckdb


def main():
    a, b = sys.argv[1], sys.argv[2]
    started = time.time()
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    cols = "sex, birth_year, zip, occupation"
    for left, right in [(a, b), (b, a)]:
        row = con.execute(f"""
            WITH r AS (SELECT {cols}, count(*) AS n FROM read_csv('{right}') GROUP BY ALL)
            SELECT count(*) FILTER (WHERE r.n = 1), count(*)
            FROM read_csv('{left}') l LEFT JOIN r USING ({cols})
        """).fetchone()
        print(f"duckdb {left}: unique links {row[0]} of {row[1]} (share {row[0] / row[1]:.5f})")
    print(f"duckdb seconds {time.time() - started:.2f}")


if __name__ == "__main__":
    main()
