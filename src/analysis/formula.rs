//! Constraint formulas over one record, and the numbers they compare.
//!
//! A formula is an and/or tree over literals, each literal about one field
//! (present or absent, a boolean's value, a string's membership in a set
//! of literals or a regular language) or a comparison of two linear terms.
//! There is no negation node: the translation (`translate.rs`) computes
//! the true, false and unknown outcomes of every expression as three
//! positive formulas, so every negation lands on a literal, whose negation
//! is another literal.

use crate::ir::expr::RegexId;
use crate::ir::schema::FieldId;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

pub type Formula = Rc<Node>;

#[derive(Debug)]
pub enum Node {
    True,
    False,
    Lit(Lit),
    And(Vec<Formula>),
    Or(Vec<Formula>),
}

#[derive(Clone, Debug)]
pub enum Lit {
    /// The field is present (true) or absent/null (false).
    Present(FieldId, bool),
    /// A boolean field is present with this value.
    Bool(FieldId, bool),
    /// A string field is present and is (false) or is not (true) one of
    /// the strings.
    StrIn(FieldId, Arc<Vec<Arc<str>>>, bool),
    /// A string field is present and matches (false) or does not match
    /// (true) the regular expression (anchored, as the checker compiles it).
    StrMatch(FieldId, RegexId, bool),
    /// Two numbers compare: `lhs op rhs` (both present: the formula's
    /// guards say so).
    Num(Rc<Term>, Cmp, Rc<Term>),
}

/// The comparisons a numeric literal keeps; `>` and `>=` are written with
/// their operands swapped and `!=` as `<` or `>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Eq,
}

pub fn t() -> Formula {
    Rc::new(Node::True)
}
pub fn f() -> Formula {
    Rc::new(Node::False)
}
pub fn lit(l: Lit) -> Formula {
    Rc::new(Node::Lit(l))
}

pub fn is_true(x: &Formula) -> bool {
    matches!(**x, Node::True)
}
pub fn is_false(x: &Formula) -> bool {
    matches!(**x, Node::False)
}

pub fn and(items: impl IntoIterator<Item = Formula>) -> Formula {
    let mut kept = Vec::new();
    for x in items {
        match &*x {
            Node::True => {}
            Node::False => return f(),
            Node::And(inner) => kept.extend(inner.iter().cloned()),
            _ => kept.push(x),
        }
    }
    match kept.len() {
        0 => t(),
        1 => kept.pop().expect("one item"),
        _ => Rc::new(Node::And(kept)),
    }
}

pub fn or(items: impl IntoIterator<Item = Formula>) -> Formula {
    let mut kept = Vec::new();
    for x in items {
        match &*x {
            Node::False => {}
            Node::True => return t(),
            Node::Or(inner) => kept.extend(inner.iter().cloned()),
            _ => kept.push(x),
        }
    }
    match kept.len() {
        0 => f(),
        1 => kept.pop().expect("one item"),
        _ => Rc::new(Node::Or(kept)),
    }
}

pub fn and2(a: &Formula, b: &Formula) -> Formula {
    and([a.clone(), b.clone()])
}
pub fn or2(a: &Formula, b: &Formula) -> Formula {
    or([a.clone(), b.clone()])
}

/// `lhs op rhs` for any of the six operators, as literals.
pub fn compare(lhs: &Rc<Term>, op: crate::syntax::ast::CmpOp, rhs: &Rc<Term>) -> Formula {
    use crate::syntax::ast::CmpOp as C;
    let num = |a: &Rc<Term>, c: Cmp, b: &Rc<Term>| {
        // Two constants compare at once, exactly as the checker would.
        if let (Some(x), Some(y)) = (a.constant(), b.constant()) {
            let holds = match c {
                Cmp::Lt => x < y,
                Cmp::Le => x <= y,
                Cmp::Eq => x == y,
            };
            return if holds { t() } else { f() };
        }
        lit(Lit::Num(a.clone(), c, b.clone()))
    };
    match op {
        C::Lt => num(lhs, Cmp::Lt, rhs),
        C::Le => num(lhs, Cmp::Le, rhs),
        C::Gt => num(rhs, Cmp::Lt, lhs),
        C::Ge => num(rhs, Cmp::Le, lhs),
        C::Eq => num(lhs, Cmp::Eq, rhs),
        C::Ne => or([num(lhs, Cmp::Lt, rhs), num(rhs, Cmp::Lt, lhs)]),
    }
}

/// A linear combination of numeric fields plus a constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Lin {
    pub vars: BTreeMap<FieldId, f64>,
    pub constant: f64,
}

impl Lin {
    pub fn constant(c: f64) -> Lin {
        Lin { vars: BTreeMap::new(), constant: c }
    }
    pub fn var(f: FieldId) -> Lin {
        Lin { vars: BTreeMap::from([(f, 1.0)]), constant: 0.0 }
    }
    pub fn scaled(&self, k: f64) -> Lin {
        Lin { vars: self.vars.iter().map(|(f, c)| (*f, c * k)).filter(|(_, c)| *c != 0.0).collect(), constant: self.constant * k }
    }
    pub fn plus(&self, other: &Lin) -> Lin {
        let mut vars = self.vars.clone();
        for (f, c) in &other.vars {
            *vars.entry(*f).or_insert(0.0) += c;
        }
        vars.retain(|_, c| *c != 0.0);
        Lin { vars, constant: self.constant + other.constant }
    }
}

