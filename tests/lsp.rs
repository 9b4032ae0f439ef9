//! `skillc lsp` through an in-memory connection: the server's own message
//! loop on a thread, driven by a small client that speaks JSON-RPC values.
//! Diagnostics are compared with what `lint` reports for the same files.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
const TIMEOUT: Duration = Duration::from_secs(20);

struct Client {
    connection: Connection,
    server: Option<std::thread::JoinHandle<Result<(), String>>>,
    next_id: i32,
    /// Notifications that arrived while waiting for something else.
    queue: VecDeque<Notification>,
}

fn uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_str().expect("UTF-8 path").bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    fn start(workspace: Option<&Path>) -> Client {
        let (server, connection) = Connection::memory();
        let handle = std::thread::spawn(move || skillc::lsp::run(&server));
        let mut client = Client { connection, server: Some(handle), next_id: 0, queue: VecDeque::new() };
        let folders = match workspace {
            Some(w) => json!([{ "uri": uri(w), "name": "workspace" }]),
            None => Value::Null,
        };
        let result = client.request("initialize", json!({ "capabilities": {}, "workspaceFolders": folders }));
        assert_eq!(result["capabilities"]["hoverProvider"], json!(true), "{result}");
        assert_eq!(result["serverInfo"]["name"], json!("skillc"));
        client.notify("initialized", json!({}));
        client
    }

    fn notify(&self, method: &str, params: Value) {
        self.connection.sender.send(Notification::new(method.into(), params).into()).expect("server alive");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.connection.sender.send(Request::new(id.clone(), method.into(), params).into()).expect("server alive");
        loop {
            match self.connection.receiver.recv_timeout(TIMEOUT).expect("a response in time") {
                Message::Response(r) if r.id == id => {
                    assert!(r.error.is_none(), "{method} failed: {:?}", r.error);
                    return r.result.unwrap_or(Value::Null);
                }
                Message::Notification(n) => self.queue.push_back(n),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let wanted = |n: &Notification| n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri;
        if let Some(i) = self.queue.iter().position(wanted) {
            let n = self.queue.remove(i).expect("queued");
            return n.params["diagnostics"].as_array().expect("a list").clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.connection.receiver.recv_timeout(left) {
                Ok(Message::Notification(n)) if wanted(&n) => return n.params["diagnostics"].as_array().expect("a list").clone(),
                Ok(Message::Notification(n)) => self.queue.push_back(n),
                Ok(other) => panic!("unexpected message {other:?}"),
                Err(_) => panic!("no diagnostics for {uri}; other notifications: {:?}", self.queue),
            }
        }
    }

    fn open(&self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "markdown", "version": 1, "text": text } }),
        );
    }

    fn change(&self, uri: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn at(&mut self, method: &str, uri: &str, (line, character): (usize, usize)) -> Value {
        self.request(method, json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }))
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let result = self.server.take().expect("running").join().expect("the server thread does not panic");
        assert_eq!(result, Ok(()));
    }
}

/// The test skills' rules have no examples: the warning is turned off in
/// their frontmatter, as a user would (and as the server must honour).
const ALLOW: &str = "metadata:\n  skillc-allow: rule-without-examples\n";

/// An entity and one rule, in one skill.
fn skill(name: &str, rule_id: &str, condition: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: A test skill.\napplies_to: company\n{ALLOW}---\n\n# Test\n\n\
         ```entity company\nkey id\ncollection companies\nid: string\nindustry: string\n\
         gross_margin: number\narr: number?\nowners: [{{id: string, stake: number}}]?\n\
         relation parents = owners.id -> company\nrelation subsidiaries = inverse parents\n```\n\n\
         ```table industry_floor\n\"SaaS\": 0.6\n```\n\n\
         - Margins are fractions.\n  ```rule {rule_id}\n  {condition}\n  ```\n"
    )
}

/// A skill that only holds a rule: its entity lives in another skill.
fn rule_only(name: &str, rule_id: &str, condition: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: A test skill.\napplies_to: company\n{ALLOW}---\n\n# Second\n\n\
         - Another rule.\n  ```rule {rule_id}\n  {condition}\n  ```\n"
    )
}

