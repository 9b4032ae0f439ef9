//! The engine runner (src/sql/runner.py) on its own: hand-written plans run
//! on DuckDB and on Spark (local mode, one shared session through the
//! server of tests/support/engines.rs), each answer checked against what
//! the protocol in the runner's docstring promises, and the two engines
//! checked against each other.
//!
//! Skipped per engine, with a message, when its Python package (or Java)
//! is missing, unless `CI` or `SKILLC_REQUIRE_DUCKDB=1` /
//! `SKILLC_REQUIRE_SPARK=1` (as `.ci/run` sets).

#[path = "support/engines.rs"]
mod engines;

use engines::{plan, require, server, Engine};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn engines() -> Vec<Engine> {
    Engine::ALL.into_iter().filter(|&e| require(e)).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// The dialect's spelling of a list of strings and of a struct with one
/// BIGINT field `k`.
fn list_and_struct(engine: Engine) -> (&'static str, &'static str) {
    match engine {
        Engine::DuckDb => ("VARCHAR[]", "STRUCT(k BIGINT)"),
        Engine::Spark => ("ARRAY<STRING>", "STRUCT<k: BIGINT>"),
    }
}

#[test]
fn load_jsonl_reads_exactly_the_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    // A blank line, an absent field, a null, a key not in the schema, a
    // nested list and object.
    let data = write(
        dir.path(),
        "d.jsonl",
        b"{\"id\":\"a\",\"n\":1,\"x\":2.5,\"tags\":[\"p\",\"q\"],\"o\":{\"k\":7},\"extra\":true}\n\n{\"id\":\"b\"}\n{\"id\":\"c\",\"n\":null,\"x\":-0.25,\"tags\":[]}",
    );
    for engine in engines() {
        let (list, object) = list_and_struct(engine);
        let columns = json!([["id", engine.string_type()], ["n", "BIGINT"], ["x", "DOUBLE"], ["tags", list], ["o", object]]);
        let response = server().request(plan(
            engine,
            json!([
                {"op": "load_jsonl", "view": "d", "path": data, "columns": columns},
                {"op": "collect", "name": "rows", "sql": "SELECT id, n, x, tags, o FROM d ORDER BY id"},
            ]),
        ));
        assert_eq!(
            response.rows("rows"),
            [json!(["a", 1, 2.5, ["p", "q"], {"k": 7}]), json!(["b", null, null, null, null]), json!(["c", null, -0.25, [], null]),],
            "{}",
            engine.name()
        );
        let seconds = &response.done.as_ref().unwrap()["seconds"];
        assert!(seconds["d"].is_number() && seconds["rows"].is_number(), "{}: {seconds}", engine.name());
    }
}

#[test]
fn a_malformed_json_line_fails_the_request_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "bad.jsonl", b"{\"id\":\"a\"}\n{\"id\":\n{\"id\":\"c\"}\n");
    for engine in engines() {
        let response = server().request(plan(
            engine,
            json!([
                {"op": "load_jsonl", "view": "d", "path": data, "columns": [["id", engine.string_type()]]},
                {"op": "collect", "name": "rows", "sql": "SELECT id FROM d"},
            ]),
        ));
        let (message, step) = response.failure();
        // The load is lazy: the load itself (DuckDB reads while it binds the
        // view) or the first step that reads the file fails.
        assert!(step == json!(0) || step == json!(1), "{}: step {step}: {message}", engine.name());
        assert!(response.results.is_empty() || response.results["rows"].len() < 3, "{}: the bad line was skipped", engine.name());
    }
}

#[test]
fn values_come_back_exactly() {
    for engine in engines() {
        let sql = match engine {
            Engine::DuckDb => {
                "SELECT 9007199254740993::BIGINT, 0.1::DOUBLE, 'NaN'::DOUBLE, 'Infinity'::DOUBLE, '-Infinity'::DOUBLE, \
                 CAST('12345678901234567890.125' AS DECIMAL(38,3)), NULL, TRUE, 'é\"\\', [1, 2], {'a': 1, 'b': 'x'}, DATE '2024-02-29', 1e300::DOUBLE"
            }
            Engine::Spark => {
                "SELECT CAST(9007199254740993 AS BIGINT), CAST(0.1 AS DOUBLE), double('NaN'), double('Infinity'), double('-Infinity'), \
                 CAST('12345678901234567890.125' AS DECIMAL(38,3)), NULL, TRUE, 'é\"\\\\', array(1, 2), named_struct('a', 1, 'b', 'x'), DATE '2024-02-29', CAST(1e300 AS DOUBLE)"
            }
        };
        let response = server().request(plan(engine, json!([{"op": "collect", "name": "v", "sql": sql}])));
        assert_eq!(
            response.rows("v"),
            [
                json!([9007199254740993u64, 0.1, "NaN", "Infinity", "-Infinity", 12345678901234567890.125, null, true, "é\"\\", [1, 2], {"a": 1, "b": "x"}, "2024-02-29", 1e300])
            ],
            "{}",
            engine.name()
        );
        // The decimal's digits, not a double's.
        assert!(response.raw[0].contains(",12345678901234567890.125,"), "{}: {}", engine.name(), response.raw[0]);
    }
}

