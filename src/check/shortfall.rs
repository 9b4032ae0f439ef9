//! How far a failing dataset-level `count` or `share` is from its bound,
//! in records: which elements hold it back, how many of them must change,
//! and how many new ones would do it instead. Computed from the rule's IR
//! (the aggregate, its filter and its condition), never from its id, and
//! only for a rule that failed.

use super::eval::{Env, Val};
use crate::ir::expr::{Agg, Expr, ExprKind};
use serde_json::{json, Value};

/// How many of the elements behind a shortfall are named.
const MAX_RECORDS: usize = 20;
/// How many members of a group are shown when a group is named.
const MAX_MEMBERS: usize = 5;

/// Which way the aggregate must move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// More elements must satisfy the condition (or be counted).
    More,
    /// Fewer must.
    Fewer,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::More => "more",
            Direction::Fewer => "fewer",
        }
    }
}

/// One aggregate of a failing dataset rule, measured against its bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Shortfall {
    /// The aggregate as written, bound variables replaced.
    pub aggregate: String,
    pub agg: Agg,
    /// The collection it runs over, as written.
    pub source: String,
    /// What an element must satisfy to count: the `share` condition, or the
    /// `count` filter (None: every element counts).
    pub condition: Option<String>,
    /// The condition with the element variable's prefix dropped
    /// (`behaviour_class == "x"` for `c.behaviour_class == "x"`), for prose.
    pub readable: Option<String>,
    /// The same condition as a tree a program can read (`predicate`).
    pub predicate: Option<Value>,
    /// A value inside the bounds that the rule's prose names ("about
    /// 15%"), and the fewest additions that bring the aggregate to it.
    pub target: Option<(f64, Option<usize>)>,
    /// Elements that satisfy the condition (for `count`: the count).
    pub matching: usize,
    /// For `share`: the elements whose condition is known (the denominator).
    pub of: Option<usize>,
    pub direction: Direction,
    /// The fewest existing elements that must change (start or stop
    /// satisfying the condition) for the bound to hold; None when no number
    /// of changes reaches it.
    pub change: Option<usize>,
    /// The fewest new elements to add instead (satisfying the condition
    /// when `direction` is `More`, not satisfying it when `Fewer`); None
    /// when no number of additions reaches it.
    pub add: Option<usize>,
    /// The elements that would have to change, in collection order
    /// (capped at `MAX_RECORDS`), and how many there are in all.
    pub records: Vec<Value>,
    pub records_total: usize,
}

