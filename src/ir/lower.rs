//! AST → typed IR: resolves names, checks types, and records what a rule
//! reads so the compiler can classify it. Errors are collected, never
//! thrown: a bad sub-expression becomes `Ty::Error` and checking goes on.

use super::expr::*;
use super::schema::{EntityId, Field, FieldId, FieldType, Schema};
use super::Table;
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, BinOp, InTarget};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a rule reads, for classification and for skipping rules whose
/// fields failed the schema.
#[derive(Default, Debug, Clone)]
pub struct Reads {
    /// Fields of the checked entity.
    pub own_fields: BTreeSet<FieldId>,
    /// Fields read from elements of a collection (dataset rules).
    pub element_fields: BTreeSet<FieldId>,
    /// Walks relations or graphs, or looks at other entities' keys.
    pub other_entities: bool,
    /// Iterates a whole collection or the groups of a graph.
    pub whole_dataset: bool,
    pub whole_dataset_span: Option<Span>,
    pub own_span: Option<Span>,
}

struct Scope {
    name: String,
    var: VarId,
    ty: Ty,
    /// Bound over a relation: in the `where` filter the edge is visible.
    edge_ok: bool,
}

pub struct Lowerer<'a> {
    pub schema: &'a Schema,
    pub tables: &'a [Table],
    pub regexes: &'a mut Vec<(String, Span)>,
    pub entity: Option<EntityId>,
    pub diags: Vec<Diagnostic>,
    pub reads: Reads,
    scopes: Vec<Scope>,
    pub var_count: u32,
    /// The name of each variable, by `VarId`, for explanations.
    pub var_names: Vec<String>,
}

/// The built-in functions and aggregates, for messages and editor completion.
pub const FUNCTIONS: &[&str] =
    &["sum", "count", "min", "max", "mean", "any", "all", "share", "abs", "current_year", "len", "unique", "in_cycle", "groups", "keys"];

fn err(kind: ExprKind, span: Span) -> Expr {
    Expr { kind, ty: Ty::Error, span }
}

impl<'a> Lowerer<'a> {
    pub fn new(schema: &'a Schema, tables: &'a [Table], regexes: &'a mut Vec<(String, Span)>, entity: Option<EntityId>) -> Self {
        Lowerer {
            schema,
            tables,
            regexes,
            entity,
            diags: Vec::new(),
            reads: Reads::default(),
            scopes: Vec::new(),
            var_count: 0,
            var_names: Vec::new(),
        }
    }

