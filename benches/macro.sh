#!/usr/bin/env bash
# Macro benchmark of `skillc check`: one command, `bash benches/macro.sh`.
#
# 1. builds release: skillc, the corpus generator and (when examples/parse_baseline.rs
#    exists) the parse baseline;
# 2. generates 100k and 1M companies (5% violations, seed 1) into $BENCH_DIR
#    (default ${TMPDIR:-/tmp}/skillc-bench), unless they are already there;
# 3. for each size, measures with /usr/bin/time -f '%e %M' (wall seconds, peak RSS):
#      skillc   target/release/skillc check FILE --format json > /dev/null
#      parse    target/release/examples/parse_baseline FILE   (serde_json::Value per
#               line, rayon, no rule; skipped when the example does not exist)
#      sonic    target/release/examples/parse_baseline FILE --parser sonic
#               (sonic_rs::Value per line, the same chunks and threads)
#      sonic-lazy  ... --parser sonic-lazy (sonic_rs::to_object_iter, every value
#               skipped with sonic-rs's validating skip: the floor of a reader that
#               builds nothing)
#      duckdb   python3 benches/duckdb/run.py FILE            (every reference rule as
#               SQL, 2 threads; see benches/duckdb/rules.sql)
#    each $REPEAT times (default 3), reporting the median wall time and the largest RSS;
#    plus skillc --threads 1 on the 1M file (the 2-thread speedup);
# 4. prints the machine, the commands and Markdown tables: throughput, the ratios
#    skillc/parse and duckdb/skillc, the 100k -> 1M scaling per company.
#
# Environment: BENCH_DIR (datasets), REPEAT (runs per measurement), SIZES (default
# "100000 500000 1000000"; the 1-thread row uses the largest size; scaling is reported
# between consecutive sizes), NO_DUCKDB=1 (skip DuckDB: the 10M run), NO_1THREAD=1
# (skip the 1-thread row), NO_BUILD=1 (use the
# binaries already in target/release). MB = 10^6 bytes, for
# file sizes and RSS alike. Installs what it lacks: python package duckdb (pip),
# GNU time (apt-get).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/skillc-bench}"
REPEAT="${REPEAT:-3}"
SIZES="${SIZES:-100000 500000 1000000}"
SEED=1
VIOLATIONS=0.05
mkdir -p "$BENCH_DIR"

log() { echo "$@" >&2; }

# --- what it needs ----------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    (apt-get update -qq && apt-get install -y -qq time) >&2
fi
if [ "${NO_DUCKDB:-0}" != 1 ] && ! python3 -c 'import duckdb' 2>/dev/null; then
    log "installing the duckdb python package"
    python3 -m pip install --quiet duckdb >&2
fi

# --- build -------------------------------------------------------------------
targets=(--example gen_corpus --bin skillc)
have_parse=0
if [ -f examples/parse_baseline.rs ]; then
    targets+=(--example parse_baseline)
    have_parse=1
fi
if [ "${NO_BUILD:-0}" = 1 ]; then
    log "NO_BUILD=1: using the binaries already in target/release"
else
    log "cargo build --release ${targets[*]}"
    cargo build --release "${targets[@]}" >&2
fi
SKILLC="$ROOT/target/release/skillc"
GEN="$ROOT/target/release/examples/gen_corpus"
PARSE="$ROOT/target/release/examples/parse_baseline"
[ -x "$PARSE" ] || have_parse=0

# --- datasets ------------------------------------------------------------------
declare -A FILE BYTES
for n in $SIZES; do
    f="$BENCH_DIR/companies-$n-seed$SEED-v$VIOLATIONS.jsonl"
    if [ ! -s "$f" ]; then
        log "generating $f"
        "$GEN" --companies "$n" --seed "$SEED" --violations "$VIOLATIONS" --out "$f.tmp"
        mv "$f.tmp" "$f"
    fi
    FILE[$n]="$f"
    BYTES[$n]=$(stat -c %s "$f")
done
LARGEST=$(for n in $SIZES; do echo "$n"; done | sort -n | tail -1)

