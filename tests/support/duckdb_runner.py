"""A minimal DuckDB-only runner for skillc's SQL plans (the protocol of
docs/sql.md): one JSON request a line on standard input, JSON responses a
line on standard output. A stand-in until the real runner
(src/sql/runner.py: DuckDB and PySpark, a Unix-socket server mode) lands;
skillc embeds it and runs it with `python3 -c`.
"""

import json
import sys
import time

import duckdb

con = duckdb.connect()
# Standard output is the protocol: no progress bar on it.
con.execute("SET enable_progress_bar = false")


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def materialize(view, sql):
    con.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS {sql}")


def plain(v):
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "item"):
        return v.item()
    return v


def run(req, out):
    rid = req.get("id")
    rounds, seconds = {}, {}
    if req.get("engine") != "duckdb":
        out.write(json.dumps({"id": rid, "error": f"this runner runs DuckDB only, not {req.get('engine')!r}", "step": 0}) + "\n")
        out.flush()
        return
    for i, step in enumerate(req["steps"]):
        start = time.time()
        op = step["op"]
        try:
            if op == "load_jsonl":
                cols = ", ".join(f"{lit(n)}: {lit(t)}" for n, t in step["columns"])
                materialize(
                    step["view"],
                    f"SELECT * FROM read_json({lit(step['path'])}, format='newline_delimited', columns={{{cols}}})",
                )
            elif op == "load_text":
                with open(step["path"], "rb") as f:
                    rows = [(n + 1, l.rstrip(b"\n").decode("utf-8", "replace")) for n, l in enumerate(f)]
                con.execute(f"CREATE OR REPLACE TEMP TABLE {step['view']} (line_no BIGINT, text VARCHAR)")
                if rows:
                    con.executemany(f"INSERT INTO {step['view']} VALUES (?, ?)", rows)
            elif op == "sql":
                con.execute(step["sql"])
            elif op == "materialize":
                materialize(step["view"], step["sql"])
            elif op == "iterate":
                view, prev = step["view"], step["view"] + "_prev"
                materialize(view, step["init"])
                n = 0
                while True:
                    if n >= step["max_rounds"]:
                        raise RuntimeError(f"{view}: no fixed point after {n} rounds")
                    materialize(prev, f"SELECT * FROM {view}")
                    materialize(view, step["step"])
                    n += 1
                    if con.execute(step["changed"]).fetchone()[0] == 0:
                        break
                rounds[view] = n
            elif op == "collect":
                cur = con.execute(step["sql"])
                while True:
                    batch = cur.fetchmany(4096)
                    if not batch:
                        break
                    for row in batch:
                        out.write(json.dumps({"id": rid, "result": step["name"], "row": plain(list(row))}) + "\n")
            else:
                raise RuntimeError(f"unknown op {op!r}")
        except Exception as e:  # reported, never swallowed
            out.write(json.dumps({"id": rid, "error": f"{type(e).__name__}: {e}", "step": i}) + "\n")
            out.flush()
            return
        key = step.get("view") or step.get("name") or f"{i}:{op}"
        seconds[key] = seconds.get(key, 0) + time.time() - start
    out.write(json.dumps({"id": rid, "done": True, "rounds": rounds, "seconds": seconds}) + "\n")
    out.flush()


for line in sys.stdin:
    if line.strip():
        run(json.loads(line), sys.stdout)
