//! Dataset rules over a base index: which of their aggregates and filters
//! run over the whole dataset (`companies`, `groups(g)` and the lists
//! filtered from them), and their values from what the index recorded of
//! each base element plus the elements the candidates touch.
//!
//! Such a node's value is a fold, in element order, of one value per
//! element (its filter and body). For an element of the base that the
//! candidates do not reach (outside every component they join), that value
//! is what it was over the base alone: its record, and every record its
//! relations walk to, are unchanged. The index records it per element (and
//! per binding of the constants the node reads, `all(k in {…}: …)`); the
//! check evaluates only the other elements, on the store of the candidates
//! and the base records they reach, and folds all of them in the order and
//! blocks of the full check ([`eval::accumulate`]), so a sum adds in the
//! same order to the last bit.
//!
//! `count`, `share`, `any` and `all` depend only on how many values of each
//! kind they see (`eval::tallied`): the index keeps each node's tally over
//! the base, and the check takes out the recorded values of the base
//! elements the candidates reach and adds the store's, without a pass over
//! the base. A filter over the rows or groups is one pass over the recorded
//! tags. Debug builds check both against the fold.
//!
//! What is not of that form (a nested walk over the whole dataset, a rule
//! that reads `keys(…)`, a value bound outside the node that is not a
//! constant) is `Unsupported`: the check then reads the whole base.

use crate::check::eval::{self, Element, Env, Tally, Val, Vals};
use crate::check::Compiled;
use crate::ir::expr::{Agg, Builtin, Expr, ExprKind, VarId};
use crate::ir::schema::{FieldId, GraphId};
use crate::ir::Scope;
use hashbrown::HashMap;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What a node walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Rows,
    Groups(GraphId),
    /// The list a filter node (by index) made.
    List(usize),
}

/// What the elements of a node are, whatever list they come through: the
/// index of its recorded values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    Rows,
    Groups(GraphId),
}

pub struct Node<'p> {
    pub rule: usize,
    pub expr: &'p Expr,
    pub source: Source,
    pub root: Root,
    /// The constants the node reads, each a variable bound by an enclosing
    /// `agg(k in [constants]: …)`, with those constants.
    pub contexts: Vec<(VarId, &'p [Expr])>,
}

impl Node<'_> {
    pub fn context_count(&self) -> usize {
        self.contexts.iter().map(|(_, items)| items.len()).product()
    }
}

/// The program's dataset rules as overlay nodes, or why they cannot be.
pub struct Plan<'p> {
    pub nodes: Vec<Node<'p>>,
    node_of: HashMap<usize, usize>,
    /// Per store rule key test `o.id in keys(E)` over a list field: (list
    /// field, item field), whose candidate values can name base records.
    pub key_tests: Vec<(FieldId, usize)>,
}

fn addr(e: &Expr) -> usize {
    e as *const Expr as usize
}

#[derive(Clone)]
enum Binding {
    Context(usize),
    /// A `let` of constants only.
    Static,
    /// A `let` bound to a filter node's list.
    FilterList(usize),
    /// A node's own element.
    Element,
}

struct Analysis<'p> {
    c: &'p Compiled,
    nodes: Vec<Node<'p>>,
    /// Enclosing constant binders: (variable, constants).
    binders: Vec<(VarId, &'p [Expr])>,
    vars: HashMap<VarId, Binding>,
    rule: usize,
}

pub type Unsupported = String;

fn literal(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Number(_) | ExprKind::String(_) | ExprKind::Bool(_) | ExprKind::Null)
}