    fn error(&mut self, code: Code, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, message));
    }

    fn mismatch(&mut self, span: Span, expected: &str, found: &Ty) {
        if !found.is_error() {
            self.error(Code::TypeMismatch, span, format!("expected {expected}, found {}", found.describe()));
        }
    }

    fn fresh(&mut self, name: &str) -> VarId {
        self.var_names.push(name.to_string());
        self.var_count += 1;
        VarId(self.var_count - 1)
    }

    /// Binds a `let`; returns its slot.
    pub fn bind_let(&mut self, name: &ast::Name, value: &Expr) -> VarId {
        self.warn_shadowing(name);
        let var = self.fresh(&name.text);
        self.scopes.push(Scope { name: name.text.clone(), var, ty: value.ty.clone(), edge_ok: false });
        var
    }

    /// A rule body: its `let`s bound in order, then its condition.
    pub fn lower_body(&mut self, body: &ast::RuleBody) -> (Vec<(VarId, Expr)>, Expr) {
        let mut lets = Vec::new();
        for l in &body.lets {
            let value = self.lower(&l.value);
            let var = self.bind_let(&l.name, &value);
            lets.push((var, value));
        }
        (lets, self.lower(&body.expr))
    }

    /// A `let` or a bound variable that hides another name makes that
    /// name unreachable in the rest of the rule: warn.
    fn warn_shadowing(&mut self, name: &ast::Name) {
        let n = name.text.as_str();
        let hidden = if self.scopes.iter().any(|s| s.name == n) {
            "a binding of the enclosing expression".to_string()
        } else if let Some(e) = self.entity.filter(|&e| self.schema.field_by_name(e, n).is_some()) {
            format!("a field of `{}`", self.schema.entity(e).name)
        } else if let Some(e) = self.entity.filter(|&e| self.schema.relation_by_name(e, n).is_some()) {
            format!("a relation of `{}`", self.schema.entity(e).name)
        } else if self.tables.iter().any(|t| t.name == n) {
            "a table".to_string()
        } else if self.schema.entities.iter().any(|e| e.collection.as_deref() == Some(n) || e.name == n) {
            "a collection".to_string()
        } else {
            return;
        };
        self.diags.push(
            Diagnostic::warning(Code::NameConflict, name.span, format!("`{n}` hides {hidden} of the same name"))
                .with_help("give the binding a name of its own"),
        );
    }

    fn expect(&mut self, e: &Expr, ty: Ty, what: &str) {
        let ok = match (&e.ty, &ty) {
            (Ty::Error, _) => true,
            (a, b) => a == b,
        };
        if !ok {
            self.mismatch(e.span, what, &e.ty);
        }
    }

    pub fn lower(&mut self, e: &ast::Expr) -> Expr {
        let span = e.span;
        let mk = |kind, ty| Expr { kind, ty, span };
        match &e.kind {
            ast::ExprKind::Number { value, .. } => mk(ExprKind::Number(*value), Ty::Number),
            ast::ExprKind::Str(s) => mk(ExprKind::String(s.as_str().into()), Ty::String),
            ast::ExprKind::Bool(b) => mk(ExprKind::Bool(*b), Ty::Bool),
            ast::ExprKind::Null => mk(ExprKind::Null, Ty::Null),
            ast::ExprKind::Regex(r) => {
                let id = self.regex(r, span);
                let _ = id;
                // A bare regex is only meaningful on the right of `matches`.
                self.error(Code::TypeMismatch, span, "a regular expression can only follow `matches`");
                err(ExprKind::Null, span)
            }
            ast::ExprKind::Name(name) => self.name(name, span),
            ast::ExprKind::Field(base, field) => {
                let base = self.lower(base);
                self.field(base, field, span)
            }
            ast::ExprKind::Index(base, key) => {
                let base = self.lower(base);
                let key = self.lower(key);
                match base.ty.clone() {
                    Ty::Table(t) => {
                        self.expect(&key, Ty::String, "a string key");
                        let ty = self.tables[t.0 as usize].ty.clone();
                        mk(ExprKind::Lookup(t, Box::new(key)), ty)
                    }
                    Ty::Error => err(ExprKind::Null, span),
                    other => {
                        self.error(
                            Code::TypeMismatch,
                            base.span,
                            format!("only tables can be indexed with `[…]`, not {}", other.describe()),
                        );
                        err(ExprKind::Null, span)
                    }
                }
            }
            ast::ExprKind::Set(items) | ast::ExprKind::List(items) => {
                let items: Vec<Expr> = items.iter().map(|i| self.lower(i)).collect();
                let ty = items.iter().map(|i| i.ty.clone()).find(|t| !t.is_error()).unwrap_or(Ty::Error);
                for item in &items {
                    if !item.ty.is_error() && item.ty != ty {
                        self.mismatch(item.span, &ty.describe(), &item.ty);
                    }
                }
                mk(ExprKind::List(items), Ty::List(Box::new(ty)))
            }
            ast::ExprKind::Filter(b) => {
                let (var, source, elem, filter, _) = self.binder(b, true);
                let Some(filter) = filter else { return err(ExprKind::Null, span) };
                let ty = Ty::List(Box::new(elem));
                mk(ExprKind::Filter { var, source: Box::new(source), filter: Box::new(filter) }, ty)
            }
            ast::ExprKind::Neg(x) => {
                let x = self.lower(x);
                self.expect(&x, Ty::Number, "a number");
                mk(ExprKind::Neg(Box::new(x)), Ty::Number)
            }
            ast::ExprKind::Coalesce(a, b) => {
                let a = self.lower(a);
                let b = self.lower(b);
                if !a.ty.is_error() && !b.ty.is_error() && a.ty != b.ty {
                    self.mismatch(b.span, &a.ty.describe(), &b.ty);
                }
                let ty = if a.ty.is_error() { b.ty.clone() } else { a.ty.clone() };
                mk(ExprKind::Coalesce(Box::new(a), Box::new(b)), ty)
            }
            ast::ExprKind::Not(x) => {
                let x = self.lower(x);
                self.expect(&x, Ty::Bool, "a condition");
                mk(ExprKind::Not(Box::new(x)), Ty::Bool)
            }
            ast::ExprKind::Binary(op, a, b) => {
                let a = self.lower(a);
                let b = self.lower(b);
                match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                        self.expect(&a, Ty::Number, "a number");
                        self.expect(&b, Ty::Number, "a number");
                        let op = match op {
                            BinOp::Add => Arith::Add,
                            BinOp::Sub => Arith::Sub,
                            BinOp::Mul => Arith::Mul,
                            _ => Arith::Div,
                        };
                        mk(ExprKind::Arith(op, Box::new(a), Box::new(b)), Ty::Number)
                    }
                    _ => {
                        self.expect(&a, Ty::Bool, "a condition");
                        self.expect(&b, Ty::Bool, "a condition");
                        let kind = match op {
                            BinOp::And => ExprKind::And(Box::new(a), Box::new(b)),
                            BinOp::Or => ExprKind::Or(Box::new(a), Box::new(b)),
                            _ => ExprKind::Implies(Box::new(a), Box::new(b)),
                        };
                        mk(kind, Ty::Bool)
                    }
                }
            }
            ast::ExprKind::If { cond, then, otherwise } => {
                let cond = self.lower(cond);
                self.expect(&cond, Ty::Bool, "a condition");
                let then = self.lower(then);
                let otherwise = otherwise.as_ref().map(|o| self.lower(o));
                let ty = match &otherwise {
                    None => {
                        self.expect(&then, Ty::Bool, "a condition (an `if` without `else` is a condition)");
                        Ty::Bool
                    }
                    Some(o) => {
                        if !then.ty.is_error() && !o.ty.is_error() && then.ty != o.ty {
                            self.mismatch(o.span, &then.ty.describe(), &o.ty);
                        }
                        then.ty.clone()
                    }
                };
                mk(ExprKind::If(Box::new(cond), Box::new(then), otherwise.map(Box::new)), ty)
            }
            ast::ExprKind::Compare { first, rest } => self.compare(first, rest, span),
            ast::ExprKind::In { value, negated, target } => self.membership(value, *negated, target, span),
            ast::ExprKind::Matches(value, pattern) => {
                let value = self.lower(value);
                self.expect(&value, Ty::String, "a string");
                let pattern = match &pattern.kind {
                    ast::ExprKind::Regex(r) => Pattern::Static(self.regex(r, pattern.span)),
                    ast::ExprKind::Str(r) => Pattern::Static(self.regex(r, pattern.span)),
                    ast::ExprKind::Index(table, key) => {
                        let table = self.lower(table);
                        let key = self.lower(key);
                        match table.ty {
                            Ty::Table(t) if self.tables[t.0 as usize].ty == Ty::Regex => {
                                self.expect(&key, Ty::String, "a string key");
                                Pattern::Table(t, Box::new(key))
                            }
                            Ty::Error => return err(ExprKind::Null, span),
                            _ => {
                                self.error(
                                    Code::TypeMismatch,
                                    pattern.span,
                                    "`matches` needs a regular expression: `/…/` or a table of them",
                                );
                                return err(ExprKind::Null, span);
                            }
                        }
                    }
                    _ => {
                        self.error(Code::TypeMismatch, pattern.span, "`matches` needs a regular expression: `/…/` or a table of them");
                        return err(ExprKind::Null, span);
                    }
                };
                mk(ExprKind::Matches(Box::new(value), pattern), Ty::Bool)
            }
            ast::ExprKind::IsNull { value, negated } => {
                let value = self.lower(value);
                mk(ExprKind::IsNull { value: Box::new(value), negated: *negated }, Ty::Bool)
            }
            ast::ExprKind::Call { name, args, binder } => self.call(name, args, binder.as_deref(), span),
        }
    }

    fn regex(&mut self, pattern: &str, span: Span) -> RegexId {
        if let Err(e) = regex::Regex::new(&format!("^(?:{pattern})$")) {
            let why = e.to_string();
            let line = why.lines().last().unwrap_or("").trim().trim_start_matches("error: ").to_string();
            self.error(Code::InvalidRegex, span, format!("invalid regular expression: {line}"));
        }
        self.regexes.push((pattern.to_string(), span));
        RegexId(self.regexes.len() as u32 - 1)
    }

    fn name(&mut self, name: &str, span: Span) -> Expr {
        if let Some(scope) = self.scopes.iter().rev().find(|s| s.name == name) {
            return Expr { kind: ExprKind::Var(scope.var), ty: scope.ty.clone(), span };
        }
        if let Some(entity) = self.entity {
            if let Some(field) = self.schema.field_by_name(entity, name) {
                self.reads.own_fields.insert(field);
                self.reads.own_span.get_or_insert(span);
                let ty = value_type(&self.schema.field(entity, field).ty);
                return Expr { kind: ExprKind::SelfField(field), ty, span };
            }
            if let Some(rel) = self.schema.relation_by_name(entity, name) {
                self.reads.other_entities = true;
                self.reads.own_span.get_or_insert(span);
                let this = Expr { kind: ExprKind::SelfEntity, ty: Ty::Entity(entity), span };
                return Expr { kind: ExprKind::Relation(rel, Box::new(this)), ty: Ty::List(Box::new(Ty::Edge(rel))), span };
            }
        }
        if let Some(i) = self.tables.iter().position(|t| t.name == name) {
            return Expr { kind: ExprKind::Null, ty: Ty::Table(TableId(i as u32)), span };
        }
        if let Some(i) = self.schema.entities.iter().position(|e| e.collection.as_deref() == Some(name) || e.name == name) {
            self.reads.whole_dataset = true;
            self.reads.whole_dataset_span.get_or_insert(span);
            let id = EntityId(i as u32);
            return Expr { kind: ExprKind::Collection(id), ty: Ty::List(Box::new(Ty::Entity(id))), span };
        }
        if self.schema.graph_by_name(name).is_some() {
            self.error(Code::TypeMismatch, span, format!("graph `{name}` can only be used in `in_cycle({name})` or `groups({name})`"));
            return err(ExprKind::Null, span);
        }
        let mut candidates: Vec<String> = self.scopes.iter().map(|s| s.name.clone()).collect();
        let mut what = "name";
        if let Some(entity) = self.entity {
            candidates.extend(self.schema.entity(entity).fields.iter().map(|f| f.name.clone()));
            candidates.extend(self.schema.relations.iter().filter(|r| r.entity == entity).map(|r| r.name.clone()));
            what = "field";
        }
        candidates.extend(self.tables.iter().map(|t| t.name.clone()));
        let message = match self.entity {
            Some(e) if what == "field" => format!("unknown field `{name}` of `{}`", self.schema.entity(e).name),
            _ => format!("unknown name `{name}`"),
        };
        let code = if what == "field" { Code::UnknownField } else { Code::UnknownName };
        let mut d = Diagnostic::error(code, span, message);
        if let Some(h) = did_you_mean(name, candidates.iter().map(String::as_str)) {
            d = d.with_help(h);
        }
        if FUNCTIONS.contains(&name) {
            d = d.with_help(format!("`{name}` is a function: call it as `{name}(…)`"));
        }
        self.diags.push(d);
        err(ExprKind::Null, span)
    }

    fn field(&mut self, base: Expr, field: &ast::Name, span: Span) -> Expr {
        let mk = |kind, ty| Expr { kind, ty, span };
        match base.ty.clone() {
            Ty::Error => err(ExprKind::Null, span),
            Ty::Object(fields) => match fields.iter().position(|f| f.name == field.text) {
                Some(i) => {
                    let ty = value_type(&fields[i].ty);
                    mk(ExprKind::Get(Box::new(base), Access::Object(i)), ty)
                }
                None => self.no_field(field, fields.iter().map(|f| f.name.as_str()).collect(), "the element"),
            },
            Ty::Entity(e) => self.entity_field(base, e, field, span, false),
            Ty::Edge(rel) => {
                let edge = self.schema.edge_fields(rel);
                if let Some((i, f)) = edge.iter().find(|(_, f)| f.name == field.text) {
                    let ok = self.scopes.iter().rev().any(|s| s.edge_ok && matches!(base.kind, ExprKind::Var(v) if v == s.var));
                    if !ok {
                        self.error(
                            Code::EdgeAttributeOutsideFilter,
                            field.span,
                            format!("edge field `{}` can only be read in the `where` filter of a relation", field.text),
                        );
                    }
                    let ty = value_type(&f.ty);
                    return mk(ExprKind::Get(Box::new(base), Access::Edge(*i)), ty);
                }
                let target = self.schema.relation_target(rel);
                self.entity_field(base, target, field, span, true)
            }
            Ty::List(elem) => {
                // Projection: a field of every element.
                let element = Expr { kind: ExprKind::Null, ty: (*elem).clone(), span: base.span };
                let probe = self.field(element, field, span);
                match probe.kind {
                    ExprKind::Get(_, access) => mk(ExprKind::Project(Box::new(base), access), Ty::List(Box::new(probe.ty))),
                    _ => probe,
                }
            }
            other => {
                self.error(Code::TypeMismatch, base.span, format!("{} has no fields (reading `.{}`)", other.describe(), field.text));
                err(ExprKind::Null, span)
            }
        }
    }

    fn entity_field(&mut self, base: Expr, e: EntityId, field: &ast::Name, span: Span, via_edge: bool) -> Expr {
        if let Some(f) = self.schema.field_by_name(e, &field.text) {
            if !via_edge && matches!(base.kind, ExprKind::Var(_)) {
                self.reads.element_fields.insert(f);
            }
            let ty = value_type(&self.schema.field(e, f).ty);
            return Expr { kind: ExprKind::Get(Box::new(base), Access::Entity(f)), ty, span };
        }
        if let Some(rel) = self.schema.relation_by_name(e, &field.text) {
            self.reads.other_entities = true;
            return Expr { kind: ExprKind::Relation(rel, Box::new(base)), ty: Ty::List(Box::new(Ty::Edge(rel))), span };
        }
        let entity = self.schema.entity(e);
        let mut names: Vec<&str> = entity.fields.iter().map(|f| f.name.as_str()).collect();
        names.extend(self.schema.relations.iter().filter(|r| r.entity == e).map(|r| r.name.as_str()));
        let what = format!("`{}`", entity.name);
        self.no_field(field, names, &what)
    }

    fn no_field(&mut self, field: &ast::Name, names: Vec<&str>, of: &str) -> Expr {
        let mut d = Diagnostic::error(Code::UnknownField, field.span, format!("unknown field `{}` of {of}", field.text));
        if let Some(h) = did_you_mean(&field.text, names.iter().copied()) {
            d = d.with_help(h);
        } else if !names.is_empty() {
            d = d.with_help(format!("its fields are {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")));
        }
        self.diags.push(d);
        err(ExprKind::Null, field.span)
    }

    fn comparable(&mut self, a: &Expr, b: &Expr, op: ast::CmpOp) {
        if a.ty.is_error() || b.ty.is_error() || a.ty == Ty::Null || b.ty == Ty::Null {
            return;
        }
        let ordered = !matches!(op, ast::CmpOp::Eq | ast::CmpOp::Ne);
        let ok = match (&a.ty, &b.ty) {
            (Ty::Number, Ty::Number) => true,
            (Ty::String, Ty::String) | (Ty::Bool, Ty::Bool) => !ordered,
            _ => false,
        };
        if !ok {
            let message = if a.ty == b.ty {
                format!("`{}` cannot order {}", op.as_str(), a.ty.describe().trim_start_matches("a ").to_string() + "s")
            } else {
                format!("cannot compare {} with {}", a.ty.describe(), b.ty.describe())
            };
            self.error(Code::TypeMismatch, a.span.to(b.span), message);
        }
    }

    fn compare(&mut self, first: &ast::Expr, rest: &[ast::Comparison], span: Span) -> Expr {
        let first = self.lower(first);
        let mut links = Vec::new();
        let mut prev_ty = first.ty.clone();
        let mut prev_span = first.span;
        for link in rest {
            let rhs = self.lower(&link.rhs);
            let prev = Expr { kind: ExprKind::Null, ty: prev_ty.clone(), span: prev_span };
            self.comparable(&prev, &rhs, link.op);
            let tolerance = link.tolerance.as_ref().map(|t| {
                let relative = matches!(t.kind, ast::ExprKind::Number { percent: true, .. });
                let amount = self.lower(t);
                self.expect(&amount, Ty::Number, "a number");
                if !matches!(link.op, ast::CmpOp::Eq | ast::CmpOp::Ne) {
                    self.error(Code::TypeMismatch, t.span, "a tolerance `±` only goes with `==` or `!=`");
                }
                Tolerance { amount: Box::new(amount), relative }
            });
            prev_ty = rhs.ty.clone();
            prev_span = rhs.span;
            links.push(Link { op: link.op, rhs, tolerance });
        }
        // `x == null` is a null test.
        if links.len() == 1 && matches!(links[0].op, ast::CmpOp::Eq | ast::CmpOp::Ne) {
            let negated = links[0].op == ast::CmpOp::Ne;
            if links[0].rhs.ty == Ty::Null {
                return Expr { kind: ExprKind::IsNull { value: Box::new(first), negated }, ty: Ty::Bool, span };
            }
            if first.ty == Ty::Null {
                let value = links.pop().expect("one link").rhs;
                return Expr { kind: ExprKind::IsNull { value: Box::new(value), negated }, ty: Ty::Bool, span };
            }
        }
        if links.iter().any(|l| l.rhs.ty == Ty::Null) || first.ty == Ty::Null {
            self.error(Code::TypeMismatch, span, "compare with `null` using `is null` or `is not null`");
        }
        Expr { kind: ExprKind::Compare(Box::new(first), links), ty: Ty::Bool, span }
    }

    fn membership(&mut self, value: &ast::Expr, negated: bool, target: &InTarget, span: Span) -> Expr {
        let value = self.lower(value);
        let mk = |kind| Expr { kind, ty: Ty::Bool, span };
        match target {
            InTarget::Range { lo, hi, lo_closed, hi_closed } => {
                let lo = self.lower(lo);
                let hi = self.lower(hi);
                self.expect(&value, Ty::Number, "a number (ranges hold numbers)");
                self.expect(&lo, Ty::Number, "a number");
                self.expect(&hi, Ty::Number, "a number");
                if let (ExprKind::Number(l), ExprKind::Number(h)) = (&lo.kind, &hi.kind) {
                    let empty = l > h || (l == h && !(*lo_closed && *hi_closed));
                    if empty {
                        self.diags.push(Diagnostic::warning(
                            Code::NeverHolds,
                            lo.span.to(hi.span),
                            "this range is empty: no value lies in it",
                        ));
                    }
                }
                mk(ExprKind::InRange {
                    value: Box::new(value),
                    lo: Box::new(lo),
                    hi: Box::new(hi),
                    lo_closed: *lo_closed,
                    hi_closed: *hi_closed,
                    negated,
                })
            }
            InTarget::Expr(target) => {
                let target_expr = self.lower(target);
                match target_expr.ty.clone() {
                    Ty::Error => err(ExprKind::Null, span),
                    Ty::KeySet => {
                        self.expect(&value, Ty::String, "a string key");
                        mk(ExprKind::InKeys { value: Box::new(value), keys: Box::new(target_expr), negated })
                    }
                    Ty::Table(t) => {
                        self.expect(&value, Ty::String, "a string key");
                        let keys = Expr { kind: ExprKind::TableKeys(t), ty: Ty::KeySet, span: target_expr.span };
                        mk(ExprKind::InKeys { value: Box::new(value), keys: Box::new(keys), negated })
                    }
                    Ty::List(elem) => {
                        if !value.ty.is_error() && !elem.is_error() && value.ty != *elem {
                            self.error(
                                Code::TypeMismatch,
                                span,
                                format!("cannot look for {} in a list of {}", value.ty.describe(), elem.describe()),
                            );
                        }
                        // A literal set of constants becomes a hash lookup.
                        if let ExprKind::List(items) = &target_expr.kind {
                            let consts: Option<Vec<Const>> = items
                                .iter()
                                .map(|i| match &i.kind {
                                    ExprKind::Number(n) => Some(Const::Number(*n)),
                                    ExprKind::String(s) => Some(Const::String(s.clone())),
                                    ExprKind::Bool(b) => Some(Const::Bool(*b)),
                                    _ => None,
                                })
                                .collect();
                            if let Some(set) = consts {
                                return mk(ExprKind::InSet { value: Box::new(value), set: Arc::new(set), negated });
                            }
                        }
                        mk(ExprKind::InList { value: Box::new(value), list: Box::new(target_expr), negated })
                    }
                    other => {
                        self.error(
                            Code::TypeMismatch,
                            target.span,
                            format!("`in` needs a range, a set, a list or a table, not {}", other.describe()),
                        );
                        err(ExprKind::Null, span)
                    }
                }
            }
        }
    }

    /// Lowers `var in source where filter: body`; returns the variable, the
    /// source, the element type, and the lowered filter and body.
    fn binder(&mut self, b: &ast::Binder, filter_required: bool) -> (VarId, Expr, Ty, Option<Expr>, Option<Expr>) {
        let source = self.lower(&b.source);
        let elem = match &source.ty {
            Ty::List(elem) => (**elem).clone(),
            Ty::Error => Ty::Error,
            other => {
                self.error(Code::TypeMismatch, source.span, format!("expected a list to iterate over, found {}", other.describe()));
                Ty::Error
            }
        };
        self.warn_shadowing(&b.var);
        let var = self.fresh(&b.var.text);
        let (filter_ty, body_ty) = match &elem {
            Ty::Edge(rel) => (elem.clone(), Ty::Entity(self.schema.relation_target(*rel))),
            _ => (elem.clone(), elem.clone()),
        };
        let edge = matches!(elem, Ty::Edge(_));
        self.scopes.push(Scope { name: b.var.text.clone(), var, ty: filter_ty, edge_ok: edge });
        let filter = b.filter.as_ref().map(|f| {
            let f = self.lower(f);
            self.expect(&f, Ty::Bool, "a condition after `where`");
            f
        });
        self.scopes.pop();
        if filter_required && filter.is_none() {
            self.error(Code::SyntaxError, b.var.span, "expected `where` and a condition");
        }
        self.scopes.push(Scope { name: b.var.text.clone(), var, ty: body_ty.clone(), edge_ok: false });
        let body = b.body.as_ref().map(|x| self.lower(x));
        self.scopes.pop();
        (var, source, body_ty, filter, body)
    }

    fn arity(&mut self, name: &ast::Name, args: &[ast::Expr], n: usize) -> bool {
        if args.len() != n {
            self.error(
                Code::WrongArity,
                name.span,
                format!("`{}` takes {n} argument{}, not {}", name.text, if n == 1 { "" } else { "s" }, args.len()),
            );
            return false;
        }
        true
    }

    fn call(&mut self, name: &ast::Name, args: &[ast::Expr], binder: Option<&ast::Binder>, span: Span) -> Expr {
        let mk = |kind, ty| Expr { kind, ty, span };
        let agg = match name.text.as_str() {
            "sum" => Some(Agg::Sum),
            "count" => Some(Agg::Count),
            "min" => Some(Agg::Min),
            "max" => Some(Agg::Max),
            "mean" | "avg" => Some(Agg::Mean),
            "any" => Some(Agg::Any),
            "all" => Some(Agg::All),
            "share" => Some(Agg::Share),
            _ => None,
        };
        if let Some(agg) = agg {
            let result = match agg {
                Agg::Count => Ty::Number,
                Agg::Any | Agg::All => Ty::Bool,
                _ => Ty::Number,
            };
            if let Some(b) = binder {
                let (var, source, _elem, filter, body) = self.binder(b, false);
                let want = match agg {
                    Agg::Sum | Agg::Min | Agg::Max | Agg::Mean => Some(Ty::Number),
                    Agg::Any | Agg::All | Agg::Share => Some(Ty::Bool),
                    Agg::Count => None,
                };
                match (&want, &body) {
                    (Some(ty), Some(body)) => {
                        let what = if *ty == Ty::Number { "a number to aggregate" } else { "a condition" };
                        self.expect(body, ty.clone(), what)
                    }
                    (Some(_), None) if !matches!(agg, Agg::Any) || filter.is_none() => self.error(
                        Code::SyntaxError,
                        b.var.span,
                        format!("`{}` needs a body after `:`, like `{}({} in …: …)`", agg.name(), agg.name(), b.var.text),
                    ),
                    (None, Some(body)) => self.error(Code::SyntaxError, body.span, "`count` takes no body; use `where` to choose elements"),
                    _ => {}
                }
                return mk(
                    ExprKind::Agg { agg, var, source: Box::new(source), filter: filter.map(Box::new), body: body.map(Box::new) },
                    result,
                );
            }
            if !self.arity(name, args, 1) {
                return err(ExprKind::Null, span);
            }
            let list = self.lower(&args[0]);
            match (&list.ty, agg) {
                (Ty::Error, _) => {}
                (Ty::List(_), Agg::Count) => {}
                (Ty::List(e), Agg::Any | Agg::All) if **e == Ty::Bool || e.is_error() => {}
                (Ty::List(e), Agg::Sum | Agg::Min | Agg::Max | Agg::Mean) if **e == Ty::Number || e.is_error() => {}
                (Ty::String, Agg::Count) => {
                    self.error(Code::TypeMismatch, list.span, "`count` counts the elements of a list; for a string's length use `len`");
                }
                (ty, _) => {
                    let want = match agg {
                        Agg::Any | Agg::All | Agg::Share => "a list of conditions",
                        Agg::Count => "a list",
                        _ => "a list of numbers",
                    };
                    self.mismatch(list.span, want, ty);
                    if agg == Agg::Share {
                        self.error(Code::SyntaxError, span, "`share` needs a binder, like `share(x in xs: condition)`");
                    }
                }
            }
            return mk(ExprKind::AggList(agg, Box::new(list)), result);
        }
        if binder.is_some() {
            self.error(Code::SyntaxError, span, format!("`{}` does not take `x in …`", name.text));
            return err(ExprKind::Null, span);
        }
        match name.text.as_str() {
            "abs" => {
                if !self.arity(name, args, 1) {
                    return err(ExprKind::Null, span);
                }
                let x = self.lower(&args[0]);
                self.expect(&x, Ty::Number, "a number");
                mk(ExprKind::Call(Builtin::Abs, vec![x]), Ty::Number)
            }
            "len" => {
                if !self.arity(name, args, 1) {
                    return err(ExprKind::Null, span);
                }
                let x = self.lower(&args[0]);
                if !matches!(x.ty, Ty::String | Ty::List(_) | Ty::Error) {
                    self.mismatch(x.span, "a string or a list", &x.ty);
                }
                mk(ExprKind::Call(Builtin::Len, vec![x]), Ty::Number)
            }
            "current_year" => {
                self.arity(name, args, 0);
                mk(ExprKind::Call(Builtin::CurrentYear, vec![]), Ty::Number)
            }
            "unique" => {
                if !self.arity(name, args, 1) {
                    return err(ExprKind::Null, span);
                }
                let x = self.lower(&args[0]);
                match (&x.kind, &x.ty) {
                    (ExprKind::SelfField(f), Ty::String | Ty::Number) => {
                        self.reads.other_entities = true;
                        mk(ExprKind::Call(Builtin::Unique(*f), vec![]), Ty::Bool)
                    }
                    (_, Ty::Error) => err(ExprKind::Null, span),
                    _ => {
                        self.error(Code::TypeMismatch, x.span, "`unique` takes a string or number field of the entity, like `unique(id)`");
                        err(ExprKind::Null, span)
                    }
                }
            }
            "keys" => {
                if !self.arity(name, args, 1) {
                    return err(ExprKind::Null, span);
                }
                // keys(companies) is an index lookup, not a walk over the dataset.
                let collection = match &args[0].kind {
                    ast::ExprKind::Name(n) if !self.scopes.iter().any(|s| &s.name == n) => {
                        self.schema.entities.iter().position(|e| e.collection.as_deref() == Some(n.as_str()) || &e.name == n)
                    }
                    _ => None,
                };
                let x = match collection {
                    Some(i) => {
                        let id = EntityId(i as u32);
                        Expr { kind: ExprKind::Collection(id), ty: Ty::List(Box::new(Ty::Entity(id))), span: args[0].span }
                    }
                    None => self.lower(&args[0]),
                };
                match (&x.kind, &x.ty) {
                    (ExprKind::Collection(e), _) => {
                        self.reads.other_entities = true;
                        if self.schema.entity(*e).key.is_none() {
                            self.error(Code::EntityMissingKey, x.span, "this entity has no key");
                        }
                        mk(ExprKind::Keys(*e), Ty::KeySet)
                    }
                    (_, Ty::Table(t)) => mk(ExprKind::TableKeys(*t), Ty::KeySet),
                    (_, Ty::Error) => err(ExprKind::Null, span),
                    _ => {
                        self.error(Code::TypeMismatch, x.span, "`keys` takes a collection (like `companies`) or a table");
                        err(ExprKind::Null, span)
                    }
                }
            }
            "in_cycle" | "groups" => {
                if !self.arity(name, args, 1) {
                    return err(ExprKind::Null, span);
                }
                let arg = &args[0];
                let graph = match &arg.kind {
                    ast::ExprKind::Name(n) => self.schema.graph_by_name(n),
                    _ => None,
                };
                let Some(graph) = graph else {
                    let mut d = Diagnostic::error(Code::TypeMismatch, arg.span, format!("`{}` takes the name of a graph", name.text));
                    let graphs: Vec<&str> = self.schema.graphs.iter().map(|g| g.name.as_str()).collect();
                    if let ast::ExprKind::Name(n) = &arg.kind {
                        if let Some(h) = did_you_mean(n, graphs.iter().copied()) {
                            d = d.with_help(h);
                        }
                    }
                    if !graphs.is_empty() {
                        d = d.with_help(format!("declared graphs: {}", graphs.join(", ")));
                    }
                    self.diags.push(d);
                    return err(ExprKind::Null, span);
                };
                let rel = self.schema.graph(graph).relation;
                let entity = self.schema.relation(rel).entity;
                if name.text == "in_cycle" {
                    self.reads.other_entities = true;
                    self.reads.own_span.get_or_insert(span);
                    mk(ExprKind::Call(Builtin::InCycle(graph), vec![]), Ty::Bool)
                } else {
                    self.reads.whole_dataset = true;
                    self.reads.whole_dataset_span.get_or_insert(span);
                    mk(ExprKind::Call(Builtin::Groups(graph), vec![]), Ty::List(Box::new(Ty::List(Box::new(Ty::Entity(entity))))))
                }
            }
            other => {
                let mut d = Diagnostic::error(Code::UnknownFunction, name.span, format!("unknown function `{other}`"));
                if let Some(h) = did_you_mean(other, FUNCTIONS.iter().copied()) {
                    d = d.with_help(h);
                }
                let names: Vec<String> = FUNCTIONS.iter().map(|f| format!("`{f}`")).collect();
                self.diags.push(d.with_help(format!("the functions are {}", names.join(", "))));
                for a in args {
                    self.lower(a);
                }
                err(ExprKind::Null, span)
            }
        }
    }
}

/// The IR type of a value of a declared field.
pub fn value_type(ty: &FieldType) -> Ty {
    match ty {
        FieldType::String => Ty::String,
        FieldType::Number | FieldType::Integer => Ty::Number,
        FieldType::Boolean => Ty::Bool,
        FieldType::List(e) => Ty::List(Box::new(value_type(e))),
        FieldType::Object(fields) => Ty::Object(Arc::new(fields.clone())),
    }
}

#[allow(dead_code)]
fn field_names(fields: &[Field]) -> Vec<&str> {
    fields.iter().map(|f| f.name.as_str()).collect()
}
