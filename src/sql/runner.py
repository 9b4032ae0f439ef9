"""skillc's engine runner: runs a plan of SQL steps on DuckDB or Apache Spark.

skillc compiles skills to SQL (src/sql/) and hands the statements to this
script; the script knows nothing about companies or rules, it only loads
files, runs SQL and streams rows back. skillc embeds this file (include_str!)
and starts it as `python3 -c <source>`; `python3 src/sql/runner.py` is the
same program.

Modes
-----
    runner.py                   requests on stdin, responses on stdout
    runner.py --requests IN --responses OUT
                                the same, through files: for spark-submit,
                                which gives its Python neither stdin nor a
                                stdout of its own (requests with "master":
                                null then run on spark-submit's --master)
    runner.py --serve SOCKET    a Unix-socket server: one engine session per
                                engine, kept across connections (a SparkSession
                                is created once, on the first Spark request);
                                connections are served one after another with
                                the same line protocol. When its stdin is a
                                pipe, the server exits when the pipe closes (so
                                a test harness that holds the write end never
                                leaves a server behind); SIGTERM/SIGINT also
                                stop it. skillc uses the server named by
                                SKILLC_RUNNER_SOCKET instead of starting Python.

Only protocol lines go to stdout (file descriptor 1 is pointed at stderr at
start, so nothing a library or the JVM prints can corrupt the protocol); logs
go to stderr. Spark's log4j output is cut to fatal errors (every failure
reaches the client as an error response); SKILLC_RUNNER_DEBUG=1 keeps Spark's
own logging and logs each failure's Python traceback.

Protocol (JSON Lines, UTF-8, one object per line)
------------------------------------------------
Request:
    {"id": n, "engine": "duckdb" | "spark", "master": "local[*]" | URL | null,
     "partitions": k | null, "steps": [step, ...]}

`master` is Spark's master URL (null: whatever spark-submit or the Spark
defaults give, local[*] when run directly). A different master than the live
session's stops that session and starts a new one. `partitions` (Spark only;
DuckDB ignores it): every load_jsonl is repartitioned to k partitions and
spark.sql.shuffle.partitions is k for the request (adaptive coalescing off,
so the k is what runs).

Steps run in order; view names match [A-Za-z_][A-Za-z0-9_]*:
    {"op": "load_jsonl", "view": V, "path": P, "columns": [[name, type], ...]}
        V = newline-delimited JSON at P read with exactly this schema (type is
        the dialect's type string: BIGINT, DOUBLE, VARCHAR/STRING,
        STRUCT<...>, ...). Lazy (a view over the file): materialize it when
        it is read more than once. A typed loader, not a validator: keys
        missing from `columns` are ignored, absent and null both give NULL,
        blank lines give no row; a line that is not JSON or a value that does
        not convert to its column's type fails the request on both engines
        (Spark runs in FAILFAST mode, lines split at "\\n" only), at the load
        (DuckDB reads while it binds the view) or at the first step that
        reads the view. DuckDB's reader lets an object run on across a
        newline. Engine
        differences the caller must handle itself: DuckDB rejects an object
        with a duplicate key; both engines turn a number or an object into
        text for a string column.
    {"op": "load_text", "view": V, "path": P}
        V(line_no BIGINT, text STRING, valid_utf8 BOOLEAN): one row per
        physical line of the single file P, numbered from 1. Lines end at
        "\\n"; one "\\r" before it is dropped; a final "\\n" ends the last
        line (it does not start an empty one), a last line without "\\n"
        still counts; empty lines are rows with text ''. This is exactly how
        skillc's native reader numbers lines. Invalid UTF-8 sequences are
        replaced by U+FFFD in `text` and mark the line valid_utf8 = false.
        DuckDB: a temp table (the file is read whole); Spark: a lazy view
        (one pass to count lines per partition when the step runs).
    {"op": "sql", "sql": S}
        runs statement S (its rows, if any, are discarded).
    {"op": "materialize", "view": V, "sql": S}
        evaluates S now and keeps the result as V, cutting lineage (DuckDB:
        a temp table; Spark: a local checkpoint). A materialization V replaces
        is released.
    {"op": "iterate", "view": V, "init": S0, "step": S, "changed": C,
     "max_rounds": N}
        materializes S0 as V, then per round: the current V is also visible
        as V_prev, S (reading V_prev) is materialized as the new V, and C (one
        row, one integer column, reading V and V_prev) says how many rows
        changed. Stops when C gives 0 (the rounds count includes that last
        round); an error when N rounds pass without it. V_prev is gone
        afterwards.
    {"op": "collect", "name": R, "sql": S}
        streams S's rows back (DuckDB: fetchmany batches; Spark:
        toLocalIterator, so one partition at a time sits in the driver).

Responses:
    {"id": n, "result": R, "row": [v, ...]}          one per collected row
    {"id": n, "done": true, "rounds": {V: k, ...}, "seconds": {key: s, ...},
     "setup_seconds": s}
    {"id": n, "error": "message", "step": i | null}  instead of "done"

`seconds` has one entry per step: the view name for load/materialize/
iterate, the result name for collect, the step index (as a string) for sql;
a key already used gets "#i" appended. `setup_seconds` is the time before the
first step: the engine session's start when this request started it (Spark:
once per runner) and the per-request reset. `step` in an error is the 0-based
index of the failing step (null when the request itself is malformed; then
`id` is null too if it could not be read).

Values in rows: NULL -> null; booleans; integers of any width -> JSON
integers; finite floating-point numbers -> the shortest JSON number that
reads back to the same double; non-finite ones -> the strings "NaN",
"Infinity", "-Infinity"; DECIMAL -> a JSON number with the decimal's exact
digits (never through a double); strings as they are; lists and arrays ->
arrays; structs -> objects (field order kept); maps -> objects (keys as
text); dates and timestamps -> ISO 8601 strings; binary -> lowercase hex
strings; anything else -> its str().

Engine sessions: DuckDB gets a fresh in-memory connection per request, so no
view or table outlives its request. Spark's session is kept, and each request
starts clean: runtime SQL settings are RESET, temporary views dropped and
cached or checkpointed data released. Spark driver settings (memory, extra
jars) come from the usual PYSPARK_SUBMIT_ARGS / spark-defaults.conf.

The runner never prints a Python traceback on stdout: every failure becomes
an error response (the traceback goes to stderr), and a bad request line is
answered, not waited on.
"""

