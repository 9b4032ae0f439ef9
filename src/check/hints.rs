//! Ways out of a failed record rule: every repair the rule's form allows
//! (for `A implies B`: make B true or A false; for a comparison of two
//! sides that read data: move either side), each as a sentence and as
//! edits of the record's fields a program can apply. For the record-local
//! rules the ways are then tried on a scratch copy of the record, so a way
//! another reject rule forbids is dropped (or, when every way conflicts,
//! marked with the rules it breaks). Runs only for failures.

use super::eval::{Env, Val};
use super::explain::{element_text, is_constant, json_value, number_json, sentences, show_number, written};
use super::{reader, store, Compiled};
use crate::ir::expr::*;
use crate::ir::schema::{Field, FieldType};
use crate::ir::Severity;
use crate::syntax::ast::CmpOp;
use serde_json::Value;

/// At most this many ways out are offered for one failure.
const MAX_WAYS: usize = 8;
/// Failing elements of an `all` repaired in one way out.
const MAX_ELEMENTS: usize = 5;

/// One step of the path to a field of the record: a key, or a list index.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(Box<str>),
    Index(u32),
}

/// What an edit asks of the field at its path.
#[derive(Clone, Debug, PartialEq)]
pub enum EditOp {
    /// `field op value`: a bound (numbers), or `==`/`!=` a string or boolean.
    Compare(CmpOp, Value),
    /// Within (or, `inside` false, outside) a range of numbers.
    Between { min: f64, max: f64, min_inclusive: bool, max_inclusive: bool, inside: bool },
    /// One of (or none of) a set of values.
    Set { values: Vec<Value>, inside: bool },
    /// A list field that holds (or does not hold) a value.
    Contains { value: Value, inside: bool },
    /// The whole text matches (or does not match) a regular expression.
    /// `example`: a value that matches, when one is known (a passing
    /// example company's).
    Matches { pattern: String, inside: bool, example: Option<Value> },
    /// The key of an entity of the dataset (or of none); `found` is the
    /// value the field holds, for the sentence.
    KeyOf { entity: String, inside: bool, found: Value },
    /// Left out, or null (an optional field).
    Absent,
    /// Present and not null; `example`: a value a passing example company
    /// gives the field.
    Present { example: Option<Value> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    pub path: Vec<Step>,
    pub op: EditOp,
}

/// One way out of a failure: its sentence, the edits that make it (all of
/// them; none when no field edit expresses it), and, when the record was
/// re-checked with the edits applied, the reject rules they would break.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub edits: Vec<Edit>,
    /// The sentences of what no edit expresses ("break the cycle ...").
    pub notes: Vec<String>,
    /// `None`: not re-checked (an edit with no single value to try, or a
    /// rule that looks at other entities). `Some(ids)`: re-checked; the
    /// ids of the reject rules (or `schema`) that passed before and fail
    /// with the edits applied.
    pub conflicts: Option<Vec<String>>,
}

impl Alternative {
    /// Its sentence: the edits' and the notes', joined by "and".
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self.edits.iter().map(edit_text).collect();
        parts.extend(self.notes.iter().cloned());
        parts.join(" and ")
    }

    fn cost(&self) -> u32 {
        self.edits.iter().map(edit_cost).sum::<u32>() + NOTE_COST * self.notes.len() as u32
    }
}

/// The cost of an edit, for ordering ways out that break no other rule:
/// removing an optional field < moving a number < changing a string, a
/// boolean, a list or a category < a way no edit expresses.
fn edit_cost(edit: &Edit) -> u32 {
    match &edit.op {
        EditOp::Absent => 1,
        EditOp::Compare(_, Value::Number(_)) | EditOp::Between { .. } => 2,
        _ => 3,
    }
}

const NOTE_COST: u32 = 5;

/// A way out while it is built: the edits and the sentences of what no
/// edit expresses.
#[derive(Clone, Debug, Default)]
struct Way {
    edits: Vec<Edit>,
    notes: Vec<String>,
}

/// The path of an edit as reasons write it: `owners[1].stake`.
pub fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn show(v: &Value) -> String {
    v.to_string()
}

fn show_values(values: &[Value]) -> String {
    values.iter().map(show).collect::<Vec<_>>().join(", ")
}

fn range_text(min: f64, max: f64, min_inclusive: bool, max_inclusive: bool) -> String {
    format!("{}{}, {}{}", if min_inclusive { "[" } else { "(" }, show_number(min), show_number(max), if max_inclusive { "]" } else { ")" })
}

/// The sentence of one edit: "raise `consolidated_revenue` to at least 5".
pub fn edit_text(edit: &Edit) -> String {
    let f = path_text(&edit.path);
    match &edit.op {
        EditOp::Compare(op, v) => match (op, v) {
            (CmpOp::Ge, _) => format!("raise `{f}` to at least {}", show(v)),
            (CmpOp::Gt, _) => format!("raise `{f}` above {}", show(v)),
            (CmpOp::Le, _) => format!("lower `{f}` to at most {}", show(v)),
            (CmpOp::Lt, _) => format!("lower `{f}` below {}", show(v)),
            (CmpOp::Eq, _) => format!("set `{f}` to {}", show(v)),
            (CmpOp::Ne, _) => format!("change `{f}` from {}", show(v)),
        },
        EditOp::Between { min, max, min_inclusive, max_inclusive, inside } => {
            let range = range_text(*min, *max, *min_inclusive, *max_inclusive);
            if *inside {
                format!("move `{f}` into {range}")
            } else {
                format!("move `{f}` out of {range}")
            }
        }
        EditOp::Set { values, inside: true } if values.len() == 1 => format!("set `{f}` to {}", show(&values[0])),
        EditOp::Set { values, inside: true } => format!("set `{f}` to one of {}", show_values(values)),
        EditOp::Set { values, inside: false } => format!("set `{f}` to none of {}", show_values(values)),
        EditOp::Contains { value, inside: true } => format!("add {} to `{f}`", show(value)),
        EditOp::Contains { value, inside: false } => format!("remove {} from `{f}`", show(value)),
        EditOp::Matches { pattern, inside: true, example: Some(e) } => format!("make `{f}` match /{pattern}/ (such as {e})"),
        EditOp::Matches { pattern, inside: true, .. } => format!("make `{f}` match /{pattern}/"),
        EditOp::Matches { pattern, inside: false, .. } => format!("make `{f}` not match /{pattern}/"),
        EditOp::KeyOf { entity, inside: true, found } => {
            format!("set `{f}` to the key of a {entity} of the dataset ({} is none)", show(found))
        }
        EditOp::KeyOf { entity, inside: false, found } => format!("set `{f}` to no key of a {entity} ({} is one)", show(found)),
        EditOp::Absent => format!("remove `{f}` (absent or null)"),
        EditOp::Present { example: Some(e) } => format!("give `{f}` a value (such as {e})"),
        EditOp::Present { example: None } => format!("give `{f}` a value (present and not null)"),
    }
}

