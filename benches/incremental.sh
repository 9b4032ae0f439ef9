#!/usr/bin/env bash
# Incremental benchmark of `skillc check NEW --base BASE`: one command,
# `bash benches/incremental.sh`.
#
# 1. builds release: skillc and the corpus generator;
# 2. generates the bases (100k and 1M companies, 5% violations, seed 1: the files
#    of benches/macro.sh, reused when they are in $BENCH_DIR) and, per base, batches
#    of 10, 100 and 1000 candidates: the generator's seed 2 with every id prefixed
#    (`b2-`, so they are new companies), and one candidate in ten given a 30% owner
#    drawn from the base (so batches join existing groups);
# 3. builds each base's index once (`skillc index BASE`, timed) and measures, each
#    $REPEAT times (median wall, largest RSS, /usr/bin/time):
#      full     skillc check NEW --base BASE --format json --no-index  (the base's JSON read)
#      indexed  skillc check NEW --base BASE --format json             (its index read)
#      alone    skillc check NEW --format json                         (the batch without a base)
#    and checks that `full` and `indexed` write the same bytes (`cmp`);
# 4. prints the machine, the commands and a Markdown table.
#
# Environment: BENCH_DIR (datasets; default ${TMPDIR:-/tmp}/skillc-bench), REPEAT
# (default 5), SIZES (default "100000 1000000"), BATCHES (default "10 100 1000"),
# NO_BUILD=1 (use the binaries already in target/release). The machine is shared:
# timings move with its load, so compare the columns of one run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/skillc-bench}"
REPEAT="${REPEAT:-5}"
SIZES="${SIZES:-100000 1000000}"
BATCHES="${BATCHES:-10 100 1000}"
mkdir -p "$BENCH_DIR"
log() { echo "$@" >&2; }

if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    (apt-get update -qq && apt-get install -y -qq time) >&2
fi
if [ "${NO_BUILD:-0}" != 1 ]; then
    log "cargo build --release --bin skillc --example gen_corpus"
    cargo build --release --bin skillc --example gen_corpus >&2
fi
SKILLC="$ROOT/target/release/skillc"
GEN="$ROOT/target/release/examples/gen_corpus"

# --- datasets ------------------------------------------------------------------
declare -A BASE
for n in $SIZES; do
    f="$BENCH_DIR/companies-$n-seed1-v0.05.jsonl"
    if [ ! -s "$f" ]; then
        log "generating $f"
        "$GEN" --companies "$n" --seed 1 --violations 0.05 --out "$f.tmp"
        mv "$f.tmp" "$f"
    fi
    BASE[$n]="$f"
done
POOL="$BENCH_DIR/candidates-seed2.jsonl"
[ -s "$POOL" ] || "$GEN" --companies 2000 --seed 2 --violations 0.05 --out "$POOL"
declare -A BATCH
for n in $SIZES; do
    for k in $BATCHES; do
        out="$BENCH_DIR/batch-$k-for-$n.jsonl"
        python3 - "$POOL" "${BASE[$n]}" "$k" "$out" <<'EOF'
import json, random, sys
pool, base, k, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(k)
# Base ids to own a candidate: from the first 20,000 lines (enough to choose from).
ids = []
with open(base, encoding="utf-8", errors="surrogateescape") as f:
    for i, line in enumerate(f):
        if i >= 20000:
            break
        try:
            ids.append(json.loads(line)["id"])
        except Exception:
            pass