/// (line, column) of the first occurrence of `needle` in `text`, 0-based,
/// the column in UTF-16 code units.
fn utf16_position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text"));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..offset].matches('\n').count();
    (line, text[line_start..offset].encode_utf16().count())
}

/// The position of `needle` inside the block of rule `id`.
fn in_rule(text: &str, id: &str, needle: &str) -> (usize, usize) {
    let fence = format!("```rule {id}\n");
    let block = text.find(&fence).unwrap_or_else(|| panic!("no rule `{id}`"));
    let offset = block + text[block..].find(needle).unwrap_or_else(|| panic!("`{needle}` not in rule `{id}`"));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (text[..offset].matches('\n').count(), text[line_start..offset].encode_utf16().count())
}

fn range_start(d: &Value) -> (usize, usize) {
    let start = &d["range"]["start"];
    (start["line"].as_u64().unwrap() as usize, start["character"].as_u64().unwrap() as usize)
}

#[test]
fn a_broken_file_gets_lints_diagnostics_and_loses_them_when_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skills/margins/SKILL.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let broken = skill("margins", "margin-range", "gross_margn ∈ [-1, 1]");
    std::fs::write(&path, &broken).unwrap();

    let mut client = Client::start(Some(dir.path()));
    let uri = uri(&path);
    // Published on start for the workspace's skills/, then again on open.
    let on_start = client.diagnostics(&uri);
    client.open(&uri, &broken);
    let diags = client.diagnostics(&uri);
    assert_eq!(on_start, diags);

    // The same diagnostics as `lint` on the same file.
    let lint = skillc::lint::lint_paths(&[dir.path().join("skills")]);
    let (program, lint) = (lint.program, lint.diagnostics);
    assert!(!lint.is_empty());
    assert_eq!(diags.len(), lint.len(), "{diags:#?}");
    for (d, l) in diags.iter().zip(&lint) {
        let l = skillc::diagnostic::to_json(&program.db, l);
        assert_eq!(d["code"], json!(l.code));
        assert_eq!(d["source"], json!("skillc"));
        let message = d["message"].as_str().unwrap();
        assert_eq!(message.lines().next(), Some(l.message.as_str()));
        let help: Vec<&str> = message.lines().skip(1).map(|h| h.strip_prefix("help: ").expect("help lines")).collect();
        assert_eq!(help, l.help.iter().map(String::as_str).collect::<Vec<_>>());
        // lint: 1-based character columns; LSP: 0-based UTF-16 (all ASCII
        // before the typo).
        assert_eq!(range_start(d), (l.line - 1, l.column - 1));
        assert_eq!(d["severity"], json!(if l.severity == "error" { 1 } else { 2 }));
    }
    let typo = &diags[0];
    assert_eq!(typo["code"], json!("unknown-field"));
    assert_eq!(range_start(typo), utf16_position(&broken, "gross_margn"));
    assert!(typo["message"].as_str().unwrap().contains("did you mean `gross_margin`?"), "{typo}");

    // Fixed in the editor (not saved): the list is emptied.
    client.change(&uri, 2, &broken.replace("gross_margn", "gross_margin"));
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    // Broken again, then saved as fixed.
    client.change(&uri, 3, &broken);
    assert_eq!(client.diagnostics(&uri).len(), lint.len());
    let fixed = broken.replace("gross_margn", "gross_margin");
    client.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri }, "text": fixed }));
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    client.stop();
}