#[test]
fn load_text_numbers_physical_lines_like_the_native_reader() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "t.txt",
        b"first\r\n\n  \nquote \"a,b\"\ttab;|\x01\nx\xff\xfe bad\n\xe2\x82 cut\r\ncarriage\rinside\nlast without newline",
    );
    let newline_only = write(dir.path(), "nl.txt", b"\n");
    let empty = write(dir.path(), "empty.txt", b"");
    let final_newline = write(dir.path(), "final.txt", b"a\nb\n");
    for engine in engines() {
        let response = server().request(plan(
            engine,
            json!([
                {"op": "load_text", "view": "t", "path": text},
                {"op": "load_text", "view": "nl", "path": newline_only},
                {"op": "load_text", "view": "e", "path": empty},
                {"op": "load_text", "view": "f", "path": final_newline},
                {"op": "collect", "name": "t", "sql": "SELECT line_no, text, valid_utf8 FROM t ORDER BY line_no"},
                {"op": "collect", "name": "others", "sql": "SELECT 'nl', line_no, text FROM nl UNION ALL SELECT 'e', line_no, text FROM e UNION ALL SELECT 'f', line_no, text FROM f ORDER BY 1, 2"},
            ]),
        ));
        assert_eq!(
            response.rows("t"),
            [
                json!([1, "first", true]),
                json!([2, "", true]),
                json!([3, "  ", true]),
                json!([4, "quote \"a,b\"\ttab;|\u{1}", true]),
                json!([5, "x\u{fffd}\u{fffd} bad", false]),
                json!([6, "\u{fffd} cut", false]),
                json!([7, "carriage\rinside", true]),
                json!([8, "last without newline", true]),
            ],
            "{}",
            engine.name()
        );
        assert_eq!(response.rows("others"), [json!(["f", 1, "a"]), json!(["f", 2, "b"]), json!(["nl", 1, ""])], "{}", engine.name());
    }
}

/// Connected components by min-label propagation over an undirected edge
/// table: the graph the SQL back end's groups need, as iterated SQL.
fn components_plan(edges: &str, max_rounds: u64) -> Value {
    json!([
        {"op": "load_jsonl", "view": "edge_lines", "path": edges, "columns": [["src", "BIGINT"], ["dst", "BIGINT"]]},
        {"op": "materialize", "view": "und", "sql": "SELECT src AS a, dst AS b FROM edge_lines WHERE dst IS NOT NULL UNION SELECT dst, src FROM edge_lines WHERE dst IS NOT NULL"},
        {"op": "materialize", "view": "nodes", "sql": "SELECT src AS node FROM edge_lines UNION SELECT dst FROM edge_lines WHERE dst IS NOT NULL"},
        {"op": "iterate", "view": "cc", "max_rounds": max_rounds,
         "init": "SELECT node, node AS label FROM nodes",
         "step": "SELECT p.node, LEAST(p.label, COALESCE(MIN(q.label), p.label)) AS label FROM cc_prev p \
                  LEFT JOIN und e ON e.a = p.node LEFT JOIN cc_prev q ON q.node = e.b GROUP BY p.node, p.label",
         "changed": "SELECT COUNT(*) FROM cc JOIN cc_prev ON cc.node = cc_prev.node WHERE cc.label <> cc_prev.label"},
        {"op": "collect", "name": "cc", "sql": "SELECT node, label FROM cc ORDER BY node"},
    ])
}

#[test]
fn iterate_computes_connected_components_and_counts_rounds() {
    let dir = tempfile::tempdir().unwrap();
    // A chain 5-4-3-2-1 (the label 1 needs four rounds to reach node 5,
    // a fifth changes nothing), a triangle, a pair, and node 9 alone.
    let edges = write(
        dir.path(),
        "edges.jsonl",
        b"{\"src\":5,\"dst\":4}\n{\"src\":4,\"dst\":3}\n{\"src\":3,\"dst\":2}\n{\"src\":2,\"dst\":1}\n\
          {\"src\":6,\"dst\":7}\n{\"src\":7,\"dst\":8}\n{\"src\":8,\"dst\":6}\n{\"src\":11,\"dst\":10}\n{\"src\":9}\n",
    );
    let expected: Vec<Value> = [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 6), (7, 6), (8, 6), (9, 9), (10, 10), (11, 10)]
        .iter()
        .map(|&(n, l)| json!([n, l]))
        .collect();
    for engine in engines() {
        let response = server().request(plan(engine, components_plan(&edges, 10)));
        assert_eq!(response.rows("cc"), expected, "{}", engine.name());
        assert_eq!(response.rounds("cc"), 5, "{}", engine.name());

        // Four rounds are one too few: an error, not a wrong answer.
        let response = server().request(plan(engine, components_plan(&edges, 4)));
        let (message, step) = response.failure();
        assert_eq!(step, json!(3), "{}: {message}", engine.name());
        assert!(message.contains("did not converge in 4 rounds"), "{}: {message}", engine.name());
    }
}