/// Measures `agg` (a `count` or `share` aggregate over a collection) when
/// its value fails `holds`, the comparison the rule makes of it. Returns
/// None for any other expression, or when the bound holds already.
pub fn measure<'a>(
    env: &mut Env<'a>,
    agg: &'a Expr,
    holds: &dyn Fn(f64) -> bool,
    target: f64,
    text: &dyn Fn(&Expr) -> String,
) -> Option<Shortfall> {
    let ExprKind::Agg { agg: kind @ (Agg::Count | Agg::Share), var, source, filter, body } = &agg.kind else {
        return None;
    };
    if *kind == Agg::Share && body.is_none() {
        return None;
    }
    let source_val = env.eval(source);
    // Elements that satisfy the condition, elements whose condition is
    // known (for a count: every element; an element a count's filter
    // leaves out is one a change could bring in), and the first few of
    // each side, which a change would touch.
    let (mut matching, mut known) = (0usize, 0usize);
    let mut first: [Vec<Val<'a>>; 2] = [Vec::new(), Vec::new()];
    let count_value = if *kind == Agg::Count { env.number(agg) } else { None };
    match count_value {
        // A count short of a minimum names nobody, so its value and the
        // collection's size are enough: no pass over the filter (a
        // coverage rule over a million companies would pay one a class).
        Some(n) if target > n => {
            matching = n as usize;
            known = env.elements(&source_val).count();
        }
        _ => {
            for el in env.elements(&source_val) {
                let passes = match filter {
                    Some(f) => env.passes_filter(*var, &el, f),
                    None => true,
                };
                let condition = match (kind, body) {
                    (Agg::Share, Some(_)) if !passes => continue,
                    (Agg::Share, Some(b)) => {
                        env.vars[var.0 as usize] = el.body.clone();
                        env.truth(b)
                    }
                    _ => Some(passes),
                };
                let Some(c) = condition else { continue };
                known += 1;
                matching += usize::from(c);
                if first[usize::from(c)].len() < MAX_RECORDS {
                    first[usize::from(c)].push(el.body);
                }
            }
        }
    }
    let current = match kind {
        Agg::Share if known == 0 => return None,
        Agg::Share => matching as f64 / known as f64,
        _ => matching as f64,
    };
    if holds(current) {
        return None;
    }
    let value_after = |m: usize, up: bool| -> f64 {
        let k = if up { matching + m } else { matching - m };
        match kind {
            Agg::Share => k as f64 / known as f64,
            _ => k as f64,
        }
    };
    let change_up = (1..=known - matching).find(|&m| holds(value_after(m, true)));
    let change_down = (1..=matching).find(|&m| holds(value_after(m, false)));
    // Towards the bound; for `!=`, whichever way a change reaches.
    let up = target > current || (target == current && change_up.is_some());
    let direction = if up { Direction::More } else { Direction::Fewer };
    let change = if up { change_up } else { change_down };
    let add = smallest_addition(*kind, matching, known, up, target, holds);
    // The elements a change would touch: those that do not satisfy the
    // condition when more must, those that do when fewer must. A count
    // that must grow names nobody: any other record could be the one.
    let named = !(up && *kind == Agg::Count);
    let total = if up { known - matching } else { matching };
    let records = if named { first[usize::from(!up)].iter().map(|v| element_json(env, v)).collect() } else { Vec::new() };
    let condition = match kind {
        Agg::Share => body.as_deref(),
        _ => filter.as_deref(),
    };
    Some(Shortfall {
        aggregate: text(agg),
        agg: *kind,
        source: text(source),
        condition: condition.map(text),
        readable: condition.map(|c| drop_prefix(&text(c), &env.rule.var_names[var.0 as usize])),
        predicate: condition.map(|c| predicate(env, c, *var, text)),
        target: prose_target(&env.rule.message, current, holds).map(|t| {
            let towards = t > current;
            let reached: &dyn Fn(f64) -> bool = &move |v| if towards { v >= t } else { v <= t };
            (t, smallest_addition(*kind, matching, known, towards, t, reached))
        }),
        matching,
        of: (*kind == Agg::Share).then_some(known),
        direction,
        change,
        add,
        records,
        records_total: if named { total } else { 0 },
    })
}

/// The fewest new elements (satisfying the condition when `up`, not
/// satisfying it otherwise) after which `holds`; None when none suffice.
/// `target` is the bound the value must reach: each addition moves the
/// value one way, so "reached `target`" is monotone in the number added
/// and found by doubling and bisection; `holds` then decides (a strict
/// bound needs one more step, a band that additions jump over, none).
fn smallest_addition(kind: Agg, matching: usize, known: usize, up: bool, target: f64, holds: &dyn Fn(f64) -> bool) -> Option<usize> {
    let after = |a: usize| -> f64 {
        match (kind, up) {
            (Agg::Share, true) => (matching + a) as f64 / (known + a) as f64,
            (Agg::Share, false) => matching as f64 / (known + a) as f64,
            (_, true) => (matching + a) as f64,
            // Adding elements never lowers a count.
            (_, false) => matching as f64,
        }
    };
    if !up && kind == Agg::Count {
        return None;
    }
    let reached = |a: usize| if up { after(a) >= target } else { after(a) <= target };
    let limit = (known.max(matching) + 1).saturating_mul(1 << 20);
    let mut hi = 1usize;
    while !reached(hi) {
        if hi >= limit {
            return None;
        }
        hi = hi.saturating_mul(2).min(limit);
    }
    let mut lo = 0usize;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (hi..hi.saturating_add(4)).find(|&a| holds(after(a)))
}

/// `text` without `name.` before a field (`c.arr > 0` → `arr > 0`).
fn drop_prefix(text: &str, name: &str) -> String {
    let prefix = format!("{name}.");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&prefix) {
        let boundary = rest[..at].chars().next_back().is_none_or(|ch| !(ch.is_alphanumeric() || ch == '_' || ch == '.'));
        out.push_str(&rest[..at]);
        if !boundary {
            out.push_str(&prefix);
        }
        rest = &rest[at + prefix.len()..];
    }
    out.push_str(rest);
    out
}

/// A share or count bound the prose states as a target: the first
/// percentage in the message (`about 15%`) that the comparison accepts and
/// the current value does not equal. None when the prose names only the
/// bounds themselves (`at least 95%` is the bound, not a target inside it).
fn prose_target(message: &str, current: f64, holds: &dyn Fn(f64) -> bool) -> Option<f64> {
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'.') {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if bytes.get(i) == Some(&b'%') {
                if let Ok(p) = message[start..i].parse::<f64>() {
                    let t = p / 100.0;
                    // Inside the bounds with room on both sides: a bound
                    // itself is where the comparison stops holding nearby.
                    let step = 1e-9;
                    if holds(t) && holds(t - step) && holds(t + step) && t != current {
                        return Some(t);
                    }
                }
            }
        }
        i += 1;
    }
    None
}