impl<'p> Plan<'p> {
    pub fn new(c: &'p Compiled) -> Result<Plan<'p>, Unsupported> {
        let entity = c.program.schema.entity(c.entity);
        if entity.key.is_none() {
            return Err("the entity has no key".into());
        }
        let mut key_tests = Vec::new();
        for &i in &c.store_rules {
            let rule = &c.program.rules[i];
            let mut problem = None;
            let mut list_vars: HashMap<VarId, FieldId> = HashMap::new();
            let mut visit = |e: &'p Expr| match &e.kind {
                ExprKind::Agg { var, source, .. } | ExprKind::Filter { var, source, .. } => {
                    if let ExprKind::SelfField(f) = source.kind {
                        list_vars.insert(*var, f);
                    }
                }
                ExprKind::Collection(_) | ExprKind::Call(Builtin::Groups(_), _) => {
                    problem = Some(format!("rule `{}` reads the whole dataset", rule.id));
                }
                _ => {}
            };
            for (_, e) in &rule.lets {
                crate::check::walk(e, &mut visit);
            }
            crate::check::walk(&rule.expr, &mut visit);
            if let Some(p) = problem {
                return Err(p);
            }
            // Keys are only tested on a list field's items: their values
            // are looked up among the base's keys.
            let mut keys_ok = true;
            let mut tests = Vec::new();
            let mut visit = |e: &'p Expr| match &e.kind {
                ExprKind::InKeys { value, keys, .. } if matches!(keys.kind, ExprKind::Keys(_)) => match &value.kind {
                    ExprKind::Get(base, crate::ir::expr::Access::Object(item)) => match base.kind {
                        ExprKind::Var(v) if list_vars.contains_key(&v) => tests.push((list_vars[&v], *item)),
                        _ => keys_ok = false,
                    },
                    _ => keys_ok = false,
                },
                _ => {}
            };
            for (_, e) in &rule.lets {
                crate::check::walk(e, &mut visit);
            }
            crate::check::walk(&rule.expr, &mut visit);
            let mut keys = 0;
            let mut count = |e: &Expr| keys += usize::from(matches!(e.kind, ExprKind::Keys(_)));
            for (_, e) in &rule.lets {
                crate::check::walk(e, &mut count);
            }
            crate::check::walk(&rule.expr, &mut count);
            if !keys_ok || keys != tests.len() {
                return Err(format!("rule `{}` reads keys other than a list's references", rule.id));
            }
            key_tests.extend(tests);
        }
        key_tests.sort();
        key_tests.dedup();
        let mut a = Analysis { c, nodes: Vec::new(), binders: Vec::new(), vars: HashMap::new(), rule: 0 };
        for (i, rule) in c.program.rules.iter().enumerate() {
            if rule.scope != Scope::Dataset {
                continue;
            }
            a.rule = i;
            a.vars.clear();
            for (var, e) in &rule.lets {
                if a.dataset_wide(e) && matches!(e.kind, ExprKind::Filter { .. }) {
                    let node = a.node(e)?;
                    a.vars.insert(*var, Binding::FilterList(node));
                } else if a.is_static(e) {
                    a.vars.insert(*var, Binding::Static);
                } else {
                    return Err(format!("rule `{}` binds a value over the dataset that is not a filtered list", rule.id));
                }
            }
            a.outside(&rule.expr).map_err(|why| format!("rule `{}` {why}", rule.id))?;
        }
        let node_of = a.nodes.iter().enumerate().map(|(i, n)| (addr(n.expr), i)).collect();
        Ok(Plan { nodes: a.nodes, node_of, key_tests })
    }

    pub fn node(&self, e: &Expr) -> Option<usize> {
        self.node_of.get(&addr(e)).copied()
    }
}

impl<'p> Analysis<'p> {
    /// An aggregate or filter over the whole dataset.
    fn dataset_wide(&self, e: &Expr) -> bool {
        let source = match &e.kind {
            ExprKind::Agg { source, .. } | ExprKind::Filter { source, .. } => source,
            _ => return false,
        };
        match &source.kind {
            ExprKind::Collection(entity) => *entity == self.c.entity,
            ExprKind::Call(Builtin::Groups(_), _) => true,
            ExprKind::Var(v) => matches!(self.vars.get(v), Some(Binding::FilterList(_))),
            _ => false,
        }
    }

    fn is_static(&self, e: &Expr) -> bool {
        let mut ok = true;
        crate::check::walk(e, &mut |x: &Expr| match &x.kind {
            ExprKind::Var(v) => ok &= matches!(self.vars.get(v), Some(Binding::Static)),
            ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Neg(_)
            | ExprKind::Not(_)
            | ExprKind::Arith(..)
            | ExprKind::Coalesce(..)
            | ExprKind::Lookup(..)
            | ExprKind::Call(Builtin::Abs | Builtin::CurrentYear, _) => {}
            _ => ok = false,
        });
        ok
    }

