//! The typed rule IR: names resolved to slots, every node typed.

use super::schema::{EntityId, Field, FieldId, GraphId, RelationId};
use crate::source::Span;
use crate::syntax::ast::CmpOp;
use std::sync::Arc;

/// The static type of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    Number,
    String,
    Null,
    Regex,
    List(Box<Ty>),
    /// An element of a list field whose items are objects.
    Object(Arc<Vec<Field>>),
    /// One entity.
    Entity(EntityId),
    /// One element of a relation, inside the relation's `where` filter: the
    /// far entity's fields plus the edge's fields.
    Edge(RelationId),
    /// The keys of every entity of a type, or of a table.
    KeySet,
    Table(TableId),
    /// After an error; accepted everywhere so one mistake is reported once.
    Error,
}

impl Ty {
    pub fn describe(&self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Number => "a number".into(),
            Ty::String => "a string".into(),
            Ty::Null => "null".into(),
            Ty::Regex => "a regular expression".into(),
            Ty::List(e) => format!("a list of {}", e.describe().trim_start_matches("a ").trim_start_matches("an ")),
            Ty::Object(_) => "an object".into(),
            Ty::Entity(_) => "an entity".into(),
            Ty::Edge(_) => "a related entity".into(),
            Ty::KeySet => "a set of keys".into(),
            Ty::Table(_) => "a table".into(),
            Ty::Error => "an unknown type".into(),
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegexId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    Sum,
    Count,
    Min,
    Max,
    Mean,
    Any,
    All,
    Share,
}

impl Agg {
    pub fn name(self) -> &'static str {
        match self {
            Agg::Sum => "sum",
            Agg::Count => "count",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Mean => "mean",
            Agg::Any => "any",
            Agg::All => "all",
            Agg::Share => "share",
        }
    }
}

/// How a field is read from a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The n-th declared field of an object element.
    Object(usize),
    /// A field of an entity.
    Entity(FieldId),
    /// The n-th field of the list element behind an edge.
    Edge(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Abs,
    CurrentYear,
    Len,
    /// No other entity has the same value of this field.
    Unique(FieldId),
    /// The current entity lies on a directed cycle of the graph.
    InCycle(GraphId),
    /// The weakly connected components of the graph.
    Groups(GraphId),
}

#[derive(Clone, Debug)]
pub struct Tolerance {
    pub amount: Box<Expr>,
    /// Written as a percentage: relative to the right-hand side.
    pub relative: bool,
}

#[derive(Clone, Debug)]
pub struct Link {
    pub op: CmpOp,
    pub rhs: Expr,
    pub tolerance: Option<Tolerance>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Number(f64),
    String(Arc<str>),
    Bool(bool),
}

#[derive(Clone, Debug)]
pub enum Pattern {
    Static(RegexId),
    /// A table of regular expressions, looked up by key.
    Table(TableId, Box<Expr>),
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Number(f64),
    String(Arc<str>),
    Bool(bool),
    Null,
    /// A field of the entity the rule is checking.
    SelfField(FieldId),
    /// The entity the rule is checking.
    SelfEntity,
    Var(VarId),
    Get(Box<Expr>, Access),
    /// `segments.revenue`: a field of every element of a list.
    Project(Box<Expr>, Access),
    Lookup(TableId, Box<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    /// The left value, or the right one when the left is absent.
    Coalesce(Box<Expr>, Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Implies(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    Compare(Box<Expr>, Vec<Link>),
    InRange {
        value: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        lo_closed: bool,
        hi_closed: bool,
        negated: bool,
    },
    InSet {
        value: Box<Expr>,
        set: Arc<Vec<Const>>,
        negated: bool,
    },
    InList {
        value: Box<Expr>,
        list: Box<Expr>,
        negated: bool,
    },
    InKeys {
        value: Box<Expr>,
        keys: Box<Expr>,
        negated: bool,
    },
    Matches(Box<Expr>, Pattern),
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
    /// `agg(var in source where filter: body)`
    Agg {
        agg: Agg,
        var: VarId,
        source: Box<Expr>,
        filter: Option<Box<Expr>>,
        body: Option<Box<Expr>>,
    },
    /// `agg(list)`
    AggList(Agg, Box<Expr>),
    /// `[var in source where filter]`
    Filter {
        var: VarId,
        source: Box<Expr>,
        filter: Box<Expr>,
    },
    List(Vec<Expr>),
    Call(Builtin, Vec<Expr>),
    /// Walk a relation from an entity.
    Relation(RelationId, Box<Expr>),
    /// Every entity of a type.
    Collection(EntityId),
    /// The keys of every entity of a type.
    Keys(EntityId),
    TableKeys(TableId),
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}
