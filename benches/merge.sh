#!/usr/bin/env bash
# The loop's merge step, one command: `bash benches/merge.sh`.
#
# For each base size (SIZES, default "100000 1000000"; the generator and seed of
# benches/macro.sh), on a fresh copy of the base each time:
#   index     skillc index BASE, then
#             skillc check BATCH --base BASE --merge --format json      (decides from
#             the index, appends, writes the merged base's index), then
#             skillc check NEXT --base BASE --format json               (the loop's next
#             check: reads that index)
#   json      skillc check BATCH --base BASE --merge --format json --no-index
#             (every check of the dataset as merged reads the whole base), then
#             skillc check NEXT --base BASE --format json               (no index yet:
#             builds it from the JSON)
# BATCH is benches/incremental.sh's batch of 100 candidates (one in ten owned by a base
# company: some break their parent and are held back); NEXT is the same batch under
# new ids. Prints the wall times, the merge's checks, and whether the two merged bases
# are byte-identical (the script stops if they are not). NO_JSON=1 skips the json
# rows (about 45 s a merge at 1M). NO_BUILD=1 uses target/release as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/skillc-bench}"
SIZES="${SIZES:-100000 1000000}"
log() { echo "$@" >&2; }
# The datasets and batches of benches/incremental.sh (REPEAT=1, its batches of 100).
NO_BUILD="${NO_BUILD:-0}" REPEAT=1 SIZES="$SIZES" BATCHES=100 bash benches/incremental.sh >/dev/null
SKILLC="$ROOT/target/release/skillc"
WORK="$BENCH_DIR/merge"
mkdir -p "$WORK"
# secs OUT CMD...: runs CMD with its standard output to OUT, prints the wall seconds.
secs() { python3 -c 'import sys,time,subprocess; t=time.perf_counter(); subprocess.run(sys.argv[2:],stdout=open(sys.argv[1],"w"),stderr=subprocess.DEVNULL); print(f"{time.perf_counter()-t:.2f}")' "$@"; }
echo "| base companies | merge decided from | merge s | checks | merged | held back | next check s |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for n in $SIZES; do
    base="$BENCH_DIR/companies-$n-seed1-v0.05.jsonl"
    batch="$BENCH_DIR/batch-100-for-$n.jsonl"
    sed 's/"id":"/"id":"next-/' "$batch" >"$WORK/next.jsonl"
    for how in index json; do
        [ "$how" = json ] && [ "${NO_JSON:-0}" = 1 ] && continue
        rm -f "$WORK/base-$how.jsonl"*
        cp "$base" "$WORK/base-$how.jsonl"
        flags=()
        if [ "$how" = index ]; then
            "$SKILLC" index "$WORK/base-$how.jsonl" >/dev/null 2>&1
        else
            flags=(--no-index)
        fi
        m=$(secs "$WORK/merge-$how.json" "$SKILLC" check "$batch" --base "$WORK/base-$how.jsonl" --merge --format json "${flags[@]}")
        read -r checks merged held < <(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("type") == "merge":
        print(r["checks"], r["merged"], len(r["held_back"]))' "$WORK/merge-$how.json")
        nxt=$(secs /dev/null "$SKILLC" check "$WORK/next.jsonl" --base "$WORK/base-$how.jsonl" --format json)
        log "  $n from the $how: merge $m s ($checks checks), next check $nxt s"
        echo "| $n | $how | $m | $checks | $merged | $held | $nxt |"
    done
    if [ "${NO_JSON:-0}" != 1 ]; then
        cmp "$WORK/base-index.jsonl" "$WORK/base-json.jsonl" || { log "the merged bases differ"; exit 1; }
        log "  $n: the merged bases are byte-identical"
    fi
done
