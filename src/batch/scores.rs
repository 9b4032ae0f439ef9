//! The scores of one batch, for the proposer to hill-climb on: how much of
//! it passed first time, how much was flagged, how each behaviour class
//! the skills ask for is covered, how many candidates repeat a record, and
//! the findings per rule. `--history FILE` appends them as one JSON line a
//! run, so earlier iterations are a `grep` away (docs/loop.md).

use crate::check::{Compiled, Report};
use crate::ir::expr::{Agg, Expr, ExprKind};
use crate::ir::schema::FieldId;
use crate::ir::Scope;
use crate::syntax::ast::CmpOp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A class a dataset rule asks a number of records of: the rule
/// `all(k in {"a", "b"}: count(x in C where x.F == k) >= n)` declares the
/// classes `a` and `b` of field `F`, each with threshold `n`.
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageClass {
    pub rule: String,
    pub field: String,
    pub class: String,
    pub threshold: f64,
}

/// The coverage classes of every dataset rule of that form, read off the
/// IR (any field, any entity, any rule id).
pub fn coverage_classes(c: &Compiled) -> Vec<CoverageClass> {
    let mut out = Vec::new();
    for rule in c.program.rules.iter().filter(|r| r.scope == Scope::Dataset) {
        let ExprKind::Agg { agg: Agg::All, var: class_var, source, filter: None, body: Some(body) } = &rule.expr.kind else {
            continue;
        };
        let ExprKind::List(items) = &source.kind else { continue };
        let Some((field, threshold)) = count_per_class(body, *class_var) else { continue };
        let name = c.program.schema.field(c.entity, field).name.clone();
        for item in items {
            if let ExprKind::String(class) = &item.kind {
                out.push(CoverageClass { rule: rule.id.clone(), field: name.clone(), class: class.to_string(), threshold });
            }
        }
    }
    out
}

/// `count(x in C where x.F == k) >= n` (or `n <= count(...)`): F and n.
fn count_per_class(body: &Expr, class_var: crate::ir::expr::VarId) -> Option<(FieldId, f64)> {
    let ExprKind::Compare(lhs, links) = &body.kind else { return None };
    let [link] = links.as_slice() else { return None };
    let (count, op, n) = match (&lhs.kind, &link.rhs.kind) {
        (ExprKind::Agg { .. }, ExprKind::Number(n)) => (lhs.as_ref(), link.op, *n),
        (ExprKind::Number(n), ExprKind::Agg { .. }) => (&link.rhs, flip(link.op), *n),
        _ => return None,
    };
    if !matches!(op, CmpOp::Ge | CmpOp::Gt) || link.tolerance.is_some() {
        return None;
    }
    let threshold = if op == CmpOp::Gt { n.floor() + 1.0 } else { n.ceil() };
    let ExprKind::Agg { agg: Agg::Count, var, source, filter: Some(filter), body: None } = &count.kind else { return None };
    if !matches!(source.kind, ExprKind::Collection(_)) {
        return None;
    }
    let ExprKind::Compare(a, links) = &filter.kind else { return None };
    let [eq] = links.as_slice() else { return None };
    if eq.op != CmpOp::Eq {
        return None;
    }
    let field_of = |e: &Expr| match &e.kind {
        ExprKind::Get(inner, crate::ir::expr::Access::Entity(f)) if matches!(inner.kind, ExprKind::Var(v) if v == *var) => Some(*f),
        _ => None,
    };
    let is_class = |e: &Expr| matches!(e.kind, ExprKind::Var(v) if v == class_var);
    let field = match (field_of(a), field_of(&eq.rhs)) {
        (Some(f), None) if is_class(&eq.rhs) => f,
        (None, Some(f)) if is_class(a) => f,
        _ => return None,
    };
    Some((field, threshold))
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// The scores of a checked batch. `duplicates` is the number of
/// candidates equal to another candidate or a base record under the
/// entity's fingerprint (None when the entity declares none).
pub fn scores(c: &Compiled, report: &Report, duplicates: Option<&Duplicates>) -> Value {
    let s = &report.summary;
    let rate = |n: usize| if s.read == 0 { Value::Null } else { json!(((n as f64 / s.read as f64) * 10_000.0).round() / 10_000.0) };
    let coverage: Vec<Value> = coverage_classes(c)
        .into_iter()
        .map(|k| {
            let count = |t: &BTreeMap<String, BTreeMap<String, usize>>| t.get(&k.field).and_then(|m| m.get(&k.class)).copied().unwrap_or(0);
            let (batch, base) = (count(&s.tallies), count(&s.base_tallies));
            json!({
                "rule": k.rule, "field": k.field, "class": k.class,
                "records": base + batch, "batch": batch, "threshold": crate::check::explain::number_json(k.threshold),
                "met": (base + batch) as f64 >= k.threshold,
            })
        })
        .collect();
    let mut out = json!({
        "read": s.read,
        "first_try_acceptance": rate(s.accepted + s.flagged),
        "clean_share": rate(s.accepted),
        "flagged_share": rate(s.flagged),
        "rejected_share": rate(s.rejected),
        "coverage": coverage,
        "findings": s.findings,
        "dataset_findings": report.dataset.len(),
    });
    if let Some(d) = duplicates {
        out["near_duplicates"] = json!({
            "fingerprint": d.fingerprint,
            "candidates": d.lines.len(),
            "share": rate(d.lines.len()),
            "lines": d.lines.iter().take(20).collect::<Vec<_>>(),
        });
    }
    out
}

/// Candidates that repeat a record under the entity's fingerprint.
#[derive(Clone, Debug, Default)]
pub struct Duplicates {
    /// How the fingerprint is made, for the report (`all fields but id, name`).
    pub fingerprint: String,
    /// Candidate lines whose fingerprint an earlier candidate or a base
    /// record has, in order.
    pub lines: Vec<u32>,
}

/// The near-duplicates among the candidates in `input` (and against the
/// base), when the entity declares a fingerprint.
pub fn duplicates(c: &Compiled, base: Option<&std::path::Path>, input: &mut std::fs::File) -> Result<Option<Duplicates>, String> {
    let Some(excluded) = &c.program.schema.entity(c.entity).fingerprint else { return Ok(None) };
    let mut base_reader = match base {
        Some(path) => Some(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| format!("cannot read `{}`: {}", path.display(), e.to_string().to_lowercase()))?,
        )),
        None => None,
    };
    let mut candidates = std::io::BufReader::new(input);
    let lines = near_duplicates(base_reader.as_mut().map(|r| r as &mut dyn std::io::BufRead), &mut candidates, excluded)
        .map_err(|e| e.to_string())?;
    let fingerprint = if excluded.is_empty() { "all fields".to_string() } else { format!("all fields but {}", excluded.join(", ")) };
    Ok(Some(Duplicates { fingerprint, lines }))
}