lines = []
with open(pool, encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        if len(lines) >= k:
            break
        if not line.strip():
            continue
        line = line.replace('"id":"', '"id":"b2-').replace('"id": "', '"id": "b2-')
        try:
            record = json.loads(line)
        except Exception:
            lines.append(line.rstrip("\r\n"))
            continue
        if len(lines) % 10 == 0 and isinstance(record, dict) and not record.get("owners"):
            record["owners"] = [{"id": rng.choice(ids), "stake": 0.3}]
            line = json.dumps(record, ensure_ascii=False)
        lines.append(line.rstrip("\r\n"))
with open(out, "w", encoding="utf-8", errors="surrogateescape") as f:
    f.write("\n".join(lines) + "\n")
EOF
        BATCH[$n/$k]="$out"
    done
done

# --- measuring -------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A WALL RSS RUNS
measure() {
    local key="$1"
    shift
    local walls=() maxrss=0 i tf out
    tf=$(mktemp)
    for ((i = 1; i <= REPEAT; i++)); do
        /usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>"$tf.err" || true
        out=$(tail -1 "$tf")
        if ! [[ "$out" =~ ^[0-9.]+\ [0-9]+$ ]]; then
            log "FAILED: $*"
            cat "$tf.err" "$tf" >&2
            exit 1
        fi
        walls+=("${out% *}")
        ((${out#* } > maxrss)) && maxrss=${out#* }
    done
    WALL[$key]=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    RSS[$key]=$maxrss
    RUNS[$key]="${walls[*]}"
    log "  $key: ${WALL[$key]} s median of ${walls[*]}, ${maxrss} KiB"
    rm -f "$tf" "$tf.err"
}
# Millisecond wall times: /usr/bin/time prints 10 ms steps, too coarse here.
ms() {
    python3 - "$@" <<'EOF'
import statistics, subprocess, sys, time
repeat, cmd = int(sys.argv[1]), sys.argv[2:]
walls = []
for _ in range(repeat):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls.append((time.perf_counter() - t) * 1e3)
print(f"{statistics.median(walls):.1f} {' '.join(f'{w:.1f}' for w in walls)}")
EOF
}
declare -A MS MSRUNS
measure_ms() {
    local key="$1" out
    shift
    out=$(ms "$REPEAT" "$@")
    MS[$key]="${out%% *}"
    MSRUNS[$key]="${out#* }"
    log "  $key: ${MS[$key]} ms median of ${MSRUNS[$key]}"
}

declare -A BUILD IDXMB
for n in $SIZES; do
    b="${BASE[$n]}"
    log "indexing $b"
    t0=$(date +%s.%N)
    "$SKILLC" index "$b" >&2
    t1=$(date +%s.%N)
    BUILD[$n]=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
    IDXMB[$n]=$(awk "BEGIN { printf \"%.1f\", $(stat -c %s "$b.skillc-index") / 1e6 }")
    for k in $BATCHES; do
        c="${BATCH[$n/$k]}"
        log "base $n, batch $k"
        "$SKILLC" check "$c" --base "$b" --format json --no-index >"$BENCH_DIR/full.out" 2>/dev/null || true
        "$SKILLC" check "$c" --base "$b" --format json >"$BENCH_DIR/indexed.out" 2>/dev/null || true
        if ! cmp -s "$BENCH_DIR/full.out" "$BENCH_DIR/indexed.out"; then
            log "DIFFERENT OUTPUT: base $n, batch $k"
            exit 1
        fi
        measure_ms "full/$n/$k" "$SKILLC" check "$c" --base "$b" --format json --no-index
        measure_ms "indexed/$n/$k" "$SKILLC" check "$c" --base "$b" --format json
        measure_ms "alone/$n/$k" "$SKILLC" check "$c" --format json
        measure "rss/$n/$k" "$SKILLC" check "$c" --base "$b" --format json
    done
done

# --- report ------------------------------------------------------------------------
echo "## Machine"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available"
echo "- load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- skillc at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src skills 2>/dev/null || echo ' (with uncommitted changes)')"
echo
echo "## Commands"
echo
echo '```'
echo "bash benches/incremental.sh   # REPEAT=$REPEAT, median wall"
echo "target/release/skillc index BASE"
echo "target/release/skillc check BATCH --base BASE --format json --no-index   # full"
echo "target/release/skillc check BATCH --base BASE --format json              # indexed"
echo "target/release/skillc check BATCH --format json                          # alone"
echo '```'
echo
echo "| base companies | index build s | index MB | batch | full ms | indexed ms | alone ms | indexed / alone | full / indexed | indexed peak RSS MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $SIZES; do
    for k in $BATCHES; do
        f="${MS[full/$n/$k]}" i="${MS[indexed/$n/$k]}" a="${MS[alone/$n/$k]}"
        echo "| $n | ${BUILD[$n]} | ${IDXMB[$n]} | $k | $f | $i | $a | $(awk "BEGIN { printf \"%.1f\", $i / $a }") | $(awk "BEGIN { printf \"%.1f\", $f / $i }") | $(awk "BEGIN { printf \"%.0f\", ${RSS[rss/$n/$k]} * 1024 / 1e6 }") |"
    done
done
echo
echo "Individual runs (ms):"
for n in $SIZES; do
    for k in $BATCHES; do
        echo "- base $n, batch $k: full ${MSRUNS[full/$n/$k]}; indexed ${MSRUNS[indexed/$n/$k]}; alone ${MSRUNS[alone/$n/$k]}"
    done
done
