//! Declared values: when a rejecting rule confines a string field to a
//! finite set — `f in {"A", "B"}`, or `f in t` / `f in keys(t)` for a table
//! `t` — a string literal compared with that field elsewhere that is not in
//! the set is almost surely a typo (`unknown-value`). Everything is read off
//! the IR: no field or rule is known by name.

use super::expr::{Const, Expr, ExprKind, Pattern, Ty};
use super::schema::{EntityId, FieldId, Schema};
use super::{Rule, Severity, Table};
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::source::{SourceDb, Span};
use crate::syntax::ast::CmpOp;

/// A set of values a rule allows for one field.
struct Declared {
    entity: EntityId,
    field: FieldId,
    values: Vec<String>,
    /// The field read of the membership test that declares it (the test's
    /// own span runs on over the whitespace after it).
    span: Span,
    /// The whole membership test.
    test: Span,
    rule: String,
}

/// The entity and field an expression reads, when it reads one string
/// field of an entity directly.
fn field_read(schema: &Schema, rule_entity: EntityId, e: &Expr) -> Option<(EntityId, FieldId)> {
    if e.ty != Ty::String {
        return None;
    }
    match &e.kind {
        ExprKind::SelfField(f) => Some((rule_entity, *f)),
        ExprKind::Get(base, super::expr::Access::Entity(f)) => match base.ty {
            Ty::Entity(entity) => Some((entity, *f)),
            Ty::Edge(rel) => Some((schema.relation_target(rel), *f)),
            _ => None,
        },
        _ => None,
    }
}

/// The conditions a rule requires whenever it applies: the conjuncts of its
/// body, and of the branches of a top-level `if` or `implies`; of
/// `f is null or test` (an optional field's guard), the test.
fn required<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Or(a, b) if is_null_test(a) => required(b, out),
        ExprKind::Or(a, b) if is_null_test(b) => required(a, out),
        ExprKind::And(a, b) => {
            required(a, out);
            required(b, out);
        }
        ExprKind::Implies(_, then) | ExprKind::If(_, then, None) => required(then, out),
        ExprKind::If(_, then, Some(otherwise)) => {
            required(then, out);
            required(otherwise, out);
        }
        _ => out.push(e),
    }
}

/// `x is null`.
fn is_null_test(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::IsNull { negated: false, .. })
}

fn declared_sets(schema: &Schema, tables: &[Table], rules: &[Rule]) -> Vec<Declared> {
    let mut sets = Vec::new();
    for rule in rules.iter().filter(|r| r.severity == Severity::Reject) {
        let mut conditions = Vec::new();
        required(&rule.expr, &mut conditions);
        for c in conditions {
            let (value, values) = match &c.kind {
                ExprKind::InSet { value, set, negated: false } => {
                    let strings: Option<Vec<String>> =
                        set.iter().map(|v| if let Const::String(s) = v { Some(s.to_string()) } else { None }).collect();
                    let Some(strings) = strings else { continue };
                    (value, strings)
                }
                ExprKind::InKeys { value, keys, negated: false } => match keys.kind {
                    ExprKind::TableKeys(t) => (value, tables[t.0 as usize].entries.iter().map(|(k, _)| k.clone()).collect()),
                    _ => continue,
                },
                _ => continue,
            };
            if let Some((entity, field)) = field_read(schema, rule.entity, value) {
                sets.push(Declared { entity, field, values, span: value.span, test: c.span, rule: rule.id.clone() });
            }
        }
    }
    sets
}