import decimal
import functools
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import traceback
import uuid

dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
VIEW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ERROR_CHARS = 4000
FETCH_BATCH = 4096
READ_CHUNK = 1 << 24

LOG4J2_PROPERTIES = """\
rootLogger.level = fatal
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = fatal
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = fatal
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = fatal
logger.querycontext.name = SQLQueryContextLogger
logger.querycontext.level = off
"""


def log(message):
    sys.stderr.write("skillc runner: %s\n" % message)
    sys.stderr.flush()


class StepError(Exception):
    """A failure the runner explains itself (no engine exception behind it)."""


# --- values -----------------------------------------------------------------

_PLAIN = (str, int, float, type(None), bool)


class _NeedsSlowPath(Exception):
    pass


def _refuse(_value):
    raise _NeedsSlowPath()


def _float_text(x):
    if math.isnan(x):
        return '"NaN"'
    if math.isinf(x):
        return '"Infinity"' if x > 0 else '"-Infinity"'
    return repr(x)


def _value_text(v):
    """The JSON text of one engine value (see the module docstring)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, str):
        return dumps(v)
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            return _float_text(float(v))
        return str(v)
    fields = getattr(v, "__fields__", None)
    if fields is not None and isinstance(v, tuple):
        return "{%s}" % ",".join("%s:%s" % (dumps(str(k)), _value_text(x)) for k, x in zip(fields, v))
    if isinstance(v, (list, tuple)):
        return "[%s]" % ",".join(_value_text(x) for x in v)
    if isinstance(v, dict):
        return "{%s}" % ",".join("%s:%s" % (_key_text(k), _value_text(x)) for k, x in v.items())
    if isinstance(v, (bytes, bytearray, memoryview)):
        return '"%s"' % bytes(v).hex()
    iso = getattr(v, "isoformat", None)
    if iso is not None:
        return dumps(iso())
    return dumps(str(v))


def row_text(values, tuples_are_lists):
    """A row as a JSON array. json.dumps' C encoder writes it when it can:
    it refuses non-finite floats and the types it does not know (decimals,
    dates, bytes), and it writes every tuple as an array, which is right
    unless a tuple can be a struct (a Spark Row): `tuples_are_lists` says
    the row's type has no struct."""
    if tuples_are_lists or all(type(v) in _PLAIN for v in values):
        try:
            return json.dumps(list(values), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_refuse)
        except (ValueError, _NeedsSlowPath):
            pass
    return "[%s]" % ",".join(_value_text(v) for v in values)