    /// Registers an overlay node (after checking what it reads).
    fn node(&mut self, e: &'p Expr) -> Result<usize, Unsupported> {
        let (var, source, parts): (VarId, &Expr, Vec<&'p Expr>) = match &e.kind {
            ExprKind::Agg { var, source, filter, body, .. } => (*var, source, filter.iter().chain(body.iter()).map(|b| &**b).collect()),
            ExprKind::Filter { var, source, filter } => (*var, source, vec![&**filter]),
            _ => return Err("has an unexpected node".into()),
        };
        let (source, root) = match &source.kind {
            ExprKind::Collection(_) => (Source::Rows, Root::Rows),
            ExprKind::Call(Builtin::Groups(g), _) => (Source::Groups(*g), Root::Groups(*g)),
            ExprKind::Var(v) => match self.vars.get(v) {
                Some(Binding::FilterList(n)) => (Source::List(*n), self.nodes[*n].root),
                _ => return Err("walks a list it did not filter".into()),
            },
            _ => return Err("walks an unexpected source".into()),
        };
        // What the filter and body read: only the element (and what it
        // reaches by relations), constants and constant bindings.
        let mut bound = vec![var];
        let mut contexts: Vec<(VarId, &'p [Expr])> = Vec::new();
        let mut problem: Option<String> = None;
        for part in &parts {
            crate::check::walk(part, &mut |x: &'p Expr| match &x.kind {
                ExprKind::Agg { var, .. } | ExprKind::Filter { var, .. } => bound.push(*var),
                ExprKind::Collection(_) | ExprKind::Keys(_) | ExprKind::SelfField(_) | ExprKind::SelfEntity => {
                    problem = Some("reads the whole dataset, its keys or a record inside an aggregate over the dataset".into())
                }
                ExprKind::Call(Builtin::Groups(_) | Builtin::Unique(_) | Builtin::InCycle(_), _) => {
                    problem = Some("reads graphs or uniqueness inside an aggregate over the dataset".into())
                }
                _ => {}
            });
        }
        for part in &parts {
            crate::check::walk(part, &mut |x: &'p Expr| {
                if let ExprKind::Var(v) = &x.kind {
                    if bound.contains(v) {
                        return;
                    }
                    match self.vars.get(v) {
                        Some(Binding::Static) => {}
                        Some(Binding::Context(b)) => {
                            let (cv, items) = self.binders[*b];
                            if !contexts.iter().any(|(w, _)| *w == cv) {
                                contexts.push((cv, items));
                            }
                        }
                        _ => problem = Some("reads a value bound outside an aggregate over the dataset".into()),
                    }
                }
            });
        }
        if let Some(p) = problem {
            return Err(p);
        }
        contexts.sort_by_key(|(v, _)| v.0);
        let index = self.nodes.len();
        self.nodes.push(Node { rule: self.rule, expr: e, source, root, contexts });
        Ok(index)
    }

    /// An expression outside the overlay nodes: it may combine their
    /// values and constants, nothing that reads records.
    fn outside(&mut self, e: &'p Expr) -> Result<(), Unsupported> {
        use ExprKind as K;
        match &e.kind {
            K::Number(_) | K::String(_) | K::Bool(_) | K::Null => Ok(()),
            K::Var(v) => match self.vars.get(v) {
                Some(Binding::Static | Binding::Context(_)) => Ok(()),
                _ => Err("uses a filtered list other than by counting or walking it".into()),
            },
            K::Neg(a) | K::Not(a) => self.outside(a),
            K::Coalesce(a, b) | K::Arith(_, a, b) | K::And(a, b) | K::Or(a, b) | K::Implies(a, b) => {
                self.outside(a)?;
                self.outside(b)
            }
            K::If(a, b, c) => {
                self.outside(a)?;
                self.outside(b)?;
                c.as_deref().map_or(Ok(()), |c| self.outside(c))
            }
            K::Compare(a, links) => {
                self.outside(a)?;
                for l in links {
                    self.outside(&l.rhs)?;
                    if let Some(t) = &l.tolerance {
                        self.outside(&t.amount)?;
                    }
                }
                Ok(())
            }
            K::InRange { value, lo, hi, .. } => {
                self.outside(value)?;
                self.outside(lo)?;
                self.outside(hi)
            }
            K::InSet { value, .. } | K::IsNull { value, .. } => self.outside(value),
            K::Call(Builtin::Abs | Builtin::CurrentYear, args) => args.iter().try_for_each(|a| self.outside(a)),
            K::Agg { .. } | K::Filter { .. } if self.dataset_wide(e) => self.node(e).map(|_| ()),
            K::AggList(Agg::Count, list) => match &list.kind {
                K::Var(v) if matches!(self.vars.get(v), Some(Binding::FilterList(_))) => Ok(()),
                K::Filter { .. } if self.dataset_wide(list) => self.node(list).map(|_| ()),
                _ => Err("counts a list that is not filtered from the dataset".into()),
            },
            // `all(k in {constants}: …)`: the body is evaluated once per
            // constant, and the nodes inside it recorded per constant.
            K::Agg { var, source, filter, body, .. } => {
                let K::List(items) = &source.kind else { return Err("aggregates over a list that is not constant".into()) };
                if !items.iter().all(literal) {
                    return Err("aggregates over a list that is not constant".into());
                }
                self.binders.push((*var, items.as_slice()));
                self.vars.insert(*var, Binding::Context(self.binders.len() - 1));
                let inner = filter.iter().chain(body.iter()).try_for_each(|x| self.outside(x));
                self.vars.insert(*var, Binding::Element);
                inner
            }
            _ => Err("reads something an index cannot update".into()),
        }
    }
}

/// The value a literal stands for.
fn literal_value(e: &Expr) -> Val<'_> {
    match &e.kind {
        ExprKind::Number(n) => Val::Number(*n),
        ExprKind::String(s) => Val::Str(s),
        ExprKind::Bool(b) => Val::Bool(*b),
        _ => Val::Absent,
    }
}

fn same(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Number(x), Val::Number(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Absent, Val::Absent) => true,
        _ => false,
    }
}

/// The binding of a node's constants in `env`, as an index.
fn context_index(node: &Node<'_>, env: &Env<'_>) -> Option<usize> {
    let mut index = 0;
    for (var, items) in &node.contexts {
        let value = &env.vars[var.0 as usize];
        let at = items.iter().position(|item| same(&literal_value(item), value))?;
        index = index * items.len() + at;
    }
    Some(index)
}

/// Sets the node's constants to binding `index`.
fn bind_context<'a>(node: &Node<'a>, env: &mut Env<'a>, mut index: usize) {
    for (var, items) in node.contexts.iter().rev() {
        env.vars[var.0 as usize] = literal_value(&items[index % items.len()]);
        index /= items.len();
    }
}

