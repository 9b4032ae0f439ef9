//! Why a rule failed: the values that made it fail and, where one can be
//! computed, a repair hint. Runs only for failures, so the passing path
//! pays nothing for it.

use super::eval::{Env, Val};
use crate::ir::expr::*;
use crate::syntax::ast::CmpOp;
use serde_json::{Map, Value};

/// The failing values (keyed by the expression as written) and hints.
#[derive(Default, Debug, Clone)]
pub struct Explanation {
    pub values: Map<String, Value>,
    pub hints: Vec<String>,
    /// Dataset rules: the counts and shares short of their bound.
    pub shortfalls: Vec<super::shortfall::Shortfall>,
}

/// How many failing elements of an `all` are explained, and how many items
/// of a list are shown.
const MAX_ELEMENTS: usize = 5;
pub const MAX_LIST: usize = 20;

pub fn explain<'a>(env: &mut Env<'a>, db: &crate::source::SourceDb) -> Explanation {
    let mut x = Explainer { db, out: Explanation::default(), bindings: Vec::new() };
    let rule = env.rule;
    for (var, value) in &rule.lets {
        let v = env.eval(value);
        env.vars[var.0 as usize] = v;
    }
    x.explain(env, &rule.expr, true);
    x.out
}

struct Explainer<'d> {
    db: &'d crate::source::SourceDb,
    out: Explanation,
    /// Variable names bound to a description of their current element.
    bindings: Vec<(String, String)>,
}

/// The hints of the old, sentence-only kind for why `e` is not `want`,
/// with `bindings` (variable name → what its element is) in effect: the
/// text of a way out that no edit of a field expresses (see `hints`).
pub(crate) fn sentences<'a>(
    env: &mut Env<'a>,
    db: &crate::source::SourceDb,
    e: &'a Expr,
    want: bool,
    bindings: &[(String, String)],
) -> Vec<String> {
    let mut x = Explainer { db, out: Explanation::default(), bindings: bindings.to_vec() };
    x.explain(env, e, want);
    x.out.hints
}

/// The expression as written, with bound variables replaced by what they
/// stand for.
pub(crate) fn written(db: &crate::source::SourceDb, e: &Expr, bindings: &[(String, String)]) -> String {
    let raw = db.snippet(e.span);
    let mut text: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, desc) in bindings.iter().rev() {
        text = replace_word(&text, name, desc);
    }
    text
}

pub fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

pub(crate) fn show_number(n: f64) -> String {
    number_json(n).to_string()
}

/// A value as JSON (lists capped at `MAX_LIST` items).
pub(crate) fn json_value<'a>(env: &Env<'a>, v: &Val<'a>) -> Value {
    match v {
        Val::Absent => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Number(n) => number_json(*n),
        Val::Str(s) => Value::String(s.to_string()),
        Val::Entity(r) | Val::Edge { record: r, .. } => env.key_of(*r).map_or(Value::Null, |k| Value::String(k.to_string())),
        Val::Item(obj, row) => {
            Value::Array(obj.fields.iter().map(|c| json_value(env, &crate::check::eval::cell(c, *row as usize))).collect())
        }
        other => {
            let mut list = Vec::new();
            let mut more = 0usize;
            for e in env.elements(other) {
                if list.len() < MAX_LIST {
                    list.push(json_value(env, &e.body));
                } else {
                    more += 1;
                }
            }
            if more > 0 {
                list.push(Value::String(format!("… {more} more")));
            }
            Value::Array(list)
        }
    }
}

/// What the `i`-th element of the collection written `source` is, in a
/// hint: `owners[1]`, `subsidiaries["acme"]`, or the value itself.
pub(crate) fn element_text<'a>(env: &Env<'a>, source: &str, i: usize, body: &Val<'a>) -> String {
    match body {
        Val::Entity(r) => match env.key_of(*r) {
            Some(k) => format!("{source}[{k:?}]"),
            None => format!("{source}[{i}]"),
        },
        Val::Item(..) | Val::List(..) => format!("{source}[{i}]"),
        other => json_value(env, other).to_string(),
    }
}

impl<'d> Explainer<'d> {
    /// The expression as written, with bound variables replaced by what
    /// they stand for (`o.id` → `owners[2].id`).
    fn text(&self, e: &Expr) -> String {
        written(self.db, e, &self.bindings)
    }