def _key_text(k):
    """An object key as json.dumps writes a non-string key."""
    if isinstance(k, str):
        return dumps(k)
    if k is None or isinstance(k, (bool, int, float)):
        return dumps(_value_text(k).strip('"'))
    return dumps(str(k))


def error_message(exc):
    text = None
    java = getattr(exc, "java_exception", None)  # py4j's Py4JJavaError
    if java is not None:
        # The cause at the bottom of the chain says what went wrong; the
        # wrappers above it say how the call travelled.
        try:
            root = java
            while root.getCause() is not None:
                root = root.getCause()
            text = str(root.getMessage() or root.toString())
        except Exception:
            text = None
    if not text:
        text = str(exc).strip() or type(exc).__name__
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + " ..."
    return text


# --- reading lines exactly ---------------------------------------------------


def split_lines(data):
    """The native reader's lines of `data` (bytes): split at b"\\n", one
    trailing b"\\r" dropped, no empty line after a final newline."""
    if not data:
        return []
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def _newline_blocks(f):
    """Yields `f`'s bytes in large blocks that end at a newline (the last
    block may not)."""
    carry = b""
    while True:
        chunk = f.read(READ_CHUNK)
        if not chunk:
            break
        block = carry + chunk
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
            continue
        carry = block[cut + 1 :]
        yield block[: cut + 1]
    if carry:
        yield carry


def sanitize_text_file(path, workdir):
    """Checks that the file at `path` is UTF-8. When it is, returns (path,
    []); when not, writes a copy in `workdir` with every invalid sequence
    replaced by U+FFFD and returns (copy, numbers of the invalid lines)."""
    with open(path, "rb") as f:
        try:
            for block in _newline_blocks(f):
                block.decode("utf-8")
            return path, []
        except UnicodeDecodeError:
            pass
    copy = os.path.join(workdir, "text-%s.txt" % uuid.uuid4().hex)
    invalid = []
    line_no = 0
    with open(path, "rb") as f, open(copy, "wb") as out:
        for block in _newline_blocks(f):
            for raw in split_lines(block):
                line_no += 1
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    invalid.append(line_no)
                    raw = raw.decode("utf-8", errors="replace").encode("utf-8")
                out.write(raw)
                out.write(b"\n")
    return copy, invalid


# --- requests ----------------------------------------------------------------


def _field(step, key, kind=str):
    if key not in step:
        raise StepError("the %s step needs %r" % (step.get("op"), key))
    value = step[key]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise StepError("%r of the %s step must be %s" % (key, step.get("op"), {str: "a string", int: "an integer", list: "a list"}[kind]))
    return value


def _view(step, key="view"):
    name = _field(step, key)
    if not VIEW_NAME.match(name):
        raise StepError("view name %r is not an identifier ([A-Za-z_][A-Za-z0-9_]*)" % name)
    return name


def _columns(step):
    columns = _field(step, "columns", list)
    pairs = []
    for c in columns:
        if not (isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c)):
            raise StepError("each column of load_jsonl is [name, type], got %s" % json.dumps(c))
        pairs.append((c[0], c[1]))
    if not pairs:
        raise StepError("load_jsonl needs at least one column")
    return pairs


def _changed_count(rows):
    if len(rows) != 1 or len(rows[0]) != 1:
        raise StepError("the changed query must return one row with one column, got %d row(s)" % len(rows))
    value = rows[0][0]
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)) or value != int(value):
        raise StepError("the changed query must return an integer, got %r" % (value,))
    return int(value)


