//! Typed rule IR → SQL expressions, with the evaluator's three-valued
//! semantics (src/check/eval.rs): an absent value is SQL NULL, and every
//! construct whose SQL meaning differs from the evaluator's is spelled so
//! that it agrees (docs/sql.md, "The lowering").
//!
//! Values are lowered to one of a few shapes ([`Low`]): a scalar (also a
//! list of values or an object, as a SQL list or struct), an entity (its
//! fields under a prefix), an edge of a relation, a list of elements (a SQL
//! list walked with lambdas) or a table of elements (the records of the
//! dataset, or the groups of a graph: walked with a subquery).

use super::dialect::{fill, Dialect};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::expr::*;
use crate::ir::schema::{FieldType, RelationKind};
use crate::ir::{Program, Rule, TableValue};
use crate::source::Span;
use crate::syntax::ast::CmpOp;
use std::collections::HashMap;

/// Column and table names the plan gives the pieces the lowering reads.
pub mod names {
    pub const ROW: &str = "_row";
    pub const LINE: &str = "_line";
    pub const MASK: &str = "_mask";
    pub const MEMBER: &str = "_member";
    /// The records with everything the rules read beside their fields.
    pub const RECORDS: &str = "ent";
    pub fn neighbours(relation: u32) -> String {
        format!("_nbr{relation}")
    }
    pub fn unique(field: u32) -> String {
        format!("_u{field}")
    }
    pub fn on_cycle(graph: u32) -> String {
        format!("_cyc{graph}")
    }
    pub fn component(graph: u32) -> String {
        format!("_scc{graph}")
    }
    pub fn groups(graph: u32) -> String {
        format!("grp{graph}")
    }
    pub fn key_test(n: usize) -> String {
        format!("_hk{n}")
    }
    /// The one-row table of a step's hoisted subqueries, and its columns.
    pub const HOISTED: &str = "h";
    pub fn hoisted(n: usize) -> String {
        format!("_q{n}")
    }
}

pub type Lowered<T> = Result<T, Diagnostic>;

pub fn unsupported(span: Span, dialect: &Dialect, what: &str) -> Diagnostic {
    Diagnostic::error(Code::SqlUnsupported, span, format!("{what}: the {} dialect cannot express this", dialect.name.as_str()))
        .with_help("`skillc check` (the native engine) checks this rule; docs/sql.md lists what each dialect expresses")
}

/// A `keys(…)` test computed beside the records instead of inside the rule
/// (a subquery cannot run inside a lambda, nor in a Spark projection).
#[derive(Clone, Debug)]
pub struct KeyTest {
    /// The column of the records holding it.
    pub column: String,
    /// For a test over the items of a list field of the record: the binder
    /// over that list, the field, and the test's place in each item's
    /// struct.
    pub over: Option<(VarId, crate::ir::schema::FieldId)>,
}

/// How a variable is bound while lowering.
#[derive(Clone, Debug)]
enum Bind {
    /// An entity whose fields are `prefix."f"`; `full` when it is a row of
    /// the records (it has its neighbours and membership).
    Entity { prefix: String, full: bool },
    /// An edge: the far entity (plain) and the list item behind the edge.
    Edge { entity: String, edge: String },
    /// A value; the key tests computed for it, by expression.
    Value { sql: String, tests: Vec<(usize, String)> },
    /// A group of a graph: its members.
    Group { members: String },
}

/// What an element of a list is.
#[derive(Clone, Debug, PartialEq)]
enum Elem {
    Value,
    Entity {
        full: bool,
    },
    /// `{n: entity, e: [edge item]}`: a neighbour through its parallel edges.
    Neighbour,
    /// A struct `{v: value, k…: key tests}` (a list field whose items a
    /// key test reads).
    Tested(Vec<(usize, String)>),
}

#[derive(Clone, Debug)]
enum Low {
    Scalar(String),
    Entity { prefix: String, full: bool },
    Edge { entity: String, edge: String },
    List { sql: String, elem: Elem },
    Table { from: String, alias: String, conds: Vec<String>, groups: bool },
    Group { members: String },
    Keys,
    TableKeys(TableId),
}

pub struct Lowerer<'p> {
    pub p: &'p Program,
    pub d: &'static Dialect,
    rule: &'p Rule,
    /// The records' alias in an entity rule.
    this: Option<String>,
    binds: HashMap<u32, Bind>,
    lets: HashMap<u32, &'p Expr>,
    /// Key tests by the address of their `in keys(…)` expression.
    tests: &'p HashMap<usize, (usize, KeyTest)>,
    fresh: u32,
    lambdas: u32,
    this_used: bool,
    pub year: i32,
    /// The step's uncorrelated scalar subqueries, lifted out of its rules
    /// (`rule_hoisting`): the step computes them once, in a one-row table
    /// (`names::HOISTED`), and the rules read its columns. Spark refuses a
    /// subquery anywhere inside a higher-order function (`filter`,
    /// `transform` of the list of checks), and a once-computed value is
    /// what the rule means anyway.
    hoisted: Vec<String>,
}

fn number(n: f64) -> String {
    if n.is_finite() {
        let s = format!("{n:e}");
        if n < 0.0 {
            format!("({s})")
        } else {
            s
        }
    } else {
        "CAST(NULL AS DOUBLE)".into()
    }
}

const NAN: &str = "CAST('NaN' AS DOUBLE)";