/// One element's value for a node: None when it does not count (filtered
/// out, or skipped by the schema).
fn element_value<'a>(node: &Node<'a>, env: &mut Env<'a>, element: Val<'a>) -> Option<Val<'a>> {
    let el = Element { body: element.clone(), edges: &[], edge_fields: None };
    match &node.expr.kind {
        ExprKind::Agg { var, filter, body, .. } => {
            if let Some(f) = filter {
                if !env.passes_filter(*var, &el, f) {
                    return None;
                }
            }
            env.vars[var.0 as usize] = element;
            Some(match body {
                Some(b) => env.eval(b),
                None => Val::Bool(true),
            })
        }
        ExprKind::Filter { var, filter, .. } => env.passes_filter(*var, &el, filter).then_some(Val::Bool(true)),
        _ => None,
    }
}

// Recorded values: one tag a (binding, element), and the numbers.
const NONE: u8 = 0;
const ABSENT: u8 = 1;
const FALSE: u8 = 2;
const TRUE: u8 = 3;
const NUMBER: u8 = 4;
/// A value that cannot be recorded (a string, a list): the node cannot be
/// taken from the index.
const OTHER: u8 = 5;

fn tag(v: &Option<Val<'_>>) -> (u8, f64) {
    match v {
        None => (NONE, 0.0),
        Some(Val::Absent) => (ABSENT, 0.0),
        Some(Val::Bool(false)) => (FALSE, 0.0),
        Some(Val::Bool(true)) => (TRUE, 0.0),
        Some(Val::Number(n)) => (NUMBER, *n),
        Some(_) => (OTHER, 0.0),
    }
}

fn untag(tag: u8, number: f64) -> Option<Val<'static>> {
    match tag {
        ABSENT => Some(Val::Absent),
        FALSE => Some(Val::Bool(false)),
        TRUE => Some(Val::Bool(true)),
        NUMBER => Some(Val::Number(number)),
        _ => None,
    }
}

/// What the index recorded of one node: per binding of its constants,
/// per element of its root (base rows or base groups).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    pub elements: usize,
    pub contexts: usize,
    pub tags: Vec<u8>,
    /// Empty when no value is a number.
    pub numbers: Vec<f64>,
    /// A value could not be recorded.
    pub unusable: bool,
    /// Per binding, the tally of its tags over every element.
    pub tallies: Vec<Tally>,
}

/// Read access to recorded values (owned while building, from the index
/// file's bytes when checking).
pub trait Values: Sync {
    fn elements(&self, node: usize) -> Option<usize>;
    fn tag(&self, node: usize, context: usize, element: usize) -> u8;
    fn number(&self, node: usize, context: usize, element: usize) -> f64;
    /// The tags of binding `context`, one per element.
    fn tags(&self, node: usize, context: usize) -> Option<&[u8]>;
    /// The tally of binding `context` over every base element.
    fn tally(&self, node: usize, context: usize) -> Option<Tally>;
}

/// The tally of recorded tags (a tag of no value, `NONE` or `OTHER`, is
/// not counted: an `OTHER` makes the node unusable anyway).
pub fn tally_of(tags: &[u8]) -> Tally {
    let mut by_tag = [0u64; 6];
    for &t in tags {
        by_tag[usize::from(t.min(OTHER))] += 1;
    }
    Tally {
        absent: by_tag[ABSENT as usize],
        falses: by_tag[FALSE as usize],
        trues: by_tag[TRUE as usize],
        numbers: by_tag[NUMBER as usize],
    }
}

/// The count of `tag` in a tally; None for a tag a tally does not count.
fn slot(tally: &mut Tally, tag: u8) -> Option<&mut u64> {
    match tag {
        ABSENT => Some(&mut tally.absent),
        FALSE => Some(&mut tally.falses),
        TRUE => Some(&mut tally.trues),
        NUMBER => Some(&mut tally.numbers),
        _ => None,
    }
}

/// Builds the recorded values: every node evaluated over the base alone,
/// for every binding of its constants.
pub struct Recorder<'p> {
    pub plan: &'p Plan<'p>,
    pub recorded: Mutex<Vec<Option<Recorded>>>,
}