/// The edit as JSON: `{"field": "owners[1].stake", "op": "<=", "value": 1}`
/// (docs/output-schema.md).
pub fn edit_json(edit: &Edit) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("field".into(), path_text(&edit.path).into());
    let not = |inside: bool, op: &str| if inside { op.to_string() } else { format!("not {op}") };
    match &edit.op {
        EditOp::Compare(op, v) => {
            out.insert("op".into(), op.as_str().into());
            out.insert("value".into(), v.clone());
        }
        EditOp::Between { min, max, min_inclusive, max_inclusive, inside } => {
            out.insert("op".into(), not(*inside, "between").into());
            out.insert("min".into(), number_json(*min));
            out.insert("max".into(), number_json(*max));
            out.insert("min_inclusive".into(), (*min_inclusive).into());
            out.insert("max_inclusive".into(), (*max_inclusive).into());
        }
        EditOp::Set { values, inside } => {
            out.insert("op".into(), not(*inside, "in").into());
            out.insert("values".into(), Value::Array(values.clone()));
        }
        EditOp::Contains { value, inside } => {
            out.insert("op".into(), not(*inside, "contains").into());
            out.insert("value".into(), value.clone());
        }
        EditOp::Matches { pattern, inside, example } => {
            out.insert("op".into(), not(*inside, "matches").into());
            out.insert("pattern".into(), pattern.clone().into());
            if let Some(e) = example {
                out.insert("example".into(), e.clone());
            }
        }
        EditOp::KeyOf { entity, inside, .. } => {
            out.insert("op".into(), not(*inside, "key of").into());
            out.insert("entity".into(), entity.clone().into());
        }
        EditOp::Absent => {
            out.insert("op".into(), "absent".into());
        }
        EditOp::Present { example } => {
            out.insert("op".into(), "present".into());
            if let Some(e) = example {
                out.insert("example".into(), e.clone());
            }
        }
    }
    Value::Object(out)
}

/// An alternative as JSON: `{"text", "edits", "conflicts"}` (`conflicts`
/// only when the record was re-checked).
pub fn alternative_json(a: &Alternative) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("text".into(), a.text().into());
    out.insert("edits".into(), Value::Array(a.edits.iter().map(edit_json).collect()));
    if let Some(c) = &a.conflicts {
        out.insert("conflicts".into(), Value::Array(c.iter().map(|id| Value::from(id.as_str())).collect()));
    }
    Value::Object(out)
}

/// One alternative for the text report, with the rules it would break.
fn alternative_text(a: &Alternative) -> String {
    match &a.conflicts {
        Some(c) if !c.is_empty() => {
            let ids: Vec<String> = c.iter().map(|id| format!("`{id}`")).collect();
            format!("{} (would break {})", a.text(), ids.join(", "))
        }
        _ => a.text(),
    }
}

/// Every alternative in one line: "either A, or B".
pub fn alternatives_text(alternatives: &[Alternative]) -> String {
    match alternatives {
        [] => String::new(),
        [one] => alternative_text(one),
        all => format!("either {}", all.iter().map(alternative_text).collect::<Vec<_>>().join(", or ")),
    }
}

/// [`alternatives_text`] of the ways out as [`alternative_json`] wrote
/// them (their `text` and `conflicts`): what a reason's packed ways show
/// in the text report, so the line is not held beside the JSON.
pub fn alternatives_text_of_json(ways: &[Value]) -> String {
    let one = |way: &Value| -> String {
        let text = way["text"].as_str().unwrap_or_default();
        match way["conflicts"].as_array() {
            Some(c) if !c.is_empty() => {
                let ids: Vec<String> = c.iter().map(|id| format!("`{}`", id.as_str().unwrap_or_default())).collect();
                format!("{text} (would break {})", ids.join(", "))
            }
            _ => text.to_string(),
        }
    };
    match ways {
        [] => String::new(),
        [way] => one(way),
        all => format!("either {}", all.iter().map(one).collect::<Vec<_>>().join(", or ")),
    }
}

/// The ways out of the rule `env` failed on, in the rule's order (the
/// consequence before the condition, the left side before the right),
/// cheapest first among ways of equal standing; not re-checked.
pub fn ways_out<'a>(env: &mut Env<'a>, db: &crate::source::SourceDb) -> Vec<Alternative> {
    let rule = env.rule;
    for (var, value) in &rule.lets {
        let v = env.eval(value);
        env.vars[var.0 as usize] = v;
    }
    let mut g = Ways { db, bindings: Vec::new(), paths: Vec::new() };
    let mut ways = g.ways(env, &rule.expr, true);
    dedup(&mut ways);
    let mut alternatives: Vec<Alternative> =
        ways.into_iter().map(|w| Alternative { edits: w.edits, notes: w.notes, conflicts: None }).collect();
    // Stable: among equal costs, the rule's order.
    alternatives.sort_by_key(Alternative::cost);
    alternatives
}

fn dedup(ways: &mut Vec<Way>) {
    let mut seen: Vec<Way> = Vec::new();
    ways.retain(|w| {
        if seen.iter().any(|s| s.edits == w.edits && s.notes == w.notes) {
            false
        } else {
            seen.push(w.clone());
            true
        }
    });
}