    fn value<'a>(&self, env: &Env<'a>, v: &Val<'a>) -> Value {
        json_value(env, v)
    }

    fn record<'a>(&mut self, env: &mut Env<'a>, e: &'a Expr) {
        if is_constant(e) {
            return;
        }
        if let ExprKind::Collection(_) | ExprKind::Keys(_) | ExprKind::TableKeys(_) = e.kind {
            return;
        }
        let v = env.eval(e);
        let json = self.value(env, &v);
        self.out.values.insert(self.text(e), json);
    }

    /// Records the values of the leaves of a condition that held (context,
    /// such as `industry == "SaaS"` before `then`).
    fn context<'a>(&mut self, env: &mut Env<'a>, e: &'a Expr) {
        match &e.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.context(env, a);
                self.context(env, b);
            }
            ExprKind::Not(a) => self.context(env, a),
            ExprKind::Compare(first, links) => {
                self.record(env, first);
                for l in links {
                    self.record(env, &l.rhs);
                }
            }
            ExprKind::InRange { value, .. }
            | ExprKind::InSet { value, .. }
            | ExprKind::InList { value, .. }
            | ExprKind::InKeys { value, .. }
            | ExprKind::Matches(value, _)
            | ExprKind::IsNull { value, .. } => self.record(env, value),
            _ => self.record(env, e),
        }
    }

    /// Explains why `e` is not `want`.
    fn explain<'a>(&mut self, env: &mut Env<'a>, e: &'a Expr, want: bool) {
        let negation = if want { "" } else { "not " };
        match &e.kind {
            ExprKind::And(a, b) if want => {
                if env.truth(a) == Some(false) {
                    self.explain(env, a, true);
                }
                if env.truth(b) == Some(false) {
                    self.explain(env, b, true);
                }
            }
            ExprKind::Or(a, b) if !want => {
                if env.truth(a) == Some(true) {
                    self.explain(env, a, false);
                }
                if env.truth(b) == Some(true) {
                    self.explain(env, b, false);
                }
            }
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.explain(env, a, want);
                self.explain(env, b, want);
            }
            ExprKind::Implies(a, b) | ExprKind::If(a, b, None) if want => {
                self.context(env, a);
                self.explain(env, b, true);
            }
            ExprKind::If(c, then, Some(otherwise)) => {
                self.context(env, c);
                let branch = if env.truth(c) == Some(true) { then } else { otherwise };
                self.explain(env, branch, want);
            }
            ExprKind::Not(x) => self.explain(env, x, !want),
            ExprKind::Compare(first, links) => {
                self.record(env, first);
                let mut lhs_expr: &Expr = first;
                let mut lhs = env.eval(first);
                for link in links {
                    self.record(env, &link.rhs);
                    let rhs = env.eval(&link.rhs);
                    let op = if want { link.op } else { link.op.negate() };
                    let holds = env.compare(&lhs, link, &rhs);
                    if holds.is_none() || holds == Some(want) {
                        lhs_expr = &link.rhs;
                        lhs = rhs;
                        continue;
                    }
                    if let (Val::Number(a), Val::Number(b)) = (&lhs, &rhs) {
                        let bound = show_number(*b);
                        let hint = match &link.tolerance {
                            Some(t) => {
                                let amount = env.number(&t.amount).unwrap_or(0.0);
                                let band = if t.relative { amount * b.abs() } else { amount.abs() };
                                format!(
                                    "`{}` must {}be between {} and {} (`{}` ± {})",
                                    self.text(lhs_expr),
                                    if op == CmpOp::Ne { "not " } else { "" },
                                    show_number(b - band),
                                    show_number(b + band),
                                    self.text(&link.rhs),
                                    self.text(&t.amount)
                                )
                            }
                            None => {
                                let rhs_text = self.text(&link.rhs);
                                let of = if rhs_text == bound { String::new() } else { format!(" (`{rhs_text}`)") };
                                format!("`{}` must be {} {bound}{of}", self.text(lhs_expr), words(op))
                            }
                        };
                        self.out.hints.push(hint);
                        if link.tolerance.is_none() {
                            let (a, b) = (*a, *b);
                            self.shortfall(env, lhs_expr, &|v| op.holds(v, b), b);
                            self.shortfall(env, &link.rhs, &|v| op.holds(a, v), a);
                        }
                    } else if !lhs.is_absent() && !rhs.is_absent() {
                        let hint = format!("`{}` must be {} `{}`", self.text(lhs_expr), words(op), self.text(&link.rhs));
                        self.out.hints.push(hint);
                    }
                    lhs_expr = &link.rhs;
                    lhs = rhs;
                }
            }
            ExprKind::InRange { value, lo, hi, lo_closed, hi_closed, negated } => {
                self.record(env, value);
                let (l, h) = (env.number(lo).unwrap_or(f64::NAN), env.number(hi).unwrap_or(f64::NAN));
                let inside = *negated != want;
                let (lc, hc) = (*lo_closed, *hi_closed);
                let in_range = move |v: f64| (if lc { v >= l } else { v > l }) && (if hc { v <= h } else { v < h });
                // The edge to reach: the near one from outside, either from inside.
                let current = env.number(value).unwrap_or(f64::NAN);
                let edge = if current < l || !inside && current - l < h - current { l } else { h };
                self.shortfall(env, value, &|v| in_range(v) == inside, edge);
                self.out.hints.push(format!(
                    "`{}` must {}be in {}{}, {}{}",
                    self.text(value),
                    if inside { "" } else { "not " },
                    if *lo_closed { "[" } else { "(" },
                    show_number(l),
                    show_number(h),
                    if *hi_closed { "]" } else { ")" }
                ));
            }
            ExprKind::InSet { value, set, negated } => {
                self.record(env, value);
                let inside = *negated != want;
                let items: Vec<String> = set
                    .iter()
                    .map(|c| match c {
                        Const::Number(n) => show_number(*n),
                        Const::String(s) => format!("{s:?}"),
                        Const::Bool(b) => b.to_string(),
                    })
                    .collect();
                let which = if inside { "one of" } else { "none of" };
                self.out.hints.push(format!("`{}` must be {which} {}", self.text(value), items.join(", ")));
            }
            ExprKind::InList { value, list, negated } | ExprKind::InKeys { value, keys: list, negated } => {
                self.record(env, value);
                let shown = env.eval(value);
                let shown = self.value(env, &shown);
                let inside = *negated != want;
                let hint = match &list.kind {
                    ExprKind::Keys(entity) => {
                        let name = &env.c.program.schema.entity(*entity).name;
                        if inside {
                            format!("`{}` is {shown}, which is not the key of any {name} in the dataset", self.text(value))
                        } else {
                            format!("`{}` must not be the key of a {name}", self.text(value))
                        }
                    }
                    _ => {
                        self.record(env, list);
                        format!("`{}` must {}be in `{}`", self.text(value), if inside { "" } else { "not " }, self.text(list))
                    }
                };
                self.out.hints.push(hint);
            }
            ExprKind::Matches(value, pattern) => {
                self.record(env, value);
                if let Pattern::Table(_, key) = pattern {
                    self.record(env, key);
                }
                if let Some(r) = env.pattern(pattern) {
                    let shown = r.as_str().trim_start_matches("^(?:").trim_end_matches(")$").to_string();
                    self.out.hints.push(format!("`{}` must {negation}match /{shown}/", self.text(value)));
                }
            }
            ExprKind::IsNull { value, negated } => {
                self.record(env, value);
                let absent = *negated != want;
                let hint = if absent {
                    format!("`{}` must be absent or null", self.text(value))
                } else {
                    format!("`{}` must be present and not null", self.text(value))
                };
                self.out.hints.push(hint);
            }
            ExprKind::Agg { agg: agg @ (Agg::All | Agg::Any), var, source, filter, body: Some(body) } => {
                let all = *agg == Agg::All;
                let source_val = env.eval(source);
                let source_text = self.text(source);
                let elements: Vec<_> = env.elements(&source_val).collect();
                // `all` fails on its false elements; `not any` on its true
                // ones. `any` and `not all` fail for want of an element.
                let looking_for = if all { Some(false) } else { Some(true) };
                if all != want {
                    let hint = if want {
                        format!("no element of `{source_text}` satisfies `{}`", self.text(body))
                    } else {
                        format!("every element of `{source_text}` satisfies `{}`", self.text(body))
                    };
                    self.out.hints.push(hint);
                    return;
                }
                let mut shown = 0;
                for (i, el) in elements.iter().enumerate() {
                    if let Some(f) = filter {
                        if !env.passes_filter(*var, el, f) {
                            continue;
                        }
                    }
                    env.vars[var.0 as usize] = el.body.clone();
                    if env.truth(body) != looking_for {
                        continue;
                    }
                    if shown == MAX_ELEMENTS {
                        self.out.hints.push("… and more".into());
                        break;
                    }
                    shown += 1;
                    let desc = element_text(env, &source_text, i, &el.body);
                    let name = env.rule.var_names[var.0 as usize].clone();
                    self.bindings.push((name, desc));
                    self.explain(env, body, looking_for == Some(false));
                    self.bindings.pop();
                }
            }
            ExprKind::Call(Builtin::InCycle(g), _) => {
                let this = env.this;
                let store = env.data.store.expect("in_cycle runs on the store");
                if let Some((cycle, component)) = store.graphs.get(g).and_then(|index| index.cycle_of.get(&this)) {
                    let key = |r: &u32| env.key_of(*r).unwrap_or("?").to_string();
                    // Lists are capped: a cycle of n companies reported on
                    // each of its n members must not print n² ids.
                    let shown = |records: &[u32]| -> Vec<String> {
                        let mut keys: Vec<String> = records.iter().take(MAX_LIST).map(key).collect();
                        if records.len() > MAX_LIST {
                            keys.push(format!("… {} more", records.len() - MAX_LIST));
                        }
                        keys
                    };
                    let mut path = shown(&cycle[..cycle.len() - 1]);
                    path.push(key(&cycle[cycle.len() - 1]));
                    self.out.values.insert("cycle".into(), Value::Array(path.iter().cloned().map(Value::String).collect()));
                    // The whole strongly connected component, in input
                    // order: a company may lie on several cycles.
                    let members = &store.graphs[g].components[*component as usize];
                    self.out.values.insert("component".into(), Value::Array(shown(members).into_iter().map(Value::String).collect()));
                    if members.len() + 1 > cycle.len() {
                        self.out.values.insert("component_size".into(), Value::from(members.len()));
                    }
                    self.out.hints.push(format!("break the cycle {}: remove one of its links", path.join(" → ")));
                }
            }
            ExprKind::Call(Builtin::Unique(f), _) => {
                let value = crate::check::eval::cell(&env.data.table.columns[f.0 as usize], env.this as usize);
                let v = self.value(env, &value);
                let store = env.data.store.expect("unique runs on the store");
                let name = env.c.program.schema.entity(env.rule.entity).fields[f.0 as usize].name.clone();
                // With `--base`, line numbers of base records are in another
                // file: list them apart, or `"lines": [2, 2]` is ambiguous.
                let (mut lines, mut base_lines) = (Vec::new(), Vec::new());
                if let (Val::Str(k), true) = (&value, Some(*f) == store.key) {
                    for r in store.rows_with_key(k) {
                        let line = Value::from(store.line_of(r));
                        if (r as usize) < store.base {
                            base_lines.push(line);
                        } else {
                            lines.push(line);
                        }
                    }
                }
                self.out.values.insert(name.clone(), v.clone());
                if !lines.is_empty() {
                    self.out.values.insert("lines".into(), Value::Array(lines));
                }
                if !base_lines.is_empty() {
                    self.out.values.insert("base_lines".into(), Value::Array(base_lines));
                }
                self.out.hints.push(format!("`{name}` {v} is used more than once: give each record its own"));
            }
            _ => self.record(env, e),
        }
    }
}

