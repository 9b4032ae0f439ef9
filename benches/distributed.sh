#!/usr/bin/env bash
# The SQL engines against the native checker: `bash benches/distributed.sh`.
#
# 1. builds release skillc and the corpus generator (NO_BUILD=1 skips);
# 2. generates 100k and 1M companies (5% violations, seed 1; the files of
#    benches/macro.sh, shared through $BENCH_DIR) unless they are there;
# 3. per size, with /usr/bin/time (median wall of $REPEAT runs, largest peak):
#      native        skillc check FILE --format json
#      duckdb        skillc check FILE --format json --engine duckdb
#      duckdb (hand) python3 benches/duckdb/run.py FILE   (rules.sql, written by hand)
#      spark         skillc check FILE --format json --engine spark --spark-master local[2]
#      spark P=k     the same with --partitions k, k in $PARTITIONS (default 1 2 8)
#    The engines run behind one runner server per engine and size
#    (src/sql/runner.py --serve, SKILLC_RUNNER_SOCKET), started fresh and
#    warmed with a trivial request, so the wall time is the check's, not
#    the JVM's start; the start and the per-request overhead are measured
#    on their own (section "Runner overhead"). Peak memory of an engine run
#    is skillc's peak RSS plus the runner server's (python3 and, for Spark,
#    the JVM: the sum of their VmHWM, read after the runs; an upper bound,
#    their peaks need not coincide);
# 4. prints the machine, the commands and Markdown tables (docs/distributed.md).
#
# Environment: BENCH_DIR (datasets; default ${TMPDIR:-/tmp}/skillc-bench),
# REPEAT (default 3), SIZES (default "100000 1000000"), PARTITIONS (default
# "1 2 8"; " " for none), SPARK_MASTER (default local[2]), NO_BUILD=1, SKIP_SPARK=1,
# SKIP_DUCKDB=1 (no DuckDB rows, no graph rounds), SKIP_OVERHEAD=1 (no runner
# overhead section: at 1M it is two more Spark checks).
# Spark's driver memory: PYSPARK_SUBMIT_ARGS (default here
# "--driver-memory 6g pyspark-shell"). MB = 10^6 bytes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/skillc-bench}"
REPEAT="${REPEAT:-3}"
SIZES="${SIZES:-100000 1000000}"
PARTITIONS="${PARTITIONS:-1 2 8}"
SPARK_MASTER="${SPARK_MASTER:-local[2]}"
export PYSPARK_SUBMIT_ARGS="${PYSPARK_SUBMIT_ARGS:---driver-memory 6g pyspark-shell}"
SEED=1
VIOLATIONS=0.05
mkdir -p "$BENCH_DIR"
log() { echo "$@" >&2; }

# --- what it needs -------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    (apt-get update -qq && apt-get install -y -qq time) >&2
fi
if ! python3 -c 'import duckdb, pyspark' 2>/dev/null; then
    log "installing pyspark and duckdb (the versions .ci/run pins)"
    python3 -m pip install --quiet pyspark==4.0.1 duckdb==1.4.1 >&2
fi
if [ "${NO_BUILD:-0}" != 1 ]; then
    log "cargo build --release --bin skillc --example gen_corpus"
    cargo build --release --bin skillc --example gen_corpus >&2
fi
SKILLC="$ROOT/target/release/skillc"
GEN="$ROOT/target/release/examples/gen_corpus"
RUNNER="$ROOT/src/sql/runner.py"
if ! "$SKILLC" check --help | grep -q -- '--engine'; then
    log "this skillc has no \`check --engine\` (the SQL back end, src/sql/): nothing to measure"
    exit 2
fi

# --- datasets --------------------------------------------------------------------
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