/// Every way that makes all of `parts` hold: one way of each, combined.
fn product(parts: Vec<Vec<Way>>) -> Vec<Way> {
    let mut out = vec![Way::default()];
    for part in parts {
        if part.is_empty() {
            return Vec::new();
        }
        let mut next = Vec::new();
        for a in &out {
            for b in &part {
                if next.len() == MAX_WAYS {
                    break;
                }
                let mut w = a.clone();
                w.edits.extend(b.edits.iter().cloned());
                w.notes.extend(b.notes.iter().cloned());
                next.push(w);
            }
        }
        out = next;
    }
    out
}

fn union(parts: Vec<Vec<Way>>) -> Vec<Way> {
    let mut out: Vec<Way> = parts.into_iter().flatten().collect();
    out.truncate(MAX_WAYS);
    out
}

/// A field of the record one side of a comparison can be solved for: the
/// side equals `value` when the field does, and grows with it when
/// `increasing`.
struct Leaf<'f> {
    path: Vec<Step>,
    field: &'f Field,
    value: f64,
    increasing: bool,
}

/// A whole number near `v` stands for it (undoes float noise such as
/// 4.000000000001 from a division).
fn snap(v: f64) -> f64 {
    if (v - v.round()).abs() <= 1e-9 * v.abs().max(1.0) {
        v.round()
    } else {
        v
    }
}

/// `field op v` for a field of type `ty`: an integer field gets whole
/// bounds (`> 2.5` is `>= 3`), and `None` when no whole number meets it.
fn bound_edit(path: Vec<Step>, ty: &FieldType, op: CmpOp, v: f64) -> Option<Edit> {
    if !v.is_finite() {
        return None;
    }
    let v = snap(v);
    let (op, v) = if *ty == FieldType::Integer {
        match op {
            CmpOp::Ge => (CmpOp::Ge, v.ceil()),
            CmpOp::Gt => (CmpOp::Ge, v.floor() + 1.0),
            CmpOp::Le => (CmpOp::Le, v.floor()),
            CmpOp::Lt => (CmpOp::Le, v.ceil() - 1.0),
            CmpOp::Eq | CmpOp::Ne if v.fract() != 0.0 => return None,
            other => (other, v),
        }
    } else {
        (op, v)
    };
    Some(Edit { path, op: EditOp::Compare(op, number_json(v)) })
}

fn range_edit(path: Vec<Step>, ty: &FieldType, lo: (f64, bool), hi: (f64, bool), inside: bool) -> Option<Edit> {
    let (lo, hi) = ((snap(lo.0), lo.1), (snap(hi.0), hi.1));
    if !lo.0.is_finite() || !hi.0.is_finite() {
        return None;
    }
    let ((min, min_inclusive), (max, max_inclusive)) = if *ty == FieldType::Integer && inside {
        let min = if lo.1 { lo.0.ceil() } else { lo.0.floor() + 1.0 };
        let max = if hi.1 { hi.0.floor() } else { hi.0.ceil() - 1.0 };
        ((min, true), (max, true))
    } else {
        (lo, hi)
    };
    if min > max {
        return None;
    }
    if inside && min == max && min_inclusive && max_inclusive {
        return Some(Edit { path, op: EditOp::Compare(CmpOp::Eq, number_json(min)) });
    }
    Some(Edit { path, op: EditOp::Between { min, max, min_inclusive, max_inclusive, inside } })
}

struct Ways<'d> {
    db: &'d crate::source::SourceDb,
    /// Variable names bound to a description of their element (texts).
    bindings: Vec<(String, String)>,
    /// Variables bound to an element of one of the record's lists: its path.
    paths: Vec<(VarId, Vec<Step>)>,
}