class Request:
    def __init__(self, message):
        self.id = message.get("id")
        self.engine = message.get("engine")
        if self.engine not in ("duckdb", "spark"):
            raise StepError("engine must be \"duckdb\" or \"spark\", got %s" % json.dumps(self.engine))
        self.master = message.get("master")
        if self.master is not None and not isinstance(self.master, str):
            raise StepError("master must be a string or null")
        self.partitions = message.get("partitions")
        if self.partitions is not None and (isinstance(self.partitions, bool) or not isinstance(self.partitions, int) or self.partitions < 1):
            raise StepError("partitions must be a positive integer or null")
        self.steps = message.get("steps")
        if not isinstance(self.steps, list) or not all(isinstance(s, dict) for s in self.steps):
            raise StepError("steps must be a list of objects")


class Timings:
    def __init__(self):
        self.seconds = {}

    def add(self, key, index, seconds):
        if key in self.seconds:
            key = "%s#%d" % (key, index)
        self.seconds[key] = round(seconds, 6)


# --- DuckDB ----------------------------------------------------------------------


def _duck_string(text):
    return "'%s'" % text.replace("'", "''")


class DuckSession:
    """One in-memory connection for one request."""

    def __init__(self, workdir):
        import duckdb

        self.workdir = workdir
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET temp_directory = %s" % _duck_string(os.path.join(workdir, "duckdb-spill")))
        self.temp_files = []

    def close(self):
        try:
            self.con.close()
        finally:
            for p in self.temp_files:
                try:
                    os.unlink(p)
                except OSError:
                    pass

    def _drop(self, name):
        kind = self.con.execute(
            # Not filtered on `temporary`: DuckDB 1.4 reports a renamed temp
            # table as not temporary. The connection is this request's own.
            "SELECT 'VIEW' FROM duckdb_views() WHERE lower(view_name) = lower(?) AND NOT internal "
            "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE lower(table_name) = lower(?)",
            [name, name],
        ).fetchall()
        for (k,) in kind:
            self.con.execute('DROP %s IF EXISTS "%s"' % (k, name))

    def load_jsonl(self, view, path, columns, _partitions):
        struct = ", ".join("%s: %s" % (_duck_string(n), _duck_string(t)) for n, t in columns)
        self._drop(view)
        self.con.execute(
            'CREATE TEMP VIEW "%s" AS SELECT * FROM read_json(%s, format = \'newline_delimited\', columns = {%s})' % (view, _duck_string(path), struct)
        )

    def load_text(self, view, path):
        source, invalid = sanitize_text_file(path, self.workdir)
        if source != path:
            self.temp_files.append(source)
        self._drop(view)
        # read_text + string_split: exact about every byte of a line (a CSV
        # reader would interpret quotes, delimiters or blank lines).
        self.con.execute(
            'CREATE TEMP TABLE "%s" AS '
            "WITH parts AS (SELECT string_split(content, chr(10)) AS l, content = '' AS empty, suffix(content, chr(10)) AS nl "
            "  FROM read_text(%s)), "
            "counted AS (SELECT l, CASE WHEN empty THEN 0 WHEN nl THEN len(l) - 1 ELSE len(l) END AS n FROM parts), "
            "lines AS (SELECT unnest(range(1, n + 1)) AS line_no, unnest(l[1:n]) AS raw FROM counted) "
            "SELECT line_no::BIGINT AS line_no, "
            "  CASE WHEN suffix(raw, chr(13)) THEN left(raw, length(raw) - 1) ELSE raw END AS text, "
            "  TRUE AS valid_utf8 FROM lines" % (view, _duck_string(source))
        )
        if invalid:
            self.con.executemany('UPDATE "%s" SET valid_utf8 = FALSE WHERE line_no = ?' % view, [[n] for n in invalid])

    def sql(self, statement):
        self.con.execute(statement)

    def materialize(self, view, statement, round=False):  # noqa: ARG002 (Spark only)
        # Built under a new name first: S may read the V it replaces.
        fresh = "__skillc_new_%s" % view
        self._drop(fresh)
        self.con.execute('CREATE TEMP TABLE "%s" AS %s' % (fresh, statement))
        self._drop(view)
        self.con.execute('ALTER TABLE "%s" RENAME TO "%s"' % (fresh, view))

    def expose_prev(self, view):
        prev = view + "_prev"
        self._drop(prev)
        self.con.execute('ALTER TABLE "%s" RENAME TO "%s"' % (view, prev))

    def drop_prev(self, view):
        self._drop(view + "_prev")

    def query_all(self, statement):
        return self.con.execute(statement).fetchall()

    def stream(self, statement):
        """(rows, tuples_are_lists): DuckDB gives structs as dicts, so a
        tuple in a row is always a fixed-size ARRAY."""
        cursor = self.con.execute(statement)

        def rows():
            while True:
                batch = cursor.fetchmany(FETCH_BATCH)
                if not batch:
                    return
                yield from batch

        return rows(), True