#[test]
fn a_duplicate_id_across_two_in_memory_documents() {
    // Nothing on disk: both skills exist only as editor buffers.
    let dir = tempfile::tempdir().unwrap();
    let first = uri(&dir.path().join("dup/first/SKILL.md"));
    let second = uri(&dir.path().join("dup/second/SKILL.md"));
    let mut client = Client::start(None);

    // Alone, the second skill names an entity nobody declares.
    let second_text = rule_only("second", "margin-range", "gross_margin < 1");
    client.open(&second, &second_text);
    let alone = client.diagnostics(&second);
    assert_eq!(alone.iter().map(|d| d["code"].as_str().unwrap()).collect::<Vec<_>>(), ["applies-to-invalid"]);

    // With the first skill open, the entity resolves and the id clashes:
    // reported on the second use, pointing back at the first.
    let first_text = skill("first", "margin-range", "gross_margin > -1");
    client.open(&first, &first_text);
    assert_eq!(client.diagnostics(&first), Vec::<Value>::new());
    let clash = client.diagnostics(&second);
    assert_eq!(clash.len(), 1, "{clash:#?}");
    assert_eq!(clash[0]["code"], json!("duplicate-rule-id"));
    assert_eq!(
        clash[0]["message"],
        json!("rule id `margin-range` is used twice\nhelp: rename one of the rules; ids are unique across all skills")
    );
    assert_eq!(range_start(&clash[0]), utf16_position(&second_text, "margin-range"));
    let related = &clash[0]["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], json!(first));
    assert_eq!(related["message"], json!("first defined here"));
    assert_eq!(range_start(&related["location"]), utf16_position(&first_text, "margin-range"));

    // Renaming the rule in the *first* file clears the second one.
    client.change(&first, 2, &first_text.replace("rule margin-range", "rule margin-floor"));
    assert_eq!(client.diagnostics(&first), Vec::<Value>::new());
    assert_eq!(client.diagnostics(&second), Vec::<Value>::new());

    // Closing the first skill brings the second one's problem back.
    client.notify("textDocument/didClose", json!({ "textDocument": { "uri": first } }));
    let again = client.diagnostics(&second);
    assert_eq!(again[0]["code"], json!("applies-to-invalid"));
    client.stop();
}

#[test]
fn columns_are_utf16_code_units_after_non_ascii_operators() {
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir.path().join("utf/only/SKILL.md"));
    // `∈` (three bytes) and `±` (two) are one UTF-16 unit, `𝔵` (four) two.
    let text = skill("only", "margin-range", "gross_margin ∈ [-1, 1] and gross_margin == 0.5 ± 1% and industry != \"𝔵\" and bogus > 0");
    let mut client = Client::start(None);
    client.open(&doc, &text);
    let diags = client.diagnostics(&doc);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["code"], json!("unknown-field"));
    let (line, column) = range_start(&diags[0]);
    assert_eq!((line, column), utf16_position(&text, "bogus"));
    let line_text = text.lines().nth(line).unwrap();
    let bytes = line_text.find("bogus").unwrap();
    let chars = line_text[..bytes].chars().count();
    assert_eq!(column, chars + 1, "𝔵 counts twice in UTF-16");
    assert_eq!(column, bytes - 2 - 1 - 2, "not a byte column");
    let end = &diags[0]["range"]["end"];
    assert_eq!(end["character"].as_u64().unwrap() as usize, column + "bogus".len());
    client.stop();
}

#[test]
fn example_companies_run_as_lint_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir.path().join("ex/only/SKILL.md"));
    let example = "  ```jsonl example pass margin-range\n  {\"id\":\"a\",\"industry\":\"SaaS\",\"gross_margin\":5}\n  ```\n";
    let text = skill("only", "margin-range", "gross_margin ∈ [-1, 1]") + example;
    let mut client = Client::start(None);
    client.open(&doc, &text);
    let diags = client.diagnostics(&doc);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["code"], json!("example-failed"));
    assert_eq!(range_start(&diags[0]).0, utf16_position(&text, "{\"id\":\"a\"").0);
    // A passing company clears it.
    client.change(&doc, 2, &text.replace("\"gross_margin\":5", "\"gross_margin\":0.5"));
    assert_eq!(client.diagnostics(&doc), Vec::<Value>::new());
    client.stop();
}

fn shipped(skill: &str) -> (String, String) {
    let path = PathBuf::from(MANIFEST).join("skills").join(skill).join("SKILL.md");
    let text = std::fs::read_to_string(&path).unwrap();
    (uri(&path), text)
}

fn markdown(hover: &Value) -> String {
    assert_eq!(hover["contents"]["kind"], json!("markdown"), "{hover}");
    hover["contents"]["value"].as_str().unwrap().to_string()
}