/// The sub-expressions of `e`.
fn children(e: &Expr) -> Vec<&Expr> {
    use ExprKind as K;
    match &e.kind {
        K::Get(a, _) | K::Project(a, _) | K::Lookup(_, a) | K::Neg(a) | K::Not(a) | K::Relation(_, a) => vec![a],
        K::IsNull { value, .. } | K::InSet { value, .. } | K::AggList(_, value) => vec![value],
        K::Coalesce(a, b) | K::Arith(_, a, b) | K::And(a, b) | K::Or(a, b) | K::Implies(a, b) => vec![a, b],
        K::If(c, t, e) => [Some(&**c), Some(&**t), e.as_deref()].into_iter().flatten().collect(),
        K::Compare(first, rest) => {
            let mut out = vec![&**first];
            for link in rest {
                out.push(&link.rhs);
                out.extend(link.tolerance.as_ref().map(|t| &*t.amount));
            }
            out
        }
        K::InRange { value, lo, hi, .. } => vec![value, lo, hi],
        K::InList { value, list, .. } => vec![value, list],
        K::InKeys { value, keys, .. } => vec![value, keys],
        K::Matches(a, pattern) => match pattern {
            Pattern::Table(_, key) => vec![a, key],
            Pattern::Static(_) => vec![a],
        },
        K::Agg { source, filter, body, .. } => [Some(&**source), filter.as_deref(), body.as_deref()].into_iter().flatten().collect(),
        K::Filter { source, filter, .. } => vec![source, filter],
        K::List(items) | K::Call(_, items) => items.iter().collect(),
        _ => vec![],
    }
}

/// String literals compared with a field: (field read, literal, its span).
fn compared_literals<'e>(e: &'e Expr, out: &mut Vec<(&'e Expr, String, Span)>) {
    match &e.kind {
        ExprKind::Compare(first, rest) if rest.len() == 1 && matches!(rest[0].op, CmpOp::Eq | CmpOp::Ne) => {
            let rhs = &rest[0].rhs;
            for (field, literal) in [(&**first, rhs), (rhs, &**first)] {
                if let ExprKind::String(s) = &literal.kind {
                    out.push((field, s.to_string(), literal.span));
                }
            }
        }
        ExprKind::InSet { value, set, .. } => {
            // The literals of a set have no spans of their own: the set's.
            for v in set.iter() {
                if let Const::String(s) = v {
                    out.push((value, s.to_string(), e.span));
                }
            }
        }
        _ => {}
    }
    for c in children(e) {
        compared_literals(c, out);
    }
}

/// Where `literal` is written inside `span` (a set's literals have no spans
/// of their own); else `span` without the whitespace it ends with.
fn literal_span(db: &SourceDb, span: Span, literal: &str) -> Span {
    let text = db.snippet(span);
    if let Some(at) = text.find(&format!("\"{literal}\"")) {
        return Span::new(span.file, span.start as usize + at, span.start as usize + at + literal.len() + 2);
    }
    Span::new(span.file, span.start as usize, span.start as usize + text.trim_end().len())
}

/// `unknown-value` warnings for the compiled rules.
pub fn check(db: &SourceDb, schema: &Schema, tables: &[Table], rules: &[Rule], diags: &mut Vec<Diagnostic>) {
    let sets = declared_sets(schema, tables, rules);
    if sets.is_empty() {
        return;
    }
    for rule in rules {
        let mut found = Vec::new();
        for (_, value) in &rule.lets {
            compared_literals(value, &mut found);
        }
        compared_literals(&rule.expr, &mut found);
        let mut reported: Vec<(String, Span)> = Vec::new();
        for (read, literal, span) in found {
            let Some((entity, field)) = field_read(schema, rule.entity, read) else { continue };
            // A declaring test declares: it is not checked (against itself
            // or the others, which may hold under other conditions).
            if sets.iter().any(|s| s.test == span) {
                continue;
            }
            // Every set declared for the field. A value any of them allows
            // is known: two rules may allow different values under
            // different conditions.
            let declaring: Vec<&Declared> = sets.iter().filter(|s| s.entity == entity && s.field == field).collect();
            let Some(first) = declaring.first() else { continue };
            if declaring.iter().any(|s| s.values.contains(&literal)) || reported.contains(&(literal.clone(), span)) {
                continue;
            }
            reported.push((literal.clone(), span));
            let name = &schema.field(entity, field).name;
            let mut d = Diagnostic::warning(
                Code::UnknownValue,
                literal_span(db, span, &literal),
                format!("`{literal}` is not a value of `{name}`: rule `{}` allows only the values it lists", first.rule),
            )
            .with_secondary(first.span, format!("the values of `{name}` are declared here"));
            if let Some(h) = did_you_mean(&literal, declaring.iter().flat_map(|s| s.values.iter().map(String::as_str))) {
                d = d.with_help(h);
            }
            diags.push(d);
        }
    }
}
