//! The expression AST: what was written, with spans; no types yet.

use crate::source::Span;

#[derive(Clone, Debug)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    And,
    Or,
    Implies,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped: `a op b` holds exactly when
    /// `b op.swapped() a` does.
    pub fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    /// Whether `a op b` holds for two numbers.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
    /// The operator that holds exactly when this one does not.
    pub fn negate(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }
}

/// One link of a comparison chain: `op rhs ± tolerance`.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub op: CmpOp,
    pub rhs: Expr,
    pub tolerance: Option<Expr>,
}

#[derive(Clone, Debug)]
pub enum InTarget {
    Range { lo: Box<Expr>, hi: Box<Expr>, lo_closed: bool, hi_closed: bool },
    Expr(Box<Expr>),
}

/// `x in xs where filter: body`
#[derive(Clone, Debug)]
pub struct Binder {
    pub var: Name,
    pub source: Expr,
    pub filter: Option<Expr>,
    pub body: Option<Expr>,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    /// `percent` remembers `1%` (relative tolerances) as written.
    Number {
        value: f64,
        percent: bool,
    },
    Str(String),
    Regex(String),
    Bool(bool),
    Null,
    Name(String),
    Field(Box<Expr>, Name),
    Index(Box<Expr>, Box<Expr>),
    Call {
        name: Name,
        args: Vec<Expr>,
        binder: Option<Box<Binder>>,
    },
    Set(Vec<Expr>),
    List(Vec<Expr>),
    /// `[x in xs where condition]`
    Filter(Box<Binder>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    /// `a ?? b`
    Coalesce(Box<Expr>, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Option<Box<Expr>>,
    },
    Compare {
        first: Box<Expr>,
        rest: Vec<Comparison>,
    },
    In {
        value: Box<Expr>,
        negated: bool,
        target: InTarget,
    },
    Matches(Box<Expr>, Box<Expr>),
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Let {
    pub name: Name,
    pub value: Expr,
}

#[derive(Clone, Debug)]
pub struct RuleBody {
    pub lets: Vec<Let>,
    pub expr: Expr,
}

// ---------------------------------------------------------------------------
// Entity declarations

#[derive(Clone, Debug)]
pub enum TypeExpr {
    Scalar(Name),
    List(Box<TypeExpr>),
    Object(Vec<FieldDecl>),
}

#[derive(Clone, Debug)]
pub struct FieldDecl {
    pub name: Name,
    pub ty: TypeExpr,
    pub optional: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum RelationDef {
    /// `owners.id -> company`
    Path { list: Name, field: Name, target: Option<Name> },
    /// `inverse parents`
    Inverse(Name),
}

#[derive(Clone, Debug)]
pub enum EntityItem {
    Key(Name),
    Collection(Name),
    Summary(Name),
    /// `fingerprint all but a, b`: the fields left out.
    Fingerprint {
        but: Vec<Name>,
        span: Span,
    },
    Field(FieldDecl),
    Relation {
        name: Name,
        def: RelationDef,
        span: Span,
    },
    Graph {
        name: Name,
        relation: Name,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub struct TableEntry {
    pub key: Name,
    pub value: Expr,
}

// ---------------------------------------------------------------------------
// Printing, for tests and round trips: a fully parenthesised form that
// re-parses to the same tree.

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ExprKind::Number { value, percent: true } => write!(f, "{}%", percent_text(*value)),
            ExprKind::Number { value, percent: false } => write!(f, "{value:?}"),
            ExprKind::Str(s) => write!(f, "{}", serde_json::to_string(s).unwrap_or_default()),
            // `/` ends a regex literal: print it escaped, as it was written.
            ExprKind::Regex(r) => write!(f, "/{}/", r.replace('/', "\\/")),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Null => write!(f, "null"),
            ExprKind::Name(n) => write!(f, "{n}"),
            ExprKind::Field(e, n) => write!(f, "{e}.{}", n.text),
            ExprKind::Index(e, i) => write!(f, "{e}[{i}]"),
            ExprKind::Call { name, args, binder } => {
                write!(f, "{}(", name.text)?;
                if let Some(b) = binder {
                    write!(f, "{b}")?;
                } else {
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            write!(f, ", ")?;
                        }
                        write!(f, "{a}")?;
                    }
                }
                write!(f, ")")
            }
            ExprKind::Set(items) | ExprKind::List(items) => {
                let (open, close) = if matches!(self.kind, ExprKind::Set(_)) { ("{", "}") } else { ("[", "]") };
                write!(f, "{open}")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, "{close}")
            }
            ExprKind::Filter(b) => write!(f, "[{b}]"),
            ExprKind::Neg(e) => write!(f, "(-{e})"),
            ExprKind::Coalesce(a, b) => write!(f, "({a} ?? {b})"),
            ExprKind::Not(e) => write!(f, "(not {e})"),
            ExprKind::Binary(op, a, b) => {
                let op = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::And => "and",
                    BinOp::Or => "or",
                    BinOp::Implies => "implies",
                };
                write!(f, "({a} {op} {b})")
            }
            ExprKind::If { cond, then, otherwise } => {
                write!(f, "(if {cond} then {then}")?;
                if let Some(o) = otherwise {
                    write!(f, " else {o}")?;
                }
                write!(f, ")")
            }
            ExprKind::Compare { first, rest } => {
                write!(f, "({first}")?;
                for c in rest {
                    write!(f, " {} {}", c.op.as_str(), c.rhs)?;
                    if let Some(t) = &c.tolerance {
                        write!(f, " ± {t}")?;
                    }
                }
                write!(f, ")")
            }
            ExprKind::In { value, negated, target } => {
                write!(f, "({value} {}in ", if *negated { "not " } else { "" })?;
                match target {
                    InTarget::Range { lo, hi, lo_closed, hi_closed } => {
                        write!(f, "{}{lo}, {hi}{}", if *lo_closed { "[" } else { "(" }, if *hi_closed { "]" } else { ")" })?
                    }
                    InTarget::Expr(e) => write!(f, "{e}")?,
                }
                write!(f, ")")
            }
            ExprKind::Matches(a, b) => write!(f, "({a} matches {b})"),
            ExprKind::IsNull { value, negated } => {
                write!(f, "({value} is {}null)", if *negated { "not " } else { "" })
            }
        }
    }
}

/// The shortest decimal `d` such that `d%` reads back as `value` (the
/// parser reads `d%` as the double nearest `de-2`; 0.07 × 100 would print
/// as 7.000000000000001).
fn percent_text(value: f64) -> String {
    let scaled = value * 100.0;
    (0..=17)
        .map(|precision| format!("{scaled:.precision$}"))
        .find(|text| format!("{text}e-2").parse::<f64>() == Ok(value))
        .unwrap_or_else(|| scaled.to_string())
}

impl std::fmt::Display for Binder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}", self.var.text, self.source)?;
        if let Some(w) = &self.filter {
            write!(f, " where {w}")?;
        }
        if let Some(b) = &self.body {
            write!(f, ": {b}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for RuleBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.lets {
            // Parenthesised, so a condition that starts with `(` cannot be
            // read as a call of the value's last name.
            writeln!(f, "let {} = ({})", l.name.text, l.value)?;
        }
        write!(f, "{}", self.expr)
    }
}