/// How the checker's floating-point value of a term relates to its real
/// value (`lin`): equal (a constant, computed as the checker computes it,
/// or one field, possibly negated), or a rounded computation known only by
/// its shape (`key`), times `sign`. Proofs treat a rounded term as a value
/// of its own: the same computation gives the same value, and nothing else
/// is assumed of it (docs/analysis.md, "Numbers").
#[derive(Clone, Debug, PartialEq)]
pub enum Float {
    Exact,
    Rounded { key: Rc<str>, sign: f64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub lin: Lin,
    pub float: Float,
}

impl Term {
    pub fn constant_term(c: f64) -> Term {
        Term { lin: Lin::constant(c), float: Float::Exact }
    }
    pub fn field(f: FieldId) -> Term {
        Term { lin: Lin::var(f), float: Float::Exact }
    }
    pub fn constant(&self) -> Option<f64> {
        (self.lin.vars.is_empty() && self.float == Float::Exact).then_some(self.lin.constant)
    }
    /// The shape of the computation: what identifies a rounded value.
    pub fn key(&self) -> String {
        match &self.float {
            Float::Rounded { key, sign } => {
                if *sign < 0.0 {
                    format!("-{key}")
                } else {
                    key.to_string()
                }
            }
            Float::Exact => {
                let mut s = String::new();
                for (f, c) in &self.lin.vars {
                    let _ = write!(s, "{}f{}", if *c < 0.0 { "-" } else { "" }, f.0);
                }
                if self.lin.vars.is_empty() {
                    let _ = write!(s, "c{:x}", self.lin.constant.to_bits());
                }
                s
            }
        }
    }
    fn rounded(lin: Lin, key: String) -> Term {
        Term { lin, float: Float::Rounded { key: key.into(), sign: 1.0 } }
    }
    pub fn neg(&self) -> Term {
        let float = match &self.float {
            Float::Exact => Float::Exact,
            Float::Rounded { key, sign } => Float::Rounded { key: key.clone(), sign: -sign },
        };
        Term { lin: self.lin.scaled(-1.0), float }
    }
    pub fn add(&self, other: &Term) -> Term {
        match (self.constant(), other.constant()) {
            (Some(a), Some(b)) => Term::constant_term(a + b),
            // x + 0 is x in floating point too.
            (_, Some(0.0)) => self.clone(),
            (Some(0.0), _) => other.clone(),
            _ => Term::rounded(self.lin.plus(&other.lin), format!("({} + {})", self.key(), other.key())),
        }
    }
    pub fn sub(&self, other: &Term) -> Term {
        match (self.constant(), other.constant()) {
            (Some(a), Some(b)) => Term::constant_term(a - b),
            (_, Some(0.0)) => self.clone(),
            (Some(0.0), _) => other.neg(),
            _ => Term::rounded(self.lin.plus(&other.lin.scaled(-1.0)), format!("({} - {})", self.key(), other.key())),
        }
    }
    /// None when both factors vary (not linear).
    pub fn mul(&self, other: &Term) -> Option<Term> {
        Some(match (self.constant(), other.constant()) {
            (Some(a), Some(b)) => Term::constant_term(a * b),
            (Some(k), None) => other.times(k, self),
            (None, Some(k)) => self.times(k, other),
            (None, None) => return None,
        })
    }
    fn times(&self, k: f64, constant: &Term) -> Term {
        if k == 1.0 {
            self.clone()
        } else if k == -1.0 {
            self.neg()
        } else if k == 0.0 {
            Term::constant_term(0.0)
        } else {
            Term::rounded(self.lin.scaled(k), format!("({} * {})", constant.key(), self.key()))
        }
    }
    /// Err when the divisor varies; Ok(None) when it is zero (no value).
    pub fn div(&self, other: &Term) -> Result<Option<Term>, ()> {
        match (self.constant(), other.constant()) {
            (_, Some(0.0)) => Ok(None),
            (Some(a), Some(b)) => Ok(Some(Term::constant_term(a / b))),
            (None, Some(1.0)) => Ok(Some(self.clone())),
            (None, Some(b)) => Ok(Some(Term::rounded(self.lin.scaled(1.0 / b), format!("({} / {})", self.key(), other.key())))),
            (_, None) => Err(()),
        }
    }
}

/// One value of one field: a case the search can be asked about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaseAtom {
    /// The string field has this value.
    Value(FieldId, Arc<str>),
    Bool(FieldId, bool),
    /// Present (true) or absent (false): optional fields only.
    Present(FieldId, bool),
}

impl CaseAtom {
    pub fn formula(&self) -> Formula {
        match self {
            CaseAtom::Value(f, v) => lit(Lit::StrIn(*f, Arc::new(vec![v.clone()]), false)),
            CaseAtom::Bool(f, b) => lit(Lit::Bool(*f, *b)),
            CaseAtom::Present(f, p) => lit(Lit::Present(*f, *p)),
        }
    }
}

/// The cases a formula distinguishes: the literals it compares string
/// fields with, both values of the booleans it reads, presence and absence
/// of the fields whose presence it tests.
pub fn case_atoms(x: &Formula, out: &mut std::collections::BTreeSet<CaseAtom>) {
    match &**x {
        Node::True | Node::False => {}
        Node::And(items) | Node::Or(items) => items.iter().for_each(|i| case_atoms(i, out)),
        Node::Lit(Lit::StrIn(f, set, _)) => out.extend(set.iter().map(|v| CaseAtom::Value(*f, v.clone()))),
        Node::Lit(Lit::Bool(f, _)) => out.extend([CaseAtom::Bool(*f, true), CaseAtom::Bool(*f, false)]),
        Node::Lit(Lit::Present(f, _)) => out.extend([CaseAtom::Present(*f, true), CaseAtom::Present(*f, false)]),
        Node::Lit(_) => {}
    }
}
