#!/usr/bin/env python3
"""Test: the SQL of benches/duckdb/rules.sql finds exactly what `skillc check` finds.

    python3 benches/duckdb/compare.py [--companies 3000] [--seed 5] [--violations 0.2] [--no-build]

Two datasets are checked:
  1. a generated one: cargo run --release --example gen_corpus -- --companies 3000
     --seed 5 --violations 0.2 --out DIR/gen.jsonl
  2. a hand-written file of edge cases (malformed lines, BOM, CRLF, blank lines,
     duplicate keys, JSON extensions that DuckDB's reader accepts, type errors,
     ownership cycles), written by this script.
For each, it runs `target/release/skillc check FILE --format json` and
`benches/duckdb/run.py FILE --dump`, and asserts that every line has the same set
of rule ids (lines without a finding have the empty set), that the dataset
findings are the same, and that the populations behind the dataset rules agree
where skillc reports them (the count and share of a fired dataset finding, the
behaviour_class counts of the summary). Every difference is printed. Exit
status 0 when both agree, 1 otherwise; the last line is
"compare: N passed, N failed". Installs the duckdb Python package if missing.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_PY = os.path.join(ROOT, "benches", "duckdb", "run.py")
SKILLC = os.path.join(ROOT, "target", "release", "skillc")

OK = ('"name":"N","industry":"Retail","country":"GB","founded_year":1990,"public":false,'
      '"fiscal_year_end":"12-31","currency":"GBP","employee_count":100,'
      '"standalone_revenue":10000000,"consolidated_revenue":10000000,"gross_margin":0.3')


def co(id_, extra="", base=OK):
    """A valid company line with `extra` (",\"key\":value...") appended."""
    return ('{"id":' + json.dumps(id_) + "," + base + extra + "}").encode()


def edge_cases():
    """(bytes of a JSONL file of edge cases, {line: known skillc deviation})."""
    L, known = [], {}
    L.append(b"\xef\xbb\xbf" + co("bom-first"))                    # BOM, then a valid company
    L.append(b"")                                                  # blank
    L.append(b"   \t")                                             # blank (spaces, tab)
    L.append(co("crlf") + b"\r")                                   # CRLF line end
    L.append(b"\r")                                                # blank (\r only)
    L.append(co("trailing-comma")[:-1] + b",}")                    # yyjson accepts, RFC does not
    L.append(co("nan", ',"arr":NaN'))                              # NaN is not JSON
    L.append(co("inf", ',"equity_method_income":-Infinity'))       # nor Infinity
    L.append(co("big", ',"arr":1e400'))                            # beyond a double
    L.append(co("big-extra", ',"notes":{"x":[1,2e999]}'))          # ... even in a field no rule reads
    L.append(co("big-extra-2", ',"notes":1e400'))
    L.append(co("surrogate-extra", ',"notes":"\\udc00x"'))       # a lone surrogate escape: `json`
    L.append(co("surrogate-name").replace(b'"N"', b'"\\ud800"'))  # (the oracle's reading)
    L.append(co("pair-ok", ',"notes":"\\ud83d\\ude00"'))         # a surrogate pair is fine
    # Nesting (serde_json's limit, the oracle's reading): 127 levels in all pass, 128 do not.
    L.append(co("depth-127", ',"notes":' + "[" * 126 + "]" * 126))
    L.append(co("depth-128", ',"notes":' + "[" * 127 + "]" * 127))
    L.append(co("depth-128-obj", ',"notes":' + '{"a":' * 127 + "1" + "}" * 127))
    L.append(co("depth-strings", ',"notes":["' + "[" * 200 + '"]'))   # brackets in a string
    L.append(co("big-string", ',"notes":"1e400 NaN, }"'))          # fine inside a string
    L.append(co("small", ',"arr":1e-400'))                         # underflow is 0: valid JSON
    L.append(co("bad-utf8").replace(b'"N"', b'"N\xff"'))           # not UTF-8
    for k, bad in enumerate([b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]):
        L.append(co(f"bad-utf8-{k}").replace(b'"N"', b'"N' + bad + b'"'))  # surrogate, overlong, > U+10FFFF, cut
    L.append(co("utf8-max").replace(b'"N"', b'"\xef\xbf\xbf\xf0\x9f\x98\x80"'))  # U+FFFF, an emoji: fine
    L.append(co("cr-inside").replace(b',"name"', b',\r"name"'))  # a \r inside the line is JSON whitespace
    L.append(b"\x0b")                                             # not blank: `json`
    L.append(co("utf8", ',"notes":"Soci\\u00e9t\\u00e9 M\xc3\xbcller"'))  # escapes and UTF-8
    L.append(co("nul") + b"\x00")                                  # text after the value
    L.append(co("two") + b" " + co("objects"))                     # text after the value
    L.append(b"[]")                                                # not an object
    L.append(b"null")
    L.append(b'"x"')
    L.append(b"42")
    L.append(b"{}")                                                # one schema reason per field
    L.append(b'{"id":"dup-key","id":"dup-key-last",' + OK.encode() + b',"country":"gbr","country":"GB"}')
    L.append(b'{"employee_count":-1,"id":"dup-key-2",' + OK.encode() + b"}")  # last value wins: valid
    # Duplicate keys inside owners/segments items: the last one wins there too.
    L.append(co("item-dup", ',"owners":[{"id":"investor","stake":0.1,"stake":1.5}]'))
    L.append(co("item-dup-2", ',"owners":[{"stake":0.1,"id":"nobody","id":"investor"}]'))
    L.append(co("seg-dup", ',"segments":[{"name":"a","revenue":1,"revenue":10000000}]'))
    L.append(co("seg-dup-2", ',"segments":[{"name":7,"revenue":10000000,"name":"a"}],"segments":[{"revenue":1,"revenue":2}]'))
    L.append(co("int-float", ',"employee_count":100.0,"founded_year":199e1'))
    L.append(co("non-int", ',"employee_count":100.5'))             # duplicate key, last wins -> schema
    L.append(co("empty-str", ',"ticker":""'))                      # private with a listing
    L.append(co("num-exchange", ',"exchange":7203'))               # schema, not listing
    L.append(co("pub", ',"public":true,"exchange":"NYSE","ticker":"BRK.B"'))
    L.append(co("pub-bad", ',"public":true,"exchange":"NYSE","ticker":"BRK.AB"'))
    L.append(co("pub-none", ',"public":true'))
    L.append(co("fye-bad", ',"fiscal_year_end":"02-30"'))
    L.append(co("fye-leap", ',"fiscal_year_end":"02-29"'))
    L.append(co("country-esc", ',"country":"\\u0047B"'))            # "GB" written with an escape
    L.append(co("segs", ',"segments":[{"name":"a","revenue":5000000},{"name":"b","revenue":5000000}]'))
    L.append(co("segs-bad", ',"segments":[{"name":"a"}]'))
    L.append(co("segs-empty", ',"segments":[]'))
    L.append(co("flags-bad", ',"plausibility_flags":[1]'))
    L.append(co("owners-not-array", ',"owners":"x"'))
    L.append(co("owners-missing", ',"owners":[{"id":"nobody","stake":0.1}]'))
    L.append(co("owners-schema-bad", ',"owners":[{"id":"nobody","stake":0.1}],"name":7'))
    # A 3-cycle with a tail, and a self-owner.
    L.append(co("cyc-a", ',"owners":[{"id":"cyc-c","stake":0.3}],"equity_method_income":0'))
    L.append(co("cyc-b", ',"owners":[{"id":"cyc-a","stake":0.3}],"equity_method_income":0'))
    L.append(co("cyc-c", ',"owners":[{"id":"cyc-b","stake":0.3}],"equity_method_income":0'))
    L.append(co("cyc-tail", ',"owners":[{"id":"cyc-a","stake":0.1}]'))
    L.append(co("self", ',"owners":[{"id":"self","stake":1.0}]'))
    # A holding with a controlled subsidiary listed twice, and a holdco without one.
    L.append(co("hold", ',"industry":"Holding","plausibility_flags":[],"consolidated_revenue":20000000'))
    L.append(co("hold-sub", ',"owners":[{"id":"hold","stake":0.4},{"id":"hold","stake":0.6}]'))
    L.append(co("holdco", ',"industry":"Holding","plausibility_flags":[]'))
    L.append(co("holdco-tagged", ',"industry":"Holding","plausibility_flags":["holdco-without-operations"]'))
    # Investee without equity-method income; a duplicated id.
    L.append(co("investor"))
    L.append(co("investee", ',"owners":[{"id":"investor","stake":0.2}]'))
    L.append(co("twin"))
    L.append(co("twin", ',"owners":[{"id":"twin","stake":0.9}]'))
    L.append(co("stakes", ',"owners":[{"id":"investor","stake":0.7},{"id":"bom-first","stake":0.6}]'))
    L.append(co("saas", ',"industry":"SaaS","gross_margin":0.6,"arr":200000000,"employee_count":50'))
    L.append(co("rpe", ',"employee_count":0'))
    L.append(b"   " + co("last-no-newline"))                       # leading spaces, no final newline
    return b"\n".join(L), known


def skillc_findings(path):
    p = subprocess.run([SKILLC, "check", path, "--format", "json"], capture_output=True)
    if p.returncode not in (0, 1):
        sys.exit(f"skillc failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    lines, dataset, read, values, classes = {}, set(), None, {}, {}
    for raw in p.stdout.decode().splitlines():
        rec = json.loads(raw)
        if rec["type"] == "entity":
            lines[rec["line"]] = {r["rule"] for r in rec["reasons"]}
        elif rec["type"] == "dataset":
            dataset.add(rec["rule"])
            values[rec["rule"]] = rec.get("values", {})
        elif rec["type"] == "summary":
            read = rec["read"]
            classes = rec.get("counts", {}).get("behaviour_class", {})
    return read, lines, dataset, values, classes


def sql_findings(path, dump):
    p = subprocess.run([sys.executable, RUN_PY, path, "--dump", dump], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"run.py failed ({p.returncode}):\n{p.stderr}")
    print("  sql:", p.stdout.strip().replace("\n", "; "))
    with open(dump, encoding="utf-8") as fh:
        d = json.load(fh)
    return d["read"], {int(k): set(v) for k, v in d["lines"].items() if v}, set(d["dataset"]), d["stats"]


def compare(label, path, dump, known=None):
    """True when skillc and the SQL agree on every line (lines of `known`, the
    known skillc deviations, are reported but do not fail the comparison)."""
    known = known or {}
    print(f"{label}: {path}")
    s_read, s_lines, s_data, s_values, s_classes = skillc_findings(path)
    q_read, q_lines, q_data, q_stats = sql_findings(path, dump)
    print(f"  skillc: {s_read} lines read, {len(s_lines)} with findings, dataset: {sorted(s_data)}")
    diffs = []
    if s_read != q_read:
        diffs.append(f"lines read: skillc {s_read}, sql {q_read}")
    for line in sorted(set(s_lines) | set(q_lines) | set(known)):
        a, b = s_lines.get(line, set()), q_lines.get(line, set())
        if line in known:
            if a != b:
                print(f"  XFAIL line {line}: only skillc {sorted(a - b)}, only sql {sorted(b - a)}"
                      f" -- known skillc deviation from the contract: {known[line]}")
            else:
                print(f"  XPASS line {line}: skillc now agrees ({sorted(a)}); remove it from the known deviations")
        elif a != b:
            diffs.append(f"line {line}: only skillc {sorted(a - b)}, only sql {sorted(b - a)}")
    if s_data != q_data:
        diffs.append(f"dataset: only skillc {sorted(s_data - q_data)}, only sql {sorted(q_data - s_data)}")
    # The populations behind the dataset rules, where skillc reports them: the
    # values of a fired dataset finding (`count(...)`, `share(...)`) and the
    # behaviour_class counts of the summary.
    for rule, n_key, ok_key in (("saas-scale-staffing-share", "big_saas", "big_saas_staffed"),
                                ("fiscal-year-mismatch-share", "multi_groups", "mismatched_groups")):
        vals = s_values.get(rule)
        if vals is None:
            continue
        count = next((v for k, v in vals.items() if k.startswith("count(")), None)
        share = next((v for k, v in vals.items() if k.startswith("share(")), None)
        n, ok = q_stats[n_key], q_stats[ok_key]
        if count is not None and count != n:
            diffs.append(f"{rule}: skillc counts {count}, sql {n}")
        if share is not None and n and abs(share - ok / n) > 1e-12:
            diffs.append(f"{rule}: skillc share {share}, sql {ok}/{n} = {ok / n}")
    for cls, n in q_stats["class_counts"].items():
        if s_classes.get(cls, 0) != n:
            diffs.append(f"behaviour_class {cls}: skillc counts {s_classes.get(cls, 0)}, sql {n}")
    for d in diffs[:50]:
        print("  DIFF", d)
    if len(diffs) > 50:
        print(f"  ... {len(diffs) - 50} more differences")
    ok = not diffs
    print(f"  {'agree' if ok else 'DISAGREE'}: {len(set(s_lines) | set(q_lines))} lines with findings compared")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--companies", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--violations", type=float, default=0.2)
    ap.add_argument("--no-build", action="store_true",
                    help="use target/release/skillc and target/release/examples/gen_corpus as they are")
    ap.add_argument("--keep", help="directory to keep the datasets and dumps in")
    args = ap.parse_args()

    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb"], check=True)

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        tmp = args.keep
    else:
        holder = tempfile.TemporaryDirectory(prefix="skillc-sql-compare-")
        tmp = holder.name
    gen = os.path.join(tmp, "gen.jsonl")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "skillc"], cwd=ROOT, check=True)
    gen_args = ["--companies", str(args.companies), "--seed", str(args.seed),
                "--violations", str(args.violations), "--out", gen]
    if args.no_build:
        subprocess.run([os.path.join(ROOT, "target", "release", "examples", "gen_corpus")] + gen_args, check=True)
    else:
        subprocess.run(["cargo", "run", "--release", "--example", "gen_corpus", "--"] + gen_args, cwd=ROOT, check=True)
    edge = os.path.join(tmp, "edge.jsonl")
    edge_bytes, known = edge_cases()
    with open(edge, "wb") as fh:
        fh.write(edge_bytes)

    results = [
        compare("generated", gen, os.path.join(tmp, "gen.sql.json")),
        compare("edge cases", edge, os.path.join(tmp, "edge.sql.json"), known),
    ]
    passed = sum(results)
    print(f"compare: {passed} passed, {len(results) - passed} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
