#!/usr/bin/env python3
"""Hot items (top 5 items by page views per 1 h window sliding every 5 min, ties by item id)
computed by DuckDB straight from a Taobao-format CSV: the independent reference and the
side-by-side timing for `storepulse replay hot-items`.

usage: hot_items_duckdb.py EVENTS.csv [STOREPULSE_RESULTS.csv]

With a second file (from `storepulse replay hot-items --from EVENTS.csv --format taobao
--out results.csv`), every window's ranking is compared and the script exits 1 on any
difference.
"""
import sys
import time

import duckdb

QUERY = """
WITH pv AS (
  SELECT item, ts * 1000 AS ts
  FROM read_csv(?, header = false, auto_detect = false,
       columns = {'user': 'BIGINT', 'item': 'BIGINT', 'cat': 'BIGINT', 'action': 'VARCHAR', 'ts': 'BIGINT'})
  WHERE action = 'pv'
), win AS (
  SELECT (ts // 300000 + 1 + k) * 300000 AS window_end, item FROM pv, range(12) t(k)
), counts AS (
  SELECT window_end, item, count(*) AS pv FROM win GROUP BY ALL
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY window_end ORDER BY pv DESC, item ASC) AS rank FROM counts
)
SELECT window_end, rank, item, pv FROM ranked WHERE rank <= 5 ORDER BY window_end, rank
"""


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    con = duckdb.connect()
    t = time.perf_counter()
    ref = con.execute(QUERY, [sys.argv[1]]).fetchall()
    secs = time.perf_counter() - t
    windows = len({r[0] for r in ref})
    print(f"duckdb {duckdb.__version__}: {len(ref)} rows, {windows} windows in {secs:.2f} s")
    if len(sys.argv) < 3:
        return 0
    ours = con.execute(
        """SELECT epoch_ms(window_end::TIMESTAMP) AS window_end, rank, key::BIGINT AS item, value::BIGINT AS pv
           FROM read_csv(?, header = true, all_varchar = true)
           WHERE kind IN ('result', 'update') ORDER BY window_end, rank""",
        [sys.argv[2]],
    ).fetchall()
    ours = [(int(a), int(b), int(c), int(d)) for a, b, c, d in ours]
    ref = [(int(a), int(b), int(c), int(d)) for a, b, c, d in ref]
    if ours != ref:
        diff = next((i for i, (a, b) in enumerate(zip(ours, ref)) if a != b), min(len(ours), len(ref)))
        print(f"DIFFERENT at row {diff}: storepulse {ours[diff:diff + 3]} duckdb {ref[diff:diff + 3]}"
              f" ({len(ours)} vs {len(ref)} rows)")
        return 1
    print(f"identical: {windows} windows, {len(ref)} ranked rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
