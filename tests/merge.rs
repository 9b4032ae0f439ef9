//! `check CANDIDATES --base DATASET --merge`: what is appended, what is
//! held back and why, atomicity of the file, idempotence; `--scores` and
//! `--history`. The real binary on files in a temporary directory.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn skillc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).arg("--skills").arg(root().join("skills")).current_dir(dir).output().unwrap()
}

fn sample() -> Vec<Value> {
    std::fs::read_to_string(root().join("corpora/sample.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A plain, valid standalone company.
fn company(id: &str) -> Value {
    let mut c = sample().into_iter().find(|c| c["id"] == "aurelian-family-office").unwrap();
    c["id"] = id.into();
    c["name"] = format!("{id} Ltd").into();
    c["industry"] = "Manufacturing".into();
    c["employee_count"] = 400.into();
    c["standalone_revenue"] = 50_000_000.into();
    c["consolidated_revenue"] = 50_000_000.into();
    c["gross_margin"] = 0.3.into();
    c["behaviour_class"] = "happy-path".into();
    c.as_object_mut().unwrap().remove("plausibility_flags");
    c
}

fn write_lines(path: &Path, lines: &[Value]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

struct Dir {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

fn setup(candidates: &[Value]) -> Dir {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().to_path_buf();
    std::fs::copy(root().join("corpora/sample.jsonl"), path.join("data.jsonl")).unwrap();
    write_lines(&path.join("batch.jsonl"), candidates);
    Dir { _tmp: tmp, path }
}

fn merge_line(out: &Output) -> Value {
    cli::json_lines(out).into_iter().find(|l| l["type"] == "merge").expect("a merge line")
}

fn full_check(dir: &Path) -> Vec<Value> {
    cli::json_lines(&skillc(&["check", "data.jsonl", "--format", "json"], dir))
}

#[test]
fn accepted_and_flagged_candidates_are_appended_byte_for_byte_and_a_second_merge_adds_nothing() {
    let mut flagged = company("tiny-cloud");
    flagged["industry"] = "SaaS".into();
    flagged["gross_margin"] = 0.8.into();
    flagged["arr"] = 140_000_000.into();
    flagged["employee_count"] = 38.into(); // saas-scale-needs-staff flags
    flagged["standalone_revenue"] = 150_000_000.into();
    flagged["consolidated_revenue"] = 150_000_000.into();
    let mut bad = company("bad-margin");
    bad["gross_margin"] = 1.7.into();
    let d = setup(&[company("new-one"), bad, flagged]);
    let before = std::fs::read(d.path.join("data.jsonl")).unwrap();
    let batch = std::fs::read_to_string(d.path.join("batch.jsonl")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path.join("data.jsonl"), std::fs::Permissions::from_mode(0o640)).unwrap();
    }

    let out = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--merge", "--format", "json"], &d.path);
    assert_eq!(out.status.code(), Some(1), "a rejected candidate still exits 1");
    let m = merge_line(&out);
    assert_eq!((m["merged"].clone(), m["merged_lines"].clone(), m["held_back"].clone()), (json!(2), json!([1, 3]), json!([])));
    let after = std::fs::read(d.path.join("data.jsonl")).unwrap();
    let lines: Vec<&str> = batch.lines().collect();
    let expected: Vec<u8> = [before.clone(), format!("{}\n{}\n", lines[0], lines[2]).into_bytes()].concat();
    assert_eq!(String::from_utf8(after.clone()).unwrap(), String::from_utf8(expected).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path.join("data.jsonl")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "the merged dataset keeps its mode");
    }
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(&d.path).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.starts_with(".skillc-merge")), "{names:?}");

    // Again: the merged candidates are duplicates now, nothing is appended.
    let again = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--merge", "--format", "json"], &d.path);
    assert_eq!(merge_line(&again)["merged"], 0);
    assert_eq!(std::fs::read(d.path.join("data.jsonl")).unwrap(), after);
    // The text report says what was merged.
    let text = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--merge"], &d.path);
    assert!(String::from_utf8_lossy(&text.stdout).contains("merged 0 candidates into `data.jsonl`"));
}

#[test]
fn a_candidate_that_would_make_a_base_record_fail_is_held_back_and_named_with_what_it_breaks() {
    // A subsidiary of the base's holdco: it passes against the base, but
    // the holdco's consolidated revenue (2.4M) no longer covers it.
    let mut sub = company("big-sub");
    sub["owners"] = json!([{"id": "aurelian-family-office", "stake": 0.8}]);
    // A candidate owned by a candidate that is rejected: fine against the
    // base with its owner present, failing once the owner is not merged.
    let mut rejected_owner = company("broken-parent");
    rejected_owner["gross_margin"] = 2.0.into();
    let mut orphan = company("orphan");
    orphan["owners"] = json!([{"id": "broken-parent", "stake": 0.3}]);
    let fine: Vec<Value> = (0..5).map(|i| company(&format!("fine-{i}"))).collect();
    let mut batch = vec![fine[0].clone(), sub, fine[1].clone(), rejected_owner, orphan];
    batch.extend(fine[2..].iter().cloned());
    let d = setup(&batch);

    let out = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--merge", "--format", "json"], &d.path);
    let m = merge_line(&out);
    assert_eq!(m["merged_lines"], json!([1, 3, 6, 7, 8]), "{m}");
    let held = m["held_back"].as_array().unwrap();
    assert_eq!(held.len(), 2, "{m}");
    assert_eq!((held[0]["line"].clone(), held[0]["entity"].clone()), (json!(2), json!("big-sub")));
    let broken = &held[0]["breaks"][0];
    assert_eq!((broken["in"].as_str(), broken["entity"].as_str()), (Some("base"), Some("aurelian-family-office")));
    assert_eq!(broken["rules"], json!(["consolidation-covers-subsidiaries"]));
    assert_eq!((held[1]["line"].clone(), held[1]["breaks"][0]["in"].clone()), (json!(5), json!("candidates")));
    assert_eq!(held[1]["breaks"][0]["rules"], json!(["owners-exist"]));

    // The merged dataset: no record is rejected (the sample is clean).
    let report = full_check(&d.path);
    let summary = report.last().unwrap();
    assert_eq!((summary["read"].clone(), summary["rejected"].clone()), (json!(48 + 5), json!(0)), "{summary}");
}

#[test]
fn scores_and_history_lines_record_each_run() {
    let mut bad = company("bad-margin");
    bad["gross_margin"] = 1.7.into();
    let d = setup(&[company("a-one"), company("a-two"), bad]);
    for _ in 0..2 {
        let out =
            skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--format", "json", "--scores", "--history", "h.jsonl"], &d.path);
        let summary = cli::json_lines(&out).pop().unwrap();
        let s = &summary["scores"];
        assert_eq!(s["first_try_acceptance"], json!(0.6667));
        assert_eq!(s["rejected_share"], json!(0.3333));
        let happy = s["coverage"].as_array().unwrap().iter().find(|k| k["class"] == "happy-path").unwrap().clone();
        assert_eq!((happy["batch"].clone(), happy["threshold"].clone(), happy["met"].clone()), (json!(3), json!(3), json!(true)));
        assert_eq!(s["findings"], json!({"gross-margin-range": 1}));
    }
    let history: Vec<Value> =
        std::fs::read_to_string(d.path.join("h.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(history.len(), 2);
    for h in &history {
        assert_eq!(h["type"], "history");
        assert_eq!(h["input"], "batch.jsonl");
        assert_eq!(h["input_sha256"].as_str().unwrap().len(), 64);
        assert!(h["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(h["scores"]["read"], 3);
    }
    // Same input, same skills, same digests: a repeated iteration shows.
    assert_eq!(history[0]["input_sha256"], history[1]["input_sha256"]);
    assert_eq!(history[0]["skills_sha256"], history[1]["skills_sha256"]);
    assert_eq!(history[0]["base_sha256"], history[1]["base_sha256"]);
}

#[test]
fn merge_needs_a_base() {
    let d = setup(&[company("x")]);
    let out = skillc(&["check", "batch.jsonl", "--merge"], &d.path);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--base"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn near_duplicates_are_counted_under_the_entity_fingerprint() {
    // The shipped entity: `fingerprint all but id, name`.
    let base_twin = {
        let mut c = sample()[0].clone();
        c["id"] = "twin-of-the-first".into();
        c["name"] = "Another Name".into();
        c
    };
    let a = company("orig");
    let mut respelt = company("copy");
    respelt["employee_count"] = json!(400.0); // the same number
    let other = company("other");
    let mut other = other;
    other["employee_count"] = 401.into();
    let d = setup(&[a, respelt, other, base_twin]);
    let out = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--format", "json", "--scores"], &d.path);
    let s = &cli::json_lines(&out).pop().unwrap()["scores"];
    let nd = &s["near_duplicates"];
    assert_eq!(nd["fingerprint"], "all fields but id, name");
    assert_eq!(nd["lines"], json!([2, 4]), "the respelt copy and the base's twin: {nd}");
    assert_eq!(nd["share"], json!(0.5));
    let text = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--scores"], &d.path);
    assert!(String::from_utf8_lossy(&text.stdout).contains("2 near-duplicates"), "{}", String::from_utf8_lossy(&text.stdout));
}

#[test]
fn a_fingerprint_naming_no_field_is_an_error_on_that_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("things")).unwrap();
    let skill = "---\nname: things\ndescription: Things.\napplies_to: thing\n---\n\n```entity thing\nkey id\nfingerprint all but id, nmae\nid: string\nname: string\n```\n";
    std::fs::write(dir.path().join("things/SKILL.md"), skill).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillc")).args(["lint", "--format", "json"]).arg(dir.path()).output().unwrap();
    let diags = cli::json_lines(&out);
    let d = diags.iter().find(|d| d["code"] == "unknown-field").unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!(d["line"], 9, "{d}");
    assert!(d.to_string().contains("name"), "a did-you-mean: {d}");
}

/// A stall of tests/fixtures/stalls.
fn stall(id: &str, code: &str, revenue: u32, parent: Option<&str>, partner: Option<&str>) -> String {
    let mut s = json!({"id": id, "code": code, "revenue": revenue});
    if let Some(p) = parent {
        s["parent"] = json!([{"id": p}]);
    }
    if let Some(p) = partner {
        s["partners"] = json!([{"id": p}]);
    }
    s.to_string()
}

/// Merges `batch` into a copy of `base` twice, from the base's index and
/// from its JSON (`--no-index`): the merge lines (but for how many checks
/// each ran) and the merged files are the same. Returns the indexed run's
/// merge line.
fn merge_both_ways(skills: &Path, base: &str, batch: &[String]) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for (name, extra) in [("indexed", &[][..]), ("json", &["--no-index"][..])] {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("data.jsonl"), base).unwrap();
        std::fs::write(dir.join("batch.jsonl"), batch.join("\n") + "\n").unwrap();
        let skills = skills.to_str().unwrap();
        if extra.is_empty() {
            let built = Command::new(env!("CARGO_BIN_EXE_skillc"))
                .args(["index", "data.jsonl", "--skills", skills])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        }
        let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
            .args(["check", "batch.jsonl", "--base", "data.jsonl", "--merge", "--format", "json", "--skills", skills])
            .args(extra)
            .env("SKILLC_TIMINGS", "1")
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let m = merge_line(&out);
        // Every check of the dataset as merged came from the index, or none.
        let checks = m["checks"].as_u64().unwrap();
        let from_index = if extra.is_empty() { checks } else { 0 };
        assert!(stderr.contains(&format!("merge planned ({checks} checks, {from_index} from the index)")), "{name}: {stderr}");
        if extra.is_empty() && m["merged"].as_u64().unwrap() > 0 {
            assert!(stderr.contains("index of the merged base written"), "{stderr}");
            // The merge wrote the merged base's index: the next check reads
            // it, and says what the check from the JSON says.
            // The batch again (each one now a duplicate of a merged record,
            // which the check re-reads from its line), and under new ids.
            let mut next: Vec<String> = batch.iter().map(|l| l.replace(r#""id":""#, r#""id":"next-"#)).collect();
            next.extend(batch.iter().cloned());
            std::fs::write(dir.join("next.jsonl"), next.join("\n") + "\n").unwrap();
            let check = |extra: &[&str]| {
                Command::new(env!("CARGO_BIN_EXE_skillc"))
                    .args(["check", "next.jsonl", "--base", "data.jsonl", "--format", "json", "--skills", skills])
                    .args(extra)
                    .env("SKILLC_TIMINGS", "1")
                    .current_dir(&dir)
                    .output()
                    .unwrap()
            };
            let (indexed, json) = (check(&[]), check(&["--no-index"]));
            let stderr = String::from_utf8_lossy(&indexed.stderr);
            // (Read only when it is the index of the merged base's bytes.)
            assert!(stderr.contains("base read from its index"), "{stderr}");
            assert_eq!(String::from_utf8_lossy(&indexed.stdout), String::from_utf8_lossy(&json.stdout));
        }
        runs.push((m, std::fs::read(dir.join("data.jsonl")).unwrap()));
    }
    let strip = |m: &Value| {
        let mut m = m.clone();
        m.as_object_mut().unwrap().remove("checks");
        m
    };
    assert_eq!(strip(&runs[0].0), strip(&runs[1].0), "the merge lines");
    assert!(runs[0].1 == runs[1].1, "the merged files differ");
    runs.swap_remove(0).0
}

#[test]
fn a_merge_from_the_index_decides_as_the_merge_from_the_json() {
    let skills = root().join("tests/fixtures/stalls");
    let mut base = vec![
        stall("hub", "H", 1000, None, None),
        stall("kid1", "K1", 400, Some("hub"), None),
        // Both rejected before the merge (the same code): what a candidate
        // breaks of `twin-a` is not its doing. `twin-b` is not in
        // `twin-a`'s component: the index must bring it in to see that.
        stall("twin-a", "DUP", 500, None, None),
        stall("twin-b", "DUP", 10, None, None),
        // Passes before the merge only with `friend`, which its partner
        // test names (not a relation: another component).
        stall("lonely", "L", 100, None, Some("friend")),
        stall("friend", "F", 5, None, None),
        stall("hub2", "H2", 1000, None, None),
        // Names a parent the base lacks: a candidate of that id closes a
        // cycle.
        stall("loop-top", "LT", 100, Some("ghost"), None),
    ];
    base.extend((0..200).map(|i| stall(&format!("filler-{i}"), &format!("F{i}"), 50 + i, (i % 4 != 0).then_some("filler-0"), None)));
    // No line end after the last record: the merge puts one in.
    let base = base.join("\n");
    let mut batch = vec![
        stall("big-kid", "BK", 700, Some("hub"), None),
        stall("twin-kid", "TK", 600, Some("twin-a"), None),
        stall("lonely-kid", "LK", 200, Some("lonely"), None),
        stall("ghost", "G", 10, Some("loop-top"), None),
        // Together, not alone, more than `hub2` earns.
        stall("pair-1", "P1", 600, Some("hub2"), None),
        stall("pair-2", "P2", 600, Some("hub2"), None),
        r#"{"id":"bad","code":"B","revenue":"x"}"#.to_string(),
        stall("under-bad", "UB", 1, Some("bad"), None),
        stall("copycat", "H", 1, None, None),
    ];
    batch.extend((0..20).map(|i| stall(&format!("fine-{i}"), &format!("N{i}"), 1, None, None)));
    let m = merge_both_ways(&skills, &base, &batch);
    let held: Vec<(&str, Vec<(&str, &str)>)> = m["held_back"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let breaks =
                h["breaks"].as_array().unwrap().iter().map(|b| (b["entity"].as_str().unwrap(), b["in"].as_str().unwrap())).collect();
            (h["entity"].as_str().unwrap(), breaks)
        })
        .collect();
    assert_eq!(
        held,
        vec![
            ("big-kid", vec![("hub", "base")]),
            ("lonely-kid", vec![("lonely", "base")]),
            ("pair-1", vec![("hub2", "base")]),
            ("pair-2", vec![("hub2", "base")]),
            ("under-bad", vec![("under-bad", "candidates")]),
        ],
        "{m}"
    );
    // `twin-kid` joins: `twin-a` was rejected before. `ghost` (a cycle),
    // `bad` and `copycat` were rejected by the check itself. The fine
    // candidates beside the pair that breaks `hub2` together join too.
    let merged: Vec<u64> = m["merged_lines"].as_array().unwrap().iter().map(|l| l.as_u64().unwrap()).collect();
    assert_eq!(merged, [vec![2], (10..30).collect::<Vec<u64>>()].concat(), "{m}");
}

#[test]
fn a_merge_of_generated_candidates_from_the_index_decides_as_the_merge_from_the_json() {
    // The shipped skills on the sample corpus, with candidates made from
    // it: new subsidiaries of its parents (some too large for them),
    // copies of its ids, stakes past the whole, and fine standalone ones.
    let base = std::fs::read_to_string(root().join("corpora/sample.jsonl")).unwrap();
    let records = sample();
    let mut batch = Vec::new();
    for (i, parent) in records.iter().enumerate().filter(|(_, r)| r["owners"].is_null()).take(12) {
        let mut sub = company(&format!("sub-{i}"));
        sub["owners"] = json!([{"id": parent["id"], "stake": if i % 3 == 0 { 0.9 } else { 0.3 }}]);
        sub["standalone_revenue"] = (if i % 2 == 0 { 5_000_000_000u64 } else { 1_000_000 }).into();
        sub["consolidated_revenue"] = sub["standalone_revenue"].clone();
        batch.push(sub.to_string());
    }
    for r in records.iter().filter(|r| !r["owners"].is_null()).take(4) {
        let mut copy = r.clone();
        copy["name"] = "A copy".into();
        batch.push(copy.to_string());
        let mut extra_owner = company(&format!("stake-{}", r["id"].as_str().unwrap()));
        extra_owner["owners"] = json!([{"id": r["owners"][0]["id"], "stake": 0.6}, {"id": r["id"], "stake": 0.6}]);
        batch.push(extra_owner.to_string());
    }
    batch.extend((0..10).map(|i| company(&format!("fine-{i}")).to_string()));
    let m = merge_both_ways(&root().join("skills"), &base, &batch);
    assert!(!m["held_back"].as_array().unwrap().is_empty() && m["merged"].as_u64().unwrap() >= 10, "{m}");
}

#[test]
fn a_merge_from_the_index_of_a_base_with_a_byte_order_mark_crlf_lines_and_broken_lines_decides_as_from_the_json() {
    // The base's first line starts with a byte-order mark, its lines end in
    // CRLF, and some are not records: the index re-reads records by their
    // bytes, and must not read them differently from the base's JSON.
    let skills = root().join("tests/fixtures/stalls");
    let mut lines = vec![
        format!("\u{feff}{}", stall("hub", "H", 1000, None, None)),
        "{not json".to_string(),
        stall("kid1", "K1", 400, Some("hub"), None),
        String::new(),
        r#"{"id":"typo","code":7,"revenue":1}"#.to_string(),
        stall("hub2", "H2", 1000, None, None),
    ];
    lines.extend((0..50).map(|i| stall(&format!("s{i}"), &format!("S{i}"), 10, Some("hub2"), None)));
    let base = lines.join("\r\n") + "\r\n";
    let batch = vec![
        // The first record of the base, and one after the broken lines.
        stall("big-kid", "BK", 700, Some("hub"), None),
        stall("hub2-kid", "HK", 10, Some("hub2"), None),
        stall("too-big", "TB", 600, Some("hub2"), None),
        stall("fine", "FI", 1, None, None),
    ];
    let m = merge_both_ways(&skills, &base, &batch);
    let held: Vec<&str> = m["held_back"].as_array().unwrap().iter().map(|h| h["entity"].as_str().unwrap()).collect();
    assert_eq!(held, ["big-kid", "too-big"], "{m}");
}