# --- the runner server -------------------------------------------------------------
SERVER_PID=""
SERVER_DIR=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        exec 9>&- # its stdin: the server stops when the pipe closes
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    [ -n "$SERVER_DIR" ] && rm -rf "$SERVER_DIR"
    SERVER_DIR=""
}
trap stop_server EXIT
# start_server: a fresh runner server on a new socket, exported as
# SKILLC_RUNNER_SOCKET; its stdin is fd 9, held by this script.
start_server() {
    stop_server
    SERVER_DIR=$(mktemp -d)
    local fifo="$SERVER_DIR/stdin"
    mkfifo "$fifo"
    python3 "$RUNNER" --serve "$SERVER_DIR/sock" <"$fifo" 2>"$SERVER_DIR/log" &
    SERVER_PID=$!
    exec 9>"$fifo"
    export SKILLC_RUNNER_SOCKET="$SERVER_DIR/sock"
    local i
    for ((i = 0; i < 600; i++)); do
        [ -S "$SERVER_DIR/sock" ] && return 0
        sleep 0.1
    done
    log "the runner server did not start:"
    cat "$SERVER_DIR/log" >&2
    exit 1
}
# runner_request JSON: one request through the server; prints its done line.
runner_request() {
    python3 - "$SKILLC_RUNNER_SOCKET" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
s.shutdown(socket.SHUT_WR)
for line in s.makefile("rb"):
    v = json.loads(line)
    if "done" in v or "error" in v:
        print(json.dumps(v))
EOF
}
# server_hwm_kib: the summed peak RSS (VmHWM) of the server and its children.
server_hwm_kib() {
    local total=0 pid hwm
    for pid in $SERVER_PID $(pgrep -P "$SERVER_PID" || true); do
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${hwm:-0}))
    done
    echo "$total"
}