impl<'p> Recorder<'p> {
    pub fn new(plan: &'p Plan<'p>) -> Recorder<'p> {
        Recorder { plan, recorded: Mutex::new(vec![None; plan.nodes.len()]) }
    }

    /// Runs every dataset rule over the base store with the recorder, and
    /// records the nodes a rule did not reach (behind an `implies`).
    pub fn record_all(&'p self, c: &'p Compiled, data: eval::Data<'p>) {
        let rules: Vec<usize> = {
            let mut r: Vec<usize> = self.plan.nodes.iter().map(|n| n.rule).collect();
            r.dedup();
            r
        };
        // The rules are independent: each records its own nodes.
        rules.par_iter().for_each(|&i| {
            let rule = &c.program.rules[i];
            let mut env = Env::new(c, data, rule, 0);
            env.overlay = Some(self);
            env.run();
            for (n, node) in self.plan.nodes.iter().enumerate() {
                if node.rule == i && self.recorded.lock().expect("not poisoned")[n].is_none() {
                    self.record(n, &mut env);
                }
            }
        });
    }

    fn record(&self, n: usize, env: &mut Env<'p>) {
        let node = &self.plan.nodes[n];
        let store = env.data.store.expect("recording runs on the base store");
        let elements = match node.root {
            Root::Rows => env.data.masks.len(),
            Root::Groups(g) => store.graphs.get(&g).map_or(0, |x| x.groups.len()),
        };
        let contexts = node.context_count();
        let mut rec = Recorded {
            elements,
            contexts,
            tags: vec![NONE; contexts * elements],
            numbers: Vec::new(),
            unusable: false,
            tallies: Vec::new(),
        };
        let saved: Vec<Val<'p>> = node.contexts.iter().map(|(v, _)| env.vars[v.0 as usize].clone()).collect();
        let skip = skip_of(env);
        for ctx in 0..contexts {
            bind_context(node, env, ctx);
            let mut put = |env: &mut Env<'p>, element: Val<'p>, root: usize| {
                let (t, x) = tag(&element_value(node, env, element));
                rec.unusable |= t == OTHER;
                rec.tags[ctx * elements + root] = t;
                if t == NUMBER {
                    if rec.numbers.is_empty() {
                        rec.numbers = vec![0.0; contexts * elements];
                    }
                    rec.numbers[ctx * elements + root] = x;
                }
            };
            match node.source {
                Source::Rows => {
                    for row in 0..elements {
                        if env.data.masks.get(row) & skip == 0 {
                            put(env, Val::Entity(row as u32), row);
                        }
                    }
                }
                Source::Groups(g) => (0..elements).for_each(|i| put(env, Val::Group(g, i as u32), i)),
                Source::List(_) => {
                    let (ExprKind::Agg { source, .. } | ExprKind::Filter { source, .. }) = &node.expr.kind else { return };
                    let list = env.eval(source);
                    let Val::Values(list) = list else { continue };
                    let mut odd = false;
                    for i in 0..list.len() {
                        match list.get(i) {
                            v @ Val::Entity(r) => put(env, v, r as usize),
                            v @ Val::Group(_, g) => put(env, v, g as usize),
                            _ => odd = true,
                        }
                    }
                    rec.unusable |= odd;
                }
            }
        }
        for ((v, _), value) in node.contexts.iter().zip(saved) {
            env.vars[v.0 as usize] = value;
        }
        rec.tallies = rec.tags.chunks(elements.max(1)).map(tally_of).collect();
        rec.tallies.resize(contexts, Tally::default());
        self.recorded.lock().expect("not poisoned")[n] = Some(rec);
    }

    pub fn into_recorded(self) -> Vec<Recorded> {
        self.recorded.into_inner().expect("not poisoned").into_iter().map(Option::unwrap_or_default).collect()
    }
}

impl Values for Vec<Recorded> {
    fn elements(&self, node: usize) -> Option<usize> {
        self.get(node).filter(|r| !r.unusable).map(|r| r.elements)
    }
    fn tag(&self, node: usize, context: usize, element: usize) -> u8 {
        let r = &self[node];
        r.tags[context * r.elements + element]
    }
    fn number(&self, node: usize, context: usize, element: usize) -> f64 {
        let r = &self[node];
        r.numbers.get(context * r.elements + element).copied().unwrap_or(0.0)
    }
    fn tags(&self, node: usize, context: usize) -> Option<&[u8]> {
        let r = self.get(node)?;
        r.tags.get(context * r.elements..(context + 1) * r.elements)
    }
    fn tally(&self, node: usize, context: usize) -> Option<Tally> {
        self.get(node)?.tallies.get(context).copied()
    }
}

impl<'p> eval::Overlay<'p> for Recorder<'p> {
    fn value(&self, env: &mut Env<'p>, e: &'p Expr) -> Option<Val<'p>> {
        let n = self.plan.node(e)?;
        if self.recorded.lock().expect("not poisoned")[n].is_none() {
            self.record(n, env);
        }
        let node = &self.plan.nodes[n];
        let ctx = context_index(node, env)?;
        // Over the base alone every element is recorded: fold them as the
        // store walks them.
        let (values, list) = {
            let recorded = self.recorded.lock().expect("not poisoned");
            let rec = recorded[n].as_ref()?;
            let at = |root: usize| {
                untag(rec.tags[ctx * rec.elements + root], rec.numbers.get(ctx * rec.elements + root).copied().unwrap_or(0.0))
            };
            match node.source {
                Source::Rows | Source::Groups(_) => ((0..rec.elements).map(at).collect::<Vec<_>>(), None),
                Source::List(_) => {
                    drop(recorded);
                    let (ExprKind::Agg { source, .. } | ExprKind::Filter { source, .. }) = &node.expr.kind else { return None };
                    let Val::Values(list) = env.eval(source) else { return None };
                    let recorded = self.recorded.lock().expect("not poisoned");
                    let rec = recorded[n].as_ref()?;
                    let at = |root: usize| {
                        untag(rec.tags[ctx * rec.elements + root], rec.numbers.get(ctx * rec.elements + root).copied().unwrap_or(0.0))
                    };
                    let values = (0..list.len())
                        .map(|i| match list.get(i) {
                            Val::Entity(r) => at(r as usize),
                            Val::Group(_, g) => at(g as usize),
                            _ => None,
                        })
                        .collect();
                    (values, Some(list))
                }
            }
        };
        let root = node.root;
        finish(
            node,
            values.len(),
            |i| values[i].clone(),
            |i| match (&list, root) {
                (Some(list), _) => list.get(i),
                (None, Root::Rows) => Val::Entity(i as u32),
                (None, Root::Groups(g)) => Val::Group(g, i as u32),
            },
        )
    }
}

