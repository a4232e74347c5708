#!/usr/bin/env python3
"""DuckDB in-process on the deduplicated events of an export JSONL file: the anchor for SQL speed.

The file is loaded once into an in-memory table with the columns of mpd's events table
(`properties` as JSON text), then each query runs RUNS times after one warm-up run.

usage: duckdb_sql.py INPUT.jsonl THREADS RUNS
prints, per query: name<TAB>milliseconds of each run, comma-separated<TAB>the answer as JSON"""
import json
import sys
import time

import duckdb

source, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = duckdb.connect()
db.execute(f"SET threads = {threads}")
db.execute(f"""
CREATE TABLE events AS
SELECT
    event AS event_name,
    to_timestamp(CAST(properties->>'$.time' AS BIGINT)) AS time,
    properties->>'$.distinct_id' AS distinct_id,
    properties->>'$."$insert_id"' AS insert_id,
    CAST(properties AS VARCHAR) AS properties
FROM read_json('{source}', format = 'newline_delimited',
               columns = {{event: 'VARCHAR', properties: 'JSON'}})
QUALIFY row_number() OVER (PARTITION BY insert_id, time) = 1
""")

# The same questions as xtask/src/sql_bench.rs asks mpd, in DuckDB's dialect.
FIRST_STEPS = """
WITH viewed AS (
    SELECT distinct_id, min(time) AS at FROM events WHERE event_name = 'Page View' GROUP BY 1),
carted AS (
    SELECT e.distinct_id, min(e.time) AS at FROM events e
    JOIN viewed v ON e.distinct_id = v.distinct_id AND e.time > v.at
    WHERE e.event_name = 'Add To Cart' GROUP BY 1),
bought AS (
    SELECT e.distinct_id, min(e.time) AS at FROM events e
    JOIN carted c ON e.distinct_id = c.distinct_id AND e.time > c.at
    WHERE e.event_name = 'Purchase' GROUP BY 1)
SELECT (SELECT count(*) FROM viewed) AS viewed, (SELECT count(*) FROM carted) AS carted,
       (SELECT count(*) FROM bought) AS bought
"""
QUERIES = {
    "count by event": "SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY 2 DESC, 1",
    "daily uniques": "SELECT CAST(date_trunc('day', time) AS DATE) AS day, "
                     "count(DISTINCT distinct_id) AS users FROM events GROUP BY 1 ORDER BY 1",
    "$browser breakdown": "SELECT properties->>'$.\"$browser\"' AS browser, count(*) AS n "
                          "FROM events GROUP BY 1 ORDER BY 2 DESC, 1",
    "revenue of Purchase": "SELECT round(sum(CAST(properties->>'$.amount' AS DOUBLE)), 2) AS revenue "
                           "FROM events WHERE event_name = 'Purchase'",
    "3-step funnel": FIRST_STEPS,
}

for name, query in QUERIES.items():
    db.execute(query).fetchall()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = db.execute(query).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    answer = [[str(v) for v in row] for row in rows[:1]]
    print(f"{name}\t{','.join(f'{t:.2f}' for t in timings)}\t{json.dumps(answer)}", flush=True)