# --- measuring ------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A WALL RSS
# measure NAME N CMD...: $REPEAT runs under /usr/bin/time; the median wall and
# the largest peak RSS (KiB; plus the server's peak when one runs).
measure() {
    local name="$1" n="$2"
    shift 2
    local walls=() maxrss=0 i tf out
    tf=$(mktemp)
    for ((i = 1; i <= REPEAT; i++)); do
        # skillc exits 1 when it rejects lines: only a missing time line is an error.
        /usr/bin/time -o "$tf" -f '%e %M' "$@" >"$BENCH_DIR/out-$name-$n.jsonl" 2>"$tf.err" || true
        out=$(tail -1 "$tf")
        if ! [[ "$out" =~ ^[0-9.]+\ [0-9]+$ ]] || grep -q '^error' "$tf.err"; then
            log "FAILED: $*"
            cat "$tf.err" "$tf" >&2
            exit 1
        fi
        walls+=("${out% *}")
        ((${out#* } > maxrss)) && maxrss=${out#* }
        log "  $name $n run $i: ${out% *} s, ${out#* } KiB (skillc)"
    done
    if [ -n "$SERVER_PID" ]; then
        maxrss=$((maxrss + $(server_hwm_kib)))
    fi
    WALL[$name/$n]=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    RSS[$name/$n]=$maxrss
    rm -f "$tf" "$tf.err"
}
# same_report NAME N: the engine's report has the native one's verdicts.
same_report() {
    local a="$BENCH_DIR/out-native-$2.jsonl" b="$BENCH_DIR/out-$1-$2.jsonl"
    if ! cmp -s <(tail -1 "$a") <(tail -1 "$b"); then
        log "WARNING: $1 on $2 companies: the summary differs from the native one"
        log "  native: $(tail -1 "$a")"
        log "  $1: $(tail -1 "$b")"
        AGREE[$1/$2]="no"
    else
        AGREE[$1/$2]="yes"
    fi
}
declare -A AGREE

# Spark start and per-request overhead, on a fresh server.
declare -A OVERHEAD
if [ "${SKIP_SPARK:-0}" != 1 ] && [ "${SKIP_OVERHEAD:-0}" != 1 ]; then
    log "measuring the Spark session start and the per-request overhead"
    start_server
    t0=$(date +%s.%N)
    first=$(runner_request "{\"id\":0,\"engine\":\"spark\",\"master\":\"$SPARK_MASTER\",\"steps\":[{\"op\":\"collect\",\"name\":\"x\",\"sql\":\"SELECT 1\"}]}")
    t1=$(date +%s.%N)
    OVERHEAD[first]=$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")
    OVERHEAD[start]=$(python3 -c 'import json,sys; print("%.1f" % json.loads(sys.argv[1])["setup_seconds"])' "$first")
    walls=()
    for i in 1 2 3 4 5; do
        t0=$(date +%s.%N)
        runner_request "{\"id\":$i,\"engine\":\"spark\",\"master\":\"$SPARK_MASTER\",\"steps\":[{\"op\":\"collect\",\"name\":\"x\",\"sql\":\"SELECT 1\"}]}" >/dev/null
        t1=$(date +%s.%N)
        walls+=("$(awk "BEGIN {printf \"%.3f\", $t1 - $t0}")")
    done
    OVERHEAD[request]=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n 3p)
    t0=$(date +%s.%N)
    "$SKILLC" check "${FILE[$(echo $SIZES | cut -d' ' -f1)]}" --format json --engine spark --spark-master "$SPARK_MASTER" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    unset SKILLC_RUNNER_SOCKET
    t2=$(date +%s.%N)
    "$SKILLC" check "${FILE[$(echo $SIZES | cut -d' ' -f1)]}" --format json --engine spark --spark-master "$SPARK_MASTER" >/dev/null 2>&1 || true
    t3=$(date +%s.%N)
    OVERHEAD[warm_check]=$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")
    OVERHEAD[cold_check]=$(awk "BEGIN {printf \"%.1f\", $t3 - $t2}")
    stop_server
fi

for n in $SIZES; do
    f="${FILE[$n]}"
    log "measuring $n companies ($f)"
    unset SKILLC_RUNNER_SOCKET
    measure native "$n" "$SKILLC" check "$f" --format json
    if [ "${SKIP_DUCKDB:-0}" != 1 ]; then
        measure duckdb-hand "$n" python3 "$ROOT/benches/duckdb/run.py" "$f"
        start_server
        runner_request '{"id":0,"engine":"duckdb","steps":[{"op":"collect","name":"x","sql":"SELECT 1"}]}' >/dev/null
        measure duckdb "$n" "$SKILLC" check "$f" --format json --engine duckdb
        same_report duckdb "$n"
        stop_server
    fi
    if [ "${SKIP_SPARK:-0}" != 1 ]; then
        start_server
        runner_request "{\"id\":0,\"engine\":\"spark\",\"master\":\"$SPARK_MASTER\",\"steps\":[{\"op\":\"collect\",\"name\":\"x\",\"sql\":\"SELECT 1\"}]}" >/dev/null
        measure spark "$n" "$SKILLC" check "$f" --format json --engine spark --spark-master "$SPARK_MASTER"
        same_report spark "$n"
        stop_server
        for k in $PARTITIONS; do
            start_server
            runner_request "{\"id\":0,\"engine\":\"spark\",\"master\":\"$SPARK_MASTER\",\"steps\":[{\"op\":\"collect\",\"name\":\"x\",\"sql\":\"SELECT 1\"}]}" >/dev/null
            measure "spark-p$k" "$n" "$SKILLC" check "$f" --format json --engine spark --spark-master "$SPARK_MASTER" --partitions "$k"
            same_report "spark-p$k" "$n"
            stop_server
        done
    fi
done

# --- graph rounds ----------------------------------------------------------------------
# Groups of size G whose owner chain is H deep (a chain root -> ... -> H levels
# down, the other members owned by the root), 20000 companies in all; with
# cycle 1 the deepest member also owns the root (a cycle of H + 1). The
# rounds of each iterate come from the runner server's log.
GRAPHS="${GRAPHS:-2:1:0 9:8:0 100:8:0 1000:8:0 100:32:0 1000:128:0 9:8:1 100:32:1}"
declare -A ROUNDS
gen_graph() {
    python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
g, h, cycle, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
total = 20000
base = {"name": "", "industry": "Manufacturing", "country": "GB", "founded_year": 1990, "public": False,
        "fiscal_year_end": "12-31", "currency": "GBP", "employee_count": 500, "standalone_revenue": 100000000,
        "consolidated_revenue": 100000000, "gross_margin": 0.3}
with open(out, "w") as f:
    n = group = 0
    while n + g <= total:
        ids = ["g%d-c%d" % (group, i) for i in range(g)]
        for i, cid in enumerate(ids):
            rec = dict(base, id=cid, name=cid + " Ltd")
            if 1 <= i <= h:
                rec["owners"] = [{"id": ids[i - 1], "stake": 0.6}]
            elif i > h:
                rec["owners"] = [{"id": ids[0], "stake": 0.6}]
            elif i == 0 and cycle:
                rec["owners"] = [{"id": ids[h], "stake": 0.6}]
            f.write(json.dumps(rec) + "\n")
        n += g
        group += 1
EOF
}
[ "${SKIP_DUCKDB:-0}" = 1 ] && GRAPHS=""
log "measuring the graph's rounds"
start_server
for spec in $GRAPHS; do
    IFS=: read -r g h c <<<"$spec"
    gf="$BENCH_DIR/graph-g$g-h$h-c$c.jsonl"
    [ -s "$gf" ] || gen_graph "$g" "$h" "$c" "$gf"
    "$SKILLC" check "$gf" --format json --engine duckdb >/dev/null 2>&1 || true
    ROUNDS[$spec]=$(grep ' (duckdb): ' "$SERVER_DIR/log" | tail -1 | sed 's/.*rounds //')
done
stop_server

# --- report ----------------------------------------------------------------------------
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
echo "## Machine"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available"
echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load average (1, 5, 15 min) before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME"); $(python3 --version); duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)'); pyspark $(python3 -c 'import pyspark; print(pyspark.__version__)'); $(java -version 2>&1 | head -1)"
echo "- skillc at $(git rev-parse --short HEAD 2>/dev/null || echo '?'); Spark master $SPARK_MASTER; PYSPARK_SUBMIT_ARGS=\"$PYSPARK_SUBMIT_ARGS\""
echo
echo "## Commands"
echo
echo '```'
echo "bash benches/distributed.sh   # REPEAT=$REPEAT, median wall, largest peak"
echo "skillc check FILE --format json [--engine duckdb | --engine spark --spark-master $SPARK_MASTER [--partitions K]]"
echo "python3 benches/duckdb/run.py FILE"
echo '```'
echo
echo "## Wall time and peak memory"
echo
echo "| engine | companies | MB | wall s | peak MB | companies/s | x native | same summary |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
row() {
    local name="$1" label="$2" n="$3"
    [ -n "${WALL[$name/$n]:-}" ] || return 0
    local w="${WALL[$name/$n]}" r="${RSS[$name/$n]}"
    echo "| $label | $n | $(calc '%.0f' "${BYTES[$n]} / 1e6") | $w | $(calc '%.0f' "$r * 1024 / 1e6") | $(calc '%.0f' "$n / $w") | $(calc '%.1f' "$w / ${WALL[native/$n]}") | ${AGREE[$name/$n]:--} |"
}
for n in $SIZES; do
    row native "native (skillc, 2 threads)" "$n"
    row duckdb "DuckDB, generated SQL" "$n"
    row duckdb-hand "DuckDB, hand-written rules.sql" "$n"
    row spark "Spark $SPARK_MASTER" "$n"
    for k in $PARTITIONS; do row "spark-p$k" "Spark $SPARK_MASTER, $k partitions" "$n"; done
done
[ "${SKIP_DUCKDB:-0}" = 1 ] || echo
[ "${SKIP_DUCKDB:-0}" = 1 ] || echo "- generated / hand-written SQL on DuckDB: $(for n in $SIZES; do printf '%s companies %s; ' "$n" "$(calc '%.2f' "${WALL[duckdb/$n]} / ${WALL[duckdb-hand/$n]}")"; done)"
echo
echo "## Graph rounds (DuckDB; the rounds are the SQL's, the same on Spark)"
echo
echo "| group size | depth | cycle | rounds per iterate (wcc: groups, core: trimming, scc: colouring) |"
echo "|---:|---:|---|---|"
for spec in $GRAPHS; do
    IFS=: read -r g h c <<<"$spec"
    echo "| $g | $h | $([ "$c" = 1 ] && echo "yes, length $((h + 1))" || echo no) | ${ROUNDS[$spec]} |"
done
if [ "${SKIP_SPARK:-0}" != 1 ] && [ "${SKIP_OVERHEAD:-0}" != 1 ]; then
    echo
    echo "## Runner overhead (Spark $SPARK_MASTER)"
    echo
    echo "| what | seconds |"
    echo "|---|---:|"
    echo "| SparkSession start (setup_seconds of the first request) | ${OVERHEAD[start]} |"
    echo "| first request, wall (start + first query) | ${OVERHEAD[first]} |"
    echo "| a later request (SELECT 1) through the server, median of 5 | ${OVERHEAD[request]} |"
    echo "| check of $(echo $SIZES | cut -d' ' -f1) companies through the warm server | ${OVERHEAD[warm_check]} |"
    echo "| the same check with no server (skillc starts the runner and Spark) | ${OVERHEAD[cold_check]} |"
fi