/// The condition as a tree a program reads without parsing the rule's
/// language: operators with their operands, `{"field": name}` for a field
/// of the element, the value of every other bound variable (the class a
/// coverage rule iterates over), and `{"expression": text}` for what has no
/// simpler form.
fn predicate<'a>(env: &mut Env<'a>, e: &'a Expr, element: crate::ir::expr::VarId, text: &dyn Fn(&Expr) -> String) -> Value {
    use crate::ir::expr::{Access, Const, Pattern};
    let c = env.c;
    // A variable bound to one plain value: that value.
    if let ExprKind::Var(v) = e.kind {
        let value = env.vars[v.0 as usize].clone();
        if v != element && matches!(value, Val::Str(_) | Val::Number(_) | Val::Bool(_)) {
            return element_json(env, &value);
        }
    }
    let mut tree = |x: &'a Expr| predicate(env, x, element, text);
    match &e.kind {
        ExprKind::Number(n) => super::explain::number_json(*n),
        ExprKind::String(s) => Value::String(s.to_string()),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Null => Value::Null,
        ExprKind::Get(inner, Access::Entity(f)) if matches!(inner.kind, ExprKind::Var(v) if v == element) => {
            let entity = if let crate::ir::expr::Ty::Entity(id) = inner.ty { id } else { c.entity };
            json!({ "field": c.program.schema.field(entity, *f).name })
        }
        ExprKind::And(a, b) => json!({ "and": [tree(a), tree(b)] }),
        ExprKind::Or(a, b) => json!({ "or": [tree(a), tree(b)] }),
        ExprKind::Not(a) => json!({ "not": tree(a) }),
        ExprKind::Implies(a, b) => json!({ "implies": [tree(a), tree(b)] }),
        ExprKind::Compare(first, links) if links.len() == 1 && links[0].tolerance.is_none() => {
            json!({ "op": links[0].op.as_str(), "left": tree(first), "right": tree(&links[0].rhs) })
        }
        ExprKind::InSet { value, set, negated } => {
            let items: Vec<Value> = set
                .iter()
                .map(|c| match c {
                    Const::Number(n) => super::explain::number_json(*n),
                    Const::String(s) => Value::String(s.to_string()),
                    Const::Bool(b) => Value::Bool(*b),
                })
                .collect();
            json!({ "op": if *negated { "not in" } else { "in" }, "left": tree(value), "right": items })
        }
        ExprKind::InRange { value, lo, hi, lo_closed, hi_closed, negated } => json!({
            "op": if *negated { "not in range" } else { "in range" },
            "left": tree(value), "low": tree(lo), "high": tree(hi), "low_closed": lo_closed, "high_closed": hi_closed,
        }),
        ExprKind::IsNull { value, negated } => json!({ "op": if *negated { "is not null" } else { "is null" }, "left": tree(value) }),
        ExprKind::Matches(value, Pattern::Static(id)) => {
            let pattern = c.regexes[id.0 as usize].as_str().to_string();
            json!({ "op": "matches", "left": tree(value), "pattern": pattern })
        }
        _ => json!({ "expression": text(e) }),
    }
}