#[test]
fn hover_on_a_rule_and_on_a_field() {
    let mut client = Client::start(Some(Path::new(MANIFEST)));
    let (uri, text) = shipped("financial-consistency");
    client.open(&uri, &text);
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());

    // On the id in the fence line.
    let (line, col) = in_rule(&text, "saas-gross-margin", "saas-gross-margin");
    let hover = client.at("textDocument/hover", &uri, (line, col + 3));
    let md = markdown(&hover);
    let (program, _) = skillc::compile_paths(&[PathBuf::from(MANIFEST).join("skills")]);
    let rule = program.rules.iter().find(|r| r.id == "saas-gross-margin").expect("a shipped rule");
    let quote = format!("> {}", rule.message);
    for part in ["**rule** `saas-gross-margin`", "| cross-field | reject | company |", &quote, "reads `industry`, `gross_margin`"] {
        assert!(md.contains(part), "`{part}` missing from:\n{md}");
    }
    assert!(md.contains("```text\n(if (industry == \"SaaS\") then (gross_margin > 0.6))\n```"), "{md}");
    assert_eq!(hover["range"]["start"], json!({ "line": line, "character": col }));

    // Inside the block, on an operator: the rule too.
    let (line, col) = in_rule(&text, "saas-gross-margin", "== \"SaaS\"");
    assert!(markdown(&client.at("textDocument/hover", &uri, (line, col))).contains("**rule** `saas-gross-margin`"));

    // On a field: its type, required or not, and where it is declared.
    let (schema_uri, schema) = shipped("company-schema");
    let declared = utf16_position(&schema, "gross_margin: number").0 + 1;
    let (line, col) = in_rule(&text, "saas-gross-margin", "gross_margin > 0.6");
    let hover = client.at("textDocument/hover", &uri, (line, col + 4));
    let md = markdown(&hover);
    assert!(md.contains("**field** `gross_margin`: `number` (required)"), "{md}");
    assert!(md.contains(&format!("`skills/company-schema/SKILL.md:{declared}`")), "{md}");
    assert_eq!(hover["range"]["start"], json!({ "line": line, "character": col }));
    assert_eq!(hover["range"]["end"], json!({ "line": line, "character": col + "gross_margin".len() }));

    // An optional field, and a field of a list element.
    let (line, col) = in_rule(&text, "segments-sum-to-revenue", "sum(segments.revenue)");
    let md = markdown(&client.at("textDocument/hover", &uri, (line, col + 5)));
    assert!(md.contains("**field** `segments`: `[{name: string, revenue: number}]` (optional"), "{md}");
    let md = markdown(&client.at("textDocument/hover", &uri, (line, col + 14)));
    assert!(md.contains("**field** `revenue`: `number` (required)"), "{md}");
    assert!(md.contains("of the list element"), "{md}");

    // Prose is not a rule.
    let (line, col) = utf16_position(&text, "Amounts are US dollars");
    assert_eq!(client.at("textDocument/hover", &uri, (line, col)), Value::Null);
    let _ = schema_uri;
    client.stop();
}

#[test]
fn definition_of_a_field_is_its_line_in_the_entity_block() {
    let mut client = Client::start(Some(Path::new(MANIFEST)));
    let (uri, text) = shipped("ownership-consolidation");
    client.open(&uri, &text);
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    let (schema_uri, schema) = shipped("company-schema");

    let (line, col) = in_rule(&text, "consolidation-covers-subsidiaries", "consolidated_revenue");
    let location = client.at("textDocument/definition", &uri, (line, col + 2));
    assert_eq!(location["uri"], json!(schema_uri), "{location}");
    let (decl_line, decl_col) = utf16_position(&schema, "consolidated_revenue: number");
    assert_eq!(location["range"]["start"], json!({ "line": decl_line, "character": decl_col }));
    assert_eq!(location["range"]["end"], json!({ "line": decl_line, "character": decl_col + "consolidated_revenue".len() }));

    // An edge field read in a `where` filter: declared inside `owners`.
    let (line, col) = in_rule(&text, "consolidation-covers-subsidiaries", "c.stake");
    let location = client.at("textDocument/definition", &uri, (line, col + 3));
    let (decl_line, _) = utf16_position(&schema, "owners: [{id: string, stake: number}]");
    assert_eq!(location["range"]["start"]["line"], json!(decl_line), "{location}");
    // A relation.
    let (line, col) = in_rule(&text, "consolidation-covers-subsidiaries", "c in subsidiaries");
    let col = col + 5;
    let location = client.at("textDocument/definition", &uri, (line, col + 1));
    assert_eq!(location["range"]["start"], json!({ "line": utf16_position(&schema, "subsidiaries = inverse").0, "character": 9 }));
    client.stop();
}