impl<'d> Ways<'d> {
    /// The sentence-only way for `e` not being `want`, as the hints had it.
    fn note<'a>(&self, env: &mut Env<'a>, e: &'a Expr, want: bool) -> Vec<Way> {
        let texts = sentences(env, self.db, e, want, &self.bindings);
        if texts.is_empty() {
            return Vec::new();
        }
        vec![Way { edits: Vec::new(), notes: vec![texts.join(" and ")] }]
    }

    /// The field of the record `e` reads directly, with its path.
    fn path<'a>(&self, env: &Env<'a>, e: &'a Expr) -> Option<(Vec<Step>, &'a Field)> {
        match &e.kind {
            ExprKind::SelfField(f) => {
                let field = &env.c.program.schema.entity(env.rule.entity).fields[f.0 as usize];
                Some((vec![Step::Key(field.name.as_str().into())], field))
            }
            ExprKind::Get(base, Access::Object(n)) => {
                let ExprKind::Var(v) = base.kind else { return None };
                let Ty::Object(fields) = &base.ty else { return None };
                let (_, path) = self.paths.iter().rev().find(|(var, _)| *var == v)?;
                let field = fields.get(*n)?;
                let mut path = path.clone();
                path.push(Step::Key(field.name.as_str().into()));
                Some((path, field))
            }
            _ => None,
        }
    }

    /// The fields of the record `e` can be solved for so that it equals
    /// `t` (through sums, differences, products and quotients with the
    /// other operand's current value, negation and `??`).
    fn invert<'a>(&self, env: &mut Env<'a>, e: &'a Expr, t: f64, increasing: bool, out: &mut Vec<Leaf<'a>>) {
        if is_constant(e) || !t.is_finite() {
            return;
        }
        if let Some((path, field)) = self.path(env, e) {
            if matches!(field.ty, FieldType::Number | FieldType::Integer) {
                out.push(Leaf { path, field, value: t, increasing });
            }
            return;
        }
        match &e.kind {
            // `sum(list.f)`: any one element's `f` moved by what the sum
            // must move (a choice among the elements, each a way out).
            ExprKind::AggList(Agg::Sum, list) => {
                let ExprKind::Project(base, Access::Object(n)) = &list.kind else { return };
                let Some((base_path, _)) = self.path(env, base) else { return };
                let Ty::List(item) = &base.ty else { return };
                let Ty::Object(fields) = item.as_ref() else { return };
                let Some(field) = fields.get(*n).filter(|f| matches!(f.ty, FieldType::Number | FieldType::Integer)) else { return };
                let Some(sum) = env.number(e) else { return };
                let items = env.eval(list);
                let values: Vec<Option<f64>> =
                    env.elements(&items).map(|el| if let Val::Number(x) = el.body { Some(x) } else { None }).collect();
                for (j, v) in values.into_iter().enumerate() {
                    let Some(v) = v else { continue };
                    let mut path = base_path.clone();
                    path.push(Step::Index(j as u32));
                    path.push(Step::Key(field.name.as_str().into()));
                    out.push(Leaf { path, field, value: v + (t - sum), increasing });
                }
            }
            ExprKind::Neg(x) => self.invert(env, x, -t, !increasing, out),
            ExprKind::Coalesce(a, _) => self.invert(env, a, t, increasing, out),
            ExprKind::Arith(op, a, b) => {
                let (x, y) = (env.number(a), env.number(b));
                match op {
                    Arith::Add => {
                        if let Some(y) = y {
                            self.invert(env, a, t - y, increasing, out);
                        }
                        if let Some(x) = x {
                            self.invert(env, b, t - x, increasing, out);
                        }
                    }
                    Arith::Sub => {
                        if let Some(y) = y {
                            self.invert(env, a, t + y, increasing, out);
                        }
                        if let Some(x) = x {
                            self.invert(env, b, x - t, !increasing, out);
                        }
                    }
                    Arith::Mul => {
                        if let Some(y) = y.filter(|y| *y != 0.0) {
                            self.invert(env, a, t / y, increasing == (y > 0.0), out);
                        }
                        if let Some(x) = x.filter(|x| *x != 0.0) {
                            self.invert(env, b, t / x, increasing == (x > 0.0), out);
                        }
                    }
                    Arith::Div => {
                        if let Some(y) = y.filter(|y| *y != 0.0) {
                            self.invert(env, a, t * y, increasing == (y > 0.0), out);
                        }
                        // x / b falls as a positive b grows (for x > 0).
                        if let (Some(x), Some(y)) = (x, y) {
                            if x > 0.0 && y > 0.0 && t > 0.0 {
                                self.invert(env, b, x / t, !increasing, out);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Edits making `side op t` hold, one per field `side` can be solved for.
    fn bound<'a>(&self, env: &mut Env<'a>, side: &'a Expr, op: CmpOp, t: f64) -> Vec<Way> {
        let mut leaves = Vec::new();
        self.invert(env, side, t, true, &mut leaves);
        leaves
            .into_iter()
            .filter_map(|l| bound_edit(l.path, &l.field.ty, if l.increasing { op } else { op.swapped() }, l.value))
            .map(|e| Way { edits: vec![e], notes: Vec::new() })
            .collect()
    }

    /// Edits moving `side` into (or out of) a range, per field it solves for.
    fn range<'a>(&self, env: &mut Env<'a>, side: &'a Expr, lo: (f64, bool), hi: (f64, bool), inside: bool) -> Vec<Way> {
        let (mut low, mut high) = (Vec::new(), Vec::new());
        self.invert(env, side, lo.0, true, &mut low);
        self.invert(env, side, hi.0, true, &mut high);
        let mut out = Vec::new();
        for (l, h) in low.into_iter().zip(high) {
            if l.path != h.path {
                continue;
            }
            let (a, b) = if l.increasing { ((l.value, lo.1), (h.value, hi.1)) } else { ((h.value, hi.1), (l.value, lo.1)) };
            if inside {
                out.extend(range_edit(l.path, &l.field.ty, a, b, true));
            } else {
                // Below the range or above it: two ways.
                let below = if a.1 { CmpOp::Lt } else { CmpOp::Le };
                let above = if b.1 { CmpOp::Gt } else { CmpOp::Ge };
                out.extend(bound_edit(l.path.clone(), &l.field.ty, below, a.0));
                out.extend(bound_edit(l.path, &l.field.ty, above, b.0));
            }
        }
        out.into_iter().map(|e| Way { edits: vec![e], notes: Vec::new() }).collect()
    }

    /// Ways to make the link `lhs op rhs` of a comparison `want`.
    fn link<'a>(&self, env: &mut Env<'a>, lhs_e: &'a Expr, lhs: &Val<'a>, link: &'a Link, rhs: &Val<'a>, want: bool) -> Vec<Way> {
        let op = if want { link.op } else { link.op.negate() };
        let mut out = Vec::new();
        match (lhs, rhs) {
            (Val::Number(a), Val::Number(b)) => match &link.tolerance {
                Some(t) => {
                    let amount = env.number(&t.amount).unwrap_or(0.0);
                    let band = if t.relative { amount * b.abs() } else { amount.abs() };
                    let inside = op == CmpOp::Eq;
                    out.extend(self.range(env, lhs_e, (b - band, true), (b + band, true), inside));
                    if inside {
                        // The right side equal to the left meets any tolerance.
                        out.extend(self.bound(env, &link.rhs, CmpOp::Eq, *a));
                    }
                }
                None => {
                    out.extend(self.bound(env, lhs_e, op, *b));
                    out.extend(self.bound(env, &link.rhs, op.swapped(), *a));
                }
            },
            (Val::Absent, _) | (_, Val::Absent) => {}
            (a, b) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                for (side, other) in [(lhs_e, b), (&link.rhs, a)] {
                    if is_constant(side) {
                        continue;
                    }
                    if let Some((path, _)) = self.path(env, side) {
                        let value = json_value(env, other);
                        if is_scalar(&value) {
                            out.push(Way { edits: vec![Edit { path, op: EditOp::Compare(op, value) }], notes: Vec::new() });
                        }
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Every way to make `e` evaluate to `want`, in the rule's order.
    fn ways<'a>(&mut self, env: &mut Env<'a>, e: &'a Expr, want: bool) -> Vec<Way> {
        let truth = env.truth(e);
        if truth == Some(want) {
            return vec![Way::default()];
        }
        let found = match &e.kind {
            ExprKind::Not(x) => return self.ways(env, x, !want),
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let is_and = matches!(e.kind, ExprKind::And(..));
                // `and` made true and `or` made false need every operand
                // fixed; the other two, any one operand.
                let mut parts: Vec<Vec<Way>> = Vec::new();
                for x in [a, b] {
                    if env.truth(x) != Some(want) {
                        parts.push(self.ways(env, x, want));
                    }
                }
                if is_and == want {
                    product(parts)
                } else {
                    union(parts)
                }
            }
            ExprKind::Implies(a, b) | ExprKind::If(a, b, None) => {
                if want {
                    // Make the consequence hold, or the condition fail.
                    let fix = self.ways(env, b, true);
                    let avoid = self.ways(env, a, false);
                    union(vec![fix, avoid])
                } else {
                    let parts = vec![self.ways(env, a, true), self.ways(env, b, false)];
                    product(parts)
                }
            }
            ExprKind::If(c, then, Some(otherwise)) => {
                let cond = env.truth(c);
                let (taken, other) = if cond == Some(true) { (then, otherwise) } else { (otherwise, then) };
                let fix = self.ways(env, taken, want);
                let switch = self.ways(env, c, cond != Some(true));
                let other = self.ways(env, other, want);
                union(vec![fix, product(vec![switch, other])])
            }
            ExprKind::Compare(first, links) => {
                let mut lhs_e: &Expr = first;
                let mut lhs = env.eval(first);
                let mut parts = Vec::new();
                for link in links {
                    let rhs = env.eval(&link.rhs);
                    if let Some(holds) = env.compare(&lhs, link, &rhs) {
                        if holds != want {
                            let ways = self.link(env, lhs_e, &lhs, link, &rhs, want);
                            parts.push(if ways.is_empty() { self.note(env, e, want) } else { ways });
                        }
                    }
                    lhs_e = &link.rhs;
                    lhs = rhs;
                }
                if want {
                    product(parts)
                } else {
                    union(parts)
                }
            }
            ExprKind::InRange { value, lo, hi, lo_closed, hi_closed, negated } => match (env.number(lo), env.number(hi)) {
                (Some(l), Some(h)) => self.range(env, value, (l, *lo_closed), (h, *hi_closed), *negated != want),
                _ => Vec::new(),
            },
            ExprKind::InSet { value, set, negated } => match self.path(env, value) {
                Some((path, _)) => {
                    let values = set
                        .iter()
                        .map(|c| match c {
                            Const::Number(n) => number_json(*n),
                            Const::String(s) => Value::String(s.to_string()),
                            Const::Bool(b) => Value::Bool(*b),
                        })
                        .collect();
                    vec![Way { edits: vec![Edit { path, op: EditOp::Set { values, inside: *negated != want } }], notes: Vec::new() }]
                }
                None => Vec::new(),
            },
            ExprKind::InList { value, list, negated } | ExprKind::InKeys { value, keys: list, negated } => {
                self.membership(env, value, list, *negated != want)
            }
            ExprKind::Matches(value, pattern) => match (self.path(env, value), env.pattern(pattern)) {
                (Some((path, _)), Some(r)) => {
                    let pattern = r.as_str().trim_start_matches("^(?:").trim_end_matches(")$").to_string();
                    // A passing example's value that matches, to try.
                    let example = if want {
                        example_values(env.c, &path).iter().find(|v| v.as_str().is_some_and(|s| r.is_match(s))).cloned()
                    } else {
                        None
                    };
                    vec![Way { edits: vec![Edit { path, op: EditOp::Matches { pattern, inside: want, example } }], notes: Vec::new() }]
                }
                _ => Vec::new(),
            },
            ExprKind::IsNull { value, negated } => match self.path(env, value) {
                Some((path, field)) if *negated != want => {
                    // Only an optional field may be left out.
                    if field.optional {
                        vec![Way { edits: vec![Edit { path, op: EditOp::Absent }], notes: Vec::new() }]
                    } else {
                        Vec::new()
                    }
                }
                Some((path, _)) => {
                    let example = example_values(env.c, &path).first().cloned();
                    vec![Way { edits: vec![Edit { path, op: EditOp::Present { example } }], notes: Vec::new() }]
                }
                None => Vec::new(),
            },
            ExprKind::Agg { agg: agg @ (Agg::All | Agg::Any), var, source, filter, body: Some(body) } if (*agg == Agg::All) == want => {
                // `all` fails on its false elements, `not any` on its true
                // ones: each is repaired, in one way out.
                let looking_for = *agg != Agg::All;
                let source_val = env.eval(source);
                let source_text = written(self.db, source, &self.bindings);
                let source_path = self.path(env, source).map(|(p, _)| p);
                let elements: Vec<_> = env.elements(&source_val).collect();
                let mut parts = Vec::new();
                for (i, el) in elements.iter().enumerate() {
                    if let Some(f) = filter {
                        if !env.passes_filter(*var, el, f) {
                            continue;
                        }
                    }
                    env.vars[var.0 as usize] = el.body.clone();
                    if env.truth(body) != Some(looking_for) {
                        continue;
                    }
                    if parts.len() == MAX_ELEMENTS {
                        break;
                    }
                    let name = env.rule.var_names[var.0 as usize].clone();
                    self.bindings.push((name, element_text(env, &source_text, i, &el.body)));
                    let bound = match (&source_path, &el.body) {
                        (Some(p), Val::Item(..)) => {
                            let mut p = p.clone();
                            p.push(Step::Index(i as u32));
                            self.paths.push((*var, p));
                            true
                        }
                        _ => false,
                    };
                    parts.push(self.ways(env, body, !looking_for));
                    if bound {
                        self.paths.pop();
                    }
                    self.bindings.pop();
                }
                product(parts)
            }
            _ => match self.path(env, e) {
                // A boolean field used as a condition.
                Some((path, field)) if field.ty == FieldType::Boolean => {
                    vec![Way { edits: vec![Edit { path, op: EditOp::Compare(CmpOp::Eq, Value::Bool(want)) }], notes: Vec::new() }]
                }
                _ => Vec::new(),
            },
        };
        if found.is_empty() {
            self.note(env, e, want)
        } else {
            found
        }
    }

    /// `value in list` made `inside` (or not): `value` set to a member or
    /// to the key of an entity, or the list field given (or rid of) `value`.
    fn membership<'a>(&self, env: &mut Env<'a>, value: &'a Expr, list: &'a Expr, inside: bool) -> Vec<Way> {
        let mut edits = Vec::new();
        if let Some((path, _)) = self.path(env, value) {
            match &list.kind {
                ExprKind::Keys(entity) => {
                    let entity = env.c.program.schema.entity(*entity).name.clone();
                    let found = env.eval(value);
                    let found = json_value(env, &found);
                    edits.push(Edit { path, op: EditOp::KeyOf { entity, inside, found } });
                }
                ExprKind::TableKeys(t) => {
                    let values = env.c.program.tables[t.0 as usize].entries.iter().map(|(k, _)| Value::String(k.clone())).collect();
                    edits.push(Edit { path, op: EditOp::Set { values, inside } });
                }
                _ => {
                    let list_val = env.eval(list);
                    let values: Vec<Value> = env.elements(&list_val).map(|el| json_value(env, &el.body)).collect();
                    if !values.is_empty() && values.iter().all(is_scalar) {
                        edits.push(Edit { path, op: EditOp::Set { values, inside } });
                    }
                }
            }
        }
        if let Some((path, _)) = self.path(env, list) {
            let v = env.eval(value);
            let v = json_value(env, &v);
            if is_scalar(&v) {
                edits.push(Edit { path, op: EditOp::Contains { value: v, inside } });
            }
        }
        edits.into_iter().map(|e| Way { edits: vec![e], notes: Vec::new() }).collect()
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// A concrete value meeting `op`, nearest the field's `current` value: the
/// bound of `>=`, `<=`, `==`; the next number past a strict bound; the
/// current value clamped into a range; the first member of a set.
/// `None` when no single value is implied (a pattern, `present`, ...).
pub fn realise(op: &EditOp, current: Option<&Value>) -> Option<Option<Value>> {
    let (up, down) = (|x: f64| next_after(x, f64::INFINITY), |x: f64| next_after(x, f64::NEG_INFINITY));
    let number = |x: f64| Some(Some(serde_json::Number::from_f64(x).map(Value::Number)?));
    match op {
        EditOp::Compare(op, v) => match (op, v) {
            (CmpOp::Ge | CmpOp::Le | CmpOp::Eq, v) => Some(Some(v.clone())),
            (CmpOp::Gt, Value::Number(n)) => number(up(n.as_f64()?)),
            (CmpOp::Lt, Value::Number(n)) => number(down(n.as_f64()?)),
            (CmpOp::Ne, Value::Number(n)) if n.is_i64() => Some(Some(Value::from(n.as_i64()?.checked_add(1)?))),
            (CmpOp::Ne, Value::Number(n)) => number(up(n.as_f64()?)),
            (CmpOp::Ne, Value::Bool(b)) => Some(Some(Value::Bool(!b))),
            _ => None,
        },
        EditOp::Between { min, max, min_inclusive, max_inclusive, inside: true } => {
            let x = current.and_then(Value::as_f64).unwrap_or(*min);
            let x = if x < *min || (x == *min && !min_inclusive) {
                if *min_inclusive {
                    *min
                } else {
                    up(*min)
                }
            } else if x > *max || (x == *max && !max_inclusive) {
                if *max_inclusive {
                    *max
                } else {
                    down(*max)
                }
            } else {
                x
            };
            number_or_int(x)
        }
        EditOp::Set { values, inside: true } => Some(values.first().cloned()),
        EditOp::Matches { inside: true, example: Some(e), .. } | EditOp::Present { example: Some(e) } => Some(Some(e.clone())),
        EditOp::Contains { .. } | EditOp::Absent => Some(None),
        _ => None,
    }
}

fn number_or_int(x: f64) -> Option<Option<Value>> {
    let v = number_json(x);
    if v.is_null() {
        None
    } else {
        Some(Some(v))
    }
}

/// The passing examples' values of the field at `path`: only for a field
/// of the record itself (one key).
fn example_values<'c>(c: &'c Compiled, path: &[Step]) -> &'c [Value] {
    match path {
        [Step::Key(name)] => c.example_values.get(name.as_ref()).map_or(&[], Vec::as_slice),
        _ => &[],
    }
}

/// The next representable number after `x` toward `toward`.
fn next_after(x: f64, toward: f64) -> f64 {
    if x.is_nan() || x == toward {
        return x;
    }
    if x == 0.0 {
        return if toward > 0.0 { f64::from_bits(1) } else { -f64::from_bits(1) };
    }
    let bits = x.to_bits();
    let up = (toward > x) == (x > 0.0);
    f64::from_bits(if up { bits + 1 } else { bits - 1 })
}

/// Applies an alternative's edits to a record (a JSON object); false when
/// one has no single value to try or its path is not in the record.
pub fn apply(edits: &[Edit], record: &mut Value) -> bool {
    for edit in edits {
        let Some((last, parents)) = edit.path.split_last() else { return false };
        let mut at = &mut *record;
        for step in parents {
            at = match (step, at) {
                (Step::Key(k), Value::Object(m)) => match m.get_mut(&**k) {
                    Some(v) => v,
                    None => return false,
                },
                (Step::Index(i), Value::Array(a)) => match a.get_mut(*i as usize) {
                    Some(v) => v,
                    None => return false,
                },
                _ => return false,
            };
        }
        let current = match (last, &*at) {
            (Step::Key(k), Value::Object(m)) => m.get(&**k),
            (Step::Index(i), Value::Array(a)) => a.get(*i as usize),
            _ => return false,
        };
        let Some(value) = realise(&edit.op, current) else { return false };
        let value = match (&edit.op, value) {
            (EditOp::Contains { value, inside }, _) => {
                let mut list = current.and_then(Value::as_array).cloned().unwrap_or_default();
                list.retain(|v| v != value);
                if *inside {
                    list.push(value.clone());
                }
                Some(Value::Array(list))
            }
            (_, v) => v,
        };
        match (last, at, value) {
            (Step::Key(k), Value::Object(m), Some(v)) => {
                m.insert(k.to_string(), v);
            }
            (Step::Key(k), Value::Object(m), None) => {
                m.remove(&**k);
            }
            (Step::Index(i), Value::Array(a), Some(v)) if (*i as usize) < a.len() => a[*i as usize] = v,
            _ => return false,
        }
    }
    true
}

/// What the record-local rules say of a record: per rule of
/// `Compiled::local_rules`, whether it fails; and the fields that fail
/// the schema. `None` when the line is not a JSON object. With `known`
/// (the verdicts of the record before an edit, and the schema bits of the
/// fields edited), only the rules that read an edited field run again.
fn verdicts(c: &Compiled, line: &[u8], known: Option<(&[bool], u64)>) -> Option<(Vec<bool>, u64)> {
    let mut table = c.plan.table();
    let failures = reader::read_line(&c.plan, &mut reader::Scratch::default(), &mut table, line).ok()?;
    let mut masks = store::Masks::default();
    let schema = failures.iter().fold(0, |m, f| m | store::field_bit(f.field));
    masks.push(schema);
    let data = super::eval::Data { table: &table, masks: &masks, store: None };
    let rules = &c.program.rules;
    let first = *c.local_rules.first()?;
    let mut env = Env::new(c, data, &rules[first], 0);
    let fails = c
        .local_rules
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            if schema & c.rule_masks[i] != 0 {
                return false;
            }
            if let Some((before, edited)) = known {
                if c.rule_masks[i] & edited == 0 {
                    return before[k];
                }
            }
            env.reset(&rules[i], 0);
            env.run() == Some(false)
        })
        .collect();
    Some((fails, schema))
}

/// A record before any edit: its line parsed, and what its record-local
/// rules found (per rule of `Compiled::local_rules`, whether it failed; the
/// schema bits of the fields that failed the schema).
pub struct Before<'l> {
    pub line: &'l [u8],
    pub record: serde_json::Map<String, Value>,
    pub fails: Vec<bool>,
    pub schema: u64,
}

/// The line with `edits` applied: the fields they touch, edited, written
/// again before the closing brace (the reader keeps the last of duplicate
/// keys, and null is absent for an optional field), so the rest of the
/// line is neither rebuilt nor re-serialised. `None` when an edit has no
/// single value to try, or there is no edit (a way only words express is
/// not re-checked: the unchanged record would fail it again).
fn patch(before: &Before, edits: &[Edit]) -> Option<Vec<u8>> {
    if edits.is_empty() {
        return None;
    }
    let mut touched = serde_json::Map::new();
    for edit in edits {
        let Some(Step::Key(top)) = edit.path.first() else { return None };
        if let Some(v) = before.record.get(&**top) {
            touched.entry(top.to_string()).or_insert_with(|| v.clone());
        }
    }
    let mut touched = Value::Object(touched);
    if !apply(edits, &mut touched) {
        return None;
    }
    let end = before.line.iter().rposition(|&b| b == b'}')?;
    let mut out = before.line[..end].to_vec();
    let mut first = before.record.is_empty();
    let mut keys: Vec<&str> = edits
        .iter()
        .filter_map(|e| match e.path.first() {
            Some(Step::Key(k)) => Some(&**k),
            _ => None,
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut out, key).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, touched.get(key).unwrap_or(&Value::Null)).ok()?;
    }
    out.extend_from_slice(&before.line[end..]);
    Some(out)
}