# --- Spark -----------------------------------------------------------------------


class SparkEngine:
    """The SparkSession, created once and kept; reset between requests."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.spark = None
        self.master = None
        self.started_seconds = None

    def _log4j_config(self):
        path = os.path.join(self.workdir, "log4j2.properties")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(LOG4J2_PROPERTIES)
        return path

    def session(self, master):
        if self.spark is not None and master is not None and master != self.master:
            log("master changes from %s to %s: restarting Spark" % (self.master, master))
            self.stop()
        if self.spark is None:
            start = time.monotonic()
            from pyspark.sql import SparkSession

            # PySpark logs every failed query (with its JVM stack) on this
            # Python logger; the error response already carries the message.
            logging.getLogger("SQLQueryContextLogger").disabled = True

            builder = SparkSession.builder.appName("skillc")
            if master is not None:
                builder = builder.master(master)
            if os.environ.get("SKILLC_RUNNER_DEBUG") != "1":
                log4j = "-Dlog4j2.configurationFile=file:%s" % self._log4j_config()
                builder = builder.config("spark.driver.extraJavaOptions", log4j)
            builder = (
                builder.config("spark.ui.showConsoleProgress", "false")
                # Spark 4's default, pinned so that a Spark 3.5 cluster runs
                # the same SQL with the same errors (overflow, bad casts).
                .config("spark.sql.ansi.enabled", "true")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.local.dir", os.path.join(self.workdir, "spark-local"))
            )
            if master is None or master.startswith("local"):
                builder = builder.config("spark.ui.enabled", "false")
            self.spark = builder.getOrCreate()
            if os.environ.get("SKILLC_RUNNER_DEBUG") != "1":
                self.spark.sparkContext.setLogLevel("FATAL")
            self.master = self.spark.sparkContext.master
            self.started_seconds = time.monotonic() - start
            log("Spark %s session on %s started in %.1f s" % (self.spark.version, self.master, self.started_seconds))
        return self.spark

    def stop(self):
        if self.spark is not None:
            try:
                self.spark.stop()
            except Exception as e:  # the JVM may already be gone
                log("stopping Spark: %s" % error_message(e))
            self.spark = None
            self.master = None

    def healthy(self):
        try:
            return not self.spark.sparkContext._jsc.sc().isStopped()
        except Exception:
            return False


class SparkRun:
    """One request on the shared session."""

    def __init__(self, engine, master, partitions):
        self.engine = engine
        self.spark = engine.session(master)
        self.partitions = partitions
        self.materialized = {}  # view -> ids of the persisted RDDs behind it
        self.reset()
        if partitions is not None:
            self.spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
            self.spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
        elif self.spark.sparkContext.master.startswith("local") and not self.spark.sparkContext.getConf().contains(
            "spark.sql.shuffle.partitions"
        ):
            # Spark's 200 shuffle partitions are sized for a cluster: on one
            # machine every shuffle writes 200 pieces per task, which made
            # the graph's rounds (a few shuffles each) 30% slower for small
            # data. Two per core keeps every core busy; a setting of the
            # user's own (spark-defaults.conf, --conf) wins.
            self.spark.conf.set("spark.sql.shuffle.partitions", str(2 * self.spark.sparkContext.defaultParallelism))

    def reset(self):
        spark = self.spark
        spark.sql("RESET")
        try:
            # SessionCatalog.clearTempTables: one call, where listing the
            # catalog costs a round trip per view.
            spark._jsparkSession.sessionState().catalog().clearTempTables()
        except Exception:
            for table in spark.catalog.listTables():
                if table.isTemporary:
                    spark.catalog.dropTempView(table.name)
        spark.catalog.clearCache()
        self._release(self._persistent_ids())

    def close(self):
        # The data goes now (an idle server holds no checkpoints); settings
        # and views are reset when the next request starts.
        self.spark.catalog.clearCache()
        self._release(self._persistent_ids())

    def _persistent_ids(self):
        return set(int(k) for k in self.spark.sparkContext._jsc.getPersistentRDDs())

    def _release(self, ids):
        persistent = self.spark.sparkContext._jsc.getPersistentRDDs()
        for i in ids:
            rdd = persistent.get(i)
            if rdd is not None:
                rdd.unpersist(False)

    def load_jsonl(self, view, path, columns, partitions):
        ddl = ", ".join("`%s` %s" % (n.replace("`", "``"), t) for n, t in columns)
        df = self.spark.read.schema(ddl).option("mode", "FAILFAST").option("lineSep", "\n").option("encoding", "UTF-8").json(path)
        if partitions is not None:
            df = df.repartition(partitions)
        df.createOrReplaceTempView(view)

    def load_text(self, view, path):
        from pyspark.sql import functions as F

        raw = self.spark.read.option("lineSep", "\n").text(path)
        # A line's number is the lines in earlier partitions plus its place
        # in its own: monotonically_increasing_id is (partition << 33) + place,
        # and a single file's partitions follow its byte offsets.
        numbered = raw.select(F.monotonically_increasing_id().alias("_id"), F.col("value"))
        part = F.expr("shiftright(_id, 33)")
        counts = numbered.groupBy(part.alias("_part")).count().collect()
        start, starts = 0, []
        for part, count in sorted((r["_part"], r["count"]) for r in counts):
            starts.append((part, start))
            start += count
        offsets = self.spark.createDataFrame(starts or [(0, 0)], "_part BIGINT, _start BIGINT")
        stripped = F.when(F.col("value").endswith("\r"), F.expr("substring(value, 1, length(value) - 1)")).otherwise(F.col("value"))
        lines = numbered.join(F.broadcast(offsets), part == F.col("_part")).select(
            (F.col("_start") + F.expr("_id & %d" % ((1 << 33) - 1)) + 1).cast("long").alias("line_no"),
            F.call_function("make_valid_utf8", stripped).alias("text"),
            F.call_function("is_valid_utf8", F.col("value")).alias("valid_utf8"),
        )
        lines.createOrReplaceTempView(view)

    def sql(self, statement):
        # Commands run when spark.sql returns; a query runs to the end
        # without bringing its rows to the driver.
        df = self.spark.sql(statement)
        try:
            command = df._jdf.queryExecution().analyzed().nodeName() == "CommandResult"
        except Exception:
            command = False
        if not command:
            df.write.format("noop").mode("overwrite").save()

    def materialize(self, view, statement, round=False):
        before = self._persistent_ids()
        df = self.spark.sql(statement).localCheckpoint(eager=True)
        if round:
            df = self._without_estimate(df)
        created = self._persistent_ids() - before
        df.createOrReplaceTempView(view)
        old = self.materialized.pop(view, None)
        if old is not None:
            self._release(old[1])
        self.materialized[view] = (df, created)

    def _without_estimate(self, df):
        """The same checkpointed rows without the optimizer's size estimate
        of the query they came from. A checkpoint keeps that estimate, and the
        estimate of a join is the product of its inputs': a round that reads
        the last round's view several times gets a power of its estimate, so
        after a dozen rounds the number has millions of digits and planning
        one round runs out of heap. Without an estimate the planner assumes
        the default size and adaptive execution measures the real one when
        the round runs (so small views are still broadcast)."""
        from pyspark.sql import DataFrame

        jdf = df._jdf
        plan = jdf.queryExecution().analyzed()
        rdd = plan.rdd() if plan.nodeName() == "LogicalRDD" else jdf.queryExecution().toRdd()
        return DataFrame(self.spark._jsparkSession.internalCreateDataFrame(rdd, jdf.schema(), False), self.spark)

    def expose_prev(self, view):
        prev = view + "_prev"
        df, ids = self.materialized.pop(view)
        old = self.materialized.pop(prev, None)
        if old is not None:
            self._release(old[1])
        df.createOrReplaceTempView(prev)
        self.materialized[prev] = (df, ids)

    def drop_prev(self, view):
        prev = view + "_prev"
        self.spark.catalog.dropTempView(prev)
        old = self.materialized.pop(prev, None)
        if old is not None:
            self._release(old[1])

    def query_all(self, statement):
        return [tuple(r) for r in self.spark.sql(statement).collect()]

    def stream(self, statement):
        """(rows, tuples_are_lists): a Row is a tuple, so only a result with
        no struct anywhere in its type can be written as plain lists."""
        df = self.spark.sql(statement)
        return df.toLocalIterator(prefetchPartitions=False), "struct<" not in df.schema.simpleString()[len("struct<") :]


# --- running requests -----------------------------------------------------------


class Disconnected(Exception):
    """The client went away; the request is abandoned."""


class Responder:
    def __init__(self, stream):
        self.stream = stream

    def send(self, text, flush=False):
        try:
            self.stream.write(text.encode("utf-8", errors="surrogatepass"))
            self.stream.write(b"\n")
            if flush:
                self.stream.flush()
        except (BrokenPipeError, ConnectionError, ValueError, OSError) as e:
            raise Disconnected(str(e))


class Runner:
    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="skillc-runner-")
        self.spark = SparkEngine(self.workdir)

    def shutdown(self):
        stopper = threading.Thread(target=self.spark.stop, daemon=True)
        stopper.start()
        stopper.join(timeout=20)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def handle_line(self, line, responder):
        """Answers one request line; raises Disconnected only."""
        if not line.strip():
            return
        request_id = None
        try:
            try:
                message = json.loads(line)
            except ValueError as e:
                raise StepError("the request is not JSON: %s" % e)
            if not isinstance(message, dict):
                raise StepError("the request must be a JSON object")
            request_id = message.get("id")
            request = Request(message)
        except StepError as e:
            responder.send(dumps({"id": request_id, "error": error_message(e), "step": None}), flush=True)
            return
        self.run(request, responder)

    def run(self, request, responder):
        rid = dumps(request.id)
        step_index = None
        session = None
        setup_started = time.monotonic()
        try:
            if request.engine == "duckdb":
                session = DuckSession(self.workdir)
            else:
                try:
                    session = SparkRun(self.spark, request.master, request.partitions)
                except Exception as e:
                    raise StepError("Spark could not start: %s" % error_message(e))
            setup_seconds = round(time.monotonic() - setup_started, 6)
            rounds, timings = {}, Timings()
            for step_index, step in enumerate(request.steps):
                started = time.monotonic()
                key = self.run_step(session, step, request, rounds, responder, rid)
                timings.add(key if key is not None else str(step_index), step_index, time.monotonic() - started)
            log(
                "request %s (%s): %d steps in %.3f s, setup %.3f s, rounds %s"
                % (rid, request.engine, len(request.steps), time.monotonic() - setup_started, setup_seconds, dumps(rounds))
            )
            responder.send(
                '{"id":%s,"done":true,"rounds":%s,"seconds":%s,"setup_seconds":%s}' % (rid, dumps(rounds), dumps(timings.seconds), setup_seconds),
                flush=True,
            )
        except Disconnected:
            raise
        except Exception as e:
            if os.environ.get("SKILLC_RUNNER_DEBUG") == "1":
                log("request %s, step %s failed:\n%s" % (rid, step_index, traceback.format_exc()))
            responder.send(dumps({"id": request.id, "error": error_message(e), "step": step_index}), flush=True)
        finally:
            if session is not None:
                try:
                    session.close()
                except Exception as e:
                    log("cleaning up after request %s: %s" % (rid, error_message(e)))
            if request.engine == "spark" and self.spark.spark is not None and not self.spark.healthy():
                log("the Spark session is gone; the next request starts a new one")
                self.spark.stop()

    def run_step(self, session, step, request, rounds, responder, rid):
        op = step.get("op")
        if op == "load_jsonl":
            view = _view(step)
            session.load_jsonl(view, _field(step, "path"), _columns(step), request.partitions)
            return view
        if op == "load_text":
            view = _view(step)
            session.load_text(view, _field(step, "path"))
            return view
        if op == "sql":
            session.sql(_field(step, "sql"))
            return None
        if op == "materialize":
            view = _view(step)
            session.materialize(view, _field(step, "sql"))
            return view
        if op == "iterate":
            view = _view(step)
            init, body, changed = _field(step, "init"), _field(step, "step"), _field(step, "changed")
            max_rounds = _field(step, "max_rounds", int)
            if max_rounds < 1:
                raise StepError("max_rounds must be at least 1")
            session.materialize(view, init, round=True)
            used = 0
            try:
                while True:
                    used += 1
                    session.expose_prev(view)
                    session.materialize(view, body, round=True)
                    if _changed_count(session.query_all(changed)) == 0:
                        break
                    if used >= max_rounds:
                        raise StepError("%s did not converge in %d rounds (max_rounds)" % (view, max_rounds))
            finally:
                session.drop_prev(view)
            rounds[view] = used
            return view
        if op == "collect":
            name = _field(step, "name")
            prefix = '{"id":%s,"result":%s,"row":' % (rid, dumps(name))
            rows, tuples_are_lists = session.stream(_field(step, "sql"))
            for row in rows:
                responder.send(prefix + row_text(row, tuples_are_lists) + "}")
            return name
        raise StepError("unknown op %s (load_jsonl, load_text, sql, materialize, iterate, collect)" % json.dumps(op))


# --- modes -----------------------------------------------------------------------


def protocol_stdout():
    """The real stdout for protocol lines; fd 1 then points at stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "wb", buffering=1 << 16)