fn labels(items: &Value) -> Vec<(String, u64)> {
    items
        .as_array()
        .expect("a list of items")
        .iter()
        .map(|i| (i["label"].as_str().unwrap().to_string(), i["kind"].as_u64().unwrap()))
        .collect()
}

#[test]
fn completion_of_fields_relations_tables_collections_and_functions() {
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir.path().join("complete/only/SKILL.md"));
    let text = skill("only", "stakes", "all(o in owners: o.st) and gross_");
    let mut client = Client::start(None);
    client.open(&doc, &text);
    client.diagnostics(&doc);

    // After `gross_`: everything a name can be.
    let (line, col) = utf16_position(&text, "gross_\n");
    let items = labels(&client.at("textDocument/completion", &doc, (line, col + 6)));
    const FIELD: u64 = 5;
    const REFERENCE: u64 = 18;
    const STRUCT: u64 = 22;
    const MODULE: u64 = 9;
    const FUNCTION: u64 = 3;
    for (label, kind) in [
        ("gross_margin", FIELD),
        ("owners", FIELD),
        ("parents", REFERENCE),
        ("subsidiaries", REFERENCE),
        ("industry_floor", STRUCT),
        ("companies", MODULE),
        ("company", MODULE),
        ("sum", FUNCTION),
        ("in_cycle", FUNCTION),
    ] {
        assert!(items.contains(&(label.to_string(), kind)), "{label} missing from {items:?}");
    }

    // After `o.` where `o in owners`: the element's fields.
    let (line, col) = utf16_position(&text, "o.st)");
    let items = labels(&client.at("textDocument/completion", &doc, (line, col + 4)));
    assert_eq!(items, [("id".to_string(), FIELD), ("stake".to_string(), FIELD)]);

    // Outside rule blocks: nothing.
    let (line, col) = utf16_position(&text, "# Test");
    assert_eq!(client.at("textDocument/completion", &doc, (line, col + 3)), json!([]));
    let (line, col) = utf16_position(&text, "key id");
    assert_eq!(client.at("textDocument/completion", &doc, (line, col + 3)), json!([]));
    client.stop();
}

#[test]
fn completion_through_a_relation_offers_edge_and_entity_fields() {
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir.path().join("edges/only/SKILL.md"));
    let text = skill("only", "subs", "all(c in subsidiaries where c.");
    let mut client = Client::start(None);
    client.open(&doc, &text);
    client.diagnostics(&doc);
    let (line, col) = utf16_position(&text, "c.\n");
    let items: Vec<String> = labels(&client.at("textDocument/completion", &doc, (line, col + 2))).into_iter().map(|(l, _)| l).collect();
    for label in ["stake", "id", "gross_margin", "parents"] {
        assert!(items.contains(&label.to_string()), "{label} missing from {items:?}");
    }
    client.stop();
}