#[test]
fn materialize_keeps_a_result_and_nothing_outlives_its_request() {
    for engine in engines() {
        let check = match engine {
            Engine::DuckDb => "SELECT upper(current_setting('default_null_order')) <> 'NULLS_FIRST'",
            Engine::Spark => "SET spark.sql.shuffle.partitions",
        };
        // What a request starts with (on a local master the runner's own
        // default of two partitions per core, not Spark's 200).
        let fresh = server().request(plan(engine, json!([{"op": "collect", "name": "reset", "sql": check}]))).rows("reset").to_vec();
        let setting = match engine {
            Engine::DuckDb => "SET default_null_order = 'nulls_first'",
            Engine::Spark => "SET spark.sql.shuffle.partitions = 7",
        };
        let response = server().request(plan(
            engine,
            json!([
                {"op": "sql", "sql": setting},
                {"op": "materialize", "view": "kept", "sql": "SELECT 1 AS x"},
                {"op": "materialize", "view": "kept", "sql": "SELECT x + 1 AS x FROM kept"},
                {"op": "sql", "sql": "CREATE TEMPORARY VIEW also AS SELECT x FROM kept"},
                {"op": "collect", "name": "x", "sql": "SELECT x FROM also"},
            ]),
        ));
        assert_eq!(response.rows("x"), [json!([2])], "{}", engine.name());
        for view in ["kept", "also"] {
            let response = server().request(plan(engine, json!([{"op": "collect", "name": "x", "sql": format!("SELECT * FROM {view}")}])));
            let (message, step) = response.failure();
            assert_eq!(step, json!(0), "{}: {view} is still there: {message}", engine.name());
        }
        let response = server().request(plan(engine, json!([{"op": "collect", "name": "reset", "sql": check}])));
        let changed = match engine {
            Engine::DuckDb => json!([false]),
            Engine::Spark => json!(["spark.sql.shuffle.partitions", "7"]),
        };
        assert_ne!(fresh, [changed], "{}: the setting is not the request's own", engine.name());
        assert_eq!(response.rows("reset"), fresh, "{}: a setting outlived its request", engine.name());
    }
}

#[test]
fn spark_partitions_split_the_load_and_the_shuffles() {
    if !require(Engine::Spark) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..12).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    let data = write(dir.path(), "n.jsonl", lines.as_bytes());
    let mut request = plan(
        Engine::Spark,
        json!([
            {"op": "load_jsonl", "view": "n", "path": data, "columns": [["n", "BIGINT"]]},
            {"op": "collect", "name": "parts", "sql": "SELECT COUNT(DISTINCT p), SUM(n) FROM (SELECT spark_partition_id() AS p, n FROM n)"},
            {"op": "collect", "name": "shuffle", "sql": "SET spark.sql.shuffle.partitions"},
        ]),
    );
    request["partitions"] = json!(3);
    let response = server().request(request);
    assert_eq!(response.rows("parts"), [json!([3, 66])]);
    assert_eq!(response.rows("shuffle"), [json!(["spark.sql.shuffle.partitions", "3"])]);
}

#[test]
fn collect_streams_many_rows_in_order() {
    for engine in engines() {
        let sql = match engine {
            Engine::DuckDb => "SELECT range AS id FROM range(0, 5000) ORDER BY id DESC",
            Engine::Spark => "SELECT id FROM range(0, 5000, 1, 4) ORDER BY id DESC",
        };
        let response = server().request(plan(engine, json!([{"op": "collect", "name": "ids", "sql": sql}])));
        let ids: Vec<i64> = response.rows("ids").iter().map(|r| r[0].as_i64().unwrap()).collect();
        assert_eq!(ids, (0..5000).rev().collect::<Vec<_>>(), "{}", engine.name());
    }
}