/// A node's value from its `len` elements' values in order (for a filter,
/// the list of the elements kept, `element(i)` being the i-th element);
/// None when an element's value is not one an index records.
fn finish<'a>(
    node: &Node<'a>,
    len: usize,
    mut value_at: impl FnMut(usize) -> Option<Val<'a>>,
    element: impl Fn(usize) -> Val<'a>,
) -> Option<Val<'a>> {
    let mut odd = false;
    let mut checked = |i: usize| {
        let v = value_at(i);
        if !matches!(v, None | Some(Val::Absent | Val::Bool(_) | Val::Number(_))) {
            odd = true;
            return None;
        }
        v
    };
    let value = match &node.expr.kind {
        ExprKind::Agg { agg, .. } => eval::accumulate(*agg, len, &mut checked),
        _ => {
            let mut kept = Vals::Empty;
            for i in 0..len {
                if checked(i).is_some() {
                    kept.push(element(i));
                }
            }
            Val::Values(Arc::new(kept))
        }
    };
    (!odd).then_some(value)
}

/// One element of the whole dataset's groups: a base group the candidates
/// do not reach (its recorded values stand), or a group of the store.
#[derive(Clone, Copy, Debug)]
pub enum GroupSlot {
    Base(u32),
    Store(u32),
}

/// The overlay of a check against the index: the store holds the base
/// records the candidates reach (`subset`, base rows in order) and the
/// candidates after them.
pub struct Checker<'a, V: Values> {
    pub plan: &'a Plan<'a>,
    pub values: &'a V,
    /// Base records.
    pub base_rows: usize,
    /// The base rows in the store, sorted.
    pub subset: &'a [u32],
    /// One bit per base row: in `subset`.
    pub reached: &'a [u64],
    /// Per graph: the first member of each base group, in group order.
    pub group_firsts: &'a HashMap<GraphId, Vec<u32>>,
    pub failed: AtomicBool,
    groups: Mutex<HashMap<GraphId, Arc<Vec<GroupSlot>>>>,
}

