//! The proposer loop end to end, through the real binary: generated
//! batches (tests/support/gen.rs, deterministic) are checked against a
//! growing dataset, the rejected companies repaired by a small repairer
//! that reads only the JSON reasons (`hints[].edits`,
//! docs/output-schema.md), and the survivors merged. Also measures, per
//! rule, how many rejections that repairer fixes in one round
//! (docs/loop.md has the table).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
#[path = "support/gen.rs"]
mod gen;

fn skillc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(args)
        .arg("--skills")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("skills"))
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A generated batch, its keys (and the keys its owners name) prefixed so
/// batches of different seeds never share a key by chance. Lines that are
/// not JSON objects stay as they are.
fn batch(seed: u64, companies: usize, violations: f64, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    gen::generate(&gen::GenConfig { companies, seed, violations }, &mut out).unwrap();
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(mut c)) => {
                if let Some(Value::String(id)) = c.get("id") {
                    c.insert("id".into(), format!("{prefix}{id}").into());
                }
                if let Some(Value::Array(owners)) = c.get_mut("owners") {
                    for o in owners {
                        if let Some(Value::String(id)) = o.get("id").cloned() {
                            o["id"] = format!("{prefix}{id}").into();
                        }
                    }
                }
                Value::Object(c).to_string()
            }
            _ => l.to_string(),
        })
        .collect()
}

/// One step of a path as the reasons write it: `owners[1].stake`.
fn steps(path: &str) -> Vec<Result<String, usize>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(Ok(name.to_string()));
        }
        for index in rest.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse::<usize>() {
                out.push(Err(i));
            }
        }
    }
    out
}

/// The value an edit asks for, where one value does: the bound of `==`,
/// `>=`, `<=`, just past a strict bound, the middle of a range, the first
/// member of a set, the `example` of a pattern or of a value to give.
/// `Some(None)` removes the field.
fn wanted(edit: &Value) -> Option<Option<Value>> {
    let nudge = |v: f64, up: bool| {
        let step = (v.abs() * 1e-6).max(1e-6);
        json!(if up { v + step } else { v - step })
    };
    Some(match edit["op"].as_str()? {
        "==" | ">=" | "<=" => Some(edit["value"].clone()),
        ">" => Some(nudge(edit["value"].as_f64()?, true)),
        "<" => Some(nudge(edit["value"].as_f64()?, false)),
        "!=" => Some(Value::Bool(!edit["value"].as_bool()?)),
        "between" => Some(json!((edit["min"].as_f64()? + edit["max"].as_f64()?) / 2.0)),
        "in" => Some(edit["values"].get(0)?.clone()),
        // A pattern or a value to give: the example the way offers.
        "matches" | "present" | "type" => Some(edit.get("example")?.clone()),
        "absent" => None,
        _ => return None,
    })
}

/// Applies every edit of a way out; false when one cannot be applied
/// without guessing (a pattern, a key, `present`).
fn apply(record: &mut Value, edits: &[Value]) -> bool {
    for edit in edits {
        let (Some(path), Some(value)) = (edit["field"].as_str(), wanted(edit)) else { return false };
        let steps = steps(path);
        let Some((last, parents)) = steps.split_last() else { return false };
        let mut at = &mut *record;
        for step in parents {
            at = match step {
                Ok(name) => match at.get_mut(name) {
                    Some(v) => v,
                    None => return false,
                },
                Err(i) => match at.get_mut(*i) {
                    Some(v) => v,
                    None => return false,
                },
            };
        }
        match (last, value) {
            (Ok(name), Some(v)) => at[name.as_str()] = v,
            (Ok(name), None) => {
                if let Some(o) = at.as_object_mut() {
                    o.remove(name);
                }
            }
            (Err(i), Some(v)) if *i < at.as_array().map_or(0, Vec::len) => at[*i] = v,
            _ => return false,
        }
    }
    true
}

/// The record repaired from its reasons: for each reject reason, the
/// first way out that breaks nothing (or the first), applied. None when a
/// reason offers no way the repairer can apply.
fn repair(line: &str, reasons: &[Value]) -> Option<String> {
    let mut record: Value = serde_json::from_str(line).ok()?;
    for reason in reasons.iter().filter(|r| r["severity"] == "reject") {
        let ways = reason["hints"].as_array()?;
        let way = ways.iter().find(|w| w.get("conflicts").is_none_or(|c| c == &json!([]))).or(ways.first())?;
        let edits = way["edits"].as_array()?;
        if edits.is_empty() || !apply(&mut record, edits) {
            return None;
        }
    }
    Some(record.to_string())
}

fn entity_lines(out: &Output) -> Vec<Value> {
    cli::json_lines(out).into_iter().filter(|l| l["type"] == "entity").collect()
}

