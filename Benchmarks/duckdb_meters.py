"""What the DuckDB peers share: the command line (INPUT OUTPUT [THREADS]), a connection with the
thread count and insertion order set, and the generated smart-meter file read with its types."""
import sys
import duckdb


def connect():
    """Returns (connection, source, target) from the command line."""
    source, target = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = true")
    return con, source, target


def read_meters(source):
    """The SQL table expression that reads the generated smart-meter CSV with its column types."""
    return (f"read_csv('{source}', header = true, quote = '\"', escape = '\"', delim = ',', "
            "columns = {'meter_id': 'VARCHAR', 'customer_name': 'VARCHAR', 'email': 'VARCHAR', "
            "'postcode': 'VARCHAR', 'dwelling_type': 'VARCHAR', 'occupants': 'INTEGER', "
            "'tariff': 'VARCHAR', 'reading_time': 'TIMESTAMP', 'kwh': 'DOUBLE'})")