impl<'a, V: Values> Checker<'a, V> {
    pub fn new(
        plan: &'a Plan<'a>,
        values: &'a V,
        base_rows: usize,
        subset: &'a [u32],
        reached: &'a [u64],
        group_firsts: &'a HashMap<GraphId, Vec<u32>>,
    ) -> Self {
        Checker {
            plan,
            values,
            base_rows,
            subset,
            reached,
            group_firsts,
            failed: AtomicBool::new(false),
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn is_reached(&self, base_row: usize) -> bool {
        self.reached[base_row / 64] & (1 << (base_row % 64)) != 0
    }

    /// The store row of a dataset row that is in the store.
    fn store_row(&self, row: usize) -> u32 {
        if row >= self.base_rows {
            return (self.subset.len() + row - self.base_rows) as u32;
        }
        self.subset.binary_search(&(row as u32)).unwrap_or(0) as u32
    }

    /// The dataset row of a store row.
    fn dataset_row(&self, store_row: u32) -> u32 {
        match self.subset.get(store_row as usize) {
            Some(&r) => r,
            None => (self.base_rows + store_row as usize - self.subset.len()) as u32,
        }
    }

    /// The whole dataset's groups of `g`, in order of their first member.
    fn groups(&self, env: &Env<'a>, g: GraphId) -> Option<Arc<Vec<GroupSlot>>> {
        if let Some(s) = self.groups.lock().expect("not poisoned").get(&g) {
            return Some(Arc::clone(s));
        }
        let firsts = self.group_firsts.get(&g)?;
        let store = env.data.store?;
        let mine = &store.graphs.get(&g)?.groups;
        let mut slots = Vec::with_capacity(firsts.len() + mine.len());
        let mut next = 0;
        let first_of = |i: usize| self.dataset_row(mine.get(i)[0]);
        for (b, &first) in firsts.iter().enumerate() {
            if self.is_reached(first as usize) {
                continue; // its records are in the store: its groups are there
            }
            while next < mine.len() && first_of(next) < first {
                slots.push(GroupSlot::Store(next as u32));
                next += 1;
            }
            slots.push(GroupSlot::Base(b as u32));
        }
        slots.extend((next..mine.len()).map(|i| GroupSlot::Store(i as u32)));
        let slots = Arc::new(slots);
        self.groups.lock().expect("not poisoned").insert(g, Arc::clone(&slots));
        Some(slots)
    }

    fn fail(&self) -> Option<Val<'a>> {
        self.failed.store(true, Ordering::Relaxed);
        Some(Val::Absent)
    }
}

impl<'a, V: Values> Checker<'a, V> {
    /// A node's value folded element by element, in the full check's order:
    /// the recorded value of each base element the candidates do not
    /// reach, the store's value of the others. None when it cannot be.
    fn exact(&self, env: &mut Env<'a>, n: usize, ctx: usize) -> Option<Val<'a>> {
        let node = &self.plan.nodes[n];
        let recorded = |root: usize| untag(self.values.tag(n, ctx, root), self.values.number(n, ctx, root));
        let skip = skip_of(env);
        let store_rows = env.data.masks.len();
        let dataset_rows = self.base_rows + store_rows - self.subset.len();
        let groups = match node.root {
            Root::Rows => None,
            Root::Groups(g) => Some(self.groups(env, g)?),
        };
        // A dataset row's value: recorded, or evaluated on the store.
        let row_value = |env: &mut Env<'a>, row: usize, skipping: bool| -> Option<Val<'a>> {
            if row < self.base_rows && !self.is_reached(row) {
                return recorded(row);
            }
            let r = self.store_row(row);
            if skipping && env.data.masks.get(r as usize) & skip != 0 {
                return None;
            }
            element_value(node, env, Val::Entity(r))
        };
        let group_value = |env: &mut Env<'a>, slot: GroupSlot, g: GraphId| -> Option<Val<'a>> {
            match slot {
                GroupSlot::Base(b) => recorded(b as usize),
                GroupSlot::Store(i) => element_value(node, env, Val::Group(g, i)),
            }
        };
        match node.source {
            Source::Rows => finish(node, dataset_rows, |row| row_value(env, row, true), |i| Val::Entity(i as u32)),
            Source::Groups(g) => {
                let slots = groups?;
                finish(node, slots.len(), |i| group_value(env, slots[i], g), |i| Val::Group(g, i as u32))
            }
            Source::List(_) => {
                let (ExprKind::Agg { source, .. } | ExprKind::Filter { source, .. }) = &node.expr.kind else { return None };
                let Val::Values(list) = env.eval(source) else { return None };
                let mut values = Vec::with_capacity(list.len());
                for i in 0..list.len() {
                    values.push(match (list.get(i), &groups) {
                        (Val::Entity(row), None) => row_value(env, row as usize, false),
                        (Val::Group(g, i), Some(slots)) => group_value(env, *slots.get(i as usize)?, g),
                        _ => return None,
                    });
                }
                finish(node, values.len(), |i| values[i].clone(), |i| list.get(i))
            }
        }
    }

    /// An aggregate whose result depends only on how many values of each
    /// kind it sees (`eval::tallied`), from the base's tally: the recorded
    /// values of the base elements the candidates reach taken out, the
    /// store's values of the elements it walks put in. O(store), not
    /// O(base). None when the aggregate is not of that kind or a value is
    /// not one a tally counts (the fold then decides).
    fn tallied(&self, env: &mut Env<'a>, n: usize, ctx: usize, agg: Agg) -> Option<Val<'a>> {
        if matches!(agg, Agg::Sum | Agg::Mean | Agg::Min | Agg::Max) {
            return None;
        }
        let node = &self.plan.nodes[n];
        let mut tally = self.values.tally(n, ctx)?;
        let tags = self.values.tags(n, ctx)?;
        let reached: Vec<usize> = match node.root {
            Root::Rows => self.subset.iter().map(|&r| r as usize).collect(),
            // A base group is in the store when its first member is: its
            // component, and so all of it, was re-read.
            Root::Groups(g) => {
                let firsts = self.group_firsts.get(&g)?;
                self.subset.iter().filter_map(|r| firsts.binary_search(r).ok()).collect()
            }
        };
        for b in reached {
            if let Some(count) = slot(&mut tally, *tags.get(b)?) {
                *count = count.checked_sub(1)?;
            }
        }
        // A list walked is the filter's value, bound before (a `let`).
        if let Source::List(_) = node.source {
            let ExprKind::Agg { source, .. } = &node.expr.kind else { return None };
            if !matches!(env.eval(source), Val::Values(_)) {
                return None;
            }
        }
        let skip = skip_of(env);
        let elements = match node.root {
            Root::Rows => env.data.masks.len(),
            Root::Groups(g) => env.data.store?.graphs.get(&g)?.groups.len(),
        };
        for i in 0..elements {
            let element = match node.root {
                Root::Rows => Val::Entity(i as u32),
                Root::Groups(g) => Val::Group(g, i as u32),
            };
            let walked = match node.source {
                Source::Rows => env.data.masks.get(i) & skip == 0,
                Source::Groups(_) => true,
                Source::List(m) => self.member(env, m, element.clone(), skip)?,
            };
            if walked {
                let (t, _) = tag(&element_value(node, env, element));
                if t == OTHER {
                    return None;
                }
                if let Some(count) = slot(&mut tally, t) {
                    *count += 1;
                }
            }
        }
        eval::tallied(agg, tally)
    }

    /// Whether a store element is in the list of filter node `m`; None when
    /// that cannot be told without its list (a filter that reads the
    /// constants of an enclosing aggregate).
    fn member(&self, env: &mut Env<'a>, m: usize, element: Val<'a>, skip: u64) -> Option<bool> {
        let node = &self.plan.nodes[m];
        if !node.contexts.is_empty() || !matches!(node.expr.kind, ExprKind::Filter { .. }) {
            return None;
        }
        let inside = match (node.source, &element) {
            (Source::Rows, Val::Entity(r)) => env.data.masks.get(*r as usize) & skip == 0,
            (Source::Groups(_), Val::Group(..)) => true,
            (Source::List(k), _) => self.member(env, k, element.clone(), skip)?,
            _ => return None,
        };
        Some(inside && element_value(node, env, element).is_some())
    }

    /// A filter over the rows or the groups, its list built in one pass
    /// over the recorded tags (a byte per base element), the store's
    /// elements evaluated where they fall in the full check's order.
    fn filtered(&self, env: &mut Env<'a>, n: usize, ctx: usize) -> Option<Val<'a>> {
        let node = &self.plan.nodes[n];
        let tags = self.values.tags(n, ctx)?;
        let kept = |t: &u8| (ABSENT..=NUMBER).contains(t);
        let vals = match node.source {
            Source::Rows => {
                let skip = skip_of(env);
                let passes = |env: &mut Env<'a>, s: usize| {
                    env.data.masks.get(s) & skip == 0 && element_value(node, env, Val::Entity(s as u32)).is_some()
                };
                // The base rows `from..to` that no candidate reaches, by tag.
                let unreached = |rows: &mut Vec<u32>, from: usize, to: usize| -> Option<()> {
                    rows.extend(tags.get(from..to)?.iter().enumerate().filter(|(_, t)| kept(t)).map(|(i, _)| (from + i) as u32));
                    Some(())
                };
                let mut rows = Vec::new();
                let mut from = 0;
                for (s, &r) in self.subset.iter().enumerate() {
                    let r = r as usize;
                    unreached(&mut rows, from, r)?;
                    if passes(env, s) {
                        rows.push(r as u32);
                    }
                    from = r + 1;
                }
                unreached(&mut rows, from, self.base_rows)?;
                for s in self.subset.len()..env.data.masks.len() {
                    if passes(env, s) {
                        rows.push(self.dataset_row(s as u32));
                    }
                }
                (!rows.is_empty()).then_some(Vals::Entities(rows))
            }
            Source::Groups(g) => {
                // The whole dataset's groups in order of their first member
                // (`groups`): a base group keeps its recorded tag, a store
                // group is evaluated.
                let mut kept_slots = Vec::new();
                for (at, slot) in self.groups(env, g)?.iter().enumerate() {
                    let keep = match *slot {
                        GroupSlot::Base(b) => kept(tags.get(b as usize)?),
                        GroupSlot::Store(i) => element_value(node, env, Val::Group(g, i)).is_some(),
                    };
                    if keep {
                        kept_slots.push(at as u32);
                    }
                }
                (!kept_slots.is_empty()).then_some(Vals::Groups(g, kept_slots))
            }
            Source::List(_) => return None,
        };
        Some(Val::Values(Arc::new(vals.unwrap_or_default())))
    }
}

/// The schema bits that take a row out of a walk over the whole dataset
/// (a field the rule's elements read failed its type).
fn skip_of(env: &Env<'_>) -> u64 {
    env.rule.element_fields.iter().fold(0u64, |m, f| m | crate::check::store::field_bit(*f))
}

/// The same value to the last bit (debug builds check the tallies and the
/// one-pass filters against the fold with it).
fn identical(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Number(x), Val::Number(y)) => x.to_bits() == y.to_bits(),
        (Val::Values(x), Val::Values(y)) => {
            x.len() == y.len() && (0..x.len()).all(|i| format!("{:?}", x.get(i)) == format!("{:?}", y.get(i)))
        }
        _ => format!("{a:?}") == format!("{b:?}"),
    }
}

impl<'a, V: Values> eval::Overlay<'a> for Checker<'a, V> {
    fn value(&self, env: &mut Env<'a>, e: &'a Expr) -> Option<Val<'a>> {
        let n = self.plan.node(e)?;
        let node = &self.plan.nodes[n];
        let Some(elements) = self.values.elements(n) else { return self.fail() };
        let Some(ctx) = context_index(node, env) else { return self.fail() };
        let root_ok = match node.root {
            Root::Rows => elements == self.base_rows,
            Root::Groups(g) => self.group_firsts.get(&g).is_some_and(|f| f.len() == elements),
        };
        if !root_ok {
            return self.fail();
        }
        let quick = match &node.expr.kind {
            ExprKind::Agg { agg, .. } => self.tallied(env, n, ctx, *agg),
            ExprKind::Filter { .. } => self.filtered(env, n, ctx),
            _ => None,
        };
        match quick {
            Some(v) => {
                if cfg!(debug_assertions) {
                    if let Some(x) = self.exact(env, n, ctx) {
                        assert!(identical(&v, &x), "node {n} (binding {ctx}): {v:?} from the tally, {x:?} from the fold");
                    }
                }
                Some(v)
            }
            None => self.exact(env, n, ctx).or_else(|| self.fail()),
        }
    }
}