#[test]
fn three_rounds_of_generate_check_repair_merge_leave_a_dataset_that_passes_every_reject_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/sample.jsonl"), d.join("data.jsonl")).unwrap();
    let mut merged_total = 0;
    for round in 0..3u64 {
        let lines = batch(100 + round, 120, 0.3, &format!("r{round}-"));
        std::fs::write(d.join("batch.jsonl"), lines.join("\n") + "\n").unwrap();
        let first = skillc(&["check", "batch.jsonl", "--base", "data.jsonl", "--format", "json", "--history", "history.jsonl"], d);
        let rejected: BTreeMap<u64, Vec<Value>> = entity_lines(&first)
            .into_iter()
            .filter(|e| e["verdict"] == "rejected")
            .map(|e| (e["line"].as_u64().unwrap(), e["reasons"].as_array().unwrap().clone()))
            .collect();
        assert!(!rejected.is_empty(), "round {round}: the generator breaks rules");
        let mut repaired = 0;
        let fixed: Vec<String> = lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match rejected.get(&(i as u64 + 1)) {
                None => Some(l.clone()),
                Some(reasons) => repair(l, reasons).inspect(|_| repaired += 1),
            })
            .collect();
        assert!(repaired > 0, "round {round}: the repairer fixes some companies");
        std::fs::write(d.join("fixed.jsonl"), fixed.join("\n") + "\n").unwrap();
        let second = skillc(&["check", "fixed.jsonl", "--base", "data.jsonl", "--merge", "--format", "json"], d);
        let merge = cli::json_lines(&second).into_iter().find(|l| l["type"] == "merge").expect("a merge line");
        merged_total += merge["merged"].as_u64().unwrap();
    }
    assert!(merged_total > 200, "most of 360 generated companies join: {merged_total}");

    let full = skillc(&["check", "data.jsonl", "--format", "json"], d);
    let summary = cli::json_lines(&full).pop().unwrap();
    assert_eq!(summary["read"].as_u64(), Some(48 + merged_total));
    assert_eq!(
        summary["rejected"],
        0,
        "{:?}",
        entity_lines(&full).iter().filter(|e| e["verdict"] == "rejected").take(3).collect::<Vec<_>>()
    );

    let history: Vec<Value> =
        std::fs::read_to_string(d.join("history.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(history.len(), 3, "one scored line a round");
    for h in &history {
        assert!(h["scores"]["first_try_acceptance"].as_f64().is_some_and(|r| r > 0.3 && r < 1.0), "{h}");
        assert_eq!(h["scores"]["read"], 120);
    }
    // The base grows between rounds: each history line saw another dataset.
    assert_ne!(history[0]["base_sha256"], history[1]["base_sha256"]);
    assert_ne!(history[1]["base_sha256"], history[2]["base_sha256"]);
}

/// The fewest rejections of a rule, in the measurement's batch, for its
/// repair share to count (rarer rules are reported but not held to it).
const MEASURED: usize = 5;

#[test]
fn the_reasons_of_record_rules_repair_their_rejections_and_the_share_is_held_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = batch(7, 1500, 0.5, "m-");
    // Per rule: (rejections, repaired in one round, with no way the
    // repairer can apply).
    let mut tally: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    std::fs::write(d.join("batch.jsonl"), lines.join("\n") + "\n").unwrap();
    let first = entity_lines(&skillc(&["check", "batch.jsonl", "--format", "json"], d));
    // Variant k of the batch repairs the k-th reject reason of every
    // rejected line (only that one), so each repair is judged alone.
    let reasons: BTreeMap<usize, Vec<Value>> = first
        .iter()
        .filter(|e| e["verdict"] == "rejected")
        .map(|e| {
            let rs = e["reasons"].as_array().unwrap().iter().filter(|r| r["severity"] == "reject").cloned().collect();
            (e["line"].as_u64().unwrap() as usize, rs)
        })
        .collect();
    let rounds = reasons.values().map(Vec::len).max().unwrap_or(0);
    for k in 0..rounds {
        let mut variant = lines.clone();
        let mut tried: Vec<(usize, String)> = Vec::new();
        for (line, rs) in &reasons {
            let Some(reason) = rs.get(k) else { continue };
            let rule = reason["rule"].as_str().unwrap().to_string();
            let entry = tally.entry(rule.clone()).or_default();
            entry.0 += 1;
            match repair(&lines[line - 1], std::slice::from_ref(reason)) {
                Some(fixed) => {
                    variant[line - 1] = fixed;
                    tried.push((*line, rule));
                }
                None => entry.2 += 1,
            }
        }
        std::fs::write(d.join("variant.jsonl"), variant.join("\n") + "\n").unwrap();
        let after: BTreeMap<usize, Vec<String>> = entity_lines(&skillc(&["check", "variant.jsonl", "--format", "json"], d))
            .into_iter()
            .map(|e| {
                let rules = e["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect();
                (e["line"].as_u64().unwrap() as usize, rules)
            })
            .collect();
        for (line, rule) in tried {
            if !after.get(&line).is_some_and(|rules| rules.contains(&rule)) {
                tally.get_mut(&rule).unwrap().1 += 1;
            }
        }
    }
    println!("| rule | rejections | repaired in one round | share | no applicable way |");
    println!("|---|---|---|---|---|");
    for (rule, (n, fixed, none)) in &tally {
        println!("| `{rule}` | {n} | {fixed} | {:.0}% | {none} |", *fixed as f64 * 100.0 / *n as f64);
    }
    // Rules whose hints are edits: held to a floor, so a rule whose hints
    // stop being applicable fails here. The others are choices a program
    // cannot make alone (a cycle to break, a duplicate id, an owner that is
    // not in the dataset, the record's JSON itself): their ways must say so
    // in words.
    let choices = ["json", "ownership-acyclic", "unique-id", "owners-exist"];
    let mut checked = 0;
    for (rule, (n, fixed, _)) in &tally {
        if choices.contains(&rule.as_str()) || *n < MEASURED {
            continue;
        }
        checked += 1;
        let share = *fixed as f64 / *n as f64;
        assert!(share >= 0.5, "`{rule}`: only {fixed} of {n} rejections repaired from their hints");
    }
    assert!(checked >= 10, "the batch exercises most record rules: {tally:?}");
    for e in &first {
        for r in e["reasons"].as_array().unwrap() {
            if r["severity"] == "reject" {
                assert!(r["hint"].as_str().is_some_and(|h| !h.is_empty()), "every rejection says how to fix it: {r}");
            }
        }
    }
}