impl<'p> Lowerer<'p> {
    pub fn new(
        p: &'p Program,
        d: &'static Dialect,
        rule: &'p Rule,
        this: Option<&str>,
        tests: &'p HashMap<usize, (usize, KeyTest)>,
        year: i32,
    ) -> Lowerer<'p> {
        Lowerer {
            p,
            d,
            rule,
            this: this.map(str::to_string),
            binds: HashMap::new(),
            lets: rule.lets.iter().map(|(v, e)| (v.0, e)).collect(),
            tests,
            fresh: 0,
            lambdas: 0,
            this_used: false,
            year,
            hoisted: Vec::new(),
        }
    }

    /// Binds a variable to a value (a key test's list item).
    pub fn bind_value(&mut self, var: VarId, sql: &str) {
        self.binds.insert(var.0, Bind::Value { sql: sql.into(), tests: Vec::new() });
    }

    fn q(&self, name: &str) -> String {
        (self.d.quote)(name)
    }

    /// A scalar subquery as the rule reads it: lifted into the hoisted
    /// table unless it reads the record checked.
    fn subquery(&mut self, sql: String, correlated: bool) -> String {
        if correlated {
            return sql;
        }
        let at = self.hoisted.iter().position(|q| *q == sql).unwrap_or_else(|| {
            self.hoisted.push(sql);
            self.hoisted.len() - 1
        });
        let column = names::hoisted(at);
        format!("{}.{column}", names::HOISTED)
    }

    /// `e` lowered, and whether it reads the record checked.
    fn low_noting_this(&mut self, e: &'p Expr) -> Lowered<(Low, bool)> {
        let outer_used = std::mem::replace(&mut self.this_used, false);
        let low = self.low(e);
        let used = self.this_used;
        self.this_used |= outer_used;
        Ok((low?, used))
    }

    fn name(&mut self, stem: &str) -> String {
        self.fresh += 1;
        format!("{stem}{}", self.fresh)
    }

    /// The rule's condition: SQL TRUE, FALSE or NULL (does not apply). Its
    /// uncorrelated subqueries join the step's `hoisted` ones (shared by
    /// the step's rules, its one-row table's columns in order).
    pub fn rule_hoisting(&mut self, hoisted: &mut Vec<String>) -> Lowered<String> {
        self.hoisted = std::mem::take(hoisted);
        let e = &self.rule.expr;
        let cond = self.scalar(e);
        *hoisted = std::mem::take(&mut self.hoisted);
        cond
    }

    pub fn scalar(&mut self, e: &'p Expr) -> Lowered<String> {
        match self.low(e)? {
            Low::Scalar(s) => Ok(s),
            Low::Entity { prefix, .. } => Ok(format!("{prefix}.{}", super::lower::names::ROW)),
            Low::Edge { entity, .. } => Ok(format!("{entity}.{}", names::ROW)),
            Low::List { sql, elem: Elem::Value } => Ok(sql),
            Low::List { sql, elem: Elem::Neighbour } => {
                let x = self.name("x");
                Ok(fill(self.d.list_transform, &[&sql, &x, &format!("{x}.n")]))
            }
            Low::List { sql, .. } => Ok(sql),
            _ => Err(unsupported(e.span, self.d, "a collection of records used as a value")),
        }
    }

    fn truth(&mut self, e: &'p Expr) -> Lowered<String> {
        Ok(format!("coalesce({}, FALSE)", self.scalar(e)?))
    }

    fn low(&mut self, e: &'p Expr) -> Lowered<Low> {
        use ExprKind as K;
        let d = self.d;
        let s = |x: String| Ok(Low::Scalar(x));
        match &e.kind {
            K::Number(n) => s(number(*n)),
            K::String(v) => s((d.string)(v)),
            K::Bool(b) => s(if *b { "TRUE" } else { "FALSE" }.into()),
            K::Null => s("NULL".into()),
            K::SelfField(f) => {
                let this = self.this_alias(e.span)?;
                let name = &self.p.schema.field(self.rule.entity, *f).name;
                s(format!("{this}.{}", self.q(name)))
            }
            K::SelfEntity => Ok(Low::Entity { prefix: self.this_alias(e.span)?, full: true }),
            K::Var(v) => {
                if let Some(value) = self.lets.get(&v.0).copied() {
                    return self.low(value);
                }
                Ok(match self.binds.get(&v.0).cloned() {
                    Some(Bind::Entity { prefix, full }) => Low::Entity { prefix, full },
                    Some(Bind::Edge { entity, edge }) => Low::Edge { entity, edge },
                    Some(Bind::Value { sql, .. }) => Low::Scalar(sql),
                    Some(Bind::Group { members }) => Low::Group { members },
                    None => return Err(unsupported(e.span, d, "a variable read outside its binder")),
                })
            }
            K::Get(base, access) => {
                let b = self.low(base)?;
                self.get(e.span, &base.ty, b, *access).map(Low::Scalar)
            }
            K::Project(base, access) => {
                let (list, elem) = self.list(base)?;
                let x = self.name("x");
                let item = self.get(e.span, &element_ty(&base.ty), self.element(&elem, &x), *access)?;
                let y = self.name("y");
                let projected = fill(d.list_transform, &[&list, &x, &item]);
                s(fill(d.list_filter, &[&projected, &y, &format!("{y} IS NOT NULL")]))
            }
            K::Lookup(t, key) => {
                let key = self.scalar(key)?;
                let table = &self.p.tables[t.0 as usize];
                let mut out = format!("CASE {key}");
                for (k, v) in &table.entries {
                    let value = match v {
                        TableValue::Number(n) => number(*n),
                        TableValue::String(x) => (d.string)(x),
                        TableValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
                        TableValue::Regex(_) => return Err(unsupported(e.span, d, "a table of regular expressions read as a value")),
                    };
                    out.push_str(&format!(" WHEN {} THEN {value}", (d.string)(k)));
                }
                out.push_str(" END");
                s(out)
            }
            K::Neg(x) => s(format!("(- {})", self.scalar(x)?)),
            K::Not(x) => s(format!("(NOT {})", self.scalar(x)?)),
            K::Coalesce(a, b) => {
                let (x, y) = (self.low(a)?, self.low(b)?);
                match (x, y) {
                    (Low::Scalar(x), Low::Scalar(y)) => s(format!("coalesce({x}, {y})")),
                    (Low::List { sql: x, elem }, Low::List { sql: y, elem: f }) if elem == f => {
                        Ok(Low::List { sql: format!("coalesce({x}, {y})"), elem })
                    }
                    _ => Err(unsupported(e.span, d, "`??` between values of different shapes")),
                }
            }
            K::Arith(op, a, b) => {
                let (x, y) = (self.scalar(a)?, self.scalar(b)?);
                // Division by zero has no value; neither has a NaN (∞ − ∞).
                let r = match op {
                    Arith::Add => format!("({x} + {y})"),
                    Arith::Sub => format!("({x} - {y})"),
                    Arith::Mul => format!("({x} * {y})"),
                    Arith::Div => format!("({x} / nullif({y}, 0e0))"),
                };
                s(format!("nullif({r}, {NAN})"))
            }
            K::And(a, b) => s(format!("({} AND {})", self.scalar(a)?, self.scalar(b)?)),
            K::Or(a, b) => s(format!("({} OR {})", self.scalar(a)?, self.scalar(b)?)),
            K::Implies(a, b) => s(format!("((NOT {}) OR {})", self.scalar(a)?, self.scalar(b)?)),
            K::If(c, then, otherwise) => {
                let c = self.scalar(c)?;
                let t = self.scalar(then)?;
                let o = match otherwise {
                    Some(o) => self.scalar(o)?,
                    None => "TRUE".into(),
                };
                s(format!("CASE {c} WHEN TRUE THEN {t} WHEN FALSE THEN {o} END"))
            }
            K::Compare(first, links) => {
                let mut parts = Vec::new();
                let mut lhs_expr: &Expr = first;
                let mut lhs = self.low(first)?;
                for link in links {
                    let rhs = self.low(&link.rhs)?;
                    parts.push(self.compare(e.span, lhs_expr, &lhs, link, &rhs)?);
                    lhs_expr = &link.rhs;
                    lhs = rhs;
                }
                s(format!("({})", parts.join(" AND ")))
            }
            K::InRange { value, lo, hi, lo_closed, hi_closed, negated } => {
                let (x, l, h) = (self.scalar(value)?, self.scalar(lo)?, self.scalar(hi)?);
                let lo_op = if *lo_closed { ">=" } else { ">" };
                let hi_op = if *hi_closed { "<=" } else { "<" };
                let inside = format!("({x} {lo_op} {l} AND {x} {hi_op} {h})");
                let inside = if *negated { format!("(NOT {inside})") } else { inside };
                // Any bound unknown makes the test unknown, even when the
                // other bound alone decides it in SQL's logic.
                s(format!("CASE WHEN {x} IS NULL OR {l} IS NULL OR {h} IS NULL THEN NULL ELSE {inside} END"))
            }
            K::InSet { value, set, negated } => {
                let v = self.scalar(value)?;
                let items: Vec<String> = set
                    .iter()
                    .filter_map(|c| match (c, &value.ty) {
                        (Const::Number(n), Ty::Number) => Some(number(*n)),
                        (Const::String(x), Ty::String) => Some((d.string)(x)),
                        (Const::Bool(b), Ty::Bool) => Some(if *b { "TRUE" } else { "FALSE" }.into()),
                        _ => None,
                    })
                    .collect();
                if items.is_empty() {
                    return s(format!("CASE WHEN {v} IS NULL THEN NULL ELSE {} END", if *negated { "TRUE" } else { "FALSE" }));
                }
                s(format!("({v} {}IN ({}))", if *negated { "NOT " } else { "" }, items.join(", ")))
            }
            K::InList { value, list, negated } => {
                let v = self.low(value)?;
                let (l, elem) = self.list(list)?;
                let (v, l) = match (v, &elem) {
                    (Low::Scalar(v), Elem::Value) => (v, l),
                    (Low::Entity { prefix, .. } | Low::Edge { entity: prefix, .. }, Elem::Entity { .. } | Elem::Neighbour) => {
                        let x = self.name("x");
                        let row = if elem == Elem::Neighbour { format!("{x}.n.{}", names::ROW) } else { format!("{x}.{}", names::ROW) };
                        (format!("{prefix}.{}", names::ROW), fill(d.list_transform, &[&l, &x, &row]))
                    }
                    _ => return Err(unsupported(e.span, d, "`in` between a value and a list of another kind")),
                };
                let found = fill(d.list_contains, &[&l, &v]);
                let found = if *negated { format!("(NOT {found})") } else { found };
                s(format!("CASE WHEN {v} IS NULL OR {l} IS NULL THEN NULL ELSE {found} END"))
            }
            K::InKeys { value, keys, negated } => {
                let found = self.in_keys(e, value, keys)?;
                s(if *negated { format!("(NOT {found})") } else { found })
            }
            K::Matches(value, pattern) => {
                let v = self.scalar(value)?;
                match pattern {
                    Pattern::Static(id) => s(self.regex(e.span, &v, id.0 as usize)?),
                    Pattern::Table(t, key) => {
                        let key = self.scalar(key)?;
                        let mut out = format!("CASE {key}");
                        for (k, entry) in &self.p.tables[t.0 as usize].entries {
                            let TableValue::Regex(id) = entry else { continue };
                            out.push_str(&format!(" WHEN {} THEN {}", (d.string)(k), self.regex(e.span, &v, id.0 as usize)?));
                        }
                        out.push_str(" END");
                        s(out)
                    }
                }
            }
            K::IsNull { value, negated } => {
                let present = match self.low(value)? {
                    Low::Scalar(x) | Low::List { sql: x, .. } => format!("{x} IS NOT NULL"),
                    Low::Group { members } => format!("{members} IS NOT NULL"),
                    _ => "TRUE".into(),
                };
                s(if *negated { format!("({present})") } else { format!("(NOT ({present}))") })
            }
            K::Agg { agg, var, source, filter, body } => {
                self.agg(e, *agg, *var, source, filter.as_deref(), body.as_deref()).map(Low::Scalar)
            }
            K::AggList(agg, list) => self.agg_list(e, *agg, list).map(Low::Scalar),
            K::Filter { var, source, filter } => self.filter(*var, source, filter),
            K::List(items) => {
                let parts = items.iter().map(|i| self.scalar(i)).collect::<Lowered<Vec<_>>>()?;
                if parts.is_empty() {
                    return Err(unsupported(e.span, d, "an empty list literal"));
                }
                Ok(Low::List { sql: fill(d.list_value, &[&parts.join(", ")]), elem: Elem::Value })
            }
            K::Call(builtin, args) => self.call(e, *builtin, args),
            K::Relation(rel, from) => {
                let from_low = self.low(from)?;
                match from_low {
                    Low::Entity { prefix, full: true } => {
                        Ok(Low::List { sql: format!("{prefix}.{}", names::neighbours(rel.0)), elem: Elem::Neighbour })
                    }
                    _ => Err(unsupported(
                        e.span,
                        d,
                        "a relation walked from a related record (two relations deep); walk it from the record checked, a group member or a record of the collection",
                    )),
                }
            }
            K::Collection(_) => {
                let alias = self.name("c");
                let mask = self.rule.element_fields.iter().fold(0u64, |m, f| m | crate::check::store::field_bit(*f));
                let mut conds = Vec::new();
                if mask != 0 {
                    conds.push(format!("{} = 0", fill(d.bit_and, &[&format!("{alias}.{}", names::MASK), &(mask as i64).to_string()])));
                }
                Ok(Low::Table { from: names::RECORDS.into(), alias, conds, groups: false })
            }
            K::Keys(_) => Ok(Low::Keys),
            K::TableKeys(t) => Ok(Low::TableKeys(*t)),
        }
    }

    fn this_alias(&mut self, span: Span) -> Lowered<String> {
        self.this_used = true;
        self.this.clone().ok_or_else(|| unsupported(span, self.d, "the record checked, read by a dataset rule"))
    }

    fn regex(&self, span: Span, value: &str, id: usize) -> Lowered<String> {
        let (pattern, _) = &self.p.regexes[id];
        let translated = translate_regex(pattern).ok_or_else(|| {
            unsupported(span, self.d, "a regular expression with a Unicode-aware class or flag (`\\w`, `\\s`, `\\b`, `(?i)`), which the engine's regex library reads differently")
        })?;
        let pattern = match self.d.regex_anchors {
            Some((before, after)) => format!("{before}{translated}{after}"),
            None => translated,
        };
        Ok(fill(self.d.regex_full_match, &[value, &(self.d.string)(&pattern)]))
    }

    fn get(&mut self, span: Span, base_ty: &Ty, base: Low, access: Access) -> Lowered<String> {
        match (access, base) {
            (Access::Object(i), Low::Scalar(b)) => {
                let Ty::Object(fields) = base_ty else { return Err(unsupported(span, self.d, "a field of a value that is not an object")) };
                Ok(format!("{b}.{}", self.q(&fields[i].name)))
            }
            (Access::Entity(f), Low::Entity { prefix, .. } | Low::Edge { entity: prefix, .. }) => {
                let entity = match base_ty {
                    Ty::Entity(e) => *e,
                    Ty::Edge(rel) => self.p.schema.relation_target(*rel),
                    _ => self.rule.entity,
                };
                Ok(format!("{prefix}.{}", self.q(&self.p.schema.field(entity, f).name)))
            }
            (Access::Edge(i), Low::Edge { edge, .. }) => {
                let Ty::Edge(rel) = base_ty else { return Err(unsupported(span, self.d, "an edge field of a value that is not an edge")) };
                let name = edge_item_fields(self.p, *rel).get(i).map(|f| f.name.clone()).unwrap_or_default();
                Ok(format!("{edge}.{}", self.q(&name)))
            }
            _ => Err(unsupported(span, self.d, "this field access")),
        }
    }

    fn compare(&mut self, span: Span, lhs_expr: &Expr, lhs: &Low, link: &'p Link, rhs: &Low) -> Lowered<String> {
        let as_row = |l: &Low| match l {
            Low::Entity { prefix, .. } | Low::Edge { entity: prefix, .. } => Some(format!("{prefix}.{}", names::ROW)),
            _ => None,
        };
        if let (Some(a), Some(b)) = (as_row(lhs), as_row(rhs)) {
            return Ok(match link.op {
                CmpOp::Eq => format!("({a} = {b})"),
                CmpOp::Ne => format!("({a} <> {b})"),
                _ => "CAST(NULL AS BOOLEAN)".into(),
            });
        }
        let (Low::Scalar(a), Low::Scalar(b)) = (lhs, rhs) else { return Err(unsupported(span, self.d, "a comparison of collections")) };
        let numbers = lhs_expr.ty == Ty::Number && link.rhs.ty == Ty::Number;
        if numbers {
            if let Some(t) = &link.tolerance {
                let amount = self.scalar(&t.amount)?;
                let band = if t.relative { format!("({amount} * abs({b}))") } else { format!("abs({amount})") };
                let within = format!("(abs({a} - {b}) <= {band})");
                return Ok(if link.op == CmpOp::Ne { format!("(NOT {within})") } else { within });
            }
            return Ok(format!("({a} {} {b})", sql_op(link.op)));
        }
        let same_kind = lhs_expr.ty == link.rhs.ty && matches!(lhs_expr.ty, Ty::String | Ty::Bool);
        Ok(match link.op {
            // Ordering is defined for numbers only: unknown otherwise.
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => "CAST(NULL AS BOOLEAN)".into(),
            CmpOp::Eq | CmpOp::Ne if same_kind => format!("({a} {} {b})", sql_op(link.op)),
            // Values of different kinds are never equal (when both are known).
            op => format!("CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE {} END", if op == CmpOp::Eq { "FALSE" } else { "TRUE" }),
        })
    }

    fn in_keys(&mut self, e: &'p Expr, value: &'p Expr, keys: &'p Expr) -> Lowered<String> {
        let d = self.d;
        match self.low(keys)? {
            Low::TableKeys(t) => {
                let v = self.scalar(value)?;
                if value.ty != Ty::String {
                    return Ok("CAST(NULL AS BOOLEAN)".into());
                }
                let keys: Vec<String> = self.p.tables[t.0 as usize].entries.iter().map(|(k, _)| (d.string)(k)).collect();
                Ok(format!("({v} IN ({}))", keys.join(", ")))
            }
            Low::Keys => {
                let address = e as *const Expr as usize;
                if let Some((n, test)) = self.tests.get(&address) {
                    return match test.over {
                        None => {
                            let this = self.this_alias(e.span)?;
                            Ok(format!("{this}.{}", test.column))
                        }
                        Some((var, _)) => match self.binds.get(&var.0) {
                            Some(Bind::Value { tests, .. }) => tests
                                .iter()
                                .find(|(m, _)| m == n)
                                .map(|(_, sql)| sql.clone())
                                .ok_or_else(|| unsupported(e.span, d, "a key test outside the list it was computed for")),
                            _ => Err(unsupported(e.span, d, "a key test outside the list it was computed for")),
                        },
                    };
                }
                if self.lambdas > 0 || !d.in_subquery_in_projection {
                    return Err(unsupported(e.span, d, "`in keys(…)` of a value read inside a nested aggregate"));
                }
                let v = self.scalar(value)?;
                let key = self.p.schema.entity(self.rule.entity).key.map(|k| self.p.schema.field(self.rule.entity, k).name.clone());
                let Some(key) = key else { return Err(unsupported(e.span, d, "`keys(…)` of an entity without a key")) };
                Ok(format!(
                    "CASE WHEN {v} IS NULL THEN NULL ELSE {v} IN (SELECT {k} FROM {} WHERE {k} IS NOT NULL) END",
                    names::RECORDS,
                    k = self.q(&key)
                ))
            }
            _ => Err(unsupported(e.span, d, "`in keys(…)` of this value")),
        }
    }

    /// The binding of an element `x` of a list of `elem`.
    fn element(&self, elem: &Elem, x: &str) -> Low {
        match elem {
            Elem::Value => Low::Scalar(x.into()),
            Elem::Entity { full } => Low::Entity { prefix: x.into(), full: *full },
            Elem::Neighbour => Low::Entity { prefix: format!("{x}.n"), full: false },
            Elem::Tested(_) => Low::Scalar(format!("{x}.v")),
        }
    }

    fn bind_element(&mut self, var: VarId, elem: &Elem, x: &str) {
        let bind = match elem {
            Elem::Value => Bind::Value { sql: x.into(), tests: Vec::new() },
            Elem::Entity { full } => Bind::Entity { prefix: x.into(), full: *full },
            Elem::Neighbour => Bind::Entity { prefix: format!("{x}.n"), full: false },
            Elem::Tested(tests) => {
                Bind::Value { sql: format!("{x}.v"), tests: tests.iter().map(|(n, field)| (*n, format!("{x}.{field}"))).collect() }
            }
        };
        self.binds.insert(var.0, bind);
    }

    /// The condition that an element `x` passes `filter`: for a neighbour,
    /// one of its parallel edges passes.
    fn element_filter(&mut self, var: VarId, elem: &Elem, x: &str, filter: &'p Expr) -> Lowered<String> {
        self.lambdas += 1;
        let out = if *elem == Elem::Neighbour {
            let edge = self.name("ed");
            self.binds.insert(var.0, Bind::Edge { entity: format!("{x}.n"), edge: edge.clone() });
            let cond = self.truth(filter)?;
            let passing = fill(self.d.list_filter, &[&format!("{x}.e"), &edge, &cond]);
            format!("({} > 0)", fill(self.d.list_len, &[&passing]))
        } else {
            self.bind_element(var, elem, x);
            self.truth(filter)?
        };
        self.lambdas -= 1;
        Ok(out)
    }

    /// A source as a list: its SQL and what its elements are.
    fn list(&mut self, source: &'p Expr) -> Lowered<(String, Elem)> {
        match self.low(source)? {
            Low::List { sql, elem } => Ok((sql, elem)),
            Low::Scalar(sql) => Ok((sql, Elem::Value)),
            Low::Group { members } => Ok((members, Elem::Entity { full: true })),
            _ => Err(unsupported(source.span, self.d, "a collection of records where a list is expected")),
        }
    }

    /// A binder's source: a list field whose items a key test reads becomes
    /// a list of `{v, k…}` structs.
    fn source(&mut self, var: VarId, source: &'p Expr) -> Lowered<Low> {
        let tests: Vec<(usize, String)> =
            self.tests.values().filter(|(_, t)| t.over.is_some_and(|(v, _)| v == var)).map(|(n, t)| (*n, t.column.clone())).collect();
        if tests.is_empty() {
            return self.low(source);
        }
        let ExprKind::SelfField(_) = source.kind else {
            return Err(unsupported(source.span, self.d, "a key test over a list that is not a field of the record"));
        };
        let list = self.scalar(source)?;
        let this = self.this_alias(source.span)?;
        let (x, i) = (self.name("x"), self.name("i"));
        let index = if self.d.index_from == 0 { format!("{i} + 1") } else { i.clone() };
        let mut fields = vec![("v".to_string(), x.clone())];
        let mut named = Vec::new();
        for (n, column) in &tests {
            let field = format!("k{n}");
            fields.push((field.clone(), fill(self.d.list_item, &[&format!("{this}.{column}"), &index])));
            named.push((*n, field));
        }
        let zipped = fill(self.d.list_transform_indexed, &[&list, &x, &i, &(self.d.struct_value)(&fields)]);
        Ok(Low::List { sql: zipped, elem: Elem::Tested(named) })
    }

    fn agg(
        &mut self,
        e: &'p Expr,
        agg: Agg,
        var: VarId,
        source: &'p Expr,
        filter: Option<&'p Expr>,
        body: Option<&'p Expr>,
    ) -> Lowered<String> {
        let d = self.d;
        if let ExprKind::List(items) = &source.kind {
            return self.unrolled(agg, var, items, filter, body);
        }
        let src = self.source(var, source)?;
        let (list, elem) = match src {
            Low::Table { from, alias, mut conds, groups } => {
                if self.lambdas > 0 {
                    return Err(unsupported(e.span, d, "an aggregate over every record (or every group) inside another aggregate"));
                }
                let outer_used = std::mem::replace(&mut self.this_used, false);
                if groups {
                    self.binds.insert(var.0, Bind::Group { members: format!("{alias}.members") });
                } else {
                    self.binds.insert(var.0, Bind::Entity { prefix: alias.clone(), full: true });
                }
                if let Some(f) = filter {
                    conds.push(self.truth(f)?);
                }
                let b = match body {
                    Some(b) => self.scalar(b)?,
                    None => "TRUE".into(),
                };
                let value = table_aggregate(agg, &b);
                let correlated = self.this_used;
                self.this_used |= outer_used;
                if correlated && !d.correlated_subqueries {
                    return Err(unsupported(e.span, d, "an aggregate over every record that reads the record checked"));
                }
                let wher = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
                return Ok(self.subquery(format!("(SELECT {value} FROM {from} {alias}{wher})"), correlated));
            }
            Low::List { sql, elem } => (sql, elem),
            Low::Scalar(sql) => (sql, Elem::Value),
            Low::Group { members } => (members, Elem::Entity { full: true }),
            _ => return Err(unsupported(e.span, d, "this aggregate's source")),
        };
        let x = self.name("x");
        let kept = match filter {
            Some(f) => {
                let cond = self.element_filter(var, &elem, &x, f)?;
                fill(d.list_filter, &[&list, &x, &cond])
            }
            None => list.clone(),
        };
        self.bind_element(var, &elem, &x);
        self.lambdas += 1;
        let values = match body {
            Some(b) => {
                let b = self.scalar(b)?;
                fill(d.list_transform, &[&kept, &x, &b])
            }
            None => fill(d.list_transform, &[&kept, &x, "TRUE"]),
        };
        self.lambdas -= 1;
        let value = match agg {
            Agg::Count => fill(d.list_len, &[&kept]),
            _ => self.list_aggregate(agg, &values),
        };
        Ok(format!("CASE WHEN {list} IS NULL THEN NULL ELSE {value} END"))
    }

    /// An aggregate over a list written in the rule (`all(k in {"a", "b"}:
    /// …)`): the body is lowered once per item, outside any lambda, so it
    /// may hold subqueries (a count over every record per item).
    fn unrolled(&mut self, agg: Agg, var: VarId, items: &'p [Expr], filter: Option<&'p Expr>, body: Option<&'p Expr>) -> Lowered<String> {
        let d = self.d;
        let mut pairs = Vec::new();
        for item in items {
            let value = self.scalar(item)?;
            self.bind_value(var, &value);
            let keep = match filter {
                Some(f) => self.truth(f)?,
                None => "TRUE".into(),
            };
            let b = match body {
                Some(b) => self.scalar(b)?,
                None => "TRUE".into(),
            };
            pairs.push((d.struct_value)(&[("keep".into(), keep), ("v".into(), b)]));
        }
        let s = self.name("s");
        let kept = fill(d.list_filter, &[&fill(d.list_value, &[&pairs.join(", ")]), &s, &format!("{s}.keep")]);
        if agg == Agg::Count {
            return Ok(fill(d.list_len, &[&kept]));
        }
        let values = fill(d.list_transform, &[&kept, &s, &format!("{s}.v")]);
        Ok(self.list_aggregate(agg, &values))
    }

    /// An aggregate over the values of a non-null list (NULL items skipped,
    /// as the evaluator skips absent values).
    fn list_aggregate(&mut self, agg: Agg, values: &str) -> String {
        let d = self.d;
        let v = self.name("v");
        let known = || fill(d.list_len, &[&fill(d.list_filter, &[values, &v, &format!("{v} IS NOT NULL")])]);
        let coded = || fill(d.list_transform, &[values, &v, &format!("coalesce(CAST({v} AS INTEGER) * 2, 1)")]);
        match agg {
            Agg::Count => fill(d.list_len, &[values]),
            Agg::Sum => format!("coalesce({}, 0e0)", fill(d.list_sum, &[values])),
            Agg::Mean => format!("({} / nullif({}, 0))", fill(d.list_sum, &[values]), known()),
            Agg::Min => fill(d.list_min, &[values]),
            Agg::Max => fill(d.list_max, &[values]),
            Agg::Any => decode_quantifier(&format!("coalesce({}, 0)", fill(d.list_max, &[&coded()]))),
            Agg::All => decode_quantifier(&format!("coalesce({}, 2)", fill(d.list_min, &[&coded()]))),
            Agg::Share => {
                let ones = fill(d.list_transform, &[values, &v, &format!("CASE WHEN {v} THEN 1e0 WHEN NOT {v} THEN 0e0 END")]);
                format!("({} / nullif({}, 0))", fill(d.list_sum, &[&ones]), known())
            }
        }
    }

    fn agg_list(&mut self, e: &'p Expr, agg: Agg, list: &'p Expr) -> Lowered<String> {
        let d = self.d;
        let (low, correlated) = self.low_noting_this(list)?;
        match low {
            Low::Table { from, alias, conds, .. } => {
                if agg != Agg::Count {
                    return Err(unsupported(e.span, d, "this aggregate of a collection of records"));
                }
                if self.lambdas > 0 {
                    return Err(unsupported(e.span, d, "a count of every record (or every group) inside another aggregate"));
                }
                let wher = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
                Ok(self.subquery(format!("(SELECT count(*) FROM {from} {alias}{wher})"), correlated))
            }
            Low::List { sql, elem } => {
                if agg == Agg::Count {
                    return Ok(fill(d.list_len, &[&sql]));
                }
                if elem != Elem::Value {
                    return Err(unsupported(e.span, d, "this aggregate of a list of records"));
                }
                let value = self.list_aggregate(agg, &sql);
                Ok(format!("CASE WHEN {sql} IS NULL THEN NULL ELSE {value} END"))
            }
            Low::Scalar(sql) => {
                let value = self.list_aggregate(agg, &sql);
                Ok(format!("CASE WHEN {sql} IS NULL THEN NULL ELSE {value} END"))
            }
            Low::Group { members } if agg == Agg::Count => Ok(fill(d.list_len, &[&members])),
            _ => Err(unsupported(e.span, d, "this aggregate")),
        }
    }

    fn filter(&mut self, var: VarId, source: &'p Expr, filter: &'p Expr) -> Lowered<Low> {
        let d = self.d;
        match self.source(var, source)? {
            Low::Table { from, alias, mut conds, groups } => {
                if groups {
                    self.binds.insert(var.0, Bind::Group { members: format!("{alias}.members") });
                } else {
                    self.binds.insert(var.0, Bind::Entity { prefix: alias.clone(), full: true });
                }
                conds.push(self.truth(filter)?);
                Ok(Low::Table { from, alias, conds, groups })
            }
            other => {
                let (list, elem) = match other {
                    Low::List { sql, elem } => (sql, elem),
                    Low::Scalar(sql) => (sql, Elem::Value),
                    Low::Group { members } => (members, Elem::Entity { full: true }),
                    _ => return Err(unsupported(source.span, d, "this filter's source")),
                };
                let x = self.name("x");
                let cond = self.element_filter(var, &elem, &x, filter)?;
                let kept = fill(d.list_filter, &[&list, &x, &cond]);
                Ok(match elem {
                    // The neighbours that pass are entities from here on.
                    Elem::Neighbour => {
                        let y = self.name("y");
                        Low::List { sql: fill(d.list_transform, &[&kept, &y, &format!("{y}.n")]), elem: Elem::Entity { full: false } }
                    }
                    Elem::Tested(_) => {
                        let y = self.name("y");
                        Low::List { sql: fill(d.list_transform, &[&kept, &y, &format!("{y}.v")]), elem: Elem::Value }
                    }
                    elem => Low::List { sql: kept, elem },
                })
            }
        }
    }

    fn call(&mut self, e: &'p Expr, builtin: Builtin, args: &'p [Expr]) -> Lowered<Low> {
        let d = self.d;
        match builtin {
            Builtin::Abs => Ok(Low::Scalar(format!("abs({})", self.scalar(&args[0])?))),
            Builtin::CurrentYear => Ok(Low::Scalar(number(f64::from(self.year)))),
            Builtin::Len => match self.low_noting_this(&args[0])? {
                (Low::Scalar(x), _) if args[0].ty == Ty::String => Ok(Low::Scalar(fill(d.string_len, &[&x]))),
                (Low::Scalar(x) | Low::List { sql: x, .. } | Low::Group { members: x }, _) => Ok(Low::Scalar(fill(d.list_len, &[&x]))),
                (Low::Table { from, alias, conds, .. }, correlated) => {
                    let wher = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
                    Ok(Low::Scalar(self.subquery(format!("(SELECT count(*) FROM {from} {alias}{wher})"), correlated)))
                }
                _ => Err(unsupported(e.span, d, "`len` of this value")),
            },
            Builtin::Unique(f) => {
                let this = self.this_alias(e.span)?;
                let name = self.q(&self.p.schema.field(self.rule.entity, f).name);
                Ok(Low::Scalar(format!("CASE WHEN {this}.{name} IS NULL THEN NULL ELSE {this}.{} <= 1 END", names::unique(f.0))))
            }
            Builtin::InCycle(g) => {
                let this = self.this_alias(e.span)?;
                Ok(Low::Scalar(format!("CASE WHEN {this}.{} THEN coalesce({this}.{}, FALSE) END", names::MEMBER, names::on_cycle(g.0))))
            }
            Builtin::Groups(g) => {
                if self.lambdas > 0 {
                    return Err(unsupported(e.span, d, "the groups of a graph inside another aggregate"));
                }
                Ok(Low::Table { from: names::groups(g.0), alias: self.name("g"), conds: Vec::new(), groups: true })
            }
        }
    }
}