/// An element as the proposer knows it: an entity by its key, a group by
/// its members' keys.
fn element_json<'a>(env: &Env<'a>, v: &Val<'a>) -> Value {
    match v {
        Val::Entity(r) | Val::Edge { record: r, .. } => env.key_of(*r).map_or(Value::Null, |k| Value::String(k.to_string())),
        Val::Group(..) => {
            let members: Vec<u32> = env.elements(v).filter_map(|e| if let Val::Entity(r) = e.body { Some(r) } else { None }).collect();
            let mut keys: Vec<Value> =
                members.iter().take(MAX_MEMBERS).map(|r| env.key_of(*r).map_or(Value::Null, |k| Value::String(k.to_string()))).collect();
            if members.len() > MAX_MEMBERS {
                keys.push(Value::String(format!("… {} more", members.len() - MAX_MEMBERS)));
            }
            Value::Array(keys)
        }
        Val::Number(n) => super::explain::number_json(*n),
        Val::Str(s) => Value::String(s.to_string()),
        Val::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

impl Shortfall {
    /// The machine-readable form (docs/output-schema.md, `shortfalls`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "aggregate": self.aggregate,
            "function": self.agg.name(),
            "source": self.source,
            "condition": self.condition,
            "predicate": self.predicate,
            "matching": self.matching,
            "direction": self.direction.as_str(),
            "change": self.change,
            "add": self.add,
        });
        if let Some(of) = self.of {
            v["of"] = of.into();
        }
        if let Some((target, add)) = self.target {
            v["target"] = super::explain::number_json(target);
            v["add_to_target"] = add.into();
        }
        if self.records_total > 0 {
            v["records"] = Value::Array(self.records.clone());
            v["records_total"] = self.records_total.into();
        }
        v
    }

    /// One sentence for people: what is there, and what would fix it.
    pub fn sentence(&self) -> String {
        let up = self.direction == Direction::More;
        let now = match self.of {
            Some(of) => format!("{} of {of}", self.matching),
            None => self.matching.to_string(),
        };
        let named = if self.records_total == 0 {
            String::new()
        } else {
            let mut shown: Vec<String> = self.records.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect();
            if self.records_total > self.records.len() {
                shown.push(format!("… {} more", self.records_total - self.records.len()));
            }
            let which = if up { "that fail it" } else { "that hold it" };
            format!(" of the {} {which} ({})", self.records_total, shown.join(", "))
        };
        let mut ways = Vec::new();
        let cond = self.readable.as_deref().or(self.condition.as_deref());
        let add = |a: usize, with: bool| match cond {
            Some(c) if with => format!("add {a} to `{}` with `{c}`", self.source),
            Some(c) => format!("add {a} to `{}` without `{c}`", self.source),
            None => format!("add {a} to `{}`", self.source),
        };
        // Adding is the natural fix for a count short of a minimum (a
        // coverage rule); changing records first for a share.
        let count_up = up && self.agg == Agg::Count;
        if let (Some(a), true) = (self.add, count_up) {
            ways.push(add(a, true));
        }
        if let Some(m) = self.change {
            ways.push(match (cond, up) {
                (Some(c), true) if count_up => format!("make `{c}` hold for {m} already there"),
                (Some(c), true) => format!("make `{c}` hold for {m}{named}"),
                (Some(c), false) => format!("make `{c}` fail for {m}{named}"),
                (None, _) => format!("remove {m}{named}"),
            });
        }
        if let (Some(a), false) = (self.add, count_up) {
            ways.push(add(a, up));
        }
        if let Some((target, Some(a))) = self.target {
            let towards = match self.of {
                Some(of) => (self.matching as f64 / of as f64) < target,
                None => (self.matching as f64) < target,
            };
            ways.push(format!("to reach the {} the rule's prose names, {}", super::explain::number_json(target), add(a, towards)));
        }
        let fix = if ways.is_empty() { "no number of changes or additions reaches the bound".to_string() } else { ways.join("; or ") };
        format!("`{}` is {now}: {fix}", self.aggregate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fewest_additions_meet_strict_bounds_and_ranges_exactly() {
        // 18 of 20 hold; at least 95% must: (18 + a) / (20 + a) >= 0.95.
        assert_eq!(smallest_addition(Agg::Share, 18, 20, true, 0.95, &|v| v >= 0.95), Some(20));
        // Strictly above 90%: 19/21 = 0.9047...
        assert_eq!(smallest_addition(Agg::Share, 18, 20, true, 0.9, &|v| v > 0.9), Some(1));
        // 6 of 20 hold; at most 25%: 6 / (20 + a) <= 0.25.
        assert_eq!(smallest_addition(Agg::Share, 6, 20, false, 0.25, &|v| v <= 0.25), Some(4));
        // Exactly 0.5, from 0 of 1: one addition gives 1/2.
        assert_eq!(smallest_addition(Agg::Share, 0, 1, true, 0.5, &|v| v == 0.5), Some(1));
        // Exactly 0.6 from 0 of 1 is jumped over (1/2, then 2/3): none.
        assert_eq!(smallest_addition(Agg::Share, 0, 1, true, 0.6, &|v| v == 0.6), None);
        // Strictly above 95% from 18 of 20: 20 additions give exactly 0.95, 21 pass.
        assert_eq!(smallest_addition(Agg::Share, 18, 20, true, 0.95, &|v| v > 0.95), Some(21));
        // A share of 100% cannot be reached by additions while one fails.
        assert_eq!(smallest_addition(Agg::Share, 18, 20, true, 1.0, &|v| v >= 1.0), None);
        // A count adds one by one; it never falls by additions.
        assert_eq!(smallest_addition(Agg::Count, 1, 1, true, 3.0, &|v| v >= 3.0), Some(2));
        assert_eq!(smallest_addition(Agg::Count, 5, 5, false, 3.0, &|v| v <= 3.0), None);
        // A narrow band far away is found past the doubling steps.
        let far = smallest_addition(Agg::Count, 0, 0, true, 1000.0, &|v| (1000.0..=1003.0).contains(&v));
        assert_eq!(far, Some(1000));
    }
}