/// Whether any alternative has a single value to try for every edit (else
/// re-checking is skipped, and the line not even parsed).
pub fn worth_checking(alternatives: &[Alternative]) -> bool {
    alternatives.iter().any(|a| !a.edits.is_empty() && a.edits.iter().all(|e| realise(&e.op, None).is_some()))
}

/// Re-checks the record with each alternative of rule `rule`'s failure
/// applied, then orders them: those that break no other reject rule first
/// (the ones that break one are dropped when such a clean one exists),
/// then those not re-checked, then those that break rules (fewest first);
/// within each, those that also repair more of the record's other failing
/// reject rules first, then the cheaper. An alternative after which the
/// rule still fails is dropped.
pub fn check_alternatives(c: &Compiled, rule: usize, original: &Before, alternatives: &mut Vec<Alternative>) {
    let (schema_before, before) = (original.schema, &original.fails);
    let entity = c.program.schema.entity(c.entity);
    let rules = &c.program.rules;
    let Some(own) = c.local_rules.iter().position(|&i| i == rule) else { return };
    // (standing, conflicts, repaired) per alternative; None drops it.
    type Rank = (u8, usize, std::cmp::Reverse<usize>);
    let mut keys: Vec<Option<Rank>> = Vec::new();
    for alt in alternatives.iter_mut() {
        let mut candidates = vec![alt.edits.clone()];
        // A set: each member in turn, keeping those no rule forbids.
        let set = alt.edits.iter().position(|e| matches!(e.op, EditOp::Set { inside: true, .. }));
        if let Some(k) = set {
            if let EditOp::Set { values, .. } = &alt.edits[k].op {
                candidates = values
                    .iter()
                    .map(|v| {
                        let mut edits = alt.edits.clone();
                        edits[k].op = EditOp::Set { values: vec![v.clone()], inside: true };
                        edits
                    })
                    .collect();
            }
        }
        let mut outcomes = Vec::new();
        for edits in &candidates {
            let Some(bytes) = patch(original, edits) else {
                outcomes.push(None);
                continue;
            };
            // The schema bits of the fields edited (an unknown name: all).
            let edited = edits.iter().fold(0, |m, e| match e.path.first() {
                Some(Step::Key(name)) => match entity.fields.iter().position(|f| *f.name == **name) {
                    Some(f) => m | store::field_bit(crate::ir::schema::FieldId(f as u32)),
                    None => u64::MAX,
                },
                _ => u64::MAX,
            });
            let Some((after, schema_after)) = verdicts(c, &bytes, Some((before, edited))) else {
                outcomes.push(None);
                continue;
            };
            if after[own] {
                outcomes.push(Some(None)); // the rule still fails: no way out
                continue;
            }
            let mut conflicts = Vec::new();
            if schema_after & !schema_before != 0 {
                conflicts.push("schema".to_string());
            }
            let mut repaired = 0;
            for (k, &i) in c.local_rules.iter().enumerate() {
                if k == own || rules[i].severity != Severity::Reject {
                    continue;
                }
                match (before[k], after[k]) {
                    (false, true) => conflicts.push(rules[i].id.clone()),
                    (true, false) => repaired += 1,
                    _ => {}
                }
            }
            outcomes.push(Some(Some((conflicts, repaired))));
        }
        let key = if outcomes.iter().all(Option::is_none) {
            // Not re-checked: no single value to try.
            Some((1, 0, std::cmp::Reverse(0)))
        } else {
            let tried: Vec<(usize, &(Vec<String>, usize))> =
                outcomes.iter().enumerate().filter_map(|(i, o)| o.as_ref().and_then(|o| o.as_ref()).map(|o| (i, o))).collect();
            if tried.is_empty() {
                None
            } else {
                let clean: Vec<usize> = tried.iter().filter(|(_, (c, _))| c.is_empty()).map(|(i, _)| *i).collect();
                if let (Some(k), false) = (set, clean.is_empty()) {
                    // Only the members no rule forbids.
                    let members: Vec<Value> = clean
                        .iter()
                        .filter_map(|&i| match &candidates[i][k].op {
                            EditOp::Set { values, .. } => values.first().cloned(),
                            _ => None,
                        })
                        .collect();
                    alt.edits[k].op = EditOp::Set { values: members, inside: true };
                }
                let (_, (conflicts, repaired)) = match clean.first() {
                    Some(&i) => tried.iter().find(|(j, _)| *j == i).copied().unwrap_or(tried[0]),
                    None => tried[0],
                };
                alt.conflicts = Some(conflicts.clone());
                let standing = if conflicts.is_empty() { 0 } else { 2 };
                Some((standing, conflicts.len(), std::cmp::Reverse(*repaired)))
            }
        };
        keys.push(key);
    }
    let any_clean = keys.iter().any(|k| matches!(k, Some((0, ..))));
    let mut ranked: Vec<(Rank, Alternative)> = std::mem::take(alternatives)
        .into_iter()
        .zip(keys)
        .filter_map(|(a, k)| k.map(|k| (k, a)))
        .filter(|(k, _)| !(any_clean && k.0 == 2))
        .collect();
    // Stable: among equals, the cost order `ways_out` gave.
    ranked.sort_by_key(|(k, _)| *k);
    *alternatives = ranked.into_iter().map(|(_, a)| a).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> Step {
        Step::Key(k.into())
    }

    #[test]
    fn the_text_of_packed_ways_is_the_text_of_the_ways() {
        let way = |conflicts: Option<Vec<&str>>, note: &str| Alternative {
            edits: vec![Edit { path: vec![key("arr")], op: EditOp::Absent }],
            notes: vec![note.to_string()],
            conflicts: conflicts.map(|c| c.into_iter().map(String::from).collect()),
        };
        let ways = [way(None, "a note"), way(Some(vec![]), "clean"), way(Some(vec!["rule-a", "schema"]), "breaks two")];
        for n in 1..=ways.len() {
            let json: Vec<Value> = ways[..n].iter().map(alternative_json).collect();
            assert_eq!(alternatives_text_of_json(&json), alternatives_text(&ways[..n]), "{n} ways");
        }
        assert_eq!(alternatives_text_of_json(&[]), "");
        assert!(alternatives_text_of_json(&[alternative_json(&ways[2])]).contains("(would break `rule-a`, `schema`)"));
    }

    /// `patch` appends the edited fields to the line; what the reader then
    /// sees (the last of duplicate keys) is the record with the edits applied.
    fn patched(line: &str, edits: &[Edit]) -> Option<Value> {
        let record = serde_json::from_str(line).unwrap();
        let before = Before { line: line.as_bytes(), record, fails: Vec::new(), schema: 0 };
        let bytes = patch(&before, edits)?;
        // serde_json keeps the last of duplicate keys, as the reader does.
        Some(serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn a_patched_line_reads_as_the_record_with_its_edits_applied() {
        let line = r#"{"a": 1, "arr": 5, "owners": [{"stake": 0.4}, {"stake": 1.5}]}  "#;
        let edits = vec![
            Edit { path: vec![key("owners"), Step::Index(1), key("stake")], op: EditOp::Compare(CmpOp::Le, json!(1)) },
            Edit { path: vec![key("arr")], op: EditOp::Absent },
            Edit { path: vec![key("a")], op: EditOp::Compare(CmpOp::Ge, json!(3)) },
            Edit { path: vec![key("new")], op: EditOp::Compare(CmpOp::Eq, json!("x")) },
        ];
        let mut expected: Value = serde_json::from_str(line).unwrap();
        assert!(apply(&edits, &mut expected));
        let got = patched(line, &edits).unwrap();
        // `absent` is written as null, which the reader takes as absent.
        assert_eq!(got["arr"], Value::Null);
        expected["arr"] = Value::Null;
        assert_eq!(got, expected);
        assert_eq!(got["owners"], json!([{"stake": 0.4}, {"stake": 1}]));
        // An empty object gets no leading comma.
        assert_eq!(patched("{}", &edits[3..]), Some(json!({"new": "x"})));
    }

    #[test]
    fn no_edit_or_no_single_value_is_not_patched() {
        let line = r#"{"a": 1}"#;
        assert_eq!(patched(line, &[]), None, "a way only words express");
        let pattern = Edit { path: vec![key("a")], op: EditOp::Matches { pattern: "[A-Z]+".into(), inside: true, example: None } };
        assert_eq!(patched(line, &[pattern]), None);
        let nested_in_absent = Edit { path: vec![key("b"), Step::Index(0)], op: EditOp::Compare(CmpOp::Le, json!(1)) };
        assert_eq!(patched(line, &[nested_in_absent]), None);
    }
}
