#!/usr/bin/env python3
"""Times the Online Retail queries on StorePulse and on DuckDB, same lake files, same run.

usage: python3 scripts/bench_online_retail.py STOREPULSE_BIN DATA_DIR [RUNS]

DATA_DIR must hold a lake with UCI Online Retail imported:
  storepulse --data-dir DATA_DIR import ../shared/datasets/online_retail/online_retail.csv.gz --format online-retail
StorePulse is timed in-process by `storepulse bench query` (warm runs, like DuckDB's below: one
connection, one untimed warm-up run, then RUNS timed runs each). Both print best and median ms.
"""
import json
import statistics
import subprocess
import sys
import time

import duckdb

QUERIES = {
    "revenue_by_country": (
        "SELECT country, sum(amount) AS revenue FROM orders WHERE status = 'create' "
        "GROUP BY country ORDER BY revenue DESC"
    ),
    "monthly_revenue": (
        "SELECT date_trunc('month', ts) AS month, sum(amount) AS revenue, "
        "count(DISTINCT order_id) AS orders FROM orders WHERE status = 'create' "
        "GROUP BY 1 ORDER BY 1"
    ),
}

# RFM in SQL for DuckDB: the same customers, recency/frequency/monetary and quintile scores as
# `storepulse analyze rfm` (which also names segments).
RFM_SQL = """
WITH c AS (
  SELECT shop, user_id, max(dt) AS last_day, count(DISTINCT order_id) AS frequency,
         sum(amount) AS monetary
  FROM orders WHERE status = 'create' AND user_id IS NOT NULL GROUP BY shop, user_id),
ref AS (SELECT max(last_day) + 1 AS d FROM c)
SELECT shop, user_id, ref.d - last_day AS recency, frequency, monetary,
       ntile(5) OVER (ORDER BY ref.d - last_day DESC) AS r,
       ntile(5) OVER (ORDER BY frequency) AS f,
       ntile(5) OVER (ORDER BY monetary) AS m
FROM c, ref
"""


def time_duckdb(con, sql, runs):
    con.execute(sql).fetchall()
    ms = []
    rows = 0
    for _ in range(runs):
        t = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        ms.append((time.perf_counter() - t) * 1000)
    return rows, min(ms), statistics.median(ms)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, data = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    args = [binary, "--data-dir", data, "--json", "bench", "query", "--runs", str(runs)]
    for name, sql in QUERIES.items():
        args += ["--sql", f"{name}={sql}"]
    args += ["--analysis", "rfm"]
    ours = {r["name"]: r for r in json.loads(subprocess.check_output(args))}

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"CREATE VIEW orders AS SELECT * FROM read_parquet('{data}/lake/order/*/*/*.parquet', "
        "hive_partitioning = true)"
    )
    theirs = {name: time_duckdb(con, sql, runs) for name, sql in QUERIES.items()}
    theirs["rfm"] = time_duckdb(con, RFM_SQL, runs)

    print(f"{'query':<20} {'StorePulse best/median ms':>26} {'DuckDB best/median ms':>24} {'rows':>12}")
    for name in list(QUERIES) + ["rfm"]:
        o, d = ours[name], theirs[name]
        print(
            f"{name:<20} {o['best_ms']:>12.1f} / {o['median_ms']:<11.1f} "
            f"{d[1]:>10.1f} / {d[2]:<11.1f} {o['rows']:>5} / {d[0]:<5}"
        )


if __name__ == "__main__":
    main()