/// The latency of a diagnostics round trip (didChange → publishDiagnostics)
/// on the largest shipped skill, through the real binary over stdio.
/// `cargo test --release --test lsp -- --ignored --nocapture`
#[test]
#[ignore]
fn diagnostics_round_trip_latency() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    let mut largest = std::fs::read_dir(PathBuf::from(MANIFEST).join("skills"))
        .unwrap()
        .map(|e| e.unwrap().path().join("SKILL.md"))
        .map(|p| (std::fs::metadata(&p).unwrap().len(), p))
        .collect::<Vec<_>>();
    largest.sort();
    let (size, path) = largest.pop().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = uri(&path);

    let mut child = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start skillc lsp");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |value: Value| {
        let body = value.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    };
    let mut receive = || -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    };
    let workspace = json!([{ "uri": uri(Path::new(MANIFEST)), "name": "skillc" }]);
    send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {}, "workspaceFolders": workspace } }));
    while receive().get("id") != Some(&json!(1)) {}
    send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }));
    send(
        json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": { "uri": doc, "languageId": "markdown", "version": 1, "text": text } } }),
    );
    let mut wait = |expect_errors: bool| loop {
        let m = receive();
        if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(doc) {
            assert_eq!(!m["params"]["diagnostics"].as_array().unwrap().is_empty(), expect_errors, "{m}");
            return;
        }
    };
    wait(false);
    let rounds = 200;
    let broken = format!("{text}\n- A typo.\n  ```rule latency-probe\n  no_such_field > 0\n  ```\n");
    // Even rounds break the file (an unknown field: the examples do not
    // run), odd rounds fix it (the compile, then every example company).
    let (mut broken_times, mut fixed_times) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let (body, errors) = if i % 2 == 0 { (&broken, true) } else { (&text, false) };
        let start = Instant::now();
        send(
            json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": { "textDocument": { "uri": doc, "version": i + 2 }, "contentChanges": [{ "text": body }] } }),
        );
        wait(errors);
        if errors { &mut broken_times } else { &mut fixed_times }.push(start.elapsed());
    }
    send(json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown" }));
    send(json!({ "jsonrpc": "2.0", "method": "exit" }));
    child.wait().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let stats = |mut times: Vec<Duration>| {
        times.sort();
        let n = times.len();
        format!("median {:.1} ms, p95 {:.1} ms, max {:.1} ms", ms(times[n / 2]), ms(times[n * 95 / 100]), ms(times[n - 1]))
    };
    // `lint` itself, in this process, for comparison.
    let lint: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            let _ = skillc::lint::lint_paths(&[PathBuf::from(MANIFEST).join("skills")]);
            start.elapsed()
        })
        .collect();
    let compile: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            let _ = skillc::compile_paths(&[PathBuf::from(MANIFEST).join("skills")]);
            start.elapsed()
        })
        .collect();
    println!(
        "{} ({size} bytes) and the other shipped skills, {rounds} didChange → publishDiagnostics round trips:",
        path.strip_prefix(MANIFEST).unwrap().display()
    );
    println!("  broken (compile only):        {}", stats(broken_times));
    println!("  fixed (compile and examples): {}", stats(fixed_times));
    println!("in-process skillc::compile_paths(skills/): {}", stats(compile));
    println!("in-process skillc::lint::lint_paths(skills/): {}", stats(lint));
}

#[test]
fn a_skill_extending_the_shipped_entity_compiles_with_the_shipped_skills() {
    // A user's skills folder, outside any `skills/`: the entity it extends
    // is the shipped one, which the server brings in as context.
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir.path().join("mine/risk/SKILL.md"));
    let text = "---\nname: risk\ndescription: Risk tiers.\napplies_to: company\n{ALLOW}---\n\n# Risk\n\n\
                ```entity company extend\nrisk_tier: string?\n```\n\n\
                - A bank states its risk tier.\n  ```rule bank-has-risk-tier\n  industry == \"Bank\" implies risk_teir is not null\n  ```\n"
        .replace("{ALLOW}", ALLOW);
    let mut client = Client::start(None);
    client.open(&doc, &text);
    // Only this file's problem: the shipped skills are context.
    let diags = client.diagnostics(&doc);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["code"], json!("unknown-field"));
    assert!(diags[0]["message"].as_str().unwrap().contains("did you mean `risk_tier`?"), "{}", diags[0]);

    // The added field completes like a declared one, and the fix clears it.
    let (line, col) = utf16_position(&text, "risk_teir");
    let items = labels(&client.at("textDocument/completion", &doc, (line, col + 4)));
    assert!(items.iter().any(|(l, _)| l == "risk_tier") && items.iter().any(|(l, _)| l == "industry"), "{items:?}");
    client.change(&doc, 2, &text.replace("risk_teir", "risk_tier"));
    assert_eq!(client.diagnostics(&doc), Vec::<Value>::new());
    client.stop();
}