# --- measuring -------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU time the hypervisor gave to other guests ("steal", /proc/stat) over the
# measurements: on a shared virtual machine it slows every run, and more so
# the runs on both cores; a run with much steal is not comparable.
cpu_ticks() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
read -r STEAL_BEFORE TOTAL_BEFORE < <(cpu_ticks)
# measure NAME N CMD...: runs CMD $REPEAT times under /usr/bin/time; records the
# median wall time and the largest peak RSS (KiB) in WALL[NAME/N] and RSS[NAME/N].
declare -A WALL RSS
measure() {
    local name="$1" n="$2"
    shift 2
    local walls=() maxrss=0 i tf out
    tf=$(mktemp)
    for ((i = 1; i <= REPEAT; i++)); do
        # skillc exits 1 when it rejects lines: only a missing time line is an error.
        local sink=/dev/null
        [ "$name" = duckdb ] && sink="$BENCH_DIR/duckdb-$n.out"
        /usr/bin/time -o "$tf" -f '%e %M' "$@" >"$sink" 2>"$tf.err" || true
        [ "$name" = duckdb ] && cp "$tf.err" "$BENCH_DIR/duckdb-$n.stages"
        out=$(tail -1 "$tf")
        if ! [[ "$out" =~ ^[0-9.]+\ [0-9]+$ ]]; then
            log "FAILED: $*"
            cat "$tf.err" "$tf" >&2
            rm -f "$tf" "$tf.err"
            exit 1
        fi
        walls+=("${out% *}")
        ((${out#* } > maxrss)) && maxrss=${out#* }
        log "  $name $n run $i: ${out% *} s, ${out#* } KiB"
    done
    WALL[$name/$n]=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    RSS[$name/$n]=$maxrss
    rm -f "$tf" "$tf.err"
}

for n in $SIZES; do
    f="${FILE[$n]}"
    log "measuring $n companies ($f)"
    measure skillc "$n" "$SKILLC" check "$f" --format json
    if [ "$have_parse" = 1 ]; then
        measure parse "$n" "$PARSE" "$f"
        measure sonic "$n" "$PARSE" "$f" --parser sonic
        measure sonic-lazy "$n" "$PARSE" "$f" --parser sonic-lazy
    fi
    [ "${NO_DUCKDB:-0}" = 1 ] || measure duckdb "$n" python3 "$ROOT/benches/duckdb/run.py" "$f" --stages
done
[ "${NO_1THREAD:-0}" = 1 ] || measure skillc-1thread "$LARGEST" "$SKILLC" check "${FILE[$LARGEST]}" --format json --threads 1

# --- report ------------------------------------------------------------------------
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

echo "## Machine"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available"
echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load average (1, 5, 15 min) before the measurements: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r STEAL_AFTER TOTAL_AFTER < <(cpu_ticks)
echo "- CPU steal during the measurements: $(awk "BEGIN { t = $TOTAL_AFTER - $TOTAL_BEFORE; printf \"%.1f%%\", (t > 0 ? 100 * ($STEAL_AFTER - $STEAL_BEFORE) / t : 0) }") of the cores' time went to other guests"
echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "- $(rustc --version); $(python3 --version); duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null || echo '(not run)')"
echo "- skillc at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src skills 2>/dev/null || echo ' (with uncommitted changes)')"
echo
echo "## Commands"
echo
echo '```'
echo "bash benches/macro.sh   # REPEAT=$REPEAT, median wall, largest RSS"
for n in $SIZES; do
    echo "$GEN --companies $n --seed $SEED --violations $VIOLATIONS --out ${FILE[$n]}"
done
echo "/usr/bin/time -f '%e %M' target/release/skillc check FILE --format json > /dev/null"
[ "$have_parse" = 1 ] && echo "/usr/bin/time -f '%e %M' target/release/examples/parse_baseline FILE [--parser sonic|sonic-lazy]"
echo "/usr/bin/time -f '%e %M' python3 benches/duckdb/run.py FILE --stages"
echo "/usr/bin/time -f '%e %M' target/release/skillc check ${FILE[$LARGEST]} --format json --threads 1"
echo '```'
echo
echo "## Throughput"
echo
echo "| what | companies | MB | wall s | peak RSS MB | MB/s | companies/s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row() {
    local name="$1" label="$2" n="$3"
    [ -n "${WALL[$name/$n]:-}" ] || return 0
    local w="${WALL[$name/$n]}" r="${RSS[$name/$n]}" mb
    mb=$(calc '%.1f' "${BYTES[$n]} / 1e6")
    echo "| $label | $n | $mb | $w | $(calc '%.0f' "$r * 1024 / 1e6") | $(calc '%.1f' "$mb / $w") | $(calc '%.0f' "$n / $w") |"
}
for n in $SIZES; do
    row skillc "skillc check (2 threads)" "$n"
    row parse "parse baseline (serde_json::Value, rayon)" "$n"
    row sonic "parse baseline (sonic_rs::Value, rayon)" "$n"
    row sonic-lazy "parse baseline (sonic-rs lazy skip, rayon)" "$n"
    row duckdb "DuckDB SQL, every rule (2 threads)" "$n"
done
row skillc-1thread "skillc check --threads 1" "$LARGEST"
[ "$have_parse" = 1 ] || { echo; echo "(parse baseline skipped: examples/parse_baseline.rs does not exist)"; }
echo
echo "## Ratios (wall time) and memory"
echo
echo "| companies | skillc / serde_json parse | skillc / sonic parse | skillc / sonic lazy skip | duckdb / skillc | skillc peak RSS / input |"
echo "|---:|---:|---:|---:|---:|---:|"
ratio() { if [ -n "${WALL[$1/$3]:-}" ] && [ -n "${WALL[$2/$3]:-}" ]; then calc '%.2f' "${WALL[$1/$3]} / ${WALL[$2/$3]}"; else echo "-"; fi; }
for n in $SIZES; do
    echo "| $n | $(ratio skillc parse "$n") | $(ratio skillc sonic "$n") | $(ratio skillc sonic-lazy "$n") | $(ratio duckdb skillc "$n") | $(calc '%.3f' "${RSS[skillc/$n]} * 1024 / ${BYTES[$n]}") |"
done
echo
if [ -s "$BENCH_DIR/duckdb-$LARGEST.out" ] && [ "${NO_DUCKDB:-0}" != 1 ]; then
    echo "- DuckDB, last run on $LARGEST companies: $(head -1 "$BENCH_DIR/duckdb-$LARGEST.out")"
    echo "  (its own wall time, inside Python: $(sed -n 's/^wall //p' "$BENCH_DIR/duckdb-$LARGEST.out"); per stage of rules.sql:"
    sed -n 's/^ *stage \([a-z_]*\) *\([0-9.]*\) s$/\1 \2 s/p' "$BENCH_DIR/duckdb-$LARGEST.stages" | paste -sd, - | sed 's/,/, /g; s/^/  /; s/$/)/'
fi
[ -z "${WALL[skillc-1thread/$LARGEST]:-}" ] || echo "- skillc 2-thread speedup on $LARGEST companies: $(calc '%.2f' "${WALL[skillc-1thread/$LARGEST]} / ${WALL[skillc/$LARGEST]}")x (--threads 1: ${WALL[skillc-1thread/$LARGEST]} s, 2 threads: ${WALL[skillc/$LARGEST]} s)"
SORTED=$(for n in $SIZES; do echo "$n"; done | sort -n)
PREV=""
for n in $SORTED; do
    if [ -n "$PREV" ]; then
        echo "- scaling $PREV -> $n companies ($(calc '%.1f' "$n / $PREV")x): wall time x (per company: 1.00 = linear)"
        for name in skillc parse sonic sonic-lazy duckdb; do
            [ -n "${WALL[$name/$PREV]:-}" ] || continue
            echo "  - $name: $(calc '%.2f' "${WALL[$name/$n]} / ${WALL[$name/$PREV]}")x ($(calc '%.2f' "(${WALL[$name/$n]} / $n) / (${WALL[$name/$PREV]} / $PREV)"))"
        done
    fi
    PREV=$n
done