#[test]
fn bad_requests_get_an_error_and_the_next_request_still_runs() {
    for engine in engines() {
        let name = engine.name();
        let requests = [
            "this is not JSON".to_string(),
            json!({"id": "w", "engine": "oracle", "steps": []}).to_string(),
            json!({"id": "s", "engine": name, "master": "local[2]", "steps": [{"op": "collect", "name": "x", "sql": "SELECT 1"}, {"op": "sql", "sql": "SELEC nonsense"}]})
                .to_string(),
            json!({"id": "u", "engine": name, "master": "local[2]", "steps": [{"op": "explode"}]}).to_string(),
            json!({"id": "m", "engine": name, "master": "local[2]", "steps": [{"op": "materialize", "view": "bad name", "sql": "SELECT 1"}]}).to_string(),
            json!({"id": "r", "engine": name, "master": "local[2]", "steps": [{"op": "iterate", "view": "v", "init": "SELECT 1 AS x", "step": "SELECT x FROM v_prev", "changed": "SELECT 'many'", "max_rounds": 3}]})
                .to_string(),
            json!({"id": "ok", "engine": name, "master": "local[2]", "steps": [{"op": "collect", "name": "x", "sql": "SELECT 40 + 2"}]}).to_string(),
        ];
        let text = requests.join("\n") + "\n";
        let responses = server().exchange(text.as_bytes(), requests.len());
        let errors: Vec<(Value, Value, String)> = responses[..6]
            .iter()
            .map(|r| {
                let e = r.error.as_ref().unwrap_or_else(|| panic!("{name}: expected an error, got {:?}", r.done));
                (e["id"].clone(), e["step"].clone(), e["error"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(errors[0].0, Value::Null, "{name}");
        assert!(errors[0].2.contains("not JSON"), "{name}: {}", errors[0].2);
        assert_eq!((&errors[1].0, &errors[1].1), (&json!("w"), &Value::Null), "{name}");
        assert!(errors[1].2.contains("engine"), "{name}: {}", errors[1].2);
        assert_eq!((&errors[2].0, &errors[2].1), (&json!("s"), &json!(1)), "{name}: {}", errors[2].2);
        assert!(!errors[2].2.contains("Traceback"), "{name}: {}", errors[2].2);
        assert_eq!((&errors[3].1, errors[3].2.contains("unknown op")), (&json!(0), true), "{name}: {}", errors[3].2);
        assert!(errors[4].2.contains("not an identifier"), "{name}: {}", errors[4].2);
        assert!(errors[5].2.contains("must return an integer"), "{name}: {}", errors[5].2);
        assert_eq!(responses[6].rows("x"), [json!([42])], "{name}");
    }
}

/// `python3 runner.py` and `python3 -c <source>` (how skillc starts it):
/// requests on stdin, only protocol lines on stdout, exit at end of input.
#[test]
fn stdin_mode_answers_each_line_and_exits_at_end_of_input() {
    if !require(Engine::DuckDb) {
        return;
    }
    let source = std::fs::read_to_string(engines::runner_script()).unwrap();
    let input = concat!(
        r#"{"id":1,"engine":"duckdb","steps":[{"op":"collect","name":"x","sql":"SELECT 'one' UNION ALL SELECT 'two' ORDER BY 1"}]}"#,
        "\n\n{\"id\":2,\"engine\":\"duckdb\",\"steps\":[{\"op\":\"sql\",\"sql\":\"SELECT * FROM nowhere\"}]}\n",
        "{\"id\":3,\"engine\":\"duckdb\",\"steps\":[{\"op\":\"iterate\",\"view\":\"v\",\"init\":\"SELECT 1 AS x\",",
        "\"step\":\"SELECT x + 1 AS x FROM v_prev\",\"changed\":\"SELECT COUNT(*) FROM v WHERE x < 4\",\"max_rounds\":9}]}\n",
    );
    for args in [vec![engines::runner_script().to_str().unwrap().to_string()], vec!["-c".to_string(), source]] {
        let mut child =
            Command::new("python3").args(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let responses = engines::read_responses(&out.stdout[..], 3).unwrap();
        assert_eq!(responses[0].rows("x"), [json!(["one"]), json!(["two"])]);
        assert_eq!(responses[1].failure().1, json!(0));
        // x goes 1 -> 2 -> 3 -> 4; the third round leaves no x below 4.
        assert_eq!(responses[2].rounds("v"), 3);
        assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3 + 2, "only protocol lines on stdout");
    }
}

/// A server whose stdin is a pipe stops when the pipe closes, removing its
/// socket: a test binary that dies never leaves a server behind.
#[test]
fn the_server_stops_when_its_stdin_closes() {
    if !require(Engine::DuckDb) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let mut child = Command::new("python3")
        .arg(engines::runner_script())
        .arg("--serve")
        .arg(&socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        if let Ok(s) = std::os::unix::net::UnixStream::connect(&socket) {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    };
    stream.write_all(b"{\"id\":1,\"engine\":\"duckdb\",\"steps\":[{\"op\":\"collect\",\"name\":\"x\",\"sql\":\"SELECT 7\"}]}\n").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let responses = engines::read_responses(std::io::BufReader::new(&stream), 1).unwrap();
    assert_eq!(responses[0].rows("x"), [json!([7])]);
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server kept running after its stdin closed");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket was left behind");
}