/// `CASE` of a quantifier's code: 2 true, 1 unknown, 0 false.
fn decode_quantifier(code: &str) -> String {
    format!("CASE {code} WHEN 2 THEN TRUE WHEN 0 THEN FALSE END")
}

/// An aggregate over the rows of a table, of the body's value `b`.
fn table_aggregate(agg: Agg, b: &str) -> String {
    match agg {
        Agg::Count => "count(*)".into(),
        Agg::Sum => format!("coalesce(sum({b}), 0e0)"),
        Agg::Mean => format!("(sum({b}) / nullif(count({b}), 0))"),
        Agg::Min => format!("min({b})"),
        Agg::Max => format!("max({b})"),
        Agg::Any => decode_quantifier(&format!("coalesce(max(coalesce(CAST({b} AS INTEGER) * 2, 1)), 0)")),
        Agg::All => decode_quantifier(&format!("coalesce(min(coalesce(CAST({b} AS INTEGER) * 2, 1)), 2)")),
        Agg::Share => format!("(sum(CASE WHEN {b} THEN 1e0 ELSE 0e0 END) / nullif(count({b}), 0))"),
    }
}

fn sql_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

fn element_ty(ty: &Ty) -> Ty {
    match ty {
        Ty::List(t) => (**t).clone(),
        other => other.clone(),
    }
}