/// A record's fingerprint: its fields but the `excluded` ones, canonical
/// (keys sorted, null dropped since it means absent, whole numbers written
/// one way), hashed. None for a line that is not a JSON object.
pub fn fingerprint(line: &[u8], excluded: &[String]) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(line) else { return None };
    for f in excluded {
        object.remove(f);
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    canonical(&Value::Object(object)).hash(&mut hasher);
    Some(hasher.finish())
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            // serde_json's map is ordered by key: the text is canonical.
            let fields: Vec<String> =
                m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The candidate lines (by number) whose fingerprint an earlier candidate
/// or a base line has. Reads the base (when given) and the candidates line
/// by line.
pub fn near_duplicates(
    base: Option<&mut dyn std::io::BufRead>,
    candidates: &mut dyn std::io::BufRead,
    excluded: &[String],
) -> std::io::Result<Vec<u32>> {
    let mut seen = std::collections::HashSet::new();
    let mut buf = Vec::new();
    if let Some(base) = base {
        loop {
            buf.clear();
            if base.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            seen.extend(fingerprint(&buf, excluded));
        }
    }
    let mut lines = Vec::new();
    let mut line = 0u32;
    loop {
        buf.clear();
        if candidates.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        // The byte-order mark is not part of the first line.
        let text = if line == 1 { buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf) } else { &buf[..] };
        if let Some(f) = fingerprint(text, excluded) {
            if !seen.insert(f) {
                lines.push(line);
            }
        }
    }
    Ok(lines)
}

/// The scores as the text report's closing lines.
pub fn to_text(scores: &Value) -> String {
    let pct = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
    let mut out = format!(
        "scores: {} kept on the first try, {} flagged, {} rejected",
        pct(&scores["first_try_acceptance"]),
        pct(&scores["flagged_share"]),
        pct(&scores["rejected_share"])
    );
    if let Some(d) = scores.get("near_duplicates") {
        out.push_str(&format!(", {} near-duplicate{}", d["candidates"], if d["candidates"] == 1 { "" } else { "s" }));
    }
    out.push('\n');
    if let Some(classes) = scores["coverage"].as_array().filter(|c| !c.is_empty()) {
        let parts: Vec<String> = classes
            .iter()
            .map(|k| {
                let mark = if k["met"] == true { "" } else { " (short)" };
                format!("{} {}/{}{mark}", k["class"].as_str().unwrap_or(""), k["records"], k["threshold"])
            })
            .collect();
        out.push_str(&format!("coverage: {}\n", parts.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_ignores_the_excluded_fields_key_order_nulls_and_number_spelling() {
        let ex = vec!["id".to_string(), "name".to_string()];
        let a = fingerprint(br#"{"id":"a","name":"A","x":640,"y":[1,{"b":2,"a":null}]}"#, &ex);
        let b = fingerprint(br#"{"y":[1.0,{"b":2}],"x":6.4e2,"name":"B","id":"b","z":null}"#, &ex);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, fingerprint(br#"{"id":"a","name":"A","x":641,"y":[1,{"b":2}]}"#, &ex));
        assert_eq!(fingerprint(b"[1,2]", &ex), None);
    }
}
