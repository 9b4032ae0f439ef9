#!/usr/bin/env python3
"""Run the reference rules as SQL (benches/duckdb/rules.sql) on a JSONL file with DuckDB.

    python3 benches/duckdb/run.py FILE [--threads 2] [--dump OUT.json] [--stages]

Prints the wall time of the whole run (connect, read, every rule, results
fetched) and a one-line summary. --dump writes the per-line rule sets and the
dataset findings as JSON ({"read": N, "lines": {"LINE": [rule, ...]},
"dataset": [rule, ...], "stats": {...}}) for benches/duckdb/compare.py; the
stats are the populations the dataset-level rules count. --stages prints the
time of every stage of rules.sql on stderr.

Needs the `duckdb` Python package (pip install duckdb).
"""

import argparse
import datetime
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
COMPANY_FLAG_RULES = {"saas-scale-needs-staff", "holdco-without-operations", "revenue-per-employee"}


def stages(sql_text):
    """Split rules.sql into (name, sql) at its `-- @stage NAME` lines."""
    out = []
    name, buf = "setup", []
    for line in sql_text.splitlines(keepends=True):
        m = re.match(r"--\s*@stage\s+(\S+)", line)
        if m:
            if "".join(buf).strip():
                out.append((name, "".join(buf)))
            name, buf = m.group(1), []
        else:
            buf.append(line)
    if "".join(buf).strip():
        out.append((name, "".join(buf)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dump", help="write per-line rule sets and dataset findings as JSON")
    ap.add_argument("--stages", action="store_true", help="print the time of every stage on stderr")
    ap.add_argument("--year", type=int, help="current calendar year (default: the UTC year now)")
    ap.add_argument("--sql", default=os.path.join(HERE, "rules.sql"))
    args = ap.parse_args()

    import duckdb  # imported here so that --help works without it

    year = args.year or datetime.datetime.now(datetime.timezone.utc).year
    with open(args.sql, encoding="utf-8") as fh:
        sql_stages = stages(fh.read())

    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(args.threads)}")
    con.execute("SET VARIABLE input_path = ?", [os.path.abspath(args.file)])
    con.execute("SET VARIABLE current_year = ?", [year])
    for name, sql in sql_stages:
        ts = time.perf_counter()
        con.execute(sql)
        if args.stages:
            print(f"  stage {name:<16} {time.perf_counter() - ts:8.3f} s", file=sys.stderr)
    read = con.execute("SELECT n FROM read_count").fetchone()[0]
    rows = con.execute("SELECT line, rules FROM line_rules ORDER BY line").fetchall()
    dataset = sorted(r[0] for r in con.execute("SELECT rule FROM dataset_rules").fetchall())
    cur = con.execute("SELECT * FROM dataset_stats")
    stats = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    wall = time.perf_counter() - t0

    rejected = sum(1 for _, rules in rows if any(r not in COMPANY_FLAG_RULES for r in rules))
    flagged = len(rows) - rejected
    print(
        f"duckdb {duckdb.__version__}, {args.threads} threads: {read} lines read, "
        f"{read - len(rows)} accepted, {flagged} flagged, {rejected} rejected, "
        f"dataset findings: {','.join(dataset) or '-'}"
    )
    print(f"wall {wall:.3f} s")
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as fh:
            json.dump({"read": read, "lines": {str(l): sorted(r) for l, r in rows}, "dataset": dataset,
                       "stats": stats}, fh, default=str)


if __name__ == "__main__":
    main()