/// The fields of the list item behind a relation's edges.
pub fn edge_item_fields(p: &Program, rel: crate::ir::schema::RelationId) -> Vec<crate::ir::schema::Field> {
    let (forward, _) = p.schema.forward(rel);
    let RelationKind::Forward { list, .. } = p.schema.relation(forward).kind else { return vec![] };
    let entity = p.schema.relation(forward).entity;
    match &p.schema.field(entity, list).ty {
        FieldType::List(item) => match item.as_ref() {
            FieldType::Object(fields) => fields.clone(),
            _ => vec![],
        },
        _ => vec![],
    }
}

/// The pattern for RE2 and Java regular expressions, when it means there
/// what it means to Rust's `regex`: `\d` is Unicode there, ASCII here, so it
/// becomes `\p{Nd}`; classes and flags whose Unicode tables differ between
/// the libraries are refused.
pub fn translate_regex(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('d') => out.push_str("\\p{Nd}"),
                Some('D') => out.push_str("\\P{Nd}"),
                Some('w' | 'W' | 's' | 'S' | 'b' | 'B') => return None,
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else if c == '(' && chars.peek() == Some(&'?') {
            let rest: String = chars.clone().take(8).collect();
            if rest.starts_with('?') && rest[1..].chars().take_while(|c| c.is_ascii_alphabetic() || *c == '-').any(|c| c != '-') {
                return None;
            }
            out.push(c);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_keep_their_meaning_or_are_refused() {
        assert_eq!(translate_regex("[A-Z]{2}").as_deref(), Some("[A-Z]{2}"));
        assert_eq!(translate_regex("\\d{4}").as_deref(), Some("\\p{Nd}{4}"));
        assert_eq!(translate_regex("a\\.b").as_deref(), Some("a\\.b"));
        assert_eq!(translate_regex("(?:ab)+").as_deref(), Some("(?:ab)+"));
        assert!(translate_regex("\\w+").is_none());
        assert!(translate_regex("(?i)abc").is_none());
    }

    #[test]
    fn numbers_are_doubles_in_every_dialect() {
        assert_eq!(number(1.5), "1.5e0");
        assert_eq!(number(-2.0), "(-2e0)");
        assert_eq!(number(100_000_000.0), "1e8");
    }
}