impl Explainer<'_> {
    /// For a dataset rule: when `e` is a `count` or `share` whose value
    /// fails `holds` (the comparison the rule makes of it), measures it in
    /// records.
    fn shortfall<'a>(&mut self, env: &mut Env<'a>, e: &'a Expr, holds: &dyn Fn(f64) -> bool, target: f64) {
        if env.rule.scope != crate::ir::Scope::Dataset {
            return;
        }
        let found = super::shortfall::measure(env, e, holds, target, &|e| self.text(e));
        self.out.shortfalls.extend(found);
    }
}

/// True when the expression reads nothing from the data.
pub(crate) fn is_constant(e: &Expr) -> bool {
    let mut constant = true;
    crate::check::walk(e, &mut |n| {
        if !matches!(
            n.kind,
            ExprKind::Number(_) | ExprKind::String(_) | ExprKind::Bool(_) | ExprKind::Null | ExprKind::Arith(..) | ExprKind::Neg(_)
        ) {
            constant = false;
        }
    });
    constant
}

pub(crate) fn words(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "equal to",
        CmpOp::Ne => "different from",
        CmpOp::Lt => "less than",
        CmpOp::Le => "at most",
        CmpOp::Gt => "greater than",
        CmpOp::Ge => "at least",
    }
}

/// Replaces whole-word occurrences of `name` not preceded by `.`.
fn replace_word(text: &str, name: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if text[i..].starts_with(name)
            && (i == 0 || (!is_ident(bytes[i - 1]) && bytes[i - 1] != b'.'))
            && bytes.get(i + name.len()).is_none_or(|&b| !is_ident(b))
        {
            out.push_str(with);
            i += name.len();
        } else {
            let ch = text[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}
