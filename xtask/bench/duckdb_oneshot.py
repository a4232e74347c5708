#!/usr/bin/env python3
"""DuckDB, used the strongest way a user would by hand: one streaming statement that reads an
export JSONL file, keeps the first row per (insert_id, time) and writes one Parquet file.

usage: duckdb_oneshot.py INPUT.jsonl OUT_DIR THREADS
prints: statement<TAB>seconds and rows<TAB>count"""
import os
import shutil
import sys
import time

import duckdb

source, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
db = duckdb.connect()
db.execute(f"SET threads = {threads}")
started = time.perf_counter()
db.execute(f"""
COPY (
    SELECT
        event AS event_name,
        to_timestamp(CAST(properties->>'$.time' AS BIGINT)) AS time,
        properties->>'$.distinct_id' AS distinct_id,
        properties->>'$."$insert_id"' AS insert_id,
        properties
    FROM read_json('{source}', format = 'newline_delimited',
                   columns = {{event: 'VARCHAR', properties: 'JSON'}})
    QUALIFY row_number() OVER (PARTITION BY insert_id, time) = 1
) TO '{out}/events.parquet' (FORMAT parquet)
""")
print(f"statement\t{time.perf_counter() - started:.3f}")
rows = db.execute(f"SELECT count(*) FROM '{out}/events.parquet'").fetchone()[0]
print(f"rows\t{rows}")
sys.stdout.flush()
os._exit(0)