def run_stdin(runner, out):
    responder = Responder(out)
    try:
        for line in sys.stdin.buffer:
            runner.handle_line(line, responder)
    except Disconnected:
        log("stdout closed; stopping")
    finally:
        try:
            out.flush()
        except OSError:
            pass
        runner.shutdown()


class Stop(BaseException):
    pass


def _stop(_signum, _frame):
    raise Stop()


def _watch_stdin():
    """Stops the server when its stdin, a pipe, reaches end of file."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    log("stdin closed; stopping the server")
    os.kill(os.getpid(), signal.SIGTERM)


def serve(runner, path):
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            log("%s exists and is not a socket" % path)
            return 2
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(64)
    # Ours to remove at the end only while the path still names this socket
    # (a later server may have taken the path over).
    inode = os.lstat(path).st_ino
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if stat.S_ISFIFO(os.fstat(0).st_mode):
            threading.Thread(target=_watch_stdin, daemon=True).start()
    except OSError:
        pass
    log("serving on %s (pid %d)" % (path, os.getpid()))
    try:
        while True:
            conn, _ = listener.accept()
            with conn:
                reader = conn.makefile("rb")
                writer = conn.makefile("wb", buffering=1 << 16)
                responder = Responder(writer)
                try:
                    for line in reader:
                        runner.handle_line(line, responder)
                    writer.flush()
                except (Disconnected, ConnectionError, OSError) as e:
                    log("client went away: %s" % e)
                finally:
                    for f in (reader, writer):
                        try:
                            f.close()
                        except OSError:
                            pass
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        listener.close()
        try:
            if os.lstat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass
        runner.shutdown()
    return 0


def run_files(runner, requests_path, responses_path):
    with open(requests_path, "rb") as requests, open(responses_path, "wb") as out:
        responder = Responder(out)
        try:
            for line in requests:
                runner.handle_line(line, responder)
        finally:
            runner.shutdown()
    return 0


USAGE = "usage: runner.py [--serve SOCKET_PATH | --requests FILE --responses FILE]"


def main(argv):
    out = protocol_stdout()
    if len(argv) == 2 and argv[0] == "--serve":
        return serve(Runner(), argv[1])
    if len(argv) == 4 and argv[0] == "--requests" and argv[2] == "--responses":
        return run_files(Runner(), argv[1], argv[3])
    if argv:
        log(USAGE)
        return 2
    run_stdin(Runner(), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
