#!/usr/bin/env python3
"""DuckDB in steps, as a notebook would do it: load the export JSONL into a table, deduplicate
on (insert_id, time) into a second table, write that to Parquet.

usage: duckdb_staged.py INPUT.jsonl OUT_DIR THREADS
prints: statement<TAB>seconds (all three steps) and rows<TAB>count"""
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
CREATE TABLE raw AS
SELECT
    event AS event_name,
    to_timestamp(CAST(properties->>'$.time' AS BIGINT)) AS time,
    properties->>'$.distinct_id' AS distinct_id,
    properties->>'$."$insert_id"' AS insert_id,
    properties
FROM read_json('{source}', format = 'newline_delimited',
               columns = {{event: 'VARCHAR', properties: 'JSON'}})
""")
db.execute("""
CREATE TABLE events AS
SELECT * FROM raw QUALIFY row_number() OVER (PARTITION BY insert_id, time) = 1
""")
db.execute(f"COPY events TO '{out}/events.parquet' (FORMAT parquet)")
print(f"statement\t{time.perf_counter() - started:.3f}")
rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
print(f"rows\t{rows}")
sys.stdout.flush()
os._exit(0)
